"""`lever mcp add | list | remove` on a temporary LEVER_HOME, and the TOML they write."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from lever.cli.main import main
from lever.mcp.config import McpConfigError, parse_server
from lever.mcp.config_file import add_server, remove_server, toml_string

EXISTING = """# my lever settings
provider = "openai"   # keep this comment

[limits]
max_turns = 50
"""


def test_add_list_remove_round_trip(lever_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = lever_home / "config.toml"
    config.write_text(EXISTING, encoding="utf-8")
    assert main(["mcp", "add", "demo", "--env", "TOKEN=a b", "--", "python", "s.py", "-v"]) == 0
    assert main(["mcp", "add", "--trust", "trusted", "web", "--url", "http://127.0.0.1:9/mcp"]) == 0
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    assert data["mcp_servers"] == {
        "demo": {"command": "python", "args": ["s.py", "-v"], "env": {"TOKEN": "a b"}},
        "web": {"url": "http://127.0.0.1:9/mcp", "trust": "trusted"},
    }
    assert data["limits"] == {"max_turns": 50}
    capsys.readouterr()

    assert main(["mcp", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["transport"], r["trust"]) for r in rows] == [
        ("demo", "stdio", "ask"),
        ("web", "http", "trusted"),
    ]
    assert rows[0]["env"] == ["TOKEN"]  # names only, never values
    assert main(["mcp", "list"]) == 0
    assert "python s.py -v" in capsys.readouterr().out

    # Refusals leave the file alone.
    before = config.read_text(encoding="utf-8")
    assert main(["mcp", "add", "demo", "--", "other"]) == 2
    assert main(["mcp", "add", "x"]) == 2
    assert main(["mcp", "add", "a__b", "--", "x"]) == 2
    assert main(["mcp", "remove", "nope"]) == 2
    assert config.read_text(encoding="utf-8") == before
    assert "already configured" in capsys.readouterr().err

    assert main(["mcp", "remove", "demo"]) == 0
    assert main(["mcp", "remove", "web"]) == 0
    # Back to what the person wrote, comments included.
    assert config.read_text(encoding="utf-8").strip() == EXISTING.strip()


def test_list_without_a_config(lever_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mcp", "list"]) == 0
    assert "no MCP servers configured" in capsys.readouterr().out


@pytest.mark.parametrize(
    "text", ["plain", 'quote " and \\ backslash', "tab\tnewline\nbell\x07", "ünïcødé ✓", ""]
)
def test_strings_survive_the_writer(text: str) -> None:
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text


def test_odd_values_and_layouts(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    table = {"command": 'C:\\tools\\"srv".exe', "args": ["--x=1", "é"], "env": {"A.B": "1"}}
    add_server(config, "odd", table)
    assert parse_server("odd", tomllib.loads(config.read_text())["mcp_servers"]["odd"])
    # A sub-table of the server goes with it; other tables stay.
    config.write_text(
        config.read_text() + '\n[mcp_servers.odd.extra]\nx = 1\n\n[other]\ny = "[not a header]"\n'
    )
    remove_server(config, "odd")
    assert tomllib.loads(config.read_text()) == {"other": {"y": "[not a header]"}}
    # A server written inline cannot be cut out by lines: refused, file untouched.
    inline = '[mcp_servers]\ninl = { command = "x" }\n'
    config.write_text(inline)
    with pytest.raises(McpConfigError, match="by hand"):
        remove_server(config, "inl")
    assert config.read_text() == inline


def test_add_http_server_with_headers_and_a_bearer_token_variable(
    lever_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["mcp", "add", "api", "--url", "https://mcp.example.com/mcp", "--header", "X-Team=core"]
    assert main([*argv, "--bearer-token-env-var", "API_TOKEN", "--header", "X-Key=v3ry"]) == 0
    data = tomllib.loads((lever_home / "config.toml").read_text(encoding="utf-8"))
    assert data["mcp_servers"]["api"] == {
        "url": "https://mcp.example.com/mcp",
        "headers": {"X-Team": "core", "X-Key": "v3ry"},
        "bearer_token_env_var": "API_TOKEN",
    }
    capsys.readouterr()
    assert main(["mcp", "list", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert (row["headers"], row["bearer_token_env_var"]) == (["X-Key", "X-Team"], "API_TOKEN")
    assert main(["mcp", "list"]) == 0
    line = capsys.readouterr().out
    assert "headers: X-Key, X-Team" in line and "$API_TOKEN" in line
    assert "v3ry" not in line and "core" not in line  # header values may be secrets
    # Headers belong to HTTP servers only.
    assert main(["mcp", "add", "local", "--header", "A=1", "--", "python", "s.py"]) == 2
