"""The embedded SmolLM2-135M-Instruct really incorporates knowledge through a self-edit (slow)."""

from __future__ import annotations

import pytest

from seal_gym.squad.inner_loop import KnowledgeInnerLoop, KnowledgeItem
from seal_gym.squad.passages import demo_passages
from tests.conftest import weights_checksum

pytestmark = [pytest.mark.slow, pytest.mark.heavy]


def test_good_self_edit_raises_accuracy_above_baseline(embedded_bundle):
    passage = demo_passages()[0]  # invented facts: the base model cannot know them
    loop = KnowledgeInnerLoop(embedded_bundle)
    before = weights_checksum(embedded_bundle.model)
    result = loop.run([KnowledgeItem(passage.completions[0], passage, seed=0)])[0]
    assert weights_checksum(embedded_bundle.model) == before
    assert result.baseline_accuracy <= 0.2
    assert result.adapter_accuracy >= result.baseline_accuracy + 0.4, [q.answer for q in result.questions]
    assert result.final_loss < 1.0
