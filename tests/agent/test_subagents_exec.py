"""`lever exec` (the installed command) with sub-agents: the children show on stderr, in the
`--json` stream, and the parent's session resumes with `lever resume`."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from lever.testing.fake_model import FakeModelServer
from lever.testing.isolated_env import isolated_env, run_lever

from .subagent_support import Roles, git, make_repo, shell, spawn

lever = partial(run_lever, stdin="", timeout=120)


def test_exec_runs_two_children_and_shows_them(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    env = isolated_env(tmp_path)
    roles = Roles(
        {
            "parent": [
                {
                    "tool_calls": [
                        spawn("ROLE:reader what is in a.txt?", call_id="r"),
                        spawn("ROLE:writer add c.txt", "worktree", call_id="w"),
                    ]
                },
                {"text": "reader and writer are done"},
            ],
            "reader": [{"tool_calls": [shell("cat src/a.txt")]}, {"text": "it says alpha"}],
            "writer": [{"tool_calls": [shell("echo new > src/c.txt")]}, {"text": "added c.txt"}],
            "again": [{"text": "resumed"}],
        }
    )
    flags = ["--provider", "openai-chat", "--base-url", "", "--model", "fake-model"]
    with FakeModelServer(responder=roles) as server:
        flags[3] = server.base_url
        done = lever("exec", "--json", *flags, "ROLE:parent split the work", env=env, cwd=repo)
        assert done.returncode == 0, done.stderr
        events = [json.loads(line) for line in done.stdout.splitlines()]
        human = lever("resume", "--last", "--exec", "ROLE:again go on", env=env, cwd=repo)
    listed = lever("sessions", "--all", "--json", env=env, cwd=repo)
    nested = lever("sessions", "--all", "--children", env=env, cwd=repo)

    kinds = [event["type"] for event in events]
    assert kinds.count("child_started") == kinds.count("child_finished") == 2
    forwarded = [e for e in events if e["type"] == "child_event"]
    assert {e["event"]["type"] for e in forwarded} >= {"session_started", "tool_started"}
    outputs = {
        e["item"]["call_id"]: e["item"]["output"]
        for e in events
        if e["type"] == "item" and e["item"]["type"] == "tool_output"
    }
    assert "it says alpha" in outputs["r"]
    assert "added c.txt" in outputs["w"] and "+new" in outputs["w"]
    assert not (repo / "src" / "c.txt").exists()
    assert git(repo, "worktree", "list").count("\n") == 1
    # Human progress on stderr marks each child's lines with its id.
    assert "↳ [" in done.stderr and "sub-agent started (worktree)" in done.stderr
    assert "sub-agent done" in done.stderr
    # `resume --last` continues the parent (the newest session), not one of its children.
    assert human.returncode == 0, human.stderr
    assert human.stdout.strip() == "resumed"
    assert "reader and writer are done" in json.dumps(roles.bodies["again"][0])
    # `lever sessions` lists the parent with its two sub-agents; --children shows them under it.
    (parent,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (parent["children"], parent["parent_id"]) == (2, None)
    children = {e["child_id"] for e in events if e["type"] == "child_started"}
    rows = nested.stdout.splitlines()[1:]
    assert rows[0].startswith(parent["id"] + " ")
    assert {row.split()[1] for row in rows[1:] if row.startswith("↳ ")} == children
