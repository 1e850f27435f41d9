"""Where a command's cgroup scope can be made, on fake cgroup trees: cgroup v2 with `pids`
delegated, cgroup v1, and neither (rlimits only). test_cgroup_scope.py runs real scopes."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from lever.sandbox import cgroup
from lever.sandbox.cgroup import Place, Scope, find_place, own_groups, parse_events

#: A machine like this one: v1 hierarchies, and a v2 one holding none of them.
HYBRID = "9:name=systemd:/\n8:pids:/jobs/a\n4:memory:/m/x\n0::/jobs/a\n"
PURE_V2 = "0::/user.slice/lever.scope\n"


def files(folder: Path, **content: str) -> Path:
    """`folder` with files named like `cgroup_procs` -> cgroup.procs."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in content.items():
        (folder / name.replace("_", ".", 1)).write_text(text)
    return folder


def v2_tree(root: Path, controllers: str, subtree: str) -> Path:
    files(root, cgroup_controllers="cpu memory pids", cgroup_procs="")
    return files(
        root / "user.slice" / "lever.scope",
        cgroup_controllers=controllers,
        cgroup_procs="1\n",
        cgroup_subtree_control=subtree,
    )


def v1_tree(root: Path, path: str, controller: str = "pids") -> Path:
    files(root / controller, cgroup_procs="1\n")
    return files(root / controller / path, cgroup_procs="1\n")


NO_V1_MEMORY = "cgroup v1: no memory hierarchy"


def refuse_subtree_control(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel's answer to +pids in a group holding processes (root could write the file)."""
    real = cgroup._write

    def write(path: Path, text: str) -> None:
        if path.name == "cgroup.subtree_control":
            raise OSError(errno.EBUSY, "Device or resource busy")
        real(path, text)

    monkeypatch.setattr(cgroup, "_write", write)


def test_v2_with_pids_delegated_and_enabled(tmp_path: Path) -> None:
    group = v2_tree(tmp_path, "memory pids", "memory pids")
    assert find_place(tmp_path, PURE_V2) == Place("v2", group, memory=group)
    assert not list(group.glob("lever-*"))  # the trial group was removed
    assert find_place(tmp_path, PURE_V2).describe().endswith("; a memory limit per command)")


def test_v2_without_memory_delegated_has_no_memory_limit(tmp_path: Path) -> None:
    group = v2_tree(tmp_path, "pids", "pids")
    found = find_place(tmp_path, PURE_V2)
    assert found == Place("v2", group, memory_reason=f"memory is not delegated to {group}")
    assert found.describe().endswith(f"; no memory limit: memory is not delegated to {group})")


def test_v2_enables_pids_for_its_children(tmp_path: Path) -> None:
    group = v2_tree(tmp_path, "memory pids", "memory")
    assert find_place(tmp_path, PURE_V2) == Place("v2", group, memory=group)
    assert (group / "cgroup.subtree_control").read_text() == "+pids"
    v2_tree(tmp_path, "memory pids", "pids")
    assert find_place(tmp_path, PURE_V2) == Place("v2", group, memory=group)
    assert (group / "cgroup.subtree_control").read_text() == "+memory"


def test_v2_refusing_pids_falls_back_to_v1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    v2_tree(tmp_path, "memory pids", "")
    refuse_subtree_control(monkeypatch)
    v1 = v1_tree(tmp_path, "user.slice/lever.scope")
    found = find_place(tmp_path, "5:pids:/user.slice/lever.scope\n" + PURE_V2)
    assert found == Place("v1", v1, memory_reason=NO_V1_MEMORY)


def test_v2_refusing_pids_without_v1_is_none_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = v2_tree(tmp_path, "pids", "")
    refuse_subtree_control(monkeypatch)
    found = find_place(tmp_path, PURE_V2)
    assert found.kind == "none" and found.parent is None
    assert f"cannot enable pids below {group} (Device or resource busy)" in found.reason
    assert "cgroup v1: no pids hierarchy" in found.reason
    assert found.describe().startswith("command scope: none (cgroup v2: cannot enable pids")
    assert found.describe().endswith("commands get rlimits only")


def test_v2_without_pids_delegated(tmp_path: Path) -> None:
    group = v2_tree(tmp_path, "cpu memory", "")
    found = find_place(tmp_path, PURE_V2)
    assert found.parent is None
    assert f"pids is not delegated to {group}" in found.reason


def test_hybrid_layout_uses_the_v1_pids_hierarchy(tmp_path: Path) -> None:
    # This machine: cgroup2 at /sys/fs/cgroup/unified holds only hugetlb; pids is v1.
    files(tmp_path / "unified", cgroup_controllers="hugetlb", cgroup_procs="")
    files(tmp_path / "unified" / "jobs" / "a", cgroup_controllers="", cgroup_subtree_control="")
    group = v1_tree(tmp_path, "jobs/a")
    memory = v1_tree(tmp_path, "m/x", "memory")
    found = find_place(tmp_path, HYBRID)
    assert found == Place("v1", group, memory=memory)
    assert found.describe().startswith(
        f"command scope: cgroup v1, a group per command under {group}"
    )


def test_v1_at_the_hierarchy_root(tmp_path: Path) -> None:
    group = v1_tree(tmp_path, "")
    assert find_place(tmp_path, "8:pids:/\n0::/\n") == Place(
        "v1", group, memory_reason=NO_V1_MEMORY
    )


def test_v1_group_not_visible_here(tmp_path: Path) -> None:
    # A container seeing its host's path in /proc/self/cgroup without the group mounted.
    v1_tree(tmp_path, "")
    found = find_place(tmp_path, "8:pids:/docker/abc\n")
    assert found.parent is None and "is not visible" in found.reason


def test_no_cgroups_at_all(tmp_path: Path) -> None:
    found = find_place(tmp_path, HYBRID)
    assert found == Place("none", reason="cgroup v2: not mounted; cgroup v1: no pids hierarchy")
    assert find_place(tmp_path / "missing", "").parent is None


def test_stale_groups_of_dead_levers_are_removed(tmp_path: Path) -> None:
    group = v1_tree(tmp_path, "")
    dead = subprocess.Popen(["true"])
    dead.wait()
    (group / f"lever-{dead.pid}-1").mkdir()  # empty: removed
    files(group / f"lever-{dead.pid}-2", cgroup_procs="42\n")  # holds processes: kept
    (group / "lever-1-1").mkdir()  # a live lever's (pid 1 is alive): kept
    (group / "other").mkdir()
    assert find_place(tmp_path, "8:pids:/\n") == Place("v1", group, memory_reason=NO_V1_MEMORY)
    left = sorted(path.name for path in group.iterdir() if path.is_dir())
    assert left == sorted([f"lever-{dead.pid}-2", "lever-1-1", "other"])


def test_scope_on_a_fake_place(tmp_path: Path) -> None:
    where = Place("v1", files(tmp_path / "pids"))
    scope = Scope.make(64, where)
    assert scope is not None and scope.kind == "v1"
    assert scope.path.parent == where.parent
    assert scope.path.name.startswith(f"lever-{os.getpid()}-")
    assert (scope.path / "pids.max").read_text() == "64"
    scope.join()()  # what the command's process runs before exec: writes "0" (itself)
    assert (scope.path / "cgroup.procs").read_text() == "0"
    unlimited = Scope.make(None, where)
    assert unlimited is not None and (unlimited.path / "pids.max").read_text() == "max"
    (scope.path / "pids.events").write_text("max 7\n")
    assert scope.process_limit_hits() == 7 and unlimited.process_limit_hits() == 0


def test_a_v1_scope_with_a_memory_group(tmp_path: Path) -> None:
    memory = files(tmp_path / "memory")
    where = Place("v1", files(tmp_path / "pids"), memory=memory)
    scope = Scope.make(64, where, max_memory=2**30)
    assert scope is not None and scope.memory == memory / scope.path.name
    assert (scope.memory / "memory.limit_in_bytes").read_text() == str(2**30)
    assert (scope.memory / "memory.memsw.limit_in_bytes").read_text() == str(2**30)
    scope.join()()  # into both groups
    assert (scope.path / "cgroup.procs").read_text() == "0"
    assert (scope.memory / "cgroup.procs").read_text() == "0"
    assert scope.memory_limit_hits() == 0
    (scope.memory / "memory.oom_control").write_text(
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"
    )
    assert scope.memory_limit_hits() == 2
    for made in (scope.path, scope.memory):
        for child in made.iterdir():
            child.unlink()
    assert scope.remove() and not scope.path.exists() and not scope.memory.exists()
    assert Scope.make(64, where) is not None  # no max_memory: no memory group
    assert len(list(memory.iterdir())) == 0


def test_a_v2_scope_limits_memory_in_its_own_group(tmp_path: Path) -> None:
    parent = files(tmp_path / "lever.scope")
    scope = Scope.make(None, Place("v2", parent, memory=parent), max_memory=512 * 2**20)
    assert scope is not None and scope.memory == scope.path
    assert (scope.path / "memory.max").read_text() == str(512 * 2**20)
    assert (scope.path / "memory.swap.max").read_text() == "0"
    (scope.path / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n")
    assert scope.memory_limit_hits() == 1
    # Where the place holds no memory limit, the scope has none (and hits stay 0).
    plain = Scope.make(None, Place("v2", parent), max_memory=512 * 2**20)
    assert plain is not None and plain.memory is None and plain.memory_limit_hits() == 0


def test_no_scope_never_stops_a_command(tmp_path: Path) -> None:
    assert Scope.make(64, Place("none", reason="none here")) is None
    assert Scope.make(64, Place("v2", tmp_path / "gone")) is None  # mkdir fails: no scope


def test_parsers() -> None:
    groups = own_groups("12:cpu,cpuacct:/a\n8:pids:/b\n1:name=systemd:/c\n0::/d\nbroken\n")
    assert groups == {"cpu": "/a", "cpuacct": "/a", "pids": "/b", "name=systemd": "/c", "": "/d"}
    assert parse_events("max 3\n", "max") == 3
    assert parse_events("low 0\nhigh 2\nmax 0\noom_kill 1\n", "oom_kill") == 1
    assert parse_events("", "max") == 0 and parse_events("max x\n", "max") == 0


def test_the_machine_is_probed_once() -> None:
    assert cgroup.place() is cgroup.place()
    assert cgroup.place().describe().startswith("command scope: ")


async def test_a_listed_pid_outside_the_group_is_never_killed(tmp_path: Path) -> None:
    # A pid read from cgroup.procs may have ended and been reused by then: lever checks, through
    # a pidfd, that the process it signals is in the group. Here the listing lies outright.
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        scope = Scope(
            files(tmp_path / f"lever-{os.getpid()}-9", cgroup_procs=f"{bystander.pid}\n"), "v1"
        )
        assert await scope.kill(0.2) is False  # still listed: the kill gave up
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
