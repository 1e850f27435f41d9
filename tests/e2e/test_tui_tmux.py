"""The installed `lever` in tmux: type a task, approve with a key, read the answer."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lever.testing.fake_model import FakeModelServer

from .conftest import lever_bin, run_lever

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


class Tmux:
    def __init__(self) -> None:
        self.socket = f"lever-test-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        assert TMUX is not None
        done = subprocess.run(
            [TMUX, "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "lever")

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared on screen:\n{screen}")
            time.sleep(0.1)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    yield server
    server("kill-server")


def test_a_task_with_an_approval_in_a_real_terminal(
    tmux: Tmux, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    command = "echo approved-by-key > result.txt"
    turns = [
        {
            "text": "I will write the file.",
            "tool_calls": [
                {
                    "name": "shell",
                    "arguments": {"command": command, "escalate": True, "justification": "demo"},
                }
            ],
        },
        {"text": "Wrote result.txt for you."},
    ]
    with FakeModelServer(turns) as fake:
        env = {**clean_env, "TERM": "xterm-256color"}
        launch = [lever_bin(), "--base-url", fake.base_url, "--model", "fake-model"]
        env_args = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
        tmux(
            "new-session", "-d", "-s", "lever", "-x", "100", "-y", "30", "-c", str(repo),
            *env_args, *launch,
        )  # fmt: skip
        tmux.wait_for("Ask lever to do something")
        tmux("send-keys", "-t", "lever", "-l", "please write result.txt")
        tmux("send-keys", "-t", "lever", "Enter")
        screen = tmux.wait_for("[y] yes, once")
        assert "OUTSIDE the sandbox" in screen and "the model says: demo" in screen
        assert not (repo / "result.txt").exists()
        tmux("send-keys", "-t", "lever", "y")
        screen = tmux.wait_for("Wrote result.txt for you.")
        assert "\u203a please write result.txt" in screen
        assert "→ approve once" in screen
        assert "✓ exit 0" in screen
        assert (repo / "result.txt").read_text() == "approved-by-key\n"
        assert fake.turns_left == 0
        _quit(tmux)
    rollouts = list((Path(clean_env["LEVER_HOME"]) / "sessions").glob("*/*/*/rollout-*.jsonl"))
    assert len(rollouts) == 1 and "session_ended" in rollouts[0].read_text()


def _launch(tmux: Tmux, cwd: Path, env: dict[str, str], *command: str) -> None:
    env_args = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
    tmux(
        "new-session", "-d", "-s", "lever", "-x", "100", "-y", "30", "-c", str(cwd),
        *env_args, *command,
    )  # fmt: skip


def _quit(tmux: Tmux) -> None:
    tmux("send-keys", "-t", "lever", "C-c")
    tmux.wait_for("press ctrl+c again to quit")
    tmux("send-keys", "-t", "lever", "C-c")
    deadline = time.monotonic() + 10
    while "lever" in tmux("list-sessions") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "lever" not in tmux("list-sessions")


def test_resume_opens_the_app_on_the_past_session(
    tmux: Tmux, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    turns = [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "echo from-the-past"}}]},
        {"text": "Done before."},
        {"text": "Answered in the app."},
        {"text": "Answered by exec."},
    ]
    with FakeModelServer(turns) as fake:
        first = run_lever(
            "exec", "--base-url", fake.base_url, "--model", "fake-model", "first task",
            env=clean_env, cwd=repo,
        )  # fmt: skip
        assert first.returncode == 0, first.stderr
        env = {**clean_env, "TERM": "xterm-256color"}
        _launch(tmux, repo, env, lever_bin(), "resume", "--last")
        screen = tmux.wait_for("Done before.")
        assert "\u203a first task" in screen
        assert "$ echo from-the-past · ✓ exit 0" in screen
        assert "Ask lever to do something" in screen
        tmux("send-keys", "-t", "lever", "-l", "and now?")
        tmux("send-keys", "-t", "lever", "Enter")
        tmux.wait_for("Answered in the app.")
        _quit(tmux)
        # --exec keeps the script behaviour in a terminal too: no app, the answer on stdout.
        script = f"{shlex.quote(lever_bin())} resume --last --exec 'once more'; echo exit=$?"
        _launch(tmux, repo, env, "sh", "-c", script + "; sleep 30")
        screen = tmux.wait_for("exit=0")
        assert "Answered by exec." in screen and "Ask lever to do something" not in screen
        assert fake.turns_left == 0
    (rollout,) = (Path(clean_env["LEVER_HOME"]) / "sessions").glob("*/*/*/rollout-*.jsonl")
    text = rollout.read_text()
    assert text.count('"session_started"') == 3 and "and now?" in text and "once more" in text


def test_fork_opens_the_app_on_the_new_branch(
    tmux: Tmux, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    turns = [{"text": "The original answer."}, {"text": "Answered on the branch."}]
    with FakeModelServer(turns) as fake:
        first = run_lever(
            "exec", "--json", "--base-url", fake.base_url, "--model", "fake-model", "first task",
            env=clean_env, cwd=repo,
        )  # fmt: skip
        assert first.returncode == 0, first.stderr
        original = json.loads(first.stdout.splitlines()[0])["session_id"]
        env = {**clean_env, "TERM": "xterm-256color"}
        _launch(tmux, repo, env, lever_bin(), "fork", original, "try another way")
        screen = tmux.wait_for("Answered on the branch.")
        assert "The original answer." in screen and "Ask lever to do something" in screen
        _quit(tmux)
        assert fake.turns_left == 0
    rollouts = sorted((Path(clean_env["LEVER_HOME"]) / "sessions").glob("*/*/*/rollout-*.jsonl"))
    assert len(rollouts) == 2
    (branch,) = [path for path in rollouts if original not in path.name]
    assert "try another way" in branch.read_text()
    assert "try another way" not in next(p for p in rollouts if p != branch).read_text()


_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def _colour_codes(screen: str) -> list[str]:
    """The SGR parameters that set a colour (39 and 49, the defaults, set none)."""
    found = []
    for params in _SGR.findall(screen):
        codes = [int(code) for code in params.split(";") if code]
        if any(c in (38, 48) or 30 <= c <= 37 or 40 <= c <= 47 or 90 <= c <= 107 for c in codes):
            found.append(params)
    return found


@pytest.mark.parametrize("no_color", [False, True], ids=["color", "NO_COLOR"])
def test_no_color_in_a_real_terminal(
    tmux: Tmux, tmp_path: Path, clean_env: dict[str, str], no_color: bool
) -> None:
    env = {**clean_env, "TERM": "xterm-256color"}
    if no_color:
        env["NO_COLOR"] = "1"
    with FakeModelServer([{"text": "A **bold** answer."}]) as fake:
        _launch(tmux, tmp_path, env, lever_bin(), "--base-url", fake.base_url, "--model", "m")
        tmux.wait_for("Ask lever to do something")
        tmux("send-keys", "-t", "lever", "-l", "hello")
        tmux("send-keys", "-t", "lever", "Enter")
        tmux.wait_for("A bold answer.")
        screen = tmux("capture-pane", "-p", "-e", "-t", "lever")
        if no_color:
            assert _colour_codes(screen) == [], screen
            assert any("1" in params.split(";") for params in _SGR.findall(screen))  # bold
        else:
            assert _colour_codes(screen)
        _quit(tmux)
