"""`lever serve` as a user runs it: a real uvicorn on a real socket."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..e2e.conftest import lever_bin
from .conftest import SESSION_ID, recorded_events, write_session


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    home = tmp_path / "home"
    write_session(home, recorded_events(tmp_path))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVER_")}
    env["LEVER_HOME"] = str(home)
    process = subprocess.Popen(
        [lever_bin(), "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process, process.stdout.readline().split(": ", 1)[1].strip()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


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
