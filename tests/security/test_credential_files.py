"""Finding 7: credential files and lever's own home are unreadable from the sandbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lever.sandbox import hidden
from lever.sandbox.env import command_env
from tests.security.confined import MECHANISMS, run_in, sandbox_for

#: (path under the fake HOME, content) of credentials a person typically has.
CREDENTIALS = {
    ".ssh/id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\nfake-ssh-key\n",
    ".aws/credentials": "[default]\naws_secret_access_key = fake-aws-secret\n",
    ".netrc": "machine example.com login me password fake-netrc-pw\n",
    ".config/gh/hosts.yml": "github.com:\n  oauth_token: fake-gh-token\n",
    ".git-credentials": "https://me:fake-git-cred@github.com\n",
    ".docker/config.json": '{"auths": {"r.io": {"auth": "fake-docker-auth"}}}',
    ".gnupg/private-keys-v1.d/key.key": "fake-gpg-key",
    ".kube/config": "token: fake-kube-token\n",
    ".pypirc": "[pypi]\npassword = fake-pypi-pw\n",
    ".config/gcloud/credentials.db": "fake-gcloud",
    ".lever/config.toml": 'api_key = "fake-lever-key"\n',
}
#: Ordinary files in the same places: still readable.
ORDINARY = {
    ".bashrc": "export EDITOR=vim\n",
    ".config/git/config": "[user]\n  name = me\n",
    ".docker/features.json": "{}",
    ".ssh-not-really/notes": "fine",
}


@pytest.fixture
def fake_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    for rel, content in {**CREDENTIALS, **ORDINARY}.items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text(content)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("LEVER_HOME", raising=False)
    return home


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_credential_files_cannot_be_read(mechanism: str, fake_home: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    sandbox = sandbox_for(mechanism)
    env = command_env(os.environ)
    for rel, content in CREDENTIALS.items():
        done = run_in(sandbox, ["cat", str(fake_home / rel)], ws, env)
        assert done.returncode != 0 and content not in done.stdout, rel
    for rel, content in ORDINARY.items():
        done = run_in(sandbox, ["cat", str(fake_home / rel)], ws, env)
        assert done.stdout == content, (rel, done.stderr)
    # No search through the home finds a credential either.
    grep = run_in(sandbox, ["grep", "-r", "fake-", str(fake_home)], ws, env)
    assert "fake-" not in grep.stdout


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_allow_read_lets_one_through(mechanism: str, fake_home: Path, tmp_path: Path) -> None:
    sandbox = sandbox_for(mechanism, allow_read=("~/.aws",))
    env = command_env(os.environ)
    ws = tmp_path / "ws"
    ws.mkdir()
    aws = run_in(sandbox, ["cat", str(fake_home / ".aws/credentials")], ws, env)
    assert "fake-aws-secret" in aws.stdout
    ssh = run_in(sandbox, ["cat", str(fake_home / ".ssh/id_rsa")], ws, env)
    assert "fake-ssh-key" not in ssh.stdout


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_workspace_inside_a_hidden_place_stays_usable(
    mechanism: str, fake_home: Path, tmp_path: Path
) -> None:
    ws = fake_home / ".lever" / "work"
    ws.mkdir()
    (ws / "a.txt").write_text("visible")
    done = run_in(sandbox_for(mechanism), ["cat", "a.txt"], ws, command_env(os.environ))
    assert done.stdout == "visible", done.stderr


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_credentials_inside_the_workspace_stay_hidden(
    mechanism: str, fake_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # lever started in the home folder: the home is writable, its credentials are not readable.
    done = run_in(
        sandbox_for(mechanism), ["cat", ".ssh/id_rsa"], fake_home, command_env(os.environ)
    )
    assert "fake-ssh-key" not in done.stdout
    (fake_home / "proj").mkdir()
    script = "echo x > proj/new.txt && cat proj/new.txt .bashrc"
    wrote = run_in(sandbox_for(mechanism), ["sh", "-c", script], fake_home, {})
    assert wrote.stdout == "x\n" + ORDINARY[".bashrc"], wrote.stderr


def test_hidden_paths_resolve_symlinks_and_honour_allow_read(tmp_path: Path) -> None:
    home = tmp_path / "home"
    real_ssh = tmp_path / "elsewhere" / "ssh"
    real_ssh.mkdir(parents=True)
    home.mkdir()
    (home / ".ssh").symlink_to(real_ssh)
    (home / ".netrc").write_text("x")
    environ = {"HOME": str(home)}
    found = hidden.hidden_paths(environ, [tmp_path / "ws"])
    assert str(real_ssh) in found and str(home / ".netrc") in found
    assert hidden.hidden_paths(environ, [tmp_path / "ws"], ["~/.netrc", "~/.ssh"]) == []
    # A workspace inside a hidden place un-hides that place only.
    assert hidden.hidden_paths(environ, [real_ssh / "proj"]) == [str(home / ".netrc")]


def test_read_rules_grant_everything_but_the_hidden(tmp_path: Path) -> None:
    (tmp_path / "a" / "secret").mkdir(parents=True)
    (tmp_path / "a" / "ok").mkdir()
    (tmp_path / "a" / "file").write_text("x")
    (tmp_path / "b").mkdir()
    rules = dict(hidden.read_rules([str(tmp_path / "a" / "secret")], str(tmp_path)))
    assert rules == {
        str(tmp_path): hidden.READ_DIR_ONLY,
        str(tmp_path / "a"): hidden.READ_DIR_ONLY,
        str(tmp_path / "a" / "file"): hidden.READ_FILE,
        str(tmp_path / "a" / "ok"): hidden.READ_ALL,
        str(tmp_path / "b"): hidden.READ_ALL,
    }


def test_bwrap_covers_folders_with_tmpfs_and_files_with_dev_null(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir" / "inner").mkdir()
    paths = [str(tmp_path / "file"), str(tmp_path / "dir" / "inner"), str(tmp_path / "dir")]
    args = hidden.bwrap_args(paths)
    assert args == [
        "--tmpfs",
        str(tmp_path / "dir"),
        "--ro-bind",
        "/dev/null",
        str(tmp_path / "file"),
    ]


def test_sandbox_switches_are_read_from_config(tmp_path: Path) -> None:
    from lever.assembly import sandbox_from
    from lever.config.providers import ConfigError

    table = {"allow_read": ["~/.aws"], "unix_sockets": True, "mechanism": "none"}
    policy = sandbox_from({"sandbox": table}, None, tmp_path).policy
    assert policy.allow_read == ("~/.aws",) and policy.unix_sockets
    default = sandbox_from({"sandbox": {"mechanism": "none"}}, None, tmp_path).policy
    assert default.allow_read == () and not default.unix_sockets
    with pytest.raises(ConfigError, match="allow_read"):
        sandbox_from({"sandbox": {"allow_read": "~/.aws"}}, None, tmp_path)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_only_the_sessions_own_artifacts_are_readable_in_levers_home(
    mechanism: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = tmp_path / "lever-home" / "sessions" / "2026" / "01" / "01"
    for session in ("mine", "other"):
        (day / session).mkdir(parents=True)
        (day / session / "call.txt").write_text(f"{session}-full-output")
        (day / f"rollout-{session}.jsonl").write_text(f"{session}-rollout-secret")
    (tmp_path / "lever-home" / "config.toml").write_text("api_key = 'k-config-secret'")
    monkeypatch.setenv("LEVER_HOME", str(tmp_path / "lever-home"))
    ws = tmp_path / "ws"
    ws.mkdir()
    sandbox = sandbox_for(mechanism, session_files=(str(day / "mine"),))
    env = command_env(os.environ)
    assert run_in(sandbox, ["cat", str(day / "mine" / "call.txt")], ws, env).stdout == (
        "mine-full-output"
    )
    for path in (
        day / "rollout-mine.jsonl",
        day / "other" / "call.txt",
        day.parents[3] / "config.toml",
    ):
        done = run_in(sandbox, ["cat", str(path)], ws, env)
        assert done.returncode != 0 and "secret" not in done.stdout and "other" not in done.stdout


def test_read_rules_keep_a_visible_path_inside_a_hidden_one(tmp_path: Path) -> None:
    (tmp_path / "home" / "keep").mkdir(parents=True)
    (tmp_path / "home" / "secret").write_text("x")
    rules = dict(
        hidden.read_rules(
            [str(tmp_path / "home")], str(tmp_path), [str(tmp_path / "home" / "keep")]
        )
    )
    assert rules == {
        str(tmp_path): hidden.READ_DIR_ONLY,
        str(tmp_path / "home"): hidden.READ_DIR_ONLY,
        str(tmp_path / "home" / "keep"): hidden.READ_ALL,
    }
    args = hidden.bwrap_args([str(tmp_path / "home")], [str(tmp_path / "home" / "keep")])
    keep = str(tmp_path / "home" / "keep")
    assert args == ["--tmpfs", str(tmp_path / "home"), "--ro-bind", keep, keep]


def test_sessions_read_their_artifacts_and_personal_skills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lever.assembly import _with_session_files
    from lever.sandbox.base import NoSandbox
    from lever.store.rollout import RolloutWriter

    monkeypatch.setenv("LEVER_HOME", str(tmp_path / "home"))
    rollout = RolloutWriter.create(tmp_path / "home", "s1")
    sandbox = _with_session_files(NoSandbox(), rollout)
    rollout.close()
    assert sandbox.policy.session_files == (
        str(tmp_path / "home" / "skills"),
        str(rollout.artifacts_dir),
    )
