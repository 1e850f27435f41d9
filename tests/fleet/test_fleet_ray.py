"""Must-show #2: the same 3 x 4 run on a local Ray cluster (started by lever with `ray.init`)
gives the same results and the same choice as the local executor.

Ray is in the dev dependency group, so this test runs wherever the suite runs (no skip)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lever.testing.fake_model import FakeModelServer
from lever.testing.ray_cluster import one_ray_at_a_time
from lever.testing.ray_cluster import ray_tmpdir as short_ray_tmpdir

from .conftest import fleet_branches, leftovers_under, model_flags, responder, run_id_of, run_lever
from .test_fleet_run import EXPECTED, PLANS, TASKS, expected_rows, table_rows

#: Each test waits for the other's cluster (below), on a loaded machine.
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(autouse=True)
def one_ray() -> Iterator[None]:
    with one_ray_at_a_time():
        yield


@pytest.fixture
def ray_tmpdir() -> Iterator[str]:
    with short_ray_tmpdir() as folder:
        yield folder


def test_the_ray_executor_gives_the_same_results(
    repo, env, lever_home, tmp_path, ray_tmpdir
) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(t) + "\n" for t in TASKS))
    env["RAY_TMPDIR"] = ray_tmpdir
    with FakeModelServer(responder=responder(PLANS)) as server:
        result = run_lever(
            "fleet", "run", "--tasks", str(tasks), "-k", "4", "--executor", "ray",
            "--concurrency", "2", "--max-turns", "3", *model_flags(server),
            env=env, cwd=repo, timeout=300,
        )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stdout, result.stderr
    assert table_rows(result.stdout) == expected_rows()
    run = run_id_of(result.stderr)
    results = json.loads((lever_home / "fleets" / run / "results.json").read_text())
    assert results["chosen"] == {"t1": 3, "t2": 1, "t3": None}
    assert len(results["attempts"]) == len(EXPECTED)
    manifest = json.loads((lever_home / "fleets" / run / "manifest.json").read_text())
    assert manifest["executor"] == "ray" and manifest["status"] == "finished"

    assert run_lever("fleet", "clean", run, env=env, cwd=repo).returncode == 0
    assert fleet_branches(repo) == []
    assert leftovers_under(lever_home) == []
    assert ray_processes(env["RAY_TMPDIR"]) == []


def ray_processes(tmpdir: str) -> list[str]:
    """Live processes of the Ray cluster lever started (their command lines name its tmpdir)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if tmpdir in cmdline:
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def test_the_repository_reaches_ray_workers_as_a_git_bundle(
    repo, env, lever_home, tmp_path, ray_tmpdir
) -> None:
    """`--ray-repo bundle` stands for workers on other machines: they never touch the shared
    repository (no branch or worktree is made in it), yet the results, the choice, the diffs
    and the rollouts come back to the driver's run folder and `apply` works from them."""
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(t) + "\n" for t in TASKS))
    env["RAY_TMPDIR"] = ray_tmpdir
    workers_tmp = tmp_path / "workers-tmp"  # where the workers unpack their copies
    workers_tmp.mkdir()
    env["TMPDIR"] = str(workers_tmp)
    with FakeModelServer(responder=responder(PLANS)) as server:
        result = run_lever(
            "fleet", "run", "--tasks", str(tasks), "-k", "4", "--executor", "ray",
            "--ray-repo", "bundle", "--concurrency", "2", "--max-turns", "3",
            *model_flags(server), env=env, cwd=repo, timeout=300,
        )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert table_rows(result.stdout) == expected_rows()
    folder = lever_home / "fleets" / run_id_of(result.stderr)
    results = json.loads((folder / "results.json").read_text())
    assert results["chosen"] == {"t1": 3, "t2": 1, "t3": None}
    for a in results["attempts"]:
        assert Path(a["diff"]).parent == folder / "attempts", a
        assert Path(a["rollout"]).parent == folder / "rollouts", a
        # A copy of the worker's rollout, whose session worked in the worker's unpacked copy.
        assert str(workers_tmp) in Path(a["rollout"]).read_text()
    # The attempts ran in the workers' own clones: nothing in the person's repository.
    assert fleet_branches(repo) == [] and not (folder / "worktrees").exists()
    assert list(workers_tmp.glob("lever-fleet-*")) == []  # each copy removed after its attempt
    applied = run_lever("fleet", "apply", folder.name, "--task", "t1", env=env, cwd=repo)
    assert applied.returncode == 0, applied.stderr
    assert (repo / "out" / "result.txt").read_text() == "good\n"
    assert ray_processes(env["RAY_TMPDIR"]) == []
