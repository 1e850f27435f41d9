"""The one front-end flow (DESIGN.md §1): open a session — new, resumed or forked — run its
turns to their end, and close it. `lever exec`, `lever resume`/`fork`, the TUI, the app-server,
the MCP server and fleets all come through here, so a fix lands in every front end.

Resume and fork restore what the session was recorded with (its `session_started`): sandbox
mode, approval policy, model and limits; the configuration does not change them. A front end
may narrow any of them; widening one (a wider sandbox, an approval policy that asks less, a
higher limit) needs `widen` (`--widen`), and the new `session_started` lists what was widened.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lever.agent.limits import Limits
from lever.agent.resume import Replayed, as_fork, replay
from lever.agent.session import Session
from lever.assembly import (
    RECORDED_MODEL_KEYS,
    build_session,
    limits_from,
    resolve_from_args,
    sandbox_from,
)
from lever.config.loader import lever_home, load_config
from lever.config.providers import ConfigError, ResolvedModel, resolve_model
from lever.protocol import Event, SessionStarted, TurnFinished
from lever.sandbox.approval import POLICIES, Approvals, Decide
from lever.sandbox.base import Sandbox
from lever.store.rollout import new_session_id, read_rollout, session_dir

if TYPE_CHECKING:
    from lever.agent.subagents import ChildSetup

#: From the narrowest to the widest.
SANDBOX_ORDER = ("read-only", "workspace-write", "danger-full-access")
#: From the one that asks a person most to the one that never asks (Codex's order).
APPROVAL_ORDER = ("untrusted", "on-failure", "on-request", "never")
LIMIT_NAMES = ("max_turns", "max_tokens", "max_seconds")


class WidenError(ConfigError):
    """A resume or fork asked for more than the session was recorded with, without `widen`."""


@dataclass
class Request:
    """What a front end asks for. Unset (None) fields come from the recorded session (resume,
    fork) or from the configuration (a new session)."""

    #: The folder of a new session; a resumed or forked one keeps its recorded folder.
    cwd: Path
    provider: str | None = None
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    sandbox: str | None = None
    approval: str | None = None
    max_turns: int | None = None
    max_tokens: int | None = None
    max_seconds: float | None = None
    #: The time limit when neither the flags nor the configuration set one (`lever exec`'s).
    default_max_seconds: float | None = None
    profile: str | None = None
    overrides: list[str] = field(default_factory=list)
    #: The rollout to continue (or to fork from, with `fork`).
    resume: Path | None = None
    fork: bool = False
    #: Fork (or resume) the state after this event.
    at: int | None = None
    widen: bool = False
    #: `--approve-all`: every approval request is approved (exec, for trusted automation).
    approve_all: bool = False
    #: The policy of a new session when neither the request nor the configuration names one.
    default_approval: str = "never"
    #: The id of a new session or fork; None: a fresh one.
    session_id: str | None = None
    #: `--yes` with `--provider local`: pull a missing model first.
    pull: bool = False
    compact_at: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, cwd: Path, **more: Any) -> Request:
        """The request of the CLI's flags (absent flags are unset)."""

        def flag(name: str) -> Any:
            return getattr(args, name, None)

        return cls(
            cwd=cwd,
            provider=flag("provider"),
            model=flag("model"),
            base_url=flag("base_url"),
            api_key_env=flag("api_key_env"),
            sandbox=flag("sandbox"),
            approval=flag("ask_for_approval"),
            max_turns=flag("max_turns"),
            max_tokens=flag("max_tokens"),
            max_seconds=flag("timeout"),
            profile=flag("profile"),
            overrides=list(flag("overrides") or []),
            widen=bool(flag("widen")),
            approve_all=bool(flag("approve_all")),
            pull=bool(flag("yes")),
            compact_at=flag("compact_at"),
            **more,
        )

    def flags(self) -> argparse.Namespace:
        """The CLI's flag names, which `lever.assembly` reads."""
        return argparse.Namespace(
            provider=self.provider,
            model=self.model,
            base_url=self.base_url,
            api_key_env=self.api_key_env,
            sandbox=self.sandbox,
            max_turns=self.max_turns,
            max_tokens=self.max_tokens,
            timeout=self.max_seconds,
            default_timeout=self.default_max_seconds,
            yes=self.pull,
        )


@dataclass
class Plan:
    """Everything decided before a session is built (cheap: no client, no rollout yet)."""

    request: Request
    cwd: Path
    config: dict[str, Any]
    resolved: ResolvedModel
    sandbox: Sandbox
    approval: str
    limits: Limits
    replayed: Replayed | None = None
    #: The recorded events (a front end may draw them first), up to `at`.
    past: list[Event] = field(default_factory=list)
    session_id: str | None = None
    rollout_path: Path | None = None
    #: 0 for the person's session; a sub-agent's is its parent's plus one.
    depth: int = 0

    def turns(self, prompt: str | None) -> list[str | None]:
        """The turns to run: an unfinished recorded turn first (None), then `prompt`."""
        replayed = self.replayed
        turns: list[str | None] = [None] if replayed is not None and replayed.open_turn else []
        return [*turns, prompt] if prompt else turns


@dataclass
class Opened:
    session: Session
    plan: Plan

    @property
    def replayed(self) -> Replayed | None:
        return self.plan.replayed

    @property
    def past(self) -> list[Event]:
        return self.plan.past

    @property
    def resolved(self) -> ResolvedModel:
        return self.plan.resolved

    @property
    def config(self) -> dict[str, Any]:
        return self.plan.config

    def begin(self) -> None:
        """Announce a new session, or restore the recorded one (its history and state)."""
        if self.plan.replayed is None:
            self.session.start()
        else:
            self.session.restore(self.plan.replayed)


def prepare(request: Request) -> Plan:
    """Read the record (resume, fork), the configuration, the model and the policies.

    Raises ConfigError (WidenError for a widening without `widen`), FileNotFoundError and
    ValueError (an unreadable rollout).
    """
    if request.resume is None:
        return _prepare_new(request)
    events = list(read_rollout(request.resume))
    replayed = replay(events, until_seq=request.at)
    started = replayed.started
    cwd = Path(started.cwd)
    if not cwd.is_dir():
        raise ConfigError(f"the session's folder is gone: {cwd}")
    config = _config(request, cwd)
    _restore_model_settings(config, started, request)
    resolved = resolve_model(
        config,
        provider=request.provider or started.config.get("provider"),
        model=request.model or started.model,
        base_url=request.base_url or started.config.get("base_url"),
        api_key_env=request.api_key_env,
    )
    mode, approval, limits, widened = restored(started, request, config)
    sandbox = sandbox_from(config, argparse.Namespace(sandbox=mode), cwd)
    replayed.started = started.model_copy(update={"widened": widened})
    past = [event for event in events if request.at is None or event.seq <= request.at]
    plan = Plan(request, cwd, config, resolved, sandbox, approval, limits, replayed, past)
    if request.fork:
        plan.session_id = request.session_id or new_session_id()
        plan.rollout_path = session_dir(lever_home()) / f"rollout-{plan.session_id}.jsonl"
        plan.replayed = as_fork(replayed, plan.session_id, started.session_id)
    else:
        plan.session_id, plan.rollout_path = started.session_id, request.resume
        # A resumed sub-agent keeps its depth: it cannot spawn past `max_depth`. (A fork is
        # the person's own session, at depth 0.)
        plan.depth = started.depth or 0
    return plan


def _prepare_new(request: Request) -> Plan:
    cwd = request.cwd
    if not cwd.is_dir():
        raise ConfigError(f"no such folder: {cwd}")
    config = _config(request, cwd)
    flags = request.flags()
    resolved = resolve_from_args(flags, config)
    default = "on-failure" if request.approve_all else request.default_approval
    approval = request.approval or config.get("approval") or default
    _check_policy(approval)
    sandbox = sandbox_from(config, flags, cwd)
    limits = limits_from(config, flags)
    plan = Plan(request, cwd, config, resolved, sandbox, approval, limits)
    plan.session_id = request.session_id
    return plan


def _restore_model_settings(
    config: dict[str, Any], started: SessionStarted, request: Request
) -> None:
    """The recorded reasoning settings win over the configuration's, unless this request sets
    them again (`--reasoning-effort`, `-c reasoning_effort=...`)."""
    named = {override.split("=", 1)[0].strip() for override in request.overrides}
    for key in RECORDED_MODEL_KEYS:
        if key in started.config and key not in named:
            config[key] = started.config[key]


def _config(request: Request, cwd: Path) -> dict[str, Any]:
    config = load_config(cwd, request.overrides, request.profile)
    if request.compact_at:
        config["compact_at"] = request.compact_at
    return config


def _check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ConfigError(f"unknown approval policy {policy!r} (one of: {', '.join(POLICIES)})")


def build(plan: Plan, decide: Decide | None = None) -> Opened:
    """The session of `plan` (its client, tools and rollout); `begin()` it before its turns."""
    approvals = Approvals(plan.approval, decide, approve_all=plan.request.approve_all)
    session = build_session(
        plan.resolved,
        plan.cwd,
        plan.config,
        plan.limits,
        session_id=plan.session_id,
        rollout_path=plan.rollout_path,
        sandbox=plan.sandbox,
        approvals=approvals,
    )
    _add_spawn_agent(session, plan, decide)
    return Opened(session, plan)


def _add_spawn_agent(session: Session, plan: Plan, decide: Decide | None) -> None:
    """The `spawn_agent` tool, whose children are opened here too (`lever.agent.subagents`);
    at the depth limit it stays only to refuse a call clearly, not offered to the model."""
    from lever.agent.subagents import Spawner, SubagentSettings
    from lever.config.providers import SMALL_MODEL_SERVERS
    from lever.tools.spawn_agent import SpawnAgentTool

    small = plan.resolved.provider.name in SMALL_MODEL_SERVERS
    settings = SubagentSettings.from_config(plan.config, small)
    if not settings.enabled:
        return
    started = plan.replayed.children if plan.replayed else 0
    spawner = Spawner(session, _ChildFlow(plan, decide), settings, plan.depth, started)
    session.router.add(SpawnAgentTool(spawner), hidden=plan.depth >= settings.max_depth)


@dataclass
class _ChildFlow:
    """How a sub-agent is opened and driven: the same flow as every session, with the parent's
    model and configuration, and a sandbox of its own (same policy, or read-only)."""

    parent: Plan
    decide: Decide | None

    def open(self, setup: ChildSetup) -> Session:
        config = self.parent.config
        sandbox = sandbox_from(config, argparse.Namespace(sandbox=setup.sandbox_mode), setup.cwd)
        request = Request(cwd=setup.cwd, approve_all=self.parent.request.approve_all)
        plan = Plan(
            request,
            setup.cwd,
            config,
            self.parent.resolved,
            sandbox,
            setup.approval,
            setup.limits,
            session_id=setup.session_id,
            depth=setup.lineage.depth,
        )
        session = build(plan, self.decide).session
        session.lineage = setup.lineage
        return session

    async def drive(self, session: Session, task: str) -> TurnFinished:
        return await drive(session, [task])


def open_session(request: Request, decide: Decide | None = None) -> Opened:
    return build(prepare(request), decide)


# -- what a resume restores -----------------------------------------------------------------


def restored(
    started: SessionStarted, request: Request, config: dict[str, Any]
) -> tuple[str, str, Limits, list[str]]:
    """(sandbox mode, approval policy, limits, what was widened) for continuing `started`."""
    widened: list[str] = []
    mode = _ordered("sandbox", started.sandbox, request.sandbox, SANDBOX_ORDER, request, widened)
    approval = _ordered(
        "approval policy", started.approval, request.approval, APPROVAL_ORDER, request, widened
    )
    if not started.limits:
        # Recorded before limits were: the configuration and flags decide, as they did then.
        return mode, approval, limits_from(config, request.flags()), widened
    values = {
        name: _limit(name, started.limits.get(name), getattr(request, name), request, widened)
        for name in LIMIT_NAMES
    }
    return mode, approval, Limits(**values), widened


def _ordered(
    what: str,
    recorded: str,
    asked: str | None,
    order: Sequence[str],
    request: Request,
    widened: list[str],
) -> str:
    if asked is None or asked == recorded:
        return recorded
    if asked not in order:
        raise ConfigError(f"unknown {what} {asked!r} (one of: {', '.join(order)})")
    if recorded in order and order.index(asked) < order.index(recorded):
        return asked  # narrowing is always allowed
    _widening(f"{what}: {recorded} -> {asked}", request, widened)
    return asked


def _limit(name: str, recorded: Any, asked: Any, request: Request, widened: list[str]) -> Any:
    if asked is None or asked == recorded:
        return recorded
    if recorded is not None and asked > recorded:
        _widening(f"{name}: {recorded} -> {asked}", request, widened)
    return asked


def _widening(change: str, request: Request, widened: list[str]) -> None:
    if not request.widen:
        raise WidenError(
            f"{change} widens what the session was recorded with; pass --widen "
            '("widen": true over JSON-RPC and MCP) to allow it'
        )
    widened.append(change)


# -- running and closing --------------------------------------------------------------------


async def run_turns(session: Session, turns: Sequence[str | None]) -> TurnFinished:
    """Run `turns` in order (None continues an open turn) until one does not end as done."""
    finished: TurnFinished | None = None
    for text in turns:
        finished = await session.run_turn(text)
        if finished.reason != "done":
            break
    if finished is None:
        raise ValueError("no turn to run")
    return finished


async def close(session: Session, reason: str) -> None:
    """Close the session, killing its processes, even while the caller is being cancelled
    (a client's cancel, Ctrl-C, the server stopping): cancellation is redelivered at every
    await, so the close runs shielded."""
    import anyio

    with anyio.CancelScope(shield=True):
        await session.close(reason)


async def drive(session: Session, turns: Sequence[str | None]) -> TurnFinished:
    """Run the turns, then close the session however they end (exec, MCP, fleets)."""
    reason = "error"
    try:
        finished = await run_turns(session, turns)
        reason = finished.reason
        return finished
    except BaseException as e:
        if not isinstance(e, Exception):
            reason = "interrupted"  # cancelled, or a second Ctrl-C
        raise
    finally:
        await close(session, reason)
