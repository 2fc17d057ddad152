"""SEAL rewards as a service: concurrent requests batched into few inner-loop engine calls.

:class:`RewardService` (asyncio, in process), :class:`ServiceThread` (the same for threads), and
:func:`seal_gym.serve.http.make_app` (the service over HTTP, ``seal-gym serve``). docs/serve.md has the knobs.
"""

from seal_gym.serve.service import RewardResult, RewardService, ServiceConfig
from seal_gym.serve.threaded import ServiceThread

__all__ = ["RewardResult", "RewardService", "ServiceConfig", "ServiceThread"]
