"""Scripting the fake model for a parent session and its sub-agents.

Parent and children talk to one fake server, at times concurrently, so a fixed script cannot say
which request comes first. The responder reads who is asking from the request itself: the
person's message (the parent's prompt, or a child's task) holds `ROLE:name`; the reply is that
role's next step, chosen by how many tool outputs the request already carries.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lever import frontend
from lever.agent.session import Session
from lever.protocol import Event, event_from_json

_ROLE = re.compile(r"ROLE:([\w-]+)")

Turn = dict[str, Any]


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def role_of(body: Mapping[str, Any]) -> str:
    """The role of the newest person message (a resumed session's new prompt names its own)."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            found = _ROLE.search(text_of(message.get("content")))
            if found:
                return found.group(1)
    raise AssertionError("no ROLE: in the request's messages")


def tool_outputs(body: Mapping[str, Any]) -> list[str]:
    return [text_of(m.get("content")) for m in body.get("messages", []) if m.get("role") == "tool"]


def tool_names(body: Mapping[str, Any]) -> list[str]:
    return [tool["function"]["name"] for tool in body.get("tools", [])]


class Roles:
    """The fake model's part for each role: a list of turns, the n-th played once the request
    carries n tool outputs (past the end: the last turn again)."""

    def __init__(self, script: Mapping[str, Sequence[Turn]]) -> None:
        self.script = script
        self.seen: list[tuple[str, int]] = []
        self.bodies: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Turn:
        role = role_of(body)
        step = len(tool_outputs(body))
        with self._lock:
            self.seen.append((role, step))
            self.bodies.setdefault(role, []).append(body)
        turns = self.script[role]
        return dict(turns[min(step, len(turns) - 1)])


def parent_spawns(calls: Mapping[str, str], answer: str, **first: Any) -> list[Turn]:
    """The parent's part: one reply starting a read-only child per call (call id: its task),
    with `first`'s extra fields (usage, delay), then `answer`."""
    spawns = [spawn(task, call_id=call_id) for call_id, task in calls.items()]
    return [{"tool_calls": spawns, **first}, {"text": answer}]


def spawn(task: str, mode: str = "read-only", call_id: str | None = None, **more: Any) -> Turn:
    call: dict[str, Any] = {
        "name": "spawn_agent",
        "arguments": {"task": task, "mode": mode, **more},
    }
    if call_id:
        call["call_id"] = call_id
    return call


def shell(command: str) -> dict[str, Any]:
    return {"name": "shell", "arguments": {"command": command}}


def request_for(cwd: Path, server: Any, **more: Any) -> frontend.Request:
    return frontend.Request(
        cwd=cwd,
        provider="openai-chat",
        base_url=server.base_url,
        model="fake-model",
        **more,
    )


async def run_parent(
    request: frontend.Request, prompt: str, watch: Callable[[Any], None] | None = None
) -> tuple[Session, list[Any]]:
    """Open the parent through the front-end flow, run `prompt` to its end, close it."""
    opened = frontend.open_session(request)
    session = opened.session
    events: list[Any] = []
    session.subscribe(events.append)
    if watch is not None:
        session.subscribe(watch)
    session.start()
    await frontend.drive(session, [prompt])
    return session, events


def read_events(path: str | Path) -> list[Event]:
    return [event_from_json(line) for line in Path(path).read_text().splitlines() if line]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def make_repo(root: Path) -> Path:
    """A repository with one commit and one uncommitted change."""
    repo = root / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "a.txt").write_text("alpha\n")
    (repo / "src" / "b.txt").write_text("beta\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    (repo / "src" / "b.txt").write_text("beta, edited\n")
    return repo


def outputs_by_call(events: list[Any]) -> dict[str, Any]:
    from lever.protocol import ItemAdded, ToolOutput

    return {
        e.item.call_id: e.item
        for e in events
        if isinstance(e, ItemAdded) and isinstance(e.item, ToolOutput)
    }


def dumps(events: list[Any]) -> str:
    return json.dumps([e.model_dump(mode="json") for e in events])[:4000]
