"""Secrets and session sockets never reach commands' environment (issue 14, findings 5 and 7)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lever.assembly import env_from
from lever.sandbox.env import command_env
from tests.security.confined import MECHANISMS, run_in, sandbox_for

#: Credentials as people really keep them in their environment: each must be dropped.
SECRETS = {
    "DATABASE_URL": "postgres://app:hunter2-db@db.internal:5432/app",
    "REDIS_URL": "redis://:s3cr3t-redis@cache:6379/0",
    "AMQP_URL": "amqp://guest:rabbit-pass-9@mq:5672/",
    "MONGO_URI": "mongodb+srv://root:m0ngo-pw@cluster0.example.net/db",
    "MYSQL_PWD": "mysql-pw-31337",
    "PGPASSWORD": "pg-pw-4242",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/XXXXwebhook",
    "DISCORD_WEBHOOK": "https://discord.com/api/webhooks/1/abcdefdiscord",
    "SENTRY_DSN": "https://0123456789abcdef@o1.ingest.sentry.io/42",
    "GPG_PASSPHRASE": "correct horse battery staple",
    "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountKey=azkey==",
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEXAMPLEsessiontoken",
    "GITHUB_TOKEN": "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "GH_PAT": "github_pat_11AAAAAAA0123456789_abcdefghijklmnop",
    "NPM_TOKEN": "npm_abcdefghijklmnopqrstuvwxyz0123456789",
    "TWINE_PASSWORD": "pypi-AgEIcHlwaS5vcmcCJDEXAMPLE",
    "OPENAI_API_KEY": "sk-proj-abcdefghijklmnopqrstuvwx",
    "ANTHROPIC_API_KEY": "sk-ant-api03-abcdefghijklmnopqrst",
    "HF_HUB_TOKEN": "hf_abcdefghijklmnopqrstuvwxyz",
    "STRIPE_SECRET": "sk_live_abcdefghijklmnopqrstuvwx",
    "DOCKER_AUTH_CONFIG": '{"auths":{"r.io":{"auth":"dXNlcjpwYXNz"}}}',
    "BASIC_AUTH": "admin:admin-basic-pw",
    "ARTIFACTORY_APIKEY": "AKCp8artifactorykey",
    "SMTP_PASSWD": "smtp-passwd-77",
    "SSH_PRIVATE_KEY": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n",
    "GOOGLE_APPLICATION_CREDENTIALS": "/home/me/.config/gcloud/sa.json",
    "VAULT_ADDR_WITH_LOGIN": "https://ops:vault-pw-99@vault.internal:8200",
    # Innocent names, secret values: caught by the value's shape.
    "CI_SETTING": "xoxb-1234567890-abcdefghijklmnop",
    "UPSTREAM": "https://deploy:gl-deploy-pw@gitlab.example.com/group/repo.git",
}

#: Variables that lead to processes of the person's session: each must be dropped.
SOCKETS = {
    "TMUX": "/tmp/tmux-1000/default,1234,0",
    "TMUX_PANE": "%3",
    "SSH_AUTH_SOCK": "/tmp/ssh-XXXXabc/agent.1234",
    "SSH_AGENT_PID": "1234",
    "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus",
    "DOCKER_HOST": "unix:///run/user/1000/docker.sock",
    "GPG_AGENT_INFO": "/run/user/1000/gnupg/S.gpg-agent:0:1",
    "WAYLAND_DISPLAY": "wayland-0",
    "DISPLAY": ":0",
    "KRB5CCNAME": "FILE:/tmp/krb5cc_1000",
    "XDG_RUNTIME_DIR": "/run/user/1000",
}

#: Ordinary variables commands need: each must pass unchanged.
ORDINARY = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/home/me",
    "USER": "me",
    "LANG": "en_US.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PWD": "/home/me/project",
    "OLDPWD": "/home/me",
    "SHELL": "/bin/bash",
    "VIRTUAL_ENV": "/home/me/project/.venv",
    "PYENV_ROOT": "/home/me/.pyenv",
    "EDITOR": "vim",
    "GOPATH": "/home/me/go",
    "CARGO_HOME": "/home/me/.cargo",
    "JAVA_HOME": "/usr/lib/jvm/java-17",
    "NODE_ENV": "development",
    "GIT_AUTHOR_NAME": "Me Myself",
    "GIT_AUTHOR_EMAIL": "me@example.com",
    "PIP_INDEX_URL": "https://pypi.org/simple",
    "HTTPS_PROXY": "http://proxy.internal:3128",
    "CONDA_PREFIX": "/opt/conda",
    "XDG_CONFIG_HOME": "/home/me/.config",
    "KEYTIMEOUT": "1",
    "COLUMNS": "120",
}


def test_every_secret_and_socket_variable_is_dropped_and_ordinary_ones_pass() -> None:
    env = command_env({**SECRETS, **SOCKETS, **ORDINARY})
    leaked = sorted(set(SECRETS) & set(env)) + sorted(set(SOCKETS) & set(env))
    assert leaked == []
    assert len(SECRETS) >= 29
    for name, value in ORDINARY.items():
        assert env[name] == value, name


def test_include_lets_a_named_variable_through_but_never_levers_own_key() -> None:
    environ = {"GITHUB_TOKEN": "ghp_x", "SSH_AUTH_SOCK": "/s", "MY_LLM": "plain-looking-key"}
    env = command_env(environ, include=["GITHUB_TOKEN", "SSH_AUTH_SOCK", "MY_LLM"], hide=["MY_LLM"])
    assert env["GITHUB_TOKEN"] == "ghp_x" and env["SSH_AUTH_SOCK"] == "/s"
    assert "MY_LLM" not in env


def test_levers_own_key_is_not_exported_whatever_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # `--api-key-env LLM_ENDPOINT_CONF` names a variable that looks like nothing secret.
    monkeypatch.setenv("LLM_ENDPOINT_CONF", "abc123plain")
    config = {"shell_environment": {"include": ["LLM_ENDPOINT_CONF"]}}
    assert "LLM_ENDPOINT_CONF" not in env_from(config, "LLM_ENDPOINT_CONF")
    assert env_from(config)["LLM_ENDPOINT_CONF"] == "abc123plain"


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_sandboxed_env_shows_no_secret_value(mechanism: str, tmp_path: Path) -> None:
    sandbox = sandbox_for(mechanism)
    environ = {**os.environ, **SECRETS, **SOCKETS}
    done = run_in(sandbox, ["env"], tmp_path, command_env(environ))
    assert done.returncode == 0, done.stderr
    for value in [*SECRETS.values(), *SOCKETS.values()]:
        assert value.split("\n")[0] not in done.stdout
    assert "TMUX=" not in done.stdout and "SSH_AUTH_SOCK=" not in done.stdout
