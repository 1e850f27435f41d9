"""Tool calls in human form, for every front end (exec's stderr, the TUI, the work state)."""

from __future__ import annotations

import json

from lever import safe_json


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
    return name
