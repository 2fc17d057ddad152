"""The default engine: picks the faster engine per call from the device and the number of requests."""

from __future__ import annotations

from typing import Sequence

import torch

from seal_gym.adapt.batched import BatchedEngine
from seal_gym.adapt.progress import ProgressCallback
from seal_gym.adapt.sequential import SequentialEngine
from seal_gym.adapt.types import AdaptOutcome, AdaptRequest, Query


class AutoEngine:
    """Batched on CUDA; on CPU, sequential for a single request and batched for several.

    Why per call: on a 2-core CPU, training is compute-bound, so stacking one adapter only adds routing
    overhead (a step of the embedded model measured ~8 % slower batched than with peft, K = 1), while
    several requests gain from sharing each forward pass and from batched answering
    (``benchmarks/RESULTS.md``). Both engines give the same results, so the choice changes only speed.

    Args:
        model, tokenizer: as for the engines; ``kwargs`` go to :class:`BatchedEngine`.
        progress: given to both engines (see :mod:`seal_gym.adapt.progress`).
        batch_on_cpu: batch several requests on a CPU. A domain whose sequences already keep the cores busy
            with one adapter (SealARC's test-time training) passes ``False``: there batching gains nothing.
    """

    def __init__(self, model: torch.nn.Module, tokenizer, progress: ProgressCallback | None = None,
                 batch_on_cpu: bool = True, **kwargs) -> None:
        self.sequential = SequentialEngine(model, tokenizer, progress=progress)
        self.batched = BatchedEngine(model, tokenizer, progress=progress, **kwargs)
        self.on_cuda = next(model.parameters()).device.type == "cuda"
        self.batch_on_cpu = batch_on_cpu

    def engine_for(self, num_requests: int) -> SequentialEngine | BatchedEngine:
        return self.batched if self.on_cuda or (self.batch_on_cpu and num_requests > 1) else self.sequential

    def adapt(self, requests: Sequence[AdaptRequest]) -> list[AdaptOutcome]:
        return self.engine_for(len(requests)).adapt(requests)

    def answer(self, queries: Sequence[Query]) -> list[str]:
        return self.batched.answer(queries)
