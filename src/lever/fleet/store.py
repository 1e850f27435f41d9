"""A run's files under `$LEVER_HOME/fleets/RUN/`: `manifest.json` (what was asked, every
workspace and branch — written before any is made, so `clean` finds them after a crash),
`results.json` (one entry per finished attempt, rewritten as each finishes), `attempts/`
(diffs, verification output) and `worktrees/`. Every JSON write is atomic (tmp + rename).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any


class RunNotFound(LookupError):
    pass


def fleets_dir(home: Path) -> Path:
    return home / "fleets"


def new_run_id() -> str:
    # Sortable by time, unique across concurrent runs; short enough to type.
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def find_run(home: Path, run: str) -> Path:
    """The run's folder, by its id or a unique prefix of it."""
    root = fleets_dir(home)
    exact = root / run
    if run and "/" not in run and (exact / "manifest.json").is_file():
        return exact
    matches = sorted(p for p in root.glob(f"{run}*") if (p / "manifest.json").is_file())
    if len(matches) == 1 and run:
        return matches[0]
    if not matches or not run:
        raise RunNotFound(f"no fleet run {run!r} (see `lever fleet list`)")
    names = ", ".join(p.name for p in matches[:5])
    raise RunNotFound(f"{run!r} matches several runs: {names}")


def all_runs(home: Path) -> list[Path]:
    root = fleets_dir(home)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "manifest.json").is_file())


def live_driver(manifest: dict[str, Any]) -> int | None:
    """The pid of the lever process driving a run recorded as running (another process than
    this one), or None when it has ended: a run whose driver died stays `running` on disk."""
    pid = manifest.get("driver", {}).get("pid")
    if manifest.get("status") == "running" and pid and pid != os.getpid() and _is_lever(pid):
        return int(pid)
    return None


def _is_lever(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rpartition(")")[2].split()[0] == "Z":
            return False
        return b"lever" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
