"""The `Approvals` service on its own: policies, decisions, the session cache, denials."""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from lever.protocol import ApprovalDecided, ApprovalRequested, ErrorEvent
from lever.sandbox.approval import Approvals, is_confining, parse_policy
from lever.sandbox.base import NoSandbox, SandboxPolicy
from lever.sandbox.denial import sandbox_denial
from lever.testing.approvals import Front

CWD = Path("/work/ws")


class Confining:
    """Stands for a working mechanism: `Approvals` only reads `policy` and `available`."""

    name = "test"
    available = True

    def __init__(self, mode: str = "workspace-write") -> None:
        self.policy = SandboxPolicy(mode=mode, writable_roots=(CWD,))

    def wrap(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> list[str]:
        raise AssertionError("not run here")


class Unavailable(Confining):
    available = False


async def check(approvals: Approvals, command: Any, sandbox: Any = None, **kw: Any) -> Any:
    events: list[BaseModel] = []
    argv = ["bash", "-lc", command] if isinstance(command, str) else list(command)
    verdict = await approvals.check_command(
        call_id="c1",
        command=command,
        argv=argv,
        cwd=kw.pop("cwd", CWD),
        sandbox=sandbox or Confining(),
        emit=events.append,
        **kw,
    )
    return verdict, events


def test_policies_parse() -> None:
    assert parse_policy("on-request") == "on-request"
    with pytest.raises(ValueError, match="one of: untrusted"):
        parse_policy("sometimes")


def test_confinement_needs_a_restricted_mode_and_a_mechanism() -> None:
    assert is_confining(Confining())
    assert not is_confining(Unavailable())
    assert not is_confining(Confining("danger-full-access"))
    assert not is_confining(NoSandbox(SandboxPolicy(mode="workspace-write")))


@pytest.mark.parametrize("policy", ["on-failure", "on-request", "never"])
async def test_non_untrusted_policies_run_anything_in_the_sandbox(policy: str) -> None:
    verdict, events = await check(Approvals(policy, Front()), "rm -rf build")
    assert (verdict.allowed, verdict.outside, events) == (True, False, [])


async def test_untrusted_runs_known_safe_and_asks_for_the_rest() -> None:
    front = Front("approve_once")
    approvals = Approvals("untrusted", front)
    verdict, events = await check(approvals, "git status && ls")
    assert verdict.allowed and events == [] and front.asked == []
    verdict, events = await check(approvals, "rm -rf build")
    assert verdict.allowed and not verdict.outside
    request, decided = events
    assert isinstance(request, ApprovalRequested) and isinstance(decided, ApprovalDecided)
    assert request.kind == "shell" and "`rm`" in request.reason
    assert request.command == ["bash", "-lc", "rm -rf build"] and request.cwd == str(CWD)
    assert (decided.decision, decided.by) == ("approve_once", "person")


@pytest.mark.parametrize("mode", ["workspace-write", "danger-full-access"])
async def test_known_safe_git_runs_neutralised_only_when_untrusted_let_it_through(
    mode: str,
) -> None:
    sandbox = Confining(mode)
    verdict, _ = await check(Approvals("untrusted"), "git status && ls", sandbox)
    assert verdict.allowed and verdict.argv is not None
    assert verdict.argv[:2] == ("bash", "-lc") and verdict.argv[2].startswith(
        "git --no-pager --no-optional-locks -c core.hooksPath=/dev/null "
    )
    verdict, _ = await check(Approvals("untrusted"), "ls -la", sandbox)
    assert verdict.allowed and verdict.argv is None  # nothing to neutralise
    verdict, _ = await check(Approvals("on-request"), "git status", sandbox)
    assert verdict.allowed and verdict.argv is None  # not classified: runs as written
    approvals = Approvals("untrusted", Front("approve_session"))
    await check(approvals, "git -C sub status", sandbox)
    verdict, events = await check(approvals, "git -C sub status", sandbox)
    assert verdict.allowed and events == [] and verdict.argv is None  # the person's approval


async def test_deny_and_deny_and_stop() -> None:
    approvals = Approvals("untrusted", Front("deny", "deny_and_stop"))
    verdict, _ = await check(approvals, "rm x")
    assert not verdict.allowed and "the person denied this command" in verdict.message
    assert not approvals.take_stop()
    verdict, _ = await check(approvals, "rm x")
    assert not verdict.allowed and "stopped the turn" in verdict.message
    assert approvals.take_stop() and not approvals.take_stop()  # read once


async def test_approve_session_is_keyed_on_parsed_command_and_cwd() -> None:
    front = Front("approve_session", "approve_once", "approve_once", "approve_once")
    approvals = Approvals("untrusted", front)
    assert (await check(approvals, "cargo test --all"))[0].allowed
    for same in ("cargo  test   --all", "cargo 'test' --all", ["cargo", "test", "--all"]):
        verdict, events = await check(approvals, same)
        assert verdict.allowed and events == []
    await check(approvals, "cargo test")  # another command: asked
    await check(approvals, "cargo test --all", cwd=Path("/elsewhere"))  # another folder: asked
    await check(approvals, "RUST_LOG=1 cargo test --all")  # an env prefix: asked (issue 14)
    assert len(front.asked) == 4


async def test_an_unknown_answer_fails_closed() -> None:
    approvals = Approvals("untrusted", Front("yes please"))  # type: ignore[arg-type,unused-ignore]
    verdict, events = await check(approvals, "rm x")
    assert not verdict.allowed and events[-1].decision == "deny"


async def test_nobody_to_ask_denies_and_approve_all_approves() -> None:
    verdict, events = await check(Approvals("untrusted"), "rm x")
    assert not verdict.allowed and "no one can approve" in verdict.message
    assert events[-1].by == "nobody"
    verdict, events = await check(Approvals("on-request", approve_all=True), "rm x", escalate=True)
    assert verdict.allowed and verdict.outside and events[-1].by == "approve_all"


@pytest.mark.parametrize("policy", ["untrusted", "on-failure", "on-request"])
async def test_escalation_asks_with_the_justification(policy: str) -> None:
    approvals = Approvals(policy, Front("approve_session"))
    verdict, events = await check(approvals, "npm install", escalate=True, justification="net")
    assert verdict.allowed and verdict.outside
    assert events[0].kind == "escalation" and events[0].justification == "net"
    # Approved for the session outside: the same command now runs outside without asking.
    verdict, events = await check(approvals, "npm  install")
    assert verdict.outside and events == []


async def test_never_refuses_escalation() -> None:
    verdict, events = await check(Approvals("never", Front()), "npm i", escalate=True)
    assert not verdict.allowed and "escalation refused" in verdict.message and events == []


async def test_without_a_mechanism_every_command_needs_approval_said_once() -> None:
    approvals = Approvals("never")
    first, events1 = await check(approvals, "ls", Unavailable())
    second, events2 = await check(approvals, "ls", Unavailable())
    assert not first.allowed and not second.allowed and "no sandbox mechanism" in first.message
    assert [type(e) for e in events1] == [ErrorEvent] and events2 == []
    front = Front("approve_once")
    verdict, _ = await check(Approvals("on-request", front), "ls", Unavailable())
    assert verdict.allowed and verdict.outside and front.asked[0].kind == "shell"


async def test_full_access_asks_only_under_untrusted() -> None:
    full = Confining("danger-full-access")
    verdict, events = await check(Approvals("never"), "rm x", full, escalate=True)
    assert verdict.allowed and verdict.outside and events == []
    front = Front("deny")
    verdict, _ = await check(Approvals("untrusted", front), "rm x", full)
    assert not verdict.allowed and len(front.asked) == 1


async def test_rerun_outside_after_a_denial() -> None:
    approvals = Approvals("on-failure", Front("approve_once"))
    assert approvals.wants_rerun_prompt(Confining())
    assert not Approvals("on-request").wants_rerun_prompt(Confining())
    events: list[Any] = []
    verdict = await approvals.check_rerun(
        call_id="c1",
        command="touch .git/x",
        argv=["bash", "-lc", "touch .git/x"],
        cwd=CWD,
        failure="Read-only file system",
        emit=events.append,
    )
    assert verdict.allowed and verdict.outside
    assert events[0].kind == "rerun_outside" and "Read-only file system" in events[0].reason


@pytest.mark.parametrize(
    ("policy", "mode", "asks"),
    [
        ("never", "workspace-write", False),
        ("on-request", "workspace-write", False),
        ("untrusted", "workspace-write", True),
        ("untrusted", "danger-full-access", True),
        ("on-failure", "read-only", True),
    ],
)
async def test_patches(policy: str, mode: str, asks: bool) -> None:
    front = Front("approve_session")
    approvals = Approvals(policy, front)
    for _ in range(2):
        verdict = await approvals.check_patch(
            call_id="p", paths=["a.py", "b.py"], cwd=CWD, sandbox=Confining(mode), emit=print
        )
        assert verdict.allowed
    assert len(front.asked) == (1 if asks else 0)  # approve_session sticks for the same paths
    if asks:
        assert front.asked[0].kind == "patch" and front.asked[0].paths == ["a.py", "b.py"]


async def test_read_only_patch_under_never_is_refused() -> None:
    verdict = await Approvals("never").check_patch(
        call_id="p", paths=["a.py"], cwd=CWD, sandbox=Confining("read-only"), emit=print
    )
    assert not verdict.allowed and "read-only" in verdict.message


@pytest.mark.parametrize(
    ("code", "output", "denied"),
    [
        (1, "touch: cannot touch 'x': Read-only file system", True),
        (1, "bash: /etc/x: Permission denied", True),
        (1, "mount: Operation not permitted", True),
        (7, "curl: (6) Could not resolve host: example.com", True),
        (1, "socket.gaierror: [Errno -3] Temporary failure in name resolution", True),
        (2, "connect: Network is unreachable", True),
        (-int(signal.SIGSYS), "", True),
        (0, "Permission denied (but it worked)", False),
        (None, "Read-only file system", False),
        (1, "FAILED tests/test_math.py::test_add - assert 3 == 4", False),
    ],
)
def test_sandbox_denial(code: int | None, output: str, denied: bool) -> None:
    assert (sandbox_denial(code, output) is not None) == denied
