"""How each agent runs the real-model episode against a base URL (the recording proxy).

Installation comes from bench/agents.py (lever from `uv run`, Codex from npm, mini-swe-agent
from PyPI, cached in ~/.cache/lever-bench). Here: the command line for a real task, each agent
on the wire it prefers and as it would be set up for a local llama-server, and where its final
answer ends up.
"""

from __future__ import annotations

import json
from pathlib import Path

from agents import Agent, Codex, Lever, Mini, base_env

#: A turn cap for the harnesses that have one, well above the 6 requests the task needs: a
#: model that loops is stopped rather than timed out.
MAX_TURNS = 20
#: The model's name where an agent needs one (llama-server serves one model whatever is asked).
MODEL_NAME = "qwen2.5-coder-1.5b-instruct"


class MiniText(Mini):
    """mini-swe-agent with its text-based config (`mini_textbased.yaml`, the command in a
    ```mswea_bash_command block instead of a tool call), its own answer to models that
    do not make tool calls reliably."""

    name = "mini-swe-agent (text)"


AGENTS: dict[str, type[Agent]] = {
    "lever": Lever,
    "codex": Codex,
    "mini": Mini,
    "mini-text": MiniText,
}


def argv(agent: Agent, base_url: str, work: Path, home: Path, task: str) -> list[str]:
    if isinstance(agent, Lever):
        # `--provider local` as a user would run it (its short system prompt, the text
        # fallback for tool calls, 8192-token window), with --base-url naming the proxy, so
        # lever does not start a llama-server of its own. Chat Completions wire.
        return [
            agent.exe, "exec", "--provider", "local", "--base-url", base_url,
            "--sandbox", "danger-full-access", "--max-turns", str(MAX_TURNS),
            "-C", str(work), "-o", str(home / "answer.txt"), task,
        ]  # fmt: skip
    if isinstance(agent, Codex):
        _codex_config(base_url, home)
        return [
            str(agent.entry), "exec", "--skip-git-repo-check", "--sandbox", "danger-full-access",
            "-C", str(work), "--output-last-message", str(home / "answer.txt"), task,
        ]  # fmt: skip
    if isinstance(agent, Mini):
        config = ["-c", "mini.yaml"]
        if isinstance(agent, MiniText):
            config = ["-c", "mini_textbased.yaml", "-c", "model.model_class=litellm_textbased"]
        return [
            str(agent.exe), "-m", f"openai/{MODEL_NAME}", "-y", "--exit-immediately", *config,
            "-c", f"model.model_kwargs.api_base={base_url}",
            "-c", f"environment.cwd={work}", "-c", f"agent.step_limit={MAX_TURNS}",
            "-t", task, "-o", str(home / "trajectory.json"),
        ]  # fmt: skip
    raise ValueError(agent.name)


def env(agent: Agent, base_url: str, home: Path) -> dict[str, str]:
    if isinstance(agent, Lever):
        return base_env(LEVER_HOME=str(home))  # no user config.toml, no recorded local server
    return agent.env(base_url, home)


def answer(agent: Agent, home: Path) -> str:
    """The agent's final answer: lever's and Codex's last message; for mini-swe-agent, which
    ends with a command rather than a message, its submission and last assistant message."""
    if not isinstance(agent, Mini):
        path = home / "answer.txt"
        return path.read_text(errors="replace").strip() if path.exists() else ""
    try:
        trajectory = json.loads((home / "trajectory.json").read_text())
    except (OSError, ValueError):
        return ""
    said = [m for m in trajectory.get("messages", []) if m.get("role") == "assistant"]
    last = str(said[-1].get("content") or "") if said else ""
    submission = str(trajectory.get("info", {}).get("submission") or "")
    return "\n".join(x for x in (submission, last) if x).strip()


def _codex_config(base_url: str, home: Path) -> None:
    """One keyless provider on the Responses wire (llama-server's /v1/responses), told the
    model's real window so Codex budgets for 8192 tokens."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f"model = {json.dumps(MODEL_NAME)}\n"
        'model_provider = "llama"\n'
        "model_context_window = 8192\n"
        "check_for_update_on_startup = false\n"
        "[analytics]\nenabled = false\n"
        "[model_providers.llama]\n"
        'name = "llama-server"\n'
        f"base_url = {json.dumps(base_url)}\n"
        'wire_api = "responses"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
    )
