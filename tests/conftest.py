"""Shared fixtures. Unit tests use a tiny random Llama; tests marked ``slow`` use the embedded model."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

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


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` are skipped, with the reason, where CUDA is absent."""
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
