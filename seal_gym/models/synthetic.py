"""Models built in code, with no files and no hub: a byte-level tokenizer and randomly-initialised Llamas."""

from __future__ import annotations

from typing import Any

import torch

from seal_gym.models.bundle import ModelBundle

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


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
