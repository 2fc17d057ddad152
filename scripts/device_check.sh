#!/usr/bin/env bash
# Every GPU check in ONE device call (device time is scarce: about 15 minutes a session, start-up included).
#   here:   bash scripts/device_wheels.sh
#   device: run(command="bash scripts/device_check.sh", carry=[".whl"], timeout_s=570)
# Leaves in $OUT: env.txt (GPU, versions), gpu_tests.txt (pytest -m gpu: engines, env steps incl. the cpu
# presets' log-prob rewards in bf16, agent updates), inner_loop.txt (reference vs sequential
# vs batched at SEAL's settings, bf16), loss_memory.txt (K=64: full logits, chunked, chunked + layer
# checkpointing), profile.txt (where one K=64 call's time goes, and how busy the GPU is), service.txt (the
# reward service's throughput against env.step, 1 and 16 clients). Each step has its own
# time limit, so one that hangs or breaks still leaves the others' results. Commit the tables, with the device
# name, to benchmarks/RESULTS.md.
#
# Not covered: whether batching ARC's adapters pays on a GPU (SealARC's auto engine assumes it does; on a CPU it
# does not): `benchmarks/arc_batching.py --device cuda --adapters 16`, left out for the time one call has.
# Not covered: the Ray engine's GPU test (Ray is not on the GPU image, and its wheel, 79 MB, is more than one
# call may carry); it is skipped there with the reason.
#
# Rehearsal on a CPU machine (checks this script, the offline install and the commands, not the GPU), in a
# virtual environment that, like the GPU image, has torch/transformers/peft but not this project:
#   SEAL_GYM_CHECK_DEVICE=cpu PYTHON=/path/to/venv/bin/python OUT=/tmp/rehearsal bash scripts/device_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
OUT="${OUT:-/tmp/device_out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
DEVICE="${SEAL_GYM_CHECK_DEVICE:-cuda}"
if [ "$DEVICE" = cuda ]; then
  TESTS=(-m gpu) SPEED=(--ks 1,16,64 --num-self-edits 4) MEMORY=(--ks 64 --passage-tokens 256)
  PROFILE=(--ks 64 --epochs 1)  # one epoch: the per-step pattern, and fewer events for the profiler to sort
  SERVICE=(--clients 1 16 --requests 16 --max-batch 16 --inner-epochs 2)
else  # small shapes: a rehearsal must only show that every step runs
  TESTS=(-m "not gpu") SPEED=(--quick --ks 1,4) MEMORY=(--ks 4 --passage-tokens 64 --rank 4)
  PROFILE=(--quick --model tiny-random)
  SERVICE=(--clients 1 4 --requests 4 --max-batch 4 --inner-epochs 1 --model tiny-random)
fi
# seal_gym's agents/ and envs/ install as seal_gym.agents / seal_gym.envs (package-dir): install, not just import.
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir --upgrade --target /tmp/site . \
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
# From /tmp with --import-mode=append: the installed seal_gym (which maps seal_gym.agents to agents/) comes first
# on sys.path; run from the repository, its own seal_gym/ folder would shadow it and seal_gym.agents would not exist.
cd /tmp
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "no nvidia-smi"
  "$PY" -c "import torch, transformers, peft, seal_gym.agents; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'); print('transformers', transformers.__version__, 'peft', peft.__version__); print('seal_gym from', seal_gym.agents.__file__)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
step gpu_tests 140 "$PY" -m pytest "${TESTS[@]}" -q -p no:cacheprovider --import-mode=append -o addopts="-ra" \
  "$REPO/tests/test_gpu.py"
step inner_loop 200 "$PY" "$REPO/benchmarks/inner_loop.py" --device "$DEVICE" "${SPEED[@]}" \
  --engines reference,sequential,batched
step loss_memory 100 "$PY" "$REPO/benchmarks/loss_memory.py" --device "$DEVICE" "${MEMORY[@]}" \
  --loss-chunks 2048,512
step profile 60 "$PY" "$REPO/benchmarks/inner_loop_profile.py" --device "$DEVICE" "${PROFILE[@]}"
# The reward service against one env.step at a time: where batching pays, on the GPU.
step service 60 "$PY" "$REPO/benchmarks/reward_service.py" throughput "${SERVICE[@]}"
