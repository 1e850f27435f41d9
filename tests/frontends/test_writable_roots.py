"""`sandbox.writable_roots` holds for patches as for commands: a patch may add a file in an
extra writable root, and one outside every root is refused (issue 13, small fixes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lever import frontend
from lever.testing.fake_model import FakeModelServer


def add_file(path: Path, text: str, call_id: str) -> dict[str, Any]:
    patch = f"*** Begin Patch\n*** Add File: {path}\n+{text}\n*** End Patch\n"
    return {"call_id": call_id, "name": "apply_patch", "arguments": {"input": patch}}


async def test_patches_honour_the_extra_writable_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, work, extra, outside = (tmp_path / name for name in ("home", "work", "extra", "out"))
    for folder in (home, work, extra, outside):
        folder.mkdir()
    monkeypatch.setenv("LEVER_HOME", str(home))
    script = [
        {"tool_calls": [add_file(extra / "notes.txt", "in an extra root", "call_in")]},
        {"tool_calls": [add_file(outside / "notes.txt", "outside every root", "call_out")]},
        {"text": "Done."},
    ]
    with FakeModelServer(script) as model:
        (home / "config.toml").write_text(
            f'provider = "fake"\n\n[providers.fake]\nwire = "openai-chat"\n'
            f'base_url = "{model.base_url}"\nneeds_key = false\nmodel = "fake-model"\n\n'
            f'[sandbox]\nmode = "danger-full-access"\nwritable_roots = ["{extra}"]\n',
            encoding="utf-8",
        )
        opened = frontend.open_session(frontend.Request(cwd=work))
        events: list[Any] = []
        opened.session.subscribe(events.append)
        opened.begin()
        finished = await frontend.drive(opened.session, ["write the notes"])
    assert finished.reason == "done"
    assert (extra / "notes.txt").read_text() == "in an extra root\n"
    assert not (outside / "notes.txt").exists()
    done = {e.call_id: e for e in events if getattr(e, "type", "") == "tool_finished"}
    assert not done["call_in"].is_error
    assert done["call_out"].is_error and "outside the workspace" in done["call_out"].full_output
