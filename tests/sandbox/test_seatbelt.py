"""The macOS Seatbelt profile, as text (sandbox-exec does not exist on Linux)."""

from __future__ import annotations

from pathlib import Path

from lever.sandbox.base import SandboxPolicy
from lever.sandbox.seatbelt import SeatbeltSandbox, profile


def test_profile_denies_by_default_and_excludes_git(tmp_path: Path) -> None:
    text, params = profile(SandboxPolicy(mode="workspace-write"), [tmp_path])
    assert text.startswith("(version 1)\n(deny default)")
    assert "(allow file-read*)" in text
    assert '(subpath (param "WRITABLE_ROOT_0"))' in text
    assert '(require-not (subpath (param "WRITABLE_ROOT_0_RO_0")))' in text
    assert params == {
        "WRITABLE_ROOT_0": str(tmp_path),
        "WRITABLE_ROOT_0_RO_0": str(tmp_path / ".git"),
        "WRITABLE_ROOT_0_RO_1": str(tmp_path / ".lever"),
    }
    assert "(allow network-outbound)\n" not in text
    assert str(tmp_path) not in text  # paths only ever travel as parameters
    assert text.count("(") == text.count(")")


def test_read_only_has_no_write_rule_and_network_is_opt_in(tmp_path: Path) -> None:
    text, params = profile(SandboxPolicy(mode="read-only", network=True), [])
    assert "(allow file-write*\n" not in text and params == {}
    assert "(allow network-outbound)\n" in text and "(allow system-socket)\n" in text


def test_wrap_uses_sandbox_exec_with_parameters(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    private = tmp_path / "tmp"
    sandbox = SeatbeltSandbox(
        SandboxPolicy(mode="workspace-write", writable_roots=(tmp_path / "extra",)), tmp_dir=private
    )
    argv = sandbox.wrap(["make"], ws, {})
    assert argv[0] == "/usr/bin/sandbox-exec" and argv[1] == "-p"
    assert f"-DWRITABLE_ROOT_0={ws.resolve()}" in argv
    assert f"-DWRITABLE_ROOT_2={private.resolve()}" in argv
    assert argv[-4:] == ["--", "/usr/bin/env", f"TMPDIR={private}", "make"]
