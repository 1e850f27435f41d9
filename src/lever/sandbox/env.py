"""The environment commands run with: secrets and host sockets never reach them.

A variable is dropped when

- its name looks like a credential (`SECRET_PATTERNS`: `*KEY*`, `*TOKEN*`, `*PASSWORD*`,
  `*_DSN`, `*WEBHOOK*`, `*CONNECTION_STRING*`, `MYSQL_PWD`-like `*_PWD`…; `PWD` and `OLDPWD`
  are the shell's working folder and stay),
- its name is one of the `AUTH` family (`*_AUTH`, `AUTH_*`, `*_AUTH_*`, `*AUTHTOKEN*`…) but
  not an ordinary word containing "auth" (`AUTHOR`, `GIT_AUTHOR_NAME`, `OAUTHLIB_…` settings
  are judged by their other parts),
- its value looks like a credential (`secret_value`): a URL with `user:password@`, a private
  key block, a token with a known prefix (`sk-`, `ghp_`, `xoxb-`, `AKIA`…),
- it points a command at a process of the person's session (`SOCKET_NAMES`: `TMUX`,
  `SSH_AUTH_SOCK`, `DBUS_SESSION_BUS_ADDRESS`, `DOCKER_HOST`, `WAYLAND_DISPLAY`, `DISPLAY`…):
  a command that reaches tmux or the ssh agent acts outside the sandbox,
- it is lever's own API key variable (`hide`), whatever its name.

`shell_environment.include` lets a named variable through anyway (the person's choice).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping

SECRET_PATTERNS = (
    "*KEY*",
    "*TOKEN*",
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*PASSPHRASE*",
    "*CREDENTIAL*",
    "*_PWD",
    "*_DSN",
    "DSN",
    "*WEBHOOK*",
    "*CONNECTION_STRING*",
    "*CONNSTR*",
    "*COOKIE*",
    "*PRIVATE*",
    "*_PAT",
    "*_SAS",
    "*SAS_TOKEN*",
    "*AUTH",
    "AUTH_*",
    "*_AUTH_*",
    "*AUTHTOKEN*",
    "*AUTHORIZATION*",
    "*BEARER*",
    "*OAUTH*",
)

#: Names that match a pattern above but are not credentials.
NOT_SECRET = frozenset({"PWD", "OLDPWD", "KEYTIMEOUT", "KEYMAP", "XKB_DEFAULT_KEYMAP"})

#: Variables that lead to a process of the person's session (a socket or a display).
SOCKET_NAMES = frozenset(
    {
        "TMUX",
        "TMUX_PANE",
        "TMUX_TMPDIR",
        "STY",  # GNU screen's session
        "SSH_AUTH_SOCK",
        "SSH_AGENT_PID",
        "GPG_AGENT_INFO",
        "DBUS_SESSION_BUS_ADDRESS",
        "DBUS_SYSTEM_BUS_ADDRESS",
        "DOCKER_HOST",
        "CONTAINER_HOST",
        "PODMAN_HOST",
        "WAYLAND_DISPLAY",
        "DISPLAY",
        "XAUTHORITY",
        "KRB5CCNAME",
        "PULSE_SERVER",
        "GNOME_KEYRING_CONTROL",
        "KITTY_LISTEN_ON",
        "KITTY_WINDOW_ID",
        "WEZTERM_UNIX_SOCKET",
        "NVIM",
        "NVIM_LISTEN_ADDRESS",
        "VSCODE_IPC_HOOK_CLI",
        "VSCODE_GIT_IPC_HANDLE",
        "GIT_ASKPASS",
        "SSH_ASKPASS",
        "SUDO_ASKPASS",
        "XDG_RUNTIME_DIR",
    }
)

# URLs carrying a password: scheme://user:password@host (the user part may be empty).
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@")
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")
# Tokens whose prefix says what they are (OpenAI/Anthropic, GitHub, GitLab, Slack, AWS, Stripe,
# Google, npm, PyPI, Hugging Face, SendGrid, Twilio, JWTs), followed by a long random tail.
_TOKEN_PREFIX = re.compile(
    r"^(sk-|sk_live_|sk_test_|rk_live_|pk_live_|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|glpat-"
    r"|xox[abposr]-|xapp-|AKIA|ASIA|AIza|ya29\.|npm_|pypi-|hf_|SG\.|SK[0-9a-f]{8}|eyJ)"
    r"[A-Za-z0-9_\-./+=]{16,}$"
)


def looks_secret(name: str, patterns: Iterable[str] = SECRET_PATTERNS) -> bool:
    upper = name.upper()
    if upper in NOT_SECRET:
        return False
    return any(fnmatch.fnmatchcase(upper, pattern) for pattern in patterns)


def secret_value(value: str) -> bool:
    """Whether `value` itself is a credential, whatever its variable is called."""
    text = value.strip()
    return bool(
        _URL_PASSWORD.search(text) or _PRIVATE_KEY.search(text) or _TOKEN_PREFIX.match(text)
    )


def leads_outside(name: str) -> bool:
    """Whether the variable points at a socket or display of the person's session."""
    return name.upper() in SOCKET_NAMES


def dropped(name: str, value: str) -> bool:
    """Whether `name=value` stays out of commands' environment by default."""
    return looks_secret(name) or leads_outside(name) or secret_value(value)


def command_env(
    environ: Mapping[str, str],
    *,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    set_vars: Mapping[str, str] | None = None,
    hide: Iterable[str | None] = (),
) -> dict[str, str]:
    """`environ` without secrets and session sockets (unless named in `include`), without the
    variables named in `hide` (lever's own API key: never passed, even if `include`d), plus
    `set_vars`.

    Commands are non-interactive: pagers and editors are pinned so nothing waits for a terminal.
    """
    keep = set(include)
    drop = list(exclude)
    hidden = {name for name in hide if name}
    env = {
        name: value
        for name, value in environ.items()
        if name not in hidden
        and (name in keep or not (dropped(name, value) or looks_secret(name, drop)))
    }
    env.update({"PAGER": "cat", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "TERM": "dumb"})
    env.update(set_vars or {})
    return env
