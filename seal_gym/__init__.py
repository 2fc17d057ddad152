"""seal_gym: SEAL (Self-Adapting Language Models) as Gymnasium environments.

Importing the package registers ``SealSquad-v0``, ``SealARC-v0`` and ``SealARCStructured-v0`` with
Gymnasium (lazy entry points: nothing heavy is imported until ``gym.make``).
"""

from seal_gym.registration import register_envs

__version__ = "0.1.0"

register_envs()
