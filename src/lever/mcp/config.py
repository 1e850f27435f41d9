"""`[mcp_servers.NAME]` tables: which MCP servers a session may use, and how to reach them.

```toml
[mcp_servers.demo]            # stdio: lever starts the command and talks over its pipes
command = "python"
args = ["server.py"]
env = { DEMO_TOKEN = "..." }  # added to a minimal environment (PATH, HOME...), nothing else
trust = "ask"                 # "ask" (default): calls go through the approval policy;
                              # "trusted": calls run without asking
startup_timeout_s = 10        # start + initialize + list tools
tool_timeout_s = 60           # one tool call

[mcp_servers.remote]          # streamable HTTP
url = "http://127.0.0.1:8000/mcp"
headers = { X-Team = "core" } # sent with every request
bearer_token_env_var = "REMOTE_MCP_TOKEN"  # `Authorization: Bearer $REMOTE_MCP_TOKEN`
```

A token is read from the environment when the server is started, never stored in the table.

This module has no dependency on the `mcp` SDK: the CLI reads and checks tables without paying
for its import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Trust = Literal["ask", "trusted"]
TRUST_LEVELS: tuple[str, ...] = ("ask", "trusted")
DEFAULT_STARTUP_TIMEOUT_S = 10.0
DEFAULT_TOOL_TIMEOUT_S = 60.0
#: Server names become tool-name prefixes (`NAME__tool`): keep them to what every API accepts.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: RFC 9110 token characters: what a header name may be made of.
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
KEYS = frozenset(
    {
        "command",
        "args",
        "env",
        "url",
        "headers",
        "bearer_token_env_var",
        "trust",
        "startup_timeout_s",
        "tool_timeout_s",
        "enabled",
    }
)


class McpConfigError(ValueError):
    """A `[mcp_servers.NAME]` table cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class McpServerConfig:
    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None
    #: HTTP only: headers sent with every request (their values may be secrets: never shown).
    headers: Mapping[str, str] = field(default_factory=dict)
    #: HTTP only: the variable holding a token sent as `Authorization: Bearer ...`.
    bearer_token_env_var: str | None = None
    trust: Trust = "ask"
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S
    tool_timeout_s: float = DEFAULT_TOOL_TIMEOUT_S
    enabled: bool = True

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "http" if self.url else "stdio"

    def describe(self) -> str:
        """One line for `lever mcp list` and notices: how the server is reached."""
        if self.url:
            return self.url
        return " ".join([self.command or "", *self.args])


def check_name(name: str) -> str:
    if not NAME_RE.match(name) or "__" in name:
        raise McpConfigError(
            f"MCP server name {name!r}: use 1-32 letters, digits, '-' or '_' (no '__'), "
            "starting with a letter or digit; it prefixes the tool names (NAME__tool)"
        )
    return name


def _timeout(name: str, table: Mapping[str, Any], key: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise McpConfigError(f"mcp_servers.{name}.{key} must be a positive number of seconds")
    return float(value)


def parse_server(name: str, table: Any) -> McpServerConfig:
    """One `[mcp_servers.NAME]` table, checked."""
    check_name(name)
    if not isinstance(table, Mapping):
        raise McpConfigError(f"mcp_servers.{name} must be a table")
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise McpConfigError(f"mcp_servers.{name}: unknown keys {', '.join(unknown)}")
    command, url = table.get("command"), table.get("url")
    if (command is None) == (url is None):
        raise McpConfigError(f"mcp_servers.{name}: give either `command` (stdio) or `url` (HTTP)")
    if command is not None and (not isinstance(command, str) or not command.strip()):
        raise McpConfigError(f"mcp_servers.{name}.command must be a non-empty string")
    if url is not None and (not isinstance(url, str) or not re.match(r"^https?://", url)):
        raise McpConfigError(f"mcp_servers.{name}.url must be an http:// or https:// URL")
    args = table.get("args", [])
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        raise McpConfigError(f"mcp_servers.{name}.args must be a list of strings")
    env = table.get("env", {})
    if url is not None and (args or env):
        raise McpConfigError(f"mcp_servers.{name}: `args` and `env` only go with `command`")
    if not isinstance(env, Mapping) or not all(isinstance(v, str) for v in env.values()):
        raise McpConfigError(f'mcp_servers.{name}.env must be a table of NAME = "value"')
    headers, token_var = _http_auth(name, table, url)
    trust = table.get("trust", "ask")
    if trust not in TRUST_LEVELS:
        raise McpConfigError(f'mcp_servers.{name}.trust must be "ask" or "trusted"')
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise McpConfigError(f"mcp_servers.{name}.enabled must be true or false")
    return McpServerConfig(
        name=name,
        command=command,
        args=tuple(args),
        env={str(k): v for k, v in env.items()},
        url=url,
        headers=headers,
        bearer_token_env_var=token_var,
        trust=trust,
        startup_timeout_s=_timeout(name, table, "startup_timeout_s", DEFAULT_STARTUP_TIMEOUT_S),
        tool_timeout_s=_timeout(name, table, "tool_timeout_s", DEFAULT_TOOL_TIMEOUT_S),
        enabled=enabled,
    )


def _http_auth(
    name: str, table: Mapping[str, Any], url: str | None
) -> tuple[dict[str, str], str | None]:
    headers = table.get("headers", {})
    token_var = table.get("bearer_token_env_var")
    if url is None and (headers or token_var is not None):
        raise McpConfigError(
            f"mcp_servers.{name}: `headers` and `bearer_token_env_var` only go with `url`"
        )
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and HEADER_NAME_RE.match(k) and isinstance(v, str)
        for k, v in headers.items()
    ):
        raise McpConfigError(f'mcp_servers.{name}.headers must be a table of Header-Name = "value"')
    if token_var is not None and (
        not isinstance(token_var, str) or not ENV_NAME_RE.match(token_var)
    ):
        raise McpConfigError(
            f"mcp_servers.{name}.bearer_token_env_var must be the name of an environment variable"
        )
    if token_var is not None and any(k.lower() == "authorization" for k in headers):
        raise McpConfigError(
            f"mcp_servers.{name}: give `bearer_token_env_var` or an Authorization header, not both"
        )
    return dict(headers), token_var


def parse_servers(config: Mapping[str, Any]) -> tuple[list[McpServerConfig], list[str]]:
    """The usable servers of a configuration, and one problem message per table that is not.

    A broken table never stops a session: it is left out and reported.
    """
    tables = config.get("mcp_servers", {})
    if not isinstance(tables, Mapping):
        return [], ["`mcp_servers` must be a table of [mcp_servers.NAME] tables"]
    servers: list[McpServerConfig] = []
    problems: list[str] = []
    for name, table in tables.items():
        try:
            server = parse_server(str(name), table)
        except McpConfigError as e:
            problems.append(str(e))
            continue
        if server.enabled:
            servers.append(server)
    return servers, problems
