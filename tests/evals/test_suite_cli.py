"""Must-show 2: `lever eval run lever-mini --oracle` passes every task, `--empty` fails every
task; driven through the installed `lever` command, as CI and users run it. Also the report,
HTML and compare commands on those two real runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lever.evals.tasks import load_suite

from .conftest import run_lever

pytestmark = [pytest.mark.timeout(600), pytest.mark.xdist_group("lever-mini")]


def test_lever_mini_has_at_least_20_tagged_tasks() -> None:
    tasks = load_suite("lever-mini")
    assert len(tasks) >= 20
    assert all(t.solution and t.solution.exists() and t.tags for t in tasks)
    tags = {tag for t in tasks for tag in t.tags}
    assert {"performance", "cli", "refactor", "docs", "data-format"} <= tags


def test_oracle_passes_and_empty_fails_every_task(tmp_path: Path, eval_env) -> None:
    oracle, empty = tmp_path / "oracle.json", tmp_path / "empty.json"
    passed = run_lever(
        "eval", "run", "lever-mini", "--oracle", "--concurrency", "2", "-o", str(oracle),
        env=eval_env, timeout=500,
    )  # fmt: skip
    assert passed.returncode == 0, passed.stdout[-3000:] + passed.stderr[-3000:]
    failed = run_lever(
        "eval", "run", "lever-mini", "--empty", "--concurrency", "2", "-q", "-o", str(empty),
        env=eval_env, timeout=500,
    )  # fmt: skip
    assert failed.returncode == 0, failed.stdout[-3000:] + failed.stderr[-3000:]

    good, bad = json.loads(oracle.read_text()), json.loads(empty.read_text())
    n_tasks = len(load_suite("lever-mini"))
    assert good["summary"]["tasks"] == bad["summary"]["tasks"] == n_tasks
    not_passing = [a["task_id"] for a in good["attempts"] if not a["passed"]]
    assert not_passing == []
    assert [a["outcome"] for a in bad["attempts"]] == ["grade_failed"] * n_tasks
    assert good["unconfined"] is None or "sandbox" in good["unconfined"]
    assert good["summary"]["pass_at_k"][0]["value"] == 1.0
    assert bad["summary"]["pass_at_k"][0]["value"] == 0.0
    assert f"[1/{n_tasks}]" in passed.stderr and "passing" in passed.stderr  # progress lines

    html = tmp_path / "run.html"
    shown = run_lever("eval", "report", str(oracle), "--html", str(html), env=eval_env)
    assert shown.returncode == 0 and "slugify-accents" in shown.stdout
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 3
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/", "")

    compared = run_lever("eval", "compare", str(empty), str(oracle), env=eval_env)
    assert compared.returncode == 0, compared.stderr
    out = " ".join(compared.stdout.split())
    assert "B - A = +100.0 points" in out and "(significant at 0.05)" in out
