"""Checks of single config values shared by the flags (argparse types) and the typed config.

No pydantic here: `lever.cli.flags` imports this at start-up.
"""

from __future__ import annotations

import re

#: Values of the model-aware request keys (`lever.models.traits` acts on them).
EFFORTS = ("minimal", "low", "medium", "high")
SUMMARIES = ("auto", "concise", "detailed", "none")
APPLY_PATCH_FORMS = ("freeform", "function")

#: `limits.max_turns` when nothing sets it (max_tokens has no default).
DEFAULT_MAX_TURNS = 200
#: `lever exec`'s wall-time limit of a task when neither `--timeout` nor `limits.max_seconds`
#: sets one: a run left alone (overnight, ten at once) ends with exit 3 instead of hanging on
#: something no other limit catches. Interactive sessions have no default: a person watches.
DEFAULT_EXEC_SECONDS = 4 * 3600
COMPACT_AT_ALLOWED = "N tokens (an integer ≥ 1), P% with 0 < P < 100, or a fraction 0 < x < 1"
_COMPACT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


def parse_compact_at(value: object) -> int | float:
    """`compact_at` as an absolute token count (int) or a fraction of the window (float).

    Accepted: 5000, "5000", "60%", 0.6. Raises ValueError (whose message is what is allowed).
    """
    if isinstance(value, bool):
        raise ValueError(COMPACT_AT_ALLOWED)
    if isinstance(value, int):
        if value >= 1:
            return value
        raise ValueError(COMPACT_AT_ALLOWED)
    if isinstance(value, float):
        if 0 < value < 1:
            return value
        raise ValueError(COMPACT_AT_ALLOWED)
    match = _COMPACT_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(COMPACT_AT_ALLOWED)
    number, percent = match.groups()
    if percent:
        fraction = float(number) / 100
        if 0 < fraction < 1:
            return fraction
        raise ValueError(COMPACT_AT_ALLOWED)
    if "." in number:
        return parse_compact_at(float(number))
    return parse_compact_at(int(number))


def plain_model_name(value: str) -> bool:
    """A model name that cannot be read as a file (`--provider local` serves a path it is given)."""
    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:+@-]*", value)) and not value.endswith(
        ".gguf"
    )
