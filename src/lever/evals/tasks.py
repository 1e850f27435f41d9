"""The task format: a folder with `task.toml`, or one line of a JSONL suite (docs/evals.md).

A task folder holds `task.toml`, the repository (`repo/`, or `repo` + `base_commit` in the TOML
for a local git source), the reference solution (`solution.patch`, hidden from the agent) and
optionally `grade/`: files copied over the workspace after the agent finishes and before the
grade commands run, so hidden tests cannot be edited or read by the agent.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

#: The suites shipped in the package: name -> folder.
SUITES_DIR = Path(__file__).parent / "suites"


class TaskError(ValueError):
    """A task or suite file is malformed; the message is one line naming the file and key."""


class Task(BaseModel):
    """One task. Paths are absolute once loaded (relative ones are resolved against the task)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    instruction: str = Field(min_length=1)
    setup: list[str] = []
    grade: list[str] = []
    fail_to_pass: list[str] = []
    pass_to_pass: list[str] = []
    timeout: float = Field(default=300, gt=0)
    tags: list[str] = []
    #: A local git repository and the commit to start from, instead of a `repo/` folder.
    repo: Path | None = None
    base_commit: str | None = None
    #: The reference solution, a unified diff applied with `git apply`.
    solution: Path | None = None
    #: Files copied over the workspace before grading (hidden tests).
    grade_files: Path | None = None
    #: The folder the task was read from (None for a JSONL line without paths).
    root: Path | None = None

    @field_validator("setup", "grade", "fail_to_pass", "pass_to_pass", "tags")
    @classmethod
    def _no_empty_strings(cls, value: list[str]) -> list[str]:
        if any(not item.strip() for item in value):
            raise ValueError("entries must be non-empty strings")
        return value

    def grade_commands(self, python: str = "python") -> list[str]:
        """The grade commands, then one pytest run of the named tests if there are any."""
        tests = [*self.fail_to_pass, *self.pass_to_pass]
        if not tests:
            return list(self.grade)
        quoted = " ".join(_quote(t) for t in tests)
        return [*self.grade, f"{python} -m pytest -q -p no:cacheprovider {quoted}"]


def _quote(word: str) -> str:
    import shlex

    return shlex.quote(word)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    return f"key {key!r}: {error['msg']}"


def _resolve(data: dict[str, Any], base: Path) -> dict[str, Any]:
    for key in ("repo", "solution", "grade_files"):
        if isinstance(data.get(key), str):
            data[key] = (base / data[key]).resolve()
    return data


def _check(task: Task, where: str) -> Task:
    if not task.grade and not task.fail_to_pass and not task.pass_to_pass:
        raise TaskError(f"{where}: key 'grade': give grade commands or fail_to_pass test ids")
    if task.repo is not None and task.base_commit is None:
        raise TaskError(f"{where}: key 'base_commit': required with 'repo'")
    if task.base_commit is not None and task.repo is None:
        raise TaskError(f"{where}: key 'repo': required with 'base_commit'")
    if task.repo is None and (task.root is None or not (task.root / "repo").is_dir()):
        raise TaskError(f"{where}: key 'repo': no repo/ folder beside it and no 'repo' given")
    if task.repo is not None and not (task.repo / ".git").exists():
        raise TaskError(f"{where}: key 'repo': {task.repo} is not a git repository")
    return task


def load_task(folder: Path) -> Task:
    """Read `folder/task.toml`; raise `TaskError` with a one-line message if it is malformed."""
    path = folder / "task.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaskError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise TaskError(f"{path}: not valid TOML: {e}") from None
    root = folder.resolve()
    data.setdefault("solution", "solution.patch" if (root / "solution.patch").exists() else None)
    data.setdefault("grade_files", "grade" if (root / "grade").is_dir() else None)
    data["root"] = root
    try:
        task = Task.model_validate(_resolve(data, root))
    except ValidationError as e:
        raise TaskError(f"{path}: {_first_error(e)}") from None
    return _check(task, str(path))


def load_jsonl(path: Path, source: Path | None = None) -> list[Task]:
    """One task per line; relative paths are resolved against the file's folder. A line with
    `instance_id` is a SWE-bench instance (`lever.evals.swebench`; `source` is its --source)."""
    from lever.evals import swebench

    tasks = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            raise TaskError(f"{where}: not valid JSON: {e.msg}") from None
        if not isinstance(data, dict):
            raise TaskError(f"{where}: each line must be a JSON object")
        if swebench.is_instance(data):
            data = swebench.instance_to_task(data, where, source)
        data.setdefault("root", None)
        try:
            task = Task.model_validate(_resolve(data, path.parent.resolve()))
        except ValidationError as e:
            raise TaskError(f"{where}: {_first_error(e)}") from None
        tasks.append(_check(task, where))
    return tasks


def suite_path(name: str) -> Path:
    """A built-in suite name (`lever-mini`) or a path to a folder or JSONL file."""
    builtin = SUITES_DIR / name.replace("-", "_")
    if "/" not in name and builtin.is_dir():
        return builtin
    return Path(name)


def load_suite(name: str, source: Path | None = None) -> list[Task]:
    """The tasks of a suite, sorted by id; ids must be unique. `source`: where SWE-bench
    instances' repositories come from (a git repository or a folder of sdists)."""
    path = suite_path(name)
    if path.is_file():
        tasks = load_jsonl(path, source)
    elif path.is_dir():
        if (path / "task.toml").exists():
            tasks = [load_task(path)]
        else:
            folders = sorted(p for p in path.iterdir() if (p / "task.toml").exists())
            tasks = [load_task(folder) for folder in folders]
    else:
        raise TaskError(f"{name}: no such suite (a built-in name, a folder or a JSONL file)")
    if not tasks:
        raise TaskError(f"{path}: the suite has no tasks")
    seen: set[str] = set()
    for task in tasks:
        if task.id in seen:
            raise TaskError(f"{path}: key 'id': {task.id!r} appears twice")
        seen.add(task.id)
    return sorted(tasks, key=lambda t: t.id)


def builtin_suites() -> list[str]:
    return sorted(p.name.replace("_", "-") for p in SUITES_DIR.iterdir() if p.is_dir())
