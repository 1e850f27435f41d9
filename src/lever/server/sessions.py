"""Building the app-server's sessions: new ones from params, resumed and forked ones from their
rollouts. The configuration and model resolution are shared (`lever.assembly`), so a session
started from an editor behaves like one started with `lever exec`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lever.agent.resume import Replayed, replay
from lever.agent.resume import as_fork as fork_of
from lever.agent.session import Session
from lever.assembly import build_session, limits_from, resolve_from_args, sandbox_from
from lever.config.loader import lever_home, load_config
from lever.config.providers import ConfigError, resolve_model
from lever.sandbox.approval import POLICIES, Approvals, Decide
from lever.server.rpc import ModelParams, SessionNewParams
from lever.store.index import AmbiguousSession, SessionRow, find_session, open_index
from lever.store.rollout import read_rollout, session_dir

#: An editor has a person to ask, so by default the model may ask to escalate.
DEFAULT_APPROVAL = "on-request"


class SessionLookupError(LookupError):
    """No session with that id (or several start with it)."""


def model_args(params: ModelParams) -> argparse.Namespace:
    """The CLI's model flags, from the params."""
    return argparse.Namespace(
        provider=params.provider,
        model=params.model,
        base_url=params.base_url,
        api_key_env=params.api_key_env,
        sandbox=None,
    )


def folder(path: str | None) -> Path:
    cwd = Path(path or ".").expanduser().resolve()
    if not cwd.is_dir():
        raise ConfigError(f"no such folder: {cwd}")
    return cwd


def config_for(params: ModelParams, cwd: Path) -> dict[str, Any]:
    return load_config(cwd, params.config, params.profile)


def new_session(params: SessionNewParams, decide: Decide, session_id: str) -> Session:
    cwd = folder(params.cwd)
    config = config_for(params, cwd)
    args = model_args(params)
    resolved = resolve_from_args(args, config)
    args.sandbox = params.sandbox
    sandbox = sandbox_from(config, args, cwd)
    policy = params.approval or config.get("approval") or DEFAULT_APPROVAL
    if policy not in POLICIES:
        raise ConfigError(f"unknown approval policy {policy!r} (one of: {', '.join(POLICIES)})")
    return build_session(
        resolved,
        cwd,
        config,
        limits_from(config, args),
        session_id=session_id,
        sandbox=sandbox,
        approvals=Approvals(policy, decide),
    )


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


def session_from(
    replayed: Replayed,
    params: ModelParams,
    decide: Decide,
    *,
    session_id: str,
    rollout_path: Path,
) -> Session:
    """A session continuing a recorded one: same model, sandbox and approval policy, unless
    the params name another model."""
    started = replayed.started
    cwd = folder(started.cwd)
    config = config_for(params, cwd)
    resolved = resolve_model(
        config,
        provider=params.provider or started.config.get("provider"),
        model=params.model or started.model,
        base_url=params.base_url or started.config.get("base_url"),
        api_key_env=params.api_key_env,
    )
    args = argparse.Namespace(sandbox=started.sandbox)
    return build_session(
        resolved,
        cwd,
        config,
        limits_from(config, args),
        session_id=session_id,
        rollout_path=rollout_path,
        sandbox=sandbox_from(config, args, cwd),
        approvals=Approvals(started.approval, decide),
    )


def as_fork(replayed: Replayed, session_id: str, source: str) -> tuple[Replayed, Path]:
    """The fork's replayed state and the path of its new rollout."""
    replayed = fork_of(replayed, session_id, source)
    return replayed, session_dir(lever_home()) / f"rollout-{session_id}.jsonl"


async def discard(session: Session) -> None:
    """Close a session that was built but never started: its tools (MCP servers, processes),
    its model client and its rollout, which is removed when nothing was written to it."""
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
