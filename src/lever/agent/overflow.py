"""Recovery from a provider's context-length error (DESIGN.md §3): it always converges.

A provider that refuses a request as too long refuses every request over its limit, the summary
request of a compaction included (it is the same history plus the hand-off prompt). So lever:

1. learns the provider's real limit from the error ("maximum context length is N", "N tokens > M
   maximum", …), or, where the message does not say (OpenAI's Responses API), takes 90% of the
   refused request's size — and uses it for the rest of the session (recorded with the next
   compaction, so resume keeps it);
2. compacts with a summary request shrunk to fit that limit (`shrink`): the oldest tool outputs
   are dropped first (each replaced by a marker naming a file with the full output), then huge
   messages are cut as Codex does at about 20k tokens, then the oldest exchanges are left out
   whole — never the prefix (system prompt, tools, environment context, AGENTS.md, skills);
3. asks again. Bounded: after `MAX_ATTEMPTS` refusals it stops with a clear error (exec's
   "context exhausted" exit code), never a loop.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lever.agent.budget import TokenBudget
from lever.agent.harness_messages import harness_message, is_person_message, prefix_of
from lever.models.base import ContextLengthError, ModelRequest
from lever.protocol import AssistantMessage, ErrorEvent, ToolCall, ToolOutput, UserMessage
from lever.protocol.items import Item

if TYPE_CHECKING:
    from lever.agent.session import Session

#: Requests refused as too long in one recovery before lever gives up.
MAX_ATTEMPTS = 4
#: Where the provider does not say its limit: the refused request was over it by a little.
UNSTATED_LIMIT_SHARE = 0.9
#: Codex keeps a person's message up to 20k tokens when it compacts; so does lever (in bytes).
MESSAGE_CAP_BYTES = 20_000 * 4
#: Outputs shorter than this are not worth a marker.
MIN_DROP_BYTES = 200
DROPPED = "[output dropped to fit the context window: {size} bytes; full output in {where}]"

#: Writes a dropped output somewhere the model can read it back; returns where (or None).
Saver = Callable[[ToolOutput], str | None]


def learn(budget: TokenBudget, error: ContextLengthError, request_bytes: int) -> int:
    """Take the provider's limit from `error` into `budget`; returns the window now used.

    `request_bytes`: the size of the refused request (as `request_bytes` counts it). An error
    is learned from once (the summary request learns before its caller sees the error).
    """
    if error.learned:
        return budget.context_window
    error.learned = True
    if error.requested and request_bytes:
        # The provider's own count of what was sent: the best calibration there is.
        budget.bytes_per_token = request_bytes / error.requested
    sent = error.requested or budget.estimate(request_bytes)
    current = budget.context_window
    if error.limit:
        window = min(error.limit, current)
    elif sent < current:
        window = int(sent * UNSTATED_LIMIT_SHARE)
    else:
        window = current // 2  # the estimate itself is off: halve, bounded by MAX_ATTEMPTS
    budget.learn(window)
    return window


def dropped_saver(folder: Path | None) -> Saver:
    """Dropped outputs go to `folder/dropped-<call id>.txt` (the session's artifacts folder)."""

    def save(output: ToolOutput) -> str | None:
        if folder is None:
            return None
        path = folder / f"dropped-{_safe(output.call_id)}.txt"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                path.write_text(output.output, encoding="utf-8")
        except OSError:
            return None
        return str(path)

    return save


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:100] or "call"


def _size(item: Item) -> int:
    return len(item.model_dump_json())


def request_bytes(request: ModelRequest) -> int:
    """A request's size as the session budgets it (instructions, tool schemas, items)."""
    fixed = len(request.instructions) + sum(len(str(schema)) for schema in request.tools)
    return fixed + sum(map(_size, request.items))


def shrink(items: list[Item], budget_bytes: int, save: Saver | None = None) -> list[Item]:
    """`items` made to take at most `budget_bytes` if it can be done without touching the
    prefix: oldest tool outputs first, then huge messages, then whole oldest exchanges."""
    items = list(items)
    if sum(map(_size, items)) <= budget_bytes:
        return items
    start = len(prefix_of(items))
    items = _drop_outputs(items, start, budget_bytes, save)
    items = _cut_messages(items, start, budget_bytes)
    return _drop_oldest(items, start, budget_bytes)


def _drop_outputs(
    items: list[Item], start: int, budget_bytes: int, save: Saver | None
) -> list[Item]:
    total = sum(map(_size, items))
    for index in range(start, len(items)):
        item = items[index]
        if total <= budget_bytes:
            break
        if not isinstance(item, ToolOutput) or len(item.output) < MIN_DROP_BYTES:
            continue
        where = (save(item) if save else None) or "the session's rollout (not kept as a file)"
        marker = DROPPED.format(size=len(item.output.encode()), where=where)
        new = item.model_copy(update={"output": marker})
        total += _size(new) - _size(item)
        items[index] = new
    return items


def cut_text(text: str, cap: int) -> str:
    """Head and tail of `text` within `cap` characters, with a marker saying how much went."""
    if len(text) <= cap:
        return text
    keep = max(cap - 120, 0)
    head, tail = text[: keep // 2], text[len(text) - keep // 2 :]
    cut = len(text) - len(head) - len(tail)
    return f"{head}\n[… {cut} characters cut to fit the context window …]\n{tail}"


def _cut_messages(items: list[Item], start: int, budget_bytes: int) -> list[Item]:
    cap = max(min(MESSAGE_CAP_BYTES, budget_bytes // 4), 1_000)
    total = sum(map(_size, items))
    for index in sorted(range(start, len(items)), key=lambda i: -_size(items[i])):
        if total <= budget_bytes:
            break
        item = items[index]
        new: Item
        if isinstance(item, UserMessage | AssistantMessage) and len(item.text) > cap:
            new = item.model_copy(update={"text": cut_text(item.text, cap)})
        elif isinstance(item, ToolCall) and len(item.arguments) > cap:
            note = f"[arguments dropped to fit the context window: {len(item.arguments)} bytes]"
            new = item.model_copy(update={"arguments": json.dumps({"note": note})})
        else:
            continue
        total += _size(new) - _size(item)
        items[index] = new
    return items


def _drop_oldest(items: list[Item], start: int, budget_bytes: int) -> list[Item]:
    """Leave out the oldest items after the prefix (a call with its output), keeping the first
    person message and the newest item; one note says how many went."""
    total = sum(map(_size, items))
    first_person = next((i for i in range(start, len(items)) if is_person_message(items[i])), -1)
    kept = items[: max(start, first_person + 1)]
    rest = items[len(kept) :]
    dropped = 0
    while total > budget_bytes and len(rest) > 1:
        item = rest.pop(0)
        gone = [item]
        if isinstance(item, ToolCall):
            gone += [o for o in rest if isinstance(o, ToolOutput) and o.call_id == item.call_id]
            rest = [o for o in rest if o not in gone]
        total -= sum(map(_size, gone))
        dropped += len(gone)
    if not dropped:
        return items
    # An output whose call went with an earlier drop would be unpaired: it goes too.
    calls = {i.call_id for i in [*kept, *rest] if isinstance(i, ToolCall)}
    rest = [i for i in rest if not (isinstance(i, ToolOutput) and i.call_id not in calls)]
    note = harness_message(
        "context_note", f"{dropped} earlier items were left out to fit the context window."
    )
    return [*kept, note, *rest]


async def recover(
    session: Session, error: ContextLengthError, sample: Callable[[], Awaitable[list[Item]]]
) -> list[Item]:
    """Learn the limit, compact with requests that fit, `sample` again; bounded."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        window = learn(session.budget, error, error.sent_bytes or session._request_bytes())
        session.emit(
            ErrorEvent(
                message=f"{error} — using a context window of {window} tokens from now on; "
                "compacting",
                retrying=True,
                attempt=attempt,
                kind="context_overflow",
            )
        )
        try:
            await session.compact()  # its summary request already retried, shrinking
        except ContextLengthError as failed:
            raise _exhausted(session, failed, "the summary request") from failed
        try:
            return await sample()
        except ContextLengthError as again:
            error = again
    raise _exhausted(session, error, f"the request, after {MAX_ATTEMPTS} compactions,")


def _exhausted(session: Session, error: ContextLengthError, what: str) -> ContextLengthError:
    return ContextLengthError(
        f"context exhausted: the provider refused {what} even shrunk to "
        f"{session.budget.context_window} tokens: {error}"
    )
