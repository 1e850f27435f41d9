"""Start lever's fake model server in its own process, so its request log is not counted.

Also: the recorded request bodies (bytes, as received) and the byte figures computed from them.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any


def start_fake_model(
    turns: list[dict[str, Any]], folder: Path
) -> tuple[subprocess.Popen[str], str]:
    """(process, base URL) of a fake model server playing `turns`; kill the process when done."""
    script = folder / "script.json"
    script.write_text(json.dumps({"turns": turns}))
    server = subprocess.Popen(
        [sys.executable, "-m", "lever.testing.fake_model", "--script", str(script)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def recorded_requests(base_url: str) -> list[tuple[float, bytes]]:
    """(arrival time, raw body) of every model request the server at `base_url` received."""
    url = base_url.removesuffix("/v1") + "/_fake/requests?raw=1"
    proxyless = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    with proxyless.open(url, timeout=60) as response:
        records = json.load(response)
    return [
        (r["received"], base64.b64decode(r["raw_b64"])) for r in records if r["method"] == "POST"
    ]


def _history(body: bytes) -> list[Any]:
    data = json.loads(body)
    return data.get("input") or data.get("messages") or []


def common_prefix(a: bytes, b: bytes) -> int:
    """Length of the longest common prefix (binary search over memcmp'd slices)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def byte_figures(bodies: list[bytes]) -> dict[str, Any]:
    """Total bytes, bytes of requests 1, 10, 100, and the shared-prefix fraction.

    The fraction is, over consecutive requests, the bytes of the previous request that the next
    one repeats as its prefix, divided by the previous request's size (byte-weighted mean; the
    worst pair too). 1.0 means every request extends the previous one (append-only).
    """
    sizes = [len(b) for b in bodies]
    shared = [common_prefix(p, n) for p, n in itertools.pairwise(bodies)]
    previous = sizes[:-1]
    return {
        "requests": len(bodies),
        "total_bytes": sum(sizes),
        "request_bytes": {str(i): sizes[i - 1] for i in (1, 10, 100) if i <= len(sizes)},
        "prefix_fraction": sum(shared) / sum(previous) if previous else None,
        "prefix_fraction_min": min(
            (s / p for s, p in zip(shared, previous, strict=True) if p), default=None
        ),
        "history_append_only": _append_only(bodies),
    }


def _append_only(bodies: list[bytes]) -> float | None:
    """Share of consecutive pairs whose conversation (`input` or `messages`) only grew."""
    histories = [_history(b) for b in bodies]
    pairs = list(itertools.pairwise(histories))
    if not pairs:
        return None
    return sum(n[: len(p)] == p for p, n in pairs) / len(pairs)
