"""Workspace memory: `.lever/plan.md`, re-read with the person's notes after a compaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lever.agent.budget import TokenBudget
from lever.agent.limits import Limits
from lever.agent.memory import WorkspaceMemory
from lever.agent.session import Session
from lever.agent.state import WorkState
from lever.protocol import PlanStep
from lever.testing.fake_model import FakeModelServer
from lever.testing.sessions import fake_session

PLAN = [{"step": "Print", "status": "in_progress"}, {"step": "Report", "status": "pending"}]
STEP = {
    "tool_calls": [
        {"name": "shell", "arguments": {"command": ["python3", "-c", "print('x' * 3000)"]}}
    ]
}


def session_for(server: FakeModelServer, cwd: Path, memory: str) -> Session:
    return fake_session(
        server,
        cwd,
        model="m",
        budget=TokenBudget(12_000, output_reserve=1_000),
        limits=Limits(max_turns=40),
        memory=memory,
    )


def summary_for_compaction(body: dict[str, Any]) -> dict[str, Any] | None:
    if "context window is nearly full" in json.dumps(body["messages"][-1]):
        return {"text": "SUMMARY"}
    return None


async def test_plan_file_and_notes_come_back_after_compaction(tmp_path) -> None:
    (tmp_path / ".lever").mkdir()
    (tmp_path / ".lever" / "notes.md").write_text("The flaky test is test_io; ignore it.\n")
    plan_call = {"tool_calls": [{"name": "update_plan", "arguments": {"plan": PLAN}}]}
    script = [plan_call, *[STEP] * 12, {"text": "done"}]
    with FakeModelServer(script, responder=summary_for_compaction) as server:
        session = session_for(server, tmp_path, "on")
        session.start()
        finished = await session.run_turn("Print blocks.")
        await session.close()
        bodies = [r.body for r in server.requests]
    assert finished.reason == "done"
    assert (tmp_path / ".lever" / "plan.md").read_text().splitlines()[2:] == [
        "- [>] Print",
        "- [ ] Report",
    ]
    index = next(i for i, b in enumerate(bodies) if summary_for_compaction(b))
    snapshot = next(
        m["content"]
        for m in bodies[index + 1]["messages"]
        if "<environment_snapshot>" in str(m["content"])
    )
    assert "--- .lever/plan.md" in snapshot and "- [>] Print" in snapshot
    assert "The flaky test is test_io; ignore it." in snapshot


def test_auto_mode_waits_for_a_long_run_or_a_compaction(tmp_path) -> None:
    state = WorkState(plan=[PlanStep(step="a", status="pending")])
    memory = WorkspaceMemory(tmp_path, "auto")
    memory.write_plan(state)
    assert not (tmp_path / ".lever").exists() and memory.read() == ""
    memory.compacted = True
    memory.write_plan(state)
    assert "- [ ] a" in (tmp_path / ".lever" / "plan.md").read_text()
    off = WorkspaceMemory(tmp_path / "x", "off")
    off.compacted = True
    assert not off.active()
