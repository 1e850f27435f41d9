"""`lever mcp-server`: lever as MCP tools, over stdio, for other agents and apps.

Tools:

- `lever` {prompt, cwd, sandbox?, approval_policy?, model?}: start a session in `cwd`, run the
  prompt to the end of the turn, return the final message and the session id;
- `lever_reply` {session_id, prompt, sandbox?, approval_policy?, widen?}: continue that session,
  restored from its rollout exactly as `lever resume` does (an unfinished turn is carried on
  first), with its recorded sandbox, approval policy, model and limits; `sandbox` and
  `approval_policy` may narrow them, and widen them only with `widen: true`;
- `lever_fork` {session_id, prompt, at?, sandbox?, approval_policy?, widen?}: a new session from
  that session's history (as `lever fork`), same rules.

Sessions are opened, run and closed by the one front-end flow (`lever.frontend`).

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

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

import lever
from lever import frontend
from lever.agent.resume import RolloutError
from lever.agent.session import Session
from lever.config.loader import lever_home
from lever.config.providers import ConfigError
from lever.frontend import Request
from lever.protocol import ApprovalRequested
from lever.sandbox.approval import Approvals, Decide, Decision, is_unconfined
from lever.store.rollout import find_rollout

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
    """Runs lever sessions for the tools, through the one front-end flow (`lever.frontend`);
    one call at a time per session."""

    def __init__(self) -> None:
        self._busy: set[str] = set()

    async def start(self, ctx: Context, prompt: str, cwd: str, **asked: Any) -> LeverResult:
        folder = Path(cwd).expanduser()
        if not folder.is_absolute() or not folder.is_dir():
            raise ToolError(f"cwd must be the absolute path of an existing folder, got {cwd!r}")
        return await self._run(ctx, Request(cwd=folder.resolve(), **asked), prompt)

    async def reply(
        self, ctx: Context, session_id: str, prompt: str, *, fork: bool = False, **asked: Any
    ) -> LeverResult:
        """Continue (or fork) a recorded session, as `lever resume` (`lever fork`) does."""
        try:
            path = find_rollout(lever_home(), session_id)
        except (FileNotFoundError, ValueError) as e:
            raise ToolError(f"cannot continue session {session_id!r}: {e}") from None
        request = Request(cwd=Path.cwd(), resume=path, fork=fork, **asked)
        return await self._run(ctx, request, prompt)

    async def _run(self, ctx: Context, request: Request, prompt: str) -> LeverResult:
        if not prompt.strip():
            raise ToolError("the prompt is empty")
        try:
            plan = frontend.prepare(request)
        except (ConfigError, FileNotFoundError, ValueError, RolloutError) as e:
            what = f"cannot continue session: {e}" if request.resume else str(e)
            raise ToolError(what) from None
        if not request.fork and plan.session_id in self._busy:
            raise ToolError(f"session {plan.session_id} is busy with another call")
        approvals = _approvals(plan.approval, ctx)
        if is_unconfined(plan.sandbox) and approvals.policy == "never":
            raise ToolError(
                f"no sandbox mechanism is available to enforce {plan.sandbox.policy.mode}, and "
                "with the approval policy `never` every command would be refused; pass sandbox "
                '"danger-full-access", or an approval policy and a client that supports '
                "elicitation"
            )
        opened = await asyncio.to_thread(frontend.build, plan, approvals.decide)
        async with self._running(opened.session):
            opened.begin()
            finished = await frontend.drive(opened.session, plan.turns(prompt))
        return LeverResult(
            session_id=opened.session.id,
            status=finished.reason,
            final_message=finished.last_message,
            detail=finished.detail,
        )

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


def build_server() -> MCPServer:
    app = MCPServer(
        "lever", instructions=INSTRUCTIONS, version=lever.__version__, log_level="WARNING"
    )
    runner = Runner()
    _add_task_tool(app, runner)
    _add_session_tools(app, runner)
    return app


def _add_task_tool(app: MCPServer, runner: Runner) -> None:
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
        return await runner.start(
            ctx, prompt, cwd, sandbox=sandbox, approval=approval_policy, model=model
        )


def _add_session_tools(app: MCPServer, runner: Runner) -> None:
    @app.tool(
        name="lever_reply",
        description="Continue a lever session (from a previous `lever` call) with a new "
        "message; returns lever's final message. The session keeps its recorded sandbox and "
        "approval policy; these may narrow them, and widen them only with widen: true.",
    )
    async def lever_reply(
        session_id: str,
        prompt: str,
        ctx: Context,
        sandbox: SandboxMode | None = None,
        approval_policy: Policy | None = None,
        widen: bool = False,
    ) -> LeverResult:
        return await runner.reply(
            ctx, session_id, prompt, sandbox=sandbox, approval=approval_policy, widen=widen
        )

    @app.tool(
        name="lever_fork",
        description="Start a new lever session from a recorded one's history (after event "
        "`at`, if given) and send it a message; returns the new session_id and lever's final "
        "message. Sandbox and approval policy as for lever_reply.",
    )
    async def lever_fork(
        session_id: str,
        prompt: str,
        ctx: Context,
        at: int | None = None,
        sandbox: SandboxMode | None = None,
        approval_policy: Policy | None = None,
        widen: bool = False,
    ) -> LeverResult:
        return await runner.reply(
            ctx,
            session_id,
            prompt,
            fork=True,
            at=at,
            sandbox=sandbox,
            approval=approval_policy,
            widen=widen,
        )


def serve() -> None:
    """Speak MCP on stdin/stdout until the client closes the connection."""
    build_server().run("stdio")
