"""A self-edit writer as a synthetic-data generator: documents in, a SEAL-format training corpus out.

:func:`synthesize` writes ``n`` self-edits per document into a JSON list of ``{"title", "context",
"questions", "completions", "diversity"}`` records: the format of SEAL's data files, so the output feeds
``seal-gym eval squad --self-edits-file OUT`` (and ``--cpt``), and a document's questions come along when it
has some. The file is replaced atomically after every chunk of documents, so it is always a complete JSON
list; run again after a crash or a kill, documents already in it are skipped.

``diversity`` says how different a document's completions are from each other (a writer that repeats itself
teaches little): distinct unigrams and bigrams over all its completions (:mod:`seal_gym.diversity`), their
compression ratio, and the mean word-set Jaccard similarity between two of them (1.0: the same words).
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from seal_gym.diversity import compression_ratio, distinct_n, words
from seal_gym.self_edits import Writer, write_self_edits
from seal_gym.memory.documents import NewDocument
from seal_gym.atomic_files import write_atomically
from seal_gym.squad.prompts import get_prompt_style


@dataclass(frozen=True)
class Diversity:
    """How varied one document's completions are (words as :func:`seal_gym.diversity.words` counts them)."""

    completions: int
    mean_words: float
    distinct_1: float
    """Distinct words / all words over the completions (1.0: no word repeats)."""
    distinct_2: float
    """Distinct word bigrams / all bigrams."""
    compression_ratio: float
    """Of the completions joined (:func:`seal_gym.diversity.compression_ratio`): higher = more repetitive."""
    mean_jaccard: float
    """Mean word-set Jaccard similarity over pairs of completions (0.0 with fewer than two)."""

    @classmethod
    def of(cls, completions: Sequence[str]) -> "Diversity":
        """
        >>> d = Diversity.of(["the sea is blue", "the sea is green"])
        >>> d.distinct_1, round(d.mean_jaccard, 2)
        (0.625, 0.6)
        """
        sets = [set(words(c)) for c in completions]
        jaccard = [len(a & b) / len(a | b) if a | b else 1.0 for a, b in itertools.combinations(sets, 2)]
        return cls(len(completions), sum(len(words(c)) for c in completions) / max(1, len(completions)),
                   distinct_n(completions, 1), distinct_n(completions, 2), compression_ratio(completions),
                   sum(jaccard) / len(jaccard) if jaccard else 0.0)


@dataclass
class SynthesisReport:
    """What one :func:`synthesize` call did."""

    out: str
    total: int
    """Documents in the input."""
    written: int
    """Documents written by this call."""
    skipped: int
    """Documents already in the output (an earlier, interrupted run), left as they were."""
    seconds: float
    titles: list[str] = field(default_factory=list)
    """The output's documents, in its order."""
    diversity: list[Diversity] = field(default_factory=list)
    """One per document of the output, in its order."""

    def table(self) -> str:
        """One row of diversity statistics per document of the output."""
        from seal_gym.stats import format_table

        rows = [[t[:40], str(d.completions), f"{d.mean_words:.0f}", f"{d.distinct_1:.2f}", f"{d.distinct_2:.2f}",
                 f"{d.mean_jaccard:.2f}"] for t, d in zip(self.titles, self.diversity)]
        return format_table(["document", "n", "words", "distinct-1", "distinct-2", "pairwise Jaccard"], rows)

    def summary(self) -> str:
        mean = lambda name: sum(getattr(d, name) for d in self.diversity) / max(1, len(self.diversity))  # noqa: E731
        return (f"{self.out}: {self.written} documents written, {self.skipped} already there, {self.total} in the input "
                f"({self.seconds:.1f} s); diversity over {len(self.diversity)} documents: mean words "
                f"{mean('mean_words'):.0f}, distinct-1 {mean('distinct_1'):.2f}, distinct-2 {mean('distinct_2'):.2f}, "
                f"pairwise Jaccard {mean('mean_jaccard'):.2f}")


def read_corpus(path: Path) -> list[dict[str, Any]]:
    """The records of an existing output file ([] if there is none).

    Raises:
        ValueError: the file is not a JSON list of ``{"context", "completions"}`` records (it is not overwritten).
    """
    if not path.exists():
        return []
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(records, list) or not all(isinstance(r, dict) and "context" in r and "completions" in r
                                                    for r in records):
            raise ValueError
    except ValueError:
        raise ValueError(f"{path} exists and is not a synthesize output (a JSON list of {{context, completions}} "
                         "records): not overwriting it") from None
    return records


def synthesize(documents: Sequence[NewDocument], writer: Writer, out: str | Path, n: int = 3,
               prompt_style: str = "implications", chunk: int = 4, progress: bool = True) -> SynthesisReport:
    """Write ``n`` self-edits per document with ``writer`` into ``out`` (see the module docstring).

    Args:
        writer: maps prompts to one self-edit each (a policy's ``act``).
        chunk: documents written between two saves of the output.
        progress: show a progress bar with the time left (tqdm, on stderr).
    """
    if n < 1 or chunk < 1:
        raise ValueError(f"n and chunk must be >= 1, got n={n}, chunk={chunk}")
    out = Path(out)
    style = get_prompt_style(prompt_style)
    records = read_corpus(out)
    done = {str(r["context"]).strip() for r in records}
    todo = [d for d in documents if d.text.strip() not in done]
    start = time.perf_counter()
    from tqdm.auto import tqdm

    with tqdm(total=len(todo), desc="synthesize", unit="doc", disable=not progress) as bar:
        for first in range(0, len(todo), chunk):
            part = todo[first : first + chunk]
            edits = write_self_edits(writer, [style.render(d.title, d.text) for d in part], n, chunk=chunk)
            for document, completions in zip(part, edits):
                records.append({"title": document.title, "context": document.text,
                                "questions": [{"question": q.question, "answer": q.answer} for q in document.questions],
                                "completions": completions, "diversity": asdict(Diversity.of(completions))})
            _replace(out, records)
            bar.update(len(part))
    return SynthesisReport(str(out), len(documents), len(todo), len(documents) - len(todo),
                           time.perf_counter() - start, [str(r.get("title", "")) for r in records],
                           [Diversity.of(r["completions"]) for r in records])


def _replace(path: Path, records: list[dict[str, Any]]) -> None:
    """Write ``records`` to ``path`` in one step: a reader (or a killed run) sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(records, ensure_ascii=False, indent=1))
