"""The environment commands run with: secrets never reach them."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

SECRET_PATTERNS = ("*KEY*", "*TOKEN*", "*SECRET*", "*PASSWORD*", "*CREDENTIAL*")


def looks_secret(name: str, patterns: Iterable[str] = SECRET_PATTERNS) -> bool:
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern) for pattern in patterns)


def command_env(
    environ: Mapping[str, str],
    *,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    set_vars: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """`environ` without secret-looking variables (unless named in `include`), plus `set_vars`.

    Commands are non-interactive: pagers and editors are pinned so nothing waits for a terminal.
    """
    keep = set(include)
    drop = list(exclude)
    env = {
        name: value
        for name, value in environ.items()
        if name in keep or not (looks_secret(name) or looks_secret(name, drop))
    }
    env.update({"PAGER": "cat", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "TERM": "dumb"})
    env.update(set_vars or {})
    return env
