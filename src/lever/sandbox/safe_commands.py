"""Recognise known-safe read-only commands, key commands for the approval cache.

The `untrusted` policy runs a command without asking only if lever can prove it only reads: it
parses with the strict parser of bash_parse.py (anything it does not follow makes the command
"not known safe"), and every segment must be a program of the known-safe list (safe_rules.py)
used with no dangerous option or operand. Being wrong in that direction costs one question.
git commands on the list are run neutralised (`neutralised_argv`, git_rules.py).

The same parse keys "approve for this session" (DESIGN.md §11, issue 14): every segment's
environment assignments, words and redirections and the operators between them, so the
approval survives different spacing or quoting and nothing else — `XDG_CONFIG_HOME=./cfg git
commit` is a different command from `git commit`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lever.sandbox.bash_parse import (
    ParsedCommand,
    Redirect,
    Segment,
    Word,
    is_number,
    parse_command,
    shell_script,
)
from lever.sandbox.git_rules import neutral_insertions
from lever.sandbox.safe_rules import CHECKED, PLAIN

__all__ = [
    "ParsedCommand",
    "Segment",
    "Word",
    "command_key",
    "is_known_safe",
    "neutralised_argv",
    "parse_command",
    "unsafe_reason",
]

#: Assignments a known-safe command may carry (they only change formatting).
_HARMLESS_ENV = ("LANG", "LANGUAGE", "TZ", "COLUMNS", "LINES", "NO_COLOR", "TERM")
_HARMLESS_ENV_PREFIXES = ("LC_", "CLICOLOR")
#: Redirection targets that open a network connection instead of a file.
_NETWORK_PATHS = ("/dev/tcp/", "/dev/udp/")


def command_key(command: str | Sequence[str]) -> tuple[object, ...]:
    return parse_command(command).key


def unsafe_reason(command: str | Sequence[str] | ParsedCommand) -> str | None:
    """None when the command is known safe (read-only), else a short reason for the person."""
    parsed = command if isinstance(command, ParsedCommand) else parse_command(command)
    if not parsed.segments:
        return parsed.problems[0]
    if parsed.problems:
        return "it uses " + ", ".join(parsed.problems) + ", which lever does not follow"
    for segment in parsed.segments:
        reason = _segment_reason(segment)
        if reason:
            return reason
    return None


def is_known_safe(command: str | Sequence[str] | ParsedCommand) -> bool:
    return unsafe_reason(command) is None


def _segment_reason(segment: Segment) -> str | None:
    for assignment in segment.assignments:
        name = assignment.split("=", 1)[0].rstrip("+")
        if name not in _HARMLESS_ENV and not name.startswith(_HARMLESS_ENV_PREFIXES):
            return f"it sets {name}"
    for redirect in segment.redirects:
        if not _harmless_redirect(redirect):
            return f"it redirects with `{redirect.fd}{redirect.op} {redirect.target}`"
    if not segment.words:
        return "it has no command"
    head, args = segment.words[0], segment.words[1:]
    name = head.text
    if head.expands or head.globs or "/" in name:
        return f"`{name}` is not on the known-safe list"
    if name in PLAIN:
        return None
    check: Callable[[list[str]], str | None] | None = CHECKED.get(name)
    if check is None:
        return f"`{name}` is not on the known-safe list"
    reason = check([word.text for word in args])
    if reason is None and any(word.expands or word.globs for word in args):
        # A variable or glob could expand to a dangerous flag (`find . $X` with X=-delete;
        # `$_` is the last word of the previous command, so a command line can set it).
        return f"`{name}` with an expansion or glob in its arguments"
    return reason


def _harmless_redirect(redirect: Redirect) -> bool:
    if redirect.expands:
        return False
    if redirect.op in (">", ">>", "&>", "&>>", ">|"):
        return redirect.target == "/dev/null"
    if redirect.op in (">&", "<&"):
        # fd duplication or close; `>&word` with anything else writes the file `word`
        return is_number(redirect.target) or redirect.target == "-"
    if redirect.op == "<":
        return not redirect.target.startswith(_NETWORK_PATHS)
    return False


# -- neutralising ------------------------------------------------------------------------------


def neutralised_argv(command: str | Sequence[str]) -> list[str] | None:
    """For a known-safe command with git in it: the argv that runs it neutralised (git_rules.py);
    None when there is nothing to change."""
    parsed = parse_command(command)
    gits = [s for s in parsed.segments if s.words and s.words[0].text == "git"]
    if not gits or parsed.problems:
        return None
    if parsed.is_argv:
        argv = [word.text for word in parsed.segments[0].words]
        return ["git", *_inserted(argv[1:])]
    # Insert into the script's text, from the end so earlier offsets stay right.
    script = parsed.source
    edits: list[tuple[int, str]] = []
    for segment in gits:
        words = segment.words
        for index, extra in neutral_insertions([w.text for w in words[1:]]):
            edits.append((words[index].end, " " + " ".join(extra)))
    for offset, text in sorted(edits, reverse=True):
        script = script[:offset] + text + script[offset:]
    if isinstance(command, str):
        return ["bash", "-lc", script]
    argv = list(command)
    found = shell_script(argv)
    assert found is not None  # a shell string came from an argv's script
    argv[found] = script
    return argv


def _inserted(args: list[str]) -> list[str]:
    out = list(args)
    for index, extra in sorted(neutral_insertions(args), reverse=True):
        out[index:index] = extra
    return out
