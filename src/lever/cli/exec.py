"""`lever exec`: run one task to its end, for scripts and CI."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from pydantic import BaseModel

from lever.agent.resume import Replayed
from lever.agent.session import Session
from lever.cli import exit_codes
from lever.cli.render import HumanRenderer
from lever.config.providers import ConfigError
from lever.protocol import TurnFinished, event_to_json
from lever.safe_text import terminal_safe

_UNCONFINED = (
    "lever exec: no sandbox mechanism works here to enforce --sandbox {mode} "
    "(`lever sandbox --status` says why), and lever does not run commands unconfined unless "
    "asked: install bubblewrap, or run with --sandbox danger-full-access."
)


def _read_task(task: str) -> str:
    if task == "-":
        return sys.stdin.read()
    return task


def exit_code_for(finished: TurnFinished) -> int:
    if finished.reason == "error":
        kind = finished.detail.partition(":")[0]
        return exit_codes.BY_ERROR_KIND.get(kind, exit_codes.ERROR)
    return exit_codes.BY_REASON.get(finished.reason, exit_codes.ERROR)


def json_printer(event: BaseModel) -> None:
    if not getattr(event, "ephemeral", False):
        sys.stdout.write(event_to_json(event) + "\n")
        sys.stdout.flush()


def run_exec(args: argparse.Namespace) -> int:
    from lever.assembly import (
        approvals_from,
        build_session,
        limits_from,
        load_for,
        resolve_from_args,
        sandbox_from,
    )
    from lever.sandbox.approval import is_unconfined

    cwd = Path(args.cd or ".").resolve()
    if not cwd.is_dir():
        print(f"lever exec: no such folder: {cwd}", file=sys.stderr)
        return exit_codes.USAGE
    task = _read_task(args.task).strip()
    if not task:
        print("lever exec: the task is empty", file=sys.stderr)
        return exit_codes.USAGE
    try:
        config = load_for(args, cwd)
        resolved = resolve_from_args(args, config)
        sandbox = sandbox_from(config, args, cwd)
        approvals = approvals_from(config, args)
    except ConfigError as e:
        print(f"lever exec: {e}", file=sys.stderr)
        return exit_codes.USAGE
    if is_unconfined(sandbox):
        # Commands would run unconfined (or all be refused): only danger-full-access asks for
        # that. Said once, up front, with the exit code for it.
        print(_UNCONFINED.format(mode=sandbox.policy.mode), file=sys.stderr)
        return exit_codes.SANDBOX
    from lever.sandbox.launcher_home import startup_warnings

    for note in startup_warnings(sandbox.policy.mode, sandbox.policy.writable_roots):
        print(f"lever exec: warning: {note}", file=sys.stderr)
    if args.compact_at:
        config["compact_at"] = args.compact_at
    session = build_session(
        resolved, cwd, config, limits_from(config, args), sandbox=sandbox, approvals=approvals
    )
    return run_to_end(session, args, [task])


def run_to_end(
    session: Session,
    args: argparse.Namespace,
    turns: list[str | None],
    restore: Replayed | None = None,
) -> int:
    """Drive `turns` (None continues an open turn) and report like `lever exec` does."""
    session.subscribe(HumanRenderer())
    if args.json:
        session.subscribe(json_printer)
    finished = asyncio.run(_run(session, turns, restore))
    if args.output_last_message:
        Path(args.output_last_message).write_text(finished.last_message, encoding="utf-8")
    if not args.json and finished.last_message:
        # The answer goes to a terminal, or to a file someone will `cat`: no raw escapes.
        answer = terminal_safe(finished.last_message, keep_colour=True)
        sys.stdout.write(answer.rstrip("\n") + "\n")
    return exit_code_for(finished)


async def _run(session: Session, turns: list[str | None], restore: Replayed | None) -> TurnFinished:
    loop = asyncio.get_running_loop()
    # First Ctrl-C interrupts the turn (the session is still written out); a second one kills.
    loop.add_signal_handler(signal.SIGINT, _interrupt_once, loop, session)
    loop.add_signal_handler(signal.SIGTERM, session.interrupt)
    if restore is None:
        session.start()
    else:
        session.restore(restore)
    finished: TurnFinished | None = None
    for text in turns:
        finished = await session.run_turn(text)
        if finished.reason != "done":
            break
    assert finished is not None, "run_to_end needs at least one turn"
    await session.close(finished.reason)
    return finished


def _interrupt_once(loop: asyncio.AbstractEventLoop, session: Session) -> None:
    session.interrupt()
    loop.remove_signal_handler(signal.SIGINT)
