"""`lever serve` as a user runs it: a real uvicorn on a real socket."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import SESSION_ID, recorded_events, write_session
from .serving import lever_serve, serve_env


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    home = tmp_path / "home"
    write_session(home, recorded_events(tmp_path))
    with lever_serve(serve_env(home)) as served:
        yield served


def test_ctrl_c_stops_the_server_even_with_a_page_streaming(served) -> None:
    process, url = served
    base, token = url.split("/?token=")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        assert client.get("/api/sessions").json()[0]["id"] == SESSION_ID
        with client.stream("GET", f"/api/sessions/{SESSION_ID}/events") as stream:
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith("id: ")) == "id: 1"
            process.send_signal(signal.SIGINT)
            started = time.monotonic()
            assert process.wait(10) == 0
            assert time.monotonic() - started < 4  # the open stream did not hold it up
    assert process.stderr is not None
    assert "Traceback" not in process.stderr.read()


def test_a_rebinding_host_is_refused_over_real_http(served) -> None:
    """What a DNS-rebinding page would send: the right address, its own host name."""
    _, url = served
    base, token = url.split("/?token=")
    port = base.rsplit(":", 1)[1]
    headers = {"Authorization": f"Bearer {token}", "Host": f"attacker.example:{port}"}
    assert httpx.get(base + "/api/sessions", headers=headers).status_code == 403
    headers["Host"] = f"localhost:{port}"
    assert httpx.get(base + "/api/sessions", headers=headers).status_code == 200


def test_registering_serve_imports_no_web_framework() -> None:
    """`lever --help` stays fast: FastAPI and uvicorn load only when `lever serve` runs."""
    import sys

    code = (
        "import sys; from lever.cli.main import build_parser; build_parser(); "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'lever.dashboard') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def processes_running(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().decode():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_ctrl_c_interrupts_the_tasks_it_runs(served, tmp_path) -> None:
    """A task runs inside the server: stopping the server ends its turn as interrupted,
    closes the session and kills its command."""
    from lever.store.rollout import read_rollout
    from lever.testing.fake_model import FakeModelServer

    process, url = served
    base, token = url.split("/?token=")
    marker = "sleep 61.25"
    script = [{"tool_calls": [{"name": "shell", "arguments": {"command": marker}}]}]
    with FakeModelServer([*script, {"text": "unused"}]) as model:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
            page = client.get("/").text
            csrf = page.split('name="lever-csrf" content="')[1].split('"')[0]
            body = {"prompt": "wait", "cwd": str(tmp_path), "model": "m"}
            body["base_url"] = model.base_url
            task = client.post("/api/tasks", json=body, headers={"X-Lever-CSRF": csrf}, timeout=60)
            assert task.status_code == 200, task.text
            sid = task.json()["session_id"]
            for _ in range(300):
                if processes_running(marker):
                    break
                time.sleep(0.1)
            assert processes_running(marker), "the command never started"
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    rollout = next((tmp_path / "home").glob(f"sessions/*/*/*/rollout-{sid}.jsonl"))
    events = list(read_rollout(rollout))
    assert [e.reason for e in events if e.type == "turn_finished"] == ["interrupted"]
    assert events[-1].type == "session_ended"
    for _ in range(100):  # bubblewrap's pid namespace may take a moment to be torn down
        if not processes_running(marker):
            break
        time.sleep(0.1)
    assert processes_running(marker) == []
