"""Slash commands: each shows its result in the transcript or changes the session."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lever.tui.review import review_command

if TYPE_CHECKING:
    from lever.tui.app import LeverApp

#: (name, what it does), in the order completion lists them.
COMMANDS: list[tuple[str, str]] = [
    ("compact", "summarize the conversation to free context"),
    ("review", "review the changes, read-only: /review [--base BRANCH | --commit SHA]"),
    ("diff", "show git diff of the workspace"),
    ("plan", "show the current plan"),
    ("model", "show or switch the model: /model NAME"),
    ("approvals", "show or set the approval policy: /approvals on-request"),
    ("sandbox", "show the sandbox mode and mechanism"),
    ("status", "session, model, tokens and context used"),
    ("new", "start a new session"),
    ("resume", "resume a past session: /resume ID"),
    ("sessions", "list past sessions in this folder"),
    ("skills", "list the skills lever knows"),
    ("init", "look at the repository and write a starter AGENTS.md"),
    ("help", "list the commands"),
    ("quit", "leave lever"),
]

Handler = Callable[["LeverApp", str], Awaitable[None]]


async def run_command(app: LeverApp, line: str) -> None:
    name, _, rest = line.strip().removeprefix("/").partition(" ")
    handler = HANDLERS.get(name)
    if handler is None:
        app.notice(f"unknown command /{name} · /help lists the commands", "error")
    else:
        try:
            await handler(app, rest.strip())
        except Exception as e:  # a failing command is reported, never fatal to the app
            app.notice(f"/{name} failed: {type(e).__name__}: {e}", "error")


async def _help(app: LeverApp, rest: str) -> None:
    width = max(len(name) for name, _ in COMMANDS) + 2
    lines = [f"/{name.ljust(width)}{help_}" for name, help_ in COMMANDS]
    keys = (
        "keys: enter send · ctrl+j new line · tab complete · pgup/pgdn scroll · shift+tab to "
        "the cells, enter unfolds, esc back · esc interrupt · ctrl+c twice quit"
    )
    app.notice("\n".join([*lines, keys]))


async def _compact(app: LeverApp, rest: str) -> None:
    session = app.require_session()
    if session is None:
        return
    if app.busy:
        app.notice("/compact waits for the turn to end (esc interrupts it)")
        return
    app.notice("compacting the context…")
    app.start_job(app.run_compaction())


async def _diff(app: LeverApp, rest: str) -> None:
    from lever.tui.cells import PatchCell

    code, out = await _git(app.cwd, "diff", "--no-color", "HEAD")
    if code != 0:
        code, out = await _git(app.cwd, "diff", "--no-color")
    if code != 0:
        app.notice("/diff: not a git repository (or git failed)", "error")
        return
    _, untracked = await _git(app.cwd, "ls-files", "--others", "--exclude-standard")
    extra = [f"new file (untracked): {path}" for path in untracked.splitlines()]
    if not out.strip() and not extra:
        app.notice("no changes")
        return
    files = [line[6:] for line in out.splitlines() if line.startswith("+++ b/")]
    title = "git diff · " + (", ".join(files + untracked.splitlines()) or "no tracked changes")
    await app.transcript.add(PatchCell(files, "\n".join([out.rstrip(), *extra]).strip(), title))


async def _git(cwd: Path, *args: str) -> tuple[int, str]:
    try:
        proc = await asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return 127, ""
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


async def _plan(app: LeverApp, rest: str) -> None:
    session = app.session
    if session is None or not session.state.plan:
        app.notice("no plan yet")
        return
    app.notice(session.state.render_plan())


async def _model(app: LeverApp, rest: str) -> None:
    session = app.require_session()
    if session is None:
        return
    if rest:
        session.model = rest
        app.status.info.model = rest
        app.status.refresh_text()
        app.notice(f"model set to {rest} (from the next request)")
    else:
        app.notice(f"model {session.model} via {session.provider} · /model NAME switches")


async def _approvals(app: LeverApp, rest: str) -> None:
    from lever.sandbox.approval import POLICIES, parse_policy

    session = app.require_session()
    if session is None or session.approvals is None:
        return
    if rest:
        if rest not in POLICIES:
            app.notice(f"unknown policy {rest!r} (one of: {', '.join(POLICIES)})", "error")
            return
        session.approvals.policy = parse_policy(rest)
        app.status.info.approval = rest
        app.status.refresh_text()
        app.notice(f"approval policy set to {rest}")
    else:
        app.notice(
            f"approval policy {session.approvals.policy} · one of {', '.join(POLICIES)} · "
            f"{len(session.approvals.cache)} approved for this session"
        )


async def _sandbox(app: LeverApp, rest: str) -> None:
    session = app.require_session()
    if session is not None:
        policy = session.sandbox.policy
        network = "on" if policy.network else "off"
        app.notice(f"sandbox {policy.mode} via {session.sandbox.name} · network {network}")


async def _status(app: LeverApp, rest: str) -> None:
    session = app.require_session()
    if session is None:
        return
    used = session.estimated_tokens()
    window = session.budget.context_window
    usage = session.usage
    app.notice(
        "\n".join(
            [
                f"session   {session.id}",
                f"cwd       {session.cwd}",
                f"model     {session.model} via {session.provider}",
                f"sandbox   {session.sandbox.policy.mode} ({session.sandbox.name})",
                f"approval  {session.approvals.policy if session.approvals else 'never'}",
                f"context   {used} of {window} tokens ({session.budget.percent_used(used):.0f}%)",
                f"tokens    {usage.input_tokens} in · {usage.output_tokens} out · "
                f"{usage.requests} requests · cost n/a",
            ]
        )
    )


async def _new(app: LeverApp, rest: str) -> None:
    await app.new_session()


async def _sessions(app: LeverApp, rest: str) -> None:
    from lever.store.index import open_index

    with open_index(app.home) as index:
        rows = index.list_sessions(app.cwd, limit=10)
    if not rows:
        app.notice("no sessions in this folder")
        return
    lines = [
        f"{row.id}  {row.status:<11} {row.title[:50] or '-'}"
        + (f" · {row.children} sub-agent{'s' * (row.children != 1)}" if row.children else "")
        for row in rows
    ]
    app.notice("\n".join([*lines, "/resume ID opens one"]))


async def _resume(app: LeverApp, rest: str) -> None:
    if not rest:
        await _sessions(app, rest)
        return
    from lever.store.rollout import find_rollout

    try:
        path = find_rollout(app.home, rest)
    except (FileNotFoundError, ValueError) as e:
        app.notice(f"/resume: {e}", "error")
        return
    await app.resume_session(path)


async def _skills(app: LeverApp, rest: str) -> None:
    from lever.context.skills import discover_skills

    found = discover_skills(app.cwd, app.home)
    if not found:
        app.notice("no skills (lever skills new NAME creates one)")
        return
    app.notice("\n".join(f"{s.name} ({s.scope}): {s.description}" for s in found))


async def _init(app: LeverApp, rest: str) -> None:
    session = app.require_session()
    if session is None:
        return
    target = session.cwd / "AGENTS.md"
    if target.exists():
        app.notice(
            f"{target} already exists; /init does not overwrite it. Edit it, or ask lever to "
            "improve it.",
            "error",
        )
        return
    from lever.agent.prompts import load_prompt

    app.send(load_prompt("init").strip())


async def _quit(app: LeverApp, rest: str) -> None:
    await app.action_quit()


HANDLERS: dict[str, Handler] = {
    "help": _help,
    "compact": _compact,
    "diff": _diff,
    "plan": _plan,
    "model": _model,
    "approvals": _approvals,
    "sandbox": _sandbox,
    "status": _status,
    "new": _new,
    "resume": _resume,
    "sessions": _sessions,
    "skills": _skills,
    "review": review_command,
    "init": _init,
    "quit": _quit,
}
