"""A cgroup per command: a process limit that binds root, and nothing left behind when it ends.

RLIMIT_NPROC counts every process of the user and does not bind root, so alone it cannot stop a
fork bomb run as root, and a command's detached daemons (`setsid`, a double fork) leave its
process group. Where lever may make cgroups, each command gets its own group (a "scope"):
`pids.max` caps every task in it (threads included), and when the command is stopped, or the
session ends, everything in the group is killed and the group removed.

Where a scope can be made, found once per lever process (`place`):

1. cgroup v2: lever's own cgroup (the `0::/path` line of /proc/self/cgroup), when lever may
   write it and `pids` is delegated to it (in its cgroup.controllers) and enabled for its
   children (its cgroup.subtree_control, which lever tries to set; the kernel refuses while the
   group holds processes and is not the root: "no internal processes").
2. cgroup v1: lever's group in the `pids` hierarchy (/sys/fs/cgroup/pids), when lever may make
   groups there (root, usually).
3. Nowhere: commands get the rlimits only, as before. A scope that cannot be made never stops a
   command from running.

Where the `memory` controller is delegated too (v2), or lever may make groups in the v1
`memory` hierarchy, the scope also caps the memory of the command and everything it started
(`memory.max`, or v1's `memory.limit_in_bytes`; no swap): past it the kernel's OOM killer picks
a process inside the scope, never lever or the rest of the machine, and the scope's own count
of OOM kills says for sure that the limit was hit.

The command's process joins its scope in the step before it execs (`join`, run where its
rlimits are set), so it never forks outside. Nothing inside a sandbox can leave the scope or
raise its limit: bubblewrap's / is read-only, Landlock grants no write there.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")
PREFIX = "lever-"
#: How long killing a scope's processes may take before lever gives up on it (then it stays
#: until the next try, or is left to the kernel when empty).
KILL_SECONDS = 2.0
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Place:
    """Where this lever process makes its commands' scopes: `kind` "v2", "v1" or "none"."""

    kind: str
    parent: Path | None = None
    #: For "none": why no scope can be made (one reason per hierarchy tried).
    reason: str = ""
    #: Where the scopes' memory groups go: `parent` for v2, a group of the v1 memory hierarchy,
    #: or None (no memory limit; `memory_reason` says why).
    memory: Path | None = None
    memory_reason: str = ""

    def describe(self) -> str:
        if self.parent is None:
            return f"command scope: none ({self.reason}); commands get rlimits only"
        memory = (
            "a memory limit per command"
            if self.memory is not None
            else f"no memory limit: {self.memory_reason}"
        )
        return (
            f"command scope: cgroup {self.kind}, a group per command under {self.parent} "
            f"(pids.max binds root too; what a command leaves behind is killed; {memory})"
        )


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


#: As a shell's `>` opens (a cgroup file system takes it; a fake tree in tests needs it).
_WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC


def _write(path: Path, text: str) -> None:
    fd = os.open(path, _WRITE, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def own_groups(text: str) -> dict[str, str]:
    """/proc/self/cgroup as {controller: path}; the cgroup v2 path under ""."""
    groups: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _id, controllers, path = parts
        for name in controllers.split(",") if controllers else [""]:
            groups[name] = path
    return groups


def _below(mount: Path, path: str) -> Path:
    return mount / path.lstrip("/") if path.strip("/") else mount


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _remove_stale(parent: Path) -> None:
    """Remove the empty groups of levers that died before they could (`lever-PID-N`): never a
    live lever's, which may be about to move a command in."""
    with contextlib.suppress(OSError):
        for stale in parent.glob(f"{PREFIX}*-*"):
            owner = stale.name[len(PREFIX) :].split("-", 1)[0]
            if owner.isdigit() and _gone(int(owner)):
                with contextlib.suppress(OSError):  # a group still holding processes stays
                    stale.rmdir()


def _try_mkdir(parent: Path) -> str | None:
    """Make and remove a group under `parent`: None, or why it failed."""
    _remove_stale(parent)
    probe = parent / f"{PREFIX}{os.getpid()}-probe"
    try:
        probe.mkdir()
    except FileExistsError:
        pass
    except OSError as exc:
        return f"cannot make a group in {parent}: {exc.strerror or exc}"
    with contextlib.suppress(OSError):
        probe.rmdir()
    return None


def _v2(root: Path, path: str | None) -> Place:
    if path is None:
        return Place("none", reason="cgroup v2: lever is in no v2 group")
    mount = next(
        (m for m in (root, root / "unified") if (m / "cgroup.controllers").is_file()), None
    )
    if mount is None:
        return Place("none", reason="cgroup v2: not mounted")
    group = _below(mount, path)
    try:
        delegated = _read(group / "cgroup.controllers").split()
        enabled = _read(group / "cgroup.subtree_control").split()
    except OSError as exc:
        return Place("none", reason=f"cgroup v2: {group}: {exc.strerror or exc}")
    pids, why = _enable(group, "pids", delegated, enabled)
    if pids is None:
        return Place("none", reason=f"cgroup v2: {why}")
    failed = _try_mkdir(group)
    if failed:
        return Place("none", reason=f"cgroup v2: {failed}")
    memory, why = _enable(group, "memory", delegated, enabled)
    return Place("v2", group, memory=memory, memory_reason=why)


def _enable(
    group: Path, controller: str, delegated: list[str], enabled: list[str]
) -> tuple[Path | None, str]:
    """`group` once `controller` is enabled for its children, or None and why not."""
    if controller not in delegated:
        return None, f"{controller} is not delegated to {group}"
    if controller not in enabled:
        try:
            _write(group / "cgroup.subtree_control", f"+{controller}")
        except OSError as exc:
            return None, f"cannot enable {controller} below {group} ({exc.strerror or exc})"
    return group, ""


def _v1_group(root: Path, controller: str, path: str | None) -> tuple[Path | None, str]:
    """lever's group in the v1 `controller` hierarchy, when lever may make groups in it."""
    mount = root / controller
    if path is None or not (mount / "cgroup.procs").is_file():
        return None, f"cgroup v1: no {controller} hierarchy"
    group = _below(mount, path)
    if not (group / "cgroup.procs").is_file():
        return None, f"cgroup v1: lever's {controller} group {group} is not visible"
    failed = _try_mkdir(group)
    if failed:
        return None, f"cgroup v1: {failed}"
    return group, ""


def _v1(root: Path, groups: dict[str, str]) -> Place:
    pids, why = _v1_group(root, "pids", groups.get("pids"))
    if pids is None:
        return Place("none", reason=why)
    memory, memory_why = _v1_group(root, "memory", groups.get("memory"))
    return Place("v1", pids, memory=memory, memory_reason=memory_why)


def find_place(root: Path = ROOT, self_cgroup: str | None = None) -> Place:
    """Where scopes can be made (v2 first, then v1), given the cgroup file system at `root` and
    lever's /proc/self/cgroup (read when not given)."""
    if self_cgroup is None:
        try:
            self_cgroup = _read(Path("/proc/self/cgroup"))
        except OSError:
            return Place("none", reason="no /proc/self/cgroup")
    groups = own_groups(self_cgroup)
    v2 = _v2(root, groups.get(""))
    if v2.parent is not None:
        return v2
    v1 = _v1(root, groups)
    if v1.parent is not None:
        return v1
    return Place("none", reason=f"{v2.reason}; {v1.reason}")


@functools.cache
def place() -> Place:
    """`find_place` for this machine, once per lever process."""
    return find_place()


def parse_events(text: str, key: str) -> int:
    """The count of `key` in a flat-keyed cgroup file (pids.events: "max 3")."""
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0


class Scope:
    """One command's group: made before it starts, joined by it, killed and removed after."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind
        #: The group holding the memory limit: `path` (v2), one in the v1 memory hierarchy, or
        #: None (no memory limit).
        self.memory: Path | None = None

    @classmethod
    def make(
        cls, max_processes: int | None, where: Place | None = None, max_memory: int | None = None
    ) -> Scope | None:
        """A new group with `pids.max` (None: no cap) and, where the place allows, a memory
        limit of `max_memory` bytes (None: none); None where no group can be made."""
        where = where or place()
        if where.parent is None:
            return None
        scope = cls._made(max_processes, where)
        if scope is not None and max_memory is not None and where.memory is not None:
            scope._limit_memory(where.memory, max_memory)
        return scope

    @classmethod
    def _made(cls, max_processes: int | None, where: Place) -> Scope | None:
        assert where.parent is not None
        for _ in range(5):
            path = where.parent / f"{PREFIX}{os.getpid()}-{next(_numbers)}"
            try:
                path.mkdir()
            except FileExistsError:  # a dead lever's group with this pid: take another name
                continue
            except OSError as exc:
                log.debug("no scope for the command: %s", exc)
                return None
            scope = cls(path, where.kind)
            try:
                _write(path / "pids.max", "max" if max_processes is None else str(max_processes))
            except OSError as exc:
                log.debug("no process limit on the scope: %s", exc)
                scope.remove()
                return None
            return scope
        return None

    def _limit_memory(self, parent: Path, max_memory: int) -> None:
        """Cap the group's memory (swap included where the kernel accounts it); a limit that
        cannot be set is logged and left out, never a reason not to run the command."""
        limit = str(max_memory)
        try:
            if self.kind == "v2":
                _write(self.path / "memory.max", limit)
                with contextlib.suppress(OSError):  # no swap file without swap accounting
                    _write(self.path / "memory.swap.max", "0")
                self.memory = self.path
                return
            group = parent / self.path.name
            group.mkdir()
            self.memory = group
            _write(group / "memory.limit_in_bytes", limit)
            with contextlib.suppress(OSError):  # memsw: only with swap accounting
                _write(group / "memory.memsw.limit_in_bytes", limit)
        except OSError as exc:
            log.debug("no memory limit on the scope: %s", exc)
            if self.memory is not None and self.memory != self.path:
                with contextlib.suppress(OSError):
                    self.memory.rmdir()
            self.memory = None

    def join(self) -> Callable[[], None]:
        """What the command's process runs before exec: move itself into the group (and into
        its v1 memory group)."""
        targets = [os.fsencode(self.path / "cgroup.procs")]
        if self.memory is not None and self.memory != self.path:
            targets.append(os.fsencode(self.memory / "cgroup.procs"))

        def enter() -> None:
            # Failing leaves the command in lever's group, under its rlimits: never a reason
            # not to run it.
            for target in targets:
                with contextlib.suppress(OSError):
                    fd = os.open(target, _WRITE, 0o644)
                    try:
                        os.write(fd, b"0")  # 0: the writing process
                    finally:
                        os.close(fd)

        return enter

    def members(self) -> list[int]:
        """Pids in the group (as lever's pid namespace sees them; 0, unseen, left out)."""
        try:
            text = _read(self.path / "cgroup.procs")
        except OSError:
            return []
        me = os.getpid()
        return [pid for pid in map(int, text.split()) if pid > 0 and pid != me]

    def populated(self) -> bool:
        return bool(self.members())

    def process_limit_hits(self) -> int:
        """How many times a fork failed at `pids.max`."""
        try:
            return parse_events(_read(self.path / "pids.events"), "max")
        except (OSError, ValueError):
            return 0

    def memory_limit_hits(self) -> int:
        """How many processes the kernel killed at the memory limit."""
        if self.memory is None:
            return 0
        name = "memory.events" if self.kind == "v2" else "memory.oom_control"
        try:
            return parse_events(_read(self.memory / name), "oom_kill")
        except (OSError, ValueError):
            return 0

    def _kill_round(self) -> bool:
        """SIGKILL everything in the group once; False when it was already empty."""
        pids = self.members()
        if not pids:
            return False
        if self.kind == "v2":
            with contextlib.suppress(OSError):
                # The kernel kills the whole group, forks in flight included.
                _write(self.path / "cgroup.kill", "1")
                return True
        for pid in pids:
            self._kill_member(pid)
        return True

    def _kill_member(self, pid: int) -> None:
        """SIGKILL `pid` if it is still in this group: through a pidfd, so a pid that ended and
        was reused by an unrelated process between the listing and the kill is never hit."""
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        except (AttributeError, OSError):  # no pidfd here (Linux < 5.3)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            return
        try:
            # The pidfd holds the process read now: if it is in the group, it is the one listed.
            lines = _read(Path(f"/proc/{pid}/cgroup")).splitlines()
            if any(line.endswith(f"/{self.path.name}") for line in lines):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, FileNotFoundError):
            pass
        finally:
            os.close(fd)

    async def kill(self, seconds: float = KILL_SECONDS) -> bool:
        """Kill every process in the group, again until none is left; True once it is empty.
        A fork in flight can add one after a round, but never past pids.max."""
        deadline = time.monotonic() + seconds
        while self._kill_round():
            if time.monotonic() > deadline:
                log.warning("processes of %s survived being killed", self.path)
                return False
            await asyncio.sleep(0.01)
        return True

    def remove(self) -> bool:
        """Remove the group and its memory group (they must be empty); True once gone."""
        groups = [self.path]
        if self.memory is not None and self.memory != self.path:
            groups.append(self.memory)
        return all([_rmdir(group) for group in groups])  # a list: try every one

    async def close(self) -> None:
        """Kill what is left in the group, then remove it."""
        if await self.kill():
            # An exiting process can keep the group busy for a moment after it left the list.
            for _ in range(50):
                if self.remove():
                    return
                await asyncio.sleep(0.01)


def _rmdir(group: Path) -> bool:
    try:
        group.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True
