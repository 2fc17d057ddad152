#!/usr/bin/env bash
# The studies' long runs still to do, in order, on the 2 cores of any machine: run it again after any stop.
#
#   nohup bash studies/queue.sh >> ../queue.log 2>&1 &        # from main's checkout; nice'd; about 48 hours
#   bash studies/queue.sh --dry-run                            # what is done and what is still to do
#   touch ../queue.pause                                       # hold before the next stage (rm to go on)
#
# A stage that fails skips the later stages of its study (the first word of its name: ARC, replication, ...) and
# the queue goes on with the other studies' stages; it then exits 1, naming them: mend, and run it again.
# Every stage resumes where its committed files say it stopped (ARC's warm search per task, an evaluation per
# group, a published writer is never trained again). A training run resumes from its checkpoints only on the
# machine that holds its run folder (git-ignored: a checkpoint of the `cpu` preset's writer with its optimizer is
# about 230 MB), so on a new machine a half-trained writer starts again. Commit what each stage writes (the
# NEXT.md of each study lists it) as it appears. Each stage runs from a clean checkout of the commit below
# (scripts/study_checkout.sh), so a study's code is on record whatever main has moved on to.
# Bash reads a script as it runs it: the braces make it read the whole queue first, so a checkout that moves on
# (a commit that edits this file) does not change the queue already running.
{
set -euo pipefail
MAIN="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${STUDY_CHECKOUTS:-$(dirname "$MAIN")}"  # where the checkouts go: beside main
SHARED="${SHARED:-$(dirname "$MAIN")/shared}"
DRY=false; [ "${1:-}" = "--dry-run" ] && DRY=true
ARC="$MAIN/studies/arc_experiment"
REP="$MAIN/studies/replication"
ABL="$MAIN/studies/rest_em_stability/cpu.jsonl"
ARC_COMMIT=ef8495a       # the ARC experiment's code: 9d1a944 (per-chunk sampling seeds; warm, warm check and ReST-EM ran
                         # from it; warm lines record their own commit) + 801b70a's fix, without which a resumed run
                         # failed (GRPO's, 2026-12-08); nothing else differs
GRPO_COMMIT=99db5e3      # the replication's GRPO seeds: the first study's code and package versions
DISTILLED_COMMIT=3ec5882 # GRPO from the distilled writer (--init-policy)
EVAL_COMMIT=fe7c454      # the replication's writing and evaluation
ABLATION_COMMIT=9d1a944  # ReST-EM's merge ablation on the cpu preset's writer (issue 31, part 4)
ABLATION_RUNS=18         # 3 settings x 3 rewards x 2 policy seeds x 1 agent seed, one line each in cpu.jsonl
LR_COMMIT=f7a1ce7        # ReST-EM at 10x the cpu preset's rate (RESULTS fixes how it is read)

exists() { compgen -G "$1" >/dev/null; }  # a path or a glob
lines_at_least() { [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; }  # a resumable study's .jsonl holds every run
reported_whole() {  # a report.json whose primary test has every agent (the eval stage writes it once all is in)
  python3 -c "import json, sys; r = json.load(open(sys.argv[1])); sys.exit(not (r.get('primary') or {}).get('complete'))" \
    "$1" 2>/dev/null
}
keep_writers() {  # published writers' tensors are kept in git (refs/writers/*), off the branch (docs/agents.md):
  local w         # those a stage published go there; absent ones come back, since the stages' older code reads
  for w in "$ARC"/writers/*/ "$REP"/writers/*/; do  # the folders itself
    [ -f "$w/writer.json" ] && "$MAIN/.venv/bin/seal-gym" writers "$w" --restore --keep-in-git >/dev/null
  done
  return 0
}
FAILED=""  # the studies (a stage name's first word) with a failed stage: their later stages wait for the next run
step() {  # step NAME DONE COMMIT COMMAND...: run COMMAND in COMMIT's checkout unless the check DONE succeeds
  local name="$1" done_check="$2" commit="$3" study="${1%% *}"; shift 3
  if eval "$done_check"; then echo "done: $name"; return; fi
  if $DRY; then echo "to do: $name (from $commit)"; return; fi
  if [[ " $FAILED " == *" $study "* ]]; then echo "skipped: $name (an earlier $study stage failed)"; return; fi
  local dir="$WORK/study-$commit"
  while [ -e "$WORK/queue.pause" ]; do sleep 30; done  # `touch ../queue.pause`: wait before the next stage
  keep_writers
  echo "$(date -u +%FT%TZ) start: $name"
  if bash "$MAIN/scripts/study_checkout.sh" "$commit" "$dir" && (cd "$dir" && nice -n 10 "$@"); then
    echo "$(date -u +%FT%TZ) end: $name"
  else  # the other studies' stages go on: the cores are not left idle until someone reads this log
    echo "$(date -u +%FT%TZ) FAILED: $name (the later $study stages are skipped until the queue runs again)"
    FAILED="$FAILED $study"
  fi
}
PY=.venv/bin/python
arc() { step "ARC $1" "$2" "$ARC_COMMIT" $PY studies/arc_experiment.py --out "$ARC" --threads 2 --stage "$1"; }

arc warm "exists '$ARC/writers/warm/writer.json'"
step "ARC warm check" "exists '$ARC/warm/check.json'" "$ARC_COMMIT" $PY studies/arc_warm_check.py --out "$ARC" --threads 2
step "ReST-EM lr 3e-3, cpu writer" "lines_at_least '$ABL' $((ABLATION_RUNS + 12))" "$LR_COMMIT" \
  $PY studies/rest_em_stability.py --writer cpu --settings merge-lr3e-3 --rewards vowels upper digits \
  --seeds 0 1 --agent-seeds 0 --threads 2 --out "$ABL"  # a bigger push at the same budget (6 more lines,
  # about 66 min: ahead of ARC training so that issue 31 part 4 is read first; GRPO resumes from its checkpoint)
arc train "exists '$ARC/writers/sb3-ppo-seed0/writer.json'"  # the last agent
step "ReST-EM merge ablation, cpu writer" "lines_at_least '$ABL' $ABLATION_RUNS" "$ABLATION_COMMIT" \
  $PY studies/rest_em_stability.py --writer cpu --settings merge no-merge merge-keep-a --rewards vowels upper digits \
  --seeds 0 1 --agent-seeds 0 --threads 2 --out "$ABL"
step "GRPO reference, cpu writer" "lines_at_least '$ABL' $((ABLATION_RUNS + 6))" "$ABLATION_COMMIT" \
  $PY studies/rest_em_stability.py --writer cpu --settings grpo --rewards vowels upper digits \
  --seeds 0 1 --agent-seeds 0 --threads 2 --out "$ABL"  # does anything rise at the preset's budget? (6 more lines)
arc eval "reported_whole '$ARC/report.json'"  # every group in every chunk, then the report
for seed in 0 1 2; do
  step "replication GRPO seed $seed" "exists '$REP/writers/grpo-seed$seed/writer.json'" "$GRPO_COMMIT" \
    $PY benchmarks/optimizer_experiment.py --out "$REP" --stage train --agents grpo --train-seeds "$seed" --threads 2
done
step "replication GRPO from the distilled writer" "exists '$REP/distilled_grpo/writers/grpo-seed0/writer.json'" \
  "$DISTILLED_COMMIT" $PY studies/optimizer_experiment.py --out "$REP/distilled_grpo" --stage train \
  --dataset "$SHARED/data/squad/train.json" --agents grpo --train-seeds 0 --threads 2 \
  --train-options "--init-policy $REP/writers/distilled"
$DRY || [ -e "$REP/writers/distilled-grpo" ] || [ ! -e "$REP/distilled_grpo/writers/grpo-seed0" ] ||
  cp -r "$REP/distilled_grpo/writers/grpo-seed0" "$REP/writers/distilled-grpo"
step "replication write, eval and report" "exists '$REP/report.json'" "$EVAL_COMMIT" sh -c "set -e
  for stage in write eval; do $PY studies/replication_study.py --out '$REP' --squad '$SHARED/data/squad' --stage \$stage; done
  $PY studies/replication_study.py --out '$REP' --stage report"
$DRY || keep_writers
if [ -n "$FAILED" ]; then echo "stages failed in:$FAILED (see above); run the queue again once mended"; exit 1; fi
$DRY || echo "every study stage is done"
exit
}
