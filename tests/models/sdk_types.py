"""A strict check of a JSON value against the official SDKs' request TypedDicts.

The OpenAI and Anthropic SDKs publish each endpoint's parameters as (nested) TypedDicts, generated
from the providers' API specs. pydantic would validate them but ignores unknown keys in a
TypedDict, and an unknown key is exactly the mistake to catch (the APIs refuse them), so this
walks the types itself: unknown keys, missing required keys, wrong literals and wrong types are
all reported, with the path of the value.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin

from typing_extensions import ReadOnly, is_typeddict

_WRAPPERS = (Required, NotRequired, ReadOnly, typing.Annotated)
_SEQUENCES = (list, tuple, collections.abc.Iterable, collections.abc.Sequence)


def problems(value: Any, tp: Any, path: str = "body") -> list[str]:
    """What is wrong with `value` as a `tp` (empty: it is one)."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any or tp is object:
        return []
    if origin in _WRAPPERS:
        return problems(value, args[0], path)
    if is_typeddict(tp):
        return _typeddict_problems(value, tp, path)
    if origin in (Union, types.UnionType):
        found = [problems(value, arg, path) for arg in args]
        return [] if any(not f for f in found) else min(found, key=_closeness(path))
    if origin is Literal:
        return [] if value in args else [f"{path}: {value!r} is not one of {list(args)}"]
    if tp is type(None):
        return [] if value is None else [f"{path}: expected null, got {value!r}"]
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        return [p for k, v in value.items() for p in problems(v, args[1], f"{path}.{k}")]
    if origin in _SEQUENCES or getattr(origin, "__name__", "") == "SequenceNotStr":
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {type(value).__name__}"]
        return [p for i, v in enumerate(value) for p in problems(v, args[0], f"{path}[{i}]")]
    return _scalar_problems(value, tp, path)


def _closeness(path: str) -> Any:
    """How far a union member is from the value, to report the member that was meant: one of
    the right shape and `type` tag, with the fewest problems."""

    def key(found: list[str]) -> tuple[bool, bool, int]:
        wrong_shape = any(p.startswith(f"{path}: expected") for p in found)
        wrong_tag = any(p.startswith(f"{path}.type: ") for p in found)
        return wrong_shape, wrong_tag, len(found)

    return key


def _scalar_problems(value: Any, tp: Any, path: str) -> list[str]:
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(tp, type):
        ok = isinstance(value, tp)
    else:
        raise AssertionError(f"{path}: the checker does not know the type {tp!r}")
    return [] if ok else [f"{path}: expected {getattr(tp, '__name__', tp)}, got {value!r}"]


def _typeddict_problems(value: Any, tp: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({tp.__name__}), got {type(value).__name__}"]
    hints = typing.get_type_hints(tp, include_extras=True)
    found = [f"{path}.{key}: not a field of {tp.__name__}" for key in value if key not in hints]
    for key, hint in hints.items():
        if key in value:
            found += problems(value[key], hint, f"{path}.{key}")
        elif _required(tp, key, hint):
            found.append(f"{path}.{key}: required by {tp.__name__}")
    return found


def _required(tp: Any, key: str, hint: Any) -> bool:
    # The SDKs write `Required[...]` in postponed (string) annotations, which the TypedDict
    # machinery does not see: `__required_keys__` only reflects `total`. The hints do show it.
    origin = get_origin(hint)
    if origin is typing.Annotated:
        return _required(tp, key, get_args(hint)[0])
    if origin is Required:
        return True
    return origin is not NotRequired and key in tp.__required_keys__
