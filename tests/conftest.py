"""Shared fixtures. Unit tests use a tiny random Llama; tests marked ``slow`` use the embedded model."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

from tests.script_twins import scripts  # noqa: F401  (the benchmark and study scripts' twins, a fixture)

# Tiny models run faster on one thread: on 2 cores the second thread mostly waits on the first.
torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def weights_checksum(model: torch.nn.Module) -> str:
    """sha256 over every tensor of the state dict, in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


RAY_TESTS = ("test_ray_cluster.py", "test_ray_engine.py", "test_gpu.py::test_ray_engine_actor_on_the_gpu",
             "docs/ray.md")
"""Tests that start or join Ray: one pytest-xdist worker runs them all, one after another, since a local Ray
(docs/ray.md's example) loses its actors while another Ray runs on the machine."""


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, which `pytest -p no:xdist` leaves out
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist (``-n``) hands out whole files, so a module's fixtures are built on one worker only, and every
    test of :data:`RAY_TESTS` to one worker. (``--dist loadgroup`` would do it with marks, but with pytest 9 it
    does not group: it renames test ids through a private attribute.)"""
    from xdist.scheduler import LoadScopeScheduling

    class FileOrRay(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    config.option.loadscopereorder = False  # hand files out in collection order: the heavy ones first (below)
    return FileOrRay(config, log)


def scope_of(nodeid: str) -> str:
    """The unit of work a pytest-xdist worker is handed: ``"ray"`` (every Ray test) or the test's file."""
    return "ray" if any(name in nodeid for name in RAY_TESTS) else nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    """The Ray tests, then every file holding a test marked ``heavy``, then the rest, each in collection order:
    workers are handed files in this order, so the long ones do not start last and leave one core idle at the end
    (longest first). Tests marked ``gpu`` are skipped, with the reason, where CUDA is absent."""
    heavy = {scope_of(item.nodeid) for item in items if "heavy" in item.keywords}
    items.sort(key=lambda item: (scope_of(item.nodeid) != "ray", scope_of(item.nodeid) not in heavy))
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA: torch.cuda.is_available() is False on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_bundle():
    from seal_gym.models import load_model

    return load_model("tiny-random", device="cpu")


@pytest.fixture(scope="session")
def embedded_bundle():
    from seal_gym.models import load_model

    try:
        return load_model(None, device="cpu")
    except ModuleNotFoundError as err:
        pytest.skip(str(err))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside the checkout")
    return SHARED_DATA


RUNNING_RAY_CLUSTERS: list = []
"""How to stop each Ray test cluster still running (see :func:`stop_ray_clusters`)."""


def stop_ray_clusters() -> None:
    """Stop the session's Ray test cluster now, if one runs, and disconnect this process from Ray: a test that
    starts a local Ray of its own (docs/ray.md's example) loses its actors ("died unexpectedly") while another
    Ray runs on the machine. A Ray test after it starts the cluster again."""
    import ray

    ray.shutdown()
    while RUNNING_RAY_CLUSTERS:
        RUNNING_RAY_CLUSTERS.pop()()


@pytest.fixture(scope="module")
def ray_cluster(_ray_cluster_process):
    """The address of a one-node Ray cluster of 3 logical CPUs (``"127.0.0.1:PORT"``), started with ``ray start``
    (as on a real cluster) once and shared by every Ray test (again after :func:`stop_ray_clusters`)."""
    return _ray_cluster_process()


@pytest.fixture(scope="session")
def _ray_cluster_process(tmp_path_factory):
    """Starts the cluster on first use (and after a stop); stops it at the end of the session."""
    address: list[str] = []

    def running() -> str:
        if not address or not RUNNING_RAY_CLUSTERS:
            address[:] = [_start_ray_cluster(tmp_path_factory)]
        return address[0]

    yield running
    while RUNNING_RAY_CLUSTERS:
        RUNNING_RAY_CLUSTERS.pop()()


def _start_ray_cluster(tmp_path_factory) -> str:
    """Start a cluster as our own child; register how to stop it; its address.

    ``--block`` keeps ``ray start`` running as our child: stopping it with SIGTERM stops exactly this cluster's
    processes (``ray stop`` would stop every Ray on the machine, other sessions' included).
    """
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'seal-gym[ray]'")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("ray") / "ray-start.log"
    # Without RAY_AUTH_MODE=disabled, `ray start` turns token authentication on, which a driver that names
    # the address (this test process) is refused by; a test cluster on 127.0.0.1 needs none.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    with log.open("w") as out:
        head = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
                                 f"--port={port}", "--num-cpus=3", "--num-gpus=0", "--include-dashboard=false",
                                 "--disable-usage-stats"], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while "--block" not in log.read_text():  # printed once the cluster is up
        if head.poll() is not None or time.monotonic() > deadline:
            head.kill()
            pytest.fail("ray start failed:\n" + log.read_text()[-3000:])
        time.sleep(0.2)

    def stop() -> None:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
        # What `ray stop` also does: forget this cluster as the machine's "current" one, or a later
        # ray.init() without an address tries to join it (and refuses num_cpus).
        current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        if current.is_file() and current.read_text().strip().endswith(f":{port}"):
            current.unlink(missing_ok=True)

    RUNNING_RAY_CLUSTERS.append(stop)
    return f"127.0.0.1:{port}"


@pytest.fixture(scope="session")
def sb3_run(tmp_path_factory):
    """One sb3-ppo smoke run on SealARCStructured-v0 (its folder), shared by the tests that evaluate or refuse it."""
    from seal_gym.cli import main

    runs = tmp_path_factory.mktemp("sb3_runs")
    assert main(["train", "--preset", "smoke", "--env", "SealARCStructured-v0", "--agent", "sb3-ppo", "--rounds", "1",
                 "--runs-dir", str(runs), "--threads", "1"]) == 0
    return next(runs.iterdir())

