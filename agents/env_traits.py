"""What an env declares that agents read, so that any env works by id or by object without guessing.

- ``metadata["model_kwarg"]`` (a class attribute of the env): the keyword argument that takes the language
  model the env's inner loop adapts. In self mode (SEAL's) an agent passes its policy's own model there; an
  env that declares none is given no model.
- A vector entry point whose constructor takes ``group_size``: sub-envs in groups that share a task, so
  that one ``step`` scores a whole round. Without one, agents step a single env, one self-edit per episode.
- ``metadata["engine_kwarg"]``: the keyword argument that takes the inner-loop engine (a name or an
  engine object). When the env shares the policy's model, the agent makes that engine itself, with a
  progress callback, so that a round can say how many inner loops are done (:func:`engine_reporting_to`).
- ``Text`` observation and action spaces: what an agent that writes text needs.

A user's env declares the first two as seal_gym's envs do::

    class MyEnv(gym.Env[str, str]):
        metadata = {"render_modes": [], "model_kwarg": "model"}  # optional: share the policy's model
"""

from __future__ import annotations

import inspect
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import EnvSpec, load_env_creator
from gymnasium.spaces import Text

MODEL_KWARG = "model_kwarg"
"""The ``metadata`` key that names an env's model keyword argument."""
ENGINE_KWARG = "engine_kwarg"
"""The ``metadata`` key that names an env's inner-loop engine keyword argument."""


def env_spec(env_id: str) -> EnvSpec:
    """The registered spec of ``env_id``.

    Raises:
        ValueError: ``env_id`` is not registered.
    """
    try:
        return gym.spec(env_id)
    except gym.error.Error as err:
        raise ValueError(f"unknown env {env_id!r} ({err}); register it with gym.register, or import the module "
                         "that does, before making an agent") from None


def _creator(entry_point: Any) -> Any:
    return load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point


def env_id_of(env: Any) -> str:
    """A readable name of an env argument (its id when it has one)."""
    if isinstance(env, str):
        return env
    spec = getattr(env, "spec", None)
    return getattr(spec, "id", None) or type(getattr(env, "unwrapped", env)).__name__


def model_keyword(env: Any) -> str | None:
    """The keyword through which the env ``env`` (an id) takes the model its inner loop adapts, or ``None``
    (an env object, which has its model already, or an env that declares none).

    >>> import seal_gym; model_keyword("SealSquad-v0"), model_keyword("CartPole-v1")
    ('model', None)
    """
    return _declared(env, MODEL_KWARG)


def _declared(env: Any, key: str) -> str | None:
    """``metadata[key]`` of the env class registered as ``env`` (an id); ``None`` for an object or no such key."""
    if not isinstance(env, str):
        return None
    metadata = getattr(_creator(env_spec(env).entry_point), "metadata", None)
    return metadata.get(key) if isinstance(metadata, dict) else None


def engine_reporting_to(env: Any, env_kwargs: dict[str, Any] | None, progress: Any) -> dict[str, Any] | None:
    """``env_kwargs`` with the env's engine made here, reporting to ``progress``, where that can be done: ``env``
    is an id that declares a model and an engine keyword, ``env_kwargs`` give it a loaded model bundle (the
    policy's, in self mode) and name the engine (or leave the default, ``"auto"``). Otherwise they are returned
    as they are (an engine object stays the caller's, and a model the env loads itself has no engine yet).
    """
    model_kwarg, engine_kwarg = _declared(env, MODEL_KWARG), _declared(env, ENGINE_KWARG)
    bundle = (env_kwargs or {}).get(model_kwarg) if model_kwarg else None
    engine = (env_kwargs or {}).get(engine_kwarg, "auto") if engine_kwarg else None
    if not isinstance(engine, str) or not hasattr(bundle, "model") or not hasattr(bundle, "tokenizer"):
        return env_kwargs
    from seal_gym.adapt import make_engine  # torch and peft: only when an engine is made

    return {**env_kwargs, engine_kwarg: make_engine(bundle.model, bundle.tokenizer, engine, progress=progress)}


def groups_by_task(env_id: str) -> bool:
    """Whether the env's vector entry point takes ``group_size`` (sub-envs in groups that share a task).

    >>> import seal_gym; groups_by_task("SealSquad-v0"), groups_by_task("CartPole-v1")
    (True, False)
    """
    entry_point = env_spec(env_id).vector_entry_point
    if entry_point is None:
        return False
    try:
        return "group_size" in inspect.signature(_creator(entry_point)).parameters
    except (TypeError, ValueError):  # a builtin or otherwise unreadable signature declares nothing
        return False


def make_env(env_id: str, num_envs: int, group_size: int, kwargs: dict[str, Any]) -> gym.Env | gym.vector.VectorEnv:
    """``num_envs`` sub-envs in groups of ``group_size`` when the env groups by task, else one env.

    Raises:
        ValueError: an unknown id, or arguments the env does not take.
    """
    grouped = groups_by_task(env_id)
    try:
        if grouped:
            return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point",
                                group_size=group_size, **kwargs)
        return gym.make(env_id, **kwargs)
    except TypeError as err:  # e.g. an argument the env's constructor does not take
        raise ValueError(f"{env_id} cannot be made with arguments {sorted(kwargs)}: {err}") from err


def text_problem(env: Any, name: str) -> str | None:
    """Why an agent that writes text cannot use ``env`` (one line), or ``None`` if its spaces are text."""
    vector = isinstance(env, gym.vector.VectorEnv)
    observation = env.single_observation_space if vector else env.observation_space
    action = env.single_action_space if vector else env.action_space
    wrong = [f"{what} {_short(space)}" for what, space in (("observations", observation), ("actions", action))
             if not isinstance(space, Text)]
    if not wrong:
        return None
    return (f"{name} has {' and '.join(wrong)}: an agent that writes text needs Text observations and actions "
            "(gymnasium.spaces.Text)")


def _short(space: Any) -> str:
    """A space in a few words: its repr, or its class and shape when the repr is long (a Box's bounds)."""
    text = repr(space)
    return text if len(text) <= 40 else f"{type(space).__name__}{getattr(space, 'shape', '')}"
