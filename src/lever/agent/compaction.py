"""Compaction (DESIGN.md §6): replace the history with a hand-off that fits the window.

The rebuilt history is: the fixed prefix (environment, AGENTS.md, skills), the person's own
messages (the first task always, then newest first within a budget, in their original order),
the current plan verbatim, the model's hand-off summary, and a fresh snapshot of the workspace.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from lever.agent import overflow
from lever.agent.budget import TokenBudget
from lever.agent.harness_messages import (
    COMPACTION_TAGS,
    harness_message,
    is_person_message,
    prefix_of,
    tag_of,
)
from lever.agent.prompts import load_prompt
from lever.agent.state import WorkState
from lever.models.base import ContextLengthError, ModelClient, ModelRequest
from lever.protocol import AssistantMessage, ItemAdded, UserMessage
from lever.protocol.items import Item

#: Share of the effective window the person's kept messages may take, in bytes of text.
USER_MESSAGES_SHARE = 0.15
#: Share of the effective window the summary request may fill (estimates are not exact).
SUMMARY_REQUEST_SHARE = 0.9
#: Share of the effective window the model's hand-off summary may take once rebuilt.
SUMMARY_SHARE = 0.15


async def summarize(
    client: ModelClient,
    request: ModelRequest,
    budget: TokenBudget | None = None,
    save: overflow.Saver | None = None,
) -> str:
    """Ask the model for the hand-off summary over the current history (tools offered, unused:
    the request keeps the same prefix as every other request, so the provider's cache hits).

    With a `budget`, the request is shrunk to fit it (`overflow.shrink`), and a context-length
    error teaches the budget the provider's limit and the request is shrunk again (bounded).
    """
    ask = UserMessage(text=load_prompt("compact"))
    for attempt in range(1, overflow.MAX_ATTEMPTS + 1):
        items = list(request.items)
        if budget is not None:
            fixed = overflow.request_bytes(replace(request, items=[ask]))
            room = budget.effective_window * SUMMARY_REQUEST_SHARE * budget.bytes_per_token
            items = overflow.shrink(items, int(room) - fixed, save)
        summary_request = replace(request, items=[*items, ask])
        try:
            return await _ask(client, summary_request)
        except ContextLengthError as error:
            error.sent_bytes = overflow.request_bytes(summary_request)
            if budget is None or attempt == overflow.MAX_ATTEMPTS:
                raise
            overflow.learn(budget, error, error.sent_bytes)
    raise AssertionError("unreachable")


async def _ask(client: ModelClient, summary_request: ModelRequest) -> str:
    parts: list[str] = []
    async for event in client.stream(summary_request):
        if isinstance(event, ItemAdded) and isinstance(event.item, AssistantMessage):
            parts.append(event.item.text)
    summary = "\n\n".join(part for part in parts if part.strip())
    return summary or "(the model returned no summary)"


def select_person_messages(history: list[Item], budget_chars: int) -> list[UserMessage]:
    """The first task always, then the newest messages that fit; in their original order.

    A huge message is cut (head and tail) to the budget, at most about 20k tokens, as Codex
    does: the first task is kept, but never so big that the rebuilt history cannot fit.
    """
    cap = max(min(overflow.MESSAGE_CAP_BYTES, budget_chars), 1_000)
    messages = [
        _capped(item, cap)
        for item in history
        if isinstance(item, UserMessage) and is_person_message(item)
    ]
    if not messages:
        return []
    first, rest = messages[0], messages[1:]
    kept: list[UserMessage] = []
    used = len(first.text)
    for message in reversed(rest):
        if used + len(message.text) > budget_chars:
            break
        kept.append(message)
        used += len(message.text)
    return [first, *reversed(kept)]


def _capped(message: UserMessage, cap: int) -> UserMessage:
    if len(message.text) <= cap:
        return message
    return UserMessage(text=overflow.cut_text(message.text, cap))


async def _git(cwd: Path, *args: str) -> str:
    try:
        process = await asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            stdin=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return ""
    out, _ = await process.communicate()
    return out.decode(errors="replace").strip() if process.returncode == 0 else ""


async def environment_snapshot(cwd: Path, state: WorkState, memory: str = "") -> str:
    """What is true in the workspace now, so the next turns re-read state, not trust a summary."""
    status = await _git(cwd, "status", "--short")
    if not status and not await _git(cwd, "rev-parse", "--git-dir"):
        lines = [f"{cwd} is not a git repository."]
    else:
        diffstat = await _git(cwd, "diff", "--stat")
        lines = [
            "git status --short:",
            status or "(clean)",
            "git diff --stat:",
            diffstat or "(none)",
        ]
    if state.files_touched:
        lines.append("files changed by patches this session: " + ", ".join(state.files_touched))
    if state.last_test is not None:
        test = state.last_test
        lines += [f"last test command: {test.command} (exit {test.exit_code})", test.tail.strip()]
    if memory:
        lines += ["workspace memory (re-read it rather than trusting the summary):", memory]
    return "\n".join(lines)


def rebuild_from_remote(
    history: list[Item], state: WorkState, remote: list[Item], snapshot: str
) -> list[Item]:
    """The prefix unchanged, the provider's compacted items, then plan and snapshot as usual."""
    prefix = prefix_of(history)
    kept = [item for item in remote if item not in prefix and tag_of(item) not in COMPACTION_TAGS]
    rebuilt: list[Item] = [*prefix, *kept]
    if state.plan:
        rebuilt.append(harness_message("plan", state.render_plan()))
    rebuilt.append(harness_message("environment_snapshot", snapshot))
    return rebuilt


def rebuild_history(
    history: list[Item], state: WorkState, summary: str, snapshot: str, budget_chars: int
) -> list[Item]:
    rebuilt: list[Item] = [*prefix_of(history), *select_person_messages(history, budget_chars)]
    if state.plan:
        rebuilt.append(harness_message("plan", state.render_plan()))
    summary = overflow.cut_text(
        summary, max(int(budget_chars / USER_MESSAGES_SHARE * SUMMARY_SHARE), 1_000)
    )
    rebuilt.append(harness_message("handoff_summary", summary))
    rebuilt.append(harness_message("environment_snapshot", snapshot))
    return rebuilt
