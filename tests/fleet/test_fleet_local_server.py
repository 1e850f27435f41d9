"""`--provider local` on a fleet: ONE llama-server for the whole run, started once with a slot
per concurrent attempt (`-np`, context scaled), stopped when the run ends. A stub binary
stands in for llama-server (the real one is tests/local's): it records its arguments, answers
`/health` and plays the fake model, counting how many requests it serves at once."""

from __future__ import annotations

import json
import sys
import time

from lever.testing.procs import alive

from .conftest import run_id_of, run_lever

STUB = r"""#!PYTHON
import json, os, sys, threading, time
from lever.testing import fake_http
from lever.testing.fake_model import FakeModelServer

argv = sys.argv[1:]
port = int(argv[argv.index("--port") + 1])
record = os.environ["STUB_LOG"]
lock = threading.Lock()
state = {"now": 0, "most": 0}

def write():
    with open(record, "w") as f:
        json.dump({"pid": os.getpid(), "argv": argv, "most": state["most"]}, f)

def respond(body):
    with lock:
        state["now"] += 1
        state["most"] = max(state["most"], state["now"])
        write()
    time.sleep(1.0)  # a slow model: the attempts' requests overlap
    with lock:
        state["now"] -= 1
    return {"text": "done", "usage": {"input_tokens": 10, "output_tokens": 0}}

plain_get = fake_http.Handler.do_GET
def do_get(self):
    if self.path == "/health":
        self._send_json(200, {"status": "ok"})
    else:
        plain_get(self)
fake_http.Handler.do_GET = do_get

with open(os.environ["STUB_STARTS"], "a") as f:
    f.write(" ".join(argv) + "\n")
write()
server = FakeModelServer(responder=respond, port=port, check_pairing=False).start()
while True:
    time.sleep(3600)
"""


def test_one_server_with_a_slot_per_attempt_for_the_run(repo, env, lever_home, tmp_path):
    log, starts = tmp_path / "stub.json", tmp_path / "starts.txt"
    env["STUB_LOG"], env["STUB_STARTS"] = str(log), str(starts)
    binary = tmp_path / "bin" / "llama-server"
    binary.parent.mkdir()
    binary.write_text(STUB.replace("PYTHON", sys.executable, 1))
    binary.chmod(0o755)
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    result = run_lever(
        "fleet", "run", "a", "b", "-k", "2", "--concurrency", "3", "--provider", "local",
        "-c", f'local.gguf="{gguf}"', "-c", f'local.server_bin="{binary}"',
        "-c", "local.ctx_size=4096", env=env, cwd=repo,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "started llama-server (tiny.gguf, 3 parallel slots)" in result.stderr
    assert "3 parallel slots: the model's throughput, not lever, is the bottleneck" in result.stderr
    # Started once for the four attempts, with 3 slots of 4096 tokens each.
    (command,) = starts.read_text().splitlines()
    args = command.split()
    assert args[args.index("-np") + 1] == "3" and args[args.index("-c") + 1] == "12288"
    stub = json.loads(log.read_text())
    assert stub["most"] >= 2, stub  # the attempts shared it at once
    # Stopped when the run ended.
    deadline = time.monotonic() + 10
    while alive(stub["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(stub["pid"])
    folder = lever_home / "fleets" / run_id_of(result.stderr)
    results = json.loads((folder / "results.json").read_text())
    assert [a["status"] for a in results["attempts"]] == ["passed"] * 4
