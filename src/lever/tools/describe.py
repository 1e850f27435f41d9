"""Tool calls in human form, for every front end (exec's stderr, the TUI, the work state)."""

from __future__ import annotations

import json

from lever import safe_json
from lever.protocol import ChildEvent, ChildFinished, ChildStarted


def shell_command_text(arguments: str) -> str:
    """The command of a shell call as one line ("" when the arguments hold none)."""
    try:
        args = safe_json.loads(arguments)
    except json.JSONDecodeError:
        return ""
    command = args.get("command") if isinstance(args, dict) else None
    if isinstance(command, list):
        return " ".join(map(str, command))
    return command if isinstance(command, str) else ""


def describe_call(name: str, arguments: str) -> str:
    """A one-line human form of a tool call: `$ pytest -q` for shell, the name otherwise."""
    try:
        args = safe_json.loads(arguments)
    except json.JSONDecodeError:
        return f"{name} (unreadable arguments)"
    if name == "shell" and isinstance(args, dict):
        if "process_id" in args:
            return f"$ [poll {args['process_id']}]"
        return f"$ {shell_command_text(arguments)}"
    if name == "spawn_agent" and isinstance(args, dict):
        task = str(args.get("task", "")).strip().splitlines()
        first = task[0][:80] if task else ""
        return f"spawn_agent ({args.get('mode', 'read-only')}): {first}"
    return name


def child_line(event: ChildStarted | ChildEvent | ChildFinished) -> str | None:
    """A sub-agent's start, its commands and errors, and its end, as one line marked with its
    id; None for its other events (its text, its outputs)."""
    mark = f"↳ [{event.child_id[:8]}]"
    if isinstance(event, ChildStarted):
        return f"{mark} sub-agent started ({event.mode}) · {event.rollout or event.cwd}"
    if isinstance(event, ChildFinished):
        spent = f"{event.turns} requests, {event.tokens} tokens"
        diff = f", {event.files_changed} files changed" if event.files_changed else ""
        detail = f": {event.detail}" if event.detail else ""
        return f"{mark} sub-agent {event.reason}{detail} ({spent}{diff})"
    inner = event.event
    kind = inner.get("type")
    if kind == "tool_started":
        return f"{mark} {describe_call(str(inner.get('name')), str(inner.get('arguments')))}"
    if kind == "error" and not inner.get("retrying"):
        return f"{mark} error: {inner.get('message', '')}"
    return None
