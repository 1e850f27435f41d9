"""Bad input to `lever fleet` is one clear line and exit 2; task files; the selection rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lever.fleet.attempt import AttemptResult
from lever.fleet.select import choose
from lever.fleet.tasks import TaskError, load_tasks, tasks_from_prompts

from .conftest import run_lever

MODEL = ["--base-url", "http://127.0.0.1:9/v1", "--model", "m"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fleet", "run", *MODEL], "no tasks: give TASK arguments or --tasks FILE"),
        (["fleet", "run", "x", "--tasks", "t.jsonl", *MODEL], "not both"),
        (["fleet", "run", "x", "-k", "0", *MODEL], "-k must be at least 1"),
        (["fleet", "run", "x", "--concurrency", "0", *MODEL], "--concurrency must be at least 1"),
        (["fleet", "run", "--tasks", "missing.jsonl", *MODEL], "cannot read missing.jsonl"),
        (["fleet", "show", "nope"], "no fleet run 'nope' (see `lever fleet list`)"),
        (["fleet", "apply", "nope"], "no fleet run 'nope'"),
        (["fleet", "clean", "nope"], "no fleet run 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, repo, env) -> None:
    result = run_lever(*args, env=env, cwd=repo)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_the_ray_executor_without_ray_says_how_to_get_it(repo, env, tmp_path) -> None:
    # Ray is installed for the tests: a `ray` package that fails to import stands for its absence.
    shadow = tmp_path / "shadow" / "ray"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    env["PYTHONPATH"] = str(shadow.parent)
    result = run_lever("fleet", "run", "x", "--executor", "ray", *MODEL, env=env, cwd=repo)
    assert result.returncode == 2
    assert "install lever with the `ray` extra" in result.stderr and "lever[ray]" in result.stderr
    assert "Traceback" not in result.stderr


def test_task_files_jsonl_and_toml(tmp_path: Path) -> None:
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text(
        json.dumps({"id": "a", "prompt": "do a", "verify": "make a"}) + "\n\n"
        + json.dumps({"id": "b", "prompt": " do b "}) + "\n"
    )  # fmt: skip
    toml = tmp_path / "t.toml"
    toml.write_text('[[tasks]]\nid = "a"\nprompt = "do a"\nverify = "make a"\n\n'
                    '[[tasks]]\nid = "b"\nprompt = "do b"\n')  # fmt: skip
    for path in (jsonl, toml):
        tasks = load_tasks(path, "make all")
        assert [(t.id, t.prompt, t.verify) for t in tasks] == [
            ("a", "do a", "make a"),
            ("b", "do b", "make all"),
        ]
    assert [t.id for t in tasks_from_prompts(["x", "y"], None)] == ["t1", "t2"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a/b", "prompt": "p"}', "`id` must be letters"),
        ('{"id": "a", "prompt": ""}', "`prompt` must be a non-empty string"),
        ('{"id": "a", "prompt": "p", "cmd": 1}', "unknown keys ['cmd']"),
        ('{"id": "a", "prompt": "p"}\n{"id": "a", "prompt": "q"}', "task id 'a' appears twice"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_task_files_are_refused(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(TaskError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_tasks(path, None)


def _result(task: str, n: int, status: str, lines: int, tokens: int) -> AttemptResult:
    return AttemptResult(task, n, status, added=lines, tokens=tokens)


def test_choose_passing_then_smallest_diff_then_tokens_then_attempt() -> None:
    results = [
        _result("a", 1, "failed", 0, 0),  # smallest and cheapest, but failed
        _result("a", 2, "passed", 5, 10),
        _result("a", 3, "passed", 3, 90),
        _result("a", 4, "passed", 3, 80),
        _result("b", 2, "passed", 1, 10),
        _result("b", 1, "passed", 1, 10),  # a tie: the lower attempt wins, in any order
        _result("c", 1, "error", 0, 0),
    ]
    assert choose(results) == {"a": 4, "b": 1, "c": None}
    assert choose(reversed(results)) == {"a": 4, "b": 1, "c": None}


def test_fleet_alone_prints_its_help(repo, env) -> None:
    result = run_lever("fleet", env=env, cwd=repo)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: lever fleet")
    assert all(action in result.stdout for action in ("run", "show", "apply", "clean", "list"))
