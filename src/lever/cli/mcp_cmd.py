"""`lever mcp list | add | remove`: the MCP servers in $LEVER_HOME/config.toml."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EPILOG = """\
examples:
  lever mcp add files -- npx -y @modelcontextprotocol/server-filesystem /tmp
  lever mcp add demo --env TOKEN=abc --trust trusted -- python server.py --verbose
  lever mcp add remote --url http://127.0.0.1:8000/mcp
  lever mcp add api --url https://mcp.example.com/mcp --bearer-token-env-var API_MCP_TOKEN
  lever mcp list
  lever mcp remove demo

Servers whose trust is "ask" (the default) are asked about before each call under the approval
policies untrusted, on-failure and on-request, and refused under `never`; "trusted" servers'
calls run without asking. See docs/mcp.md."""


ADD_USAGE = (
    "lever mcp add NAME [--env K=V]... [--trust ask|trusted] [--startup-timeout S] "
    "[--tool-timeout S] (-- COMMAND [ARGS...] | --url URL [--header K=V]... "
    "[--bearer-token-env-var NAME])"
)
ADD_HELP = """\
Add [mcp_servers.NAME] to $LEVER_HOME/config.toml.

  NAME                 the server's name; its tools appear as NAME__tool
  -- COMMAND ARGS...   a stdio server: the command lever starts (everything after --)
  --url URL            a streamable HTTP server instead
  --header K=V         HTTP: send header K with every request (repeatable)
  --bearer-token-env-var NAME
                       HTTP: send `Authorization: Bearer $NAME` (read when the server starts)
  --env K=V            set K in the server's environment (repeatable)
  --trust ask|trusted  ask: calls go through the approval policy (default); trusted: never ask
  --startup-timeout S  seconds to start and list tools (default 10)
  --tool-timeout S     seconds per tool call (default 60)"""


def _add_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--url")
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--bearer-token-env-var")
    p.add_argument("--trust", choices=("ask", "trusted"))
    p.add_argument("--startup-timeout", type=float)
    p.add_argument("--tool-timeout", type=float)
    return p


def parse_add(outer: argparse.Namespace) -> argparse.Namespace:
    """`[options] NAME [options] [-- COMMAND ARGS...]`: the command is what follows `--`."""
    spec = list(outer.spec)
    cut = spec.index("--") if "--" in spec else len(spec)
    inner = argparse.ArgumentParser(prog="lever mcp add", usage=ADD_USAGE, add_help=False)
    inner.add_argument("name")
    args = _add_options(inner).parse_args(spec[:cut])
    args.command = spec[cut + 1 :]
    args.env = [*outer.env, *args.env]
    args.header = [*outer.header, *args.header]
    for key in ("url", "trust", "startup_timeout", "tool_timeout", "bearer_token_env_var"):
        if getattr(args, key) is None:
            setattr(args, key, getattr(outer, key))
    return args


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "mcp",
        help="list, add and remove MCP servers whose tools lever's sessions may use",
        description="Manage the [mcp_servers.NAME] tables of $LEVER_HOME/config.toml.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="mcp_action", metavar="ACTION")  # none: list
    listing = actions.add_parser("list", help="show the configured servers")
    listing.add_argument("--json", action="store_true", help="print them as JSON")
    add = actions.add_parser(
        "add",
        help="add a server: NAME -- COMMAND [ARGS...] (stdio) or NAME --url URL (HTTP)",
        usage=ADD_USAGE,
        description=ADD_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Everything after `add`, split at `--` by `_add_options` (argparse alone cannot take
    # options both before and after a command line that has options of its own).
    _add_options(add).add_argument("spec", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    remove = actions.add_parser("remove", help="remove a server")
    remove.add_argument("name", metavar="NAME")
    return p


def run(args: argparse.Namespace) -> int:
    from lever.config.loader import lever_home
    from lever.mcp.config import McpConfigError

    path = lever_home() / "config.toml"
    try:
        if args.mcp_action in (None, "list"):
            return _list(path, getattr(args, "json", False))
        if args.mcp_action == "add":
            return _add(path, parse_add(args))
        return _remove(path, args.name)
    except McpConfigError as e:
        print(f"lever mcp {args.mcp_action}: {e}", file=sys.stderr)
        return 2


def _table_from(args: argparse.Namespace) -> dict[str, Any]:
    from lever.mcp.config import McpConfigError

    command = list(args.command)
    if bool(command) == bool(args.url):
        raise McpConfigError("give either -- COMMAND [ARGS...] or --url URL")
    table: dict[str, Any] = {"url": args.url} if args.url else {"command": command[0]}
    if len(command) > 1:
        table["args"] = command[1:]
    for flag, key, pairs in (("--env", "env", args.env), ("--header", "headers", args.header)):
        values = {}
        for pair in pairs:
            name, sep, value = pair.partition("=")
            if not sep or not name:
                raise McpConfigError(f"{flag} expects K=V, got {pair!r}")
            values[name] = value
        if values:
            table[key] = values
    if args.bearer_token_env_var:
        table["bearer_token_env_var"] = args.bearer_token_env_var
    if args.trust:
        table["trust"] = args.trust
    if args.startup_timeout is not None:
        table["startup_timeout_s"] = args.startup_timeout
    if args.tool_timeout is not None:
        table["tool_timeout_s"] = args.tool_timeout
    return table


def _add(path: Any, args: argparse.Namespace) -> int:
    from lever.mcp.config_file import add_server

    add_server(path, args.name, _table_from(args))
    print(f"added MCP server {args.name!r} to {path}")
    return 0


def _remove(path: Any, name: str) -> int:
    from lever.mcp.config_file import remove_server

    remove_server(path, name)
    print(f"removed MCP server {name!r} from {path}")
    return 0


def _list(path: Any, as_json: bool) -> int:
    import json

    from lever.mcp.config import McpConfigError, parse_server
    from lever.mcp.config_file import read_servers

    rows: list[dict[str, Any]] = []
    for name, table in read_servers(path).items():
        try:
            server = parse_server(name, table)
        except McpConfigError as e:
            rows.append({"name": name, "error": str(e)})
            continue
        rows.append(
            {
                "name": name,
                "transport": server.transport,
                "target": server.describe(),
                "trust": server.trust,
                "enabled": server.enabled,
                "env": sorted(server.env),  # names only: values may be secrets
                "headers": sorted(server.headers),
                "bearer_token_env_var": server.bearer_token_env_var,
                "startup_timeout_s": server.startup_timeout_s,
                "tool_timeout_s": server.tool_timeout_s,
            }
        )
    if as_json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"no MCP servers configured in {path} (add one with `lever mcp add`)")
    else:
        for row in rows:
            print(_line(row))
    return 0


def _line(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"{row['name']}  (unusable: {row['error']})"
    extra = "" if row["enabled"] else "  (disabled)"
    env = f"  env: {', '.join(row['env'])}" if row["env"] else ""
    if row["headers"]:
        env += f"  headers: {', '.join(row['headers'])}"
    if row["bearer_token_env_var"]:
        env += f"  bearer token: ${row['bearer_token_env_var']}"
    return f"{row['name']}  [{row['transport']}, trust {row['trust']}]  {row['target']}{env}{extra}"
