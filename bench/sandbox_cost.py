"""Sandbox overhead per command: `true` run through each mechanism's `wrap()`, median of many."""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from lever.sandbox.base import NoSandbox, SandboxPolicy
from lever.sandbox.env import command_env
from lever.sandbox.factory import make_sandbox


def _median_ms(argv: list[str], cwd: Path, env: dict[str, str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, check=True, stdin=subprocess.DEVNULL)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def sandbox_figures(runs: int) -> dict[str, Any]:
    """{mechanism: {"median_ms", "ratio"} or {"error"}}; "none" is `true` run as it is."""
    import os

    env = command_env(os.environ)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        policy = SandboxPolicy(mode="workspace-write", writable_roots=(folder,))
        base = _median_ms(NoSandbox(policy).wrap(["true"], folder, env), folder, env, runs)
        out["none"] = {"median_ms": base, "ratio": 1.0}
        for mechanism in ("bwrap", "landlock"):
            try:
                sandbox = make_sandbox(policy, mechanism=mechanism)
                argv = sandbox.wrap(["true"], folder, env)
                ms = _median_ms(argv, folder, env, runs)
            except Exception as exc:  # unavailable here: the table says why
                out[mechanism] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
                continue
            out[mechanism] = {"median_ms": ms, "ratio": ms / base, "overhead_ms": ms - base}
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(sandbox_figures(50), indent=1))
