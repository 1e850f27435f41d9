"""`lever exec --provider local` end to end: the real 1.5B answers through a real shell call.

lever starts its own llama-server on demand (a free port), uses the small-model system prompt,
runs the model's `wc -l` in the sandbox, and stops the server when it exits.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lever.local.models import MODELS, model_path
from lever.local.pull import is_pulled
from lever.local.server import pid_alive
from lever.testing.realistic_home import build_realistic_home

from .conftest import TIMEOUT, need_binary

pytestmark = [pytest.mark.local_model, pytest.mark.timeout(TIMEOUT)]
TASK = "How many lines does README.md have? Use the shell, then answer with the number."
LINES = 17


def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "README.md").write_text(
        "# demo\n\n" + "".join(f"Line {i} of the demo project.\n" for i in range(LINES - 2))
    )
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    return folder


def llama_servers() -> set[int]:
    found = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and pid_alive(int(proc.name)):
            found.add(int(proc.name))
    return found


@pytest.mark.parametrize("home_kind", ["clean", "realistic"])
def test_exec_answers_with_the_number_through_a_real_shell_call(
    tmp_path: Path, home_kind: str
) -> None:
    """Also with a user's HOME (issue 12): a slow `.bashrc` that starts pyenv and complains on
    stderr under the sandbox. Its noise must not reach the model, which must still answer."""
    model = MODELS["1.5b"]
    if not is_pulled(model):
        pytest.skip("the 1.5b model is not pulled: run `lever local pull 1.5b`")
    binary = need_binary()
    lever = shutil.which("lever")
    assert lever, "run through `uv run`"
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVER_")}
    env["LEVER_HOME"] = str(home)  # a fresh home: the model and binary are named by config
    if home_kind == "realistic":
        user = build_realistic_home(tmp_path / "user")
        env["HOME"] = str(user.home)
    before = llama_servers()
    result = subprocess.run(
        [
            lever,
            "exec",
            "--provider",
            "local",
            "--json",
            "--max-turns",
            "8",  # a looping model fails the test quickly instead of timing it out
            "-c",
            f'local.gguf="{model_path(model)}"',
            "-c",
            f'local.server_bin="{binary}"',
            TASK,
        ],
        cwd=repo(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT - 20,
        check=False,
    )
    if "illegal instruction" in result.stderr:
        pytest.skip("llama-server cannot run on this CPU (illegal instruction)")
    assert result.returncode == 0, result.stderr[-3000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    shell_runs = [e for e in events if e["type"] == "tool_finished" and e["name"] == "shell"]
    assert shell_runs, f"no shell call: {result.stdout[-3000:]}"
    assert any(str(LINES) in e.get("full_output", "") for e in shell_runs)
    for run in shell_runs:  # the login's start-up noise never reaches the model
        assert "cannot rehash" not in run.get("full_output", ""), run
        assert "mktemp:" not in run.get("full_output", ""), run
    finished = [e for e in events if e["type"] == "turn_finished"][-1]
    assert finished["reason"] == "done"
    assert str(LINES) in finished["last_message"], finished
    started = next(e for e in events if e["type"] == "session_started")
    assert started["provider"] == "local"
    assert started["instructions"].startswith("You are lever, a coding assistant")
    assert llama_servers() <= before, "the on-demand llama-server outlived lever"
