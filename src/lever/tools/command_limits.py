"""Per-command resource limits (rlimits): processes, address space, size of one file.

Set in the command's process before it starts (inherited by everything it runs, the sandbox's
launcher included), so a fork bomb, a runaway allocation or a file growing without end fails
inside the command instead of taking the machine. The defaults are far above what builds and
test suites use; `[command_limits]` in config.toml changes them, 0 lifts one.

When a command ends in a way one of them explains (SIGXFSZ or "File too large", "Cannot
allocate memory", "fork: Resource temporarily unavailable"), `note` says which limit it was,
for the model.

RLIMIT_NPROC counts every process of the user, not only the command's, and does not bind root:
where lever can make a cgroup per command (`lever.sandbox.cgroup`), `max_processes` is also that
group's pids.max, which counts only the command's processes and threads and binds root too; the
group's own count of refused forks then says for sure that the limit was hit. Where that group
can hold a memory limit, `max_memory` caps the memory of the command and all it started
together (RLIMIT_AS caps one process's address space, which runtimes reserve far beyond what
they use): past it the kernel kills a process of the command, never lever.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lever.tools.process_output import MAX_FILE_BYTES as MAX_OUTPUT_FILE_BYTES

GIB = 1024**3
DEFAULT_MAX_PROCESSES = 4096
DEFAULT_MAX_FILE_BYTES = 16 * GIB
#: Address space: at least 16 GiB (runtimes reserve far more than they use: V8's cage, the
#: JVM's heap), or the machine's memory when it has more.
MIN_ADDRESS_SPACE = 16 * GIB
#: Memory of one command with everything it started (a cgroup limit): three quarters of the
#: machine's memory, so a runaway command is killed before the machine's OOM killer picks
#: lever or another agent; at least 2 GiB.
MIN_MEMORY = 2 * GIB

_TOO_BIG = re.compile(r"File size limit exceeded|File too large")
_NO_MEMORY = re.compile(
    r"Cannot allocate memory|MemoryError|std::bad_alloc|out of memory|"
    r"memory allocation of \d+ bytes failed|mmap\(\) failed",
    re.IGNORECASE,
)
_NO_FORK = re.compile(
    r"fork: (retry: )?Resource temporarily unavailable|Cannot fork|can't fork|"
    r"BlockingIOError: \[Errno 11\]",
    re.IGNORECASE,
)


def _machine_memory() -> int:
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return 0


def _size(value: int) -> str:
    if value >= GIB:
        return f"{value / GIB:g} GiB"
    return f"{value / 2**20:g} MiB" if value >= 2**20 else f"{value:,} bytes"


@dataclass(frozen=True)
class CommandLimits:
    """Soft and hard rlimits of each command; None: left as lever's own."""

    max_processes: int | None = DEFAULT_MAX_PROCESSES
    max_address_space: int | None = None
    max_file_bytes: int | None = DEFAULT_MAX_FILE_BYTES
    #: Not an rlimit: the memory limit of the command's cgroup scope, where one can be made.
    max_memory: int | None = None
    #: Not an rlimit: the cap of the file lever keeps of a command's output (its head and tail).
    max_output_file_bytes: int = MAX_OUTPUT_FILE_BYTES

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CommandLimits:
        table = config.get("command_limits") or {}

        def pick(key: str, default: int) -> int | None:
            value = table.get(key, default)
            return None if value == 0 else int(value)

        default_as = max(MIN_ADDRESS_SPACE, _machine_memory())
        default_memory = max(MIN_MEMORY, _machine_memory() * 3 // 4)
        return cls(
            max_processes=pick("max_processes", DEFAULT_MAX_PROCESSES),
            max_address_space=pick("max_address_space", default_as),
            max_file_bytes=pick("max_file_bytes", DEFAULT_MAX_FILE_BYTES),
            max_memory=pick("max_memory", default_memory),
            max_output_file_bytes=int(table.get("max_output_file_bytes", MAX_OUTPUT_FILE_BYTES)),
        )

    def _pairs(self) -> list[tuple[int, int | None]]:
        return [
            (resource.RLIMIT_NPROC, self.max_processes),
            (resource.RLIMIT_AS, self.max_address_space),
            (resource.RLIMIT_FSIZE, self.max_file_bytes),
        ]

    def preexec(self) -> Callable[[], None] | None:
        """What the child runs before exec: lower its rlimits (never raise them)."""
        pairs = [(which, value) for which, value in self._pairs() if value is not None]
        if not pairs:
            return None

        def apply() -> None:
            for which, value in pairs:
                _soft, hard = resource.getrlimit(which)
                if hard != resource.RLIM_INFINITY:
                    value = min(value, hard)
                with contextlib.suppress(OSError, ValueError):
                    resource.setrlimit(which, (value, value))
            # lever ignores SIGXFSZ (Python does); the command gets the default: it dies at
            # the file size limit instead of looping on EFBIG.
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)

        return apply

    def note(
        self,
        exit_code: int | None,
        output: bytes,
        *,
        process_limit_hit: bool = False,
        memory_limit_hit: bool = False,
    ) -> str:
        """A line for the model when the way the command ended points at one of the limits.

        `process_limit_hit`: the command's cgroup refused a fork at its pids.max;
        `memory_limit_hit`: the kernel killed a process of it at the cgroup's memory limit."""
        if exit_code is None:
            return ""
        if self.max_memory and memory_limit_hit:
            return (
                f"[lever: the command hit the memory limit ({_size(self.max_memory)} for it and "
                "everything it started, command_limits.max_memory): the kernel killed a "
                "process of it]"
            )
        tail = output[-8192:].decode("utf-8", "replace")
        xfsz = int(signal.SIGXFSZ)
        # A write past the limit kills with SIGXFSZ, or fails with EFBIG where a launcher left
        # the signal ignored; a script may go on after either and end with 0.
        if self.max_file_bytes and (exit_code in (-xfsz, 128 + xfsz) or _TOO_BIG.search(tail)):
            return (
                f"[lever: the command hit the file size limit ({_size(self.max_file_bytes)} "
                "per file, command_limits.max_file_bytes): a file it wrote was cut there]"
            )
        if self.max_processes and process_limit_hit:
            # Whatever its exit code: a script can go on after a failed fork.
            return (
                f"[lever: the command hit the process limit ({self.max_processes:,} processes "
                "and threads at once, command_limits.max_processes): starting more failed]"
            )
        if exit_code == 0:
            return ""
        if self.max_address_space and _NO_MEMORY.search(tail):
            return (
                f"[lever: memory ran out, probably at the address-space limit "
                f"({_size(self.max_address_space)} per process, "
                "command_limits.max_address_space)]"
            )
        if self.max_processes and _NO_FORK.search(tail):
            return (
                f"[lever: starting a process failed, probably at the process limit "
                f"({self.max_processes:,} processes, command_limits.max_processes)]"
            )
        return ""
