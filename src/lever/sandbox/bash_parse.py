"""A strict parser for the part of bash lever can prove things about (DESIGN.md §5, §11).

It splits a command line exactly as bash does for plain words, single and double quotes,
backslashes, `$NAME`/`${NAME}`/`$?`, globs, pipelines, `&&`/`||`/`;`/`&` chains and line
breaks, leading `VAR=value` assignments and redirections. Everything else bash would expand or
evaluate is recorded as a *problem* and not followed: command, process and arithmetic
substitution, `${…}` with an operator or a transformation (`${_@P}` evaluates its value as a
prompt, command substitutions included), special parameters, `$'…'` quoting, here-documents,
subshells, and `{name}>` descriptor variables. A command with a problem is "not provably safe"
and keyed on its raw text. Being wrong in that direction costs one question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ParsedCommand",
    "Redirect",
    "Segment",
    "Word",
    "is_number",
    "parse_command",
    "shell_script",
]

# Longest first, so `&&` wins over `&` and `>>` over `>`.
_OPERATORS = (
    "&>>", "<<<", "&&", "||", "|&", ">>", "<<", "&>", ">&", "<&", ">|", "<>",
    ";", "|", "&", "<", ">", "(", ")", "\n",
)  # fmt: skip
SEPARATORS = frozenset({"&&", "||", "|", "|&", ";", "&", "\n"})
REDIRECTS = frozenset({"&>>", "<<<", ">>", "<<", "&>", ">&", "<&", ">|", "<>", "<", ">"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\+?=")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED_NAME = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_NAMED_FD = re.compile(r"^\{.*\}$")
_SPECIAL_PARAMETERS = set("@*#-$!0123456789")


class _ParseError(ValueError):
    pass


class _Fd(str):
    """The descriptor number in front of a redirection (`2` in `2>&1`); not a word."""


@dataclass(frozen=True)
class Word:
    text: str
    #: As written in the command line (quotes included), and where: for rewriting and keys.
    raw: str = ""
    start: int = -1
    end: int = -1
    #: Contains a `$NAME` expansion outside single quotes, or starts with an unquoted `~`.
    expands: bool = False
    #: Contains an unquoted glob or brace-expansion character.
    globs: bool = False
    #: Any part was quoted or escaped (so it cannot be an operator, fd number or assignment).
    quoted: bool = False

    @property
    def key(self) -> str | tuple[str]:
        """Quoting is irrelevant to what a plain word means; for one that expands it is not
        (`'$X'` is not `$X`, `'*'` is not `*`), so such a word keys on its raw text."""
        return (self.raw,) if self.expands or self.globs else self.text


@dataclass(frozen=True)
class Redirect:
    fd: str
    op: str
    target: str
    #: The target contains an expansion or glob (so its text is not the file bash opens).
    expands: bool = False

    @property
    def key(self) -> tuple[str, str, str, bool]:
        return (self.fd, self.op, self.target, self.expands)


@dataclass(frozen=True)
class Segment:
    """One simple command of a pipeline or chain."""

    #: Leading `VAR=value` words, as written.
    assignments: tuple[str, ...]
    words: tuple[Word, ...]
    redirects: tuple[Redirect, ...] = ()

    @property
    def argv(self) -> tuple[str, ...]:
        return tuple(word.text for word in self.words)

    @property
    def key(self) -> tuple[object, ...]:
        words = tuple(word.key for word in self.words)
        return (self.assignments, words, tuple(r.key for r in self.redirects))


@dataclass(frozen=True)
class ParsedCommand:
    source: str
    segments: tuple[Segment, ...]
    #: The operators between segments (`|`, `&&`, `||`, `;`, `&`), one fewer than segments.
    operators: tuple[str, ...]
    #: Constructs the parser does not follow; any of them makes the command not known safe.
    problems: tuple[str, ...]
    #: The command came as an argv (not a shell string): words map one-to-one onto it.
    is_argv: bool = False

    @property
    def key(self) -> tuple[object, ...]:
        """What "approve for this session" is keyed on (with the working directory): every
        segment's assignments, words and redirections, and the operators between them."""
        if not self.segments or self.problems:
            return ("raw", self.source.strip())
        return ("parsed", tuple(s.key for s in self.segments), self.operators)


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
        self.start = self.bracket = -1
        self.started = self.expands = self.globs = self.quoted = self.brace = False

    def _begin(self) -> None:
        if not self.started:
            self.started, self.start = True, self.i

    def _end_word(self) -> None:
        if self.started:
            text = "".join(self.buf)
            # `{a,b}` and `{1..3}` expand; a lone `{}` (find's placeholder) does not. `[` is a
            # pattern only with a `]` after it (so `[ -d x ]` is the command `[`).
            globs = self.globs or (self.brace and ("," in text or ".." in text))
            globs |= self.bracket >= 0 and "]" in text[self.bracket + 1 :]
            start, raw = self.start, self.s[self.start : self.i]
            self.tokens.append(Word(text, raw, start, self.i, self.expands, globs, self.quoted))
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
                self.problems.append("command substitution")
                self._char(c)
            elif c == "$":
                self._begin()
                self.i = self._dollar(self.i, in_quotes=False)
            elif c in "<>" and s.startswith("(", self.i + 1):
                self.problems.append("process substitution")
                self._char(c)
            elif any(s.startswith(op, self.i) for op in _OPERATORS):
                self._operator()
            else:
                self.globs |= c in "*?"
                if c == "[" and self.bracket < 0:
                    self.bracket = len("".join(self.buf))
                self.brace |= c == "{"
                self.expands |= c == "~" and not self.started  # tilde expansion
                self._char(c)
        self._end_word()
        return self.tokens, self.problems

    def _char(self, c: str) -> None:
        self._begin()
        self.buf.append(c)
        self.i += 1

    def _backslash(self) -> None:
        nxt = self.s[self.i + 1 : self.i + 2]
        if not nxt:
            raise _ParseError("a trailing backslash")
        if nxt != "\n":  # backslash-newline is a line continuation
            self._begin()
            self.buf.append(nxt)
            self.quoted = True
        self.i += 2

    def _single_quote(self) -> None:
        end = self.s.find("'", self.i + 1)
        if end < 0:
            raise _ParseError("an unterminated single quote")
        self._begin()
        self.buf.append(self.s[self.i + 1 : end])
        self.quoted = True
        self.i = end + 1

    def _double_quote(self) -> None:
        s = self.s
        self._begin()
        self.quoted = True
        j = self.i + 1
        while j < len(s) and s[j] != '"':
            if s[j] == "\\" and j + 1 < len(s) and s[j + 1] in '$`"\\\n':
                if s[j + 1] != "\n":
                    self.buf.append(s[j + 1])
                j += 2
            elif s[j] == "$":
                j = self._dollar(j, in_quotes=True)
            else:
                if s[j] == "`":
                    self.problems.append("command substitution")
                self.buf.append(s[j])
                j += 1
        if j >= len(s):
            raise _ParseError("an unterminated double quote")
        self.i = j + 1

    def _dollar(self, j: int, *, in_quotes: bool) -> int:
        """At a `$` (index j): note what it expands, add it to the word, return where it ends."""
        s, nxt = self.s, self.s[j + 1 : j + 2]
        end = j + 2
        if s.startswith("$((", j) or nxt == "[":
            self.problems.append("arithmetic expansion")
        elif nxt == "(":
            self.problems.append("command substitution")
        elif nxt == "{":
            braced = _BRACED_NAME.match(s, j + 1)
            if braced:
                self.expands, end = True, braced.end()
            else:
                self.problems.append("a `${…}` expansion with an operator")
        elif name := _NAME.match(s, j + 1):
            self.expands, end = True, name.end()
        elif nxt == "?":
            self.expands = True
        elif nxt and nxt in _SPECIAL_PARAMETERS:
            self.problems.append(f"the special parameter `${nxt}`")
        elif nxt in ("'", '"') and not in_quotes:
            self.problems.append("`$'…'` or `$\"…\"` quoting")
            end = j + 1
        else:
            end = j + 1  # a lone `$` is a literal dollar sign
        self.buf.append(s[j:end])
        return end

    def _operator(self) -> None:
        op = next(op for op in _OPERATORS if self.s.startswith(op, self.i))
        text = "".join(self.buf)
        if op in REDIRECTS and self.started and not self.quoted and is_number(text):
            self._reset()
            self.tokens.append(_Fd(text))
        else:
            if op in REDIRECTS and self.started and _NAMED_FD.match(text):
                self.problems.append("a `{name}>` descriptor variable")
            self._end_word()
        self.tokens.append(op)
        self.i += len(op)


def is_number(text: str) -> bool:
    """ASCII digits only: `str.isdigit` accepts `²` and `٣`, which bash reads as file names."""
    return text.isascii() and text.isdigit()


# -- parsing -----------------------------------------------------------------------------------


def _segments(
    tokens: list[Word | _Fd | str], problems: list[str]
) -> tuple[list[Segment], list[str]]:
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
        elif token in REDIRECTS:
            target = next(it, None)
            if not isinstance(target, Word):
                raise _ParseError(f"`{token}` without a target")
            if token in ("<<", "<<<"):
                problems.append("a heredoc")
            redirects.append(Redirect(fd, token, target.text, target.expands or target.globs))
            fd = ""
        elif token in "()":
            problems.append("a subshell")
        else:  # a separator
            if not words and not redirects:
                if token == "\n" and (not segments or operators[-1] in SEPARATORS):
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
    while n < len(words) and _ASSIGNMENT.match(words[n].raw):
        n += 1
    return Segment(tuple(w.raw for w in words[:n]), tuple(words[n:]), tuple(redirects))


_SHELLS = {"bash", "sh", "zsh", "dash", "/bin/bash", "/bin/sh", "/usr/bin/bash", "/usr/bin/env"}


def parse_command(command: str | Sequence[str]) -> ParsedCommand:
    """Parse a shell string, or an argv (`["bash", "-lc", script]` is parsed as the script)."""
    if not isinstance(command, str):
        argv = list(command)
        found = shell_script(argv)
        if found is None:
            words = tuple(Word(part, part, quoted=True) for part in argv)
            return ParsedCommand(" ".join(argv), (Segment((), words),), (), (), is_argv=True)
        command = argv[found]
    try:
        tokens, problems = _Tokenizer(command).run()
        segments, operators = _segments(tokens, problems)
    except _ParseError as e:
        return ParsedCommand(command, (), (), (f"lever cannot parse it ({e})",))
    if not segments:
        return ParsedCommand(command, (), (), ("it is empty",))
    return ParsedCommand(command, tuple(segments), tuple(operators), tuple(dict.fromkeys(problems)))


def shell_script(argv: Sequence[str]) -> int | None:
    """Where the script is in `bash -c SCRIPT` / `bash -lc SCRIPT` / `sh -c SCRIPT`, or None."""
    skip = 1 if argv[:1] == ["/usr/bin/env"] else 0
    rest = list(argv[skip:])
    if len(rest) == 3 and rest[0] in _SHELLS and rest[1] in ("-c", "-lc", "-cl"):
        return skip + 2
    if len(rest) == 4 and rest[0] in _SHELLS and rest[1:3] in (["-l", "-c"], ["-c", "-l"]):
        return skip + 3
    return None
