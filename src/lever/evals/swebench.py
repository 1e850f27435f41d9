"""SWE-bench-style JSONL -> tasks (docs/evals.md, "SWE-bench import").

A line holds `instance_id`, `repo`, `base_commit`, `problem_statement`, `patch` (the gold fix),
`test_patch`, `FAIL_TO_PASS`, `PASS_TO_PASS` (lists, or JSON strings of lists as in the
published datasets), `version`, `environment_setup_commit`. The task:

- starts from the repository at `base_commit`, taken from `--source`: a local git repository
  holding that commit, or a folder of sdists where the file for the line's `sdist` key
  (`NAME==VERSION`, a lever extension: the release the fix was made against) is found — as
  `pip download --no-binary :all: --no-deps NAME==VERSION -d FOLDER` leaves it; no Docker;
- gives the agent only `problem_statement`;
- after the agent, puts the files of `test_patch` (applied to the base) over the workspace —
  SWE-bench's harness likewise resets the test files and applies the test patch — and runs the
  FAIL_TO_PASS and PASS_TO_PASS tests in one pytest run: resolved when every one passes;
- has `patch` as its reference solution (`--oracle` applies it).
"""

from __future__ import annotations

import atexit
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

#: The keys a line must have (the rest of SWE-bench's are optional here).
REQUIRED = ("instance_id", "repo", "base_commit", "problem_statement", "patch", "test_patch")
#: SWE-bench's own keys besides those, and lever's extensions (sdist, timeout, tags, setup).
KNOWN = (
    *REQUIRED,
    "FAIL_TO_PASS",
    "PASS_TO_PASS",
    "version",
    "environment_setup_commit",
    "hints_text",
    "created_at",
    "sdist",
    "timeout",
    "tags",
    "setup",
)
DEFAULT_SOURCE = Path("~/.cache/lever/sdists")


def is_instance(data: dict[str, Any]) -> bool:
    return "instance_id" in data


def instance_to_task(data: dict[str, Any], where: str, source: Path | None) -> dict[str, Any]:
    """The task (as `task.toml` keys) of one SWE-bench line; raises TaskError."""
    from lever.evals.tasks import TaskError

    missing = [key for key in REQUIRED if not isinstance(data.get(key), str)]
    if missing:
        raise TaskError(f"{where}: key {missing[0]!r}: required (a string) in a SWE-bench line")
    unknown = sorted(set(data) - set(KNOWN))
    if unknown:
        raise TaskError(f"{where}: key {unknown[0]!r}: not a SWE-bench key")
    folder = _task_folder(data["instance_id"])
    task: dict[str, Any] = {
        "id": data["instance_id"],
        "instruction": data["problem_statement"],
        "fail_to_pass": _test_ids(data.get("FAIL_TO_PASS", []), f"{where}: key 'FAIL_TO_PASS'"),
        "pass_to_pass": _test_ids(data.get("PASS_TO_PASS", []), f"{where}: key 'PASS_TO_PASS'"),
        "tags": ["swe-bench", data["repo"], *data.get("tags", [])],
        "setup": data.get("setup", []),
        "root": folder,
    }
    if "timeout" in data:
        task["timeout"] = data["timeout"]
    base = _base(data, where, source or DEFAULT_SOURCE.expanduser(), folder, task)
    (folder / "solution.patch").write_text(data["patch"], encoding="utf-8")
    task["solution"] = folder / "solution.patch"
    task["grade_files"] = _grade_files(base, data["test_patch"], folder, where)
    return task


def _test_ids(value: Any, where: str) -> list[str]:
    from lever.evals.tasks import TaskError

    if isinstance(value, str):  # the published datasets store the lists as JSON text
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise TaskError(f"{where}: not a JSON list of test ids") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TaskError(f"{where}: must be a list of test ids")
    return value


_FOLDERS: list[Path] = []


def _task_folder(instance_id: str) -> Path:
    """A private folder per instance, removed when lever exits."""
    if not _FOLDERS:
        _FOLDERS.append(Path(tempfile.mkdtemp(prefix="lever-swebench-")))
        atexit.register(shutil.rmtree, _FOLDERS[0], True)
    folder = Path(tempfile.mkdtemp(prefix=re.sub(r"[^\w.-]", "_", instance_id), dir=_FOLDERS[0]))
    return folder


def _base(
    data: dict[str, Any], where: str, source: Path, folder: Path, task: dict[str, Any]
) -> Path:
    """The base tree as files under `folder/repo` (sdist), or the git source (repo + commit)."""
    from lever.evals.tasks import TaskError

    if (source / ".git").exists():
        task["repo"], task["base_commit"] = source.resolve(), data["base_commit"]
        base = folder / "base"
        _run(["git", "clone", "-q", "--no-checkout", str(source), str(base)], where)
        _run(["git", "-C", str(base), "checkout", "-q", data["base_commit"]], where)
        return base
    spec = data.get("sdist")
    if not isinstance(spec, str) or "==" not in spec:
        raise TaskError(
            f"{where}: --source {source} is not a git repository, and the line has no "
            "'sdist' key (NAME==VERSION) to find the source release by"
        )
    archive = find_sdist(source, spec)
    if archive is None:
        raise TaskError(
            f"{where}: no sdist of {spec} in {source}: get it with `pip download --no-binary "
            f":all: --no-deps {spec} -d {source}`, or give --source"
        )
    _unpack(archive, folder / "repo", where)
    return folder / "repo"


def find_sdist(folder: Path, spec: str) -> Path | None:
    """`NAME==VERSION` -> its `.tar.gz` in `folder` (names compared as pip normalizes them)."""
    name, _, version = spec.partition("==")
    wanted = re.sub(r"[-_.]+", "_", name).lower() + "-" + version.strip()
    for path in sorted(folder.glob("*.tar.gz")) if folder.is_dir() else []:
        stem = path.name.removesuffix(".tar.gz")
        left, _, right = stem.rpartition("-")
        if re.sub(r"[-_.]+", "_", left).lower() + "-" + right == wanted:
            return path
    return None


def _unpack(archive: Path, into: Path, where: str) -> None:
    """The sdist's single top-level folder becomes `into`."""
    from lever.evals.tasks import TaskError

    staging = into.parent / "unpack"
    try:
        with tarfile.open(archive) as tar:
            _extract(tar, staging)
    except (tarfile.TarError, OSError) as e:
        raise TaskError(f"{where}: cannot unpack {archive}: {e}") from None
    tops = list(staging.iterdir())
    if len(tops) != 1 or not tops[0].is_dir():
        raise TaskError(f"{where}: {archive} is not an sdist (one top-level folder)")
    tops[0].rename(into)
    staging.rmdir()


def _extract(tar: tarfile.TarFile, into: Path) -> None:
    """Files and folders only, all inside `into` (an sdist needs nothing else)."""
    if hasattr(tarfile, "data_filter"):  # Python 3.11.4+: the standard library checks
        tar.extractall(into, filter="data")
        return
    for member in tar.getmembers():
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            raise tarfile.TarError(f"refusing {member.name!r}")
    tar.extractall(into)  # every member was checked above


def _grade_files(base: Path, test_patch: str, folder: Path, where: str) -> Path:
    """The files `test_patch` adds or changes, as they are once it is applied to the base."""
    from lever.evals.tasks import TaskError

    paths = re.findall(r"^\+\+\+ b/(.+?)\s*$", test_patch, flags=re.MULTILINE)
    if re.search(r"^\+\+\+ /dev/null", test_patch, flags=re.MULTILINE):
        raise TaskError(f"{where}: key 'test_patch': deleting files is not supported")
    scratch = folder / "with-tests"
    shutil.copytree(base, scratch, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    patch = folder / "test.patch"
    patch.write_text(test_patch, encoding="utf-8")
    # Its own repository: `git apply` inside another one would take paths from that one's top.
    _run(["git", "init", "-q", str(scratch)], where)
    done = subprocess.run(
        ["git", "apply", "--whitespace=nowarn", str(patch)],
        cwd=scratch,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise TaskError(f"{where}: key 'test_patch': does not apply: {done.stderr.strip()[:200]}")
    grade = folder / "grade"
    for name in paths:
        (grade / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(scratch / name, grade / name)
    shutil.rmtree(scratch, ignore_errors=True)
    if base.name == "base":  # a clone made only to build these files
        shutil.rmtree(base, ignore_errors=True)
    return grade


def _run(argv: list[str], where: str) -> None:
    from lever.evals.tasks import TaskError

    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise TaskError(f"{where}: {' '.join(argv[:3])}: {done.stderr.strip()[-200:]}")
