"""Must-show 4: SWE-bench-format import. A real instance — more-itertools PR #1028 (issue
#1001), see tests/evals/data/README.md — from the PyPI sdist of the release it fixes: the gold
patch resolves it, the empty patch does not. And the same import from a local git source."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lever.evals.swebench import find_sdist
from lever.evals.tasks import TaskError, load_suite

from .conftest import run_lever

DATA = Path(__file__).parent / "data" / "swebench-more-itertools.jsonl"
#: Where `.ci/run` downloads the sdist (`pip download --no-binary :all: --no-deps`).
SDISTS = Path("~/.cache/lever/sdists").expanduser()
SDIST = "more-itertools==10.7.0"

pytestmark = pytest.mark.timeout(300)


def test_a_real_instance_gold_resolves_and_empty_does_not(tmp_path: Path, eval_env) -> None:
    if find_sdist(SDISTS, SDIST) is None:
        pytest.skip(
            f"the {SDIST} sdist is not in {SDISTS}: `python3 -m pip download --no-binary :all: "
            f"--no-deps {SDIST} -d {SDISTS}` (.ci/run does)"
        )
    common = ["eval", "run", str(DATA), "--source", str(SDISTS), "-q"]
    gold = run_lever(*common, "--oracle", "-o", str(tmp_path / "gold.json"), env=eval_env)
    assert gold.returncode == 0, gold.stdout + gold.stderr
    empty = run_lever(*common, "--empty", "-o", str(tmp_path / "empty.json"), env=eval_env)
    assert empty.returncode == 0, empty.stdout + empty.stderr  # --empty: 0 = every attempt failed

    resolved = json.loads((tmp_path / "gold.json").read_text())["attempts"][0]
    assert resolved["task_id"] == "more-itertools__more-itertools-1028" and resolved["passed"]
    (run,) = resolved["grade"]
    assert "LastTests::test_reversed_is_none" in run["command"] and "4 passed" in run["output_tail"]
    unresolved = json.loads((tmp_path / "empty.json").read_text())["attempts"][0]
    assert unresolved["outcome"] == "grade_failed"
    tail = unresolved["grade"][0]["output_tail"]
    assert "FAILED tests/test_more.py::LastTests::test_reversed_is_none" in tail
    assert "1 failed, 3 passed" in tail  # PASS_TO_PASS still pass on the untouched tree


def test_the_problem_statement_is_all_the_agent_gets(tmp_path: Path) -> None:
    if find_sdist(SDISTS, SDIST) is None:
        pytest.skip(f"the {SDIST} sdist is not in {SDISTS} (.ci/run downloads it)")
    (task,) = load_suite(str(DATA), SDISTS)
    assert task.instruction.startswith("last() fails if __reversed__ is None")
    assert task.root is not None and (task.root / "repo" / "more_itertools" / "more.py").is_file()
    # The test patch's file goes in after the agent, not before: the base has the old test file.
    base_tests = (task.root / "repo" / "tests" / "test_more.py").read_text()
    assert task.grade_files is not None
    hidden = (task.grade_files / "tests" / "test_more.py").read_text()
    assert "test_reversed_is_none" in hidden and "test_reversed_is_none" not in base_tests


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def diff_of(repo: Path, path: str, text: str) -> str:
    """The patch that changes `path` to `text` (made with git, then undone)."""
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    existed = (repo / path).exists()
    (repo / path).write_text(text)
    git(repo, "add", "-N", path)
    patch = git(repo, "diff", "--", path)
    if existed:
        git(repo, "checkout", "--", path)
    else:
        git(repo, "rm", "-q", "--cached", path)
        (repo / path).unlink()
    return patch


def test_a_git_source_round_trips(tmp_path: Path, eval_env) -> None:
    repo = tmp_path / "src"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (repo / "test_calc.py").write_text(
        "from calc import add\n\ndef test_zero():\n    assert add(0, 0) == 0\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    base = git(repo, "rev-parse", "HEAD").strip()
    test_text = (
        repo / "test_calc.py"
    ).read_text() + "\ndef test_add():\n    assert add(2, 3) == 5\n"
    line = {
        "instance_id": "calc__calc-1",
        "repo": "calc/calc",
        "base_commit": base,
        "problem_statement": "add() subtracts",
        "patch": diff_of(repo, "calc.py", "def add(a, b):\n    return a + b\n"),
        "test_patch": diff_of(repo, "test_calc.py", test_text),
        "FAIL_TO_PASS": ["test_calc.py::test_add"],
        "PASS_TO_PASS": json.dumps(["test_calc.py::test_zero"]),
        "version": "1.0",
        "environment_setup_commit": base,
    }
    git(repo, "commit", "-q", "--allow-empty", "-m", "later work the base must not see")
    suite = tmp_path / "calc.jsonl"
    suite.write_text(json.dumps(line) + "\n")
    common = ["eval", "run", str(suite), "--source", str(repo), "-q"]
    gold = run_lever(*common, "--oracle", "-o", str(tmp_path / "g.json"), env=eval_env)
    assert gold.returncode == 0, gold.stdout + gold.stderr
    empty = run_lever(*common, "--empty", "-o", str(tmp_path / "e.json"), env=eval_env)
    assert empty.returncode == 0, empty.stdout + empty.stderr
    tail = json.loads((tmp_path / "e.json").read_text())["attempts"][0]["grade"][0]["output_tail"]
    assert "1 failed, 1 passed" in tail


def test_bad_lines_are_one_line_errors(tmp_path: Path) -> None:
    suite = tmp_path / "s.jsonl"
    line = json.loads(DATA.read_text())
    suite.write_text(json.dumps({k: v for k, v in line.items() if k != "patch"}) + "\n")
    with pytest.raises(TaskError, match=r"s\.jsonl:1: key 'patch': required"):
        load_suite(str(suite), tmp_path)
    suite.write_text(json.dumps(line | {"FAIL_TO_PAS": []}) + "\n")
    with pytest.raises(TaskError, match="key 'FAIL_TO_PAS': not a SWE-bench key"):
        load_suite(str(suite), tmp_path)
    suite.write_text(json.dumps(line) + "\n")
    with pytest.raises(TaskError, match=r"no sdist of more-itertools==10\.7\.0 in .*pip download"):
        load_suite(str(suite), tmp_path)


def test_sdists_are_found_by_their_normalized_name(tmp_path: Path) -> None:
    (tmp_path / "more_itertools-10.7.0.tar.gz").write_bytes(b"")
    (tmp_path / "more_itertools-10.6.0.tar.gz").write_bytes(b"")
    assert (
        find_sdist(tmp_path, "more-itertools==10.7.0") == tmp_path / "more_itertools-10.7.0.tar.gz"
    )
    assert find_sdist(tmp_path, "More.Itertools==10.6.0") is not None
    assert find_sdist(tmp_path, "more-itertools==10.8.0") is None
    assert find_sdist(tmp_path / "missing", "more-itertools==10.7.0") is None


def test_an_archive_that_is_not_an_sdist_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "more_itertools-10.7.0.tar.gz").write_bytes(b"not a tar file")
    suite = tmp_path / "s.jsonl"
    suite.write_text(DATA.read_text())
    with pytest.raises(TaskError, match=r"s\.jsonl:1: cannot unpack .*more_itertools-10\.7\.0"):
        load_suite(str(suite), tmp_path)
