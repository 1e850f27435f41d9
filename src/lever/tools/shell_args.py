"""The shell tool's arguments: the schema the model sees, their validation, and the messages
that tell the model what it got wrong (one clear line, never pydantic's dump)."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DESCRIPTION = (files("lever.tools") / "shell.md").read_text(encoding="utf-8").strip()
#: What `--provider local` shows a small model (ShellTool.offer_small).
SMALL_DESCRIPTION = (files("lever.tools") / "shell_small.md").read_text(encoding="utf-8").strip()

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ],
            "description": "String: run by bash with the login environment. Array: run as "
            "argv without a shell. Required unless `process_id` is given.",
        },
        "workdir": {
            "type": "string",
            "description": "Directory to run in, relative to the workspace root; must exist.",
        },
        "timeout_ms": {
            "type": "integer",
            "minimum": 1,
            "description": "Total lifetime of the command in milliseconds (default 120000).",
        },
        "yield_ms": {
            "type": "integer",
            "minimum": 0,
            "description": "Wait at most this long (default 10000) before returning; a command "
            "still running then continues in the background under a process_id.",
        },
        "keep_stdin_open": {
            "type": "boolean",
            "description": "Give the command a stdin pipe so you can later send it text with "
            "`process_id` + `stdin`. Default false (stdin is /dev/null).",
        },
        "process_id": {
            "type": "string",
            "description": 'Id of a running process (e.g. "p1") to poll, write to or kill, '
            "instead of starting a new command.",
        },
        "stdin": {
            "type": "string",
            "description": 'Text to write to the process\'s stdin (include "\\n" to end a '
            "line). Needs `process_id`.",
        },
        "kill": {
            "type": "boolean",
            "description": "Stop the process given by `process_id` and everything it started.",
        },
        "escalate": {
            "type": "boolean",
            "description": "Ask to run this command outside the sandbox (needs approval).",
        },
        "justification": {
            "type": "string",
            "description": "Why the command must run outside the sandbox (with `escalate`).",
        },
    },
    "additionalProperties": False,
}

_SMALL_NAMES = ("command", "workdir", "timeout_ms", "escalate", "justification")
SMALL_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        **{name: PARAMETERS["properties"][name] for name in _SMALL_NAMES},
        "command": {
            **PARAMETERS["properties"]["command"],
            "description": "String: run by bash. Array: run as argv without a shell.",
        },
    },
    "required": ["command"],
    "additionalProperties": False,
}


class ShellArgs(BaseModel):
    """The shell tool's arguments. Nulls mean "not given": some providers send every field."""

    model_config = ConfigDict(extra="forbid")

    command: str | list[str] | None = None
    workdir: str | None = None
    timeout_ms: int | None = Field(default=None, ge=1)
    yield_ms: int | None = Field(default=None, ge=0)
    keep_stdin_open: bool | None = None
    process_id: str | None = None
    stdin: str | None = None
    kill: bool | None = None
    escalate: bool | None = None
    justification: str | None = None

    @field_validator("workdir", "process_id", "justification", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        # Servers that make the model fill every property (llama.cpp) send "" for "not given".
        return None if value == "" else value

    @field_validator("command", mode="before")
    @classmethod
    def _command_shape(cls, value: Any) -> Any:
        # One clear message instead of pydantic's one-error-per-union-member.
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(part, str) for part in value):
            return value
        raise ValueError("must be a string (run by bash) or an array of strings (argv)")


def validation_message(exc: ValidationError) -> str:
    allowed = ", ".join(PARAMETERS["properties"])
    problems: list[str] = []
    seen: set[str] = set()
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "arguments"
        if name in seen:
            continue
        seen.add(name)
        if err["type"] == "extra_forbidden":
            problems.append(f"`{name}`: unknown argument (allowed: {allowed})")
            continue
        message = str(err["msg"]).removeprefix("Value error, ")
        problems.append(f"`{name}`: {message} (got {json.dumps(err.get('input'), default=str)})")
    return "invalid shell arguments: " + "; ".join(problems)


def check_combination(args: ShellArgs) -> str | None:
    if args.process_id is not None:
        if args.command is not None:
            return "give either `command` (start a new command) or `process_id`, not both"
        if args.kill and args.stdin is not None:
            return "give either `stdin` or `kill` for a process, not both"
        if args.keep_stdin_open:
            return "`keep_stdin_open` applies when starting a command, not with `process_id`"
        return None
    if args.command is None:
        return "`command` is required (a string or an array of strings), or give `process_id`"
    if args.stdin is not None or args.kill:
        return "`stdin` and `kill` need the `process_id` of a running process"
    if isinstance(args.command, str) and not args.command.strip():
        return "`command` is empty"
    if isinstance(args.command, list) and not args.command:
        return "`command` is an empty array"
    return None
