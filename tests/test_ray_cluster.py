"""The Ray engine joins a running cluster (``address="auto"``, or the default), as on a real cluster after
``ray start``, and ``"local"`` starts a Ray of its own beside it.

The cluster is the session's (``ray_cluster`` in conftest.py, started with the ``ray`` command), and the engine
is driven from a separate process (as a user's script would be), so that this process's own connection to
Ray plays no part. One driver process tries every address in turn (each engine's Ray is shut down before the
next), so Python, torch and the model load once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is not installed: pip install 'seal-gym[ray]'")

ADDRESSES = ["auto", None, "local"]  # "local" last: the Ray it starts must not be the one "auto" finds
DRIVER = """
import json, sys, ray
from seal_gym.adapt import BatchedEngine, make_engine
from seal_gym.models import load_model
from tests.test_ray_engine import requests

bundle = load_model("tiny-random", device="cpu")
batch = requests(3)
expected = BatchedEngine(bundle.model, bundle.tokenizer).adapt(batch)
results = []
for address in json.loads(sys.argv[1]):
    with make_engine(bundle.model, bundle.tokenizer, "ray", num_workers=1, address=address) as engine:
        cluster = {"cpus": ray.cluster_resources().get("CPU"), "gcs": ray.get_runtime_context().gcs_address}
        got = engine.adapt(batch)
    assert not ray.is_initialized(), "the engine started this connection, so it must end it"
    results.append({**cluster, "answers": [o.answers for o in got], "expected_answers": [o.answers for o in expected],
                    "losses": [o.losses for o in got], "expected_losses": [o.losses for o in expected]})
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def driven(ray_cluster) -> dict:
    """What the driver saw for each address, by ``json.dumps(address)``."""
    root = Path(__file__).resolve().parents[1]
    # The session's cluster runs without token authentication (see conftest.py): so must its drivers.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(root)}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(ADDRESSES)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    return {json.dumps(address): result for address, result in zip(ADDRESSES, results)}


@pytest.mark.parametrize("address", ADDRESSES)
def test_engine_joins_a_running_cluster_unless_told_local(ray_cluster, driven, address):
    """``"auto"`` must join it; ``None`` (Ray's own default) joins a Ray running for this machine too, instead
    of failing inside ``ray.init`` on the CPUs a new local Ray would have asked for; ``"local"`` starts its
    own Ray beside it."""
    result = driven[json.dumps(address)]
    joined = result["cpus"] == 3 and result["gcs"].endswith(":" + ray_cluster.rpartition(":")[2])
    assert joined == (address != "local"), result["gcs"]
    assert result["answers"] == result["expected_answers"]
    for got, expected in zip(result["losses"], result["expected_losses"]):
        assert got == pytest.approx(expected, abs=1e-5)
