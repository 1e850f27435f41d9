"""One llama-server for the real-model eval and best-of-k runs, behind a proxy that seeds.

`lever local serve` starts the server greedy (`--temp 0`) and lever's requests name no sampling
settings, so k attempts at one task would all be the same. Here the server samples
(`--temp T`), and the proxy in front of it (bench/real_proxy.py, which records every request)
writes `"seed": SEED + i` into the i-th chat request, so every request is drawn with a known
seed: with one attempt at a time (concurrency 1) the request order, and so each request's
seed, is the same on a rerun. (llama.cpp on a CPU is not bit-reproducible across prompt-cache
states, so a rerun can still drift; the seeds say which draw each request was.)

    uv run python bench/real_serve.py --temp 0.7 --seed 1000 --log bench/results/x
    # prints the base URL for `--provider local --base-url URL`; Ctrl-C stops it

Every request's seed, token figures and times are appended to LOG/requests.jsonl.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from real_proxy import RecordingProxy

from lever.local.manage import LocalOptions, resolve_gguf
from lever.local.server import (
    ServerSpec,
    find_server_binary,
    free_port,
    start,
    stop_process,
    wait_healthy,
)


class SeedingProxy(RecordingProxy):
    """RecordingProxy that gives the i-th chat request `seed` = base + i (and logs it)."""

    def __init__(self, upstream: str, base_seed: int, log: Path) -> None:
        super().__init__(upstream)
        self.base_seed = base_seed
        self.count = 0
        self.seeds: list[int] = []
        self.log = log
        self._seed_lock = threading.Lock()

    def rewrite(self, body: bytes) -> bytes:
        try:
            request = json.loads(body)
        except ValueError:
            return body
        if not isinstance(request, dict) or ("messages" not in request and "input" not in request):
            return body
        with self._seed_lock:
            seed = self.base_seed + self.count
            self.count += 1
            self.seeds.append(seed)
        request["seed"] = seed
        return json.dumps(request).encode()

    def flush(self) -> None:
        """Append the exchanges finished since the last flush to the log, with their seeds."""
        exchanges, bodies = self.take()
        with self.log.open("a") as out, self.log.with_suffix(".bodies.jsonl").open("a") as raw:
            for exchange, (body, reply) in zip(exchanges, bodies, strict=True):
                raw.write(json.dumps({"request": body.decode(), "reply": reply.decode()}) + "\n")
                row: dict[str, Any] = exchange.summary()
                try:
                    row["seed"] = json.loads(body).get("seed")
                except (ValueError, AttributeError):
                    row["seed"] = None
                out.write(json.dumps(row) + "\n")


def start_server(
    model: str, temperature: float, folder: Path, parallel: int = 1
) -> tuple[subprocess.Popen[bytes], str, list[str]]:
    """llama-server as `lever local serve` starts it, but sampling at `temperature`, with
    `parallel` slots of 8192 tokens each (a later `-np`/`-c` overrides the spec's own)."""
    spec = ServerSpec(
        gguf=resolve_gguf(LocalOptions(model=model)),
        binary=find_server_binary(None),
        port=free_port(),
        temperature=temperature,
        extra_args=("-np", str(parallel), "-c", str(8192 * parallel)) if parallel > 1 else (),
    )
    process = start(spec, folder / "llama-server.log")
    wait_healthy(process, spec.port, folder / "llama-server.log")
    return process, f"http://127.0.0.1:{spec.port}/v1", spec.command()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="1.5b")
    parser.add_argument("--temp", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=1, help="server slots (-np)")
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    args.log.mkdir(parents=True, exist_ok=True)
    process, upstream, argv = start_server(args.model, args.temp, args.log, args.parallel)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        with SeedingProxy(upstream, args.seed, args.log / "requests.jsonl") as proxy:
            print(json.dumps({"base_url": proxy.base_url, "server": argv}), flush=True)
            while True:
                time.sleep(2)
                proxy.flush()
    except KeyboardInterrupt:
        pass
    finally:
        stop_process(process.pid, process)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
