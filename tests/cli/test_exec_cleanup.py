"""`lever exec` kills the processes its run left in the background, however the run ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import BaseModel

from lever.cli.exec import _run
from lever.protocol import TextDelta
from lever.testing.fake_model import FakeModelServer
from lever.testing.procs import alive
from lever.testing.sessions import fake_session


class Boom(BaseException):
    """Something no turn can catch (as a second Ctrl-C is): the run unwinds."""


def boom_on_text(event: BaseModel) -> None:
    if isinstance(event, TextDelta):
        raise Boom


async def test_background_processes_die_when_the_run_unwinds(tmp_path: Path) -> None:
    background = {
        "name": "shell",
        "arguments": {"command": "echo $$ > pid.txt; exec sleep 1000", "yield_ms": 1500},
    }
    script = [{"tool_calls": [background]}, {"text": "still working on it"}]
    with FakeModelServer(script) as server:
        session = fake_session(server, tmp_path)
        session.subscribe(boom_on_text)
        with pytest.raises(Boom):
            await _run(session, ["start a server"], None)
    pid = int((tmp_path / "pid.txt").read_text())
    for _ in range(50):
        if not alive(pid):
            break
        await asyncio.sleep(0.05)
    assert not alive(pid), "the background `sleep 1000` outlived `lever exec`"
