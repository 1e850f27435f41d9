"""Typed work state derived from the event stream: plan, files touched, last test run.

It is re-injected verbatim after a compaction ("state is data, not prose"), and rebuilt on resume
by feeding the rollout's events through `observe` again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel

from lever.protocol import PatchApplied, PlanStep, PlanUpdated, ToolFinished, ToolStarted
from lever.tools.describe import shell_command_text

_TEST_COMMAND = re.compile(
    r"\b(pytest|unittest|tox|nox|npm (run )?test|yarn test|pnpm test|cargo test|go test|"
    r"make (check|test)|ctest|mvn test|gradle test|rspec|phpunit|jest|vitest)\b"
)
_TAIL_CHARS = 1500


@dataclass
class TestRun:
    command: str
    exit_code: int | None
    tail: str


@dataclass
class WorkState:
    plan: list[PlanStep] = field(default_factory=list)
    plan_explanation: str = ""
    files_touched: list[str] = field(default_factory=list)
    last_test: TestRun | None = None
    #: Commands left running in the background, by process id ("p1"): re-announced after a
    #: compaction, with the ids still alive then.
    background: dict[str, str] = field(default_factory=dict)
    _commands: dict[str, str] = field(default_factory=dict)
    _shell: dict[str, str] = field(default_factory=dict)

    def observe(self, event: BaseModel) -> None:
        if isinstance(event, PlanUpdated):
            self.plan = list(event.plan)
            self.plan_explanation = event.explanation
        elif isinstance(event, PatchApplied):
            for path in event.files:
                if path not in self.files_touched:
                    self.files_touched.append(path)
        elif isinstance(event, ToolStarted) and event.name == "shell":
            command = shell_command_text(event.arguments)
            self._shell[event.call_id] = command
            if command and _TEST_COMMAND.search(command):
                self._commands[event.call_id] = command
        elif isinstance(event, ToolFinished):
            self._finished(event)

    def _finished(self, event: ToolFinished) -> None:
        command = self._shell.pop(event.call_id, "")
        if event.process_id and command:
            self.background[event.process_id] = command
        if event.call_id in self._commands:
            command = self._commands.pop(event.call_id)
            self.last_test = TestRun(command, event.exit_code, event.full_output[-_TAIL_CHARS:])

    def render_plan(self) -> str:
        marks = {"completed": "[x]", "in_progress": "[>]", "pending": "[ ]"}
        lines = [f"{marks[step.status]} {step.step}" for step in self.plan]
        if self.plan_explanation:
            lines.append(f"({self.plan_explanation})")
        return "\n".join(lines)
