"""Which theme the app starts with: `--theme`, else config `[tui] theme`, else the terminal's.

`dark` and `light` are lever's names for Textual's default pair; any Textual theme name works
too (`solarized-light`, `nord`, …). `auto` (the default) reads the terminal's background from
COLORFGBG, which rxvt, Konsole and others export; without it the app is dark.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lever.tui.launch import Launch

THEMES = {"dark": "textual-dark", "light": "textual-light"}
DEFAULT = "textual-dark"
#: ANSI colour numbers of a white background in COLORFGBG ("FG;BG" or "FG;default;BG").
_LIGHT_BACKGROUNDS = {"7", "15"}


def theme_choice(launch: Launch) -> str:
    """The theme asked for, before it is checked: the flag, the configuration, or `auto`."""
    flag = getattr(launch.args, "theme", None)
    if flag:
        return str(flag)
    from lever.config.loader import load_unchecked

    # Unchecked (checking loads pydantic before the first frame): the session, opened next,
    # reports a broken configuration.
    args = launch.args
    overrides = list(getattr(args, "overrides", None) or [])
    table = load_unchecked(launch.cwd, overrides, getattr(args, "profile", None)).get("tui", {})
    return str(table.get("theme") or "auto") if isinstance(table, dict) else "auto"


def theme_name(choice: str, environ: Mapping[str, str] = os.environ) -> str:
    choice = choice.strip()
    if choice == "auto":
        background = environ.get("COLORFGBG", "").split(";")[-1]
        choice = "light" if background in _LIGHT_BACKGROUNDS else "dark"
    return THEMES.get(choice, choice)


def pick_theme(launch: Launch) -> tuple[str, str]:
    """(the Textual theme to start with, a problem to tell the person or "")."""
    from textual.theme import BUILTIN_THEMES

    choice = theme_choice(launch)
    name = theme_name(choice)
    if name not in BUILTIN_THEMES:
        known = ", ".join(["auto", *THEMES, *sorted(BUILTIN_THEMES)])
        return DEFAULT, f"unknown theme {choice!r}; one of: {known}"
    return name, ""
