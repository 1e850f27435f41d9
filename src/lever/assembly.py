"""Assembling a session from configuration and flags: one place, used by every front end (the
CLI, the TUI, the app-server, the MCP server) — so none of them imports another front end.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import os
from pathlib import Path
from typing import Any

from lever.agent.budget import TokenBudget, context_window_for
from lever.agent.limits import Limits
from lever.agent.prompts import small_model_prompt
from lever.agent.session import Session
from lever.config.loader import lever_home, load_config
from lever.config.providers import (
    LOCAL_BASE_URL,
    SMALL_MODEL_SERVERS,
    ConfigError,
    ResolvedModel,
    resolve_model,
)
from lever.config.values import DEFAULT_MAX_TURNS, parse_compact_at
from lever.context.skills import personal_skills_dir
from lever.models.base import ModelClient
from lever.models.factory import make_client
from lever.models.http import StreamLimits
from lever.models.text_tools import OnParsed, TextToolCalls
from lever.models.traits import ModelOptions
from lever.protocol import ErrorEvent, ToolCall
from lever.sandbox.approval import POLICIES, Approvals
from lever.sandbox.base import NoSandbox, Sandbox, SandboxPolicy
from lever.sandbox.env import command_env
from lever.store.rollout import RolloutWriter, new_session_id
from lever.tools.apply_patch import ApplyPatchTool
from lever.tools.command_limits import CommandLimits
from lever.tools.registry import default_tools
from lever.tools.router import ToolRouter
from lever.tools.shell import ShellTool
from lever.tools.shell_snapshot import EnvRule, snapshot_from_config


def resolve_from_args(
    args: argparse.Namespace, config: dict[str, Any], *, parallel: int = 1
) -> ResolvedModel:
    resolved = resolve_model(
        config,
        provider=args.provider,
        model=args.model,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
    )
    if resolved.provider.name == "local" and resolved.provider.base_url == LOCAL_BASE_URL:
        pull = bool(getattr(args, "yes", False))
        resolved = start_local(resolved, config, pull=pull, parallel=parallel)
    return resolved


def start_local(
    resolved: ResolvedModel, config: dict[str, Any], *, pull: bool = False, parallel: int = 1
) -> ResolvedModel:
    """`--provider local`: reuse lever's running llama-server or start one (stopped at exit);
    `parallel` slots for a fleet's concurrent attempts, each with the configured context.

    Sampling is greedy (temperature 0) by default, set on the server (`--temp`): lever's
    requests name no temperature, so all three wire endpoints get the same default.
    """
    import sys
    import time
    from dataclasses import replace

    from lever.local import LocalError
    from lever.local.manage import LocalOptions, ensure_server, pull_missing

    table = config.get("local", {})
    if not isinstance(table, dict):
        raise ConfigError("`local` must be a table (gguf, server_bin, port, ctx_size, temperature)")
    options = LocalOptions(
        model=resolved.model,
        gguf=table.get("gguf"),
        server_bin=table.get("server_bin"),
        port=table.get("port"),
        ctx_size=int(table.get("ctx_size", 8192)),
        temperature=float(table.get("temperature", 0.0)),
        parallel=parallel,
    )
    try:
        if pull:  # `--yes`: fetch a missing model or server instead of saying how
            pull_missing(options)
        began = time.monotonic()
        server = ensure_server(options)
    except LocalError as e:
        raise ConfigError(str(e)) from e
    if server.started:
        took = time.monotonic() - began
        slots = f", {parallel} parallel slots" if parallel > 1 else ""
        print(
            f"lever: started llama-server ({server.gguf.name}{slots}) in {took:.1f} s",
            file=sys.stderr,
        )
    provider = replace(resolved.provider, base_url=server.base_url, context_window=options.ctx_size)
    return replace(resolved, provider=provider, model=server.gguf.stem)


def limits_from(config: dict[str, Any], args: argparse.Namespace) -> Limits:
    table = config.get("limits", {})
    return Limits(
        max_turns=getattr(args, "max_turns", None) or table.get("max_turns", DEFAULT_MAX_TURNS),
        max_tokens=getattr(args, "max_tokens", None) or table.get("max_tokens"),
        max_seconds=getattr(args, "timeout", None)
        or table.get("max_seconds")
        or getattr(args, "default_timeout", None),
    )


def budget_from(config: dict[str, Any], resolved: ResolvedModel) -> TokenBudget:
    window = context_window_for(resolved.model, resolved.context_window)
    budget = TokenBudget(window)
    compact_at = config.get("compact_at")
    if compact_at:
        # "60%" (or 0.6) of the window, or an absolute token count; checked when loaded.
        value = parse_compact_at(compact_at)
        fraction = value if isinstance(value, float) else value / budget.effective_window
        budget.threshold = min(max(fraction, 0.05), 0.95)
    return budget


SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")


def sandbox_from(config: dict[str, Any], args: argparse.Namespace | None, cwd: Path) -> Sandbox:
    """The sandbox for `--sandbox` or config `sandbox.*` (default workspace-write)."""
    table = config.get("sandbox", {})
    if not isinstance(table, dict):
        raise ConfigError("`sandbox` must be a table ([sandbox] mode = ..., network = ...)")
    mode = getattr(args, "sandbox", None) or table.get("mode") or "workspace-write"
    if mode not in SANDBOX_MODES:
        raise ConfigError(f"unknown sandbox mode {mode!r} (one of: {', '.join(SANDBOX_MODES)})")
    extra = table.get("writable_roots", [])
    if not isinstance(extra, list) or not all(isinstance(root, str) for root in extra):
        raise ConfigError("`sandbox.writable_roots` must be a list of paths")
    roots = (cwd, *((cwd / Path(root).expanduser()).resolve() for root in extra))
    allow_read = table.get("allow_read", [])
    if not isinstance(allow_read, list) or not all(isinstance(p, str) for p in allow_read):
        raise ConfigError('`sandbox.allow_read` must be a list of paths (e.g. ["~/.aws"])')
    policy = SandboxPolicy(
        mode=mode,
        writable_roots=roots,
        network=bool(table.get("network")),
        allow_read=tuple(allow_read),
        unix_sockets=bool(table.get("unix_sockets")),
    )
    try:
        factory = importlib.import_module("lever.sandbox.factory")
    except ImportError:  # no mechanisms built in: commands cannot be confined
        return NoSandbox(policy)
    try:
        sandbox: Sandbox = factory.make_sandbox(policy, table.get("mechanism"))
    except ValueError as e:
        raise ConfigError(str(e)) from e
    return sandbox


def approvals_from(config: dict[str, Any], args: argparse.Namespace | None) -> Approvals:
    """`-a POLICY`, else config `approval`, else `never` (`on-failure` with `--approve-all`).

    No front end answers here (exec has nobody to ask): requests are denied unless
    `--approve-all`, which approves every one.
    """
    approve_all = bool(getattr(args, "approve_all", False))
    default = "on-failure" if approve_all else "never"
    policy = getattr(args, "ask_for_approval", None) or config.get("approval") or default
    if policy not in POLICIES:
        raise ConfigError(f"unknown approval policy {policy!r} (one of: {', '.join(POLICIES)})")
    return Approvals(policy, approve_all=approve_all)


def env_from(config: dict[str, Any], key_env: str | None = None) -> dict[str, str]:
    """The commands' environment: secrets dropped, then `shell_environment.*` applied.

    `key_env`, the variable holding lever's own API key, is never passed, whatever its name.
    """
    return env_rule_from(config, key_env)(os.environ)


def env_rule_from(config: dict[str, Any], key_env: str | None = None) -> EnvRule:
    """The rule `env_from` applies, for the shell snapshot's variables too."""
    table = config.get("shell_environment", {})
    if not isinstance(table, dict):
        raise ConfigError("`shell_environment` must be a table (include, exclude, set)")
    set_vars = table.get("set", {})
    if not isinstance(set_vars, dict):
        raise ConfigError("`shell_environment.set` must be a table of NAME = value")
    return functools.partial(
        command_env,
        include=table.get("include", []),
        exclude=table.get("exclude", []),
        set_vars={str(name): str(value) for name, value in set_vars.items()},
        hide=(key_env,),
    )


def _with_session_files(sandbox: Sandbox, rollout: RolloutWriter | None) -> Sandbox:
    """Commands may read back the session's truncated outputs and the personal skills (their
    SKILL.md and scripts), though the rest of lever's home is hidden (sandbox/hidden.py)."""
    files = [str(personal_skills_dir(lever_home()))]
    if rollout is not None:
        files.append(str(rollout.artifacts_dir))
    sandbox.policy = dataclasses.replace(sandbox.policy, session_files=tuple(files))
    return sandbox


def build_session(
    resolved: ResolvedModel,
    cwd: Path,
    config: dict[str, Any],
    limits: Limits,
    *,
    session_id: str | None = None,
    rollout_path: Path | None = None,
    sandbox: Sandbox | None = None,
    approvals: Approvals | None = None,
) -> Session:
    """A session for this model; a new rollout, or `rollout_path` appended to (resume)."""
    provider = resolved.provider
    loop_options = _loop_options(config, provider.name)  # checked before anything is created
    client, text_calls = _client_for(resolved, config)
    session_id = session_id or new_session_id()
    rollout = (
        RolloutWriter(rollout_path)
        if rollout_path
        else RolloutWriter.create(lever_home(), session_id)
    )
    retry = config.get("retry", {})
    env_rule = env_rule_from(config, provider.key_env)
    env = env_rule(os.environ)
    snapshot = snapshot_from_config(config, env_rule)
    tools = default_tools(
        shell_snapshot=snapshot or False, command_limits=CommandLimits.from_config(config)
    )
    if provider.name == "local":
        # system_small.md names two tools. Offered update_plan as well, the 1.5B model made a
        # plan its first call in 4 of 8 real-model eval attempts (lever-mini): on a CPU that
        # reply (50-100 tokens) took a minute or more of a task's two-minute budget.
        tools.tools.pop("update_plan", None)
        for tool in tools.tools.values():
            if isinstance(tool, ShellTool | ApplyPatchTool):
                tool.offer_small()
    mcp_notices = _add_mcp_tools(tools, config, cwd)
    # Without flags (e.g. a resumed session) the configuration decides.
    approvals = approvals or approvals_from(config, None)
    session = Session(
        client,
        instructions=small_model_prompt(approvals.policy) if provider.name == "local" else None,
        model=resolved.model,
        provider=provider.name,
        cwd=cwd,
        tools=tools,
        limits=limits,
        rollout=rollout,
        budget=budget_from(config, resolved),
        home=lever_home(),
        **loop_options,
        session_id=session_id,
        max_retries=int(retry.get("max_retries", 4)),
        retry_base_delay=float(retry.get("base_delay", 0.5)),
        config=_recorded_config(provider, config),
        # Without flags (e.g. a resumed session) the configuration decides.
        sandbox=_with_session_files(sandbox or sandbox_from(config, None, cwd), rollout),
        approvals=approvals,
        env=env,
    )
    if snapshot is not None:
        # Taken while the first request is on its way, not when the first command waits for it.
        snapshot.start(env, cwd, rollout.artifacts_dir)
    if text_calls is not None:
        text_calls.on_parsed = _parsed_notice(session)
    if mcp_notices:
        from lever.mcp import report_after_start

        report_after_start(session, mcp_notices)
    return session


def _client_for(
    resolved: ResolvedModel, config: dict[str, Any]
) -> tuple[ModelClient, TextToolCalls | None]:
    """The model client; for small local models, wrapped to read tool calls written as text."""
    provider = resolved.provider
    client: ModelClient = make_client(
        provider.wire,
        provider.base_url,
        resolved.api_key,
        key_env=provider.key_env,
        limits=StreamLimits.from_config(config),
    )
    if provider.name in SMALL_MODEL_SERVERS:
        text_calls = TextToolCalls(client)
        return text_calls, text_calls
    return client, None


def _loop_options(config: dict[str, Any], provider: str) -> dict[str, Any]:
    """How the turn loop behaves (`SessionOptions` fields), from the configuration."""
    nudges, note = config.get("plan_nudges", 1), config.get("budget_note", True)
    if not isinstance(nudges, int) or isinstance(nudges, bool) or nudges < 0:
        raise ConfigError(f"plan_nudges must be a whole number >= 0, not {nudges!r}")
    if not isinstance(note, bool):
        raise ConfigError(f"budget_note must be true or false, not {note!r}")
    return {
        "remote_compaction": config.get("compaction") == "remote",
        "memory": str(config.get("memory", {}).get("workspace", "auto")),
        "stuck_detection": bool(config.get("stuck_detection", provider in SMALL_MODEL_SERVERS)),
        "plan_nudges": nudges,
        "budget_note": note,
        "model_options": ModelOptions(
            effort=config.get("reasoning_effort"),
            summary=config.get("reasoning_summary"),
            reasoning=config.get("model_reasoning"),
            apply_patch=config.get("apply_patch_tool"),
        ),
    }


def build_review_session(
    resolved: ResolvedModel, cwd: Path, config: dict[str, Any], limits: Limits
) -> Session:
    """A reviewer (`lever review`, the app's `/review`): read-only sandbox, never asks."""
    from lever.review.run import REVIEW_APPROVAL, REVIEW_SANDBOX

    sandbox = sandbox_from(config, argparse.Namespace(sandbox=REVIEW_SANDBOX), cwd)
    approvals = Approvals(REVIEW_APPROVAL)
    return build_session(resolved, cwd, config, limits, sandbox=sandbox, approvals=approvals)


def _add_mcp_tools(tools: ToolRouter, config: dict[str, Any], cwd: Path) -> list[str]:
    """`[mcp_servers.*]` tools join the router (the SDK is imported only when some are set)."""
    if not config.get("mcp_servers"):
        return []
    from lever.mcp import add_mcp_tools

    return add_mcp_tools(tools, config, cwd)


def _parsed_notice(session: Session) -> OnParsed:
    def notice(call: ToolCall, text: str) -> None:
        message = f"the reply held no tool call; read a `{call.name}` call from its text"
        session.emit(ErrorEvent(message=message, kind="parsed_from_text"))

    return notice


def load_for(args: argparse.Namespace, cwd: Path) -> dict[str, Any]:
    return load_config(cwd, args.overrides, args.profile)


#: Model settings a resume restores from the record unless the person sets them again.
RECORDED_MODEL_KEYS = ("reasoning_effort", "reasoning_summary", "model_reasoning")


def _recorded_config(provider: Any, config: dict[str, Any]) -> dict[str, Any]:
    """What `session_started` records of the configuration: the endpoint (never a key) and the
    model settings that a resume must keep."""
    recorded: dict[str, Any] = {
        "provider": provider.name,
        "wire": provider.wire,
        "base_url": provider.base_url,
    }
    for key in RECORDED_MODEL_KEYS:
        if config.get(key) is not None:
            recorded[key] = config[key]
    return recorded
