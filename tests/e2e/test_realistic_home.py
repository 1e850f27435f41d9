"""`lever exec` in a HOME like a Python developer's (issue 12): a slow, noisy pyenv-style
`.bashrc`, with the sandbox on. What the model receives is each command's own output."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from lever.testing import realistic_home as fixture
from lever.testing.fake_model import FakeModelServer
from lever.testing.realistic_home import RealisticHome

from .conftest import run_lever

HEADER = re.compile(r"exit code: (\d+) · \d+\.\d s\n")


@pytest.fixture
def sandboxed() -> None:
    from lever.sandbox.probe import probe

    status = probe()
    if not status.available:
        pytest.skip(f"no sandbox mechanism on this machine: {status.describe()}")


def shell(call_id: str, command: str) -> dict[str, Any]:
    call = {"name": "shell", "arguments": {"command": command}, "call_id": call_id}
    return {"tool_calls": [call]}


SCRIPT = [
    shell("call_print", "printf 'one\\ntwo\\n'"),
    shell("call_env", f"{fixture.ALIAS_NAME}; {fixture.FUNCTION_NAME} x; {fixture.SHIM_PROGRAM}"),
    shell("call_fail", "ls no-such-file"),
    {"text": "Done."},
]


def exec_in(home: RealisticHome, env: dict[str, str], repo: Path, *extra: str) -> Any:
    with FakeModelServer(SCRIPT) as server:
        result = run_lever(
            "exec", "--json", "--provider", "openai-responses", "--base-url",
            server.root_url + "/v1", "--model", "fake-model", *extra, "Look around.",
            env={**env, "HOME": str(home.home)}, cwd=repo,
        )  # fmt: skip
        outputs = {
            item["call_id"]: item["output"]
            for item in server.requests[-1].body["input"]
            if item.get("type") == "function_call_output"
        }
    assert result.returncode == 0, result.stderr
    return result, outputs


def own_output(received: str) -> str:
    match = HEADER.match(received)
    assert match, received
    return received[match.end() :]


@pytest.mark.usefixtures("sandboxed")
def test_the_model_receives_exactly_the_commands_output(
    realistic_home: RealisticHome, clean_env: dict[str, str], math_repo: Path
) -> None:
    result, outputs = exec_in(realistic_home, clean_env, math_repo)
    assert own_output(outputs["call_print"]) == "one\ntwo\n"
    assert own_output(outputs["call_env"]) == f"alias ok\nfunction ok: x\n{fixture.SHIM_OUTPUT}\n"
    failed = own_output(outputs["call_fail"])
    assert failed.count("\n") == 1 and "no-such-file" in failed  # ls's message, nothing else
    assert "sandbox" not in outputs["call_fail"]
    # The login scripts ran once, for the snapshot; no fallback notice.
    assert realistic_home.runs() == 1
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert not [e for e in events if e["type"] == "error"]


@pytest.mark.usefixtures("sandboxed")
def test_switched_off_commands_run_the_login_scripts_each_time(
    realistic_home: RealisticHome, clean_env: dict[str, str], math_repo: Path
) -> None:
    """`shell_snapshot = false`: as before, `bash -lc` per command, noise and all."""
    _, outputs = exec_in(realistic_home, clean_env, math_repo, "-c", "shell_snapshot=false")
    assert own_output(outputs["call_print"]).endswith("one\ntwo\n")
    assert "shims" in outputs["call_print"]  # pyenv's complaint from the read-only HOME
    assert realistic_home.runs() == 0  # under the sandbox the .bashrc cannot count its runs
