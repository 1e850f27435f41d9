"""`lever fleet show | apply | clean | list`: reading a recorded run and acting on it."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lever.fleet import store, workspace
from lever.fleet.attempt import AttemptResult

COLUMNS = (
    "task",
    "attempt",
    "result",
    "verify",
    "exit",
    "files",
    "+",
    "-",
    "tokens",
    "turns",
    "seconds",
    "chosen",
)


class ApplyError(RuntimeError):
    """The chosen diff cannot be applied (exit 1), with what to do about it."""


@dataclass
class Recorded:
    folder: Path
    manifest: dict[str, Any]
    results: list[AttemptResult]
    chosen: dict[str, int | None]

    @classmethod
    def load(cls, home: Path, run: str) -> Recorded:
        folder = store.find_run(home, run)
        manifest = store.read_json(folder / "manifest.json")
        data: dict[str, Any] = {"attempts": [], "chosen": {}}
        if (folder / "results.json").is_file():
            data = store.read_json(folder / "results.json")
        results = [AttemptResult.from_json(r) for r in data["attempts"]]
        return cls(folder, manifest, results, data["chosen"])

    def result(self, task: str, attempt: int) -> AttemptResult | None:
        return next((r for r in self.results if (r.task, r.attempt) == (task, attempt)), None)


def table(results: list[AttemptResult], chosen: dict[str, int | None]) -> str:
    """The results as a plain, aligned table (stable for scripts and tests)."""
    rows = [list(COLUMNS)]
    for r in sorted(results, key=lambda r: (r.task, r.attempt)):
        rows.append([
            r.task, str(r.attempt), r.status,
            "-" if r.verify_exit is None else str(r.verify_exit),
            "-" if r.exit_code is None else str(r.exit_code),
            str(r.files), str(r.added), str(r.removed), str(r.tokens), str(r.turns),
            f"{r.seconds:.1f}", "*" if chosen.get(r.task) == r.attempt else "",
        ])  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def show(home: Path, run: str) -> str:
    rec = Recorded.load(home, run)
    m = rec.manifest
    lines = [
        f"run {m['run']} ({m.get('status', '?')}): {len(m['tasks'])} tasks x {m['k']} attempts, "
        f"{m['provider']}/{m['model']}, {m['executor']} executor, in {m['root']}",
        table(rec.results, rec.chosen),
    ]
    for task in m["tasks"]:
        n = rec.chosen.get(task["id"])
        result = rec.result(task["id"], n) if n is not None else None
        if result is None:
            lines.append(f"\n== {task['id']}: no attempt passed")
            continue
        diff = Path(result.diff).read_text(encoding="utf-8") if result.diff else ""
        lines.append(
            f"\n== {task['id']}: attempt {n}, {result.files} files, "
            f"+{result.added} -{result.removed}"
        )
        lines.append(diff.rstrip("\n") or "(no changes)")
    return "\n".join(lines)


def picks(rec: Recorded, task: str | None, attempt: int | None) -> list[AttemptResult | str]:
    """The attempts `apply` applies: the chosen one of each task (the id of a task without
    one), or the one asked for."""
    ids = [t["id"] for t in rec.manifest["tasks"]]
    if task is not None and task not in ids:
        raise ApplyError(f"run {rec.manifest['run']} has no task {task!r} ({', '.join(ids)})")
    if attempt is not None and task is None:
        if len(ids) != 1:
            raise ApplyError("--attempt needs --task when the run has several tasks")
        task = ids[0]
    wanted = [task] if task is not None else ids
    chosen: list[AttemptResult | str] = []
    for t in wanted:
        n = attempt if attempt is not None else rec.chosen.get(t)
        result = rec.result(t, n) if n is not None else None
        if result is not None and result.diff is not None:
            chosen.append(result)
        elif task is None:
            chosen.append(t)  # every task asked for: one without a passing attempt is skipped
        else:
            what = f"no attempt {n}" if attempt is not None else "no passing attempt"
            raise ApplyError(f"task {t}: {what} to apply")
    return chosen


def apply(home: Path, run: str, task: str | None, attempt: int | None) -> list[str]:
    """Apply the chosen diffs to the person's tree; each is checked before it is applied, so
    a diff that conflicts with uncommitted changes is refused and nothing of it is written."""
    rec = Recorded.load(home, run)
    root = Path(rec.manifest["root"])
    done = []
    for result in picks(rec, task, attempt):
        if isinstance(result, str):
            done.append(f"task {result}: no passing attempt, skipped")
            continue
        assert result.diff is not None
        name = f"task {result.task} attempt {result.attempt}"
        if not Path(result.diff).read_text(encoding="utf-8").strip():
            done.append(f"{name}: no changes")
            continue
        check = _git_apply(root, "--check", result.diff)
        if check.returncode != 0:
            why = check.stderr.strip().replace("\n", "; ")
            applied = f" (already applied: {', '.join(done)})" if done else ""
            raise ApplyError(
                f"{name} does not apply cleanly to {root}: {why}. Nothing of it was written"
                f"{applied}; commit or stash your changes, or apply {result.diff} yourself"
            )
        applied_now = _git_apply(root, None, result.diff)
        if applied_now.returncode != 0:
            raise ApplyError(f"{name}: git apply failed: {applied_now.stderr.strip()}")
        done.append(f"{name}: applied ({result.files} files, +{result.added} -{result.removed})")
    return done


def _git_apply(root: Path, flag: str | None, diff: str) -> subprocess.CompletedProcess[str]:
    argv = ["git", "-C", str(root), "apply", "--binary", *([flag] if flag else []), diff]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def clean(home: Path, run: str) -> list[str]:
    """Remove the run's worktrees (or copies) and branches; the records stay for `show`.

    Refused while the run's driver lives: its attempts would lose their worktrees mid-run."""
    rec = Recorded.load(home, run)
    m = rec.manifest
    pid = store.live_driver(m)
    if pid is not None:
        raise ApplyError(
            f"run {m['run']} is still running (lever pid {pid}): interrupt it (Ctrl-C, or "
            f"`kill -INT {pid}`) or wait for it to end, then clean"
        )
    root, is_git = Path(m["root"]), bool(m["git"])
    removed: list[str] = []
    for a in m["attempts"]:
        removed += workspace.remove(root, is_git, Path(a["path"]), a["branch"])
    if is_git and root.is_dir():
        workspace.git(root, "worktree", "prune")
    for folder in ("worktrees", "gitdirs"):
        path = rec.folder / folder
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
    m["cleaned"] = True
    store.write_json(rec.folder / "manifest.json", m)
    return removed


def list_runs(home: Path) -> list[str]:
    lines = []
    for folder in store.all_runs(home):
        m = store.read_json(folder / "manifest.json")
        results = []
        if (folder / "results.json").is_file():
            results = store.read_json(folder / "results.json")["attempts"]
        passed = sum(r["status"] == "passed" for r in results)
        cleaned = ", cleaned" if m.get("cleaned") else ""
        lines.append(
            f"{m['run']}  {m['created']}  {m.get('status', '?')}{cleaned}  "
            f"{len(m['tasks'])} tasks x {m['k']}  {passed}/{len(results)} passed  {m['root']}"
        )
    return lines
