"""The task format: what loads, and the one-line errors for what does not."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lever.evals.attempts import run_attempt
from lever.evals.tasks import TaskError, load_suite, load_task
from lever.evals.workspace import Grader

from .conftest import run_lever, write_task

GOOD = 'id = "t1"\ninstruction = "do it"\ngrade = ["test -f done.txt"]\n'


def test_a_task_folder_loads_with_defaults(tmp_path: Path) -> None:
    folder = write_task(tmp_path / "t1", GOOD)
    (folder / "solution.patch").write_text("")
    task = load_task(folder)
    assert task.id == "t1" and task.timeout == 300 and task.tags == []
    assert task.solution == folder.resolve() / "solution.patch" and task.grade_files is None


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('id = "t1"\ngrade = ["true"]\n', "key 'instruction': Field required"),
        (GOOD + "timeout = -1\n", "key 'timeout': Input should be greater than 0"),
        (GOOD + "colour = 3\n", "key 'colour': Extra inputs are not permitted"),
        (GOOD + 'setup = [""]\n', "key 'setup'"),
        ('id = "t1"\ninstruction = "x"\n', "key 'grade': give grade commands"),
        ('id = "bad id"\ninstruction = "x"\ngrade = ["true"]\n', "key 'id'"),
        (GOOD + 'base_commit = "abc"\n', "key 'repo': required with 'base_commit'"),
        ("id = = 3", "not valid TOML"),
    ],
)
def test_bad_task_files_name_the_file_and_key(tmp_path: Path, toml: str, message: str) -> None:
    folder = write_task(tmp_path / "t1", toml)
    with pytest.raises(TaskError) as caught:
        load_task(folder)
    text = str(caught.value)
    assert text.startswith(str(folder.resolve() / "task.toml")) and message in text
    assert "\n" not in text


def test_the_cli_reports_a_bad_task_in_one_line_with_exit_2(tmp_path: Path) -> None:
    write_task(tmp_path / "suite" / "t1", GOOD + "timeout = 'soon'\n")
    result = run_lever("eval", "run", str(tmp_path / "suite"), "--empty", timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "key 'timeout'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_jsonl_suite_with_a_local_git_source(tmp_path: Path) -> None:
    """`repo` + `base_commit`: the attempt starts at that commit, not at the branch tip."""
    source = tmp_path / "src"
    source.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q"], cwd=source, check=True)
    (source / "value.txt").write_text("old\n")
    subprocess.run([*git, "add", "-A"], cwd=source, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=source, check=True)
    base = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, check=True
    ).stdout.strip()
    (source / "value.txt").write_text("tip\n")
    subprocess.run([*git, "commit", "-qam", "tip"], cwd=source, check=True)
    patch = "--- a/value.txt\n+++ b/value.txt\n@@ -1 +1 @@\n-old\n+new\n"
    (tmp_path / "fix.patch").write_text(patch)
    line = {
        "id": "git-task",
        "instruction": "write new",
        "grade": ["grep -qx new value.txt"],
        "repo": "src",
        "base_commit": base,
        "solution": "fix.patch",
    }
    suite = tmp_path / "suite.jsonl"
    suite.write_text(json.dumps(line) + "\n\n")
    (task,) = load_suite(str(suite))
    grader = Grader()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    assert run_attempt(task, 0, "oracle", scratch, grader).passed
    assert not run_attempt(task, 1, "empty", scratch, grader).passed
    suite.write_text(json.dumps(line | {"timeout": "x"}) + "\n")
    with pytest.raises(TaskError, match=r"suite\.jsonl:1: key 'timeout'"):
        load_suite(str(suite))


def test_grading_is_confined_to_the_workspace(tmp_path: Path) -> None:
    """A grade command writing outside its workspace is stopped and classed a sandbox denial."""
    from lever.sandbox.probe import probe

    if probe().mechanism == "none":
        pytest.skip("no sandbox mechanism on this machine")
    outside = tmp_path / "outside.txt"
    toml = f'id = "t"\ninstruction = "x"\ngrade = ["echo hi > {outside}"]\n'
    task = load_task(write_task(tmp_path / "t", toml))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    record = run_attempt(task, 0, "empty", scratch, Grader())
    assert not outside.exists()
    assert record.outcome == "sandbox_denial" and not record.passed


def test_hidden_grade_files_replace_what_the_agent_left(tmp_path: Path) -> None:
    toml = 'id = "t"\ninstruction = "x"\ngrade = ["grep -q hidden check.txt"]\n'
    folder = write_task(tmp_path / "t", toml, {"check.txt": "visible\n"})
    (folder / "grade").mkdir()
    (folder / "grade" / "check.txt").write_text("hidden\n")
    task = load_task(folder)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    assert run_attempt(task, 0, "empty", scratch, Grader()).passed
