"""Random command lines against bash: what lever calls known safe, bash splits the same way and
runs without writing a file (issue 14, item 8).

Command lines are built (seeded, so failures reproduce) from pieces that trip naive parsers:
quotes, backslashes, comments, line continuations, `\\r`, non-ASCII digits and spaces,
descriptors, redirections, assignments, globs. Each one the classifier lets through runs in
bash with its programs replaced by functions that record their arguments, in an empty folder
that must stay empty. Random git command lines check that neutralising (git_rules.py) inserts
exactly its words where they belong and changes nothing else.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from lever.sandbox.git_rules import neutral_insertions
from lever.sandbox.safe_commands import neutralised_argv, parse_command, unsafe_reason

PIECES = [
    "a", "-o", "'x y'", '"a b"', '"$HOME"', "$HOME", "\\;", "#", "#c", "2>/dev/null", ">/dev/null",
    ">&1", "2>&1", "&>/dev/null", ">>/dev/null", ">&-", ">&²", ">&٣", "1>&2-", '>"/dev/null"',
    "~", "[", "]", "[a]", "{", "}", "{a,b}", "=", "A=1", "LANG=C", "$", '"$"', "'$'", "²", "\u00a0",
    "\r", "\t", " ", "x=y", "'", '"', "\\", "\\'", '\\"', "$?", "${HOME}", ">", "|", "&", "-", "--",
    "1", "2", "\\#", "a#b", "'#'", ">&", ">|", "3>", "a\\ b", '"\\$x"', '"\\\\"', "''", '""',
    "$'x'", "!", "\\\n", "out.txt", "0>", "<>", "&>", "&>>",
]  # fmt: skip
SEPARATORS = [";", "&&", "\n", "||", "|", "&"]
HEADS = ["echo", "ls", "cat", "true"]


def _command(rng: random.Random) -> str:
    parts = [rng.choice(HEADS)]
    for _ in range(rng.randint(0, 7)):
        if rng.random() < 0.15:
            parts += [rng.choice(SEPARATORS), rng.choice(HEADS)]
        else:
            parts.append(rng.choice(PIECES))
    return "".join(part + rng.choice([" ", "", " "]) for part in parts)


def _run_in_bash(command: str, folder: Path, record: Path) -> list[list[str]]:
    """Run `command` with its programs replaced by recorders; the argv each one got."""
    recorder = (
        'record() { builtin printf \'%s\\x1f\' "$@" >>"$OUT"; '
        "builtin printf '\\x1e' >>\"$OUT\"; }\n"
    )
    functions = "".join(f'{head}() {{ record {head} "$@"; }}\n' for head in HEADS)
    subprocess.run(
        ["bash", "-c", recorder + functions + command],
        env={"PATH": os.environ["PATH"], "HOME": "/nonexistent", "OUT": str(record)},
        cwd=folder,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=10,
        check=False,
    )
    data = record.read_bytes().decode() if record.exists() else ""
    return [entry.split("\x1f")[:-1] for entry in data.split("\x1e")[:-1]]


def _comparable(command: str) -> bool:
    """Whether the recorded argv must equal the parse: every program ran, in order, and no word
    expands (a pipeline runs concurrently, `||` skips, a redirection that fails skips)."""
    parsed = parse_command(command)
    if any(op not in (";", "&&") for op in parsed.operators):
        return False
    words = [word for segment in parsed.segments for word in segment.words]
    redirects = [r for segment in parsed.segments for r in segment.redirects]
    return not any(w.expands or w.globs for w in words) and all(
        r.op != ">&" or r.target in ("1", "2", "-") for r in redirects
    )


@pytest.mark.parametrize("seed", range(4))
def test_known_safe_random_commands_split_like_bash_and_write_nothing(
    seed: int, tmp_path: Path
) -> None:
    rng = random.Random(seed)
    checked = 0
    for n in range(150):
        command = _command(rng)
        if unsafe_reason(command) is not None:
            continue
        folder = tmp_path / f"run{n}"
        folder.mkdir()
        got = _run_in_bash(command, folder, tmp_path / f"argv{n}")
        assert list(folder.iterdir()) == [], f"{command!r} wrote a file"
        if _comparable(command):
            expected = [list(segment.argv) for segment in parse_command(command).segments]
            assert got == expected, command
            checked += 1
    assert checked >= 20


GIT_PIECES = [
    "status", "log", "diff", "show", "branch", "'log'", '"diff"', "s\\how", "-p", "--stat",
    "--oneline", "-5", "HEAD", "HEAD~1", "--", "a.py", "'a b'", "\\\n", "  ", "\t", "-P",
    "--no-pager", "#c", "2>/dev/null", "LC_ALL=C", "-c", "core.fsmonitor=false", "--short",
]  # fmt: skip


def _git_command(rng: random.Random) -> str:
    segments = []
    for _ in range(rng.randint(1, 3)):
        words = ["git", *(rng.choice(GIT_PIECES) for _ in range(rng.randint(0, 5)))]
        if rng.random() < 0.3:
            words.insert(0, "LC_ALL=C")
        segments.append(" ".join(words))
    return "".join(s + rng.choice([" && ", "; ", " | ", "\n"]) for s in segments)[:-1]


@pytest.mark.parametrize("seed", range(3))
def test_neutralising_inserts_exactly_the_neutral_words(seed: int) -> None:
    rng = random.Random(seed)
    checked = 0
    for _ in range(300):
        command = _git_command(rng)
        if unsafe_reason(command) is not None:
            continue
        argv = neutralised_argv(command)
        assert argv is not None and argv[:2] == ["bash", "-lc"]
        rewritten = parse_command(argv[2])
        original = parse_command(command)
        assert rewritten.problems == () and rewritten.operators == original.operators
        for old, new in zip(original.segments, rewritten.segments, strict=True):
            expected = list(old.argv)
            if expected[:1] == ["git"]:
                for index, extra in sorted(neutral_insertions(expected[1:]), reverse=True):
                    expected[index + 1 : index + 1] = extra
            assert list(new.argv) == expected, command
            assert new.assignments == old.assignments and new.redirects == old.redirects
        checked += 1
    assert checked >= 30
