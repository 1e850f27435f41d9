"""The known-safe list and the shell parser behind it (DESIGN.md §5, §11)."""

from __future__ import annotations

import pytest

from lever.sandbox.safe_commands import command_key, is_known_safe, parse_command, unsafe_reason

SAFE = [
    "ls",
    "ls -la src",
    "cat README.md",
    "head -n 20 a.py",
    "tail -5 log.txt",
    "wc -l *.py",
    "rg -n 'def main' src",
    "grep -rn TODO .",
    "find . -name '*.py' -type f",
    "find src -maxdepth 2 -print",
    "git status",
    "git diff HEAD~1 -- src",
    "git log --oneline -n 5",
    "git --no-pager show HEAD:README.md",
    "git branch -a",
    "git branch --list 'feat/*'",
    "pwd",
    "echo hello",
    'echo "a && b"',
    "echo 'a; rm -rf /'",
    "echo '$(rm x)'",
    "echo a\\;rm x",
    "sed -n 1,20p file.py",
    "sed -n '/def f/,/return/p' a.py",
    "nl -ba a.py",
    "sort names.txt | uniq -c",
    "tree -L 2",
    "stat a.py",
    "file a.out",
    "which python",
    "true",
    "ls | head -3 && wc -l a.py",
    "cat a.py | grep foo | sort",
    "ls 2>&1 | head",
    "ls missing 2>/dev/null || echo none",
    "cd src && ls",
    "LANG=C sort a",
    "ls; pwd;",
    "ls # ; rm -rf x",
    "ls\n\npwd",
    ["ls", "-la"],
    ["bash", "-lc", "git status && git diff"],
    "echo $HOME",
]

UNSAFE = [
    ("find . -exec rm {} \\;", "-exec"),
    ("find . -execdir cat {} +", "-execdir"),
    ("find . -name x -delete", "-delete"),
    ("find . -fprint out", "-fprint"),
    ("find . -ok rm {} ;", ""),
    ("find $X", "expansion"),
    ("git -c core.pager=x log", "-c"),
    ("git -C sub log", "-C"),
    ("git --config-env=a=b status", "--config-env"),
    ("git diff --output=patch.txt", "--output"),
    ("git log --ext-diff", "--ext-diff"),
    ("git commit -m x", "commit"),
    ("git push", "push"),
    ("git branch newbranch", "creates"),
    ("git branch -D main", "-D"),
    ("git branch --set-upstream-to=origin/x", "--set-upstream-to"),
    ("cat a > b", "> b"),
    ("echo hi >> notes.txt", ">> notes.txt"),
    ("ls &> out", "&> out"),
    ("ls >& out", ">& out"),
    ("cat < /dev/tcp/example.com/80", "< "),
    ("echo $(rm x)", "command substitution"),
    ('echo "$(rm x)"', "command substitution"),
    ("echo `rm x`", "command substitution"),
    ("cat <(rm x)", "process substitution"),
    ("(rm x)", "subshell"),
    ("ls && rm x", "rm"),
    ("ls; rm x", "rm"),
    ("ls || rm x", "rm"),
    ("ls | sh", "sh"),
    ("ls & rm x", "rm"),
    ("sed -i s/a/b/ f", "-i"),
    ("sed -ni 1p f", "-ni"),
    ("sed -n --in-place 1p f", "--in-place"),
    ("sed s/a/b/ f", "sed -n"),
    ("sed -n 'w out' f", "not a plain print"),
    ("sed -n '1e rm x' f", "not a plain print"),
    ("sort -o out in", "-o"),
    ("sort --output=out in", "--output"),
    ("uniq in out", "second operand"),
    ("tree -o out", "-o"),
    ("rg --pre ./x foo", "--pre"),
    ("eval ls", "eval"),
    ("exec ls", "exec"),
    ("bash -c ls", "bash"),
    ("rm -rf build", "rm"),
    ("python -c 'print(1)'", "python"),
    ("env rm x", "env"),
    ("xargs rm < list", ""),
    ("./ls", "./ls"),
    ("/tmp/ls", "/tmp/ls"),
    ("$CMD x", "$CMD"),
    ("FOO=1 ls", "FOO"),
    ("LD_PRELOAD=/tmp/x.so cat a", "LD_PRELOAD"),
    ("PATH=/tmp:$PATH ls", "PATH"),
    ("echo 'unterminated", "cannot parse"),
    ('echo "unterminated', "cannot parse"),
    ("ls &&", "cannot parse"),
    ("&& ls", "cannot parse"),
    ("ls ;; pwd", "cannot parse"),
    ("cat <<EOF\nhi\nEOF", "heredoc"),
    ("{ rm x; }", "{"),
    ("date -s 2020-01-01", "-s"),
    ("", "empty"),
    (["rm", "-rf", "/"], "rm"),
    (["bash", "-lc", "ls && rm x"], "rm"),
]


@pytest.mark.parametrize("command", SAFE, ids=repr)
def test_known_safe(command: str | list[str]) -> None:
    assert unsafe_reason(command) is None
    assert is_known_safe(command)


@pytest.mark.parametrize(("command", "why"), UNSAFE, ids=lambda v: repr(v))
def test_not_known_safe(command: str | list[str], why: str) -> None:
    reason = unsafe_reason(command)
    assert reason is not None and not is_known_safe(command)
    assert why in reason


def test_there_are_many_cases() -> None:
    assert len(SAFE) + len(UNSAFE) >= 40


def test_quotes_hide_operators_but_not_substitutions() -> None:
    (segment,) = parse_command("echo \"a && b\" 'c | d'").segments
    assert segment.argv == ("echo", "a && b", "c | d")
    assert parse_command('echo "$(id)"').problems == ("command substitution",)


def test_pipeline_and_chain_segments() -> None:
    parsed = parse_command("FOO=1 cargo build && cargo test | tee log; echo done")
    assert [s.argv for s in parsed.segments] == [
        ("cargo", "build"),
        ("cargo", "test"),
        ("tee", "log"),
        ("echo", "done"),
    ]
    assert parsed.operators == ("&&", "|", ";")
    assert parsed.segments[0].assignments == ("FOO=1",)


def test_redirections_are_parsed_with_their_descriptor() -> None:
    (segment,) = parse_command("make 2>&1 >build.log").segments
    assert segment.argv == ("make",)
    assert [(r.fd, r.op, r.target) for r in segment.redirects] == [
        ("2", ">&", "1"),
        ("", ">", "build.log"),
    ]


# -- the approval key --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "cargo   test  --all",
        "  cargo test --all  ",
        "cargo 'test' \"--all\"",
        "cargo test --all;",
        ["cargo", "test", "--all"],
        ["bash", "-lc", "cargo test --all"],
    ],
    ids=repr,
)
def test_key_ignores_spacing_and_quoting(variant: str | list[str]) -> None:
    assert command_key(variant) == command_key("cargo test --all")


@pytest.mark.parametrize(
    "other",
    [
        "cargo test",
        "cargo test --all --release",
        "cargo test --all && rm -rf x",
        "cargo test --all > out",
        "LD_PRELOAD=/tmp/x.so cargo test --all",
        "RUST_LOG=debug cargo test --all",
        "cargo test --all | sh",
        "cargo build --all",
    ],
    ids=repr,
)
def test_key_tells_different_commands_apart(other: str) -> None:
    assert command_key(other) != command_key("cargo test --all")


def test_unparseable_commands_key_on_their_text() -> None:
    assert command_key("echo 'x") == ("raw", "echo 'x")
    assert command_key("echo 'x") != command_key("echo 'y")
