"""Probing (cached, ordered, with reasons) and `make_sandbox`."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lever.sandbox import probe as probe_mod
from lever.sandbox.base import NoSandbox, SandboxPolicy
from lever.sandbox.bwrap import BwrapSandbox, _trusted, find_bwrap
from lever.sandbox.factory import UnavailableSandbox, make_sandbox
from lever.sandbox.landlock import LandlockSandbox
from lever.sandbox.probe import SandboxStatus, probe


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_mod, "_cached", None)


def test_probe_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def fake() -> SandboxStatus:
        calls.append(1)
        return SandboxStatus("bwrap", "fake")

    monkeypatch.setattr(probe_mod, "_probe_linux", fake)
    monkeypatch.setattr(probe_mod.sys, "platform", "linux")
    assert probe() is probe()
    assert len(calls) == 1
    probe(refresh=True)
    assert len(calls) == 2


def test_falls_back_to_landlock_then_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_mod, "bwrap_unusable", lambda: "bwrap is not installed")
    monkeypatch.setattr(probe_mod, "landlock_unusable", lambda: None)
    monkeypatch.setattr("lever.sandbox.landlock.abi_version", lambda: 3)
    status = probe_mod._probe_linux()
    assert status.mechanism == "landlock" and status.available
    assert status.rejected == {"bwrap": "bwrap is not installed"}
    assert "ABI 3" in status.details

    monkeypatch.setattr(probe_mod, "landlock_unusable", lambda: "kernel too old")
    status = probe_mod._probe_linux()
    assert status.mechanism == "none" and not status.available
    assert "refuse to run them (exit 6)" in status.describe()
    assert "kernel too old" in status.describe()


def test_real_probe_reports_a_reason_for_each_unused_mechanism() -> None:
    status = probe()
    assert status.mechanism in ("bwrap", "landlock", "none")
    for name in ("bwrap", "landlock"):
        if name != status.mechanism:
            assert status.rejected[name]


def test_make_sandbox_modes_and_forcing(tmp_path: Path) -> None:
    assert isinstance(make_sandbox(SandboxPolicy(mode="danger-full-access")), NoSandbox)
    ws_write = SandboxPolicy(mode="workspace-write")
    # A forced mechanism is built only where it confines; else it is unavailable, saying why.
    for name, kind, why in (
        ("bwrap", BwrapSandbox, probe_mod.bwrap_unusable()),
        ("landlock", LandlockSandbox, probe_mod.landlock_unusable()),
    ):
        forced = make_sandbox(ws_write, name)
        if why is None:
            assert isinstance(forced, kind)
        else:
            assert isinstance(forced, UnavailableSandbox) and why in forced.reason
    none = make_sandbox(ws_write, "none")
    assert isinstance(none, UnavailableSandbox)
    assert none.name == "none" and none.available is False
    assert none.wrap(["ls"], tmp_path, {}) == ["ls"]
    with pytest.raises(ValueError, match="mechanism"):
        make_sandbox(ws_write, "chroot")
    with pytest.raises(ValueError, match="mode"):
        make_sandbox(SandboxPolicy(mode="yolo"))


def test_unavailable_when_probe_finds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_mod, "_cached", SandboxStatus("none", "nothing works"))
    sandbox = make_sandbox(SandboxPolicy(mode="read-only"))
    assert sandbox.name == "none" and getattr(sandbox, "available", True) is False


def test_private_tmp_dir_lives_as_long_as_the_sandbox() -> None:
    if probe_mod.landlock_unusable():
        pytest.skip(f"landlock unavailable: {probe_mod.landlock_unusable()}")
    sandbox = make_sandbox(SandboxPolicy(mode="workspace-write"), "landlock")
    assert isinstance(sandbox, LandlockSandbox) and sandbox.tmp_dir is not None
    tmp_dir = sandbox.tmp_dir
    assert tmp_dir.is_dir()
    del sandbox
    gc.collect()
    assert not tmp_dir.exists()
    read_only = make_sandbox(SandboxPolicy(mode="read-only"), "landlock")
    assert isinstance(read_only, LandlockSandbox) and read_only.tmp_dir is None


# --- trusting bwrap (issue 14 item 4) -------------------------------------------------------

#: Runs what follows `--` unconfined, as a planted `bwrap` would.
FAKE_PASSTHROUGH = '#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done; shift; exec "$@"\n'


def fake_bwrap(folder: Path, script: str = FAKE_PASSTHROUGH) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fake = folder / "bwrap"
    fake.write_text(script)
    fake.chmod(0o755)
    return fake


def test_a_bwrap_in_a_writable_place_is_never_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv_bin = fake_bwrap(tmp_path / "ws" / ".venv" / "bin").parent
    monkeypatch.setenv("PATH", f"{venv_bin}:{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path / "ws")
    found = find_bwrap()
    assert found is None or not found.startswith(str(tmp_path))
    assert find_bwrap([tmp_path]) == found


def test_trust_rules(tmp_path: Path) -> None:
    fake = fake_bwrap(tmp_path / "bin")
    assert _trusted(str(fake), avoid=[])
    assert not _trusted(str(fake), avoid=[str(tmp_path)])  # inside a writable root
    link = tmp_path / "elsewhere" / "bwrap"
    link.parent.mkdir()
    link.symlink_to(fake)
    assert not _trusted(str(link), avoid=[str(tmp_path / "bin")])  # its target is inside
    fake.chmod(0o757)
    assert not _trusted(str(fake), avoid=[])  # writable by anyone
    assert not _trusted(str(tmp_path / "bin" / "missing"), avoid=[])


@pytest.mark.parametrize(
    ("script", "why"),
    [
        (FAKE_PASSTHROUGH, "does not confine: the probe wrote outside its workspace"),
        ("#!/bin/sh\nexit 0\n", "did not run the probe command"),
        ("#!/bin/sh\nexit 3\n", "probe exited 3"),
    ],
)
def test_probe_refuses_a_bwrap_that_does_not_confine(
    tmp_path: Path, script: str, why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEVER_SANDBOX", raising=False)
    fake = fake_bwrap(tmp_path / "bin", script)
    reason = probe_mod.bwrap_unusable(str(fake))
    assert reason is not None and why in reason


def test_status_never_reports_a_fake_bwrap(tmp_path: Path) -> None:
    venv_bin = fake_bwrap(tmp_path / "ws" / ".venv" / "bin").parent
    env = {**os.environ, "PATH": f"{venv_bin}:{os.environ['PATH']}"}
    env.pop("LEVER_SANDBOX", None)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lever")), "sandbox", "--status"],
        cwd=tmp_path / "ws",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert str(tmp_path) not in done.stdout
    first = done.stdout.splitlines()[0]
    assert first.startswith("sandbox mechanism: ")


def test_lever_sandbox_env_only_narrows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVER_SANDBOX", "landlock")
    assert probe_mod.hidden("landlock") is None
    assert "not allowed by LEVER_SANDBOX=landlock" in (probe_mod.bwrap_unusable() or "")
    status = probe_mod._probe_linux()
    assert status.mechanism in ("landlock", "none") and "bwrap" in status.rejected
    assert isinstance(make_sandbox(SandboxPolicy(mode="read-only"), "bwrap"), UnavailableSandbox)
    # A value naming nothing leaves nothing: commands are refused, never run unconfined.
    monkeypatch.setenv("LEVER_SANDBOX", "off")
    assert "names no mechanism" in (probe_mod.landlock_unusable() or "")
    monkeypatch.setattr(probe_mod, "_cached", None)
    sandbox = make_sandbox(SandboxPolicy(mode="workspace-write"))
    assert isinstance(sandbox, UnavailableSandbox) and not sandbox.available
    assert isinstance(make_sandbox(SandboxPolicy(mode="danger-full-access")), NoSandbox)


def test_a_hidden_folder_vanishing_mid_probe_is_no_verdict_on_bwrap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removed between `wrap` and bubblewrap's mount, a hidden folder (another program's
    /tmp/ssh-* folder) failed the probe, and lever refused to run commands: "no sandbox
    mechanism works here". The probe is wrapped again instead."""
    from lever.sandbox import bwrap

    if find_bwrap() is None:
        pytest.skip("no trusted bwrap installed (CI installs bubblewrap)")
    agent = tmp_path / "ssh-agent-dir"
    agent.mkdir()
    monkeypatch.setattr(bwrap, "hidden_paths", lambda *args, **kwargs: [str(agent)])
    wrapped: list[list[str]] = []

    def racing_wrap(argv: list[str], workspace: Path) -> list[str]:
        sandbox = BwrapSandbox(SandboxPolicy(mode="workspace-write"))
        wrapped.append(sandbox.wrap(argv, workspace, {}))
        if agent.exists():
            agent.rmdir()  # gone before bubblewrap mounts over it
        return wrapped[-1]

    assert probe_mod._confines(racing_wrap) is None
    assert len(wrapped) == 2
    assert str(agent) in wrapped[0] and str(agent) not in wrapped[1]
