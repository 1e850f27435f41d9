"""The bubblewrap argv, checked as data (the escape suite runs it for real)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from lever.sandbox import bwrap
from lever.sandbox.base import SandboxPolicy
from lever.sandbox.bwrap import BwrapSandbox


@pytest.fixture(autouse=True)
def _no_credential_places(monkeypatch: pytest.MonkeyPatch) -> None:
    # This machine's own ~/.ssh, /run/user… would add binds (tests/security covers those).
    monkeypatch.setattr(bwrap, "hidden_paths", lambda *args, **kwargs: [])


def pairs(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == flag]


def test_workspace_write_binds_roots_and_protects_git(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    extra = tmp_path / "extra"
    (extra / ".lever").mkdir(parents=True)
    private = tmp_path / "tmp"
    sandbox = BwrapSandbox(
        SandboxPolicy(mode="workspace-write", writable_roots=(extra, tmp_path / "missing")),
        tmp_dir=private,
    )
    argv = sandbox.wrap(["make", "test"], ws, {"TMPDIR": "/var/tmp/x"})
    assert argv[:5] == ["bwrap", "--ro-bind", "/", "/", "--dev"]
    assert pairs(argv, "--bind") == [str(ws), str(extra), str(private)]
    assert pairs(argv, "--ro-bind") == ["/", str(ws / ".git"), str(extra / ".lever")]
    assert "--tmpfs" not in argv  # the host's /tmp stays visible (read-only)
    for flag in ("--unshare-user", "--disable-userns", "--unshare-pid", "--unshare-net"):
        assert flag in argv
    assert pairs(argv, "--cap-drop") == ["ALL"]
    assert "--chdir" not in argv  # it starts in the caller's cwd (the shell's workdir, by fd)
    assert argv[argv.index("--setenv") : argv.index("--setenv") + 3] == [
        "--setenv",
        "TMPDIR",
        str(private),
    ]
    assert argv[-2:] == ["make", "test"]
    assert any("lever.sandbox.filter_exec" in arg for arg in argv)  # the seccomp filter
    assert "--die-with-parent" in argv and "--new-session" in argv


def test_read_only_binds_nothing_writable(tmp_path: Path) -> None:
    sandbox = BwrapSandbox(SandboxPolicy(mode="read-only", writable_roots=(tmp_path,)))
    argv = sandbox.wrap(["ls"], tmp_path, {})
    assert "--bind" not in argv
    assert "--tmpfs" not in argv
    assert str(tmp_path) in pairs(argv, "--ro-bind")
    assert "--setenv" not in argv


def test_network_enabled_keeps_the_host_network(tmp_path: Path) -> None:
    sandbox = BwrapSandbox(SandboxPolicy(mode="workspace-write", network=True))
    assert "--unshare-net" not in sandbox.wrap(["curl", "x"], tmp_path, {})


def test_symlinked_git_is_protected_at_its_target(tmp_path: Path) -> None:
    real = tmp_path / "real-git"
    real.mkdir()
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / ".git").symlink_to(real)
    argv = BwrapSandbox(SandboxPolicy(mode="workspace-write")).wrap(["true"], ws, {})
    assert str(real) in pairs(argv, "--ro-bind")


def test_cwd_inside_git_is_not_writable_and_parents_bind_first(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / "sub" / ".git").mkdir(parents=True)
    sandbox = BwrapSandbox(SandboxPolicy(mode="workspace-write", writable_roots=(ws,)))
    hooks = sandbox.wrap(["true"], ws / ".git" / "hooks", {})
    assert str(ws / ".git" / "hooks") not in pairs(hooks, "--bind")
    nested = sandbox.wrap(["true"], ws / "sub", {})
    assert pairs(nested, "--bind") == [str(ws), str(ws / "sub")]
    # Every protection comes after every writable bind.
    last_bind = max(i for i, arg in enumerate(nested) if arg == "--bind")
    assert nested.index(str(ws / "sub" / ".git")) > last_bind


async def test_a_hidden_folder_vanishing_before_bwrap_mounts_it_reruns_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hidden place (an ssh-agent folder) removed between `wrap` and bubblewrap's mount
    failed the command with "Can't mkdir": it never ran, so it runs again, wrapped anew."""
    from lever.tools.base import ToolContext
    from lever.tools.processes import ProcessManager
    from lever.tools.shell import ShellTool
    from tests.security.confined import unusable

    if unusable("bwrap"):
        pytest.skip(f"bwrap unavailable: {unusable('bwrap')}")
    agent = tmp_path / "ssh-agent-dir"
    agent.mkdir()
    monkeypatch.setattr(bwrap, "hidden_paths", lambda *args, **kwargs: [str(agent)])
    ws = tmp_path / "ws"
    ws.mkdir()
    wrapped: list[list[str]] = []

    class Racing(BwrapSandbox):
        def wrap(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> list[str]:
            wrapped.append(super().wrap(argv, cwd, env))
            if agent.exists():
                agent.rmdir()  # gone before bubblewrap mounts over it
            return wrapped[-1]

    sandbox = Racing(SandboxPolicy(mode="workspace-write"))
    manager = ProcessManager(kill_grace_s=0.3)
    try:
        ctx = ToolContext(cwd=ws, sandbox=sandbox)
        result = await ShellTool(manager).run({"command": ["sh", "-c", "echo ran"]}, ctx)
    finally:
        await manager.close()
    assert result.exit_code == 0 and result.output.endswith("ran\n"), result.output
    assert len(wrapped) == 2
    assert str(agent) in wrapped[0] and str(agent) not in wrapped[1]
