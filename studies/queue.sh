#!/usr/bin/env bash
# The studies' long runs still to do, in order, on the 2 cores of any machine: run it again after any stop.
#
#   nohup bash studies/queue.sh >> ../queue.log 2>&1 &        # from main's checkout; nice'd; about 35 hours
#   bash studies/queue.sh --dry-run                            # what is done and what is still to do
#
# Every stage resumes where its committed files say it stopped (ARC's warm search per task, an evaluation per
# group, a published writer is never trained again). A training run resumes from its checkpoints only on the
# machine that holds its run folder (git-ignored: a checkpoint of the `cpu` preset's writer with its optimizer is
# about 230 MB), so on a new machine a half-trained writer starts again. Commit what each stage writes (the
# NEXT.md of each study lists it) as it appears. Each stage runs from a clean checkout of the commit below
# (scripts/study_checkout.sh), so a study's code is on record whatever main has moved on to.
set -euo pipefail
MAIN="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${STUDY_CHECKOUTS:-$(dirname "$MAIN")}"  # where the checkouts go: beside main
SHARED="${SHARED:-$(dirname "$MAIN")/shared}"
DRY=false; [ "${1:-}" = "--dry-run" ] && DRY=true
ARC="$MAIN/studies/arc_experiment"
REP="$MAIN/studies/replication"
ARC_COMMIT=28916d4       # the ARC experiment's code (warm lines record their own commit)
GRPO_COMMIT=99db5e3      # the replication's GRPO seeds: the first study's code and package versions
DISTILLED_COMMIT=3ec5882 # GRPO from the distilled writer (--init-policy)
EVAL_COMMIT=28916d4      # the replication's writing and evaluation
CHECK_COMMIT=4dee9f5     # studies/arc_warm_check.py (sampling only: minutes)

done_if() { compgen -G "$1" >/dev/null; }  # a path or a glob
step() {  # step NAME DONE_PATH COMMIT COMMAND...: run COMMAND in COMMIT's checkout unless DONE_PATH exists
  local name="$1" done_path="$2" commit="$3"; shift 3
  if done_if "$done_path"; then echo "done: $name"; return; fi
  if $DRY; then echo "to do: $name (from $commit)"; return; fi
  local dir="$WORK/study-$commit"
  bash "$MAIN/scripts/study_checkout.sh" "$commit" "$dir"
  echo "$(date -u +%FT%TZ) start: $name"
  (cd "$dir" && nice -n 10 "$@")
  echo "$(date -u +%FT%TZ) end: $name"
}
PY=.venv/bin/python
arc() { step "ARC $1" "$2" "$ARC_COMMIT" $PY studies/arc_experiment.py --out "$ARC" --threads 2 --stage "$1"; }

arc warm "$ARC/writers/warm/writer.json"
step "ARC warm check" "$ARC/warm/check.json" "$CHECK_COMMIT" $PY studies/arc_warm_check.py --out "$ARC" --threads 2
arc train "$ARC/writers/sb3-ppo-seed0/writer.json"  # the last agent
arc eval "$ARC/eval/sb3-ppo-seed0/*/results.json"  # the last group
arc report "$ARC/report.json"
for seed in 0 1 2; do
  step "replication GRPO seed $seed" "$REP/writers/grpo-seed$seed/writer.json" "$GRPO_COMMIT" \
    $PY benchmarks/optimizer_experiment.py --out "$REP" --stage train --agents grpo --train-seeds "$seed" --threads 2
done
step "replication GRPO from the distilled writer" "$REP/distilled_grpo/writers/grpo-seed0/writer.json" \
  "$DISTILLED_COMMIT" $PY studies/optimizer_experiment.py --out "$REP/distilled_grpo" --stage train \
  --dataset "$SHARED/data/squad/train.json" --agents grpo --train-seeds 0 --threads 2 \
  --train-options "--init-policy $REP/writers/distilled"
$DRY || [ -e "$REP/writers/distilled-grpo" ] || cp -r "$REP/distilled_grpo/writers/grpo-seed0" "$REP/writers/distilled-grpo"
step "replication write, eval and report" "$REP/report.json" "$EVAL_COMMIT" sh -c "set -e
  for stage in write eval; do $PY studies/replication_study.py --out '$REP' --squad '$SHARED/data/squad' --stage \$stage; done
  $PY studies/replication_study.py --out '$REP' --stage report"
$DRY || echo "every study stage is done"
