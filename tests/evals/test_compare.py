"""`lever eval compare A.json B.json`: per metric, B - A over the common tasks, its bootstrap
interval and the paired sign-flip permutation test's p-value."""

from __future__ import annotations

from pathlib import Path

import pytest

from lever.cli.main import main
from lever.evals.compare import compare
from lever.evals.report import AttemptRecord, RunReport, summarize, write_report


def run(passes: dict[str, list[bool]], tokens: int, cost: float | None = None) -> RunReport:
    attempts = [
        AttemptRecord(
            task_id=task,
            attempt=i,
            outcome="passed" if ok else "grade_failed",
            passed=ok,
            input_tokens=tokens,
            output_tokens=tokens // 10,
            cost_usd=cost,
            wall_seconds=2.0,
        )
        for task, oks in passes.items()
        for i, ok in enumerate(oks)
    ]
    summary, tasks = summarize(attempts, {t: [] for t in passes}, seed=0)
    return RunReport(
        lever_version="0", suite="s", mode="agent", agent="lever", k=2, started="t0",
        finished="t1", summary=summary, tasks=tasks, attempts=attempts,
    )  # fmt: skip


TASKS = [f"t{i}" for i in range(12)]


def test_a_real_improvement_is_significant_on_every_pass_metric() -> None:
    a = run({t: [False, i % 4 == 0] for i, t in enumerate(TASKS)}, tokens=1000)
    b = run({t: [True, True] for t in TASKS} | {"extra": [True, True]}, tokens=500, cost=0.01)
    ids, rows = compare(a, b, seed=1)
    assert ids == sorted(TASKS)  # `extra` is only in B: not compared
    by_name = {r.name: r for r in rows}
    assert list(by_name) == ["pass@1", "pass@2", "pass^2", "tokens", "seconds"]
    # A: 3 of 12 tasks pass once in 2 -> pass@1 = 3/24; B: everything.
    assert by_name["pass@1"].a == pytest.approx(3 / 24) and by_name["pass@1"].b == 1.0
    assert by_name["pass@1"].diff == pytest.approx(21 / 24) and by_name["pass@1"].significant
    assert by_name["pass^2"].diff == 1.0 and by_name["pass^2"].p < 0.001
    assert by_name["tokens"].diff == pytest.approx(550 - 1100)
    assert by_name["seconds"].diff == 0.0 and by_name["seconds"].p == 1.0
    # The cost is known only in B: no cost row rather than a made-up zero.


def test_the_same_run_twice_is_no_difference() -> None:
    a = run({t: [i % 2 == 0, i % 3 == 0] for i, t in enumerate(TASKS)}, tokens=10, cost=0.5)
    _, rows = compare(a, a)
    assert all(r.diff == 0 and not r.significant and r.p == 1.0 for r in rows)
    assert "cost ($)" in {r.name for r in rows}


def test_the_command_prints_every_metric_and_names_the_test(tmp_path: Path, capsys) -> None:
    a = run({t: [False, False] for t in TASKS}, tokens=1000)
    b = run({t: [True, i % 2 == 0] for i, t in enumerate(TASKS)}, tokens=1000)
    b.agent = "mini-swe-agent"
    write_report(a, tmp_path / "a.json")
    write_report(b, tmp_path / "b.json")
    assert main(["eval", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "over the 12 tasks both runs have" in out
    assert "A = lever k=2, B = mini-swe-agent k=2" in out  # each side names its agent
    for name in ("pass@1", "pass@2", "pass^2", "tokens", "seconds"):
        assert name in out
    assert "B - A = +75.0 points" in out and "(significant at 0.05)" in out
    assert "paired sign-flip permutation over tasks" in out
