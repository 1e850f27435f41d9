"""Probing (cached, ordered, with reasons) and `make_sandbox`."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from lever.sandbox import probe as probe_mod
from lever.sandbox.base import NoSandbox, SandboxPolicy
from lever.sandbox.bwrap import BwrapSandbox
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
    assert "every command needs approval" in status.describe()
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
    assert isinstance(make_sandbox(ws_write, "bwrap"), BwrapSandbox)
    assert isinstance(make_sandbox(ws_write, "landlock"), LandlockSandbox)
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
    sandbox = make_sandbox(SandboxPolicy(mode="workspace-write"), "landlock")
    assert isinstance(sandbox, LandlockSandbox) and sandbox.tmp_dir is not None
    tmp_dir = sandbox.tmp_dir
    assert tmp_dir.is_dir()
    del sandbox
    gc.collect()
    assert not tmp_dir.exists()
    read_only = make_sandbox(SandboxPolicy(mode="read-only"), "bwrap")
    assert isinstance(read_only, BwrapSandbox) and read_only.tmp_dir is None
