"""Building a session from flags and configuration, shared by exec and the other front ends."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lever.agent.limits import Limits
from lever.agent.session import Session
from lever.config.loader import lever_home, load_config
from lever.config.providers import ResolvedModel, resolve_model
from lever.models.factory import make_client
from lever.store.rollout import RolloutWriter, new_session_id
from lever.tools.registry import default_tools


def resolve_from_args(args: argparse.Namespace, config: dict[str, Any]) -> ResolvedModel:
    return resolve_model(
        config,
        provider=args.provider,
        model=args.model,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
    )


def limits_from(config: dict[str, Any], args: argparse.Namespace) -> Limits:
    table = config.get("limits", {})
    return Limits(
        max_turns=getattr(args, "max_turns", None) or table.get("max_turns", 200),
        max_tokens=getattr(args, "max_tokens", None) or table.get("max_tokens"),
        max_seconds=getattr(args, "timeout", None) or table.get("max_seconds"),
    )


def build_session(
    resolved: ResolvedModel, cwd: Path, config: dict[str, Any], limits: Limits
) -> Session:
    provider = resolved.provider
    client = make_client(
        provider.wire, provider.base_url, resolved.api_key, key_env=provider.key_env
    )
    session_id = new_session_id()
    retry = config.get("retry", {})
    return Session(
        client,
        model=resolved.model,
        provider=provider.name,
        cwd=cwd,
        tools=default_tools(),
        limits=limits,
        rollout=RolloutWriter.create(lever_home(), session_id),
        session_id=session_id,
        max_retries=int(retry.get("max_retries", 4)),
        retry_base_delay=float(retry.get("base_delay", 0.5)),
        config={"provider": provider.name, "wire": provider.wire, "base_url": provider.base_url},
    )


def load_for(args: argparse.Namespace, cwd: Path) -> dict[str, Any]:
    return load_config(cwd, args.overrides, args.profile)
