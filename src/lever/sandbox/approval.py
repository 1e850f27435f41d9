"""Approval policies (DESIGN.md §5): when a command or patch goes on, and when a person is asked.

The `Approvals` service belongs to a session. Tools call it before they act:

- `check_command` before a shell command starts: run it in the sandbox, run it outside, or
  refuse it (the model is told why);
- `check_rerun` after a command failed inside the sandbox for sandbox reasons (`on-failure`):
  rerun it outside, or keep the failure;
- `check_patch` before a patch is written.

When the policy says to ask, the service emits `ApprovalRequested`, awaits the front end's
`decide` callback (or answers itself: `--approve-all` approves, no callback denies), emits
`ApprovalDecided` and remembers "approve for this session" answers in its cache, keyed on the
whole parsed command — environment assignments, words, redirections, every segment of a
pipeline or chain — and the working directory (or the patch's paths). Known-safe commands run
without asking under `untrusted` are run neutralised (`Verdict.argv`, safe_commands.py). A
denied command never runs; "deny and stop" also raises a flag the session reads to end the turn.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast, get_args

from pydantic import BaseModel

from lever.protocol.events import ApprovalDecided, ApprovalRequested, ErrorEvent
from lever.sandbox.base import NoSandbox, Sandbox
from lever.sandbox.safe_commands import neutralised_argv, parse_command, unsafe_reason

ApprovalPolicy = Literal["untrusted", "on-failure", "on-request", "never"]
POLICIES: tuple[str, ...] = get_args(ApprovalPolicy)
Decision = Literal["approve_once", "approve_session", "deny", "deny_and_stop"]
DECISIONS: tuple[str, ...] = get_args(Decision)
RequestKind = Literal["shell", "patch", "escalation", "rerun_outside"]
Answerer = Literal["person", "approve_all", "nobody"]
#: The front end's answer to a request: shows it to the person and returns their decision.
Decide = Callable[[ApprovalRequested], Awaitable[Decision]]
Emit = Callable[[BaseModel], None]

FULL_ACCESS = "danger-full-access"


def parse_policy(value: str) -> ApprovalPolicy:
    if value not in POLICIES:
        raise ValueError(f"unknown approval policy {value!r} (one of: {', '.join(POLICIES)})")
    return cast(ApprovalPolicy, value)


def is_confining(sandbox: Sandbox) -> bool:
    """True when a mechanism really enforces a restricted mode on commands."""
    if sandbox.policy.mode == FULL_ACCESS or isinstance(sandbox, NoSandbox):
        return False
    return bool(getattr(sandbox, "available", True))


def is_unconfined(sandbox: Sandbox) -> bool:
    """A restricted mode was asked for but no mechanism can enforce it."""
    return sandbox.policy.mode != FULL_ACCESS and not is_confining(sandbox)


@dataclass(frozen=True)
class Verdict:
    """What to do with a command or a patch once the policy (and maybe a person) answered."""

    allowed: bool
    #: Run the command without the sandbox (a person approved that, or there is none anyway).
    outside: bool = False
    #: For the model, when not allowed: why nothing ran.
    message: str = ""
    #: Run this argv instead of the command's own: the same command with the programs it could
    #: start from a repository's configuration turned off (known-safe git commands).
    argv: tuple[str, ...] | None = None


class ApprovalCache:
    """ "Approve for this session" answers; keys come from `Approvals` (parsed command + cwd)."""

    def __init__(self) -> None:
        self._keys: set[Hashable] = set()

    def add(self, key: Hashable) -> None:
        self._keys.add(key)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)


class Approvals:
    def __init__(
        self,
        policy: str = "never",
        decide: Decide | None = None,
        *,
        approve_all: bool = False,
    ) -> None:
        self.policy: ApprovalPolicy = parse_policy(policy)
        self.decide = decide
        self.approve_all = approve_all
        self.cache = ApprovalCache()
        self._stop = False
        self._said_unconfined = False

    def take_stop(self) -> bool:
        """True once after a "deny and stop" answer: the session ends the turn."""
        stop, self._stop = self._stop, False
        return stop

    # -- commands ------------------------------------------------------------------------------

    async def check_command(
        self,
        *,
        call_id: str,
        command: str | Sequence[str],
        argv: Sequence[str],
        cwd: Path,
        sandbox: Sandbox,
        emit: Emit,
        escalate: bool = False,
        justification: str = "",
    ) -> Verdict:
        """Before a command starts: where it runs, or why it does not."""
        key = parse_command(command).key
        outside_key = ("outside", str(cwd), key)
        if sandbox.policy.mode == FULL_ACCESS:
            # Nothing to escape from; only `untrusted` asks, for what is not known safe.
            reason = unsafe_reason(command) if self.policy == "untrusted" else None
            if reason is None:
                return _auto_approved(command, outside=True, untrusted=self.policy == "untrusted")
            if outside_key in self.cache:
                return Verdict(True, outside=True)
            ask = _request(call_id, "shell", argv, cwd, f"untrusted policy: {reason}")
            return await self._ask_to_run(ask, emit, outside_key, outside=True)
        kind: RequestKind = "escalation" if escalate else "shell"
        if outside_key in self.cache:
            return Verdict(True, outside=True)
        if not is_confining(sandbox):
            ask = _request(call_id, kind, argv, cwd, "", justification)
            return await self._unconfined(ask, outside_key, sandbox, emit)
        if escalate:
            if self.policy == "never":
                return Verdict(False, message=_ESCALATION_REFUSED.format(mode=sandbox.policy.mode))
            reason = "the model asks to run this command outside the sandbox"
            ask = _request(call_id, kind, argv, cwd, reason, justification)
            return await self._ask_to_run(ask, emit, outside_key, outside=True)
        inside_key = ("sandbox", str(cwd), key)
        reason = unsafe_reason(command) if self.policy == "untrusted" else None
        if reason is None:
            return _auto_approved(command, outside=False, untrusted=self.policy == "untrusted")
        if inside_key in self.cache:
            return Verdict(True)
        ask = _request(call_id, kind, argv, cwd, f"untrusted policy: {reason}")
        return await self._ask_to_run(ask, emit, inside_key, outside=False)

    def wants_rerun_prompt(self, sandbox: Sandbox) -> bool:
        """After a sandbox denial, does this policy ask to rerun outside (`on-failure`)?"""
        return self.policy == "on-failure" and is_confining(sandbox)

    async def check_rerun(
        self,
        *,
        call_id: str,
        command: str | Sequence[str],
        argv: Sequence[str],
        cwd: Path,
        failure: str,
        emit: Emit,
    ) -> Verdict:
        """The command failed in the sandbox (`failure` shows how): may it run again outside?"""
        key = ("outside", str(cwd), parse_command(command).key)
        reason = f"it failed in the sandbox ({failure}); run it again outside the sandbox?"
        ask = _request(call_id, "rerun_outside", argv, cwd, reason)
        return await self._ask_to_run(ask, emit, key, outside=True, what="rerun")

    def denial_hint(self, failure: str) -> str:
        """What the model is told after a sandbox denial nobody was asked about."""
        if self.policy == "never":
            return (
                f"[lever: this looks like the sandbox refusing the command ({failure}); the "
                "approval policy is `never`, so it cannot run outside the sandbox. Work within "
                "the sandbox, or say what you need.]"
            )
        return (
            f"[lever: this looks like the sandbox refusing the command ({failure}). If it must "
            'run outside the sandbox, call shell again with "escalate": true and a '
            '"justification" the person will read.]'
        )

    async def _unconfined(
        self, ask: ApprovalRequested, key: Hashable, sandbox: Sandbox, emit: Emit
    ) -> Verdict:
        """A restricted mode with no mechanism: every command needs a person's yes."""
        mode = sandbox.policy.mode
        if not self._said_unconfined:
            self._said_unconfined = True  # said once per session, not once per command
            notice = _UNCONFINED_NOTICE.format(mode=mode)
            emit(ErrorEvent(kind="sandbox_unavailable", message=notice))
        if self.policy == "never":
            return Verdict(False, message=_UNCONFINED_REFUSED.format(mode=mode))
        ask.reason = f"no sandbox mechanism is available to enforce {mode}; it would run unconfined"
        return await self._ask_to_run(ask, emit, key, outside=True)

    async def _ask_to_run(
        self,
        request: ApprovalRequested,
        emit: Emit,
        key: Hashable,
        *,
        outside: bool,
        what: str = "command",
    ) -> Verdict:
        decision, by = await self.ask(request, emit, key)
        if decision in ("approve_once", "approve_session"):
            return Verdict(True, outside=outside)
        return Verdict(False, message=_denied_message(what, decision, by, self.policy))

    # -- patches -------------------------------------------------------------------------------

    async def check_patch(
        self, *, call_id: str, paths: Sequence[str], cwd: Path, sandbox: Sandbox, emit: Emit
    ) -> Verdict:
        """Patches inside the writable roots go on, except under `untrusted` or in read-only."""
        mode = sandbox.policy.mode
        if self.policy != "untrusted" and mode != "read-only":
            return Verdict(True)
        key = ("patch", tuple(sorted(str((cwd / path).resolve()) for path in paths)))
        if key in self.cache:
            return Verdict(True)
        if self.policy == "never":
            return Verdict(False, message=_PATCH_READ_ONLY)
        why = "untrusted policy" if self.policy == "untrusted" else "the sandbox is read-only"
        request = ApprovalRequested(
            call_id=call_id,
            kind="patch",
            paths=list(paths),
            cwd=str(cwd),
            reason=f"{why}: apply this patch to {', '.join(paths) or 'no files'}?",
        )
        decision, by = await self.ask(request, emit, key)
        if decision in ("approve_once", "approve_session"):
            return Verdict(True)
        return Verdict(False, message=_denied_message("patch", decision, by, self.policy))

    # -- asking --------------------------------------------------------------------------------

    async def ask(
        self, request: ApprovalRequested, emit: Emit, key: Hashable
    ) -> tuple[Decision, Answerer]:
        """Emit the request, get an answer, emit it, and remember what it implies."""
        emit(request)
        decision: Decision
        by: Answerer
        if self.approve_all:
            decision, by = "approve_once", "approve_all"
        elif self.decide is None:
            decision, by = "deny", "nobody"
        else:
            answer = await self.decide(request)
            # A front end bug must fail closed: anything unknown is a denial.
            decision = cast(Decision, answer) if answer in DECISIONS else "deny"
            by = "person"
        emit(ApprovalDecided(call_id=request.call_id, decision=decision, by=by))
        if decision == "approve_session":
            self.cache.add(key)
        elif decision == "deny_and_stop":
            self._stop = True
        return decision, by


def _auto_approved(command: str | Sequence[str], *, outside: bool, untrusted: bool) -> Verdict:
    """Run without asking; a command `untrusted` let through as known safe runs neutralised."""
    argv = neutralised_argv(command) if untrusted else None
    return Verdict(True, outside=outside, argv=tuple(argv) if argv else None)


def _request(
    call_id: str,
    kind: RequestKind,
    argv: Sequence[str],
    cwd: Path,
    reason: str,
    justification: str = "",
) -> ApprovalRequested:
    return ApprovalRequested(
        call_id=call_id,
        kind=kind,
        command=list(argv),
        cwd=str(cwd),
        reason=reason,
        justification=justification,
    )


def _denied_message(what: str, decision: str, by: Answerer, policy: str) -> str:
    if what == "rerun":
        what = "rerun of the command outside the sandbox"
        unchanged = "the output is from the sandboxed run, which failed"
    else:
        unchanged = "it was not run" if what == "command" else "no files were changed"
    if by == "nobody":
        return (
            f"this {what} needs approval (policy {policy}), but no one can approve it here; "
            f"{unchanged}. Find another way that needs no approval, or say what you need."
        )
    if decision == "deny_and_stop":
        return f"the person denied this {what} and stopped the turn; {unchanged}."
    return (
        f"the person denied this {what}; {unchanged}. Do not retry it as is: find another way "
        "or ask the person."
    )


_ESCALATION_REFUSED = (
    "escalation refused: the approval policy is `never`, so no one can approve running a "
    "command outside the sandbox ({mode}); it was not run. Work within the sandbox, or say what "
    "you need."
)
_UNCONFINED_NOTICE = (
    "no sandbox mechanism is available to enforce {mode}: every command needs approval "
    "(install bubblewrap, or choose --sandbox danger-full-access)"
)
_UNCONFINED_REFUSED = (
    "refused: no sandbox mechanism is available to enforce {mode}, so every command needs "
    "approval, and the approval policy `never` cannot ask; it was not run."
)
_PATCH_READ_ONLY = (
    "refused: the sandbox is read-only, so patches need approval, and the approval policy "
    "`never` cannot ask; no files were changed."
)
