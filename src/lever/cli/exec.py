"""`lever exec`: run one task to its end, for scripts and CI."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from pydantic import BaseModel

from lever.agent.session import Session
from lever.cli import exit_codes
from lever.cli.render import HumanRenderer
from lever.config.providers import ConfigError
from lever.protocol import TurnFinished, event_to_json


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
    from lever.cli.common import build_session, limits_from, load_for, resolve_from_args

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
    except ConfigError as e:
        print(f"lever exec: {e}", file=sys.stderr)
        return exit_codes.USAGE
    session = build_session(resolved, cwd, config, limits_from(config, args))
    session.subscribe(HumanRenderer())
    if args.json:
        session.subscribe(json_printer)
    finished = asyncio.run(_run(session, task))
    if args.output_last_message:
        Path(args.output_last_message).write_text(finished.last_message, encoding="utf-8")
    if not args.json and finished.last_message:
        sys.stdout.write(finished.last_message.rstrip("\n") + "\n")
    return exit_code_for(finished)


async def _run(session: Session, task: str) -> TurnFinished:
    loop = asyncio.get_running_loop()
    # First Ctrl-C interrupts the turn (the session is still written out); a second one kills.
    loop.add_signal_handler(signal.SIGINT, _interrupt_once, loop, session)
    loop.add_signal_handler(signal.SIGTERM, session.interrupt)
    session.start()
    finished = await session.run_turn(task)
    await session.close(finished.reason)
    return finished


def _interrupt_once(loop: asyncio.AbstractEventLoop, session: Session) -> None:
    session.interrupt()
    loop.remove_signal_handler(signal.SIGINT)
