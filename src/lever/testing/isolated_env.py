"""The environment tests give the `lever` they start: the machine's own, less any API key and
any `LEVER_*` setting, with a fresh lever home (no config, sessions or models of the person's)."""

from __future__ import annotations

import os
from pathlib import Path


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """`os.environ` without `*_API_KEY` and `LEVER_*`, and `LEVER_HOME` a new `tmp_path` folder."""
    home = tmp_path / "lever-home"
    home.mkdir()
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and not k.startswith("LEVER_")
    }
    return {**clean, "LEVER_HOME": str(home)}
