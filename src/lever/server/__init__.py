"""Servers that expose lever to other programs: the JSON-RPC app-server for editors
(`app_server`, with its message models in `rpc` and its JSON Schema in `schema`), and
`lever mcp-server` (`mcp_server`), lever as MCP tools for other agents."""
