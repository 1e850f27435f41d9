"""Building the app's session the way `lever exec` does, with a person to answer approvals.

Nothing here is imported before the first frame but `Launch`: the session stack (pydantic, the
model clients, the sandbox) loads in a worker thread once the composer is on screen.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lever.agent.resume import Replayed
    from lever.agent.session import Session
    from lever.config.providers import ResolvedModel
    from lever.protocol import Event
    from lever.sandbox.approval import Decide

#: The app asks the person, so by default the model may ask to escalate.
DEFAULT_POLICY = "on-request"


@dataclass
class Launch:
    """What `lever [PROMPT]` (or `lever resume`) was started with."""

    cwd: Path
    args: argparse.Namespace = field(default_factory=argparse.Namespace)
    prompt: str | None = None
    #: A rollout to open instead of a new session (`lever resume`, `/resume`).
    resume: Path | None = None


@dataclass
class Opened:
    session: Session
    #: How the model was resolved and the configuration: `/review` builds its session from them.
    resolved: ResolvedModel
    config: dict[str, Any]
    #: The recorded events to render first, and the state to restore, for a resumed session.
    past: list[Event] = field(default_factory=list)
    replayed: Replayed | None = None


def open_session(launch: Launch, decide: Decide, resume: Path | None = None) -> Opened:
    """A new session for `launch`, or the recorded one at `resume`; raises ConfigError."""
    from lever.agent.resume import replay
    from lever.assembly import approvals_from, build_session, limits_from, sandbox_from
    from lever.sandbox.approval import parse_policy
    from lever.store.rollout import read_rollout

    args = launch.args
    for name in ("provider", "model", "base_url", "api_key_env", "sandbox", "ask_for_approval"):
        if not hasattr(args, name):
            setattr(args, name, None)
    past: list[Event] = []
    replayed = None
    cwd = launch.cwd
    if resume is not None:
        past = list(read_rollout(resume))
        replayed = replay(past)
        cwd = Path(replayed.started.cwd)
    config = load_launch_config(launch, cwd)
    resolved = _resolve(args, config, replayed)
    approvals = approvals_from(config, args)
    if not args.ask_for_approval and not config.get("approval"):
        approvals.policy = parse_policy(DEFAULT_POLICY)
    approvals.decide = decide
    session = build_session(
        resolved,
        cwd,
        config,
        limits_from(config, args),
        session_id=replayed.started.session_id if replayed else None,
        rollout_path=resume,
        sandbox=sandbox_from(config, args, cwd),
        approvals=approvals,
    )
    return Opened(session, resolved, config, past, replayed)


def load_launch_config(launch: Launch, cwd: Path | None = None) -> dict[str, Any]:
    from lever.config.loader import load_config

    args = launch.args
    overrides = list(getattr(args, "overrides", None) or [])
    return load_config(cwd or launch.cwd, overrides, getattr(args, "profile", None))


def _resolve(
    args: argparse.Namespace, config: dict[str, Any], replayed: Replayed | None
) -> ResolvedModel:
    from lever.assembly import resolve_from_args
    from lever.config.providers import resolve_model

    if replayed is None:
        return resolve_from_args(args, config)
    # A resumed session keeps its recorded provider and model unless a flag says otherwise.
    recorded = replayed.started.config
    return resolve_model(
        config,
        provider=args.provider or recorded.get("provider"),
        model=args.model or replayed.started.model,
        base_url=args.base_url or recorded.get("base_url"),
        api_key_env=args.api_key_env,
    )
