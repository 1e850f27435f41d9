"""Helpers of the sandbox and security tests: a sandbox under each Linux mechanism (skipped with
the probe's reason where this machine lacks it), and running a command in it the way the agent
does (wrapped argv, the commands' environment, a new session)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import pytest

from lever.sandbox.base import Sandbox, SandboxPolicy
from lever.sandbox.factory import make_sandbox

MECHANISMS = ("bwrap", "landlock")


@cache
def unusable(mechanism: str) -> str | None:
    from lever.sandbox import probe

    return probe.bwrap_unusable() if mechanism == "bwrap" else probe.landlock_unusable()


def sandbox_for(mechanism: str, mode: str = "workspace-write", **policy: object) -> Sandbox:
    reason = unusable(mechanism)
    if reason is not None:
        pytest.skip(f"{mechanism} unavailable: {reason} (CI installs bubblewrap)")
    return make_sandbox(SandboxPolicy(mode=mode, **policy), mechanism)  # type: ignore[arg-type]


def run_in(
    sandbox: Sandbox,
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    """Run `argv` confined, as the shell tool does: own session, no stdin, output captured."""
    return subprocess.run(
        sandbox.wrap(argv, cwd, env),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        start_new_session=True,
        check=False,
    )
