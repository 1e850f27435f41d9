"""How tests start the installed `lever` as a user would: the machine's own environment, less
any API key and any `LEVER_*` setting, with a fresh lever home (no config, sessions or models of
the person's)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """`os.environ` without `*_API_KEY` and `LEVER_*`, and `LEVER_HOME` the `lever-home` folder
    of `tmp_path` (made if missing)."""
    home = tmp_path / "lever-home"
    home.mkdir(exist_ok=True)
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and not k.startswith("LEVER_")
    }
    return {**clean, "LEVER_HOME": str(home)}


def lever_bin() -> str:
    """The installed `lever` command (the tests run through `uv run`, which puts it on PATH)."""
    found = shutil.which("lever")
    assert found, "the `lever` command is not installed (run through `uv run`)"
    return found


def run_lever(
    *args: str,
    env: dict[str, str] | None,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run `lever ARGS` to its end in `env` (None: the test's own), with `stdin` as its input
    (None: the test's own stdin)."""
    return subprocess.run(
        [lever_bin(), *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
