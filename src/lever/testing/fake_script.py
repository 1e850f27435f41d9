"""Scripts for the fake model server: loading, validation, and the record of each request.

The script format is described in `lever.testing.fake_model`.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lever.testing.fake_faults import FAULTS

_TURN_KEYS = {
    "fault",
    "text",
    "reasoning",
    "tool_calls",
    "usage",
    "delay_ms",
    "event_delay_ms",
    "error",
    "drop_after",
    "raw",
    "cut",
}
_USAGE_KEYS = {"input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens"}

ScriptSource = Sequence[Mapping[str, Any]] | Mapping[str, Any] | str | os.PathLike[str]


@dataclass
class RecordedRequest:
    method: str
    path: str
    #: Header names in lower case (the last value wins for repeated headers).
    headers: dict[str, str]
    #: The parsed JSON body ({} when it was empty or not a JSON object).
    body: dict[str, Any]
    query: str = ""
    #: "openai-responses", "openai-chat", "anthropic", or None for an unknown path.
    protocol: str | None = None
    #: Index of the script turn this request consumed (None if it consumed none).
    turn: int | None = None
    #: The HTTP status it was answered with (None while it is being answered).
    status: int | None = None
    #: Why the fake refused it without playing a turn: "context_limit" or "pairing".
    rejected: str | None = None
    #: The body exactly as received, for byte-level checks (prompt-cache stability).
    raw: bytes = field(default=b"", repr=False)
    #: When it arrived (time.time()), for per-step timings measured from the server's side.
    received: float = field(default_factory=time.time, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("raw")  # `body` carries it, parsed
        data.pop("received")
        return data


class ScriptError(ValueError):
    """The script is malformed; raised when it is loaded, not when a test is half done."""


def load_script(source: ScriptSource) -> tuple[list[dict[str, Any]], list[str] | None]:
    """Read a script (a path, a `{"turns", "models"}` dict or a list of turns); validate it."""
    data: Any = source
    if isinstance(source, str | os.PathLike):
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    models: list[str] | None = None
    if isinstance(data, Mapping):
        unknown = set(data) - {"turns", "models"}
        if unknown:
            raise ScriptError(f"unknown script keys: {sorted(unknown)}")
        models = data.get("models")
        if models is not None and not (
            isinstance(models, list) and all(isinstance(m, str) for m in models)
        ):
            raise ScriptError("script 'models' must be a list of strings")
        data = data.get("turns", [])
    if not isinstance(data, Sequence) or isinstance(data, str):
        raise ScriptError("script turns must be a list of dicts")
    return [validate_turn(turn, i) for i, turn in enumerate(data)], models


def validate_turn(turn: Any, index: int) -> dict[str, Any]:
    # Typos in a script should fail at load time, not as a puzzling assertion much later.
    where = f"script turn {index}"
    if not isinstance(turn, Mapping):
        raise ScriptError(f"{where}: must be a dict, got {type(turn).__name__}")
    unknown = set(turn) - _TURN_KEYS
    if unknown:
        raise ScriptError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("text", "reasoning", "raw"):
        if key in turn and not isinstance(turn[key], str):
            raise ScriptError(f"{where}: {key!r} must be a str")
    for key in ("delay_ms", "event_delay_ms", "drop_after"):
        if key in turn and not (isinstance(turn[key], int | float) and turn[key] >= 0):
            raise ScriptError(f"{where}: {key!r} must be a number >= 0")
    if not isinstance(turn.get("cut", False), bool):
        raise ScriptError(f"{where}: 'cut' must be a bool")
    if turn.get("fault", "stall") not in FAULTS:
        raise ScriptError(f"{where}: 'fault' must be one of {FAULTS}")
    if not isinstance(turn.get("tool_calls", []), list):
        raise ScriptError(f"{where}: 'tool_calls' must be a list")
    for call in turn.get("tool_calls", []):
        if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
            raise ScriptError(f"{where}: each tool call needs a 'name' str")
        if set(call) - {"name", "arguments", "call_id"}:
            raise ScriptError(f"{where}: tool call keys are name, arguments, call_id")
        if not isinstance(call.get("arguments", {}), dict | str):
            raise ScriptError(f"{where}: tool call 'arguments' must be a dict or a str")
    usage = turn.get("usage", {})
    if not isinstance(usage, Mapping) or set(usage) - _USAGE_KEYS:
        raise ScriptError(f"{where}: 'usage' keys are {sorted(_USAGE_KEYS)}")
    if not all(isinstance(v, int) and v >= 0 for v in usage.values()):
        raise ScriptError(f"{where}: 'usage' values must be ints >= 0")
    error = turn.get("error")
    if error is not None and not (
        isinstance(error, Mapping) and isinstance(error.get("status"), int)
    ):
        raise ScriptError(f"{where}: 'error' needs an int 'status'")
    # A private copy, so a test mutating its list afterwards cannot change what is played.
    return copy.deepcopy(dict(turn))
