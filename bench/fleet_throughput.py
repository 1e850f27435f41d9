"""Fleet throughput: N trivial attempts (default 100) with an instant model, per concurrency.

    uv run python bench/fleet_throughput.py [--attempts 100] [--concurrency 1 2 4 8]
                                            [--executor local|ray] [--ray-repo bundle]

Each level is one `lever fleet run -k N` in a fresh git repository against a fake model (its own
process) that answers every request at once with a final message; the verify command is `true`.
Prints one JSON line per level: attempts per second, wall time, peak RSS of the lever process
(or any one of its descendants), and the mean per-attempt overhead broken out from the run's
results (`workspace`: worktree creation and base tree; `session_start`: building the session;
`turn`: the session's turn, its start excluded; `verify`: the verification command in the
sandbox; `unpack`: with `--ray-repo bundle`, the bundle unpacked and cloned on the worker),
and the 1-minute load average before and after the level: the machine may be shared,
so label the figures with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import run_process
from fake_server import start_fake_model


def make_repo(folder: Path) -> Path:
    repo = folder / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("bench\n")
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "x"],
        cwd=repo,
        check=True,
    )
    return repo


def one_level(
    attempts: int, concurrency: int, executor: str, ray_repo: str = "auto"
) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="lever-fleet-bench-"))
    server, base_url = start_fake_model([{"text": "done"}] * attempts, folder)
    try:
        repo = make_repo(folder)
        home = folder / "home"
        env = {**os.environ, "LEVER_HOME": str(home), "RAY_TMPDIR": str(folder)}
        lever = shutil.which("lever") or "lever"
        model = ["--provider", "openai-responses", "--base-url", base_url, "--model", "m"]
        argv = [lever, "fleet", "run", "noop", "-k", str(attempts), "--verify", "true",
                "--concurrency", str(concurrency), "--executor", executor, *model]  # fmt: skip
        if executor == "ray":
            argv += ["--ray-repo", ray_repo]
        run = run_process(argv, cwd=repo, env=env, timeout=3600)
        (results,) = home.glob("fleets/*/results.json")
        data = json.loads(results.read_text())["attempts"]
        subprocess.run([lever, "fleet", "clean", results.parent.name], env=env, cwd=repo,
                       capture_output=True, check=False)  # fmt: skip
    finally:
        server.kill()
        shutil.rmtree(folder, ignore_errors=True)
    passed = sum(a["status"] == "passed" for a in data)
    for a in data:  # the turn alone: `session` is measured from before the session's start
        t = a["timings"]
        t["turn"] = t.get("session", 0.0) - t.get("session_start", 0.0)
    parts = ("workspace", "session_start", "turn", "verify", "unpack")  # unpack: --ray-repo bundle
    return {
        "executor": executor if executor == "local" else f"ray ({ray_repo})",
        "concurrency": concurrency,
        "attempts": attempts,
        "passed": passed,
        "exit": run.returncode,
        "wall_s": round(run.wall_s, 2),
        "attempts_per_s": round(attempts / run.wall_s, 2),
        "peak_rss_mb": round(run.max_rss_mb, 1),
        "load_avg_1m": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "mean_ms": {
            p: round(1000 * statistics.fmean(a["timings"].get(p, 0.0) for a in data), 1)
            for p in parts
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=100)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--executor", choices=("local", "ray"), default="local")
    parser.add_argument("--ray-repo", choices=("auto", "shared", "bundle"), default="auto")
    args = parser.parse_args()
    for level in args.concurrency:
        print(json.dumps(one_level(args.attempts, level, args.executor, args.ray_repo)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
