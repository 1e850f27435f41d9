"""Parse shell commands, key them for the approval cache, and recognise known-safe read-only ones.

The `untrusted` policy runs a command without asking only if it is on a short list of read-only
programs used with no dangerous flag (DESIGN.md §5). The parser is deliberately small and
conservative: it understands quoting, pipelines and `&&`/`||`/`;` chains, assignments and
redirections, and anything beyond that (command substitution, subshells, heredocs, unbalanced
quotes) makes the command "not known safe". Being wrong in that direction costs one question.

The same parse keys "approve for this session" (DESIGN.md §11): the argv of each segment after
harmless leading `VAR=value` assignments, the operators between segments and the redirections,
so the approval survives different spacing or quoting and an env prefix, and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lever.sandbox.safe_rules import CHECKED, PLAIN

__all__ = [
    "ParsedCommand",
    "Segment",
    "command_key",
    "is_known_safe",
    "parse_command",
    "unsafe_reason",
]

# Longest first, so `&&` wins over `&` and `>>` over `>`.
_OPERATORS = (
    "&>>", "<<<", "&&", "||", "|&", ">>", "<<", "&>", ">&", "<&", ">|", "<>",
    ";", "|", "&", "<", ">", "(", ")", "\n",
)  # fmt: skip
_SEPARATORS = {"&&", "||", "|", "|&", ";", "&", "\n"}
_REDIRECTS = {"&>>", "<<<", ">>", "<<", "&>", ">&", "<&", ">|", "<>", "<", ">"}
_GLOB_CHARS = set("*?[")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
#: Assignments that change what a command does or which program runs: kept in the approval key
#: and never part of a known-safe command.
_RISKY_ENV = re.compile(
    r"^(LD_\w*|DYLD_\w*|PATH|BASH_ENV|ENV|IFS|SHELLOPTS|PS4|PROMPT_COMMAND|PYTHON\w*|NODE_OPTIONS"
    r"|PERL5?\w*|RUBY\w*|GIT_\w*|PAGER|EDITOR|VISUAL|LESS\w*|HOME|TMPDIR)$"
)
#: Assignments a known-safe command may carry (they only change formatting).
_HARMLESS_ENV = re.compile(r"^(LANG|LANGUAGE|LC_\w+|TZ|COLUMNS|LINES|NO_COLOR|CLICOLOR\w*|TERM)$")


class _ParseError(ValueError):
    pass


class _Fd(str):
    """The descriptor number in front of a redirection (`2` in `2>&1`); not a word."""


@dataclass(frozen=True)
class Word:
    text: str
    #: Contains a `$` expansion (variable or arithmetic) outside single quotes.
    expands: bool = False
    #: Contains an unquoted glob or brace-expansion character.
    globs: bool = False
    #: Any part was quoted or escaped (so it cannot be an operator, fd number or assignment).
    quoted: bool = False


@dataclass(frozen=True)
class Redirect:
    fd: str
    op: str
    target: str


@dataclass(frozen=True)
class Segment:
    """One simple command of a pipeline or chain."""

    assignments: tuple[str, ...]
    words: tuple[Word, ...]
    redirects: tuple[Redirect, ...] = ()

    @property
    def argv(self) -> tuple[str, ...]:
        return tuple(word.text for word in self.words)


@dataclass(frozen=True)
class ParsedCommand:
    source: str
    segments: tuple[Segment, ...]
    #: The operators between segments (`|`, `&&`, `||`, `;`, `&`), one fewer than segments.
    operators: tuple[str, ...]
    #: Constructs the parser does not follow; any of them makes the command not known safe.
    problems: tuple[str, ...]

    @property
    def key(self) -> tuple[object, ...]:
        """What "approve for this session" is keyed on (with the working directory)."""
        if not self.segments:
            return ("raw", self.source.strip())
        parts: list[object] = []
        for segment in self.segments:
            risky = tuple(a for a in segment.assignments if _RISKY_ENV.match(a.split("=", 1)[0]))
            parts.append((risky, segment.argv, segment.redirects))
        return ("parsed", tuple(parts), self.operators)


# -- tokenizing --------------------------------------------------------------------------------


class _Tokenizer:
    """Splits a bash command line into words and operators, tracking what was quoted."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.tokens: list[Word | _Fd | str] = []
        self.problems: list[str] = []
        self._reset()

    def _reset(self) -> None:
        self.buf: list[str] = []
        self.started = self.expands = self.globs = self.quoted = self.brace = False

    def _end_word(self) -> None:
        if self.started:
            text = "".join(self.buf)
            # `{a,b}` and `{1..3}` expand; a lone `{}` (find's placeholder) does not.
            globs = self.globs or (self.brace and ("," in text or ".." in text))
            word = Word(text, self.expands, globs, self.quoted)
            self.tokens.append(word)
        self._reset()

    def run(self) -> tuple[list[Word | _Fd | str], list[str]]:
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in " \t":
                self._end_word()
                self.i += 1
            elif c == "#" and not self.started:
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end  # a comment runs to the end of the line
            elif c == "\\":
                self._backslash()
            elif c == "'":
                self._single_quote()
            elif c == '"':
                self._double_quote()
            elif c == "`":
                self._substitution("`")
            elif c == "$":
                self._dollar()
            elif c in "<>" and s.startswith("(", self.i + 1):
                self.problems.append("process substitution")
                self._char(c)
            elif any(s.startswith(op, self.i) for op in _OPERATORS):
                self._operator()
            else:
                self.globs |= c in _GLOB_CHARS
                self.brace |= c == "{"
                self._char(c)
        self._end_word()
        return self.tokens, self.problems

    def _char(self, c: str) -> None:
        self.buf.append(c)
        self.started = True
        self.i += 1

    def _backslash(self) -> None:
        nxt = self.s[self.i + 1 : self.i + 2]
        if not nxt:
            raise _ParseError("a trailing backslash")
        self.i += 2
        if nxt != "\n":  # backslash-newline is a line continuation
            self.buf.append(nxt)
            self.started = self.quoted = True

    def _single_quote(self) -> None:
        end = self.s.find("'", self.i + 1)
        if end < 0:
            raise _ParseError("an unterminated single quote")
        self.buf.append(self.s[self.i + 1 : end])
        self.started = self.quoted = True
        self.i = end + 1

    def _double_quote(self) -> None:
        s, j = self.s, self.i + 1
        self.started = self.quoted = True
        while j < len(s) and s[j] != '"':
            if s[j] == "\\" and j + 1 < len(s) and s[j + 1] in '$`"\\\n':
                self.buf.append(s[j + 1])
                j += 2
                continue
            if s[j] == "`" or s.startswith("$(", j):
                self.problems.append("command substitution")
            elif s[j] == "$":
                self.expands = True
            self.buf.append(s[j])
            j += 1
        if j >= len(s):
            raise _ParseError("an unterminated double quote")
        self.i = j + 1

    def _substitution(self, marker: str) -> None:
        self.problems.append("command substitution")
        self._char(marker)

    def _dollar(self) -> None:
        if self.s.startswith("$(", self.i) and not self.s.startswith("$((", self.i):
            self._substitution("$")
            return
        self.expands = True
        self._char("$")

    def _operator(self) -> None:
        op = next(op for op in _OPERATORS if self.s.startswith(op, self.i))
        is_fd = self.buf and not self.quoted and "".join(self.buf).isdigit()
        if op in _REDIRECTS and is_fd:
            fd = _Fd("".join(self.buf))
            self._reset()
            self.tokens.append(fd)
        else:
            self._end_word()
        self.tokens.append(op)
        self.i += len(op)


# -- parsing -----------------------------------------------------------------------------------


def _segments(tokens: list[Word | str], problems: list[str]) -> tuple[list[Segment], list[str]]:
    segments: list[Segment] = []
    operators: list[str] = []
    words: list[Word] = []
    redirects: list[Redirect] = []
    fd = ""
    it = iter(tokens)
    for token in it:
        if isinstance(token, Word):
            words.append(token)
        elif isinstance(token, _Fd):
            fd = str(token)
        elif token in _REDIRECTS:
            target = next(it, None)
            if not isinstance(target, Word):
                raise _ParseError(f"`{token}` without a target")
            if token in ("<<", "<<<"):
                problems.append("a heredoc")
            redirects.append(Redirect(fd, token, target.text))
            fd = ""
        elif token in "()":
            problems.append("a subshell")
        else:  # a separator
            if not words and not redirects:
                if token == "\n" and (not segments or operators[-1] in _SEPARATORS):
                    continue  # a blank line, or a line break after `&&`, `|`, `;`...
                raise _ParseError(f"`{token}` with no command before it")
            segments.append(_segment(words, redirects))
            operators.append(";" if token == "\n" else token)
            words, redirects = [], []
    if words or redirects:
        segments.append(_segment(words, redirects))
    elif operators and operators[-1] in ("&&", "||", "|", "|&"):
        raise _ParseError(f"`{operators[-1]}` with no command after it")
    del operators[len(segments) - 1 :]
    return segments, operators


def _segment(words: list[Word], redirects: list[Redirect]) -> Segment:
    n = 0
    while n < len(words) and not words[n].quoted and _ASSIGNMENT.match(words[n].text):
        n += 1
    return Segment(tuple(w.text for w in words[:n]), tuple(words[n:]), tuple(redirects))


_SHELLS = {"bash", "sh", "zsh", "dash", "/bin/bash", "/bin/sh", "/usr/bin/bash", "/usr/bin/env"}


def parse_command(command: str | Sequence[str]) -> ParsedCommand:
    """Parse a shell string, or an argv (`["bash", "-lc", script]` is parsed as the script)."""
    if not isinstance(command, str):
        argv = list(command)
        script = _shell_script(argv)
        if script is None:
            words = tuple(Word(part, quoted=True) for part in argv)
            return ParsedCommand(" ".join(argv), (Segment((), words),), (), ())
        command = script
    try:
        tokens, problems = _Tokenizer(command).run()
        segments, operators = _segments(tokens, problems)
    except _ParseError as e:
        return ParsedCommand(command, (), (), (f"lever cannot parse it ({e})",))
    if not segments:
        return ParsedCommand(command, (), (), ("it is empty",))
    return ParsedCommand(command, tuple(segments), tuple(operators), tuple(dict.fromkeys(problems)))


def _shell_script(argv: list[str]) -> str | None:
    """The script of `bash -c SCRIPT` / `bash -lc SCRIPT` / `sh -c SCRIPT`, else None."""
    if argv[:1] == ["/usr/bin/env"]:
        argv = argv[1:]
    if len(argv) == 3 and argv[0] in _SHELLS and argv[1] in ("-c", "-lc", "-cl"):
        return argv[2]
    if len(argv) == 4 and argv[0] in _SHELLS and argv[1:3] in (["-l", "-c"], ["-c", "-l"]):
        return argv[3]
    return None


def command_key(command: str | Sequence[str]) -> tuple[object, ...]:
    return parse_command(command).key


# -- the known-safe list -----------------------------------------------------------------------


def unsafe_reason(command: str | Sequence[str] | ParsedCommand) -> str | None:
    """None when the command is known safe (read-only), else a short reason for the person."""
    parsed = command if isinstance(command, ParsedCommand) else parse_command(command)
    if not parsed.segments:
        return parsed.problems[0]
    if parsed.problems:
        return "it uses " + ", ".join(parsed.problems)
    for segment in parsed.segments:
        reason = _segment_reason(segment)
        if reason:
            return reason
    return None


def is_known_safe(command: str | Sequence[str] | ParsedCommand) -> bool:
    return unsafe_reason(command) is None


def _segment_reason(segment: Segment) -> str | None:
    for assignment in segment.assignments:
        name = assignment.split("=", 1)[0]
        if not _HARMLESS_ENV.match(name):
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
        # A variable or glob could expand to a dangerous flag (`find . $X` with X=-delete).
        return f"`{name}` with an expansion or glob in its arguments"
    return reason


def _harmless_redirect(redirect: Redirect) -> bool:
    if redirect.op in (">", ">>", "&>", "&>>", ">|"):
        return redirect.target == "/dev/null"
    if redirect.op in (">&", "<&"):
        return redirect.target.isdigit() or redirect.target == "-"  # fd duplication or close
    return False
