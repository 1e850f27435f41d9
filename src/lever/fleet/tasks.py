"""The tasks of a fleet run: prompts from the command line, or a JSONL / TOML file."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: A task id becomes part of a branch name and of file names: keep it to safe characters.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class TaskError(ValueError):
    """Bad task input: one line for the person, exit 2."""


@dataclass(frozen=True)
class Task:
    id: str
    prompt: str
    verify: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "prompt": self.prompt, "verify": self.verify}


def tasks_from_prompts(prompts: list[str], verify: str | None) -> list[Task]:
    """`lever fleet run "fix a" "fix b"`: ids t1, t2, … in order."""
    tasks = [Task(f"t{i}", p.strip(), verify) for i, p in enumerate(prompts, 1)]
    for task in tasks:
        if not task.prompt:
            raise TaskError(f"task {task.id} is empty")
    return tasks


def load_tasks(path: Path, verify: str | None) -> list[Task]:
    """A `.jsonl` file (one `{"id", "prompt", "verify"?}` per line) or a `.toml` file with
    `[[tasks]]` tables of the same keys. `verify` is the default for tasks without their own."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise TaskError(f"cannot read {path}: {e.strerror}") from e
    rows = _toml_rows(text, path) if path.suffix == ".toml" else _jsonl_rows(text, path)
    tasks = [_task(row, f"{path}: task {i}", verify) for i, row in enumerate(rows, 1)]
    if not tasks:
        raise TaskError(f"{path} holds no tasks")
    ids = [t.id for t in tasks]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate:
        raise TaskError(f"{path}: task id {duplicate!r} appears twice")
    return tasks


def _toml_rows(text: str, path: Path) -> list[Any]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TaskError(f"{path}: not valid TOML: {e}") from e
    rows = data.get("tasks", [])
    if not isinstance(rows, list):
        raise TaskError(f"{path}: `tasks` must be an array of tables ([[tasks]])")
    return rows


def _jsonl_rows(text: str, path: Path) -> list[Any]:
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise TaskError(f"{path}:{number}: not valid JSON: {e.msg}") from e
    return rows


def _task(row: Any, where: str, verify: str | None) -> Task:
    if not isinstance(row, dict):
        raise TaskError(f"{where}: must be an object with id, prompt and verify")
    unknown = set(row) - {"id", "prompt", "verify"}
    if unknown:
        raise TaskError(f"{where}: unknown keys {sorted(unknown)} (id, prompt, verify)")
    task_id, prompt, own = row.get("id"), row.get("prompt"), row.get("verify")
    if not isinstance(task_id, str) or not _ID.match(task_id):
        raise TaskError(f"{where}: `id` must be letters, digits, '-' or '_' (got {task_id!r})")
    if not isinstance(prompt, str) or not prompt.strip():
        raise TaskError(f"{where}: `prompt` must be a non-empty string")
    if own is not None and not isinstance(own, str):
        raise TaskError(f"{where}: `verify` must be a string (a shell command)")
    return Task(task_id, prompt.strip(), own or verify)
