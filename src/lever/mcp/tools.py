"""Each MCP tool as a lever tool named `server__tool`, gated by the approval policy.

Approvals (DESIGN.md §5) for MCP calls, decided per server by its `trust`:

- `trust = "trusted"`: calls run without asking, under every policy.
- `trust = "ask"` (the default): under `untrusted`, `on-failure` and `on-request` lever asks
  before each call (kind "mcp"); "approve for this session" approves that tool of that server
  for the rest of the session. Under `never` nobody can be asked, so the call is refused and
  the model is told why (mark the server trusted to use it in exec, CI and fleets).
- A session without an approval service (tests, embedding) runs every call.

A denied call never reaches the server.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

import mcp.types as types

from lever.mcp.client import McpError, McpManager
from lever.mcp.config import McpServerConfig
from lever.protocol.events import ApprovalRequested
from lever.protocol.tools import ToolSchema
from lever.sandbox.approval import Verdict
from lever.tools.base import ToolContext, ToolResult
from lever.tools.truncate import truncate_output

#: Tool names every provider accepts: `^[A-Za-z0-9_-]{1,64}$`.
MAX_NAME = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

_NEVER_REFUSED = (
    'refused: MCP server {server!r} is not trusted (trust = "ask") and the approval policy '
    "`never` cannot ask anyone, so {tool} was not called. Do without it, or say what you need "
    '(a person can set trust = "trusted" for this server in config.toml).'
)


def exposed_name(server: str, tool: str) -> str:
    """`server__tool`, made acceptable to every provider; long names keep a hash to stay unique."""
    name = _UNSAFE.sub("_", f"{server}__{tool}")
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9]}_{digest}"


def _parameters(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """The tool's input schema as an object schema (some providers insist on `properties`)."""
    parameters = dict(schema or {})
    parameters.setdefault("type", "object")
    parameters.setdefault("properties", {})
    return parameters


async def check_mcp_call(
    server: McpServerConfig, tool: str, exposed: str, args: Mapping[str, Any], ctx: ToolContext
) -> Verdict:
    """May this call go to the server? Asks through the session's `Approvals` when it must."""
    approvals = ctx.approvals
    if approvals is None or server.trust == "trusted":
        return Verdict(True)
    key = ("mcp", server.name, tool)
    if key in approvals.cache:
        return Verdict(True)
    if approvals.policy == "never":
        return Verdict(False, message=_NEVER_REFUSED.format(server=server.name, tool=exposed))
    request = ApprovalRequested(
        call_id=ctx.call_id,
        kind="mcp",
        command=[exposed, json.dumps(dict(args), ensure_ascii=False, sort_keys=True)],
        cwd=str(ctx.cwd),
        reason=f"call tool {tool!r} of MCP server {server.name!r} ({server.describe()}), "
        'whose trust is "ask"',
    )
    decision, by = await approvals.ask(request, ctx.emit, key)
    if decision in ("approve_once", "approve_session"):
        return Verdict(True)
    if by == "nobody":
        why = "it needs approval, but no one can approve it here"
    elif decision == "deny_and_stop":
        why = "the person denied it and stopped the turn"
    else:
        why = "the person denied it"
    return Verdict(False, message=f"{exposed} was not called: {why}. Do not retry it as is.")


def render_result(result: types.CallToolResult) -> str:
    """What the model reads of a tool result: text as is, other content described."""
    parts = [_render_block(block) for block in result.content]
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts) if parts else "(no output)"


def _render_block(block: Any) -> str:
    kind = getattr(block, "type", "")
    if kind == "text":
        return str(block.text)
    if kind in ("image", "audio"):
        size = len(getattr(block, "data", "")) * 3 // 4
        return f"[{kind} {getattr(block, 'mime_type', '')}, about {size} bytes, not shown]"
    if kind == "resource_link":
        return f"[resource link: {block.uri}]"
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        if isinstance(text, str):
            return text
        return f"[resource {resource.uri}: {getattr(resource, 'mime_type', None) or 'binary'}]"
    return f"[{kind or 'unknown'} content]"


class McpTool:
    """One tool of one MCP server, as the model sees and calls it."""

    def __init__(
        self, manager: McpManager, server: McpServerConfig, tool: types.Tool, name: str
    ) -> None:
        self.manager = manager
        self.server = server
        self.tool_name = tool.name
        description = (tool.description or tool.title or "").strip()
        origin = f"(tool {tool.name!r} of MCP server {server.name!r})"
        self.schema = ToolSchema(
            name=name,
            description=f"{description}\n\n{origin}" if description else origin,
            parameters=_parameters(tool.input_schema),
        )

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        verdict = await check_mcp_call(self.server, self.tool_name, self.schema.name, args, ctx)
        if not verdict.allowed:
            return ToolResult(f"error: {verdict.message}", is_error=True)
        try:
            result = await self.manager.call_tool(self.server.name, self.tool_name, args)
        except McpError as e:
            return ToolResult(f"error: {e}", is_error=True)
        text = render_result(result)
        shown, truncated = truncate_output(text)
        if result.is_error:
            shown = f"error from MCP tool {self.schema.name}: {shown}"
        return ToolResult(
            shown, is_error=bool(result.is_error), full_output=text, truncated=truncated
        )

    async def aclose(self) -> None:
        await self.manager.aclose()  # every tool of the session shares it; closing is idempotent


def tools_from_listing(
    manager: McpManager,
    listing: Mapping[str, list[types.Tool] | McpError],
    taken: set[str],
) -> tuple[list[McpTool], list[str]]:
    """Lever tools for the servers that listed theirs, and a notice per server that failed.

    `taken` holds names already in use (built-in tools); a clash leaves the MCP tool out.
    """
    tools: list[McpTool] = []
    notices: list[str] = []
    for server_name, tools_or_error in listing.items():
        if isinstance(tools_or_error, McpError):
            first, newline, rest = str(tools_or_error).partition("\n")
            notices.append(f"{first}; its tools are not available in this session{newline}{rest}")
            continue
        server = manager.servers[server_name]
        for tool in tools_or_error:
            name = exposed_name(server_name, tool.name)
            if name in taken:
                notices.append(f"MCP tool {tool.name!r} of {server_name!r}: name {name} is taken")
                continue
            taken.add(name)
            tools.append(McpTool(manager, server, tool, name))
    return tools, notices
