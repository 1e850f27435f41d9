"""SIGTERM ends `lever app-server` cleanly: its sessions close and their processes die."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from lever.testing.fake_model import FakeModelServer

from .rpc_client import RpcClient, connect
from .test_close_and_concurrency import gone, new_session, pid_in, shell, sleeper


def test_sigterm_kills_the_background_processes_of_every_session(
    clients: list[RpcClient], env: dict[str, str], repo: Path, tmp_path: Path
) -> None:
    pid_file = repo / "background.pid"
    script = [
        shell("call_bg", command=sleeper(pid_file), yield_ms=300),
        {"text": "The sleeper runs in the background."},
    ]
    with FakeModelServer(script) as model:
        client = connect(clients, env, repo, tmp_path / "server.log")
        sid = new_session(client, repo, model.base_url)
        client.result("turn/send", {"session_id": sid, "text": "start a sleeper"})
        assert client.wait_event("turn_finished")["reason"] == "done"
        sleeper_pid = pid_in(pid_file)
        client.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        while client.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.proc.returncode == 0
    assert gone(sleeper_pid), "a background process outlived the app-server"
