"""Resuming and forking sessions from their rollouts: in the interactive app, or driven like
`lever exec`. The session stack is imported only on the exec path: the app loads it itself,
after its first frame."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lever.cli import exit_codes
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
    """`lever resume` opens the app in a terminal; scripts (--json, -o, --exec, a prompt read
    from stdin, or stdin or stdout not a terminal) get the `lever exec` behaviour."""
    if getattr(args, "fork", False) or getattr(args, "exec", False):
        return False
    if args.json or args.output_last_message or "-" in args.words:
        return False
    return sys.stdin.isatty() and sys.stdout.isatty()


def resume_in_app(args: argparse.Namespace) -> int:
    """Open the app on the recorded session: its transcript first, then an unfinished turn is
    carried on and PROMPT (if given) is sent."""
    from lever.tui.app import run_app
    from lever.tui.launch import Launch

    session_word, prompt = _split_words(args)
    path = _rollout_for(args, session_word)
    return run_app(Launch(cwd=Path.cwd(), args=args, prompt=prompt, resume=path))


def resume_or_fork(args: argparse.Namespace) -> int:
    from lever.agent.resume import as_fork, replay
    from lever.assembly import build_session, limits_from, load_for
    from lever.cli.exec import run_to_end
    from lever.config.providers import ConfigError, resolve_model
    from lever.store.rollout import new_session_id, read_rollout, session_dir

    session_word, prompt = _split_words(args)
    path = _rollout_for(args, session_word)
    forking = getattr(args, "fork", False)
    replayed = replay(read_rollout(path), until_seq=getattr(args, "at", None))
    started = replayed.started
    cwd = Path(started.cwd)
    turns: list[str | None] = [None] if replayed.open_turn and not forking else []
    if prompt:
        turns.append(prompt)
    if not turns:
        print(
            f"lever {args.command}: the session has no unfinished turn; give a PROMPT to send",
            file=sys.stderr,
        )
        return exit_codes.USAGE
    try:
        config = load_for(args, cwd)
        recorded = started.config
        resolved = resolve_model(
            config,
            provider=args.provider or recorded.get("provider"),
            model=args.model or started.model,
            base_url=args.base_url or recorded.get("base_url"),
            api_key_env=args.api_key_env,
        )
    except ConfigError as e:
        print(f"lever {args.command}: {e}", file=sys.stderr)
        return exit_codes.USAGE
    if forking:
        session_id = new_session_id()
        rollout_path = session_dir(lever_home()) / f"rollout-{session_id}.jsonl"
        replayed = as_fork(replayed, session_id, path.stem.removeprefix("rollout-"))
    else:
        session_id, rollout_path = started.session_id, path
    session = build_session(
        resolved,
        cwd,
        config,
        limits_from(config, args),
        session_id=session_id,
        rollout_path=rollout_path,
    )
    return run_to_end(session, args, turns, restore=replayed)
