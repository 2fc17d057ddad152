"""The CUDA path: the batched engine in bfloat16 with float32 adapters against the float32 reference, env steps
and one update of each agent on the GPU.

Every test takes a ``device``: ``"cuda"`` (marked ``gpu``: skipped, with the reason, where CUDA is absent) and
``"cpu"``, a rehearsal of the same code in the same dtypes. The rehearsal runs with the rest of the suite, so
a GPU session spends its device minutes on what only CUDA can show, not on a broken test.

Run on a GPU machine with ``python -m pytest -m gpu``.
"""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch

import seal_gym  # noqa: F401  (registers the envs)
from seal_gym.adapt import (
    AdaptRequest,
    BatchedEngine,
    LoraSpec,
    PolicyAdapter,
    Query,
    SequentialEngine,
    TrainSequence,
    TrainSpec,
)
from seal_gym.models import load_model
from seal_gym.squad.grading import GradeItem, Verdict

from .conftest import weights_checksum
from .test_batched_engine import MIXED, REQUESTS

LOSS_ATOL = 1e-4  # float32 on two devices: reductions run in different orders (CPU vs CUDA measured < 1e-5)
BF16_LOSS_RTOL = 2e-2  # as tests/test_batched_engine.py's bf16-on-CPU test
BF16_LOGPROB_RTOL = 2e-2  # mean gold-answer log-probability, bfloat16 weights vs float32
BF16_RELATIVE_ATOL = 0.05  # nats: a difference of two such means (the tiny model's are about -5.5)
# A request the tiny model learns by heart, so greedy answers are decided by wide margins (a random model's
# near-ties would flip under bfloat16 rounding and say nothing about the engine).
MEMORISED = AdaptRequest(
    sequences=(TrainSequence("Q: the code?\nA:", " 7391 blue"),) * 2,
    queries=(Query("Q: the code?\nA:", max_new_tokens=6),),
    train=TrainSpec(epochs=40, learning_rate=1e-2, loss_on="completion", seed=3),
    lora=LoraSpec(rank=8, alpha=16, target_modules=("q_proj", "v_proj", "up_proj", "down_proj", "lm_head")),
)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request) -> str:
    return request.param


@pytest.fixture(autouse=True)
def exact_float32_matmuls():
    """TF32 would round float32 matmuls to 10 mantissa bits on Ampere and later; the reference does not."""
    previous = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous


@pytest.fixture(scope="module")
def reference():
    """Outcomes of the float32 sequential engine on the CPU: what every CUDA run is compared with."""
    bundle = load_model("tiny-random", device="cpu", dtype=torch.float32)
    return SequentialEngine(bundle.model, bundle.tokenizer).adapt(REQUESTS + MIXED + [MEMORISED])


class AlternatingGrader:
    """All answers right on every other ``grade`` call (one per self-edit, in order): in a group of two
    samples one self-edit earns 1 and the other 0, whatever the random model answers."""

    def __init__(self) -> None:
        self.calls = 0

    def grade(self, items: list[GradeItem]) -> list[Verdict]:
        self.calls += 1
        return [Verdict(correct=self.calls % 2 == 0) for _ in items]


def tiny_on(device: str, dtype: torch.dtype):
    return load_model("tiny-random", device=device, dtype=dtype)


def test_batched_float32_matches_the_reference(device, reference):
    bundle = tiny_on(device, torch.float32)
    before = weights_checksum(bundle.model)
    got = BatchedEngine(bundle.model, bundle.tokenizer).adapt(REQUESTS + MIXED + [MEMORISED])
    for out, ref in zip(got, reference):
        assert out.answers == ref.answers
        assert out.num_train_tokens == ref.num_train_tokens
        assert out.losses == pytest.approx(ref.losses, abs=LOSS_ATOL)
    assert weights_checksum(bundle.model) == before


def test_batched_bfloat16_keeps_float32_adapters_and_tracks_the_reference(device, reference):
    bundle = tiny_on(device, torch.bfloat16)
    engine = BatchedEngine(bundle.model, bundle.tokenizer, keep_lora_state=True)
    got = engine.adapt(REQUESTS + MIXED + [MEMORISED])
    assert all(t.dtype == torch.float32 for s in engine.lora_states for pair in s.values() for t in pair)
    for out, ref in zip(got[:-1], reference[:-1]):
        assert out.num_train_tokens == ref.num_train_tokens
        assert out.losses == pytest.approx(ref.losses, rel=BF16_LOSS_RTOL, abs=1e-3)
    # 80 steps down to a loss near 1e-4: the bf16 trajectory drifts (measured on CPU: 3.5 % by step 8), so
    # compare its start, that both learned it, and the answers.
    memorised, ref = got[-1], reference[-1]
    assert memorised.losses[:3] == pytest.approx(ref.losses[:3], rel=BF16_LOSS_RTOL)
    assert memorised.final_loss < 0.01 and ref.final_loss < 0.01
    assert ref.answers[0].startswith("7391"), "the reference must have learned the answer"
    assert memorised.answers == ref.answers


def test_chunked_loss_in_bfloat16_equals_full_logits(device):
    bundle = tiny_on(device, torch.bfloat16)
    runs = []
    for chunk in (None, 16):
        engine = BatchedEngine(bundle.model, bundle.tokenizer, loss_chunk_tokens=chunk)
        runs.append(engine.adapt(REQUESTS[:3]))
    for full, chunked in zip(*runs):
        assert chunked.losses == pytest.approx(full.losses, rel=1e-3, abs=1e-3)


def test_squad_step_and_vector_step_in_bfloat16(device):
    bundle = tiny_on(device, torch.bfloat16)
    before = weights_checksum(bundle.model)
    fast = dict(model=bundle, engine="batched", train=TrainSpec(epochs=1), lora=LoraSpec(rank=2, alpha=4))
    env = gym.make("SealSquad-v0", **fast)
    _, info = env.reset(seed=0)
    _, reward, terminated, _, info = env.step(f"{info['title']} is a place.\nIt has facts.")
    assert terminated and 0.0 <= reward <= 1.0 and info["final_loss"] is not None
    envs = gym.make_vec("SealSquad-v0", num_envs=4, vectorization_mode="vector_entry_point", **fast)
    envs.reset(seed=0)
    _, rewards, terminated, _, _ = envs.step(["A fact.", "Two facts.\nMore.", "Three.", "Four facts here."])
    assert rewards.shape == (4,) and terminated.all() and ((0 <= rewards) & (rewards <= 1)).all()
    assert weights_checksum(bundle.model) == before


@pytest.mark.parametrize("reward", ["answer_logprob", "answer_logprob_vs_passage"])
def test_answer_logprob_rewards_in_bfloat16_track_float32(device, reward):
    """The cpu presets' dense rewards (teacher-forced gold-answer log-probabilities, and the same minus the
    passage-only adapter's) through the batched engine: bfloat16 weights with float32 adapters give the
    float32 model's rewards up to rounding, and the passage reference is computed once and reported."""
    self_edit = "The place is old.\nIt has many facts.\nPeople visit it."
    rewards, infos = {}, {}
    for dtype in (torch.float32, torch.bfloat16):
        env = gym.make("SealSquad-v0", model=tiny_on(device, dtype), engine="batched", reward=reward,
                       train=TrainSpec(epochs=2, learning_rate=1e-3), lora=LoraSpec(rank=2, alpha=4))
        env.reset(seed=0)
        _, rewards[dtype], _, _, infos[dtype] = env.step(self_edit)
    assert all(torch.isfinite(torch.tensor(r)) for r in rewards.values())
    if reward == "answer_logprob":
        assert rewards[torch.float32] < 0
        assert rewards[torch.bfloat16] == pytest.approx(rewards[torch.float32], rel=BF16_LOGPROB_RTOL)
    else:
        assert "passage_logprob" in infos[torch.bfloat16]
        assert rewards[torch.bfloat16] == pytest.approx(rewards[torch.float32], abs=BF16_RELATIVE_ATOL)


def test_arc_step_in_bfloat16(device):
    bundle = tiny_on(device, torch.bfloat16)
    before = weights_checksum(bundle.model)
    env = gym.make("SealARC-v0", model=bundle, engine="batched", ttt={"max_examples": 4, "max_new_tokens": 8},
                   lora={"rank": 4, "alpha": 8, "target_modules": ("q_proj", "v_proj")})
    env.reset(seed=0)
    recipe = ('{"data_generation": {"use_basic_augmentations": false, "use_size_augmentations": false, '
              '"use_chain_augmentations": false, "use_repeat_augmentations": false}, '
              '"training": {"strategy": "train_using_output_tokens", "learning_rate": 0.001, "num_train_epochs": 1}}')
    _, reward, terminated, _, info = env.step(recipe)
    assert terminated and reward in (0.0, 1.0) and info.get("error") is None, info["error"]
    assert weights_checksum(bundle.model) == before


@pytest.mark.parametrize("agent", ["rest-em", "grpo", "ppo"])
def test_agent_update_in_self_mode(device, agent):
    """One round of each agent: the policy adapter trains (float32 on a bfloat16 base), ReST-EM merges it, and
    the env's batched engine trains its adapters on top of it. The grader pays every other self-edit, so
    every group has reward variance and every agent takes a step."""
    from seal_gym.agents import AGENTS, LMPolicy, SamplingConfig, make_agent

    policy = LMPolicy(tiny_on(device, torch.bfloat16), SamplingConfig(temperature=1.0, max_new_tokens=16),
                      LoraSpec(rank=4, alpha=8.0, target_modules=("q_proj", "v_proj")))
    adapter = policy.adapter  # installed now, so that the snapshot holds its parameters too
    before = {n: p.detach().clone() for n, p in policy.bundle.model.named_parameters()}
    config = AGENTS[agent].config_class(prompts_per_round=2, samples_per_prompt=2, learning_rate=1e-2)
    agent = make_agent(agent, policy=policy, env="SealSquad-v0", config=config,
                       env_kwargs={"engine": "batched", "train": TrainSpec(epochs=1), "grader": AlternatingGrader()})
    history = agent.learn(1)
    assert history and PolicyAdapter.of(policy.bundle.model) is adapter
    assert all(p.dtype == torch.float32 and p.device.type == device for p in adapter.parameters())
    assert next(policy.bundle.model.parameters()).dtype == torch.bfloat16
    after = dict(policy.bundle.model.named_parameters())
    assert after.keys() == before.keys()
    assert any(not torch.equal(after[n], b) for n, b in before.items()), "the update moved no weight"


def test_constrained_arc_recipes_in_bfloat16(device):
    """The SealARC presets' writer: sampling restricted to the recipe grid through a token trie, and the
    restricted scores (the masks are built on the CPU) on the model's device."""
    from seal_gym.agents import LMPolicy, SamplingConfig
    from seal_gym.registration import choice_set

    policy = LMPolicy(tiny_on(device, torch.bfloat16), SamplingConfig(temperature=1.0, max_new_tokens=400,
                                                                      choices="arc-recipes"))
    sampled = policy.sample(["Write a recipe:"], 4)
    assert {c.text for c in sampled} <= set(choice_set("arc-recipes"))
    with torch.no_grad():
        scores = policy.score(sampled)
    assert scores.logprobs.device.type == device
    for completion, row, mask in zip(sampled, scores.logprobs, scores.mask):  # bf16: cached decoding vs one pass
        assert completion.logprobs == pytest.approx(row[mask].float().cpu().tolist(), abs=5e-2)


@pytest.mark.gpu
def test_ray_engine_actor_on_the_gpu():
    """A Ray actor that reserves the GPU runs its replica there, in the local model's dtype."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'seal-gym[ray]'")
    from seal_gym.adapt.ray_engine import RayEngine

    bundle = tiny_on("cuda", torch.bfloat16)
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        with RayEngine(bundle.model, bundle.tokenizer, num_workers=1) as engine:  # 1 GPU per actor by default
            assert engine.devices == [torch.cuda.get_device_name(0)]
            got = engine.adapt(REQUESTS[:3])
    finally:
        ray.shutdown()
    expected = BatchedEngine(bundle.model, bundle.tokenizer).adapt(REQUESTS[:3])
    for out, ref in zip(got, expected):
        assert out.answers == ref.answers
        assert out.losses == pytest.approx(ref.losses, rel=1e-3, abs=1e-4)
