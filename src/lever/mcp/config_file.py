"""Adding and removing `[mcp_servers.NAME]` tables in config.toml, by text.

The standard library reads TOML but does not write it, and rewriting a person's file from its
parsed form would lose their comments and layout. So lever edits the text: `add` appends one
table written by the small writer below (strings, string lists and inline tables of strings,
numbers — the only shapes a server table has), `remove` cuts the lines from the table's header
to the next header. Every edit is parsed again before it is written (atomically): if the result
does not parse, or does not hold exactly the intended change, the file is left untouched and
the error says to edit it by hand.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lever.mcp.config import McpConfigError, check_name, parse_server

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
_HEADER = re.compile(r"^\s*\[")


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else toml_string(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        pairs = ", ".join(f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + pairs + " }" if pairs else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML here")


def server_table(name: str, table: Mapping[str, Any]) -> str:
    """`[mcp_servers.NAME]` and its keys, one per line."""
    lines = [f"[mcp_servers.{toml_key(name)}]"]
    lines += [f"{toml_key(key)} = {toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def read_servers(path: Path) -> dict[str, Any]:
    """The `mcp_servers` tables of a config file ({} when it does not exist)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as e:
        raise McpConfigError(f"{path}: {e}") from e
    servers = data.get("mcp_servers", {})
    if not isinstance(servers, dict):
        raise McpConfigError(f"{path}: `mcp_servers` is not a table")
    return servers


def add_server(path: Path, name: str, table: Mapping[str, Any]) -> None:
    """Append `[mcp_servers.NAME]`; refuses a name that is already configured."""
    parse_server(check_name(name), table)  # the same checks a session applies
    if name in read_servers(path):
        raise McpConfigError(f"an MCP server named {name!r} is already configured in {path}")
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    new = text + ("\n" if text.strip() else "") + server_table(name, table)
    _write_checked(path, new, lambda servers: servers.get(name) == dict(table))


def remove_server(path: Path, name: str) -> None:
    """Cut `[mcp_servers.NAME]` (and any `[mcp_servers.NAME.*]` sub-table) out of the file."""
    if name not in read_servers(path):
        raise McpConfigError(f"no MCP server named {name!r} in {path}")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept: list[str] = []
    cutting = False
    for line in lines:
        if _HEADER.match(line):
            cutting = _is_header_of(line, name)
        if not cutting:
            kept.append(line)
    new = re.sub(r"\n{3,}", "\n\n", "".join(kept))
    _write_checked(path, new, lambda servers: name not in servers)


def _is_header_of(line: str, name: str) -> bool:
    """Is this line `[mcp_servers.NAME]` or `[mcp_servers.NAME.something]`?"""
    try:
        parsed = tomllib.loads(line.strip() + "\n")
    except tomllib.TOMLDecodeError:
        return False
    servers = parsed.get("mcp_servers")
    return isinstance(servers, dict) and list(servers) == [name]


def _write_checked(path: Path, text: str, holds: Any) -> None:
    try:
        servers = tomllib.loads(text).get("mcp_servers", {})
    except tomllib.TOMLDecodeError as e:
        raise McpConfigError(f"editing {path} would break it ({e}); edit it by hand") from e
    if not holds(servers):
        raise McpConfigError(f"could not edit {path} safely (unusual layout); edit it by hand")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o777)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
