"""The agents under test: lever, the OpenAI Codex CLI (npm) and mini-swe-agent (PyPI).

Each agent knows how to install itself (peers: once, into ~/.cache/lever-bench, from their
registries), the fake-model script that makes it run N steps of `STEP_COMMAND` and then stop,
the command line that runs it against a base URL on 127.0.0.1, and how its shell runs the step
(to subtract the command's own cost). Nothing here talks to anything but loopback, except the
installers (npm and pip, to their registries).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import STEP_COMMAND

CACHE = Path(os.environ.get("LEVER_BENCH_CACHE") or Path.home() / ".cache" / "lever-bench")
CODEX_VERSION = "0.169.0"
MINI_VERSION = "2.4.6"
FAKE_KEY_ENV = "LEVER_BENCH_FAKE_KEY"
#: Hand-written so no agent picks up a key, proxy or provider from the bench's environment.
_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "TERM", "USER", "LOGNAME", "SHELL", "TMPDIR", "HOME")


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _KEEP_ENV}
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    env[FAKE_KEY_ENV] = "bench-key"
    env.update(extra)
    return env


class Agent:
    name = ""
    #: Why the agent cannot run here (None: it can).
    unavailable: str | None = None
    version = ""

    def install(self) -> None:
        """Make the agent runnable; on failure set `unavailable` to the reason."""

    def version_argv(self) -> list[str]:
        raise NotImplementedError

    def help_argv(self) -> list[str]:
        raise NotImplementedError

    def turns(self, steps: int) -> list[dict[str, Any]]:
        raise NotImplementedError

    def home_turns(self, steps: int) -> list[dict[str, Any]]:
        """The steps as a model sends them by default, for the HOME comparison (home_cost.py):
        where the agent's shell would read the person's profile, it does."""
        return self.turns(steps)

    def argv(self, base_url: str, workdir: Path, home: Path) -> list[str]:
        raise NotImplementedError

    def env(self, base_url: str, home: Path) -> dict[str, str]:
        return base_env()

    def step_argv(self) -> list[str]:
        """How the agent's shell runs STEP_COMMAND (its own cost is subtracted)."""
        return ["bash", "-c", STEP_COMMAND]


def _usage() -> dict[str, int]:
    return {"input_tokens": 100, "output_tokens": 10}


class Lever(Agent):
    name = "lever"

    def install(self) -> None:
        lever = shutil.which("lever")
        if lever is None:
            self.unavailable = "`lever` is not on PATH (run bench/run, which uses `uv run`)"
            return
        self.exe = lever
        self.version = (
            subprocess.run([lever, "--version"], capture_output=True, text=True, check=True)
            .stdout.strip()
            .removeprefix("lever ")
        )

    def version_argv(self) -> list[str]:
        return [self.exe, "--version"]

    def help_argv(self) -> list[str]:
        return [self.exe, "--help"]

    def turns(self, steps: int) -> list[dict[str, Any]]:
        call = {"name": "shell", "arguments": {"command": ["bash", "-c", STEP_COMMAND]}}
        return [{"tool_calls": [call], "usage": _usage()}] * steps + [{"text": "done"}]

    def home_turns(self, steps: int) -> list[dict[str, Any]]:
        # A string command: bash in the login environment (lever's shell snapshot).
        call = {"name": "shell", "arguments": {"command": STEP_COMMAND}}
        return [{"tool_calls": [call], "usage": _usage()}] * steps + [{"text": "done"}]

    def argv(self, base_url: str, workdir: Path, home: Path) -> list[str]:
        return [
            self.exe, "exec", "--provider", "openai-responses", "--base-url", base_url,
            "-m", "fake-model", "--api-key-env", FAKE_KEY_ENV, "--sandbox", "danger-full-access",
            "--max-turns", "100000", "-C", str(workdir), "Run the steps.",
        ]  # fmt: skip

    def env(self, base_url: str, home: Path) -> dict[str, str]:
        return base_env(LEVER_HOME=str(home))


class Codex(Agent):
    name = "codex"
    version = CODEX_VERSION

    def install(self) -> None:
        prefix = CACHE / f"codex-{CODEX_VERSION}"
        self.entry = prefix / "node_modules" / ".bin" / "codex"
        if not self.entry.exists():
            npm = shutil.which("npm")
            if npm is None:
                self.unavailable = "npm not found"
                return
            done = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix),
                 f"@openai/codex@{CODEX_VERSION}"],
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode != 0 or not self.entry.exists():
                self.unavailable = f"npm install failed: {done.stderr.strip()[-300:]}"
                return
        native = list(prefix.glob("node_modules/@openai/codex-*/vendor/*/bin/codex"))
        self.native = native[0] if native else None

    def version_argv(self) -> list[str]:
        return [str(self.entry), "--version"]

    def help_argv(self) -> list[str]:
        return [str(self.entry), "--help"]

    def turns(self, steps: int) -> list[dict[str, Any]]:
        # exec_command with login=false: `bash -c`, as lever's step (a login shell is slow here).
        arguments = {"cmd": STEP_COMMAND, "login": False}
        call = {"name": "exec_command", "arguments": arguments}
        return [{"tool_calls": [call], "usage": _usage()}] * steps + [{"text": "done"}]

    def home_turns(self, steps: int) -> list[dict[str, Any]]:
        # Codex's default (`login` not given): its login shell, through its own snapshot.
        call = {"name": "exec_command", "arguments": {"cmd": STEP_COMMAND}}
        return [{"tool_calls": [call], "usage": _usage()}] * steps + [{"text": "done"}]

    def argv(self, base_url: str, workdir: Path, home: Path) -> list[str]:
        self._write_config(base_url, home)
        return [
            str(self.entry), "exec", "--skip-git-repo-check", "--sandbox", "danger-full-access",
            "-C", str(workdir), "Run the steps.",
        ]  # fmt: skip

    def env(self, base_url: str, home: Path) -> dict[str, str]:
        return base_env(CODEX_HOME=str(home))

    def _write_config(self, base_url: str, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.toml").write_text(
            'model = "fake-model"\n'
            'model_provider = "fake"\n'
            "check_for_update_on_startup = false\n"
            "[analytics]\nenabled = false\n"
            "[model_providers.fake]\n"
            'name = "fake"\n'
            f"base_url = {json.dumps(base_url)}\n"
            'wire_api = "responses"\n'
            f'env_key = "{FAKE_KEY_ENV}"\n'
            "request_max_retries = 0\n"
            "stream_max_retries = 0\n"
        )


class Mini(Agent):
    name = "mini-swe-agent"
    version = MINI_VERSION

    def install(self) -> None:
        venv = CACHE / f"mini-{MINI_VERSION}"
        self.exe = venv / "bin" / "mini"
        if not self.exe.exists():
            made = subprocess.run(
                [sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True
            )
            pip = venv / "bin" / "pip"
            done = made if made.returncode else subprocess.run(
                [str(pip), "install", "-q", f"mini-swe-agent=={MINI_VERSION}"],
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode != 0 or not self.exe.exists():
                self.unavailable = f"pip install failed: {done.stderr.strip()[-300:]}"

    def version_argv(self) -> list[str]:
        python = self.exe.with_name("python")
        return [str(python), "-c", "import minisweagent; print(minisweagent.__version__)"]

    def help_argv(self) -> list[str]:
        return [str(self.exe), "--help"]

    def turns(self, steps: int) -> list[dict[str, Any]]:
        step = {"name": "bash", "arguments": {"command": STEP_COMMAND}}
        finish = {
            "name": "bash",
            "arguments": {"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"},
        }
        return [{"tool_calls": [step], "usage": _usage()}] * steps + [{"tool_calls": [finish]}]

    def argv(self, base_url: str, workdir: Path, home: Path) -> list[str]:
        return [
            str(self.exe), "-m", "openai/fake-model", "-y", "--exit-immediately",
            "-c", "mini.yaml", "-c", f"model.model_kwargs.api_base={base_url}",
            "-c", f"environment.cwd={workdir}", "-t", "Run the steps.",
            "-o", str(home / "trajectory.json"),
        ]  # fmt: skip

    def env(self, base_url: str, home: Path) -> dict[str, str]:
        return base_env(
            HOME=str(home),
            MSWEA_GLOBAL_CONFIG_DIR=str(home),
            MSWEA_CONFIGURED="true",
            MSWEA_COST_TRACKING="ignore_errors",
            MSWEA_SILENT_STARTUP="1",
            LITELLM_LOCAL_MODEL_COST_MAP="True",
            OPENAI_API_KEY="bench-key",
        )

    def step_argv(self) -> list[str]:
        return ["sh", "-c", STEP_COMMAND]  # subprocess shell=True


AGENTS: dict[str, type[Agent]] = {"lever": Lever, "codex": Codex, "mini": Mini}
