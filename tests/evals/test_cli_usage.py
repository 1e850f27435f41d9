"""`lever eval` refuses bad input with one line and exit 2 (in process: these are fast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lever.cli.main import main
from lever.evals.report import RunReport, read_report, summarize, write_report


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval"], "give an action"),
        (["eval", "run", "no-such-suite", "--empty"], "no such suite"),
        (["eval", "run", "lever-mini", "--empty", "-k", "0"], "-k and --concurrency"),
        (["eval", "run", "lever-mini", "--empty", "--task", "nope"], "no task 'nope'"),
        (["eval", "run", "lever-mini", "--empty", "--tag", "nope"], "no task matches"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, capsys) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("lever eval: ")


def test_a_file_that_is_not_a_report(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"suite": "s"}')
    assert main(["eval", "report", str(bad)]) == 2
    assert main(["eval", "compare", str(tmp_path / "missing.json"), str(bad)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "not a lever eval report" in err[0] and "no such file" in err[1]


def test_list_names_lever_mini(capsys) -> None:
    assert main(["eval", "list"]) == 0
    assert capsys.readouterr().out.startswith("lever-mini\t")


def test_report_round_trips_and_the_table_shows_it(tmp_path: Path, capsys) -> None:
    from lever.evals.report import AttemptRecord

    attempts = [
        AttemptRecord(task_id="a", attempt=i, outcome=o, passed=o == "passed")
        for i, o in enumerate(["passed", "timeout", "passed"])
    ]
    summary, tasks = summarize(attempts, {"a": ["x"]}, seed=0)
    report = RunReport(
        lever_version="0", suite="s", mode="empty", k=3, started="t0", finished="t1",
        summary=summary, tasks=tasks, attempts=attempts,
    )  # fmt: skip
    path = tmp_path / "r.json"
    write_report(report, path)
    assert read_report(path) == report
    assert main(["eval", "report", str(path), "--html", str(tmp_path / "r.html")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "pass@1 66.7%" in out and "pass^3 0.0%" in out and "timeout x1" in out
    page = (tmp_path / "r.html").read_text()
    assert page.count("<polyline") == 2 and "a #1: timeout" in page


def test_oracle_keep_and_the_suite_check_exit_status(tmp_path: Path, capsys) -> None:
    """--keep leaves each attempt's workspace; --oracle exits 1 when a solution fails."""
    from .conftest import write_task

    suite = tmp_path / "suite"
    toml = 'id = "t"\ninstruction = "create done.txt"\ngrade = ["test -f done.txt"]\n'
    folder = write_task(suite / "t", toml)
    patch = "--- /dev/null\n+++ b/done.txt\n@@ -0,0 +1 @@\n+yes\n"
    (folder / "solution.patch").write_text(patch)
    keep = tmp_path / "kept"
    assert main(["eval", "run", str(suite), "--oracle", "-k", "2", "-q", "--keep", str(keep)]) == 0
    kept = sorted(p.relative_to(keep).as_posix() for p in keep.glob("work/*/repo/done.txt"))
    assert kept == ["work/t-0/repo/done.txt", "work/t-1/repo/done.txt"]
    (folder / "solution.patch").write_text(patch.replace("done.txt", "other.txt"))
    assert main(["eval", "run", str(suite), "--oracle", "-q"]) == 1
    assert "0/1 attempts passed" in " ".join(capsys.readouterr().out.split())


def test_no_model_configured_stops_the_run_before_any_attempt(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    import os

    monkeypatch.setenv("LEVER_HOME", str(tmp_path / "home"))
    for name in list(os.environ):
        if name.endswith("_API_KEY") or (name.startswith("LEVER_") and name != "LEVER_HOME"):
            monkeypatch.delenv(name)
    assert main(["eval", "run", "lever-mini", "-k", "3", "-q"]) == 2
    err = capsys.readouterr().err
    # The model is resolved as `lever exec` resolves it, before any workspace is made: the
    # same guidance `lever exec` gives, and no traceback.
    assert err.startswith("lever eval: No model is configured") and "Traceback" not in err


def test_checked_in_report_schema_is_generated() -> None:
    from lever.evals.report import schema_text

    path = Path(__file__).parents[2] / "docs" / "schema" / "eval-report.schema.json"
    assert path.read_text() == schema_text(), (
        "regenerate: uv run python -m lever.evals.report > docs/schema/eval-report.schema.json"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--agent", "claude"], "lever eval: unknown agent 'claude'"),
        (["--agent", "cmd:x {prompt}"], "unknown placeholder {prompt}"),
        (["--price", "cheap"], "--price 'cheap': give IN/OUT in US dollars per million"),
        (["--oracle", "--executor", "ray"], "--executor ray runs lever's own agent"),
    ],
)
def test_bad_run_flags_are_one_line_errors(extra: list[str], message: str, capsys) -> None:
    args = ["eval", "run", "lever-mini", "--task", "roman-numerals", "-q"]
    args += ["--provider", "openai-responses", "--base-url", "http://127.0.0.1:9/v1"]
    args += ["--api-key-env", "PATH"]
    assert main([*args, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
