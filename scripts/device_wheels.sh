#!/usr/bin/env bash
# Here, before a GPU session's one device call: the pure-Python packages the GPU image lacks, as wheels in .whl/
# (ignored by git; carried with `carry: [".whl"]`). The image has torch, transformers, peft, tensorboard, pytest,
# cloudpickle, setuptools; it lacks gymnasium (+ farama-notifications), gguf and stable-baselines3.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
PY="${PYTHON:-.venv/bin/python}"
for pkg in gymnasium farama-notifications gguf stable-baselines3; do
  version=$("$PY" -m pip show "$pkg" 2>/dev/null | awk '/^Version:/ {print $2}')
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "$pkg${version:+==$version}"
done
ls -la .whl
