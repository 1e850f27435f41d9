"""Which git commands are known safe, and how lever neutralises the programs git may run.

Read-only git commands still run programs a repository's configuration names:
`core.fsmonitor` (status, diff), the `post-index-change` hook (diff, status refreshing the
index), `diff.external` and `diff.<driver>.command` (diff),
`diff.<driver>.textconv` (diff, log -p, show), `gpg.program` (log and show when
`log.showSignature` is set or a format asks for signatures), the pager (on a terminal). The
configuration need not be the workspace's own: `git -C sub status`, `cd sub && git log` or a
`workdir` of `sub` read `sub/config` when `sub` is a committed bare repository.

So a known-safe git command is only ever run *neutralised*: lever inserts `NEUTRAL_GLOBAL`
after `git` (command-line `-c` wins over every configuration file and is passed on to the git
processes it starts) and, for diff/log/show, `NEUTRAL_DIFF` after the subcommand. Options that
undo that (`--ext-diff`, `--textconv`) or change which repository or configuration is used
(`-C`, `--git-dir`, `--work-tree`, `-c`, `--config-env`, `--exec-path`) are refused.

Not covered: filter drivers (`filter.<name>.clean`) and a partial clone's lazy-fetch transport
named by a `.git/config` lever did not write — a repository unpacked from an archive with its
`.git`, or a nested `.git` someone created. git has no switch to turn them off (docs/sandbox.md).
"""

from __future__ import annotations

import itertools

from lever.sandbox.option_tables import LONG_OPTIONS, dangerous_long, dangerous_short

__all__ = ["NEUTRAL_DIFF", "NEUTRAL_GLOBAL", "git_reason", "neutral_insertions"]

NEUTRAL_GLOBAL: tuple[str, ...] = (
    "--no-pager",
    "--no-optional-locks",  # `git status` would otherwise rewrite .git/index
    "-c", "core.hooksPath=/dev/null",  # `git diff` runs post-index-change when it refreshes
    "-c", "core.fsmonitor=false",
    "-c", "safe.bareRepository=explicit",
    "-c", "log.showSignature=false",
    "-c", "gpg.program=false",
    "-c", "gpg.ssh.program=false",
    "-c", "gpg.x509.program=false",
)  # fmt: skip
NEUTRAL_DIFF: tuple[str, ...] = ("--no-ext-diff", "--no-textconv")

#: `-c` settings a command may carry itself: the neutral ones.
_NEUTRAL_SETTINGS = frozenset(b for a, b in itertools.pairwise(NEUTRAL_GLOBAL) if a == "-c")
_GLOBAL_OK = {"--no-pager", "-P", "--no-optional-locks", "--literal-pathspecs"}
_READ = ("status", "diff", "log", "show", "branch")
_DIFFING = {"diff", "log", "show"}
# `--help` runs man or a configured browser; `--output` writes a file; the rest undo
# the neutralisation. `status -v` prints a diff lever cannot neutralise there.
_DANGEROUS = {
    "diff": ("output", "ext-diff", "textconv", "help"),
    "log": ("output", "ext-diff", "textconv", "help"),
    "show": ("output", "ext-diff", "textconv", "help"),
    "status": ("verbose", "help"),
    "branch": ("help",),
}
_DANGEROUS_SHORT = {"status": "v"}
_BRANCH_LIST = {
    "-a", "--all", "-r", "--remotes", "-l", "--list", "-v", "-vv", "--verbose", "--show-current",
    "--no-color", "--color", "--no-abbrev", "-i", "--ignore-case", "--omit-empty",
}  # fmt: skip
_BRANCH_VALUE = ("--contains", "--no-contains", "--merged", "--no-merged", "--points-at")
_BRANCH_VALUE_EQ = (
    "--sort=", "--format=", "--color=", "--abbrev=", "--column=",
    *(f"{option}=" for option in _BRANCH_VALUE),
)  # fmt: skip


def _subcommand_index(args: list[str]) -> int | str:
    """Where the subcommand is in git's arguments, or why the global options are not safe."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        arg = args[i]
        if arg == "-c" and i + 1 < len(args) and args[i + 1] in _NEUTRAL_SETTINGS:
            i += 2
            continue
        if arg not in _GLOBAL_OK:
            return f"`git {arg}` can change which repository or configuration git uses"
        i += 1
    return i


def git_reason(args: list[str]) -> str | None:
    """None when `git ARGS`, neutralised, only reads; else why not."""
    found = _subcommand_index(args)
    if isinstance(found, str):
        return found
    if found == len(args):
        return None  # bare `git` prints its usage
    sub, rest = args[found], args[found + 1 :]
    if sub not in _READ:
        return f"`git {sub}` is not on the known-safe list ({', '.join(_READ)})"
    for arg in rest:
        if arg == "--":
            break
        option = dangerous_long(arg, _DANGEROUS[sub], LONG_OPTIONS["git-diff"])
        option = f"--{option}" if option else None
        letter = dangerous_short(arg, _DANGEROUS_SHORT.get(sub, ""))
        option = option or (f"-{letter}" if letter else None)
        if option:
            named = "" if arg.split("=", 1)[0] == option else f" (`{option}`)"
            return f"`git {sub} {arg}`{named} can write files or run programs"
    return _branch(rest) if sub == "branch" else None


def _branch(args: list[str]) -> str | None:
    listing = any(arg in ("-l", "--list") for arg in args)
    it = iter(args)
    for arg in it:
        if arg in _BRANCH_LIST or arg.startswith(_BRANCH_VALUE_EQ):
            continue
        if arg in _BRANCH_VALUE:
            next(it, None)
        elif arg.startswith("-") and not arg.startswith("--") and not set(arg[1:]) - set("arlvi"):
            continue
        elif arg.startswith("-"):
            return f"`git branch {arg}` can change branches or configuration"
        elif not listing:
            return f"`git branch {arg}` creates a branch"
    return None


def neutral_insertions(args: list[str]) -> list[tuple[int, tuple[str, ...]]]:
    """For a known-safe `git ARGS`: (index into ARGS before which to insert, what to insert);
    index 0 is right after `git`."""
    found = _subcommand_index(args)
    inserts: list[tuple[int, tuple[str, ...]]] = [(0, NEUTRAL_GLOBAL)]
    if isinstance(found, int) and found < len(args) and args[found] in _DIFFING:
        inserts.append((found + 1, NEUTRAL_DIFF))
    return inserts
