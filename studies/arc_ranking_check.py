"""Do cheaper TTT settings rank recipes as the ``cpu`` preset does? Two runs of ``arc_recipe_spread.py``, compared.

Both folders hold rows of the same (family, task, recipe, TTT seed) cells under different TTT settings (each
folder's ``ttt.json``). Per task: each recipe's mean over TTT seeds of the dense reward (the correct output's
log-probability) and of success, under each setting; the Spearman correlation of the two dense rankings; and how
often the two settings agree on a cell's success. A cheaper setting keeps "the same ranking of recipes" when its
within-task correlations are high; the mean and its range over tasks are printed.

    python studies/arc_ranking_check.py studies/arc_spread studies/arc_spread_12
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def load(folder: Path) -> dict[tuple, dict]:
    """``{(family, task, recipe, seed): row}`` of a spread folder."""
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    return {(r["family"], r["task"], r["recipe"], r["seed"]): r for r in rows}


def compare(reference: dict[tuple, dict], candidate: dict[tuple, dict]) -> list[dict]:
    """One line per (family, task) that both runs hold in full: the two dense rankings' Spearman correlation,
    the recipes' mean success under each, and the share of cells whose success agrees."""
    from scipy.stats import spearmanr

    lines = []
    for family, task in sorted({key[:2] for key in reference.keys() & candidate.keys()}):
        cells = sorted(k for k in reference.keys() & candidate.keys() if k[:2] == (family, task))
        recipes = sorted({k[2] for k in cells})

        def means(rows: dict, field: str) -> np.ndarray:
            return np.array([np.mean([rows[k][field] for k in cells if k[2] == i]) for i in recipes])

        dense_ref, dense_new = means(reference, "logprob"), means(candidate, "logprob")
        rho = spearmanr(dense_ref, dense_new).statistic if len(recipes) > 2 else np.nan
        agree = np.mean([reference[k]["success"] == candidate[k]["success"] for k in cells])
        lines.append({"family": family, "task": task, "recipes": len(recipes), "cells": len(cells),
                      "spearman_dense": float(rho), "success_reference": float(means(reference, "success").mean()),
                      "success_candidate": float(means(candidate, "success").mean()),
                      "success_agreement": float(agree)})
    return lines


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path, help="spread folder under the reference settings")
    parser.add_argument("candidate", type=Path, help="spread folder under the cheaper settings")
    args = parser.parse_args(argv)
    lines = compare(load(args.reference), load(args.candidate))
    print("| family | task | recipes x seeds | Spearman (dense) | success, reference | success, candidate | "
          "cells whose success agrees |")
    print("|---|---|---|---|---|---|---|")
    for line in lines:
        print(f"| {line['family']} | {line['task']} | {line['cells']} | {line['spearman_dense']:.2f} | "
              f"{line['success_reference']:.2f} | {line['success_candidate']:.2f} | {line['success_agreement']:.2f} |")
    rhos = [line["spearman_dense"] for line in lines if np.isfinite(line["spearman_dense"])]
    if rhos:
        print(f"mean within-task Spearman {np.mean(rhos):.2f} (range {min(rhos):.2f} to {max(rhos):.2f}, "
              f"{len(rhos)} tasks)")
    return lines


if __name__ == "__main__":
    main()
