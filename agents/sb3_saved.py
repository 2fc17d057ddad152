"""An sb3-ppo run's saved policy, loaded to act again (evaluation), without unpickling anything.

SB3's zip keeps some settings cloudpickled, and unpickling runs code; :func:`load_sb3_policy` reads only the
plain JSON (the spaces' shapes) and the network's weights (``torch.load(weights_only=True)``), and builds SB3's
actor-critic network from them, so a policy file from anywhere can be evaluated safely.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seal_gym.agents.runlog import latest_checkpoint

POLICY_FILE = "sb3_ppo.zip"
"""The file name :class:`~seal_gym.agents.sb3_ppo.SB3Policy` saves a checkpoint's policy under."""


def sb3_policy_file(path: str | Path) -> Path | None:
    """The SB3 policy file ``path`` names: a ``.zip`` file itself, a folder holding :data:`POLICY_FILE` (a
    checkpoint's ``policy/``), or a run folder whose newest checkpoint holds one; ``None`` for anything else (a
    text writer's run, a missing path).

    Raises:
        FileNotFoundError: a run folder whose ``checkpoints/latest`` names a missing checkpoint.
    """
    path = Path(path)
    if path.is_file():
        return path if path.suffix == ".zip" else None
    if (path / POLICY_FILE).is_file():
        return path / POLICY_FILE
    checkpoint = latest_checkpoint(path) if (path / "config.json").is_file() else None
    if checkpoint is not None and (checkpoint / "policy" / POLICY_FILE).is_file():
        return checkpoint / "policy" / POLICY_FILE
    return None


@dataclass
class SavedSB3Policy:
    """SB3 PPO's trained network: the action it picks for an observation (the distribution's mode)."""

    network: Any
    """SB3's ``ActorCriticPolicy`` with the saved weights, in eval mode."""
    action_nvec: tuple[int, ...]
    """The choices of each entry of the ``MultiDiscrete`` action it was trained on."""
    observation_shape: tuple[int, ...]

    def act(self, observation: np.ndarray) -> np.ndarray:
        """The deterministic action for one observation."""
        action, _ = self.network.predict(np.asarray(observation, dtype=np.float32), deterministic=True)
        return np.asarray(action, dtype=np.int64)


def _vector(value: str | list) -> np.ndarray:
    """A 1-D array from a JSON list or numpy's printed form (``'[2 2 5]'``, ``'[0. 1.]'``), as SB3's JSON shows
    spaces."""
    return np.array(value if isinstance(value, list) else value.strip("[]").split(), dtype=np.float64)


def load_sb3_policy(path: str | Path) -> SavedSB3Policy:
    """The policy of an SB3 PPO zip whose observation is a ``Box`` and whose action is a ``MultiDiscrete``
    (what ``sb3-ppo`` trains).

    Raises:
        ValueError: not such a zip (says what is missing or different).
    """
    import gymnasium as gym
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.common.save_util import load_from_zip_file

    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
        observation, action = data["observation_space"], data["action_space"]
        if "MultiDiscrete" not in action[":type:"] or "Box" not in observation[":type:"]:
            raise ValueError(f"its spaces are {observation[':type:']} -> {action[':type:']}, not Box -> MultiDiscrete")
        shape = tuple(int(n) for n in _vector(observation["_shape"]))
        nvec = tuple(int(n) for n in _vector(action["nvec"]))
        low, high = _vector(observation["low"]), _vector(observation["high"])
    except (OSError, zipfile.BadZipFile, KeyError, TypeError, ValueError) as err:  # ValueError: bad JSON too
        raise ValueError(f"{path} is not a policy file of sb3-ppo ({type(err).__name__}: {err})") from None
    kwargs = data.get("policy_kwargs") or {}
    if ":serialized:" in json.dumps(kwargs):  # e.g. a custom activation class: only pickle could restore it
        raise ValueError(f"{path}: its policy_kwargs hold pickled objects; only plain settings can be loaded safely")
    low, high = (bound.reshape(shape).astype(np.float32) for bound in (low, high))
    box = gym.spaces.Box(low, high, shape, np.float32)
    network = ActorCriticPolicy(box,
                                gym.spaces.MultiDiscrete(nvec), lambda _: 0.0, **kwargs)
    _, params, _ = load_from_zip_file(path, load_data=False, device="cpu")
    try:
        network.load_state_dict(params["policy"])
    except (KeyError, RuntimeError) as err:
        raise ValueError(f"{path}: its weights do not fit SB3's MLP actor-critic "
                         f"({str(err).splitlines()[0]})") from None
    network.set_training_mode(False)
    return SavedSB3Policy(network, nvec, shape)
