"""Building the app's session the way `lever exec` does, with a person to answer approvals."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from lever.agent.resume import Replayed, replay
from lever.agent.session import Session
from lever.protocol import Event
from lever.sandbox.approval import Decide, parse_policy
from lever.store.rollout import read_rollout

#: The app asks the person, so by default the model may ask to escalate.
DEFAULT_POLICY = "on-request"


@dataclass
class Launch:
    """What `lever [PROMPT]` was started with."""

    cwd: Path
    args: argparse.Namespace = field(default_factory=argparse.Namespace)
    prompt: str | None = None
    #: A rollout to open instead of a new session (`lever resume`, `/resume`).
    resume: Path | None = None


@dataclass
class Opened:
    session: Session
    #: The recorded events to render first, and the state to restore, for a resumed session.
    past: list[Event] = field(default_factory=list)
    replayed: Replayed | None = None


def open_session(launch: Launch, decide: Decide, resume: Path | None = None) -> Opened:
    """A new session for `launch`, or the recorded one at `resume`; raises ConfigError."""
    from lever.assembly import (
        approvals_from,
        build_session,
        limits_from,
        resolve_from_args,
        sandbox_from,
    )
    from lever.config.loader import load_config
    from lever.config.providers import resolve_model

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
    overrides = list(getattr(args, "overrides", None) or [])
    config = load_config(cwd, overrides, getattr(args, "profile", None))
    if replayed is None:
        resolved = resolve_from_args(args, config)
    else:
        recorded = replayed.started.config
        resolved = resolve_model(
            config,
            provider=args.provider or recorded.get("provider"),
            model=args.model or replayed.started.model,
            base_url=args.base_url or recorded.get("base_url"),
            api_key_env=args.api_key_env,
        )
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
    return Opened(session, past, replayed)
