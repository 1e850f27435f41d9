"""protect.py: `.git` / `.lever` checked and restored around commands, on real files and git.

The unit tests change the files directly (as a command would); the shell-tool tests run real
commands through `ShellTool`, once with a stand-in sandbox that confines nothing (so the
restoring alone is tested on every machine) and once under the probed real mechanism.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import pytest
from pydantic import BaseModel

from lever.protocol.events import ErrorEvent
from lever.sandbox.base import SandboxPolicy
from lever.sandbox.factory import make_sandbox
from lever.sandbox.protect import Protector
from lever.sandbox.protect_state import read_state
from lever.tools.base import ToolContext
from lever.tools.processes import ProcessManager
from lever.tools.shell import ShellTool


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / "README.md").write_text("hello\n")
    (ws / ".lever").mkdir()
    (ws / ".lever" / "config.toml").write_text('model = "x"\n')
    return ws


def guarded(repo: Path) -> Protector:
    protector = Protector((repo,))
    assert not protector.before(repo, background=False)
    return protector


def test_unchanged_state_reports_nothing(repo: Path) -> None:
    protector = guarded(repo)
    (repo / "new-top-level").write_text("x")  # the workspace itself is free
    assert not protector.check()


def test_hooks_config_and_lever_changes_are_undone(repo: Path) -> None:
    config = (repo / ".git" / "config").read_bytes()
    sample = repo / ".git" / "hooks" / "pre-push.sample"
    mode = sample.stat().st_mode
    protector = guarded(repo)
    (repo / ".git" / "hooks" / "pre-commit").write_text("#!/bin/sh\nevil\n")
    with (repo / ".git" / "config").open("a") as handle:
        handle.write("[core]\n\tfsmonitor = evil\n")
    sample.chmod(0o777)
    shutil.rmtree(repo / ".git" / "info")
    (repo / ".lever" / "config.toml").write_text('[local]\nserver_bin = "tools/x"\n')
    (repo / ".lever" / "skills").mkdir()
    done = protector.check()
    assert (repo / ".git" / "config").read_bytes() == config
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert sample.stat().st_mode == mode
    assert (repo / ".git" / "info" / "exclude").is_file()
    assert (repo / ".lever" / "config.toml").read_text() == 'model = "x"\n'
    assert not (repo / ".lever" / "skills").exists()
    text = " | ".join(done.changes)
    for rel in (".git/hooks/pre-commit", ".git/config", ".git/info/exclude", ".lever/skills"):
        assert rel in text
    assert "Undone:" in done.note() and ".git/config" in done.message()
    assert not protector.check()  # restored: nothing left to undo


def test_git_data_stays_writable(repo: Path) -> None:
    protector = guarded(repo)
    subprocess.run(["git", "-C", str(repo), "add", "README.md"], check=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "one"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "gc", "-q"], check=True)  # writes .git/info/refs
    (repo / ".lever" / "plan.md").write_text("lever's own plan\n")
    assert not protector.check()
    log = subprocess.run(["git", "-C", str(repo), "log", "--oneline"], capture_output=True)
    assert b"one" in log.stdout


def test_planted_symlinks_are_replaced_not_followed(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "config").write_text("outside\n")
    protector = guarded(repo)
    hooks = repo / ".git" / "hooks"
    shutil.rmtree(hooks)
    hooks.symlink_to(outside)  # the hooks folder now points outside
    config = repo / ".git" / "config"
    config.unlink()
    config.symlink_to(outside / "config")
    protector.check()
    assert hooks.is_dir() and not hooks.is_symlink() and (hooks / "pre-push.sample").exists()
    assert not config.is_symlink() and "[core]" in config.read_text()
    assert sorted(p.name for p in outside.iterdir()) == ["config"]
    assert (outside / "config").read_text() == "outside\n"


def test_renamed_git_dir_is_moved_back_whole(repo: Path) -> None:
    protector = guarded(repo)
    objects = len(list((repo / ".git" / "objects").rglob("*")))
    (repo / ".git").rename(repo / "old-git")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".git" / "hooks" / "post-checkout").write_text("evil")
    done = protector.check()
    assert not (repo / "old-git").exists()
    assert not (repo / ".git" / "hooks" / "post-checkout").exists()
    assert len(list((repo / ".git" / "objects").rglob("*"))) == objects
    assert "moved old-git back to .git" in done.changes[0]


def test_git_and_lever_created_where_none_existed_are_removed(tmp_path: Path) -> None:
    ws = tmp_path / "plain"
    ws.mkdir()
    protector = guarded(ws)
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / ".lever").mkdir()
    (ws / ".lever" / "config.toml").write_text("x")
    done = protector.check()
    assert not (ws / ".git").exists() and not (ws / ".lever").exists()
    assert sorted(done.changes) == [
        "removed .git (created by the command)",
        "removed .lever (created by the command)",
    ]


def test_background_commands_keep_the_old_reference(repo: Path) -> None:
    protector = guarded(repo)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("evil")  # by a command still running in the background
    assert "removed .git/hooks/pre-commit" in protector.before(repo, background=True).changes[0]
    assert not hook.exists()
    hook.write_text("the person's own hook")  # nothing sandboxed runs: the person did it
    assert not protector.before(repo, background=False)
    assert not protector.check() and hook.exists()


def test_submodule_git_dirs_are_protected_but_their_data_is_not(repo: Path) -> None:
    sub = repo / ".git" / "modules" / "lib"
    (sub / "hooks").mkdir(parents=True)
    (sub / "objects").mkdir()
    (sub / "HEAD").write_text("ref: refs/heads/main\n")
    (sub / "config").write_text("[core]\n")
    protector = guarded(repo)
    (sub / "config").write_text("[core]\n\tfsmonitor = evil\n")
    (sub / "objects" / "ab").write_text("data")
    (sub / "HEAD").write_text("ref: refs/heads/other\n")
    done = protector.check()
    assert done.changes == ["restored .git/modules/lib/config (changed by the command)"]


def test_a_git_dir_pointed_to_inside_the_workspace_is_protected(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    subprocess.run(["git", "init", "-q", "--separate-git-dir", str(ws / "repo.git"), str(ws)])
    assert (ws / ".git").is_file()  # "gitdir: …/ws/repo.git"
    protector = guarded(ws)
    (ws / "repo.git" / "hooks" / "pre-commit").write_text("evil")
    (ws / "repo.git" / "HEAD").write_text("ref: refs/heads/other\n")  # data: allowed
    (ws / ".git").write_text("gitdir: elsewhere\n")
    done = protector.check()
    assert sorted(done.changes) == [
        "removed repo.git/hooks/pre-commit (created by the command)",
        "restored .git (changed by the command)",
    ]


def test_state_reuses_unchanged_contents(repo: Path) -> None:
    first = read_state(str(repo))
    second = read_state(str(repo), first)
    assert all(second[rel] is first[rel] for rel in first)
    assert ".git/config" in first and ".git/objects" not in first and ".git/HEAD" not in first


# --- through the shell tool -------------------------------------------------------------


class Unconfined:
    """Confines nothing, but has a protector, as the Landlock sandbox does: the restoring alone."""

    name = "unconfined-with-protector"
    available = True

    def __init__(self, root: Path) -> None:
        self.policy = SandboxPolicy(mode="workspace-write", writable_roots=(root,))
        self.protector = Protector((root,))

    def wrap(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> list[str]:
        return list(argv)


@pytest.fixture
async def shell() -> AsyncIterator[ShellTool]:
    manager = ProcessManager(kill_grace_s=0.3)
    yield ShellTool(manager)
    await manager.close()


WRITE_HOOK = "echo evil > .git/hooks/pre-commit; git config core.hooksPath /evil; touch top; true"


async def run_in(
    shell: ShellTool, repo: Path, sandbox: object, command: str, **extra: object
) -> tuple[str, list[BaseModel]]:
    events: list[BaseModel] = []
    ctx = ToolContext(cwd=repo, writable_roots=(repo,), sandbox=sandbox, emit=events.append)  # type: ignore[arg-type]
    result = await shell.run({"command": command, **extra}, ctx)
    return result.output, events


async def test_shell_tool_tells_the_model_and_the_person(shell: ShellTool, repo: Path) -> None:
    config = (repo / ".git" / "config").read_bytes()
    output, events = await run_in(shell, repo, Unconfined(repo), WRITE_HOOK)
    assert (repo / "top").exists()
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert (repo / ".git" / "config").read_bytes() == config
    assert "[lever: .git and .lever are protected" in output and ".git/config" in output
    (event,) = [e for e in events if isinstance(e, ErrorEvent)]
    assert event.kind == "sandbox_protected" and ".git/hooks/pre-commit" in event.message


async def test_background_command_is_checked_when_polled(shell: ShellTool, repo: Path) -> None:
    sandbox = Unconfined(repo)
    command = "sleep 1.5; echo evil > .git/hooks/post-merge"  # past the 1 s a start waits
    output, _ = await run_in(shell, repo, sandbox, command, yield_ms=50)
    assert "still running" in output
    events: list[BaseModel] = []
    ctx = ToolContext(cwd=repo, sandbox=sandbox, emit=events.append)  # type: ignore[arg-type]
    polled = await shell.run({"process_id": "p1", "yield_ms": 3000}, ctx)
    assert not (repo / ".git" / "hooks" / "post-merge").exists()
    assert ".git/hooks/post-merge" in polled.output and events


async def test_a_child_left_running_cannot_plant_a_hook_between_commands(
    shell: ShellTool, repo: Path
) -> None:
    sandbox = Unconfined(repo)
    # The shell exits at once; its child lives on in the group and writes after the check.
    plant = "(sleep 0.4; echo evil > .git/hooks/pre-commit; sleep 30) > /dev/null 2>&1 &"
    output, _ = await run_in(shell, repo, sandbox, plant)
    assert output.startswith("exit code: 0")
    hook = repo / ".git" / "hooks" / "pre-commit"
    for _ in range(100):
        if hook.exists():
            break
        await asyncio.sleep(0.05)
    assert hook.exists()  # planted after the first command's check
    output, _ = await run_in(shell, repo, sandbox, "true")
    assert not hook.exists() and ".git/hooks/pre-commit" in output


async def test_background_command_is_checked_at_the_end(repo: Path) -> None:
    shell = ShellTool(ProcessManager(kill_grace_s=0.3))
    command = "echo ready; echo evil > .git/hooks/post-merge; sleep 30"
    output, events = await run_in(shell, repo, Unconfined(repo), command, yield_ms=0)
    assert "still running" in output
    for _ in range(100):  # the hook appears while the command runs on
        if (repo / ".git" / "hooks" / "post-merge").exists():
            break
        await asyncio.sleep(0.05)
    await shell.aclose()  # the session ends: the command is killed, then the check
    assert not (repo / ".git" / "hooks" / "post-merge").exists()
    assert any(isinstance(e, ErrorEvent) and "post-merge" in e.message for e in events)


async def test_under_the_real_sandbox(shell: ShellTool, repo: Path) -> None:
    sandbox = make_sandbox(SandboxPolicy(mode="workspace-write", writable_roots=(repo,)))
    if not getattr(sandbox, "available", True):
        pytest.skip(f"no sandbox mechanism here: {getattr(sandbox, 'reason', '')}")
    config = (repo / ".git" / "config").read_bytes()
    output, events = await run_in(shell, repo, sandbox, WRITE_HOOK)
    assert (repo / "top").exists(), output  # the top level is writable under every mechanism
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert (repo / ".git" / "config").read_bytes() == config
    if sandbox.name == "landlock":  # written, then undone, and said
        assert ".git/config" in output and events
