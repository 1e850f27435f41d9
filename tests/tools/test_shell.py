"""The shell tool end to end with real subprocesses (no sandbox mechanism, no network).

Each test runs twice: in a HOME without profiles, string commands as `bash -lc` (no snapshot);
and in a realistic HOME (a slow, noisy pyenv-style `.bashrc`, tests/conftest.py) with the shell
snapshot, where outputs must be exactly the commands' own.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from lever.protocol.events import ToolOutputChunk
from lever.sandbox.base import SandboxPolicy
from lever.testing.procs import alive
from lever.tools.base import Tool, ToolContext
from lever.tools.processes import ProcessManager
from lever.tools.shell import ShellTool
from lever.tools.shell_snapshot import ShellSnapshot

PY = sys.executable


class MarkingSandbox:
    """A sandbox whose wrap really changes what runs: it sets a variable through `env`."""

    name = "marking"

    def __init__(self) -> None:
        self.policy = SandboxPolicy()
        self.calls: list[tuple[list[str], Path]] = []

    def wrap(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> list[str]:
        self.calls.append((list(argv), cwd))
        return ["env", "WRAPPED=yes", *argv]


@pytest.fixture
async def manager() -> AsyncIterator[ProcessManager]:
    m = ProcessManager(kill_grace_s=0.3)
    yield m
    await m.close()


@pytest.fixture(params=["clean-home", "realistic-home"])
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "clean-home":
        # A HOME without profiles keeps `bash -l` fast and independent of this machine.
        return tmp_path
    realistic: Path = request.getfixturevalue("realistic_home").home
    return realistic


@pytest.fixture
def tool(manager: ProcessManager, home: Path, tmp_path: Path) -> Iterator[ShellTool]:
    snapshot = None if home == tmp_path else ShellSnapshot()
    yield ShellTool(manager, snapshot=snapshot)
    if snapshot is not None:
        snapshot.close()


@pytest.fixture
def events() -> list[BaseModel]:
    return []


@pytest.fixture
def ctx(tmp_path: Path, home: Path, events: list[BaseModel]) -> ToolContext:
    workspace = tmp_path / "ws"
    (workspace / "sub").mkdir(parents=True)
    (workspace / "file.txt").write_text("hello\n")
    return ToolContext(
        cwd=workspace,
        call_id="call_1",
        env={**os.environ, "HOME": str(home)},
        emit=events.append,
        artifacts_dir=tmp_path / "session" / "artifacts",
    )


async def run(tool: ShellTool, ctx: ToolContext, **args: Any) -> Any:
    return await tool.run(args, ctx)


def test_schema(tool: ShellTool) -> None:
    checked: Tool = tool
    assert checked.schema.name == "shell"
    props = tool.schema.parameters["properties"]
    for name in [
        "command",
        "workdir",
        "timeout_ms",
        "yield_ms",
        "keep_stdin_open",
        "process_id",
        "stdin",
        "kill",
        "escalate",
        "justification",
    ]:
        assert name in props and props[name]["description"]
    assert "run by bash" in tool.schema.description and "process_id" in tool.schema.description
    assert "bash -lc" not in tool.schema.description


async def test_string_form_runs_in_bash(tool: ShellTool, ctx: ToolContext) -> None:
    result = await run(tool, ctx, command="cat file.txt | tr a-z A-Z && echo $((6 * 7))")
    assert not result.is_error
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("exit code: 0 · ")
    assert result.output.endswith("\nHELLO\n42\n")
    assert result.full_output == result.output and not result.truncated
    assert result.process_id is None


async def test_a_new_command_gets_a_second_whatever_yield_ms_says(
    tool: ShellTool, ctx: ToolContext
) -> None:
    # Small models send `"yield_ms": 0` with every command; a quick one must still come back
    # whole, not "still running as p1".
    result = await run(tool, ctx, command="sleep 0.3; echo finished", yield_ms=0)
    assert result.process_id is None and result.exit_code == 0
    assert result.output.endswith("\nfinished\n")


def test_the_small_schema_is_a_subset_the_full_arguments_read(tool: ShellTool) -> None:
    tool.offer_small()
    props = tool.schema.parameters["properties"]
    assert set(props) == {"command", "workdir", "timeout_ms", "escalate", "justification"}
    assert "process_id" not in props["command"]["description"]
    for word in ("yield_ms", "process_id", "`stdin`", "`kill`"):
        assert word not in tool.schema.description


async def test_argv_form_uses_no_shell(tool: ShellTool, ctx: ToolContext) -> None:
    result = await run(tool, ctx, command=["echo", "$HOME", "a b", "*"])
    assert result.output.endswith("\n$HOME a b *\n")
    assert result.exit_code == 0


async def test_nonzero_exit_is_not_a_tool_error(tool: ShellTool, ctx: ToolContext) -> None:
    result = await run(tool, ctx, command="echo oops >&2; exit 3")
    assert not result.is_error
    assert result.exit_code == 3
    assert result.output.startswith("exit code: 3 · ")
    assert "oops" in result.output
    missing = await run(tool, ctx, command="no-such-program-xyz")
    assert not missing.is_error and missing.exit_code == 127


async def test_command_goes_through_the_sandbox(tool: ShellTool, ctx: ToolContext) -> None:
    sandbox = MarkingSandbox()
    ctx.sandbox = sandbox
    result = await run(tool, ctx, command="echo $WRAPPED", workdir="sub")
    assert result.output.endswith("\nyes\n")
    # The writable roots come from the workspace, never from the workdir (tests/security).
    flag = "-lc" if tool.snapshot is None else "-c"
    assert sandbox.calls == [(["bash", flag, "echo $WRAPPED"], ctx.cwd)]


async def test_workdir(tool: ShellTool, ctx: ToolContext, tmp_path: Path) -> None:
    result = await run(tool, ctx, command=["pwd"], workdir="sub")
    assert result.output.endswith(f"\n{ctx.cwd / 'sub'}\n")
    result = await run(tool, ctx, command=["pwd"])
    assert result.output.endswith(f"\n{ctx.cwd}\n")
    inside_abs = await run(tool, ctx, command=["pwd"], workdir=str(ctx.cwd / "sub"))
    assert not inside_abs.is_error

    for workdir, expected in [
        ("missing", "`workdir` missing does not exist"),
        ("file.txt", "`workdir` file.txt is not a directory"),
        ("..", "`workdir` .. is outside the workspace"),
        ("/etc", "`workdir` /etc is outside the workspace"),
        ("sub/../../", "is outside the workspace"),
    ]:
        result = await run(tool, ctx, command=["pwd"], workdir=workdir)
        assert result.is_error, workdir
        assert expected in result.output

    # Extra writable roots are allowed as well.
    other = tmp_path / "other"
    other.mkdir()
    ctx.writable_roots = (ctx.cwd, other)
    result = await run(tool, ctx, command=["pwd"], workdir=str(other))
    assert not result.is_error and result.output.endswith(f"\n{other}\n")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({}, "`command` is required"),
        ({"command": 5}, "`command`: must be a string"),
        ({"command": ["ls", 3]}, "`command`: must be a string"),
        ({"command": "ls", "timeout_ms": "soon"}, "`timeout_ms`"),
        ({"command": "ls", "timeout_ms": 0}, "`timeout_ms`"),
        ({"command": "ls", "yield_ms": -1}, "`yield_ms`"),
        ({"command": "ls", "keep_stdin_open": [1]}, "`keep_stdin_open`"),
        ({"command": "ls", "workdir": 7}, "`workdir`"),
        ({"command": "ls", "cwd": "x"}, "`cwd`: unknown argument"),
        ({"command": "   "}, "`command` is empty"),
        ({"command": []}, "`command` is an empty array"),
        ({"command": "ls", "process_id": "p1"}, "not both"),
        ({"command": "ls", "stdin": "x"}, "need the `process_id`"),
        ({"command": "ls", "kill": True}, "need the `process_id`"),
        ({"process_id": "p1", "stdin": "x", "kill": True}, "not both"),
        ({"process_id": "p1", "keep_stdin_open": True}, "`keep_stdin_open`"),
    ],
)
async def test_bad_arguments(
    tool: ShellTool, ctx: ToolContext, args: dict[str, Any], field: str
) -> None:
    result = await tool.run(args, ctx)
    assert result.is_error
    assert field in result.output


async def test_nulls_and_escalation_fields_are_accepted(tool: ShellTool, ctx: ToolContext) -> None:
    result = await run(
        tool,
        ctx,
        command="echo ok",
        workdir=None,
        timeout_ms=None,
        yield_ms=None,
        process_id=None,
        escalate=True,
        justification="needs network",
    )
    assert not result.is_error and result.output.endswith("\nok\n")


async def test_missing_argv_program_is_an_error(tool: ShellTool, ctx: ToolContext) -> None:
    result = await run(tool, ctx, command=["no-such-program-xyz", "--help"])
    assert result.is_error
    assert "command not found: no-such-program-xyz" in result.output


async def test_timeout_is_reported_and_kills_the_group(tool: ShellTool, ctx: ToolContext) -> None:
    started = time.monotonic()
    result = await run(
        tool, ctx, command="sleep 300 & echo $!; sleep 300 & echo $!; wait", timeout_ms=500
    )
    assert time.monotonic() - started < 5
    assert not result.is_error
    assert result.exit_code == 124
    header, *body = result.output.splitlines()
    assert header.startswith("timed out after 500 ms · process group killed")
    pids = [int(line) for line in body]
    assert len(pids) == 2
    assert not any(alive(pid) for pid in pids)


async def test_huge_output_is_truncated_and_kept_whole(
    tool: ShellTool, ctx: ToolContext, events: list[BaseModel]
) -> None:
    result = await run(tool, ctx, command=["seq", "1", "1000000"])
    expected = "".join(f"{i}\n" for i in range(1, 1_000_001))
    assert result.exit_code == 0 and result.truncated
    assert ctx.artifacts_dir is not None
    artifact = ctx.artifacts_dir / "call_1.txt"
    assert artifact.read_bytes() == expected.encode()
    # What the model sees: header, 200 head lines, the marker, 200 tail lines, within budget.
    assert len(result.output.encode()) < 17_000
    assert f"lines cut; full output: {artifact} ...]" in result.output
    assert result.output.split("\n")[1:4] == ["1", "2", "3"]
    assert result.output.endswith("\n999999\n1000000\n")
    assert "\n200\n[... " in result.output
    # The rollout keeps a bounded head and tail, and the name of the file with every line.
    header, body = result.full_output.split("\n", 1)
    assert header == result.output.split("\n", 1)[0]
    assert len(body.encode()) < 65_000 and f"full output: {artifact} ...]" in body
    assert body.startswith("1\n2\n3\n") and body.endswith("\n999999\n1000000\n")
    # Every byte went out live too.
    chunks = [e for e in events if isinstance(e, ToolOutputChunk)]
    assert all(e.call_id == "call_1" for e in chunks)
    assert "".join(e.chunk for e in chunks) == expected


async def test_truncation_without_artifacts_dir(tool: ShellTool, ctx: ToolContext) -> None:
    ctx.artifacts_dir = None
    result = await run(tool, ctx, command=[PY, "-c", "print('x' * 100_000)"])
    assert result.truncated
    assert "[... 84,001 bytes, 0 lines cut ...]" in result.output


async def test_binary_output_does_not_crash(tool: ShellTool, ctx: ToolContext) -> None:
    result = await run(tool, ctx, command="head -c 2000 /dev/urandom")
    assert not result.is_error and result.exit_code == 0
    assert "\x00" not in result.output
    result = await run(tool, ctx, command=r"printf '\xff\xfe\x00ok'")
    assert result.output.endswith("\n\ufffd\ufffd\ufffdok")


@pytest.mark.parametrize("command", ["cat", 'python3 -c "input()"', "read x; echo got:$x"])
async def test_interactive_commands_do_not_hang(
    tool: ShellTool, ctx: ToolContext, command: str
) -> None:
    started = time.monotonic()
    result = await run(tool, ctx, command=command)
    assert time.monotonic() - started < 5
    assert result.process_id is None and result.exit_code is not None


ECHO_SCRIPT = """
import sys
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "quit":
        print("bye", flush=True)
        break
    print("echo:" + line.strip(), flush=True)
"""


async def test_background_process_flow(
    tool: ShellTool, ctx: ToolContext, manager: ProcessManager, events: list[BaseModel]
) -> None:
    started = await run(
        tool, ctx, command=[PY, "-u", "-c", ECHO_SCRIPT], keep_stdin_open=True, yield_ms=300
    )
    assert not started.is_error
    assert started.process_id == "p1" and started.exit_code is None
    assert started.output.startswith("still running as process p1 · ")
    assert '{"process_id": "p1"}' in started.output and '"stdin"' in started.output
    seen = started.output
    for _ in range(50):  # a loaded machine may start python slower than yield_ms
        if "ready" in seen:
            break
        seen += (await run(tool, ctx, process_id="p1", yield_ms=100)).output
    assert "\nready\n" in seen

    ctx.call_id = "call_2"
    polled = await run(tool, ctx, process_id="p1", stdin="hi\n", yield_ms=1_000)
    assert polled.process_id == "p1"
    assert polled.output.startswith("still running as process p1 · ")
    assert polled.output.endswith("\necho:hi\n") and "ready" not in polled.output
    assert [e.chunk for e in events if isinstance(e, ToolOutputChunk) and e.call_id == "call_2"]
    assert (
        "".join(e.chunk for e in events if isinstance(e, ToolOutputChunk) and e.call_id == "call_2")
        == "echo:hi\n"
    )
    quiet = await run(tool, ctx, process_id="p1", yield_ms=50)
    assert quiet.output.endswith("\n(no new output)")

    sleeper = await run(tool, ctx, command="sleep 300", yield_ms=100)
    assert sleeper.process_id == "p2"
    with_stdin = await run(tool, ctx, process_id="p2", stdin="x\n")
    assert with_stdin.is_error and "keep_stdin_open" in with_stdin.output

    done = await run(tool, ctx, process_id="p1", stdin="quit\n", yield_ms=5_000)
    assert done.process_id is None and done.exit_code == 0
    assert done.output.startswith("process p1 · exit code: 0 · ")
    assert done.output.endswith("\nbye\n")
    gone = await run(tool, ctx, process_id="p1")
    assert gone.is_error and "no running process 'p1' (running: p2)" in gone.output

    killed = await run(tool, ctx, process_id="p2", kill=True)
    assert not killed.is_error
    assert killed.output.startswith("process p2 · killed · exit code: -15 (killed by SIGTERM)")
    assert manager.running_ids() == []


async def test_session_close_kills_what_is_still_running(
    tool: ShellTool, ctx: ToolContext, manager: ProcessManager
) -> None:
    result = await run(tool, ctx, command="sleep 300 & echo $!; wait", yield_ms=300)
    assert result.process_id == "p1"
    child = int(result.output.splitlines()[1])
    assert alive(child)
    await manager.close()
    assert not alive(child)


async def test_empty_optional_arguments_count_as_absent(tmp_path) -> None:
    """llama.cpp makes models fill every property: `"process_id": ""` must not mean a poll."""
    from lever.tools.base import ToolContext
    from lever.tools.processes import ProcessManager
    from lever.tools.shell import ShellTool

    manager = ProcessManager()
    try:
        result = await ShellTool(manager).run(
            {"command": ["echo", "hi"], "process_id": "", "workdir": "", "justification": ""},
            ToolContext(cwd=tmp_path),
        )
    finally:
        await manager.close()
    assert not result.is_error and "hi" in result.output


async def test_workdir_naming_the_workspace_folder_means_the_workspace(tmp_path) -> None:
    from lever.tools.base import ToolContext
    from lever.tools.processes import ProcessManager
    from lever.tools.shell import ShellTool

    repo = tmp_path / "repo"
    repo.mkdir()
    manager = ProcessManager()
    try:
        tool = ShellTool(manager)
        ok = await tool.run({"command": ["pwd"], "workdir": "repo"}, ToolContext(cwd=repo))
        missing = await tool.run({"command": ["pwd"], "workdir": "other"}, ToolContext(cwd=repo))
        # The 1.5B writes the workspace's absolute path without its leading slash.
        no_slash = str(repo).lstrip("/")
        path_ok = await tool.run({"command": ["pwd"], "workdir": no_slash}, ToolContext(cwd=repo))
        partial = await tool.run({"command": ["pwd"], "workdir": "epo"}, ToolContext(cwd=repo))
    finally:
        await manager.close()
    assert not ok.is_error and str(repo) in ok.output
    assert missing.is_error and "does not exist" in missing.output
    assert not path_ok.is_error and str(repo) in path_ok.output
    assert partial.is_error and "does not exist" in partial.output
