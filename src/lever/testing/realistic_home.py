"""A HOME that looks like a Python developer's, for tests and benchmarks (issue 12).

Synthetic, empty HOMEs hid what real users see: a login that starts pyenv is slow (~0.4 s) and,
under a sandbox that keeps HOME read-only, prints pyenv's complaints into every command's output.
`build_realistic_home` writes such a HOME: `.bash_profile` and `.profile` read `.bashrc` (as
distributions set them up) and each sleeps; `.bashrc` puts a pyenv-like shims folder first on
PATH, tries to create a file in it (as `pyenv rehash` does; real `mktemp` fails with its own
message where the folder is read-only), sources a missing `~/.cargo/env`, defines an alias and
a function, and sets variables lever must keep its own values of. Each run of `.bashrc`
appends a line to `runs_file`; that write is silenced, so the count is exact outside a sandbox
and a sandboxed run adds no noise of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: A program found only through the shims folder the `.bashrc` puts on PATH.
SHIM_PROGRAM = "lever-shim-probe"
SHIM_OUTPUT = "shim ok"
ALIAS_NAME = "lever_alias_probe"
FUNCTION_NAME = "lever_function_probe"
#: A variable the `.bashrc` exports; its name looks secret, so lever must not pass it on.
SECRET_NAME = "LEVER_FIXTURE_API_TOKEN"
PLAIN_NAME = "LEVER_FIXTURE_PLAIN"
PLAIN_VALUE = "from the bashrc"
#: The `.bashrc` also exports PAGER=less and TMPDIR=~/tmp (lever and its sandbox set both) and
#: aliases `rm` to `rm -i` (which, with stdin at /dev/null, would refuse every removal).

_PROFILE = """\
# A login profile as distributions write it: read .bashrc, then do some slow set-up of its own.
[ -f "$HOME/.bashrc" ] && . "$HOME/.bashrc"
sleep {delay}
"""

_BASHRC = """\
# A pyenv-style .bashrc (lever's realistic-HOME test fixture).
{{ echo "run $$" >> "{runs}"; }} 2>/dev/null
{hang}export PYENV_ROOT="$HOME/.pyenv"
export PATH="$PYENV_ROOT/shims:$PATH"
export {plain}="{plain_value}"
export {secret}="fixture-secret-value"
export PAGER=less
export TMPDIR="$HOME/tmp"
sleep {delay}
# `pyenv rehash` takes a lock file in the shims folder; where it cannot, it says so on stderr.
if tmp=$(mktemp "$PYENV_ROOT/shims/tmp.XXXX"); then
    rm -f "$tmp"
else
    echo "pyenv: cannot rehash: $PYENV_ROOT/shims isn't writable" >&2
fi
. "$HOME/.cargo/env"
alias {alias}='echo alias ok'
alias rm='rm -i'
{function}() {{ echo "function ok: $*"; }}
"""

_HANG_ONCE = """\
# A login that stalls once (a slow network mount, a lock held elsewhere): the snapshot times
# out. Like `pyenv rehash`, it holds a lock file that its EXIT trap removes.
if [ ! -e "$HOME/.hung-once" ]; then
    : > "$HOME/.hung-once"
    : > "$HOME/.pyenv/shims/.pyenv-shim"
    trap 'rm -f "$HOME/.pyenv/shims/.pyenv-shim"' EXIT
    sleep 60
fi
"""


@dataclass(frozen=True)
class RealisticHome:
    home: Path
    #: `.bashrc` appends one line here each time it runs.
    runs_file: Path
    shims: Path

    def runs(self) -> int:
        """How many times `.bashrc` has run."""
        try:
            return len(self.runs_file.read_text().splitlines())
        except FileNotFoundError:
            return 0


def build_realistic_home(
    home: Path, *, delay_s: float = 0.3, hang_once: bool = False, runs_file: Path | None = None
) -> RealisticHome:
    """Write the profile files, the shims folder and its probe program into `home`."""
    home.mkdir(parents=True, exist_ok=True)
    runs = runs_file or home / ".bashrc-runs"
    shims = home / ".pyenv" / "shims"
    shims.mkdir(parents=True, exist_ok=True)
    probe = shims / SHIM_PROGRAM
    probe.write_text(f"#!/bin/sh\necho '{SHIM_OUTPUT}'\n")
    probe.chmod(0o755)
    profile = _PROFILE.format(delay=delay_s)
    (home / ".bash_profile").write_text(profile)
    (home / ".profile").write_text(profile)
    (home / ".bashrc").write_text(
        _BASHRC.format(
            runs=runs,
            hang=_HANG_ONCE if hang_once else "",
            plain=PLAIN_NAME,
            plain_value=PLAIN_VALUE,
            secret=SECRET_NAME,
            delay=delay_s,
            alias=ALIAS_NAME,
            function=FUNCTION_NAME,
        )
    )
    return RealisticHome(home=home, runs_file=runs, shims=shims)
