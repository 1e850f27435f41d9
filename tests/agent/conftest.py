from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from lever.agent.limits import Limits
from lever.agent.session import Session
from lever.protocol import ToolCall, ToolOutput
from lever.store.rollout import RolloutWriter
from lever.testing.fake_model import FakeModelServer
from lever.testing.sessions import fake_session

WIRES = ["openai-responses", "openai-chat", "anthropic"]

SessionFactory = Callable[..., Session]


@pytest.fixture
def lever_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh lever home for the test, and no provider keys (sessions opened through the
    front-end flow read both; `pytestmark = pytest.mark.usefixtures("lever_home")`)."""
    home = tmp_path / "lever-home"
    home.mkdir()
    monkeypatch.setenv("LEVER_HOME", str(home))
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(params=WIRES)
def wire(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_session(tmp_path: Path) -> AsyncIterator[Callable[..., Session]]:
    """Build a started session talking `wire` to a fake server; closed after the test."""
    sessions: list[Session] = []

    def factory(server: FakeModelServer, wire: str, **kwargs: Any) -> Session:
        session = fake_session(
            server,
            tmp_path,
            wire=wire,
            rollout=RolloutWriter(tmp_path / "rollout.jsonl"),
            limits=kwargs.pop("limits", Limits(max_turns=20)),
            **kwargs,
        )
        events: list[Any] = []
        session.subscribe(events.append)
        session.events = events  # type: ignore[attr-defined]
        session.start()
        sessions.append(session)
        return session

    yield factory
    for session in sessions:
        await session.close()


def assert_one_output_per_call(session: Session) -> None:
    """The invariant of DESIGN.md §11: every tool call has exactly one output, after it."""
    calls = [item.call_id for item in session.history if isinstance(item, ToolCall)]
    outputs = [item.call_id for item in session.history if isinstance(item, ToolOutput)]
    assert sorted(calls) == sorted(outputs)
    assert len(set(outputs)) == len(outputs)
