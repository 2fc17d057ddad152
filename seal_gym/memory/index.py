"""The retrieval index of a knowledge base: BM25 over its documents, built and searched with ``bm25s``.

English stop words are dropped and no stemmer is used, so nothing is downloaded: it works offline. The index
is rebuilt into each new state (a state is immutable), and saved with the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from seal_gym.memory.documents import Document


@dataclass(frozen=True)
class Hit:
    """A retrieved document and its BM25 score."""

    document: Document
    score: float


def _bm25s():
    try:
        import bm25s
    except ImportError as err:
        raise ImportError("the knowledge base's retrieval index needs bm25s, a dependency of seal-gym: "
                          "pip install bm25s") from err
    return bm25s


def _tokenize(texts: Sequence[str]):
    return _bm25s().tokenize(list(texts), stopwords="en", show_progress=False)


def build_index(documents: Sequence[Document], folder: Path) -> None:
    """Index ``documents`` (title and text) and save the index into ``folder``."""
    tokens = _tokenize([f"{d.title}\n{d.text}" for d in documents])
    if not tokens.vocab:  # every word a stop word or a number: nothing to search by (search finds nothing)
        return
    retriever = _bm25s().BM25()
    retriever.index(tokens, show_progress=False)
    retriever.save(str(folder))


def search(folder: Path | None, documents: Sequence[Document], queries: Sequence[str], k: int) -> list[list[Hit]]:
    """For each query, the (up to) ``k`` documents that match it best, best first; documents sharing no word
    with the query are left out. ``documents`` are the indexed ones, in index order (the state's)."""
    if folder is None or not documents or k < 1 or not Path(folder).is_dir():
        return [[] for _ in queries]
    retriever = _bm25s().BM25.load(str(folder))
    hits = []
    for query in queries:  # one at a time: a query made only of stop words has no tokens
        tokens = _tokenize([query])
        if not any(len(ids) for ids in tokens.ids):
            hits.append([])
            continue
        found, scores = retriever.retrieve(tokens, k=min(k, len(documents)), show_progress=False)
        hits.append([Hit(documents[int(i)], float(s)) for i, s in zip(found[0], scores[0]) if s > 0])
    return hits
