"""The known-safe read-only programs, and the flags that make some of them unsafe.

`PLAIN` programs only read, whatever their arguments. `CHECKED` programs read too, except with
certain flags (`find -delete`, `sort -o`, `git -c`...): each maps to a function that returns a
reason when the arguments are not known safe. Lists here are allow-lists where that is
practical (git's subcommands, sed's scripts) because a deny-list misses what it never heard of.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

Check = Callable[[list[str]], str | None]

PLAIN = frozenset(
    {
        "ls", "cat", "head", "tail", "wc", "pwd", "echo", "nl", "stat", "which", "true",
        "false", "basename", "dirname", "realpath", "readlink", "du", "df", "whoami", "id",
        "uname", "printenv", "cut", "tr", "diff", "cmp", "comm", "grep", "egrep", "fgrep",
        "test", "[", "cd", "printf", "hostname", "type",
    }
)  # fmt: skip


def _short_flags(arg: str) -> str:
    """The letters of a short-option cluster (`-ni` → "ni"); "" for long options and words."""
    if arg.startswith("-") and not arg.startswith("--") and len(arg) > 1:
        return arg[1:]
    return ""


def _has_option(args: Iterable[str], long: Iterable[str], short: str = "") -> str | None:
    """The first argument that is one of the `long` options (or `--opt=...`) or has a letter
    of `short` in its cluster; None if there is none."""
    longs = tuple(long)
    for arg in args:
        if arg == "--":
            return None
        if arg.startswith("--") and arg.split("=", 1)[0] in longs:
            return arg
        if short and any(letter in short for letter in _short_flags(arg)):
            return arg
    return None


def _refuse_options(program: str, long: Iterable[str], short: str = "") -> Check:
    def check(args: list[str]) -> str | None:
        found = _has_option(args, long, short)
        return f"`{program} {found}` can write or run programs" if found else None

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
    # `uniq IN OUT` writes OUT: at most one file operand.
    operands = 0
    it = iter(args)
    for arg in it:
        if arg in ("-f", "-s", "-w"):
            next(it, None)
        elif not arg.startswith("-") or arg == "-":
            operands += 1
    return "`uniq` with an output file" if operands > 1 else None


def _env(args: list[str]) -> str | None:
    return "`env` with arguments runs a program" if args else None


_GIT_GLOBAL_OK = {"--no-pager", "-P", "--no-optional-locks", "--literal-pathspecs"}
_GIT_READ = {"status", "diff", "log", "show", "branch"}
# Options of diff/log/show that write a file or run a program (external diff, textconv).
_GIT_WRITE_OPTIONS = ("--output", "--ext-diff", "--textconv", "--exec", "--upload-pack")
_BRANCH_LIST = {
    "-a", "--all", "-r", "--remotes", "-l", "--list", "-v", "-vv", "--verbose", "--show-current",
    "--no-color", "--color", "--no-abbrev", "-i", "--ignore-case", "--omit-empty",
}  # fmt: skip
_BRANCH_VALUE = ("--contains", "--no-contains", "--merged", "--no-merged", "--points-at")
_BRANCH_VALUE_EQ = (
    "--sort=", "--format=", "--color=", "--abbrev=", "--column=",
    *(f"{option}=" for option in _BRANCH_VALUE),
)  # fmt: skip


def _git(args: list[str]) -> str | None:
    i = 0
    while i < len(args) and args[i].startswith("-"):
        if args[i] == "-C" and i + 1 < len(args):
            i += 2
            continue
        if args[i] not in _GIT_GLOBAL_OK:
            return f"`git {args[i]}` can change git's configuration or behaviour"
        i += 1
    if i == len(args):
        return None  # bare `git` prints its help
    sub, rest = args[i], args[i + 1 :]
    if sub not in _GIT_READ:
        return f"`git {sub}` is not on the known-safe list (status, diff, log, show, branch)"
    found = _has_option(rest, _GIT_WRITE_OPTIONS)
    if found:
        return f"`git {sub} {found}` can write files or run programs"
    return _git_branch(rest) if sub == "branch" else None


def _git_branch(args: list[str]) -> str | None:
    listing = any(arg in ("-l", "--list") for arg in args)
    it = iter(args)
    for arg in it:
        if arg in _BRANCH_LIST or arg.startswith(_BRANCH_VALUE_EQ):
            continue
        if arg in _BRANCH_VALUE:
            next(it, None)
        elif _short_flags(arg) and not set(_short_flags(arg)) - set("arlvi"):
            continue
        elif arg.startswith("-"):
            return f"`git branch {arg}` can change branches or configuration"
        elif not listing:
            return f"`git branch {arg}` creates a branch"
    return None


CHECKED: dict[str, Check] = {
    "find": _find,
    "sed": _sed,
    "git": _git,
    "uniq": _uniq,
    "env": _env,
    "sort": _refuse_options("sort", ("--output", "--compress-program"), short="o"),
    "rg": _refuse_options("rg", ("--pre", "--hostname-bin", "--search-zip"), short="z"),
    "tree": _refuse_options("tree", ("--fromfile",), short="o"),
    "file": _refuse_options("file", ("--compile",), short="C"),
    "date": _refuse_options("date", ("--set",), short="s"),
}
