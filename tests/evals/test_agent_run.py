"""Must-show 3: `lever eval run` with a model. lever's fake model server, scripted per attempt,
succeeds on a known subset of attempts; the report has exactly the expected c per task and the
expected pass@k / pass^k. Each attempt is a fleet attempt (lever's session, opened as `lever
exec` opens it, in a real sandbox, in a git worktree of the task) on the local executor and on a
local Ray cluster; the grade is the task's real hidden test."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from fractions import Fraction
from math import comb
from pathlib import Path
from typing import Any

import pytest

from lever.cli.main import main
from lever.evals.metrics import wilson_interval
from lever.evals.tasks import load_suite
from lever.evals.workspace import apply_patch, make_workspace
from lever.testing.fake_model import FakeModelServer
from lever.testing.ray_cluster import one_ray_at_a_time, ray_tmpdir
from lever.tools.apply_patch import make_patch

from ..fleet.test_fleet_ray import ray_processes
from .conftest import run_lever

pytestmark = [pytest.mark.timeout(600), pytest.mark.xdist_group("lever-mini")]

#: task id -> (a phrase of its instruction, the file its fix changes)
TASKS = {
    "parse-bool-env": ("envflags.parse_bool", "envflags/__init__.py"),
    "deep-merge": ("confmerge.deep_merge", "confmerge/__init__.py"),
    "temperature-convert": ("units.temperature.convert", "units/temperature.py"),
}
#: What the model does in each task's attempts, in the order the attempts start.
PLAN = {
    "parse-bool-env": ["fix", "fix", "fix"],
    "deep-merge": ["give-up", "fix", "auth-error"],
    "temperature-convert": ["give-up", "give-up", "give-up"],
}
K = 3


def fix_patches(tmp_path: Path) -> dict[str, str]:
    """Each task's reference fix as an apply_patch call's input (the model's edit)."""
    patches = {}
    for task in load_suite("lever-mini"):
        if task.id not in TASKS:
            continue
        path = TASKS[task.id][1]
        work = make_workspace(task, tmp_path)
        before = (work / path).read_text()
        assert task.solution is not None
        apply_patch(work, task.solution)
        patches[task.id] = make_patch(path, before, (work / path).read_text())
    return patches


class PerAttemptModel:
    """A responder: the first request of an attempt (no tool output yet) picks the next move of
    that task's plan; a later request (after the edit) gets the final answer."""

    def __init__(self, patches: dict[str, str]) -> None:
        self.patches = patches
        self.started = {task_id: 0 for task_id in TASKS}
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        text = json.dumps(body)
        task_id = next(t for t, (phrase, _) in TASKS.items() if phrase in text)
        if "function_call_output" in text:
            return {"text": "Fixed it; the behaviour now matches the description."}
        with self.lock:
            move = PLAN[task_id][self.started[task_id]]
            self.started[task_id] += 1
        if move == "fix":
            arguments = {"input": self.patches[task_id]}
            return {"tool_calls": [{"name": "apply_patch", "arguments": arguments}]}
        if move == "auth-error":
            return {"error": {"status": 401, "message": "invalid api key"}}
        return {"text": "I could not find the problem."}


def expected(metric: str, k: int) -> float:
    values = []
    for moves in PLAN.values():
        n, c = len(moves), moves.count("fix")
        if metric == "pass@k":
            values.append(1 - Fraction(comb(n - c, k), comb(n, k)))
        else:
            values.append(Fraction(comb(c, k), comb(n, k)))
    return float(sum(values) / len(values))


def eval_args(server: FakeModelServer, executor: str, tmp_path: Path) -> list[str]:
    args = ["eval", "run", "lever-mini", "-k", str(K), "--concurrency", "2"]
    args += ["--executor", executor, "--price", "1/2"]
    args += [arg for task_id in TASKS for arg in ("--task", task_id)]
    args += ["--provider", "openai-responses", "--base-url", server.root_url + "/v1"]
    args += ["--model", "fake-model", "-o", str(tmp_path / "run.json")]
    return [*args, "--html", str(tmp_path / "r.html")]


def test_scripted_model_gives_the_expected_counts_and_metrics(tmp_path: Path, eval_env) -> None:
    """The local executor, through the `lever` command."""
    model = PerAttemptModel(fix_patches(tmp_path))
    with FakeModelServer(responder=model) as server:
        result = run_lever(*eval_args(server, "local", tmp_path), env=eval_env, timeout=500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    check_run(tmp_path, model, "local")
    cost = json.loads((tmp_path / "run.json").read_text())["summary"]["cost_usd"]
    shown = " ".join(result.stdout.split())
    assert f"cost ${cost:.4f}" in shown
    summary = json.loads((tmp_path / "run.json").read_text())["summary"]
    low, high = wilson_interval(summary["passed"], summary["attempts"])
    wilson = f"{summary['passed']}/{summary['attempts']} [{100 * low:.1f}%, {100 * high:.1f}%]"
    assert f"over attempts {wilson} (Wilson)" in shown


def start_ray(tmpdir: str) -> Any:
    """`ray.init(num_cpus=2)`, up to three times: Ray gives its raylet a fixed 30 s to
    register, which a machine busy with other test workers can exceed."""
    import ray

    for tries_left in (2, 1, 0):
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=tmpdir)
            return ray
        except Exception:
            ray.shutdown()
            if not tries_left:
                raise
    return ray


def test_the_same_run_on_a_local_ray_cluster(tmp_path: Path, eval_env, monkeypatch) -> None:
    """The ray executor: in this process (so the test starts Ray itself, as a person with a
    cluster would have), every attempt a Ray task; the same counts and metrics."""
    for name, value in eval_env.items():
        monkeypatch.setenv(name, value)
    for name in set(os.environ) - set(eval_env):
        monkeypatch.delenv(name)
    # Ray would package this folder for its workers under `uv run`; they need nothing of it.
    monkeypatch.setenv("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    model = PerAttemptModel(fix_patches(tmp_path))
    with one_ray_at_a_time(), ray_tmpdir() as tmpdir:
        ray = start_ray(tmpdir)
        try:
            with FakeModelServer(responder=model) as server:
                assert main([*eval_args(server, "ray", tmp_path), "-q"]) == 0
        finally:
            ray.shutdown()
        check_run(tmp_path, model, "ray")
        deadline = time.monotonic() + 20  # Ray's processes take a moment to exit when busy
        while ray_processes(tmpdir) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert ray_processes(tmpdir) == []


def check_run(tmp_path: Path, model: PerAttemptModel, executor: str) -> None:
    report_path = tmp_path / "run.json"
    report = json.loads(report_path.read_text())

    assert model.started == {task_id: K for task_id in TASKS}  # every attempt asked once
    counts = {t["id"]: (t["n"], t["c"]) for t in report["tasks"]}
    assert counts == {t: (K, moves.count("fix")) for t, moves in PLAN.items()}
    summary = report["summary"]
    for k in range(1, K + 1):
        assert summary["pass_at_k"][k - 1]["value"] == pytest.approx(expected("pass@k", k))
        assert summary["pass_hat_k"][k - 1]["value"] == pytest.approx(expected("pass^k", k))
    assert summary["pass_at_k"][0]["value"] == pytest.approx(4 / 9)
    assert summary["pass_hat_k"][2]["value"] == pytest.approx(1 / 3)
    failures = {name: n for name, n in summary["failures"].items() if n}
    assert failures == {"grade_failed": 4, "model_api_error": 1}

    attempts = report["attempts"]
    auth = [a for a in attempts if a["outcome"] == "model_api_error"]
    assert len(auth) == 1 and auth[0]["task_id"] == "deep-merge" and auth[0]["agent_exit"] == 5
    fixed = [a for a in attempts if a["passed"]]
    assert all(a["agent_exit"] == 0 and a["turns"] == 2 for a in fixed)
    assert all(a["input_tokens"] > 0 for a in fixed)
    assert report["mode"] == "agent" and report["model"] == "fake-model" and report["k"] == K
    assert report["agent"] == "lever" and report["executor"] == executor
    for a in attempts:  # $1 per million input tokens, $2 per million output tokens
        assert a["cost_usd"] == pytest.approx((a["input_tokens"] + 2 * a["output_tokens"]) / 1e6)
    assert summary["cost_usd"] == pytest.approx(sum(a["cost_usd"] for a in attempts))

    page = (tmp_path / "r.html").read_text()
    # pass@k and pass^k at k = 1..K, and one dot per task in the cost-and-success plot
    assert page.count("<circle") == 2 * K + len(TASKS)
    assert "$ per attempt" in page
    assert page.count("<rect") == K * len(TASKS)  # the heat map: one cell per attempt
    assert re.search(r"deep-merge #\d: model_api_error", page)
