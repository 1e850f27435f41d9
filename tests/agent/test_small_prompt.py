"""The small-model prompt (`--provider local`) is right under every approval policy.

The environment context tells the model the policy by name; told only "on-request", the 1.5B
answered without running a command. The prompt must say, whatever the policy, that the model
runs commands itself and never asks the person for permission.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import pytest

from lever.agent.prompts import SMALL_APPROVAL_NOTES, load_prompt, small_model_prompt
from lever.sandbox.approval import POLICIES


@pytest.mark.parametrize("policy", POLICIES)
def test_the_small_prompt_tells_the_model_to_run_commands(policy: str) -> None:
    prompt = small_model_prompt(policy)
    assert "{" not in prompt  # every placeholder filled
    assert "Run commands yourself: call the `shell` tool." in prompt
    assert "Do not ask the person for permission" in prompt
    note = SMALL_APPROVAL_NOTES[policy]
    assert note in prompt
    # No policy's note may read as "wait for approval before running".
    assert "run at once" in note
    assert "ask for approval" not in prompt.lower()


def test_every_policy_has_a_note() -> None:
    assert set(SMALL_APPROVAL_NOTES) == set(POLICIES)
    assert "{approval}" in load_prompt("system_small")


@pytest.mark.parametrize("policy", POLICIES)
def test_a_local_session_gets_the_prompt_of_its_policy(
    policy: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lever.agent.limits import Limits
    from lever.assembly import approvals_from, build_session
    from lever.config.providers import PRESETS, ResolvedModel

    monkeypatch.setenv("LEVER_HOME", str(tmp_path / "home"))
    provider = replace(PRESETS["local"], base_url="http://127.0.0.1:9/v1")
    resolved = ResolvedModel(provider, "qwen2.5-coder-1.5b-instruct", None)
    args = argparse.Namespace(ask_for_approval=policy, approve_all=False)
    approvals = approvals_from({}, args)
    session = build_session(resolved, tmp_path, {}, Limits(max_turns=1), approvals=approvals)
    try:
        assert session.instructions == small_model_prompt(policy)
    finally:
        if session.rollout is not None:
            session.rollout.close()


def test_a_local_session_offers_only_the_tools_its_prompt_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The small prompt names `shell` and `apply_patch`; with `update_plan` offered too, the
    1.5B model spent its first reply on a plan in 4 of 8 attempts of a real lever-mini run."""
    from lever.agent.limits import Limits
    from lever.assembly import build_session
    from lever.config.providers import PRESETS, ResolvedModel

    monkeypatch.setenv("LEVER_HOME", str(tmp_path / "home"))
    names, shell_params, patch_docs = {}, {}, {}
    for name in ("local", "openai"):
        provider = replace(PRESETS[name], base_url="http://127.0.0.1:9/v1")
        session = build_session(ResolvedModel(provider, "m", None), tmp_path, {}, Limits(1))
        try:
            schemas = {schema.name: schema for schema in session.router.schemas()}
            names[name] = set(schemas)
            shell_params[name] = set(schemas["shell"].parameters["properties"])
            patch_docs[name] = schemas["apply_patch"].description
        finally:
            if session.rollout is not None:
                session.rollout.close()
    assert names["local"] == {"shell", "apply_patch"}
    assert "update_plan" in names["openai"]
    # Offered `yield_ms`, `stdin` and `kill`, the 1.5B model filled them in: `rm -f .env` with
    # `"yield_ms": 0` came back "still running as p1", then it "killed" p1 … p13 the same way.
    assert shell_params["local"] == {
        "command",
        "workdir",
        "timeout_ms",
        "escalate",
        "justification",
    }
    assert {"yield_ms", "process_id", "stdin", "kill"} <= shell_params["openai"]
    # The full description's example files were copied into the 1.5B model's patches.
    assert "src/app.py" in patch_docs["openai"] and "src/app.py" not in patch_docs["local"]
    for tool in names["local"]:
        assert f"`{tool}`" in load_prompt("system_small")
