"""Importing the model clients stays light: httpx's command-line client (click, rich.progress,
pygments; ~60 ms) is not loaded with them, and httpx's own fallback stands in for it."""

from __future__ import annotations

import subprocess
import sys


def test_the_model_clients_import_no_httpx_command_line() -> None:
    code = (
        "import sys, lever.models.http, httpx\n"
        "print(sorted(m for m in ('click', 'rich.progress', 'pygments', 'httpx._main')\n"
        "    if sys.modules.get(m) is not None))\n"
        "assert httpx.AsyncClient and httpx.Timeout\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    # httpx's fallback `main` explains itself instead of failing with an obscure error.
    cli = subprocess.run(
        [sys.executable, "-c", "import lever.models, httpx; httpx.main()"],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 1 and "httpx command line client could not run" in cli.stdout
