"""A training run's folder: settings, TensorBoard events, one record per self-edit, checkpoints, resume.

Layout of ``runs/{env}__{agent}__{seed}__{time}/``::

    config.json          every setting, package versions, git commit; ``resumes``: each resume's round and commit
    code.diff            only when the checkout was dirty: ``git diff HEAD`` at the start (the code on record)
    code-resume-K.diff   the same for the K-th resume, when it ran from a dirty checkout
    events.out.tfevents.*  TensorBoard: charts/ (rewards, accuracies), losses/, time/, eval/
    episodes.jsonl       one record per self-edit: round, prompt, self-edit, rewards, accuracies, kept
    checkpoints/latest   the name of the newest complete checkpoint (replaced atomically)
    checkpoints/round-NNNN/policy/  the policy's trainable state (safetensors)
    checkpoints/round-NNNN/agent.json, agent.safetensors  loop position, RNGs, optimizer (data only, no pickle)
    lock                 held by the process writing the run (see :mod:`seal_gym.agents.run_lock`)

A checkpoint is complete before ``latest`` points to it, and records of a round are dropped on resume when
their round has no checkpoint yet: after ``kill -9`` at any moment a resumed run loses no record, repeats
none, and (the seeds being restored) redoes the interrupted round exactly. TensorBoard's points after the
checkpoint are purged the same way, so every round keeps exactly one point per tag.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from seal_gym.agents.agent_state import has_agent_state, load_agent_state, save_agent_state
from seal_gym.agents.run_lock import RunLock
from seal_gym.agents.scalars import scalar_infos

if TYPE_CHECKING:
    from seal_gym.agents.base import Agent, RoundStats
    from seal_gym.agents.rollouts import Rollouts

CONFIG = "config.json"
EPISODES = "episodes.jsonl"
CODE_DIFF = "code.diff"


class RunLog:
    """Writes one run folder (see the module docstring). Made by :meth:`Agent.learn` / :meth:`Agent.resume`."""

    def __init__(self, run_dir: Path, agent: "Agent", purge_step: int | None = None, lock: RunLock | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        from seal_gym.runs import code_diff, hyperparameters_text, run_metadata

        self.run_dir = run_dir
        if purge_step is None and (run_dir / CONFIG).exists():
            raise FileExistsError(f"{run_dir} holds a run already; resume it (Agent.resume / --resume) or pick a new folder")
        self.lock = lock or RunLock(run_dir)
        self.lock.acquire()  # RunLockedError when another process writes the folder
        if purge_step is not None:
            _wait_for_a_later_second(run_dir)
        if not (run_dir / CONFIG).exists():
            settings = {"agent": agent.name, "env": agent.env_id, "config": dataclasses.asdict(agent.config),
                        "policy": describe(agent.policy), **agent.run_settings,
                        "metadata": run_metadata()}
            write_atomic(run_dir / CONFIG, json.dumps(settings, indent=2, default=str))
            if str(settings["metadata"]["git_commit"]).endswith("+dirty"):
                write_atomic(run_dir / CODE_DIFF, code_diff())
        elif purge_step is not None:  # resumed: the code that goes on need not be the code that started
            self._record_resume(agent.round, run_metadata(), code_diff)
        self.writer = SummaryWriter(str(run_dir), purge_step=purge_step)
        if purge_step is None:
            self.writer.add_text("hyperparameters", hyperparameters_text(dataclasses.asdict(agent.config)))

    @classmethod
    def reopen(cls, run_dir: Path, agent: "Agent") -> "RunLog":
        """Load the run's last checkpoint into ``agent`` and its policy, and drop records and TensorBoard points
        after it.

        Raises:
            RunLockedError: another live process writes the run.
            ValueError: the run is another agent's, or its checkpoint is not plain data (it could run code).
        """
        from seal_gym.agents.base import RoundStats

        settings = run_settings(run_dir)
        if settings.get("agent") != agent.name:
            raise ValueError(f"{run_dir} is a {settings.get('agent')!r} run; resume it with --agent {settings.get('agent')}")
        lock = RunLock(run_dir)
        lock.acquire()
        try:
            checkpoint = latest_checkpoint(run_dir)
            if checkpoint is not None:
                state = load_agent_state(checkpoint, allowed=[RoundStats])  # before the policy: refuse early
                agent.policy.load(checkpoint / "policy")
                agent.load_state_dict(state)
            keep_records_before(run_dir / EPISODES, agent.round)
            # The checkpoint's own round logged at global_step: purge only what came after it.
            return cls(run_dir, agent, purge_step=agent.global_step + 1, lock=lock)
        except BaseException:
            lock.release()
            raise

    def _record_resume(self, round_: int, metadata: dict[str, Any], diff: Callable[[], str]) -> None:
        """Append to ``config.json``'s ``resumes`` the round a resume goes on from, its commit, package versions and
        time; from a dirty checkout, its diff too (``code-resume-K.diff``, K counting the resumes from 1)."""
        settings = run_settings(self.run_dir)
        resumes = settings.get("resumes", [])
        entry = {"round": round_, **{k: metadata[k] for k in ("git_commit", "versions", "started")}}
        if str(entry["git_commit"]).endswith("+dirty"):
            entry["code_diff"] = f"code-resume-{len(resumes) + 1}.diff"
            write_atomic(self.run_dir / entry["code_diff"], diff())
        settings["resumes"] = [*resumes, entry]
        write_atomic(self.run_dir / CONFIG, json.dumps(settings, indent=2, default=str))

    def record_round(self, stats: "RoundStats", rollouts: "Rollouts", kept: list[bool] | None) -> None:
        """Append the round's episodes and write its scalars, grouped CleanRL-style."""
        self.lock.acquire()  # again after close(), when the same agent learns on
        G, n, r = rollouts.shape
        lines = []
        for k, completion in enumerate(rollouts.completions):
            infos = rollouts.infos[k]
            record = {"round": stats.round, "prompt": rollouts.prompt_keys[k // n], "sample": k % n,
                      "self_edit": completion.text, "rewards": rollouts.rewards[k // n, k % n].tolist(),
                      "reward": float(rollouts.rewards[k // n, k % n].mean()),
                      "kept": None if kept is None else bool(kept[k])}
            if infos:  # the env's plain step-info values (first inner seed), e.g. accuracies or an error
                record.update((k, v) for k, v in scalar_infos(infos[0]).items() if k not in record)
            lines.append(json.dumps(record, ensure_ascii=False, default=_plain))
        with open(self.run_dir / EPISODES, "a", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
        for tag, value in stats.scalars().items():  # one tag set for every agent (seal_gym.agents.scalars)
            self.writer.add_scalar(tag, value, stats.global_step)
        self.writer.flush()

    def checkpoint(self, agent: "Agent") -> None:
        """Save the policy and the loop's state; ``latest`` moves only once the checkpoint is whole."""
        root = self.run_dir / "checkpoints"
        target = root / f"round-{agent.round:04d}"
        staging = root / f".{target.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "policy").mkdir(parents=True)
        previous = latest_checkpoint(self.run_dir)
        if previous is not None:  # merged adapters never change: link them instead of writing them again
            for path in (previous / "policy").glob("merged_*.safetensors"):
                os.link(path, staging / "policy" / path.name)
        agent.policy.save(staging / "policy")
        save_agent_state(agent.state_dict(), staging)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
        write_atomic(root / "latest", target.name)
        for old in root.glob("round-*"):
            if old != target:
                shutil.rmtree(old, ignore_errors=True)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        """Flush and let other processes write the run (the same agent may learn on: it locks again)."""
        self.writer.flush()
        self.lock.release()


def run_settings(run_dir: str | Path) -> dict[str, Any]:
    """A run folder's ``config.json``.

    Raises:
        FileNotFoundError: the folder is not a run (no readable ``config.json``).
    """
    path = Path(run_dir) / CONFIG
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        raise FileNotFoundError(f"{run_dir} is not a run folder (no readable {CONFIG}); pass a folder that "
                                "seal-gym train made") from None


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint folder of a run, or ``None`` before the first update."""
    pointer = run_dir / "checkpoints" / "latest"
    if not pointer.exists():
        return None
    folder = run_dir / "checkpoints" / pointer.read_text().strip()
    if not has_agent_state(folder):
        raise FileNotFoundError(f"{pointer} names {folder.name}, which is missing or incomplete")
    return folder


def rounds_done(run_dir: str | Path) -> int:
    """Rounds a run has checkpointed (0 before its first), read from ``checkpoints/latest`` alone."""
    pointer = Path(run_dir) / "checkpoints" / "latest"
    if not pointer.exists():
        return 0
    try:
        return int(pointer.read_text().strip().removeprefix("round-"))
    except ValueError:
        raise FileNotFoundError(f"{pointer} does not name a checkpoint (round-NNNN)") from None


def _wait_for_a_later_second(run_dir: Path) -> None:
    """TensorBoard reads a folder's event files in name order, and a name starts with its creation second: a
    resumed run's file must not share a second with the run's last one, or a same-second name may sort first."""
    stamps = [int(p.name.split(".")[3]) for p in run_dir.glob("events.out.tfevents.*")
              if len(p.name.split(".")) > 3 and p.name.split(".")[3].isdigit()]
    while stamps and int(time.time()) <= max(stamps):
        time.sleep(0.05)


def keep_records_before(path: Path, round_index: int) -> None:
    """Rewrite ``episodes.jsonl`` without the records of rounds ``>= round_index`` (and any torn last line)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line)["round"] < round_index:
                kept.append(line + "\n")
        except (json.JSONDecodeError, KeyError, TypeError):
            continue  # a line cut by a kill mid-write
    write_atomic(path, "".join(kept))


def write_atomic(path: Path, text: str) -> None:
    """Write a whole file or nothing: a temporary file renamed over the target."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def describe(policy: Any) -> dict[str, Any]:
    """The policy's settings for ``config.json``."""
    out: dict[str, Any] = {"class": type(policy).__name__}
    bundle = getattr(policy, "bundle", None)
    if bundle is not None:
        out["model"] = bundle.name
    for key in ("sampling", "lora"):
        if dataclasses.is_dataclass(getattr(policy, key, None)):
            out[key] = dataclasses.asdict(getattr(policy, key))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
