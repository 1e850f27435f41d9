"""Escape attempts at the person's secrets: credential files in a fake HOME the test builds
(lever builds the sandbox with that HOME), and credentials in lever's own environment
(issue 14, finding 7). The control run reads them as any unconfined command would."""

from __future__ import annotations

from tests.sandbox.escape_cases import Attempt, Check, case, sh
from tests.sandbox.escape_world import World

#: Credential files under HOME, each holding its own recognisable secret.
CREDENTIALS = {
    "ssh-id-rsa": (".ssh/id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\n{secret}\n"),
    "aws-credentials": (".aws/credentials", "[default]\naws_secret_access_key = {secret}\n"),
    "netrc": (".netrc", "machine api.example.com login me password {secret}\n"),
    "gh-hosts": (".config/gh/hosts.yml", "github.com:\n    oauth_token: {secret}\n"),
    "git-credentials": (".git-credentials", "https://me:{secret}@github.com\n"),
    "docker-config": (".docker/config.json", '{{"auths": {{"r.io": {{"auth": "{secret}"}}}}}}'),
    "lever-config": (".lever/config.toml", 'api_key = "{secret}"\n'),
}


def secret_for(name: str) -> str:
    return f"sekrit-{name}-0451"


def home_with_credentials(w: World) -> str:
    files = {rel: text.format(secret=secret_for(n)) for n, (rel, text) in CREDENTIALS.items()}
    files[".bashrc"] = "export EDITOR=vi\n"
    return str(w.fake_home(files))


def leaked(*secrets: str) -> Check:
    return lambda r: any(secret in r.stdout for secret in secrets)


def read_case(name: str, rel: str) -> None:
    @case(f"read-home-{name}")
    def _(w: World) -> Attempt:
        home_with_credentials(w)
        return Attempt(sh(f"cat ~/{rel}"), leaked(secret_for(name)))


for _name, (_rel, _) in CREDENTIALS.items():
    read_case(_name, _rel)

ALL_SECRETS = [secret_for(name) for name in CREDENTIALS]


@case("grep-home-for-credentials")
def _(w: World) -> Attempt:
    home_with_credentials(w)
    return Attempt(sh("grep -r sekrit- ~ 2>/dev/null; true"), leaked(*ALL_SECRETS))


@case("read-credential-through-workspace-symlink")
def _(w: World) -> Attempt:
    home = home_with_credentials(w)
    (w.ws / "src" / "key").symlink_to(f"{home}/.ssh/id_rsa")
    return Attempt(["cat", "src/key"], leaked(secret_for("ssh-id-rsa")))


@case("read-credential-through-new-hardlink")
def _(w: World) -> Attempt:
    # Same file system: a hard link in the workspace would be readable under its rules.
    home_with_credentials(w)
    script = "ln ~/.aws/credentials src/creds; cat src/creds"
    return Attempt(sh(script), leaked(secret_for("aws-credentials")))


@case("copy-ssh-folder-into-workspace")
def _(w: World) -> Attempt:
    home_with_credentials(w)
    return Attempt(
        sh("cp -r ~/.ssh src/stolen; cat src/stolen/*"), leaked(secret_for("ssh-id-rsa"))
    )


#: Credentials in lever's own environment: by name, by value shape, and a token in a variable
#: whose name looks ordinary.
ENV_SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "sekrit-aws-env-8c1f",
    "DATABASE_URL": "postgres://app:pw-sekrit-db@db.internal:5432/app",
    "BUILD_SETTING": "ghp_sekrit0123456789abcdefghijABCDEFGHIJ",
}


def env_case(name: str, value: str) -> None:
    @case(f"env-dump-{name.lower().replace('_', '-')}")
    def _(w: World) -> Attempt:
        w.set_host_env(**{name: value})
        # Inside: the environment lever builds; the control: the raw one, as by hand.
        return Attempt(["env"], leaked(value), w.raw_env())


for _var, _value in ENV_SECRETS.items():
    env_case(_var, _value)
