"""Helpers for driving the app with Textual's pilot against the fake model server."""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.segment import Segment
from textual.app import App
from textual.pilot import Pilot

from lever.testing.fake_model import FakeModelServer
from lever.tui.app import LeverApp
from lever.tui.launch import Launch

from ..review.conftest import git

AppFactory = Callable[..., LeverApp]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "hello.py").write_text("print('hello')\n")
    return repo


@pytest.fixture(autouse=True)
def lever_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "lever-home"
    home.mkdir()
    monkeypatch.setenv("LEVER_HOME", str(home))
    # COLORFGBG and NO_COLOR come from the terminal running the tests; they change the look.
    names = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "LEVER_PROVIDER", "LEVER_MODEL")
    for name in (*names, "COLORFGBG", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def make_app(workdir: Path) -> Iterator[Callable[..., tuple[LeverApp, FakeModelServer]]]:
    """An app whose model is a fake server playing `turns`; servers stop after the test."""
    servers: list[FakeModelServer] = []

    def factory(
        turns: list[dict[str, Any]],
        prompt: str | None = None,
        resume: Path | None = None,
        **flags: Any,
    ) -> tuple[LeverApp, FakeModelServer]:
        server = FakeModelServer(turns).start()
        servers.append(server)
        args = argparse.Namespace(
            provider="openai-chat", model="fake-model", base_url=server.base_url, **flags
        )
        return LeverApp(Launch(cwd=workdir, args=args, prompt=prompt, resume=resume)), server

    yield factory
    for server in servers:
        server.stop()


def screen_text(app: App[Any]) -> str:
    """The screen as plain text, the way a person reads it (a text screenshot)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    screen = app.screen
    console.print(screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def screen_segments(app: App[Any]) -> list[Segment]:
    """The screen as the terminal gets it: text with styles, after the app's colour filters."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        legacy_windows=False,
    )
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    return [segment for segment in console.render(update) if segment.text.strip()]


@pytest.fixture
def git_repo(workdir: Path) -> Path:
    """`workdir` as a git repository with hello.py committed on main."""
    git(workdir, "init", "-q", "-b", "main")
    git(workdir, "add", ".")
    git(workdir, "commit", "-q", "-m", "Add hello")
    return workdir


async def wait_for(
    pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 8.0, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            text = screen_text(pilot.app)
            raise AssertionError(f"timed out waiting for {what or predicate}\n{text}")
        await pilot.pause(0.02)
    # A widget that now exists is laid out and painted on the next refresh: let it happen,
    # so that a screen_text() right after reads what a person would see.
    await pilot.pause()


async def type_text(pilot: Pilot[Any], text: str) -> None:
    app = pilot.app
    assert isinstance(app, LeverApp)
    app.composer.area.insert(text)
    await pilot.pause()
