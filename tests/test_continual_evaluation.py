"""``continual_stream``: SEAL's updates one after another, the forgetting matrix, and the weights restored after."""

from __future__ import annotations

import pytest
import torch

from seal_gym.adapt import AdaptRequest, LoraSpec, TrainSequence, TrainSpec
from seal_gym.adapt.persistent import PersistentUpdates, UpdateOutcome
from seal_gym.adapt.sequential import temporary_lora, train_lora
from seal_gym.adapt.versions import bump_weights_version
from seal_gym.evaluation import continual_stream, forgetting_chart, retention_table, save_png
from seal_gym.squad.inner_loop import KnowledgeConfig, KnowledgeInnerLoop
from seal_gym.squad.passages import demo_passages
from seal_gym.testing import ScriptedEngine
from tests.conftest import weights_checksum
from tests.scripted_squad import asked

PASSAGES = demo_passages()
TINY = KnowledgeConfig(train=TrainSpec(epochs=1), lora=LoraSpec(rank=2, alpha=4))


class ForgetfulUpdates:
    """A fake updater: the model "knows" the passages of the last two updates whose self-edit said GOOD."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model, self.learned, self.restored = model, [], False

    def apply(self, request: AdaptRequest) -> UpdateOutcome:
        good = any("GOOD" in s.prompt for s in request.sequences)
        self.learned.append(request.sequences[-1].prompt.split("\n", 1)[0] if good else None)
        bump_weights_version(self.model)  # as PersistentUpdates does: cached answers are stale
        return UpdateOutcome([1.0], 10, 1, 0.0)

    def restore(self) -> None:
        self.restored = True

    def answer(self, query) -> str:
        recent = [t for t in self.learned[-2:] if t]
        return asked(query)[1] if any(f"Topic: {t}\n" in query.prompt for t in recent) else "no idea"


def test_continual_stream_builds_the_forgetting_matrix(tiny_bundle, tmp_path):
    updates = ForgetfulUpdates(tiny_bundle.model)
    loop = KnowledgeInnerLoop(tiny_bundle, engine=ScriptedEngine(lambda r, q: "", updates.answer), config=TINY)
    seen = []
    result = continual_stream(loop, PASSAGES[:4], lambda prompts: ["GOOD facts"] * len(prompts), updates=updates,
                              on_step=lambda r: seen.append(len(r.strict)))
    assert result.strict == [[1.0], [1.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]
    assert result.before == [0.0] * 4 and updates.restored and seen == [1, 2, 3, 4]
    assert [line.strict for line in result.retention()] == [100.0, 100.0, 0.0, 0.0]
    assert [line.n for line in result.retention()] == [4, 3, 2, 1]
    assert result.matrix()[1] == [100.0, None, None, None] and len(result.matrix()) == 5
    assert result.steps[0].self_edit == "GOOD facts"
    # Passage-only updates teach this fake nothing: the comparison stream stays at zero.
    updates.learned.clear()
    plain = continual_stream(loop, PASSAGES[:4], None, updates=updates)
    assert plain.label == "passage only" and all(v == 0.0 for row in plain.strict for v in row)
    assert "passage only (strict)" in retention_table([result, plain])
    save_png(forgetting_chart([result, plain], "demo stream"), tmp_path / "forgetting.png")
    assert len(result.csv_rows()) == 4 + (1 + 2 + 3 + 4)


def test_merged_update_equals_the_engines_adapter_and_restores_bit_for_bit(tiny_bundle):
    request = AdaptRequest((TrainSequence("Port Varrow\nThe harbour light is green."), TrainSequence("abc def")), (),
                           TrainSpec(epochs=3, learning_rate=1e-2), LoraSpec(rank=4, alpha=8))
    model, ids = tiny_bundle.model, tiny_bundle.tokenizer("The harbour light is", return_tensors="pt")["input_ids"]
    original = weights_checksum(model)
    with temporary_lora(model, request.lora, request.train.seed) as lora_model:
        losses, _, _ = train_lora(lora_model, tiny_bundle.tokenizer, request)
        lora_model.eval()
        with torch.no_grad():
            expected = lora_model(input_ids=ids).logits
    with PersistentUpdates(model, tiny_bundle.tokenizer) as updates:
        outcome = updates.apply(request)
        assert outcome.losses == losses and outcome.num_optimizer_steps == 6
        assert weights_checksum(model) != original
        with torch.no_grad():
            assert torch.allclose(model(input_ids=ids).logits, expected, atol=1e-4)
        updates.apply(request)
    assert weights_checksum(model) == original


def test_continual_stream_on_the_tiny_model_restores_the_weights_even_on_failure(tiny_bundle):
    loop = KnowledgeInnerLoop(tiny_bundle, engine="sequential", config=TINY)
    original = weights_checksum(tiny_bundle.model)
    changed = []
    result = continual_stream(loop, PASSAGES[:2], lambda prompts: ["A fact.\nAnother fact."],
                              on_step=lambda r: changed.append(weights_checksum(tiny_bundle.model) != original))
    assert changed == [True, True] and weights_checksum(tiny_bundle.model) == original
    assert [s.num_sequences for s in result.steps] == [3, 3] and result.steps[0].final_loss is not None

    def failing_writer(prompts):
        if failing_writer.calls:
            raise RuntimeError("writer failed")
        failing_writer.calls += 1
        return ["A fact."]

    failing_writer.calls = 0
    with pytest.raises(RuntimeError, match="writer failed"):
        continual_stream(loop, PASSAGES[:2], failing_writer)
    assert weights_checksum(tiny_bundle.model) == original
