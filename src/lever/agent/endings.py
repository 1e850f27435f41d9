"""How a model's reply ends a step: cut off at the output limit, empty, or a final answer given
while the plan still has open steps (DESIGN.md §11 "Don't stop early"). The texts the model reads
are in prompts/*.md; the turn loop (`lever.agent.turn`) decides what to do with them."""

from __future__ import annotations

from lever.agent.harness_messages import harness_message
from lever.agent.prompts import load_prompt
from lever.agent.state import WorkState
from lever.models.base import OutputCut
from lever.protocol import AssistantMessage, UserMessage
from lever.protocol.items import Item

#: A cut reply is asked for again at most this many times in one task; then the turn fails.
MAX_CUTS = 2
#: An empty final reply is asked for again once; a second one fails the turn.
MAX_EMPTY = 1


def limit_text(cut: OutputCut) -> str:
    return f"{cut.limit} tokens" if cut.limit else "the model's output cap"


def cut_reply_note(cut: OutputCut) -> UserMessage:
    return harness_message("output_cut", load_prompt("output_cut").format(limit=limit_text(cut)))


def cut_call_output(cut: OutputCut, last: bool) -> str:
    """What a call of a cut reply gets instead of running: the last one was being written."""
    name = "output_cut_call" if last else "output_cut_other"
    return load_prompt(name).format(limit=limit_text(cut)).strip()


def answer_text(items: list[Item]) -> str:
    return "\n".join(item.text for item in items if isinstance(item, AssistantMessage))


def empty_reply_note() -> UserMessage:
    return harness_message("empty_reply", load_prompt("empty_reply"))


def asks_the_person(text: str) -> bool:
    """The answer ends with a question: the model is waiting for the person, not stopping."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return bool(lines) and "?" in lines[-1]


def plan_nudge(state: WorkState, text: str) -> UserMessage | None:
    """A nudge to go on when the plan has open steps and the answer asks nothing, else None."""
    open_steps = [step for step in state.plan if step.status != "completed"]
    if not open_steps or asks_the_person(text):
        return None
    steps = "\n".join(f"- [{step.status}] {step.step}" for step in open_steps)
    return harness_message("plan_nudge", load_prompt("plan_nudge").format(steps=steps))
