"""Browser-test fixtures (imported by conftest.py): Debian's Chromium, a LEVER_HOME with a
recorded session, `lever serve` on a real socket, a page that records console errors, and the
folder screenshots go to."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lever.testing.fake_model import FakeModelServer
from lever.tools.apply_patch import make_patch

from ..e2e.conftest import run_lever
from .serving import lever_serve, serve_env

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
ANSWER = (
    'Fixed it. <script>window.__pwned = 1</script> <img src=x onerror="window.__pwned = 2"> '
    "**done**"
)

#: What every browser test module is marked with.
BROWSER_MARKS = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Chromium is not installed: `apt-get install chromium` (the Debian package)",
    ),
    pytest.mark.xdist_group("chromium"),  # one browser at a time on a small machine
]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return serve_env(tmp_path / "lever-home")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "greet.py").write_text('def greet():\n    return "helo"\n')
    # Committed, with an `out/` folder for new files, so a fleet can run here too.
    (repo / "out").mkdir()
    (repo / "out" / ".keep").write_text("")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "base"], cwd=repo, check=True)
    return repo


def recorded_script(repo: Path) -> list[dict[str, Any]]:
    old = (repo / "greet.py").read_text()
    patch = make_patch("greet.py", old, old.replace("helo", "hello"))
    return [
        {
            "text": "Looking.",
            "tool_calls": [{"name": "shell", "arguments": {"command": "cat greet.py"}}],
        },
        {"tool_calls": [{"name": "apply_patch", "arguments": {"input": patch}}]},
        {"text": ANSWER},
    ]


@pytest.fixture
def recorded(repo: Path, env: dict[str, str]) -> str:
    """A real session in LEVER_HOME: `lever exec` against the fake model."""
    with FakeModelServer(recorded_script(repo)) as server:
        result = run_lever(
            "exec",
            "--json",
            "--base-url",
            server.base_url,
            "--model",
            "fake-model",
            "fix the greeting",
            env=env,
            cwd=repo,
        )
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout.splitlines()[0])["session_id"])


@pytest.fixture
def dashboard(env: dict[str, str], recorded: str) -> Iterator[str]:
    """`lever serve --port 0`; yields the URL with the token it printed."""
    with lever_serve(env) as (_, url):
        yield url


@pytest.fixture
def artifacts(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Where screenshots go: $LEVER_TEST_ARTIFACTS/TEST (CI keeps that folder), else the
    test's temporary folder."""
    root = os.environ.get("LEVER_TEST_ARTIFACTS")
    folder = Path(root) / request.node.name if root else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[tuple[Any, list[str]]]:
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("dialog", lambda d: (problems.append("dialog: " + d.message), d.dismiss()))
        try:
            yield page, problems
        finally:
            context.close()
            browser.close()
