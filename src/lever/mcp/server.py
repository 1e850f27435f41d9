"""`lever mcp-server`: lever as MCP tools, over stdio, for other agents and apps.

Tools:

- `lever` {prompt, cwd, sandbox?, approval_policy?, model?}: start a session in `cwd`, run the
  prompt to the end of the turn, return the final message and the session id;
- `lever_reply` {session_id, prompt}: continue that session, restored from its rollout exactly
  as `lever resume` does (an unfinished turn is carried on first), with its recorded sandbox,
  approval policy and model.

The model comes from `$LEVER_HOME/config.toml` as for `lever exec` (`model` overrides its name).
Approvals are forwarded to the client as MCP elicitation (a form with one `decision` field:
approve_once | approve_session | deny | deny_and_stop; declining denies, cancelling denies and
stops). A client that does not support elicitation can only use the policy `never`; any other
policy is refused with an error before anything runs. The default policy is config `approval`,
else `never`.

Each call runs one session to the end of its turn and then closes it (the rollout stays), so
the server holds no session in memory between calls. Nothing may be printed on stdout: it is
the protocol channel.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

import lever
from lever.agent.resume import Replayed, RolloutError, replay
from lever.agent.session import Session
from lever.assembly import build_session, limits_from, sandbox_from
from lever.config.loader import lever_home, load_config
from lever.config.providers import ConfigError, ResolvedModel, resolve_model
from lever.protocol import ApprovalRequested, TurnFinished
from lever.sandbox.approval import Approvals, Decide, Decision, is_unconfined
from lever.store.rollout import find_rollout, read_rollout

SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]
Policy = Literal["untrusted", "on-failure", "on-request", "never"]

INSTRUCTIONS = (
    "lever is a coding agent. Call `lever` with a task and the absolute path of the repository "
    "(cwd); it works until the task is done and returns its final message and a session_id. "
    "Call `lever_reply` with that session_id to continue the conversation."
)


class LeverResult(BaseModel):
    session_id: str
    #: How the turn ended: done, interrupted, limit, error, denied, stuck.
    status: str
    final_message: str
    detail: str = ""


class ApprovalAnswer(BaseModel):
    """The form an approval is forwarded as (MCP elicitation)."""

    decision: Literal["approve_once", "approve_session", "deny", "deny_and_stop"] = Field(
        description="approve_once | approve_session (this command for the rest of the session) "
        "| deny | deny_and_stop (deny and end the turn)"
    )


def supports_elicitation(ctx: Context) -> bool:
    capabilities = ctx.client_capabilities
    return capabilities is not None and capabilities.elicitation is not None


def approval_message(request: ApprovalRequested) -> str:
    what = " ".join(request.command or []) or ", ".join(request.paths or [])
    lines = [f"lever asks for approval ({request.kind}): {what}"]
    if request.cwd:
        lines.append(f"in: {request.cwd}")
    if request.reason:
        lines.append(f"why: {request.reason}")
    if request.justification:
        lines.append(f"the model says: {request.justification}")
    return "\n".join(lines)


def elicitor(ctx: Context) -> Decide:
    """Approvals answered by the MCP client through elicitation; any failure denies."""

    async def decide(request: ApprovalRequested) -> Decision:
        try:
            result = await ctx.elicit(approval_message(request), ApprovalAnswer)
        except Exception:
            return "deny"
        if result.action == "accept":
            return result.data.decision
        return "deny_and_stop" if result.action == "cancel" else "deny"

    return decide


def _approvals(policy: str, ctx: Context) -> Approvals:
    if supports_elicitation(ctx):
        return Approvals(policy, elicitor(ctx))
    if policy != "never":
        raise ToolError(
            f"approval policy {policy!r} needs a client that answers approvals through MCP "
            'elicitation, and this client does not support it; use approval_policy "never" '
            "(nothing is asked; what needs approval is refused and the model is told)"
        )
    return Approvals("never")


class Runner:
    """Runs lever sessions for the tools; one call at a time per session."""

    def __init__(self) -> None:
        self._busy: set[str] = set()

    async def start(
        self,
        ctx: Context,
        prompt: str,
        cwd: str,
        sandbox: str | None,
        approval_policy: str | None,
        model: str | None,
    ) -> LeverResult:
        folder = Path(cwd).expanduser()
        if not folder.is_absolute() or not folder.is_dir():
            raise ToolError(f"cwd must be the absolute path of an existing folder, got {cwd!r}")
        folder = folder.resolve()
        if not prompt.strip():
            raise ToolError("the prompt is empty")
        try:
            config = load_config(folder)
            policy = approval_policy or config.get("approval") or "never"
            flags = argparse.Namespace(sandbox=sandbox)
            resolved = resolve_model(config, model=model)
            box = sandbox_from(config, flags, folder)
        except (ConfigError, ValueError) as e:
            raise ToolError(str(e)) from None
        approvals = _approvals(str(policy), ctx)
        if is_unconfined(box) and approvals.policy == "never":
            raise ToolError(
                f"no sandbox mechanism is available to enforce {box.policy.mode}, and with the "
                "approval policy `never` every command would be refused; pass sandbox "
                '"danger-full-access", or an approval policy and a client that supports '
                "elicitation"
            )
        session = await asyncio.to_thread(
            build_session,
            resolved,
            folder,
            config,
            limits_from(config, flags),
            sandbox=box,
            approvals=approvals,
        )
        async with self._running(session):
            session.start()
            return await _drive(session, [prompt])

    async def reply(self, ctx: Context, session_id: str, prompt: str) -> LeverResult:
        if not prompt.strip():
            raise ToolError("the prompt is empty")
        try:
            path = find_rollout(lever_home(), session_id)
            replayed = replay(read_rollout(path))
        except (FileNotFoundError, ValueError, RolloutError) as e:
            raise ToolError(f"cannot continue session {session_id!r}: {e}") from None
        started = replayed.started
        if started.session_id in self._busy:
            raise ToolError(f"session {started.session_id} is busy with another call")
        cwd = Path(started.cwd)
        try:
            config = load_config(cwd)
            resolved = _recorded_model(config, replayed)
            flags = argparse.Namespace(sandbox=started.sandbox)
            box = sandbox_from(config, flags, cwd)
        except (ConfigError, ValueError) as e:
            raise ToolError(str(e)) from None
        approvals = _approvals(started.approval, ctx)
        session = await asyncio.to_thread(
            build_session,
            resolved,
            cwd,
            config,
            limits_from(config, flags),
            session_id=started.session_id,
            rollout_path=path,
            sandbox=box,
            approvals=approvals,
        )
        async with self._running(session):
            session.restore(replayed)
            turns: list[str | None] = [None] if replayed.open_turn else []
            return await _drive(session, [*turns, prompt])

    @asynccontextmanager
    async def _running(self, session: Session) -> AsyncIterator[None]:
        if session.id in self._busy:
            await session.close("busy")
            raise ToolError(f"session {session.id} is busy with another call")
        self._busy.add(session.id)
        try:
            yield
        finally:
            self._busy.discard(session.id)


def _recorded_model(config: dict[str, Any], replayed: Replayed) -> ResolvedModel:
    """The provider, model and base URL the session was started with (as `lever resume`)."""
    started = replayed.started
    return resolve_model(
        config,
        provider=started.config.get("provider"),
        model=started.model,
        base_url=started.config.get("base_url"),
    )


async def _drive(session: Session, turns: list[str | None]) -> LeverResult:
    """Run the turns (None continues an open one), close the session, say how it ended."""
    finished: TurnFinished | None = None
    try:
        for text in turns:
            finished = await session.run_turn(text)
            if finished.reason != "done":
                break
    finally:
        # A call cancelled by its client (or the server stopping) cancels this task's scope
        # again at every await: shielded, the close still kills the session's processes.
        with anyio.CancelScope(shield=True):
            await session.close(finished.reason if finished else "interrupted")
    assert finished is not None
    return LeverResult(
        session_id=session.id,
        status=finished.reason,
        final_message=finished.last_message,
        detail=finished.detail,
    )


def build_server() -> MCPServer:
    app = MCPServer(
        "lever", instructions=INSTRUCTIONS, version=lever.__version__, log_level="WARNING"
    )
    runner = Runner()

    @app.tool(
        name="lever",
        description="Run a coding task with lever in a repository, to the end: lever reads the "
        "code, runs commands in a sandbox and edits files. Returns the final message and a "
        "session_id for lever_reply.",
    )
    async def lever_task(
        prompt: str,
        cwd: str,
        ctx: Context,
        sandbox: SandboxMode | None = None,
        approval_policy: Policy | None = None,
        model: str | None = None,
    ) -> LeverResult:
        return await runner.start(ctx, prompt, cwd, sandbox, approval_policy, model)

    @app.tool(
        name="lever_reply",
        description="Continue a lever session (from a previous `lever` call) with a new "
        "message; returns lever's final message.",
    )
    async def lever_reply(session_id: str, prompt: str, ctx: Context) -> LeverResult:
        return await runner.reply(ctx, session_id, prompt)

    return app


def serve() -> None:
    """Speak MCP on stdin/stdout until the client closes the connection."""
    build_server().run("stdio")
