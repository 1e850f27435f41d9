"""The stuck detector: the same call with the same result → nudge once, then stop."""

from __future__ import annotations

from lever.agent.prompts import load_prompt
from lever.agent.stuck import StuckDetector

WC = '{"command": "wc -l README.md"}'
OUT = "exit code: 0 · 0.0 s\n12 README.md\n"


def test_a_repeat_nudges_then_stops() -> None:
    detector = StuckDetector()
    assert detector.observe("shell", WC, OUT).action == "ok"
    nudge = detector.observe("shell", WC, OUT)
    assert nudge.action == "nudge"
    assert nudge.message == load_prompt("stuck_nudge").strip()
    assert "plain text" in nudge.message
    stop = detector.observe("shell", WC, OUT)
    assert stop.action == "stop"
    assert "shell" in stop.message


def test_different_calls_or_results_are_not_repeats() -> None:
    detector = StuckDetector()
    assert detector.observe("shell", WC, OUT).action == "ok"
    assert detector.observe("shell", '{"command": "ls"}', OUT).action == "ok"
    assert detector.observe("shell", WC, "exit code: 0 · 0.0 s\n13 README.md\n").action == "ok"
    assert detector.observe("apply_patch", WC, OUT).action == "ok"


def test_argument_formatting_and_durations_do_not_hide_a_repeat() -> None:
    detector = StuckDetector()
    detector.observe("shell", WC, OUT)
    spaced = '{\n  "command":   "wc -l README.md"\n}'
    slower = "exit code: 0 · 1.3 s\n12 README.md\n"
    assert detector.observe("shell", spaced, slower).action == "nudge"


def test_an_alternating_loop_is_caught_within_the_window() -> None:
    detector = StuckDetector(window=4)
    ls = '{"command": "ls"}'
    assert [
        detector.observe("shell", WC, OUT).action,
        detector.observe("shell", ls, "a\n").action,
        detector.observe("shell", WC, OUT).action,
        detector.observe("shell", ls, "a\n").action,
    ] == ["ok", "ok", "nudge", "stop"]


def test_outside_the_window_a_call_may_come_back() -> None:
    detector = StuckDetector(window=2)
    detector.observe("shell", WC, OUT)
    detector.observe("shell", '{"command": "a"}', "")
    detector.observe("shell", '{"command": "b"}', "")
    assert detector.observe("shell", WC, OUT).action == "ok"


def test_more_nudges_and_reset() -> None:
    detector = StuckDetector(max_nudges=2, nudge_text="stop repeating")
    detector.observe("shell", WC, OUT)
    assert detector.observe("shell", WC, OUT).message == "stop repeating"
    assert detector.observe("shell", WC, OUT).action == "nudge"
    detector.reset()
    assert detector.observe("shell", WC, OUT).action == "ok"
    assert detector.observe("shell", WC, OUT).action == "stop"  # the nudges are spent
