"""External agents on the same suite: Codex CLI (`codex exec`), mini-swe-agent (`mini`) or any
command (`cmd:TEMPLATE`), each run in the attempt's workspace and graded like lever.

Only the command line and the environment differ per agent; everything around them (the
workspace, the time limit, the grade) is the same for every agent, so a comparison is on equal
terms. Every adapter is pointed at the same model endpoint (`--base-url`, `--model`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import string
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

#: The names `--agent` takes besides `cmd:TEMPLATE`.
AGENTS = ("lever", "codex", "mini-swe-agent")
#: The placeholders a `cmd:` template may use (each substituted shell-quoted).
PLACEHOLDERS = ("instruction", "instruction_file", "workdir", "base_url", "model", "timeout")
#: Agent output kept for the report when an attempt fails.
_DETAIL = 500


class AgentChoiceError(ValueError):
    """A bad `--agent` value: one line for the person (exit 2)."""


@dataclass
class AgentRun:
    """How the agent's part of an attempt ended, and what it spent (when it says)."""

    exit_code: int | None  # None: it did not end in time, or could not be started
    input_tokens: int = 0
    output_tokens: int = 0
    turns: int = 0
    timed_out: bool = False
    api_error: bool = False
    crashed: bool = False  # lever's attempt raised: a harness error, not the model's
    #: `exit_code` follows `lever exec`'s exit statuses (3 limit, 5 model API, 6 sandbox);
    #: an external agent's statuses mean nothing we know.
    lever_codes: bool = False
    detail: str = ""


@dataclass(frozen=True)
class ExternalAgent:
    """An agent CLI: `name` is codex, mini-swe-agent or cmd (with `template`)."""

    name: str
    template: str = ""
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None

    @property
    def label(self) -> str:
        return f"cmd:{self.template}" if self.name == "cmd" else self.name

    def argv(self, instruction: str, work: Path, timeout: float) -> list[str]:
        if self.name == "codex":
            return self._codex(instruction, work)
        if self.name == "mini-swe-agent":
            return self._mini(instruction, work)
        values = {
            "instruction": instruction,
            "instruction_file": str(work.parent / "instruction.md"),
            "workdir": str(work),
            "base_url": self.base_url or "",
            "model": self.model or "",
            "timeout": f"{timeout:g}",
        }
        quoted = {key: shlex.quote(value) for key, value in values.items()}
        return ["bash", "-c", self.template.format_map(quoted)]

    def _codex(self, instruction: str, work: Path) -> list[str]:
        # `codex exec` is non-interactive (approval never); `--json` prints its events, whose
        # `turn.completed` carries the token usage. A provider table points it at our endpoint.
        argv = ["codex", "exec", "--json", "--skip-git-repo-check", "--cd", str(work)]
        argv += ["--sandbox", "workspace-write"]
        if self.base_url:
            argv += ["-c", 'model_provider="lever-eval"']
            argv += ["-c", 'model_providers.lever-eval.name="lever eval endpoint"']
            argv += ["-c", f"model_providers.lever-eval.base_url={json.dumps(self.base_url)}"]
            argv += ["-c", 'model_providers.lever-eval.wire_api="responses"']
            if self.api_key_env:
                argv += ["-c", f'model_providers.lever-eval.env_key="{self.api_key_env}"']
        if self.model:
            argv += ["--model", self.model]
        return [*argv, instruction]

    def _mini(self, instruction: str, work: Path) -> list[str]:
        # -y: no confirmations; --exit-immediately: no "anything else?" prompt at the end;
        # -l 0: no cost limit (a local model has no price litellm knows).
        argv = ["mini", "-y", "--exit-immediately", "-l", "0"]
        argv += ["-o", str(work.parent / "mini.traj.json")]
        if self.base_url:
            # Named in the config as well as in OPENAI_API_BASE: litellm's environment lookup
            # differs between its versions; `-c` replaces the default config, so name it too.
            argv += ["-c", "mini.yaml", "-c", f"model.model_kwargs.api_base={self.base_url}"]
        if self.model:
            # litellm's OpenAI-compatible route: `openai/NAME` at OPENAI_API_BASE.
            model = self.model if "/" in self.model or not self.base_url else f"openai/{self.model}"
            argv += ["-m", model]
        return [*argv, "-t", instruction]

    def env(self, base: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        if self.name == "mini-swe-agent":
            env["MSWEA_CONFIGURED"] = "true"  # no first-run setup wizard
            env["MSWEA_COST_TRACKING"] = "ignore_errors"  # unknown (local) models have no price
            # litellm fetches its price list from GitHub at import unless told not to: offline,
            # that costs every attempt a connect timeout.
            env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
            if self.base_url:
                env["OPENAI_API_BASE"] = env["OPENAI_BASE_URL"] = self.base_url
            if self.api_key_env and self.api_key_env in base:
                env["OPENAI_API_KEY"] = base[self.api_key_env]
            env.setdefault("OPENAI_API_KEY", "none")  # litellm wants one; a local server not
        env["LEVER_EVAL_BASE_URL"] = self.base_url or ""
        env["LEVER_EVAL_MODEL"] = self.model or ""
        return env


def parse_agent(
    value: str, model: str | None, base_url: str | None, api_key_env: str | None = None
) -> ExternalAgent | None:
    """`--agent VALUE`: None for lever itself, else the external agent; AgentChoiceError."""
    if value == "lever":
        return None
    if value in AGENTS:
        return ExternalAgent(value, model=model, base_url=base_url, api_key_env=api_key_env)
    if value.startswith("cmd:"):
        template = value[4:].strip()
        if not template:
            raise AgentChoiceError("--agent cmd:TEMPLATE needs a command after `cmd:`")
        _check_template(template)
        return ExternalAgent("cmd", template, model, base_url, api_key_env)
    raise AgentChoiceError(
        f"unknown agent {value!r} (one of: {', '.join(AGENTS)}, or cmd:TEMPLATE)"
    )


def _check_template(template: str) -> None:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as e:
        raise AgentChoiceError(f"--agent cmd: bad template ({e}); write {{{{ for a brace") from e
    unknown = sorted(set(fields) - set(PLACEHOLDERS))
    if unknown:
        raise AgentChoiceError(
            f"--agent cmd: unknown placeholder {{{unknown[0]}}} "
            f"(known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)})"
        )


def run_external(agent: ExternalAgent, instruction: str, work: Path, timeout: float) -> AgentRun:
    """Run the agent in `work` until it exits or `timeout` passes (then its process group is
    killed). The instruction is also in `instruction.md` beside the workspace, not inside it."""
    (work.parent / "instruction.md").write_text(instruction, encoding="utf-8")
    argv = agent.argv(instruction, work, timeout)
    try:
        process = subprocess.Popen(
            argv,
            cwd=work,
            env=agent.env(dict(os.environ)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as e:
        return AgentRun(None, crashed=True, detail=f"cannot start {argv[0]}: {e.strerror}")
    began = time.monotonic()
    try:
        raw, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        raw, _ = process.communicate()
        output = raw.decode("utf-8", "replace")
        return AgentRun(None, timed_out=True, detail=_timeout_note(began, output))
    output = raw.decode("utf-8", "replace")
    run = AgentRun(process.returncode)
    if agent.name == "codex":
        _codex_usage(output, run)
    elif agent.name == "mini-swe-agent":
        _mini_usage(work.parent / "mini.traj.json", run)
    if process.returncode != 0:
        run.detail = output.strip()[-_DETAIL:]
    return run


def _timeout_note(began: float, output: str) -> str:
    return f"stopped after {time.monotonic() - began:.0f} s: {output.strip()[-_DETAIL:]}"


def _codex_usage(output: str, run: AgentRun) -> None:
    """Token usage from `codex exec --json` events (`turn.completed` with a `usage` object)."""
    for line in output.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(event, dict):
            continue
        usage = event.get("usage")
        if event.get("type") == "turn.completed" and isinstance(usage, dict):
            run.input_tokens += int(usage.get("input_tokens", 0))
            run.output_tokens += int(usage.get("output_tokens", 0))
            run.turns += 1


def _mini_usage(trajectory: Path, run: AgentRun) -> None:
    """Token usage from mini-swe-agent's trajectory: each assistant message keeps the raw
    response (`extra.response.usage`, OpenAI's field names); `api_calls` counts the requests."""
    try:
        data = json.loads(trajectory.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(data, dict):
        return
    for message in data.get("messages") or []:
        response = (
            (message.get("extra") or {}).get("response") if isinstance(message, dict) else None
        )
        usage = response.get("usage") if isinstance(response, dict) else None
        if isinstance(usage, dict):
            run.input_tokens += int(usage.get("prompt_tokens") or 0)
            run.output_tokens += int(usage.get("completion_tokens") or 0)
    stats = (data.get("info") or {}).get("model_stats") or {}
    run.turns = int(stats.get("api_calls") or 0)
