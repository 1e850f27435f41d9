"""Checking configuration against `lever.config.schema`: one line per problem, for people.

A problem names where it came from (`-c TEXT`, or the file and line), the key, the value and
what is allowed; a mistyped key gets a "did you mean". tomllib keeps no positions, so the line is
found by scanning the file's text for the key's table and name (`locate`): right for the usual
layouts, the table's line when the key sits in an inline table, no line when nothing matches.
"""

from __future__ import annotations

import difflib
import json
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from lever.config.providers import ConfigError
from lever.config.schema import LeverConfig


@dataclass(frozen=True)
class Problem:
    key: str
    #: The key's path in the document, without list positions: what `locate` looks for.
    path: tuple[str, ...]
    #: The value as TOML writes it; None for an unknown key.
    value: str | None
    #: What is allowed, or for an unknown key the "did you mean".
    detail: str

    def __str__(self) -> str:
        if self.value is None:
            return f"unknown key {self.key}{self.detail}"
        return f"{self.key} = {self.value}: expected {self.detail}"


def check(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """(the checked configuration as plain data, problems); the data is {} when there are any."""
    try:
        model = LeverConfig.model_validate(data)
    except ValidationError as e:
        return {}, [_problem(error) for error in e.errors()]
    return model.model_dump(by_alias=True, exclude_unset=True), []


def check_file(path: Path, text: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` read from `path` (whose text is `text`), checked; ConfigError at the first problem."""
    checked, problems = check(data)
    if problems:
        raise ConfigError(file_message(path, text, first_in_file(text, problems)))
    return checked


def check_override(override: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """One `-c KEY=VALUE`, checked on its own."""
    checked, problems = check(data)
    if problems:
        problem = problems[0]
        same_key = problem.key == override.partition("=")[0].strip()
        text = f"expected {problem.detail}" if same_key and problem.value else str(problem)
        raise ConfigError(f"error: -c {override}: {text}")
    return checked


def first_in_file(text: str, problems: Sequence[Problem]) -> Problem:
    """The problem that comes first in the file (pydantic orders them by field)."""
    lines = {p: locate(text, p.path) or 1_000_000 for p in problems}
    return min(problems, key=lambda p: lines[p])


def file_message(path: Path, text: str, problem: Problem) -> str:
    line = locate(text, problem.path)
    where = f"{path}:{line}" if line else str(path)
    return f"error: {where}: {problem}"


def _problem(error: Any) -> Problem:
    loc = tuple(error["loc"])
    key = _dotted(loc)
    path = tuple(str(part) for part in loc if not isinstance(part, int))
    if error["type"] == "extra_forbidden":
        return Problem(key, path, None, _suggestion(path))
    return Problem(key, path, _show(error["input"]), _allowed(path))


def _dotted(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _show(value: Any) -> str:
    """A value as TOML would write it (short)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int | float):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, dict):
        text = "a table"
    elif isinstance(value, list):
        text = "a list"
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- the schema, walked along a key's path ----------------------------------------------------


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """Field infos by the name used in the file (the alias, where there is one)."""
    return {info.alias or name: info for name, info in model.model_fields.items()}


def _nested(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(the table model inside an annotation, whether it is a table of such tables by NAME)."""
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg, False
        if typing.get_origin(arg) is dict:
            inner = typing.get_args(arg)[1]
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner, True
    return None, False


def _walk(path: Sequence[str]) -> tuple[type[BaseModel] | None, Any, list[str]]:
    """(the model holding the last key, its field info or None, the parent path's keys)."""
    model: type[BaseModel] | None = LeverConfig
    info: Any = None
    index = 0
    while index < len(path) and model is not None:
        holder = model
        info = _fields(holder).get(path[index])
        if info is None or index == len(path) - 1:
            return holder, info, list(path[:index])
        model, by_name = _nested(info.annotation)
        index += 2 if by_name else 1
    return None, info, list(path[:-1])


def _allowed(path: Sequence[str]) -> str:
    _, info, _ = _walk(path)
    if info is None or not info.description:
        return "a value of the right type"
    return str(info.description)


def _leaves(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key of the schema as a dotted path (tables by NAME shown as `NAME`)."""
    out: list[str] = []
    for name, info in _fields(model).items():
        out.append(prefix + name)
        inner, by_name = _nested(info.annotation)
        if inner is not None and inner is not LeverConfig:
            out += _leaves(inner, prefix + name + (".NAME." if by_name else "."))
    return out


def _suggestion(path: Sequence[str]) -> str:
    holder, _, parents = _walk(path)
    name = path[-1]
    known = list(_fields(holder)) if holder is not None else []
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f" — did you mean {'.'.join([*parents, close[0]])}?"
    # The right name in the wrong table: `max_turns = 5` at the top means `limits.max_turns`.
    elsewhere = [
        leaf
        for leaf in _leaves(LeverConfig)
        if leaf.rsplit(".", 1)[-1] == name and ".NAME." not in leaf
    ]
    if elsewhere:
        return f" — did you mean {elsewhere[0]}?"
    table = f"[{'.'.join(parents)}]" if parents else "the top level"
    return f" (known keys in {table}: {', '.join(known)})" if known else ""


# -- finding a key's line in TOML text -------------------------------------------------------

_HEADER = re.compile(r"^\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)


def _split_key(text: str) -> tuple[str, ...]:
    parts = re.findall(r"""\s*("[^"]*"|'[^']*'|[^.\s]+)\s*(?:\.|$)""", text)
    return tuple(part.strip("\"'") for part in parts)


def locate(text: str, path: Sequence[str]) -> int | None:
    """The 1-based line where `path` is set in TOML `text`, else that of its closest parent."""
    wanted = tuple(path)
    table: tuple[str, ...] = ()
    best, best_depth = None, 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        header = _HEADER.match(line) if line.startswith("[") else None
        if header:
            table = _split_key(header.group(1))
            full = table
        elif key := _KEY.match(line):
            full = table + _split_key(key.group(1))
        else:
            continue
        if full[: len(wanted)] == wanted:  # the key itself, or the first table under it
            return number
        if wanted[: len(full)] == full and len(full) > best_depth:
            best, best_depth = number, len(full)
    return best
