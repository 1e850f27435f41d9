"""Building the app-server's sessions: new ones from params, resumed and forked ones from their
rollouts, through the one front-end flow (`lever.frontend`), so a session started from an
editor behaves like one started with `lever exec`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lever import frontend
from lever.agent.resume import Replayed, replay
from lever.agent.session import Session
from lever.config.loader import lever_home, load_config
from lever.config.providers import ConfigError
from lever.frontend import Opened, Request
from lever.sandbox.approval import Decide
from lever.server.rpc import ModelParams, RestoreParams, SessionNewParams
from lever.store.index import AmbiguousSession, SessionRow, find_session, open_index
from lever.store.rollout import read_rollout

#: An editor has a person to ask, so by default the model may ask to escalate.
DEFAULT_APPROVAL = "on-request"


class SessionLookupError(LookupError):
    """No session with that id (or several start with it)."""


def request_for(params: ModelParams, cwd: Path, **more: Any) -> Request:
    """The front-end flow's request for these params; unset ones come from the record (resume,
    fork) or the configuration."""
    return Request(
        cwd=cwd,
        provider=params.provider,
        model=params.model,
        base_url=params.base_url,
        api_key_env=params.api_key_env,
        profile=params.profile,
        overrides=list(params.config),
        default_approval=DEFAULT_APPROVAL,
        **more,
    )


def folder(path: str | None) -> Path:
    cwd = Path(path or ".").expanduser().resolve()
    if not cwd.is_dir():
        raise ConfigError(f"no such folder: {cwd}")
    return cwd


def config_for(request: Request) -> dict[str, Any]:
    return load_config(request.cwd, request.overrides, request.profile)


def new_session(params: SessionNewParams, decide: Decide, session_id: str) -> Session:
    request = request_for(
        params,
        folder(params.cwd),
        sandbox=params.sandbox,
        approval=params.approval,
        session_id=session_id,
    )
    return frontend.open_session(request, decide).session


def rollout_of(session_id: str) -> Path:
    try:
        path = find_session(session_id, lever_home())
    except AmbiguousSession as e:
        raise SessionLookupError(str(e)) from e
    if path is None:
        raise SessionLookupError(f"no session with id {session_id!r}")
    return path


def recorded(path: Path, at: int | None = None) -> Replayed:
    return replay(read_rollout(path), until_seq=at)


def read_recorded(session_id: str, at: int | None = None) -> tuple[Path, Replayed]:
    """The rollout of `session_id` (or a unique prefix of it) and its replayed state."""
    path = rollout_of(session_id)
    return path, recorded(path, at)


def list_sessions(cwd: str | None, limit: int) -> list[SessionRow]:
    with open_index(lever_home()) as index:
        return index.list_sessions(cwd, limit=limit)


def reopen(
    path: Path,
    params: RestoreParams,
    decide: Decide,
    *,
    fork: bool = False,
    at: int | None = None,
    session_id: str | None = None,
) -> Opened:
    """The recorded session at `path` continued (or forked, with the id `session_id`): same
    model, sandbox, approval policy and limits unless the params narrow them (or widen them,
    with `widen`); `begin()` restores it."""
    request = request_for(
        params,
        Path.cwd(),
        resume=path,
        fork=fork,
        at=at,
        sandbox=params.sandbox,
        approval=params.approval,
        widen=params.widen,
        session_id=session_id,
    )
    return frontend.open_session(request, decide)


async def discard(built: Session | Opened) -> None:
    """Close a session that was built but never started: its tools (MCP servers, processes),
    its model client and its rollout, which is removed when nothing was written to it."""
    session = built.session if isinstance(built, Opened) else built
    for tool in session.router.tools.values():
        closer = getattr(tool, "aclose", None)
        if closer is not None:
            await closer()
    await session.client.aclose()
    if session.rollout is not None:
        session.rollout.close()
        path = session.rollout.path
        if path.exists() and path.stat().st_size == 0:
            path.unlink()
