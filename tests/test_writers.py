"""Published writers (issue 31, part 0): a trained policy kept as a hashed folder, loadable where a run folder
is, and a run's code on record (its commit, and its diff when the checkout was dirty)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from seal_gym.cli import main


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    assert main(["train", "--preset", "smoke", "--agent", "grpo", "--rounds", "1", "--seed", "1",
                 "--runs-dir", str(runs)]) == 0
    run = next(p for p in runs.iterdir() if p.is_dir())
    # A smoke GRPO run on the tiny model sees rewards of 0 and leaves LoRA B at zero and A at its seeded start,
    # which a fresh policy would reproduce without loading anything: give the checkpoint values no start has.
    from safetensors.torch import load_file, save_file

    path = run / "checkpoints" / "round-0001" / "policy" / "adapter.safetensors"
    generator = torch.Generator().manual_seed(7)
    save_file({k: torch.randn(v.shape, generator=generator) * 0.01 for k, v in load_file(str(path)).items()}, str(path))
    return run


def adapter_state(policy) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in policy.adapter.state_dict().items()}


@pytest.mark.parametrize("dtype,tolerance", [("float32", 0.0), ("float16", 1e-3)])
def test_a_published_writer_loads_as_its_run_does(smoke_run, tmp_path, dtype, tolerance):
    from seal_gym.agents import load_policy, publish_writer
    from seal_gym.agents.writers import verify_writer

    manifest = publish_writer(smoke_run, tmp_path / "writer", dtype=dtype)
    assert manifest["env"] == "SealSquad-v0" and manifest["agent"] == "grpo" and manifest["round"] == "round-0001"
    assert set(manifest["files"]) == {"policy.json", "adapter.safetensors"} and verify_writer(tmp_path / "writer") == []
    from_run = adapter_state(load_policy(smoke_run))
    for source in (tmp_path / "writer", tmp_path / "writer" / "adapter.safetensors"):
        published = adapter_state(load_policy(source))
        for name, value in from_run.items():
            assert torch.allclose(published[name], value, rtol=tolerance, atol=tolerance * value.abs().max()), name
        if tolerance == 0.0:
            assert all(torch.equal(published[k], from_run[k]) for k in from_run)


def test_a_changed_writer_file_fails_its_hash(smoke_run, tmp_path):
    from seal_gym.agents import publish_writer
    from seal_gym.agents.writers import verify_writer

    publish_writer(smoke_run, tmp_path / "writer")
    publish_writer(smoke_run, tmp_path / "writer")  # replaced whole, no staging folder left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["writer"]
    with open(tmp_path / "writer" / "adapter.safetensors", "r+b") as f:
        f.seek(-1, 2)
        f.write(b"\x01" if f.read(1) != b"\x01" else b"\x02")
    assert verify_writer(tmp_path / "writer") == ["adapter.safetensors"]


def test_synthesize_writes_with_a_published_writer(smoke_run, tmp_path, capsys):
    from seal_gym.agents import publish_writer

    publish_writer(smoke_run, tmp_path / "writer")
    docs = tmp_path / "docs.json"
    docs.write_text(json.dumps([{"title": "Ada", "context": "Ada Lovelace wrote the first program in 1843."}]))
    out = tmp_path / "edits.json"
    assert main(["synthesize", str(docs), "--out", str(out), "--n", "1", "--model", "tiny-random",
                 "--max-self-edit-tokens", "8", "--policy", str(tmp_path / "writer")]) == 0
    assert len(json.loads(out.read_text())) == 1
    assert main(["eval", "arc", "--model", "tiny-random", "--tasks", "1", "--policy", str(tmp_path / "writer"),
                 "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "its policy was trained on SealSquad-v0, and eval arc evaluates SealARC-v0" in capsys.readouterr().err


def test_code_diff_is_the_checkouts_uncommitted_change(tmp_path):
    from seal_gym.runs import code_diff, git_commit

    git = ["git", "-C", str(tmp_path), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "a.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    assert code_diff(tmp_path) == "" and not git_commit(tmp_path).endswith("+dirty")
    (tmp_path / "a.py").write_text("x = 2\n")
    assert git_commit(tmp_path).endswith("+dirty") and "-x = 1\n+x = 2" in code_diff(tmp_path)


def test_a_run_from_a_dirty_checkout_keeps_its_diff(tmp_path, monkeypatch):
    import seal_gym.runs as runs

    monkeypatch.setattr(runs, "git_commit", lambda root=None: "0123abc+dirty")
    monkeypatch.setattr(runs, "code_diff", lambda root=None: "--- a/x\n+++ b/x\n")
    assert main(["train", "--preset", "smoke", "--rounds", "1", "--runs-dir", str(tmp_path)]) == 0
    run = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert (run / "code.diff").read_text() == "--- a/x\n+++ b/x\n"
    assert json.loads((run / "config.json").read_text())["metadata"]["git_commit"] == "0123abc+dirty"

    # A resume from other code records it: the round it goes on from, its commit and, dirty, its own diff.
    monkeypatch.setattr(runs, "git_commit", lambda root=None: "4567def")
    assert main(["train", "--resume", str(run), "--rounds", "2"]) == 0
    monkeypatch.setattr(runs, "git_commit", lambda root=None: "89abcde+dirty")
    monkeypatch.setattr(runs, "code_diff", lambda root=None: "--- a/y\n+++ b/y\n")
    assert main(["train", "--resume", str(run), "--rounds", "3"]) == 0
    settings = json.loads((run / "config.json").read_text())
    assert [(r["round"], r["git_commit"], r.get("code_diff")) for r in settings["resumes"]] == \
        [(1, "4567def", None), (2, "89abcde+dirty", "code-resume-2.diff")]
    assert settings["metadata"]["git_commit"] == "0123abc+dirty" and settings["command"]["rounds"] == 3
    assert (run / "code-resume-2.diff").read_text() == "--- a/y\n+++ b/y\n"
    assert not (run / "code-resume-1.diff").exists() and (run / "code.diff").read_text() == "--- a/x\n+++ b/x\n"


def _git_repo(path: Path) -> list[str]:
    path.mkdir()
    git = ["git", "-C", str(path), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    return git


def test_a_writer_kept_in_git_loads_without_its_tensors_in_the_checkout(smoke_run, tmp_path, monkeypatch, capsys):
    from seal_gym.agents import load_policy, publish_writer
    from seal_gym.agents.writer_store import file_sources

    monkeypatch.setenv("SEAL_GYM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEAL_GYM_WRITER_STORE", raising=False)
    git = _git_repo(tmp_path / "repo")
    writer = tmp_path / "repo" / "writers" / "w"
    manifest = publish_writer(smoke_run, writer)
    adapter = writer / "adapter.safetensors"
    hashed = subprocess.run([*git, "hash-object", str(adapter)], check=True, capture_output=True, text=True)
    assert manifest["git_blobs"]["adapter.safetensors"] == hashed.stdout.strip()  # git's id, computed without git
    assert manifest["bytes"]["adapter.safetensors"] == adapter.stat().st_size
    published = adapter_state(load_policy(writer))

    assert main(["writers", str(writer), "--keep-in-git"]) == 0
    ref = f"refs/writers/{manifest['files']['adapter.safetensors']}"
    assert f"kept as {ref}" in capsys.readouterr().out
    assert subprocess.run([*git, "cat-file", "-t", ref], capture_output=True, text=True).stdout.strip() == "blob"
    adapter.unlink()
    assert file_sources(writer) == {"adapter.safetensors": "git", "policy.json": "here"}
    fetched = adapter_state(load_policy(writer))  # completed in the cache from the blob, hash checked
    assert all(torch.equal(fetched[k], published[k]) for k in published)
    assert not adapter.exists() and len(list((tmp_path / "cache" / "writers").iterdir())) == 1

    # A clone does not fetch refs/writers: the writer's tensors are nowhere, and loading says how to get them.
    subprocess.run([*git, "add", "writers/w/writer.json", "writers/w/policy.json"], check=True)
    subprocess.run([*git, "commit", "-qm", "w"], check=True)
    subprocess.run(["git", "clone", "-q", "--no-local", str(tmp_path / "repo"), str(tmp_path / "clone")], check=True)
    cloned = tmp_path / "clone" / "writers" / "w"
    monkeypatch.setenv("SEAL_GYM_CACHE", str(tmp_path / "fresh-cache"))  # (the first cache holds it: same writer.json)
    assert file_sources(cloned)["adapter.safetensors"] == "missing"
    with pytest.raises(FileNotFoundError, match=r"adapter\.safetensors \(0\.\d MB, sha256 .*git fetch origin 'refs/writers"):
        load_policy(cloned)
    assert main(["writers", str(cloned)]) == 1
    docs = tmp_path / "docs.json"
    docs.write_text(json.dumps([{"title": "Ada", "context": "Ada Lovelace wrote the first program in 1843."}]))
    assert main(["synthesize", str(docs), "--out", str(tmp_path / "o.json"), "--model", "tiny-random",
                 "--policy", str(cloned)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("seal-gym synthesize: error: ") and "refs/writers" in err and err.count("\n") == 1
    subprocess.run(["git", "-C", str(tmp_path / "clone"), "fetch", "-q", "origin", "refs/writers/*:refs/writers/*"],
                   check=True)
    assert file_sources(cloned)["adapter.safetensors"] == "git"
    assert main(["writers", str(cloned), "--restore"]) == 0
    assert (cloned / "adapter.safetensors").read_bytes() == (tmp_path / "cache" / "writers").joinpath(
        next(p.name for p in (tmp_path / "cache" / "writers").iterdir()), "adapter.safetensors").read_bytes()
    assert file_sources(cloned) == {"adapter.safetensors": "here", "policy.json": "here"}


def test_keeping_in_git_records_the_sizes_and_blob_ids_an_older_writer_json_lacks(smoke_run, tmp_path, capsys):
    """A writer published by older code lists sha256s only; a clone could not find its tensors in git."""
    from seal_gym.agents import publish_writer

    _git_repo(tmp_path / "repo")
    writer = tmp_path / "repo" / "w"
    manifest = publish_writer(smoke_run, writer)
    old = {k: v for k, v in manifest.items() if k not in ("bytes", "git_blobs")}
    (writer / "writer.json").write_text(json.dumps(old))
    assert main(["writers", str(writer), "--keep-in-git"]) == 0
    assert json.loads((writer / "writer.json").read_text()) == manifest
    assert not [p.name for p in writer.iterdir() if p.name.startswith(".")]  # no scratch file left

    (writer / "writer.json").write_text(json.dumps(old))
    (writer / "adapter.safetensors").write_bytes(b"not the adapter")
    assert main(["writers", str(writer), "--keep-in-git"]) == 2
    assert "adapter.safetensors differ from their sha256" in capsys.readouterr().err
    assert json.loads((writer / "writer.json").read_text()) == old


def test_a_writer_in_a_store_folder_loads_and_a_wrong_file_there_is_refused(smoke_run, tmp_path, monkeypatch, capsys):
    from seal_gym.agents import load_policy, publish_writer
    from seal_gym.agents.writer_store import file_sources

    monkeypatch.setenv("SEAL_GYM_CACHE", str(tmp_path / "cache"))
    writer, store = tmp_path / "w", tmp_path / "store"
    manifest = publish_writer(smoke_run, writer)
    published = adapter_state(load_policy(writer))
    assert main(["writers", str(writer), "--copy-to", str(store)]) == 0
    assert "2 file(s) copied" in capsys.readouterr().out
    assert sorted(p.name for p in store.iterdir()) == sorted(manifest["files"].values())
    (writer / "adapter.safetensors").unlink()
    monkeypatch.setenv("SEAL_GYM_WRITER_STORE", f"{tmp_path / 'elsewhere'}:{store}")
    assert file_sources(writer)["adapter.safetensors"] == f"store {store}"
    fetched = adapter_state(load_policy(writer))
    assert all(torch.equal(fetched[k], published[k]) for k in published)

    digest = manifest["files"]["adapter.safetensors"]
    (store / digest).write_bytes(b"not the adapter")
    monkeypatch.setenv("SEAL_GYM_CACHE", str(tmp_path / "cache2"))
    with pytest.raises(FileNotFoundError, match="does not match its sha256"):
        load_policy(writer)
    assert not list((tmp_path / "cache2" / "writers").iterdir())  # no half-made writer left in the cache


def test_writers_command_refuses_a_folder_that_is_not_a_writer(tmp_path, capsys):
    assert main(["writers", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"seal-gym writers: error: {tmp_path} is not a published writer (no writer.json in it)\n"


def test_the_repositorys_writers_keep_their_tensors_off_the_branch():
    """Every published writer of the studies lists each file's sha256, size and git blob id (how a clone finds it),
    and no tensor file, nor any other file over 2 MB, is on the branch (docs/agents.md#published-writers)."""
    root = Path(__file__).resolve().parents[1]
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    tracked = [name for name in listed.stdout.split("\0") if name and (root / name).is_file()]
    assert [n for n in tracked if n.endswith(".safetensors") or (root / n).stat().st_size > 2_000_000] == []
    manifests = [root / n for n in tracked if n.startswith("studies/") and n.endswith("/writer.json")]
    assert manifests  # the studies have published writers
    for path in manifests:
        record = json.loads(path.read_text())
        assert set(record["files"]) == set(record["bytes"]) == set(record["git_blobs"]), path
