"""Resuming and forking sessions from their rollouts: in the interactive app, or driven like
`lever exec`. The session stack is imported only on the exec path: the app loads it itself,
after its first frame."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lever.config.loader import lever_home


def _split_words(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(session id, prompt) from the positional words; with --last every word is the prompt."""
    words = list(args.words)
    session = None if args.last else (words.pop(0) if words else None)
    prompt = " ".join(words) or None
    if prompt == "-":
        prompt = sys.stdin.read().strip() or None
    return session, prompt


def _rollout_for(args: argparse.Namespace, session: str | None) -> Path:
    from lever.store.rollout import find_rollout, latest_rollout

    if session:
        return find_rollout(lever_home(), session)
    if args.last:
        return latest_rollout(lever_home())
    raise ValueError("name a session id, or pass --last")


def wants_app(args: argparse.Namespace) -> bool:
    """`lever resume` and `lever fork` open the app in a terminal; scripts (--json, -o, --exec,
    a prompt read from stdin, or stdin or stdout not a terminal) get the `lever exec`
    behaviour."""
    if getattr(args, "exec", False):
        return False
    if args.json or args.output_last_message or "-" in args.words:
        return False
    return sys.stdin.isatty() and sys.stdout.isatty()


def resume_in_app(args: argparse.Namespace) -> int:
    """Open the app on the recorded session (or on a fork of it): its transcript first, then an
    unfinished turn is carried on and PROMPT (if given) is sent."""
    from lever.tui.app import run_app
    from lever.tui.launch import Launch

    session_word, prompt = _split_words(args)
    path = _rollout_for(args, session_word)
    launch = Launch(
        cwd=Path.cwd(),
        args=args,
        prompt=prompt,
        resume=path,
        fork=bool(getattr(args, "fork", False)),
        at=getattr(args, "at", None),
    )
    return run_app(launch)


def resume_or_fork(args: argparse.Namespace) -> int:
    from lever.cli.exec import open_and_run
    from lever.frontend import Request

    session_word, prompt = _split_words(args)
    path = _rollout_for(args, session_word)
    forking = bool(getattr(args, "fork", False))
    request = Request.from_args(
        args, Path.cwd(), resume=path, fork=forking, at=getattr(args, "at", None)
    )
    return open_and_run(request, args, prompt)
