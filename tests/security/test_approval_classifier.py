"""The known-safe classifier against hostile and everyday commands (issue 14, item 8).

`REFUSED` must never run without asking under `-a untrusted` (each with the reason the person
reads); `AUTO` are everyday read-only commands that must keep running without a question. bash
itself is the oracle for how the parser splits words, and a real git repository with a hostile
configuration proves that known-safe git commands run neutralised.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lever.sandbox.safe_commands import (
    is_known_safe,
    neutralised_argv,
    parse_command,
    unsafe_reason,
)

# (command, a part of the reason) — the reason is what the person is shown.
REFUSED: list[tuple[str | list[str], str]] = [
    # bash parameter transformations and indirection: `${_@P}` evaluates `$_` as a prompt.
    ("echo ${_@P}", "`${…}` expansion with an operator"),
    ('echo "${_@P}"', "`${…}` expansion with an operator"),
    ("echo ${HOME/x/y}", "`${…}` expansion with an operator"),
    ("echo ${!name}", "`${…}` expansion with an operator"),
    ("echo ${#PATH}", "`${…}` expansion with an operator"),
    # array subscripts are arithmetic, which runs command substitutions
    ("test -v 'a[$(touch pwned)]'", "not a plain identifier"),
    ("[ -v 'a[$(touch pwned)]' ]", "not a plain identifier"),
    ("printf -v 'a[$(touch pwned)]' x", "not a plain identifier"),
    ("printf -v'a[$(touch pwned)]' x", "not a plain identifier"),
    ('test -v "$X"', "not a plain identifier"),
    ("echo -v; test $_ 'a[$(touch pwned)]'", "expansion or glob"),
    # GNU long-option abbreviations
    ("sort --outp=F names.txt", "(`--output`)"),
    ("sort --compress-prog=./x big.txt", "(`--compress-program`)"),
    ("sort --output=out in", "--output"),
    ("sort -o out in", "(`-o`)"),
    ("sort -mo out a b", "(`-o`)"),
    ("sort -T /etc in", "(`-T`)"),
    ("file --comp", "(`--compile`)"),
    ("file -C -m magic", "(`-C`)"),
    ("file -z archive.gz", "(`-z`)"),
    ("date --s=2020-01-01", "(`--set`)"),
    ("date -s 2020-01-01", "(`-s`)"),
    ("date -us 2020-01-01", "(`-s`)"),
    ("date 0101010170", "sets the clock"),
    ("date -u 0101010170", "sets the clock"),
    # operands that write or set
    ("uniq IN -- -OUT", "second operand"),
    ("uniq in.txt out.txt", "second operand"),
    ("hostname X", "sets the host name"),
    ("hostname -s -", "`hostname -` sets the host name"),
    ("hostname -F /etc/hostname", "(`-F`)"),
    ("hostname --fi=/tmp/name", "(`--file`)"),
    # git: another repository or configuration, programs it would run, writes
    ("git -C sub status", "`git -C`"),
    ("git --git-dir=other/.git log", "--git-dir"),
    ("git --work-tree=.. status", "--work-tree"),
    ("git -c core.fsmonitor=./evil status", "`git -c`"),
    ("git --config-env=core.pager=X log", "--config-env"),
    ("git --exec-path=./bin status", "--exec-path"),
    ("git diff --ext-diff", "--ext-diff"),
    ("git log -p --textconv", "--textconv"),
    ("git show --tex HEAD", "(`--textconv`)"),
    ("git diff --outp=x.patch", "(`--output`)"),
    ("git log --help", "--help"),
    ("git status -v", "`git status -v` can write files or run programs"),
    ("git status --verb", "(`--verbose`)"),
    ("git grep foo", "not on the known-safe list"),
    ("git blame a.py", "not on the known-safe list"),
    ("git commit -m fix", "not on the known-safe list"),
    ("git config core.pager x", "not on the known-safe list"),
    ("git branch newname", "creates a branch"),
    ("git branch --edit-description", "can change branches"),
    ("git log $REV", "expansion or glob"),
    # find, rg, sed, tree
    ("find . -exec rm {} +", "-exec"),
    ("find . -name x -fprint out", "-fprint"),
    ("find . -delete", "-delete"),
    ("find . -name *.py", "expansion or glob"),
    ("rg --pre ./x foo", "--pre"),
    ("rg --search-zip foo", "--search-zip"),
    ("rg -z foo", "(`-z`)"),
    ("sed -i s/a/b/ f", "-i"),
    ("sed -n '1w out' f", "not a plain print"),
    ("sed -n --in-place=.bak 1p f", "--in-place"),
    ("tree -o out", "(`-o`)"),
    ("tree -R -H . -L 1", "(`-R`)"),
    # what the strict parser does not follow
    ("cat $(echo a)", "command substitution"),
    ("cat `echo a`", "command substitution"),
    ('echo "`id`"', "command substitution"),
    ("echo $((1+2))", "arithmetic expansion"),
    ("echo $[1+2]", "arithmetic expansion"),
    ("cat <(ls)", "process substitution"),
    ("echo $'\\x41'", "quoting"),
    ("echo $@", "special parameter"),
    ("ls {fd}>/dev/null", "descriptor variable"),
    ("cat <<EOF\nx\nEOF", "heredoc"),
    ("cat <<< hi", "heredoc"),
    ("(ls)", "subshell"),
    ("echo 'unterminated", "cannot parse"),
    ("ls |", "cannot parse"),
    # redirections
    ("cat < /dev/tcp/127.0.0.1/80", "redirects with `< /dev/tcp"),
    ("ls > out.txt", "redirects with `> out.txt`"),
    ("ls <> f", "redirects"),
    ("cat < $F", "redirects"),
    ("ls 2> errors.log", "redirects"),
    ("ls >&²", "redirects with `>& ²`"),  # not a descriptor: bash writes the file "²"
    ("echo hi >&3x", "redirects with `>& 3x`"),
    # environment and programs off the list
    ("XDG_CONFIG_HOME=./cfg git status", "it sets XDG_CONFIG_HOME"),
    ("GIT_DIR=x git log", "it sets GIT_DIR"),
    ("PAGER=./x git log", "it sets PAGER"),
    ("env X=1 ls", "`env` with arguments"),
    ("$CMD x", "not on the known-safe list"),
    ("ls && touch x", "`touch` is not on the known-safe list"),
    ("ls | xargs rm", "`xargs` is not on the known-safe list"),
    ("ls -la | bash", "`bash` is not on the known-safe list"),
    ("time ls", "`time` is not on the known-safe list"),
    ("if true; then ls; fi", "`if` is not on the known-safe list"),
    ("{ ls; }", "`{` is not on the known-safe list"),
    ("[[ -v a ]]", "`[[` is not on the known-safe list"),
    ("./configure", "not on the known-safe list"),
    (["git", "-C", "sub", "status"], "`git -C`"),
    (["bash", "-lc", "ls && sort -o x y"], "(`-o`)"),
]

AUTO: list[str | list[str]] = [
    "ls",
    "ls -la",
    "ls -la src",
    "ls ~",
    "cat README.md",
    "cat -n a.py",
    "head -n 20 f",
    "tail -5 log.txt",
    "wc -l *.py",
    "grep -rn foo src",
    "grep -rn 'def main' --include='*.py' .",
    'rg -n "def main" src',
    "rg --pretty foo",
    "rg -tpy -e foo",
    "git status",
    "git status --short",
    "git status --porcelain=v2 -z",
    "git log --oneline -5",
    "git log -p -1",
    "git log --stat",
    "git show HEAD",
    "git show HEAD:README.md",
    "git diff",
    "git diff --text HEAD~1 -- src",
    "git diff --cached --stat",
    "git -P log -1",
    "git --no-pager diff",
    "git branch -a",
    "git branch --list 'feat/*'",
    "git -c core.fsmonitor=false status",
    "cd sub && git log --oneline",
    "sed -n 1,40p f",
    "sed -n '/def f/,/return/p' a.py",
    "find . -name '*.py'",
    "find src -type f -newer a.py",
    "sort a | uniq -c | sort -rn | head",
    "sort -k2,2 -t, data.csv",
    "sort --check f",
    "uniq -c f",
    "uniq -f 1 in.txt",
    "date",
    "date +%F",
    "date -u +%Y",
    "date -Iseconds",
    "date -d yesterday +%F",
    "date --date='2 days ago'",
    "file a.out",
    "file --mime-type a.png",
    "hostname",
    "hostname -f",
    "test -f a.py && echo yes",
    "[ -d src ] || echo no",
    "test -v HOME",
    "printf '%s\\n' a b",
    "printf -v x %s hello",
    "echo $HOME",
    'echo "$PWD"',
    "echo ${HOME}",
    "echo $?",
    "ls 2>/dev/null",
    "ls missing 2>&1 | head",
    "cat < README.md",
    "LC_ALL=C sort names.txt",
    "cd src && ls -la",
    "pwd; ls",
    "du -sh .",
    "df -h",
    "stat -c %s a.py",
    "nl -ba a.py | head -40",
    "diff -u a b",
    "which python3",
    "type ls",
    "uname -a",
    "tree -L 2",
    "cut -d: -f1 /etc/passwd",
    "wc -c < a.py",
    "echo 'a; rm -rf /'",
    "echo '${_@P}' '$(id)'",
    "ls # && rm x",
    "env",
    "printenv PATH",
    "grep -c '' a.py",
    "ls\\\n -la",
    ["ls", "-la"],
    ["bash", "-lc", "git status && git diff"],
    ["git", "log", "--oneline"],
]


@pytest.mark.parametrize(("command", "why"), REFUSED, ids=repr)
def test_refused_for_auto_approval(command: str | list[str], why: str) -> None:
    reason = unsafe_reason(command)
    assert reason is not None and not is_known_safe(command)
    assert why in reason


@pytest.mark.parametrize("command", AUTO, ids=repr)
def test_auto_approved(command: str | list[str]) -> None:
    assert unsafe_reason(command) is None


def test_there_are_enough_cases() -> None:
    assert len(REFUSED) >= 50 and len(AUTO) >= 50


@pytest.mark.parametrize("command", AUTO, ids=repr)
def test_git_is_neutralised_and_nothing_else_changes(command: str | list[str]) -> None:
    argv = neutralised_argv(command)
    parsed = parse_command(command)
    if not any(segment.argv[:1] == ("git",) for segment in parsed.segments):
        assert argv is None
        return
    assert argv is not None
    text = " ".join(argv)
    gits = sum(segment.argv[:1] == ("git",) for segment in parsed.segments)
    assert text.count("--no-pager --no-optional-locks -c core.hooksPath=/dev/null") == gits
    for sub in ("diff", "log", "show"):
        if f"git {sub}" in " ".join(parsed.source.split()):
            assert f"{sub} --no-ext-diff --no-textconv" in text


# -- bash is the oracle for word splitting -----------------------------------------------------


def _bash_words(command: str, heads: set[str], tmp_path: Path) -> list[list[str]]:
    """The argv bash gives each command of `command`: every head becomes a function that
    records its arguments (functions win over builtins and programs)."""
    record = (
        'record() { builtin printf \'%s\\x1f\' "$@" >>"$OUT"; builtin printf \'\\x1e\' >>"$OUT"; }'
    )
    functions = "".join(f'{head}() {{ record {head} "$@"; }}\n' for head in sorted(heads))
    out = tmp_path / "argv"
    subprocess.run(
        ["bash", "-c", f"{record}\n{functions}{command}"],
        env={**os.environ, "OUT": str(out)},
        cwd=tmp_path,
        capture_output=True,
        timeout=10,
        check=False,
    )
    data = out.read_text() if out.exists() else ""
    return [record.split("\x1f")[:-1] for record in data.split("\x1e")[:-1]]


ORACLE = [
    command
    for command in AUTO
    if isinstance(command, str)
    and all(op in (";", "&&") for op in parse_command(command).operators)
    and not any(
        word.expands or word.globs
        for segment in parse_command(command).segments
        for word in segment.words
    )
    and not any(r.op == "<" for s in parse_command(command).segments for r in s.redirects)
] + [
    "echo a\\;rm x",
    "echo \"a \\\"b\\\" \\$c\" 'd''e'f",
    "echo x#y # z",
    "ls\\\n-la;pwd",
    "git log --format='%h %s' -- 'a b'",
]


@pytest.mark.parametrize("command", ORACLE, ids=repr)
def test_the_parser_splits_words_as_bash_does(command: str, tmp_path: Path) -> None:
    parsed = parse_command(command)
    heads = {segment.argv[0] for segment in parsed.segments}
    assert [list(s.argv) for s in parsed.segments] == _bash_words(command, heads, tmp_path)


def test_the_oracle_covers_many_commands() -> None:
    assert len(ORACLE) >= 40
