"""The known-safe read-only programs, and the arguments that make some of them unsafe.

`PLAIN` programs only read, whatever their arguments (none has an option that writes a file or
runs a program). `CHECKED` programs read too, except with certain options or operands
(`find -delete`, `sort -o`, `uniq IN OUT`, `date -s`, `printf -v 'a[$(cmd)]'`...): each maps to
a function that returns a reason when the arguments are not known safe. Long options are
matched the way the programs match them, by unique prefix (`sort --outp` is `--output`; see
option_tables.py). Lists here are allow-lists where that is practical (git's subcommands, sed's
scripts) because a deny-list misses what it never heard of.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from lever.sandbox.git_rules import git_reason
from lever.sandbox.option_tables import (
    LONG_OPTIONS,
    dangerous_long,
    dangerous_short,
    resolve_long,
    short_letters,
)

Check = Callable[[list[str]], str | None]

PLAIN = frozenset(
    {
        "ls", "cat", "head", "tail", "wc", "pwd", "echo", "nl", "stat", "which", "true",
        "false", "basename", "dirname", "realpath", "readlink", "du", "df", "whoami", "id",
        "uname", "printenv", "cut", "tr", "diff", "cmp", "comm", "grep", "egrep", "fgrep",
        "cd", "type",
    }
)  # fmt: skip
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _short_flags(arg: str) -> str:
    """The letters of a short-option cluster (`-ni` → "ni"); "" for long options and words."""
    if arg.startswith("-") and not arg.startswith("--") and len(arg) > 1:
        return arg[1:]
    return ""


def _option_reason(
    program: str, args: list[str], long: tuple[str, ...], short: str, valued: str = ""
) -> str | None:
    """Why one of `args` is (or abbreviates) a dangerous option, or None. Options end at `--`;
    `valued` are the short options that take a value (what follows them in a cluster is it)."""
    table = LONG_OPTIONS.get(program, frozenset())
    for arg in args:
        if arg == "--":
            return None
        option = dangerous_long(arg, long, table)
        if option:
            named = "" if arg.split("=", 1)[0] == f"--{option}" else f" (`--{option}`)"
            return f"`{program} {arg}`{named} can write files or run programs"
        letter = dangerous_short(arg, short, valued)
        if letter:
            return f"`{program} {arg}` (`-{letter}`) can write files or run programs"
    return None


def _refuse_options(
    program: str, long: tuple[str, ...], short: str = "", valued: str = ""
) -> Check:
    def check(args: list[str]) -> str | None:
        return _option_reason(program, args, long, short, valued)

    return check


_FIND_ACTIONS = {
    "-exec", "-execdir", "-ok", "-okdir", "-delete", "-fls", "-fprint", "-fprint0", "-fprintf",
}  # fmt: skip


def _find(args: list[str]) -> str | None:
    for arg in args:
        if arg in _FIND_ACTIONS:
            return f"`find {arg}` can change files or run programs"
    return None


# One sed command printing lines: `p`, `5p`, `1,20p`, `$p`, `/re/p`, `10,/re/p`.
_SED_ADDR = r"(?:\d+|\$|/(?:[^/\\]|\\.)*/)"
_SED_PRINT = re.compile(rf"^\s*(?:{_SED_ADDR}(?:\s*,\s*{_SED_ADDR})?)?\s*p\s*$")


def _sed(args: list[str]) -> str | None:
    quiet = False
    scripts: list[str] = []
    positional: list[str] = []
    it = iter(args)
    for arg in it:
        if arg in ("-n", "--quiet", "--silent"):
            quiet = True
        elif arg in ("-e", "--expression"):
            scripts.append(next(it, ""))
        elif arg.startswith("--expression="):
            scripts.append(arg.split("=", 1)[1])
        elif arg in ("-E", "-r", "--regexp-extended", "-s", "--separate", "-z", "--null-data"):
            continue
        elif _short_flags(arg):
            if set(_short_flags(arg)) - set("nErsz"):
                return f"`sed {arg}` can write files (only `sed -n` printing is known safe)"
            quiet |= "n" in arg
        elif arg.startswith("--"):
            return f"`sed {arg}` is not known safe"
        else:
            positional.append(arg)
    if not scripts and positional:
        scripts.append(positional.pop(0))
    if not quiet:
        return "only `sed -n` is known safe"
    for script in scripts:
        if not all(_SED_PRINT.match(part) for part in script.split(";")):
            return f"sed script {script!r} is not a plain print"
    return None


def _uniq(args: list[str]) -> str | None:
    # `uniq IN OUT` writes OUT, also as `uniq IN -- -OUT`: at most one operand.
    operands = 0
    options = True
    it = iter(args)
    for arg in it:
        if not options or arg == "-" or not arg.startswith("-"):
            operands += 1
        elif arg == "--":
            options = False
        elif arg in ("-f", "-s", "-w"):
            next(it, None)
    return "`uniq` with a second operand writes that file" if operands > 1 else None


def _date(args: list[str]) -> str | None:
    reason = _option_reason("date", args, ("set",), "s", valued="dfrI")
    if reason:
        return reason
    options = True
    it = iter(args)
    for arg in it:
        if options and arg == "--":
            options = False
        elif options and arg.startswith("-") and arg != "-":
            if _takes_value(arg, "dfr", ("date", "file", "reference")):
                next(it, None)
        elif not arg.startswith("+"):
            return f"`date {arg}`: an operand other than +FORMAT sets the clock"
    return None


def _takes_value(arg: str, letters: str, long: tuple[str, ...]) -> bool:
    """Does this option of `date` take the next argument as its value (`-d X`, `--date X`)?"""
    if arg.startswith("--"):
        return "=" not in arg and resolve_long(arg, LONG_OPTIONS["date"]) in long
    found, value_next = short_letters(arg, letters + "I")
    return value_next and found[-1] != "I"  # `-I` takes its (optional) value only attached


def _hostname(args: list[str]) -> str | None:
    reason = _option_reason("hostname", args, ("file", "boot"), "Fb")
    operand = next((arg for arg in args if arg == "-" or not arg.startswith("-")), None)
    if reason is None and operand is not None:
        return f"`hostname {operand}` sets the host name"
    return reason


def _test(args: list[str]) -> str | None:
    # `test -v NAME` evaluates an array subscript in NAME: `test -v 'a[$(cmd)]'` runs cmd.
    for arg, name in itertools.pairwise(args):
        if arg in ("-v", "-R") and not _IDENTIFIER.fullmatch(name):
            return f"`test {arg} {name}`: a name that is not a plain identifier can run commands"
    return None


def _printf(args: list[str]) -> str | None:
    # `printf -v NAME` assigns NAME, evaluating a subscript: `printf -v 'a[$(cmd)]' x` runs cmd.
    it = iter(args)
    for arg in it:
        if arg == "--" or not arg.startswith("-v"):
            return None
        name = arg[2:] or next(it, "")
        if not _IDENTIFIER.fullmatch(name):
            return f"`printf -v {name}`: a name that is not a plain identifier can run commands"
    return None


def _env(args: list[str]) -> str | None:
    return "`env` with arguments runs a program" if args else None


CHECKED: dict[str, Check] = {
    "find": _find,
    "sed": _sed,
    "git": git_reason,
    "uniq": _uniq,
    "env": _env,
    "date": _date,
    "hostname": _hostname,
    "test": _test,
    "[": _test,
    "printf": _printf,
    "sort": _refuse_options(
        "sort", ("output", "compress-program", "temporary-directory"), "oT", valued="kSTto"
    ),
    "rg": _refuse_options("rg", ("pre", "hostname-bin", "search-zip"), "z"),
    "tree": _refuse_options("tree", ("fromfile",), "oR"),
    "file": _refuse_options(
        "file", ("compile", "uncompress", "uncompress-noreport"), "CzZ", valued="efFmP"
    ),
}
