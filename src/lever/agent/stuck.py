"""Detecting a model that repeats itself: the same tool call with the same result, again.

Small models often re-run their last command instead of answering. `StuckDetector` is fed each
(tool call, output) pair; when a pair repeats one seen in the recent window it answers "nudge"
(with the text of `prompts/stuck_nudge.md` to give the model) the first time, and "stop" after
that, so the session can end the turn with a distinct "stuck" status. It is pure: no I/O, no
clock; the session decides how to deliver the nudge and how to stop.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass
from typing import Literal

from lever import safe_json

Action = Literal["ok", "nudge", "stop"]

#: Durations in a tool's output ("exit code: 0 · 0.1 s") differ between identical runs.
_DURATION = re.compile(r"\b\d+(?:[.,]\d+)*\s?(?:ms|s)\b")


@dataclass(frozen=True)
class Verdict:
    action: Action
    #: For "nudge": the message for the model. For "stop": why the run is stuck.
    message: str = ""


OK = Verdict("ok")


def _canonical_arguments(arguments: str) -> str:
    try:
        return json.dumps(safe_json.loads(arguments), sort_keys=True, separators=(",", ":"))
    except (json.JSONDecodeError, TypeError):
        return arguments.strip()


def _canonical_output(output: str) -> str:
    return _DURATION.sub("<t>", output.strip())


class StuckDetector:
    """Feed it every finished tool call; act on the verdict.

    `window` is how many recent calls count as "again" (so A, B, A, B loops are caught too);
    `max_nudges` how many nudges are given in a run before a repeat means "stop".
    """

    def __init__(self, window: int = 6, max_nudges: int = 1, nudge_text: str | None = None):
        self.window: deque[tuple[str, str, str]] = deque(maxlen=window)
        self.max_nudges = max_nudges
        self.nudges = 0
        self._nudge_text = nudge_text

    @property
    def nudge_text(self) -> str:
        if self._nudge_text is None:
            from lever.agent.prompts import load_prompt

            self._nudge_text = load_prompt("stuck_nudge").strip()
        return self._nudge_text

    def observe(self, name: str, arguments: str, output: str) -> Verdict:
        key = (name, _canonical_arguments(arguments), _canonical_output(output))
        repeated = key in self.window
        self.window.append(key)
        if not repeated:
            return OK
        if self.nudges < self.max_nudges:
            self.nudges += 1
            return Verdict("nudge", self.nudge_text)
        return Verdict(
            "stop",
            f"the model repeated the same `{name}` call with the same result "
            f"after {self.nudges} nudge(s) to stop repeating it",
        )

    def reset(self) -> None:
        """Forget the window (a new user turn); nudges already given still count."""
        self.window.clear()
