#!/usr/bin/env bash
# Every GPU check in ONE device call (device time is scarce: about 15 minutes a session, start-up included).
#   here:   bash scripts/device_wheels.sh
#   device: run(command="bash scripts/device_check.sh", carry=[".whl"], timeout_s=570)
# Leaves in $OUT: env.txt (GPU, versions), gpu_tests.txt (pytest -m gpu), inner_loop.txt (reference vs sequential
# vs batched at SEAL's settings, bf16), loss_memory.txt (K=64, full logits vs chunked). Each step has its own
# time limit, so one that hangs or breaks still leaves the others' results. Commit the tables, with the device
# name, to benchmarks/RESULTS.md.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/device_out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
# seal_gym's agents/ and envs/ install as seal_gym.agents / seal_gym.envs (package-dir): install, not just import.
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir --target /tmp/site . \
  || { echo "install failed (did scripts/device_wheels.sh run, and is .whl carried?)" | tee "$OUT/env.txt"; exit 1; }
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
step() {  # step NAME SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  echo "== $name: $* (limit ${limit}s)" | tee "$OUT/$name.txt"
  local start=$SECONDS
  timeout "$limit" "$@" >> "$OUT/$name.txt" 2>&1
  echo "== exit $? after $((SECONDS - start)) s" | tee -a "$OUT/$name.txt"
  tail -n 25 "$OUT/$name.txt"
}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  "$PY" -c "import torch, transformers, peft; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name()); print('transformers', transformers.__version__, 'peft', peft.__version__)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
step gpu_tests 200 "$PY" -m pytest -m gpu -q -p no:cacheprovider -o addopts="-ra" tests/test_gpu.py
step inner_loop 230 "$PY" benchmarks/inner_loop.py --device cuda --ks 1,16,64 --num-self-edits 4 --engines reference,sequential,batched
step loss_memory 90 "$PY" benchmarks/inner_loop.py --device cuda --loss-memory --ks 64 --passage-tokens 256 --loss-chunks 2048,512
