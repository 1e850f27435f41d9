"""Finding 10: terminal escapes from commands and the model, world-readable rollouts, and
credentials in the app-server's `config/read`."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from lever.cli.render import HumanRenderer
from lever.protocol import TextDelta, ToolFinished
from lever.safe_text import TerminalFilter, terminal_safe, visible_controls
from lever.store.index import INDEX_FILE, SessionIndex
from lever.store.rollout import RolloutWriter, new_session_id
from tests.server.conftest import clients, env, repo  # noqa: F401  (fixtures)
from tests.server.rpc_client import RpcClient, connect

#: Sequences a hostile command or model prints to act on the person's terminal.
HOSTILE = {
    "osc52 clipboard": "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07",
    "osc52 st": "\x1b]52;p;Y3VybA==\x1b\\",
    "title": "\x1b]0;sudo rm -rf ~\x07",
    "hyperlink": "\x1b]8;;https://evil.example/\x1b\\",
    "clear screen": "\x1b[2J\x1b[3J",
    "cursor home": "\x1b[H",
    "cursor up": "\x1b[5A",
    "alt screen": "\x1b[?1049h",
    "reset": "\x1bc",
    "dcs": "\x1bP+q544e\x1b\\",
    "c1 csi": "\x9b2J",
    "c1 osc": "\x9d52;c;eA==\x9c",
    "bell": "\x07",
    "backspace": "\x08\x08\x08",
    "carriage return": "\r",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_sequences_are_stripped(name: str) -> None:
    text = f"before{HOSTILE[name]}after"
    for cleaned in (terminal_safe(text), terminal_safe(text, keep_colour=True)):
        assert cleaned == "beforeafter"
        assert "\x1b" not in cleaned and not any(0x80 <= ord(c) <= 0x9F for c in cleaned)


def test_colours_tabs_newlines_and_text_stay() -> None:
    text = "\x1b[1;31merror\x1b[0m:\tline 1\r\nline 2 — ✓ 日本"
    assert (
        terminal_safe(text, keep_colour=True) == "\x1b[1;31merror\x1b[0m:\tline 1\nline 2 — ✓ 日本"
    )
    assert terminal_safe(text) == "error:\tline 1\nline 2 — ✓ 日本"


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_a_sequence_split_across_chunks_is_removed_whole(size: int) -> None:
    text = f"look{HOSTILE['osc52 clipboard']} and{HOSTILE['title']}{HOSTILE['osc52 st']} \x1b[32mok"
    stream = TerminalFilter(keep_colour=True)
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    assert "".join(stream.feed(chunk) for chunk in chunks) == "look and \x1b[32mok"


def test_controls_in_a_command_to_approve_are_shown_not_sent() -> None:
    assert visible_controls("ls\x1b[2K\rrm -rf ~") == "ls\\x1b[2K\\x0drm -rf ~"


def test_exec_renderer_strips_escapes_from_output_and_model_text() -> None:
    out = io.StringIO()
    render = HumanRenderer(out)
    render(TextDelta(delta="hi \x1b]52;c;ZXZpbA==\x07there", channel="text"))
    render(
        ToolFinished(
            call_id="c1",
            name="shell",
            full_output="ok\x1b[2J\x1b]0;pwned\x07\n\x1b[32mgreen\x1b[0m\n",
            exit_code=0,
            duration_ms=5,
        )
    )
    text = out.getvalue()
    assert "\x1b]" not in text and "\x1b[2J" not in text and "\x07" not in text
    assert "hi there" in text and "\x1b[32mgreen\x1b[0m" in text


def test_rollout_is_0600_in_0700_folders(tmp_path: Path) -> None:
    home = tmp_path / "lever-home"
    old = os.umask(0o022)
    try:
        writer = RolloutWriter.create(home, new_session_id())
        writer.close()
        SessionIndex(home).close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(writer.path.stat().st_mode) == 0o600
    for folder in (writer.path.parent, *writer.path.parents[:4]):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE((home / INDEX_FILE).stat().st_mode) & 0o077 == 0


def test_an_older_world_readable_rollout_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "sessions" / "2026" / "01" / "01" / "rollout-x.jsonl"
    path.parent.mkdir(parents=True, mode=0o755)
    path.write_text("")
    path.chmod(0o644)
    RolloutWriter(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_config_read_redacts_urls_and_mcp_env(
    clients: list[RpcClient],  # noqa: F811
    env: dict[str, str],  # noqa: F811
    repo: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    client = connect(clients, env, repo, tmp_path / "server.log")
    overrides = [
        'mcp_servers.db.command="db-mcp"',
        'mcp_servers.db.env={PG_CONN="dbname=x", REGION="eu"}',
        'mcp_servers.web.url="https://bot:hunter2-url@mcp.example.com/sse"',
        'providers.corp.base_url="https://svc:corp-pw-1@llm.corp/v1"',
        # A token-shaped value is redacted whatever its key is called.
        'shell_environment.set.GREETING="xoxb-1234567890-abcdefghijklmnop"',
        'model="gpt-x"',
    ]
    config = client.result("config/read", {"cwd": str(repo), "config": overrides})["config"]
    assert config["mcp_servers"]["db"] == {
        "command": "db-mcp",
        "env": {"PG_CONN": "***", "REGION": "***"},
    }
    assert config["mcp_servers"]["web"]["url"] == "https://bot:***@mcp.example.com/sse"
    assert config["providers"]["corp"]["base_url"] == "https://svc:***@llm.corp/v1"
    greeting = config["shell_environment"]["set"]["GREETING"]
    assert greeting == "***" and config["model"] == "gpt-x"
    text = str(config)
    for secret in ("hunter2-url", "corp-pw-1", "dbname=x", "xoxb-"):
        assert secret not in text
    assert client.close() == 0


def test_tui_plan_and_review_text_is_stripped() -> None:
    from lever.protocol import PlanStep
    from lever.tui.plan import plan_text

    text = plan_text(
        [PlanStep(step=f"fix{HOSTILE['osc52 clipboard']}", status="pending")], "why\x1b[2J"
    )
    assert text.plain == "plan (0/1 done)\n · fix\n why"
