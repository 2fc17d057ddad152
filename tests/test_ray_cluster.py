"""The Ray engine joins a running cluster (``address="auto"``, or the default), as on a real cluster after
``ray start``.

The cluster is started with the ``ray`` command, and the engine is driven from a separate process (as a
user's script would be), so this Ray is not the in-process one of ``tests/test_ray_engine.py``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is not installed: pip install 'seal-gym[ray]'")

DRIVER = """
import json, sys, ray
from seal_gym.adapt import BatchedEngine, make_engine
from seal_gym.models import load_model
from tests.test_ray_engine import requests

bundle = load_model("tiny-random", device="cpu")
batch = requests(3)
with make_engine(bundle.model, bundle.tokenizer, "ray", num_workers=1, address=json.loads(sys.argv[1])) as engine:
    cluster = {"cpus": ray.cluster_resources().get("CPU"), "gcs": ray.get_runtime_context().gcs_address}
    got = engine.adapt(batch)
expected = BatchedEngine(bundle.model, bundle.tokenizer).adapt(batch)
print(json.dumps({**cluster, "answers": [o.answers for o in got], "expected_answers": [o.answers for o in expected],
                  "losses": [o.losses for o in got], "expected_losses": [o.losses for o in expected]}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def running_cluster():
    """A one-node cluster of 3 logical CPUs (a local ``ray.init()`` here would have os.cpu_count())."""
    ray_cli = Path(sys.executable).with_name("ray")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    port = free_port()
    subprocess.run([str(ray_cli), "start", "--head", f"--port={port}", "--num-cpus=3", "--num-gpus=0",
                    "--include-dashboard=false", "--disable-usage-stats"], check=True, env=env,
                   capture_output=True, timeout=120)
    try:
        yield port
    finally:
        subprocess.run([str(ray_cli), "stop", "--force"], env=env, capture_output=True, timeout=120)


@pytest.mark.parametrize("address", ["auto", None, "local"])
def test_engine_joins_a_running_cluster_unless_told_local(running_cluster, address):
    """``"auto"`` must join it; ``None`` (Ray's own default) joins a Ray running for this machine too, instead
    of failing inside ``ray.init`` on the CPUs a new local Ray would have asked for; ``"local"`` starts its
    own Ray beside it."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(root)}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(address)], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    joined = result["cpus"] == 3 and result["gcs"].endswith(f":{running_cluster}")
    assert joined == (address != "local"), result["gcs"]
    assert result["answers"] == result["expected_answers"]
    for got, expected in zip(result["losses"], result["expected_losses"]):
        assert got == pytest.approx(expected, abs=1e-5)
