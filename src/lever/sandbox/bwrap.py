"""The bubblewrap sandbox: namespaces and bind mounts around each command.

The command sees the host's file system read-only (`--ro-bind / /`), with each writable root
bound read-write on top and the `.git` / `.lever` inside those roots bound read-only again. It
gets a fresh /dev (null, zero, tty, random…, no disks), a /proc of its own pid namespace (it
cannot see, signal or ptrace processes outside), and, with the network off, a network
namespace holding only its own loopback.

It always runs in a new user namespace with every capability dropped and further user
namespaces disabled: even when lever runs as root, the command cannot mount, remount the
read-only binds writable, create device nodes, unshare, or override file permissions.

The host's /tmp stays visible but read-only, like the rest of `/`: the project, its virtualenv
or the test runner's folders often live there and commands must be able to run them. In
workspace-write mode the session's private temp dir (a folder under the host's temp dir, files
persist between the session's commands) is bound writable and TMPDIR points at it, so
`mktemp` and friends work; writing to the host's /tmp itself is refused.

A `.git` / `.lever` that does not exist yet cannot be bound (a bind needs a mount point, and
making one would create the folder): one a command creates is removed after it (protect.py).

The bwrap program is taken only from a trusted place (`find_bwrap`): a `bwrap` a command could
have written (in the workspace, a writable root, a temp dir, a virtualenv there) is never run.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from lever.sandbox.base import SandboxPolicy
from lever.sandbox.filter_exec import filter_argv
from lever.sandbox.hidden import RUNTIME, bwrap_args, hidden_paths
from lever.sandbox.landlock import PROTECTED_NAMES, inside_protected
from lever.sandbox.launcher_home import own_sites_inside

#: Where distributions install bubblewrap: tried first, before any PATH entry.
SYSTEM_BWRAP = ("/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap")
#: bubblewrap failing to set up a mount whose path vanished after `wrap` looked (a hidden
#: /tmp/ssh-* folder removed meanwhile): the command never ran, and a new `wrap` skips it.
_MOUNT_RACE = re.compile(rb"bwrap: Can't (mkdir( parents for)?|create file at|find source path) /")


def setup_raced(exit_code: int | None, output: bytes) -> bool:
    """True when bubblewrap stopped before the command, on a mount path that vanished."""
    return exit_code == 1 and output.count(b"\n") <= 1 and _MOUNT_RACE.match(output) is not None


def find_bwrap(untrusted: Sequence[Path | str] = ()) -> str | None:
    """The absolute path of a bwrap lever may trust, or None.

    The system locations first, then PATH entries; a candidate is refused when it (or the
    folder it is in) lies in the current folder, in `untrusted` (the writable roots), in a temp
    dir, or is writable by others: a sandboxed command could have put it there.
    """
    avoid = [os.path.realpath(p) for p in (os.getcwd(), *untrusted, tempfile.gettempdir())]
    avoid = [p for p in (*avoid, "/tmp", "/var/tmp", "/dev/shm") if p != "/"]
    dirs = [os.path.dirname(path) for path in SYSTEM_BWRAP]
    dirs += [entry for entry in os.environ.get("PATH", "").split(os.pathsep) if entry]
    for folder in dirs:
        if not os.path.isabs(folder):
            continue  # "" or "." mean the current folder
        candidate = os.path.join(folder, "bwrap")
        if _trusted(candidate, avoid):
            return os.path.realpath(candidate)
    return None


def _trusted(candidate: str, avoid: Sequence[str]) -> bool:
    real = os.path.realpath(candidate)
    try:
        st = os.stat(real)
        folder = os.stat(os.path.dirname(real))
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or not os.access(real, os.X_OK):
        return False
    if (st.st_mode | folder.st_mode) & stat.S_IWOTH:
        return False
    for place in (os.path.abspath(candidate), real):
        if any(place == root or place.startswith(root.rstrip("/") + "/") for root in avoid):
            return False
    return True


class BwrapSandbox:
    name = "bwrap"
    available = True

    def __init__(
        self, policy: SandboxPolicy, *, bwrap: str = "bwrap", tmp_dir: Path | None = None
    ) -> None:
        from lever.sandbox.protect import Protector

        self.policy = policy
        self.bwrap = bwrap
        self.tmp_dir = tmp_dir
        # An absent .git / .lever cannot be bound read-only: its creation is undone instead.
        writable = policy.mode == "workspace-write"
        self.protector = Protector(policy.writable_roots) if writable else None

    def roots(self, cwd: Path) -> list[Path]:
        """cwd and the writable roots: bound read-write, or read-only in read-only mode (they
        must stay visible when they live under /tmp). Parents come before children so a later
        bind never hides an earlier one."""
        unique: list[Path] = []
        for root in (cwd, *self.policy.writable_roots):
            resolved = Path(root).resolve()
            if resolved.is_dir() and resolved not in unique:
                unique.append(resolved)
        return sorted(unique, key=lambda path: len(path.parts))

    def wrap(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> list[str]:
        args = [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        writable = self.policy.mode == "workspace-write"
        roots = self.roots(cwd)
        for root in roots:
            rw = writable and not inside_protected(str(root))
            args += ["--bind" if rw else "--ro-bind", str(root), str(root)]
        if writable:
            # After every writable bind, so none of them can cover a protected entry again.
            for root in roots:
                args += _protect(root)
            # lever's own site-packages, when it lies in a writable root: a `.pth` file written
            # there would run unconfined the next time lever starts.
            for site in own_sites_inside([str(root) for root in roots]):
                args += ["--ro-bind", site, site]
        # Last of the binds, so no root bind uncovers one (see hidden.py).
        keep: list[str | os.PathLike[str]] = [cwd, *roots, *RUNTIME]
        if self.tmp_dir is not None:
            keep.append(self.tmp_dir)
        hidden = hidden_paths(os.environ, keep, self.policy.allow_read, sockets=True)
        args += bwrap_args(hidden, self.policy.session_files)
        args += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
        args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if not self.policy.network:
            args.append("--unshare-net")
        # No --chdir: bwrap stays in the folder it was started in (lever starts it in the
        # workdir, by fd); `cwd` only decides the writable roots, so it is the workspace.
        args += ["--die-with-parent", "--new-session"]
        if writable and self.tmp_dir is not None:
            args += ["--bind", str(self.tmp_dir), str(self.tmp_dir)]
            args += ["--setenv", "TMPDIR", str(self.tmp_dir)]
        # The same seccomp filter as under Landlock: keyring, unix sockets, terminal ioctls.
        policy: dict[str, object] = {
            "network": self.policy.network,
            "unix_sockets": self.policy.unix_sockets,
        }
        if writable:
            # Stream unix sockets allowed; connect() only to sockets made in these places.
            places = [str(root) for root in roots]
            if self.tmp_dir is not None:
                places.append(str(self.tmp_dir))
            policy["socket_places"] = places
        return [*args, "--", *filter_argv(policy), *argv]


def _protect(root: Path) -> list[str]:
    """Read-only binds for the protected entries of a writable root (those that exist)."""
    args: list[str] = []
    for name in PROTECTED_NAMES:
        entry = root / name
        if entry.exists():
            # A symlinked .git is bound at its target: that is where writes would land.
            target = str(entry.resolve()) if entry.is_symlink() else str(entry)
            args += ["--ro-bind", target, target]
    return args
