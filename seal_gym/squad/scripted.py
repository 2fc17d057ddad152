"""SealSquad's scripted baselines: writers that read the title and passage back out of an observation.

- :class:`PassagePolicy`: the passage of the observation as its self-edit;
- :class:`PromptEnsemblePolicy`: a writer asked once per fixed prompt style, the items pooled.

Both need the env's prompt style (``"implications"`` unless the env was made with another). They are named in
SealSquad's :class:`~seal_gym.domain_spec.DomainSpec` (``scripted``).
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

from seal_gym.self_edits import ENSEMBLE_STYLES, ensemble_self_edit, join_items
from seal_gym.squad.prompts import PromptStyle, get_prompt_style


def parse_prompt(observation: str, style: str | PromptStyle) -> tuple[str, str]:
    r"""The title and passage of an observation rendered by ``style``.

    >>> parse_prompt(get_prompt_style("rewrite").render("Port Varrow", "The light is green."), "rewrite")
    ('Port Varrow', 'The light is green.')

    Raises:
        ValueError: the observation is not a prompt of that style.
    """
    style = get_prompt_style(style)
    pattern = re.escape(style.template).replace(re.escape("{title}"), "(?P<title>.*?)", 1)
    pattern = pattern.replace(re.escape("{passage}"), "(?P<passage>.*)", 1)
    match = re.fullmatch(pattern, observation, re.DOTALL)
    if match is None:
        raise ValueError(f"the observation is not a {style.name!r} prompt (pass the env's prompt_style): "
                         f"{observation[:60]!r}...")
    return match.group("title"), match.group("passage")


class PassagePolicy:
    """Writes the passage itself as the self-edit (one training item under the env's prompt style).

    Args:
        prompt_style: the env's prompt style, to read the passage out of its observations.

    >>> PassagePolicy().act([get_prompt_style("implications").render("T", "Alpha.\\nBeta.")])
    ['Alpha. Beta.']
    """

    def __init__(self, prompt_style: str | PromptStyle = "implications") -> None:
        self.style = get_prompt_style(prompt_style)

    def act(self, observations: Sequence[str]) -> list[str]:
        return [join_items([parse_prompt(o, self.style)[1]], self.style) for o in observations]


class PromptEnsemblePolicy:
    """Asks a writer once per fixed prompt style and pools the answers into one self-edit per observation.

    Each answer is split into items by the style it was written under, and the items are joined so that
    the env's style splits them back (see :func:`seal_gym.self_edits.join_items`). All prompts
    of a call go to the writer in one batch.

    Args:
        write: maps prompts to one self-edit each (e.g. an ``LMPolicy``'s ``act``).
        styles: the fixed prompt set (default :data:`~seal_gym.self_edits.ENSEMBLE_STYLES`).
        prompt_style: the env's prompt style (reads its observations; splits the pooled self-edit).

    >>> policy = PromptEnsemblePolicy(lambda prompts: [p.split('"')[1] for p in prompts], ["implications", "rewrite"])
    >>> policy.act([get_prompt_style("implications").render("Port Varrow", "...")])
    ['Port Varrow\\nPort Varrow']
    """

    def __init__(self, write: Callable[[Sequence[str]], list[str]],
                 styles: Sequence[str | PromptStyle] = ENSEMBLE_STYLES,
                 prompt_style: str | PromptStyle = "implications") -> None:
        if not styles:
            raise ValueError("a prompt ensemble needs at least one prompt style")
        self.write, self.styles = write, [get_prompt_style(s) for s in styles]
        self.style = get_prompt_style(prompt_style)

    def act(self, observations: Sequence[str]) -> list[str]:
        sources = [parse_prompt(o, self.style) for o in observations]
        outputs = self.write([s.render(title, passage) for title, passage in sources for s in self.styles])
        k = len(self.styles)
        if len(outputs) != k * len(sources):
            raise ValueError(f"the writer returned {len(outputs)} self-edits for {k * len(sources)} prompts")
        return [ensemble_self_edit(outputs[i * k : (i + 1) * k], self.styles, self.style) for i in range(len(sources))]
