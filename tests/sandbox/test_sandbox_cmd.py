"""`lever sandbox`: --status and running a command confined."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lever.cli.main import main
from lever.sandbox import probe as probe_mod
from lever.sandbox.probe import SandboxStatus
from lever.testing.fake_model import FakeModelServer


def test_status_prints_mechanism_and_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sandbox mechanism: ")
    assert "not used:" in out
    assert "network: " in out or "cannot be confined" in out


@pytest.mark.parametrize(
    ("mechanism", "says"),
    [
        ("landlock", ["checked before and after each command and restored", ".git/hooks"]),
        ("bwrap", ["bound read-only", "creates where none existed is removed"]),
        ("none", ["refuse to run them (exit 6)", "danger-full-access"]),
    ],
)
def test_status_says_what_is_protected_and_how(
    mechanism: str,
    says: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(probe_mod, "_cached", SandboxStatus(mechanism, "details"))
    assert main(["sandbox", "--status"]) == 0
    out = capsys.readouterr().out
    for text in says:
        assert text in out


def test_landlock_status_for_real(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = probe_mod.landlock_unusable()
    if reason:
        pytest.skip(f"landlock unavailable: {reason}")
    monkeypatch.setenv("LEVER_SANDBOX", "landlock")
    monkeypatch.setattr(probe_mod, "_cached", None)
    assert main(["sandbox", "--status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sandbox mechanism: landlock (Landlock ABI ")
    assert ".git/config" in out and "all of .lever" in out
    assert "bwrap: not used: not allowed by LEVER_SANDBOX=landlock" in out


@pytest.mark.parametrize("mechanism", ["bwrap", "landlock"])
def test_runs_confined_and_returns_exit_code(
    mechanism: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = probe_mod.bwrap_unusable() if mechanism == "bwrap" else probe_mod.landlock_unusable()
    if reason:
        pytest.skip(f"{mechanism} unavailable: {reason}")
    monkeypatch.chdir(tmp_path)
    base = ["sandbox", "--mechanism", mechanism]
    assert main([*base, "--", "sh", "-c", "echo hi > inside.txt"]) == 0
    assert (tmp_path / "inside.txt").read_text() == "hi\n"
    assert main([*base, "--", "sh", "-c", "exit 7"]) == 7
    assert main([*base, "--", "touch", "/etc/lever-sandbox-cmd-test"]) != 0
    assert not Path("/etc/lever-sandbox-cmd-test").exists()
    assert main([*base, "--mode", "read-only", "--", "touch", "ro.txt"]) != 0
    assert not (tmp_path / "ro.txt").exists()
    extra = tmp_path.parent / f"{tmp_path.name}-extra"
    extra.mkdir()
    monkeypatch.chdir(tmp_path)
    assert main([*base, "--writable", str(extra), "--", "touch", str(extra / "x")]) == 0


@pytest.mark.parametrize("mechanism", ["bwrap", "landlock"])
def test_git_workspace_top_level_and_protected_files(
    mechanism: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Issue 12: `lever sandbox -- touch x` at the top of a git repository was refused (Landlock).
    reason = probe_mod.bwrap_unusable() if mechanism == "bwrap" else probe_mod.landlock_unusable()
    if reason:
        pytest.skip(f"{mechanism} unavailable: {reason}")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    base = ["sandbox", "--mechanism", mechanism, "--"]
    assert main([*base, "sh", "-c", "touch x && mv x y && rm y && touch z"]) == 0
    assert (tmp_path / "z").exists() and not (tmp_path / "y").exists()
    config = (tmp_path / ".git" / "config").read_text()
    capsys.readouterr()
    main(
        [
            *base,
            "sh",
            "-c",
            "echo '[core] fsmonitor = x' >> .git/config; touch .git/hooks/pre-commit",
        ]
    )
    assert (tmp_path / ".git" / "config").read_text() == config
    assert not (tmp_path / ".git" / "hooks" / "pre-commit").exists()
    if mechanism == "landlock":
        assert "lever undid it: " in capsys.readouterr().err


def test_no_mechanism_means_exit_6(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(probe_mod, "_cached", SandboxStatus("none", "nothing works"))
    assert main(["sandbox", "--", "true"]) == 6
    assert "no sandbox mechanism available" in capsys.readouterr().err
    assert main(["sandbox", "--mode", "danger-full-access", "--", "true"]) == 0


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox"]) == 2
    assert "give a command" in capsys.readouterr().err
    # Not found inside the sandbox (125-127), or no mechanism here at all (6).
    assert main(["sandbox", "--", "/nonexistent/cmd"]) in (1, 6, 125, 126, 127)


def test_exec_refuses_to_run_unconfined_without_danger_full_access(tmp_path: Path) -> None:
    # Issue 12: where no mechanism works, commands never run unconfined unless asked for.
    # LEVER_SANDBOX naming no mechanism is how a machine without any is simulated here.
    lever = str(Path(sys.executable).with_name("lever"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVER_")}
    env |= {"LEVER_HOME": str(tmp_path / "home"), "LEVER_SANDBOX": "none"}
    marker = tmp_path / "ran"
    touch = {"tool_calls": [{"name": "shell", "arguments": {"command": f"touch {marker}"}}]}
    with FakeModelServer([touch, {"text": "done"}]) as server:
        model = ["--base-url", server.base_url, "--model", "m"]
        refused = subprocess.run(
            [lever, "exec", *model, "--approve-all", "touch it"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 6, refused.stderr
        assert "danger-full-access" in refused.stderr and "Traceback" not in refused.stderr
        assert not marker.exists() and not server.bodies()
        allowed = subprocess.run(
            [lever, "exec", *model, "--sandbox", "danger-full-access", "touch it"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert allowed.returncode == 0, allowed.stderr
    assert marker.exists()
