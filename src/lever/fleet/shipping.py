"""The repository shipped to Ray workers that do not share the driver's file system.

The driver packs, once per run, a gzipped tar of: `repo.bundle` (`git bundle create … HEAD`,
the history up to HEAD) or `tree/` (a copy of a folder without git), plus `base/` (the run's
snapshot of uncommitted changes and untracked files). Ray stores it once in its object store;
every attempt's task receives it. On the worker, an attempt that does not see the run's folder
(or is told to use the bundle) unpacks it into a fresh temporary folder, clones the bundle,
makes its worktree there, runs the same `run_attempt`, and sends back its result with the
diff, the verification output and the rollout inline; the temporary folder is removed before
the task returns. The driver writes those files into the run's folder (`attempts/`,
`rollouts/`), so `show`, `apply` and `resume` work as for any attempt.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import tarfile
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from lever.fleet import workspace
from lever.fleet.attempt import AttemptResult, AttemptSpec, run_attempt

#: `--ray-repo`: how workers reach the repository.
MODES = ("auto", "shared", "bundle")


def pack(source: workspace.Source, snapshot: Path) -> bytes:
    """The run's repository and snapshot as one gzipped tar (made once, by the driver)."""
    with tempfile.TemporaryDirectory(prefix="lever-fleet-pack-") as tmp:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            if source.git:
                bundle = Path(tmp) / "repo.bundle"
                workspace.git(source.root, "bundle", "create", "-q", str(bundle), "HEAD")
                tar.add(bundle, "repo.bundle")
            else:
                tar.add(source.root, "tree")
            if snapshot.is_dir():
                tar.add(snapshot, "base")
        return buffer.getvalue()


def run_shipped(spec: AttemptSpec, payload: bytes | None, force: bool) -> dict[str, Any]:
    """A Ray task's body: the attempt on the shared path when this worker sees the run's
    folder (and the bundle is not forced), else in a private unpacked copy."""
    manifest = spec.files.parent / "manifest.json"
    if payload is None or (not force and manifest.is_file() and spec.source.root.is_dir()):
        return asyncio.run(run_attempt(spec)).to_json()
    with tempfile.TemporaryDirectory(prefix="lever-fleet-") as tmp:
        began = time.monotonic()
        local = _unpack(spec, payload, Path(tmp))
        unpacked = round(time.monotonic() - began, 3)
        result = asyncio.run(run_attempt(local))
        result.timings["unpack"] = unpacked  # the bundle unpacked and cloned
        result.seconds = round(result.seconds + unpacked, 3)
        data = result.to_json()
        data["shipped"] = {
            "diff": _text(result.diff),
            "verify": _text(str(local.files / f"{spec.key}.verify.txt")),
            "rollout": _text(result.rollout),
        }
        if spec.source.git:
            # The worktree is inside `tmp`; its branch lives in the private clone: both go.
            subprocess.run(["git", "-C", str(local.source.root), "worktree", "prune"], check=False)
    return data


def _unpack(spec: AttemptSpec, payload: bytes, tmp: Path) -> AttemptSpec:
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as tar:
        # The "tar" filter (Python 3.11.4+) refuses absolute paths and links out of `tmp`.
        safe: dict[str, Any] = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
        tar.extractall(tmp, **safe)
    if spec.source.git:
        root = tmp / "repo"
        subprocess.run(
            ["git", "clone", "-q", "--no-checkout", str(tmp / "repo.bundle"), str(root)],
            check=True,
            capture_output=True,
        )
    else:
        root = tmp / "tree"
    source = replace(spec.source, root=root)
    key = f"{spec.task.id}/{spec.n}"
    return replace(
        spec,
        source=source,
        snapshot=tmp / "base",
        path=tmp / "worktrees" / key,
        git_dir=tmp / "gitdirs" / spec.key,
        files=tmp / "attempts",
    )


def _text(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def receive(data: dict[str, Any], spec: AttemptSpec) -> AttemptResult:
    """The driver's side: the attempt's files written into the run's folder, the result
    pointing at them."""
    shipped = data.pop("shipped", None)
    result = AttemptResult.from_json(data)
    if not shipped:
        return result
    spec.files.mkdir(parents=True, exist_ok=True)
    if shipped["diff"] is not None:
        path = spec.files / f"{spec.key}.diff"
        path.write_text(shipped["diff"], encoding="utf-8")
        result.diff = str(path)
    if shipped["verify"] is not None:
        (spec.files / f"{spec.key}.verify.txt").write_text(shipped["verify"], encoding="utf-8")
    if shipped["rollout"] is not None:
        rollouts = spec.files.parent / "rollouts"
        rollouts.mkdir(exist_ok=True)
        path = rollouts / f"{spec.key}.jsonl"
        path.write_text(shipped["rollout"], encoding="utf-8")
        result.rollout = str(path)
    return result
