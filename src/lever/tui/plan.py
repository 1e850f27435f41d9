"""The plan panel: the model's current plan, shown while one exists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from lever.safe_text import terminal_safe

if TYPE_CHECKING:
    from lever.protocol import PlanStep

MARKS = {"completed": "✓", "in_progress": "▸", "pending": "·"}
STYLES = {"completed": "dim strike", "in_progress": "bold", "pending": ""}


def plan_text(plan: list[PlanStep], explanation: str = "") -> Text:
    text = Text("plan", style="bold")
    done = sum(step.status == "completed" for step in plan)
    text.append(f" ({done}/{len(plan)} done)")
    for step in plan:
        text.append(f"\n {MARKS[step.status]} ")
        text.append(terminal_safe(step.step), style=STYLES[step.status])
    if explanation:
        text.append(f"\n {terminal_safe(explanation)}", style="italic")
    return text


class PlanPanel(Static):
    def __init__(self) -> None:
        super().__init__("", id="plan")
        self.display = False
        self.plan: list[PlanStep] = []

    def show_plan(self, plan: list[PlanStep], explanation: str = "") -> None:
        self.plan = list(plan)
        self.display = bool(plan)
        self.update(plan_text(plan, explanation))
