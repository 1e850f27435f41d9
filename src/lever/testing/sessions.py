"""A real Session talking to lever's fake model server, as the unit-level tests build it: the
real client of `wire`, the default tools, short retry delays. Every keyword is passed on to
`Session`, so a test names only what it is about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lever.agent.session import Session
from lever.models.factory import make_client
from lever.testing.fake_model import FakeModelServer
from lever.tools.registry import default_tools


def fake_session(
    server: FakeModelServer,
    cwd: Path,
    *,
    wire: str = "openai-chat",
    model: str = "fake-model",
    **options: Any,
) -> Session:
    """A session of `model` over `wire` to `server`, working in `cwd` (not started)."""
    options.setdefault("tools", default_tools())
    options.setdefault("retry_base_delay", 0.01)
    return Session(
        make_client(wire, server.base_url, None),
        model=model,
        provider=wire,
        cwd=cwd,
        **options,
    )
