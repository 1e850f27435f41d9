"""Start lever's fake model server in its own process, so its request log is not counted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def start_fake_model(
    turns: list[dict[str, Any]], folder: Path
) -> tuple[subprocess.Popen[str], str]:
    """(process, base URL) of a fake model server playing `turns`; kill the process when done."""
    script = folder / "script.json"
    script.write_text(json.dumps({"turns": turns}))
    server = subprocess.Popen(
        [sys.executable, "-m", "lever.testing.fake_model", "--script", str(script)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()
