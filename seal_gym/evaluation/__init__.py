"""Evaluation: the paper's tables and figures as plain functions returning typed results.

- :func:`evaluate_squad`: knowledge incorporation, single passage or CPT (:class:`SquadEvalConfig`);
- :func:`evaluate_arc`: few-shot ARC, fixed recipes, recipes a policy wrote, the oracle;
- :func:`continual_stream`: one merged update after another and the forgetting matrix;
- self-edits as data (:class:`SelfEdits`, :func:`write_self_edits`, :func:`completions_from_file`), so any
  writer (a policy's ``act``) or a file plugs in; each result has ``table()`` and a chart (a matplotlib
  ``Figure``, saved with :func:`save_png`).

The ``seal-gym eval`` commands are thin layers over these; notebooks call them directly.
"""

from seal_gym.evaluation.arc import ArcEvalConfig, ArcEvaluation, RecipeGrid, evaluate_arc
from seal_gym.evaluation.charts import bar_chart, heatmaps, save_png
from seal_gym.evaluation.continual import ContinualResult, continual_stream, forgetting_chart, retention_table
from seal_gym.self_edits import SelfEdits, Writer, completions_from_file, write_self_edits
from seal_gym.evaluation.squad import SquadEvalConfig, SquadEvaluation, evaluate_group, evaluate_squad

__all__ = [
    "ArcEvalConfig", "ArcEvaluation", "ContinualResult", "RecipeGrid", "SelfEdits", "SquadEvalConfig",
    "SquadEvaluation", "Writer", "bar_chart", "completions_from_file", "continual_stream", "evaluate_arc",
    "evaluate_group", "evaluate_squad", "forgetting_chart", "heatmaps", "retention_table", "save_png",
    "write_self_edits",
]
