"""`make_sandbox`: the `Sandbox` for a policy, on the best (or a forced) mechanism."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path

from lever.sandbox.base import NoSandbox, Sandbox, SandboxPolicy

MECHANISMS = ("bwrap", "landlock", "seatbelt", "none")
MODES = ("read-only", "workspace-write", "danger-full-access")


class UnavailableSandbox:
    """No mechanism can confine commands. `available` is False: `lever exec` and `lever sandbox`
    refuse to start (exit 6), interactive sessions ask a person before every command; nothing
    runs unconfined without a person's say (`--sandbox danger-full-access` or a yes)."""

    name = "none"
    available = False

    def __init__(self, policy: SandboxPolicy, reason: str = "") -> None:
        self.policy = policy
        self.reason = reason

    def wrap(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> list[str]:
        return list(argv)


def make_sandbox(policy: SandboxPolicy, mechanism: str | None = None) -> Sandbox:
    """The sandbox for `policy`.

    `mechanism` None picks the probed best; "bwrap", "landlock", "seatbelt" force one (used by
    tests and `lever sandbox`), "none" gives an `UnavailableSandbox`. `danger-full-access`
    always gives `NoSandbox` (available: nothing to confine). A forced mechanism that does not
    confine here (missing, hidden by LEVER_SANDBOX, a bwrap from an untrusted place) gives an
    `UnavailableSandbox` saying why: never a sandbox that would run commands unconfined.
    """
    if policy.mode not in MODES:
        raise ValueError(f"unknown sandbox mode {policy.mode!r} (one of {', '.join(MODES)})")
    if policy.mode == "danger-full-access":
        return NoSandbox(policy)
    if mechanism is None:
        from lever.sandbox.probe import probe

        status = probe()
        mechanism = status.mechanism
        if mechanism == "none":
            return UnavailableSandbox(policy, status.describe())
    if mechanism not in MECHANISMS:
        raise ValueError(
            f"unknown sandbox mechanism {mechanism!r} (one of {', '.join(MECHANISMS)})"
        )
    if mechanism == "none":
        return UnavailableSandbox(policy, "forced: no sandbox")
    reason, bwrap = _unusable(policy, mechanism)
    if reason is not None:
        return UnavailableSandbox(policy, f"{mechanism}: {reason}")
    return _build(policy, mechanism, bwrap)


def _unusable(policy: SandboxPolicy, mechanism: str) -> tuple[str | None, str]:
    """Why `mechanism` cannot confine this policy's commands (None: it can), and for bwrap the
    trusted program: found again with the policy's writable roots, which must not hold it."""
    from lever.sandbox import probe

    if mechanism == "bwrap":
        from lever.sandbox.bwrap import find_bwrap

        path = find_bwrap(policy.writable_roots)
        if path is None:
            return probe.hidden("bwrap") or probe.NO_BWRAP, ""
        return probe.bwrap_unusable(path), path
    if mechanism == "landlock":
        return probe.landlock_unusable(), ""
    return probe.hidden(mechanism), ""


def _build(policy: SandboxPolicy, mechanism: str, bwrap: str = "") -> Sandbox:
    tmp_dir = _private_tmp() if policy.mode == "workspace-write" else None
    sandbox: Sandbox
    if mechanism == "bwrap":
        from lever.sandbox.bwrap import BwrapSandbox

        sandbox = BwrapSandbox(policy, bwrap=bwrap, tmp_dir=tmp_dir)
    elif mechanism == "landlock":
        from lever.sandbox.landlock import LandlockSandbox

        sandbox = LandlockSandbox(policy, tmp_dir=tmp_dir)
    else:
        from lever.sandbox.seatbelt import SeatbeltSandbox

        sandbox = SeatbeltSandbox(policy, tmp_dir=tmp_dir)
    if tmp_dir is not None:
        # The private temp dir lives as long as the sandbox (the session) does.
        weakref.finalize(sandbox, shutil.rmtree, tmp_dir, True)
    return sandbox


def _private_tmp() -> Path:
    """The sandbox's own temp dir: writable inside, distinct from the host's shared /tmp."""
    return Path(tempfile.mkdtemp(prefix="lever-sandbox-tmp-")).resolve()
