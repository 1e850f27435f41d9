"""The app against the fake model: streaming, commands, approvals, patches, plans, interrupts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lever.testing.procs import alive
from lever.tools.apply_patch import make_patch
from lever.tui.answer import AnswerCell
from lever.tui.cells import CommandCell, PatchCell
from lever.tui.transcript import Transcript

from .conftest import screen_text, type_text, wait_for


def cells(transcript: Transcript, kind: type) -> list:
    return [child for child in transcript.children if isinstance(child, kind)]


def shell(command: str, call_id: str, **extra: object) -> dict:
    return {"name": "shell", "arguments": {"command": command, **extra}, "call_id": call_id}


async def send(pilot, text: str) -> None:
    await type_text(pilot, text)
    await pilot.press("enter")


async def test_a_full_turn_streams_text_and_shows_a_command_cell(make_app) -> None:
    app, server = make_app(
        [
            {"text": "Let me look.", "tool_calls": [shell("echo hi-from-shell", "c1")]},
            {"text": "The folder has **one** file, hello.py.", "event_delay_ms": 120},
        ]
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await send(pilot, "what is here?")

        # While the answer streams, part of it is on screen and the turn is still running.
        def streaming() -> str:
            answers = cells(app.transcript, AnswerCell)
            return answers[1].streamed if len(answers) == 2 else ""

        await wait_for(pilot, streaming, what="stream")
        assert app.busy
        streaming = streaming()
        assert streaming and streaming != "The folder has **one** file, hello.py."
        await wait_for(pilot, lambda: app.turns_shown == 1, what="turn end")
        text = screen_text(app)
        assert "\u203a what is here?" in text
        assert "The folder has one file, hello.py." in text  # Markdown rendered
        (command,) = cells(app.transcript, CommandCell)
        assert command.collapsed and "hi-from-shell" in command.output
        assert "$ echo hi-from-shell · ✓ exit 0 ·" in text
        assert server.turns_left == 0


async def test_a_command_cell_shows_live_output_then_collapses(make_app) -> None:
    app, _ = make_app(
        [
            {
                "tool_calls": [
                    shell("echo first-line; sleep 1.5; echo later-$((1+1)); exit 3", "c1")
                ]
            },
            {"text": "It failed with 3."},
        ]
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await send(pilot, "run it")
        await wait_for(pilot, lambda: "first-line" in screen_text(app), what="live output")
        (cell,) = cells(app.transcript, CommandCell)
        assert not cell.collapsed and "running…" in screen_text(app)
        await wait_for(pilot, lambda: app.turns_shown == 1)
        assert cell.collapsed and "✗ exit 3" in screen_text(app)
        assert "later-2" not in screen_text(app)  # folded away, kept in the cell
        assert "later-2" in cell.output


ESCALATED = {"escalate": True, "justification": "needs to write outside"}


@pytest.mark.parametrize(
    ("key", "decision", "runs"),
    [
        ("y", "approve once", 1),
        ("a", "approve session", 2),
        ("n", "deny", 0),
        ("s", "deny and stop", 0),
    ],
)
async def test_an_approval_answered_with_each_key(
    make_app, workdir: Path, key: str, decision: str, runs: int
) -> None:
    command = "echo ran >> marker.txt"
    turns = [
        {"text": "I need approval.", "tool_calls": [shell(command, "c1", **ESCALATED)]},
        {"tool_calls": [shell(command, "c2", **ESCALATED)]},
        {"text": "All done."},
    ]
    app, server = make_app(turns)
    async with app.run_test(size=(100, 30)) as pilot:
        await send(pilot, "write the marker")
        # The prompt widget exists a frame before it is painted: wait for the paint.
        await wait_for(pilot, lambda: "[s] no, and stop" in screen_text(app), what="prompt")
        text = screen_text(app)
        assert "OUTSIDE the sandbox" in text and "echo ran >> marker.txt" in text
        assert f"in {workdir}" in text and "the model says: needs to write outside" in text
        assert "[y] yes, once" in text and "[s] no, and stop" in text
        await pilot.press(key)
        if key in ("y", "n"):  # the second identical request asks again
            await wait_for(pilot, lambda: _waiting(app) == ["c2"], what="second prompt")
            await pilot.press(key)
        await wait_for(pilot, lambda: app.turns_shown == 1, what="turn end")
        text = screen_text(app)
        assert f"→ {decision}" in text
        marker = workdir / "marker.txt"
        expected = runs if key != "y" else 2
        if expected:
            assert marker.read_text().count("ran") == expected
        else:
            assert not marker.exists()  # a denied command never runs
        if key == "s":
            assert "stopped (denied)" in text and server.turns_left == 2
        else:
            assert "All done." in text and server.turns_left == 0, text


def _waiting(app) -> list[str]:
    return [prompt.event.call_id for prompt in app.transcript.waiting_prompts]


async def test_a_patch_cell_shows_the_diff(make_app, workdir: Path) -> None:
    patch = make_patch("hello.py", "print('hello')\n", "print('hello, world')\n")
    app, _ = make_app(
        [
            {"tool_calls": [{"name": "apply_patch", "arguments": {"input": patch}}]},
            {"text": "Patched."},
        ]
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await send(pilot, "greet the world")
        await wait_for(pilot, lambda: app.turns_shown == 1 and "Patched." in screen_text(app))
        (cell,) = cells(app.transcript, PatchCell)
        assert cell.files == ["hello.py"]
        text = screen_text(app)
        assert "patched hello.py" in text
        assert "-print('hello')" in text and "+print('hello, world')" in text
        assert (workdir / "hello.py").read_text() == "print('hello, world')\n"


async def test_the_plan_panel_follows_update_plan(make_app) -> None:
    plan = {
        "plan": [
            {"step": "Read the code", "status": "completed"},
            {"step": "Fix the bug", "status": "in_progress"},
            {"step": "Run the tests", "status": "pending"},
        ]
    }
    app, _ = make_app(
        [{"tool_calls": [{"name": "update_plan", "arguments": plan}]}, {"text": "ok"}]
    )
    async with app.run_test(size=(80, 24)) as pilot:
        assert not app.plan.display
        await send(pilot, "plan it")
        await wait_for(pilot, lambda: app.turns_shown == 1 and app.plan.display)
        text = screen_text(app)
        assert "plan (1/3 done)" in text
        assert "✓ Read the code" in text and "▸ Fix the bug" in text and "· Run the tests" in text


@pytest.mark.parametrize("key", ["escape", "ctrl+c"])
async def test_interrupt_mid_command_kills_the_process(make_app, workdir: Path, key: str) -> None:
    command = "echo $$ > pid.txt; sleep 30; echo never > after.txt"
    app, server = make_app(
        [{"tool_calls": [shell(command, "c1")]}, {"text": "unused"}],
        sandbox="danger-full-access",
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await send(pilot, "sleep a while")
        pid_file = workdir / "pid.txt"
        await wait_for(pilot, lambda: pid_file.exists() and pid_file.read_text().strip())
        pid = int(pid_file.read_text())
        assert Path(f"/proc/{pid}").exists()
        await pilot.press(key)
        await wait_for(pilot, lambda: app.turns_shown == 1, what="interrupted turn")
        await wait_for(pilot, lambda: not alive(pid), what="process gone")
        assert "stopped (interrupted)" in screen_text(app)
        assert not (workdir / "after.txt").exists()
        assert server.turns_left == 1  # nothing more was asked of the model


async def test_a_message_typed_while_working_is_queued(make_app) -> None:
    app, server = make_app(
        [
            {"tool_calls": [shell("sleep 1", "c1")]},
            {"text": "First done."},
            {"text": "Second done."},
        ]
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await send(pilot, "first task")
        await wait_for(pilot, lambda: cells(app.transcript, CommandCell))
        await send(pilot, "second task")
        assert app.queue == ["second task"]
        await wait_for(pilot, lambda: "queued (sent when this turn ends)" in screen_text(app))
        assert (
            "1 queued" in app.status.render().plain
            if hasattr(app.status.render(), "plain")
            else True
        )
        await wait_for(pilot, lambda: "Second done." in screen_text(app), what="queued turn")
        assert server.turns_left == 0
        last = server.bodies()[-1]["messages"]
        assert last[-1]["content"] == "second task" or "second task" in str(last[-1])
        assert not app.queue


async def test_no_model_shows_the_configuration_hint(workdir: Path) -> None:
    import argparse

    from lever.tui.app import LeverApp
    from lever.tui.launch import Launch

    os.environ.pop("OPENAI_API_KEY", None)
    app = LeverApp(Launch(cwd=workdir, args=argparse.Namespace()))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "No model is configured" in screen_text(app))
        await send(pilot, "hello")
        await wait_for(pilot, lambda: "lever cannot answer" in screen_text(app))
        assert app.session is None and app.is_running


async def test_keys_work_while_the_session_opens(make_app, monkeypatch) -> None:
    import threading

    import lever.tui.launch

    release = threading.Event()
    real_open = lever.tui.launch.open_session

    def held_open(*args):  # the real session, once the test lets it open
        assert release.wait(10)
        return real_open(*args)

    monkeypatch.setattr(lever.tui.launch, "open_session", held_open)
    app, server = make_app([{"text": "Answered once open."}])
    async with app.run_test(size=(100, 30)) as pilot:
        await send(pilot, "typed at once")
        await wait_for(pilot, lambda: "queued (sent when this turn ends)" in screen_text(app))
        assert app.session is None and app.opening and server.requests == []
        await pilot.press("ctrl+j")  # the composer still edits
        await type_text(pilot, "draft")
        assert app.composer.text == "\ndraft"
        release.set()
        await wait_for(pilot, lambda: "Answered once open." in screen_text(app))
        assert server.bodies()[0]["messages"][-1]["content"] == "typed at once"


async def test_quitting_while_the_session_opens_closes_it_whole(
    make_app, monkeypatch, lever_home: Path
) -> None:
    import threading

    import lever.tui.launch

    release = threading.Event()
    real_open = lever.tui.launch.open_session

    def held_open(*args):
        assert release.wait(10)
        return real_open(*args)

    monkeypatch.setattr(lever.tui.launch, "open_session", held_open)
    app, _ = make_app([])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app._building is not None, what="the session building")
        threading.Timer(0.5, release.set).start()  # built only after the quit began
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to end")
    (rollout,) = lever_home.glob("sessions/*/*/*/rollout-*.jsonl")
    kinds = [line.split('"type":"')[1].split('"')[0] for line in rollout.read_text().splitlines()]
    assert kinds[0] == "session_started" and kinds[-1] == "session_ended"
