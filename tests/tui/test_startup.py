"""The first frame waits only for Textual: the app's module imports nothing heavier."""

from __future__ import annotations

import subprocess
import sys

#: Loaded after the composer is on screen (the session in a worker thread, Markdown after it).
LATER = (
    "pydantic",
    "httpx",
    "markdown_it",
    "pygments",
    "lever.protocol",
    "lever.agent",
    "lever.assembly",
    "lever.models",
    "lever.sandbox",
    "lever.store",
    "lever.review",
    "textual.widgets._markdown",
)


def test_the_app_module_leaves_the_session_stack_for_later() -> None:
    code = (
        "import sys; import lever.cli.tui_cmd, lever.tui.app; "
        f"print(sorted(m for m in sys.modules if m.startswith({LATER!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
