"""Knowledge incorporation (SealSquad): passages, self-edit prompts, grading and the knowledge inner loop."""

from seal_gym.squad.domain import SquadDomain
from seal_gym.squad.grading import GradeItem, Grader, Verdict, make_grader
from seal_gym.squad.inner_loop import KnowledgeConfig, KnowledgeInnerLoop, KnowledgeItem, KnowledgeResult
from seal_gym.squad.passages import QA, Passage, load_passages
from seal_gym.squad.prompts import PROMPT_STYLES, PromptStyle, get_prompt_style, register_prompt_style

__all__ = [
    "GradeItem", "Grader", "KnowledgeConfig", "KnowledgeInnerLoop", "KnowledgeItem", "KnowledgeResult",
    "PROMPT_STYLES", "Passage", "PromptStyle", "QA", "SquadDomain", "Verdict", "get_prompt_style",
    "load_passages", "make_grader", "register_prompt_style",
]
