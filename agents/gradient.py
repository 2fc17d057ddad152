"""One optimizer step of a policy update, shared by every agent's ``update`` (ReST-EM's M-step, GRPO, PPO)."""

from __future__ import annotations

from typing import Callable

import torch

from seal_gym.agents.protocols import Completion, TokenScores, TrainablePolicy


LossFn = Callable[[TokenScores, slice], torch.Tensor]
"""The loss of one minibatch's scores; the slice locates the minibatch in the batch (for per-row targets)."""


def gradient_step(policy: TrainablePolicy, optimizer: torch.optim.Optimizer, completions: list[Completion],
                  loss_fn: LossFn, minibatch_size: int, max_grad_norm: float,
                  extra_parameters: list[torch.nn.Parameter] = ()) -> dict[str, float]:
    """One optimizer step on ``completions``, scored in minibatches whose gradients accumulate.

    ``loss_fn`` must return the minibatch's share of the batch loss (e.g. a sum over its tokens divided by
    the batch's token count), so the accumulated gradient equals the full batch's. ``extra_parameters``
    (e.g. a value head) are clipped on their own: clipped together, a value loss's large early gradients
    shrink the policy's step to nothing (seen with PPO on the embedded model; numbers in benchmarks/RESULTS.md).
    """
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for start in range(0, len(completions), minibatch_size):
        part = slice(start, min(start + minibatch_size, len(completions)))
        loss = loss_fn(policy.score(completions[part]), part)
        loss.backward()
        total += float(loss.detach())
    norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
    if extra_parameters:
        torch.nn.utils.clip_grad_norm_(extra_parameters, max_grad_norm)
    optimizer.step()
    policy.updated()  # bumps the weights version that the inner loop's caches key on
    return {"loss": total, "grad_norm": float(norm)}
