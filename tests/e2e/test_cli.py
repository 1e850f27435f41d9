"""The installed `lever` command: help, version, prompt, models, demo."""

from __future__ import annotations

from lever.agent.prompts import load_prompt
from lever.testing.fake_model import FakeModelServer

from .conftest import run_lever


def test_help_lists_the_commands(clean_env) -> None:
    result = run_lever("--help", env=clean_env)
    assert result.returncode == 0
    for command in ("exec", "demo", "prompt", "models"):
        assert command in result.stdout


def test_exec_help_documents_exit_codes(clean_env) -> None:
    result = run_lever("exec", "--help", env=clean_env)
    assert result.returncode == 0
    assert "130  interrupted" in result.stdout and "--output-last-message" in result.stdout


def test_version(clean_env) -> None:
    result = run_lever("--version", env=clean_env)
    assert result.stdout.startswith("lever 0.")


def test_prompt_prints_the_markdown_file(clean_env) -> None:
    result = run_lever("prompt", env=clean_env)
    assert result.returncode == 0 and result.stdout == load_prompt("system")


def test_models_lists_what_the_server_serves(clean_env) -> None:
    with FakeModelServer([], models=["b-model", "a-model"]) as server:
        result = run_lever("models", "--base-url", server.base_url, env=clean_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["a-model", "b-model"]


def test_demo_fixes_the_sample_and_says_it_is_scripted(clean_env, lever_home) -> None:
    result = run_lever("demo", env=clean_env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "SCRIPTED" in result.stderr
    assert "sample tests after the run: PASS" in result.stderr
    assert "FAILED (failures=1)" in result.stderr  # the first test run really failed
    assert "patched stats.py" in result.stderr
    assert "OPENAI_API_KEY" in result.stderr  # how to use a real model
    assert list(lever_home.glob("sessions/*/*/*/rollout-*.jsonl"))
