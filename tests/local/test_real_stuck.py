"""The stuck detector against a model that really loops: the 0.5B under the general prompt.

Served by a plain llama-server (the `llamacpp` preset, as a person running their own server
would), with lever's general system prompt rather than the small-model one, the 0.5B repeats
the same tool call with the same result instead of answering. Without the detector it runs
into `--max-turns`; with it (on by default for local servers) lever nudges it once, then ends
the run with the "stuck" status and exit code 8 — or the model answers after the nudge.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from lever.agent.harness_messages import tag_of
from lever.protocol.items import UserMessage

from .conftest import TIMEOUT, real_server
from .test_exec_local import TASK, repo

pytestmark = [pytest.mark.local_model, pytest.mark.timeout(2 * TIMEOUT)]
MAX_TURNS = 6


def run_exec(
    base_url: str, cwd: Path, home: Path, task: str, *, off: bool = False
) -> tuple[int, list[dict[str, Any]]]:
    lever = shutil.which("lever")
    assert lever, "run through `uv run`"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVER_")}
    env["LEVER_HOME"] = str(home)
    argv = [lever, "exec", "--provider", "llamacpp", "--base-url", base_url, "-m", "qwen"]
    argv += ["--json", "--max-turns", str(MAX_TURNS)]
    argv += ["-c", "stuck_detection=false"] if off else []
    argv.append(task)
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert events, result.stderr[-2000:]
    return result.returncode, events


def nudges(events: list[dict[str, Any]]) -> list[str]:
    found = []
    for event in events:
        item = event.get("item") or {}
        message = event["type"] == "item" and item.get("type") == "user_message"
        if message and tag_of(UserMessage(text=item["text"])) == "nudge":
            found.append(item["text"])
    return found


def finish(events: list[dict[str, Any]]) -> dict[str, Any]:
    return next(e for e in events if e["type"] == "turn_finished")


#: Worded differently, the same question. The 0.5B's reply depends on every byte of the prompt
#: (the folder's path included) and, through its prompt cache, on what the server saw before:
#: so each run gets a fresh server and the same folder, and the test finds a wording it loops on.
TASKS = (
    "Use the shell to count the lines of README.md with wc -l, then answer with the number.",
    TASK,
    "Run `wc -l README.md` in the shell and tell me the number of lines.",
)
FOLDER = Path(tempfile.gettempdir()) / "lever-test-real-stuck"


def fresh_repo() -> Path:
    shutil.rmtree(FOLDER, ignore_errors=True)
    FOLDER.mkdir()
    return repo(FOLDER)


def loops(code: int, events: list[dict[str, Any]]) -> bool:
    calls = [e["item"] for e in events if e["type"] == "item" and e["item"]["type"] == "tool_call"]
    signature = [(c["name"], c["arguments"]) for c in calls]
    return code == 3 and len(set(signature)) < len(signature)


def run_fresh(task: str, home: Path, *, off: bool = False) -> tuple[int, list[dict[str, Any]]]:
    with real_server("0.5b") as base_url:
        return run_exec(base_url, fresh_repo(), home, task, off=off)


def test_the_real_05b_loops_and_the_detector_stops_it(tmp_path: Path) -> None:
    try:
        for task in TASKS:
            # The control: left alone, the model repeats itself until the turn limit.
            code, events = run_fresh(task, tmp_path / "home-off", off=True)
            assert not nudges(events)
            if loops(code, events):
                break
        else:
            pytest.fail("the 0.5B answered every wording without looping: the premise changed")
        code, events = run_fresh(task, tmp_path / "home-on")
    finally:
        shutil.rmtree(FOLDER, ignore_errors=True)
    calls = [e["item"] for e in events if e["type"] == "item" and e["item"]["type"] == "tool_call"]
    assert nudges(events), "the repeated call was not noticed"
    assert len(calls) < MAX_TURNS
    reason = finish(events)["reason"]
    assert (code, reason) in {(8, "stuck"), (0, "done")}, finish(events)
    if reason == "stuck":  # stopped on a true repeat of an earlier call
        signature = [(c["name"], json.loads(c["arguments"])) for c in calls]
        assert signature[-1] in signature[:-1], signature
