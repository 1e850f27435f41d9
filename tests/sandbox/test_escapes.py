"""The escape suite: every attempt must fail inside the sandbox and succeed outside it.

Runs for real under each Linux mechanism separately (bubblewrap; Landlock + seccomp). A
mechanism this machine lacks is skipped with the probe's reason, never passed silently. Each
case first runs with no sandbox in a fresh world (the control: the command really escapes),
then confined in another fresh world (workspace-write, network off).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

# The other case modules register into CASES when imported.
from tests.sandbox import escape_cases_fs, escape_cases_ipc, escape_cases_secrets  # noqa: F401
from tests.sandbox.escape_cases import CASES, Case
from tests.sandbox.escape_world import PY, World, accepted, no_sandbox
from tests.security.confined import MECHANISMS, sandbox_for


@pytest.fixture
def world() -> object:
    w = World.create()
    yield w
    w.close()


def test_suite_is_big_enough() -> None:
    assert len(CASES) >= 80  # issue 14: at least 80 attempts, each proven to escape outside
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_escape_fails_inside_and_works_outside(case: Case, mechanism: str) -> None:
    sandbox = sandbox_for(mechanism)
    missing = [tool for tool in case.needs if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed")
    if case.root_only and os.geteuid() != 0:
        pytest.skip("the control run needs root to show the command works outside")

    control = World.create()
    try:
        attempt = case.prepare(control)
        result = control.run(no_sandbox(), attempt.argv, attempt.outside_env, attempt.cwd)
        worked = attempt.escaped(result)  # once: a check may consume what it looks at
        if case.optional and not worked:
            pytest.skip(f"{case.optional}; unconfined it did not work either: {result}")
        assert worked, f"control run did not escape, the command is broken: {result}"
    finally:
        control.close()

    confined = World.create()
    try:
        attempt = case.prepare(confined)
        result = confined.run(sandbox, attempt.argv, cwd=attempt.cwd)
        escaped = attempt.escaped(result)
    finally:
        confined.close()
    gap = case.known_gaps.get(mechanism)
    if mechanism == "landlock" and gap is None and "landlock-no-userns" in case.known_gaps:
        from lever.sandbox.probe import pid_namespace_works

        gap = None if pid_namespace_works() else case.known_gaps["landlock-no-userns"]
    if gap is not None:
        assert escaped, f"documented gap no longer reproduces (update docs/sandbox.md): {gap}"
        pytest.xfail(f"known {mechanism} gap: {gap}")
    assert not escaped, f"escaped the {mechanism} sandbox: {result}"


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_extra_writable_root_is_writable_but_its_git_is_not(mechanism: str, world: World) -> None:
    extra = world.root / "extra"
    shutil.copytree(world.ws / ".git", extra / ".git")
    (extra / "lib").mkdir()
    sandbox = sandbox_for(mechanism, writable_roots=(extra,))
    ok = world.run(sandbox, ["touch", str(extra / "lib" / "x")])
    assert ok.returncode == 0, ok
    hook = extra / ".git" / "hooks" / "pre-push"
    world.run(sandbox, ["touch", str(hook)])
    # Refused (bubblewrap), or undone right after the command (Landlock).
    assert not hook.exists()


# --- read-only mode ----------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_read_only_mode_writes_nothing(mechanism: str, world: World) -> None:
    sandbox = sandbox_for(mechanism, mode="read-only")
    result = world.run(sandbox, ["sh", "-c", "echo x > src/new.py; echo x >> README.md"])
    assert result.returncode != 0
    assert not (world.ws / "src" / "new.py").exists()
    assert (world.ws / "README.md").read_text() == "hello\n"
    chmod = world.run(sandbox, ["chmod", "0777", str(world.target)])
    assert chmod.returncode != 0 and (world.target.stat().st_mode & 0o777) != 0o777
    reading = world.run(sandbox, ["cat", "README.md", str(world.target)])
    assert reading.returncode == 0 and "hello" in reading.stdout


# --- what must keep working ----------------------------------------------------------------


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_workspace_temp_and_reads_work(mechanism: str, world: World) -> None:
    sandbox = sandbox_for(mechanism)
    script = (
        "set -e; echo more >> README.md; echo 'x = 1' > src/new.py; mkdir -p src/pkg/deep; "
        "mv src/new.py src/pkg/deep/; rm src/main.py; echo quiet > /dev/null; "
        f"{PY} -c 'import tempfile; tempfile.NamedTemporaryFile().write(b\"x\")'; "
        f"cat /etc/passwd {world.target} > /dev/null; ls / > /dev/null; echo done"
    )
    result = world.run(sandbox, ["sh", "-c", script])
    assert result.returncode == 0 and "done" in result.stdout, result
    assert (world.ws / "src" / "pkg" / "deep" / "new.py").exists()
    assert (world.ws / "README.md").read_text() == "hello\nmore\n"


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_git_status_works_inside(mechanism: str, world: World) -> None:
    sandbox = sandbox_for(mechanism)
    result = world.run(sandbox, ["git", "status", "--porcelain"])
    assert result.returncode == 0, result
    assert "README.md" in result.stdout


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_temp_files_persist_between_commands_of_a_session(mechanism: str, world: World) -> None:
    sandbox = sandbox_for(mechanism)
    keep = "pathlib.Path(os.environ.get('TMPDIR', '/tmp'), 'keep')"
    write = f"import os, pathlib; {keep}.write_text('k')"
    read = f"import os, pathlib; print({keep}.read_text())"
    env = {**world.env, "TMPDIR": "/tmp"}
    assert world.run(sandbox, [PY, "-c", write], env).returncode == 0
    assert world.run(sandbox, [PY, "-c", read], env).stdout.strip() == "k"


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_unix_sockets_work_without_network(mechanism: str, world: World) -> None:
    sandbox = sandbox_for(mechanism)
    code = "import socket; a, b = socket.socketpair(); a.send(b'ok'); print(b.recv(2).decode())"
    result = world.run(sandbox, [PY, "-c", code])
    assert result.stdout.strip() == "ok", result


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_network_enabled_reaches_loopback_listener(mechanism: str, world: World) -> None:
    sandbox = sandbox_for(mechanism, network=True)
    server = world.server(socket.SOCK_STREAM)
    port = server.getsockname()[1]
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2).close()"
    result = world.run(sandbox, [PY, "-c", code])
    assert result.returncode == 0 and accepted(server), result


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_killing_the_process_group_stops_the_confined_command(mechanism: str, world: World) -> None:
    # processes.py kills the command's process group on timeout: the confined command must die
    # with it, not linger in the sandbox's own session.
    sandbox = sandbox_for(mechanism)
    argv = sandbox.wrap(["sh", "-c", "sleep 0.6; touch src/late"], world.ws, world.env)
    proc = subprocess.Popen(argv, cwd=world.ws, env=world.env, start_new_session=True)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.6)
    assert not (world.ws / "src" / "late").exists()


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_top_level_of_a_git_workspace_is_fully_writable(mechanism: str, world: World) -> None:
    # Issue 12: under Landlock the top level of a git repository could not be written.
    sandbox = sandbox_for(mechanism)
    script = "set -e; touch new; mv new renamed; mkdir d; rmdir d; rm README.md; echo done"
    result = world.run(sandbox, ["sh", "-c", script])
    assert result.returncode == 0 and "done" in result.stdout, result
    assert (world.ws / "renamed").exists() and not (world.ws / "README.md").exists()
    assert not world.told  # nothing protected was touched


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_hook_and_config_writes_are_undone_and_told(mechanism: str, world: World) -> None:
    sandbox = sandbox_for(mechanism)
    config = world.ws / ".git" / "config"
    before = config.read_bytes()
    hook = world.ws / ".git" / "hooks" / "pre-commit"
    script = (
        "printf '#!/bin/sh\\ntouch /tmp/pwned\\n' > .git/hooks/pre-commit; "
        "chmod +x .git/hooks/pre-commit; git config core.fsmonitor 'touch /tmp/pwned'; "
        "git config --get core.fsmonitor || true"
    )
    result = world.run(sandbox, ["sh", "-c", script])
    assert not hook.exists() and config.read_bytes() == before
    if mechanism == "landlock":
        # The command could write them (Landlock cannot deny there): lever undid it and said so.
        assert "touch /tmp/pwned" in result.stdout  # the write took effect inside the command
        assert ".git/hooks/pre-commit" in result.stdout and ".git/config" in result.stdout
        assert "Undone:" in result.stdout
        assert any(".git/config" in told for told in world.told)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_creating_git_or_lever_where_none_exists_is_undone(mechanism: str, world: World) -> None:
    # Issue 14 item 3: a command could create .lever/config.toml (or a .git) where none exists.
    shutil.rmtree(world.ws / ".lever")
    shutil.rmtree(world.ws / ".git")
    sandbox = sandbox_for(mechanism)
    script = "mkdir -p .lever .git/hooks && echo x > .lever/config.toml && git init -q; echo done"
    result = world.run(sandbox, ["sh", "-c", script])
    assert "done" in result.stdout, result
    assert not (world.ws / ".lever").exists() and not (world.ws / ".git").exists()
    assert any(".lever" in told for told in world.told)
