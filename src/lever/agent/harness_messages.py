"""Messages the harness (not the person) puts in the history, each wrapped in one XML-ish tag.

The tag tells them apart from the person's own words: compaction keeps the person's messages
verbatim and rebuilds the harness ones.
"""

from __future__ import annotations

from lever.protocol import UserMessage
from lever.protocol.items import Item

#: Tags of messages that form the fixed prefix of a session (kept as-is by compaction).
PREFIX_TAGS = ("environment_context", "project_docs", "skills")
#: Tags of messages compaction writes (replaced at the next compaction).
COMPACTION_TAGS = ("plan", "handoff_summary", "environment_snapshot", "running_processes")
#: `review`: a `/review` report recorded between turns (lever.review.note); `tool_call_error`:
#: the server could not read the model's tool call (prompts/tool_call_error.md); `output_cut`,
#: `empty_reply`, `plan_nudge`: see lever.agent.endings; `budget`: the task's limits left.
OTHER_TAGS = (
    "turn_aborted",
    "nudge",
    "review",
    "tool_call_error",
    "output_cut",
    "empty_reply",
    "plan_nudge",
    "budget",
)


def harness_message(tag: str, body: str) -> UserMessage:
    return UserMessage(text=f"<{tag}>\n{body.strip()}\n</{tag}>")


def tool_call_error(server_error: str) -> UserMessage:
    """Tell the model the server could not read its last tool call (nothing was run)."""
    from lever.agent.prompts import load_prompt

    text = load_prompt("tool_call_error").format(error=server_error[:400])
    return harness_message("tool_call_error", text)


def tag_of(item: Item) -> str | None:
    if not isinstance(item, UserMessage) or not item.text.startswith("<"):
        return None
    tag = item.text[1 : item.text.find(">")] if ">" in item.text else ""
    if tag in PREFIX_TAGS or tag in COMPACTION_TAGS or tag in OTHER_TAGS:
        return tag
    return None


def is_person_message(item: Item) -> bool:
    return isinstance(item, UserMessage) and tag_of(item) is None


def prefix_of(history: list[Item]) -> list[Item]:
    """The leading harness messages (environment, AGENTS.md, skills) of a history."""
    prefix: list[Item] = []
    for item in history:
        if tag_of(item) not in PREFIX_TAGS:
            break
        prefix.append(item)
    return prefix
