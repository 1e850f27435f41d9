"""`python -I -S -c BOOT LEVER_DIR --policy JSON -- CMD ARGS...` (bubblewrap).

Inside bubblewrap, installs the seccomp filter (seccomp.py) and execs CMD. bubblewrap's
namespaces already cover most of what the filter refuses under Landlock, but not all: the
kernel keyring is shared with the host, a unix socket anywhere on the read-only file system
can be connected to, and a terminal fd can be handed in. The filter closes those the same way
under both mechanisms.

Policy: {"network": bool, "unix_sockets": bool}. Any failure is fatal (exit 125), as in
confine_exec: a command never runs half-confined.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_FILTER_FAILED = 125


def filter_argv(policy: dict[str, Any]) -> list[str]:
    """The argv prefix that runs a command under the filter for `policy`."""
    from lever.sandbox.launcher_home import launcher_prefix

    # Inside bubblewrap the host's /tmp is not visible: lever's code is used where it is, but
    # with no `site` (no .pth file runs) and the real interpreter (see launcher_home).
    return [
        *launcher_prefix("filter_exec", ()),
        "--policy",
        json.dumps(policy, separators=(",", ":")),
        "--",
    ]


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    if len(args) < 4 or args[0] != "--policy" or args[2] != "--":
        print("usage: filter_exec --policy JSON -- CMD [ARGS...]", file=sys.stderr)
        return 2
    from lever.sandbox import seccomp

    try:
        policy = json.loads(args[1])
        seccomp.install(
            network=bool(policy.get("network")),
            read_only=False,  # bubblewrap's read-only binds refuse metadata changes already
            unix_sockets=bool(policy.get("unix_sockets")),
        )
    except (OSError, ValueError) as exc:
        print(f"lever sandbox: cannot filter the command: {exc}", file=sys.stderr)
        return EXIT_FILTER_FAILED
    command = args[3:]
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"lever sandbox: {command[0]}: {exc.strerror}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126
    return 0  # unreachable: execvp does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
