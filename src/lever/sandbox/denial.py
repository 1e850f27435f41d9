"""Recognise a command that failed because the sandbox refused it.

A sandboxed command does not learn that a sandbox stopped it: it sees EROFS, EACCES, EPERM,
ENETUNREACH or a DNS failure, and prints what its runtime makes of those. So a denial is read
from a non-zero exit status plus one of those messages in the output (the phrases below are what
libc's strerror, curl, git, Python, Node and pip print for them), or a death by SIGSYS (seccomp).

Only a failure *inside* a confining sandbox is read this way: "Permission denied" from a command
that ran without one is the command's own business. Nor is every line of the output the
command's: a login shell's start-up scripts (`bash -lc`) print their own refusals (pyenv's
"mktemp: ... Permission denied" when HOME is read-only). The caller names such lines in `ignore`;
with the shell snapshot (lever.tools.shell_snapshot) the start-up scripts do not run at all.
"""

from __future__ import annotations

import signal
from collections.abc import Collection

#: Lower-case phrases; a line of output containing one marks the failure as a sandbox denial.
DENIAL_PATTERNS = (
    "read-only file system",
    "permission denied",
    "operation not permitted",
    "network is unreachable",
    "temporary failure in name resolution",
    "could not resolve host",
    "couldn't resolve host",
    "name or service not known",
    "failed to resolve",
    "no address associated with hostname",
    "bad system call",
)

_SIGSYS = int(signal.SIGSYS)


def sandbox_denial(exit_code: int | None, output: str, ignore: Collection[str] = ()) -> str | None:
    """The line that shows the sandbox refused the command, or None.

    `exit_code` is the process's status (negative: killed by that signal); None means it has not
    finished, and a running or successful command is never a denial. Lines in `ignore` (start-up
    noise, not the command's own output) are never read as the refusal.
    """
    if exit_code is None or exit_code == 0:
        return None
    if exit_code in (-_SIGSYS, 128 + _SIGSYS):
        return f"killed by SIGSYS (a system call the sandbox forbids), exit code {exit_code}"
    for line in output.splitlines():
        if line in ignore:
            continue
        lowered = line.lower()
        if any(pattern in lowered for pattern in DENIAL_PATTERNS):
            return line.strip()[:300]
    return None
