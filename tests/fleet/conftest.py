"""Fleet tests drive the installed `lever fleet` against the fake model server.

The fake model plays a different part for each attempt: its `responder` reads the attempt's
working folder from the request (the `<cwd>` of the environment context, ending in
`worktrees/TASK/N`) and answers with that attempt's plan.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import lever_bin

_CWD = re.compile(r"<cwd>([^<]*)</cwd>")


@dataclass(frozen=True)
class Plan:
    """One attempt's part: run `command`, then answer. `tokens`: input tokens of its first
    request (the second costs 10); `calls` > 1 repeats the command without ever answering."""

    command: str
    tokens: int = 10
    calls: int = 1


def attempt_of(body: Mapping[str, Any]) -> tuple[str, int]:
    found = _CWD.search(json.dumps(body))
    assert found, "no <cwd> in the request"
    path = Path(found.group(1).replace("\\/", "/"))
    return path.parent.name, int(path.name)


def tool_outputs(body: Mapping[str, Any]) -> list[str]:
    return [m["content"] for m in body.get("messages", []) if m.get("role") == "tool"]


def responder(plans: Mapping[tuple[str, int], Plan]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def respond(body: dict[str, Any]) -> dict[str, Any]:
        task, n = attempt_of(body)
        plan = plans[(task, n)]
        done = len(tool_outputs(body))
        if done < plan.calls:
            call = {"name": "shell", "arguments": {"command": plan.command}}
            tokens = plan.tokens if done == 0 else 10
            return {"tool_calls": [call], "usage": {"input_tokens": tokens, "output_tokens": 0}}
        return {"text": f"done {task}#{n}", "usage": {"input_tokens": 10, "output_tokens": 0}}

    return respond


def fleet_branches(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/lever/fleet").split()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def lever_home(tmp_path: Path) -> Path:
    home = tmp_path / "lever-home"
    home.mkdir()
    return home


@pytest.fixture
def env(lever_home: Path) -> dict[str, str]:
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.endswith("_API_KEY") and not name.startswith(("LEVER_", "GIT_"))
    }
    clean["LEVER_HOME"] = str(lever_home)
    return clean


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit, an uncommitted change and an untracked file."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "status.txt").write_text("todo\n")
    (repo / "notes.txt").write_text("notes\n")
    # New files go in a subfolder: under Landlock a repository's root (it holds the protected
    # `.git`) only has its existing entries writable.
    (repo / "out").mkdir()
    (repo / "out" / ".keep").write_text("")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    (repo / "notes.txt").write_text("notes\ndraft\n")
    (repo / "extra.txt").write_text("untracked\n")
    return repo


def model_flags(server: Any) -> list[str]:
    return ["--provider", "openai-chat", "--base-url", server.base_url, "--model", "fake-model"]


def run_lever(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [lever_bin(), *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def fleet_running(
    server: Any, repo: Path, env: dict[str, str], *args: str
) -> Iterator[subprocess.Popen[str]]:
    """`lever fleet run ARGS` against the fake model, its output piped; killed if the block
    leaves it running (a wait that timed out, a failed check)."""
    proc = subprocess.Popen(
        [lever_bin(), "fleet", "run", *args, *model_flags(server)],
        env=env, cwd=repo, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()


def wait_for(predicate: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def leftovers_under(folder: Path, settle: float = 10.0) -> list[str]:
    """`processes_under(folder)` once those still dying are gone: under bubblewrap a killed
    command's pid namespace is torn down a few milliseconds after the kill returns, seconds under
    load."""
    deadline = time.monotonic() + settle
    while processes_under(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    return processes_under(folder)


def processes_under(folder: Path) -> list[str]:
    """Live processes whose working folder is inside `folder` (leftovers of attempts), as
    "PID: CWD: COMMAND LINE"."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cwd.startswith(str(folder)):
            found.append(f"{proc.name}: {cwd}: {cmdline}")
    return found


def folders_running(folder: Path, marker: str) -> set[str]:
    """The working folders (one per attempt) of live processes running `marker`: one command
    shows up as several processes (the sandbox helper, bash, the command itself)."""
    return {p.split(": ")[1] for p in processes_under(folder) if marker in p}


def run_id_of(stderr: str) -> str:
    found = re.search(r"run (\d{8}-\d{6}-[0-9a-f]{4})", stderr)
    assert found, stderr
    return found.group(1)
