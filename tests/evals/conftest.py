"""Helpers for the eval tests: run the installed `lever` command, write small task folders."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lever.testing.isolated_env import isolated_env
from lever.testing.isolated_env import run_lever as run_installed


def run_lever(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """The installed `lever`, with the eval runs' longer default timeout."""
    return run_installed(*args, env=env, cwd=cwd, timeout=timeout)


@pytest.fixture
def eval_env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path)


def write_task(folder: Path, toml: str, files: dict[str, str] | None = None) -> Path:
    """A task folder: task.toml and repo/ with `files` (a default file if none)."""
    (folder / "repo").mkdir(parents=True)
    (folder / "task.toml").write_text(toml)
    for name, text in (files or {"README.md": "hello\n"}).items():
        path = folder / "repo" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder
