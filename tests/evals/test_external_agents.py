"""Other agents on the same suite (`--agent`): the Codex CLI and mini-swe-agent adapters' command
lines and environments (neither is installed here), and `cmd:TEMPLATE` end to end with a small
script as the agent, graded by the same grader, the report naming the agent."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from lever.evals.actors import AgentChoiceError, ExternalAgent, parse_agent, run_external

from .conftest import run_lever, write_task

URL = "http://127.0.0.1:8080/v1"
WORK = Path("/tmp/attempt/repo")

pytestmark = pytest.mark.timeout(300)


def test_codex_is_pointed_at_the_same_endpoint_and_model() -> None:
    agent = parse_agent("codex", "qwen2.5-coder-1.5b", URL)
    assert agent is not None and agent.label == "codex"
    argv = agent.argv("fix the bug", WORK, 120)
    assert argv[:2] == ["codex", "exec"] and argv[-1] == "fix the bug"
    assert "--json" in argv and "--skip-git-repo-check" in argv
    assert argv[argv.index("--cd") + 1] == str(WORK)
    assert argv[argv.index("--model") + 1] == "qwen2.5-coder-1.5b"
    settings = [argv[i + 1] for i, a in enumerate(argv) if a == "-c"]
    assert 'model_provider="lever-eval"' in settings
    assert f'model_providers.lever-eval.base_url="{URL}"' in settings
    assert 'model_providers.lever-eval.wire_api="responses"' in settings


def test_mini_swe_agent_gets_litellm_openai_route_and_no_prompts() -> None:
    agent = parse_agent("mini-swe-agent", "qwen2.5-coder-1.5b", URL, "MY_KEY")
    assert agent is not None
    argv = agent.argv("fix the bug", WORK, 120)
    assert argv[0] == "mini" and "-y" in argv and "--exit-immediately" in argv
    assert argv[argv.index("-m") + 1] == "openai/qwen2.5-coder-1.5b"
    assert argv[argv.index("-t") + 1] == "fix the bug"
    assert argv[argv.index("-o") + 1] == str(WORK.parent / "mini.traj.json")  # not in the repo
    settings = [argv[i + 1] for i, a in enumerate(argv) if a == "-c"]
    assert settings == ["mini.yaml", f"model.model_kwargs.api_base={URL}"]
    env = agent.env({"MY_KEY": "secret", "PATH": "/bin"})
    assert env["OPENAI_API_BASE"] == URL and env["OPENAI_API_KEY"] == "secret"
    assert env["MSWEA_CONFIGURED"] == "true" and env["MSWEA_COST_TRACKING"] == "ignore_errors"
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"  # no price-list download offline


def _mini_message(prompt: int, completion: int) -> dict:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": 0}
    return {"role": "assistant", "content": "", "extra": {"response": {"usage": usage}}}


def test_mini_swe_agent_usage_is_read_from_its_trajectory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trajectory as mini-swe-agent 2.4 saves it (`-o`): usage per response, api_calls."""
    work = tmp_path / "repo"
    work.mkdir()
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        _mini_message(1200, 40),
        {"role": "tool", "content": "{}", "extra": {"returncode": 0}},
        _mini_message(1350, 25),
    ]
    trajectory = {"info": {"model_stats": {"api_calls": 2}}, "messages": messages}
    (tmp_path / "mini.traj.json").write_text(json.dumps(trajectory))
    # A stand-in `mini` that exits 0: the trajectory above is what it left.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mini").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "mini").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    mini = ExternalAgent("mini-swe-agent", model="m", base_url=URL)
    run = run_external(mini, "fix it", work, timeout=30)
    assert run.exit_code == 0
    assert (run.input_tokens, run.output_tokens, run.turns) == (2550, 65, 2)


def test_cmd_templates_quote_their_placeholders() -> None:
    agent = parse_agent("cmd:my-agent --task {instruction} --in {workdir}", "m", URL)
    assert agent is not None and agent.label == "cmd:my-agent --task {instruction} --in {workdir}"
    argv = agent.argv("it's $HOME; rm -rf /", WORK, 60)
    assert argv == ["bash", "-c", f"my-agent --task 'it'\"'\"'s $HOME; rm -rf /' --in {WORK}"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("claude", "unknown agent 'claude'"),
        ("cmd:", "needs a command"),
        ("cmd:x {prompt}", "unknown placeholder {prompt}"),
        ("cmd:x {", "bad template"),
    ],
)
def test_bad_agent_values_are_refused(value: str, message: str) -> None:
    with pytest.raises(AgentChoiceError, match=message):
        parse_agent(value, None, None)


AGENT_SCRIPT = """\
import json, os, pathlib, sys
work, instruction, base_url, model = sys.argv[1:5]
seen = {"cwd": os.getcwd(), "base_url": base_url, "model": model,
        "env_url": os.environ["LEVER_EVAL_BASE_URL"], "git": pathlib.Path(work, ".git").exists()}
pathlib.Path(work).parent.joinpath("seen.json").write_text(json.dumps(seen))
if "please" in instruction:
    pathlib.Path(work, "answer.txt").write_text("42\\n")
"""


def suite_with(tmp_path: Path) -> Path:
    suite = tmp_path / "suite"
    grade = 'grade = ["grep -qx 42 answer.txt"]\n'
    write_task(suite / "polite", 'id = "polite"\ninstruction = "please write 42"\n' + grade)
    write_task(suite / "rude", 'id = "rude"\ninstruction = "write 42"\n' + grade)
    slow = 'id = "slow"\ninstruction = "please"\ntimeout = 2\n' + grade
    write_task(suite / "slow", slow, {"SLOW": "1\n"})
    return suite


def test_a_script_agent_runs_in_each_workspace_and_is_graded(tmp_path: Path, eval_env) -> None:
    script = tmp_path / "agent.py"
    script.write_text(AGENT_SCRIPT)
    template = (
        f"test -f SLOW && sleep 30; {sys.executable} {script} {{workdir}} {{instruction}} "
        "{base_url} {model}"
    )
    report = tmp_path / "r.json"
    result = run_lever(
        "eval", "run", str(suite_with(tmp_path)), "-k", "2", "--concurrency", "2",
        "--agent", "cmd:" + template, "--provider", "openai-responses", "--base-url", URL,
        "--model", "m1", "--api-key-env", "PATH", "-o", str(report),
        "--keep", str(tmp_path / "kept"), env=eval_env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(report.read_text())
    assert data["agent"] == "cmd:" + template and data["model"] == "m1"
    assert {t["id"]: t["c"] for t in data["tasks"]} == {"polite": 2, "rude": 0, "slow": 0}
    outcomes = {(a["task_id"], a["outcome"]) for a in data["attempts"]}
    assert outcomes == {("polite", "passed"), ("rude", "grade_failed"), ("slow", "timeout")}
    seen = json.loads((tmp_path / "kept" / "work" / "rude-1" / "seen.json").read_text())
    assert seen["cwd"] == seen["cwd"].rstrip("/") and seen["cwd"].endswith("rude-1/repo")
    assert seen["base_url"] == URL == seen["env_url"] and seen["model"] == "m1" and seen["git"]


def test_an_agent_that_fails_is_an_agent_error(tmp_path: Path, eval_env) -> None:
    report = tmp_path / "r.json"
    result = run_lever(
        "eval", "run", str(suite_with(tmp_path) / "polite"), "--agent", "cmd:echo boom; exit 3",
        "--provider", "openai-responses", "--base-url", URL, "--api-key-env", "PATH",
        "-o", str(report), "-q", env=eval_env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (attempt,) = json.loads(report.read_text())["attempts"]
    assert attempt["outcome"] == "agent_error" and attempt["agent_exit"] == 3
    assert attempt["detail"] == "boom"
