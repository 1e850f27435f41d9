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
from lever.frontend import Opened, Request
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
    # A sub-agent's events are live-only in the parent's stream (its own rollout has them).
    if not getattr(event, "ephemeral", False) or getattr(event, "recorded", False):
        sys.stdout.write(event_to_json(event) + "\n")
        sys.stdout.flush()


def run_exec(args: argparse.Namespace) -> int:
    from lever.config.values import DEFAULT_EXEC_SECONDS
    from lever.frontend import Request

    task = _read_task(args.task).strip()
    if not task:
        print("lever exec: the task is empty", file=sys.stderr)
        return exit_codes.USAGE
    cwd = Path(args.cd or ".").resolve()
    request = Request.from_args(args, cwd, default_max_seconds=DEFAULT_EXEC_SECONDS)
    return open_and_run(request, args, task)


def open_and_run(request: Request, args: argparse.Namespace, prompt: str | None) -> int:
    """Open the session of `request` (new, resumed or forked), run it like `lever exec`."""
    from lever import frontend
    from lever.sandbox.approval import is_unconfined

    try:
        plan = frontend.prepare(request)
    except ConfigError as e:
        print(f"lever {args.command}: {e}", file=sys.stderr)
        return exit_codes.USAGE
    if is_unconfined(plan.sandbox):
        # Commands would run unconfined (or all be refused): only danger-full-access asks for
        # that. Said once, up front, with the exit code for it.
        print(_UNCONFINED.format(mode=plan.sandbox.policy.mode), file=sys.stderr)
        return exit_codes.SANDBOX
    from lever.sandbox.launcher_home import startup_warnings

    for note in startup_warnings(plan.sandbox.policy.mode, plan.sandbox.policy.writable_roots):
        print(f"lever exec: warning: {note}", file=sys.stderr)
    turns = plan.turns(prompt)
    if not turns:
        print(
            f"lever {args.command}: the session has no unfinished turn; give a PROMPT to send",
            file=sys.stderr,
        )
        return exit_codes.USAGE
    try:
        opened = frontend.build(plan)
    except ConfigError as e:
        print(f"lever {args.command}: {e}", file=sys.stderr)
        return exit_codes.USAGE
    return run_to_end(opened, args, turns)


def run_to_end(opened: Opened, args: argparse.Namespace, turns: list[str | None]) -> int:
    """Drive `turns` (None continues an open turn) and report like `lever exec` does."""
    session = opened.session
    session.subscribe(HumanRenderer())
    if args.json:
        session.subscribe(json_printer)
    finished = asyncio.run(_run(session, turns, opened.replayed))
    if args.output_last_message:
        Path(args.output_last_message).write_text(finished.last_message, encoding="utf-8")
    if not args.json and finished.last_message:
        # The answer goes to a terminal, or to a file someone will `cat`: no raw escapes.
        answer = terminal_safe(finished.last_message, keep_colour=True)
        sys.stdout.write(answer.rstrip("\n") + "\n")
    return exit_code_for(finished)


async def _run(session: Session, turns: list[str | None], restore: Replayed | None) -> TurnFinished:
    from lever import frontend

    loop = asyncio.get_running_loop()
    # First Ctrl-C interrupts the turn (the session is still written out); a second one kills.
    loop.add_signal_handler(signal.SIGINT, _interrupt_once, loop, session)
    loop.add_signal_handler(signal.SIGTERM, session.interrupt)
    # However the run ends (an error, a second Ctrl-C), the processes it started in the
    # background die with it (`drive` closes in `finally`): each is its own process group.
    if restore is None:
        session.start()
    else:
        session.restore(restore)
    return await frontend.drive(session, turns)


def _interrupt_once(loop: asyncio.AbstractEventLoop, session: Session) -> None:
    session.interrupt()
    loop.remove_signal_handler(signal.SIGINT)
