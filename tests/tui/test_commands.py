"""Slash commands and the composer: each command does something a person can see."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from lever.protocol import ChildStarted, SessionStarted
from lever.store.rollout import RolloutWriter, find_rollout, session_dir
from lever.tui.commands import COMMANDS

from .conftest import screen_text, type_text, wait_for


async def command(pilot, line: str, expect: str) -> str:
    await type_text(pilot, line)
    await pilot.press("enter")
    await wait_for(pilot, lambda: expect in screen_text(pilot.app), what=expect)
    return screen_text(pilot.app)


async def test_information_commands(make_app) -> None:
    plan = {"plan": [{"step": "Only step", "status": "in_progress"}]}
    app, _ = make_app([{"tool_calls": [{"name": "update_plan", "arguments": plan}]}, {"text": "k"}])
    async with app.run_test(size=(120, 60)) as pilot:
        text = await command(pilot, "/help", "/compact")
        assert all(f"/{name}" in text for name, _ in COMMANDS)
        assert app.session is not None
        text = await command(pilot, "/status", f"session   {app.session.id}")
        assert "model     fake-model via openai-chat" in text and "cost n/a" in text
        await command(pilot, "/sandbox", "sandbox workspace-write via")
        await command(pilot, "/plan", "no plan yet")
        await type_text(pilot, "make a plan")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.turns_shown == 1)
        await command(pilot, "/plan", "[>] Only step")
        await command(pilot, "/skills", "no skills")
        await command(pilot, "/review", "is not inside a git repository")
        await command(pilot, "/nope", "unknown command /nope")


async def test_model_and_approvals_change_the_session(make_app) -> None:
    app, server = make_app([{"text": "hi"}])
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, "/model", "model fake-model via openai-chat")
        await command(pilot, "/model other-model", "model set to other-model")
        assert app.session is not None and app.session.model == "other-model"
        assert "other-model ·" in str(app.status.render())
        await command(pilot, "/approvals", "approval policy on-request")
        await command(pilot, "/approvals untrusted", "approval policy set to untrusted")
        assert app.session.approvals is not None and app.session.approvals.policy == "untrusted"
        await command(pilot, "/approvals bogus", "unknown policy 'bogus'")
        await type_text(pilot, "hello")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.turns_shown == 1)
        assert server.bodies()[-1]["model"] == "other-model"


async def test_diff_shows_the_workspace_changes(make_app, workdir: Path) -> None:
    app, _ = make_app([])
    async with app.run_test(size=(100, 30)) as pilot:
        await command(pilot, "/diff", "not a git repository")
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
        subprocess.run([*git, "init", "-q"], cwd=workdir, check=True)
        subprocess.run([*git, "add", "."], cwd=workdir, check=True)
        subprocess.run([*git, "commit", "-qm", "init"], cwd=workdir, check=True)
        await command(pilot, "/diff", "no changes")
        (workdir / "hello.py").write_text("print('changed')\n")
        text = await command(pilot, "/diff", "git diff · hello.py")
        assert "-print('hello')" in text and "+print('changed')" in text


async def test_compact_new_sessions_and_resume(make_app) -> None:
    app, _ = make_app(
        [{"text": "First answer."}, {"text": "Goal: say hi. Summary of work."}, {"text": "x"}]
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "remember the word pineapple")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.turns_shown == 1)
        await command(pilot, "/compact", "context compacted · Goal: say hi.")
        assert app.session is not None
        first_id = app.session.id
        await command(pilot, "/new", "lever · fake-model")
        assert app.session.id != first_id
        assert "pineapple" not in screen_text(app)
        # A sub-agent of the first session: counted on its parent's line, not listed.
        kid = "20260101T000000-c41d00"
        started = SessionStarted(
            session_id=kid, cwd=str(app.cwd), model="m", provider="p", parent_id=first_id
        )
        RolloutWriter(session_dir(app.home, time.time()) / f"rollout-{kid}.jsonl").append(started)
        spawned = ChildStarted(call_id="c9", child_id=kid, task="look", mode="read-only", cwd="/")
        RolloutWriter(find_rollout(app.home, first_id)).append(spawned)
        text = await command(pilot, "/sessions", first_id)
        assert "/resume ID opens one" in text and kid not in text
        (line,) = [row for row in text.splitlines() if first_id in row]
        assert line.rstrip().endswith("· 1 sub-agent"), line
        await command(pilot, f"/resume {first_id}", "First answer.")
        assert "\u203a remember the word pineapple" in screen_text(app)
        assert app.session.id == first_id
        assert "First answer." in screen_text(app)
        await command(pilot, "/resume", first_id)  # no id: the list


async def test_quit_and_double_ctrl_c(make_app) -> None:
    app, _ = make_app([])
    async with app.run_test(size=(80, 24)) as pilot:
        await type_text(pilot, "/quit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.is_running)
    app, _ = make_app([])
    async with app.run_test(size=(80, 24)) as pilot:
        await type_text(pilot, "some draft")
        await pilot.press("ctrl+c")
        assert app.composer.text == ""  # the first ctrl+c clears the draft
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: "press ctrl+c again to quit" in screen_text(app))
        assert app.is_running
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: not app.is_running)


async def test_composer_history_paste_and_completion(make_app, workdir: Path) -> None:
    app, server = make_app([{"text": "one"}, {"text": "two"}])
    (workdir / "src").mkdir()
    (workdir / "src" / "module_a.py").write_text("")
    async with app.run_test(size=(100, 30)) as pilot:
        composer = app.composer
        # Slash completion: the list shows, tab completes the only match.
        await type_text(pilot, "/comp")
        assert "/compact  summarize" in screen_text(app)
        await pilot.press("tab")
        assert composer.text == "/compact "
        composer.set_text("")
        # @ completes paths, folder by folder.
        await type_text(pilot, "look at @sr")
        await pilot.press("tab")
        assert composer.text == "look at @src/"
        await pilot.press("tab")
        assert composer.text == "look at @src/module_a.py "
        # A large paste folds into one line and goes out whole.
        big = "\n".join(f"line {n}" for n in range(40))
        composer.set_text("see: ")
        from textual import events

        composer.area.post_message(events.Paste(big))
        await pilot.pause()
        assert composer.text == "see: [pasted 40 lines #1]"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.turns_shown == 1)
        sent = server.bodies()[-1]["messages"][-1]["content"]
        assert "line 39" in str(sent) and "[pasted" not in str(sent)
        # Multi-line input and history.
        await type_text(pilot, "first line")
        await pilot.press("ctrl+j")
        await type_text(pilot, "second line")
        assert composer.text == "first line\nsecond line"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.turns_shown == 2)
        await pilot.press("up")
        assert composer.text == "first line\nsecond line"
        await pilot.press("up")  # the cursor moves to the first line first
        assert composer.text == "first line\nsecond line"
        await pilot.press("up")  # on the first line: one further back
        assert composer.text == "see: [pasted 40 lines #1]"
        await pilot.press("down")
        assert composer.text == "first line\nsecond line"
