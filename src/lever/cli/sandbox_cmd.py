"""`lever sandbox`: show the sandbox mechanism, or run a command the way the agent would."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

_EPILOG = """\
examples:
  lever sandbox --status
  lever sandbox -- touch /etc/x              # fails: / is read-only
  lever sandbox --mode read-only -- ls
  lever sandbox --writable ../other --network -- make test

The command runs with the environment agent commands get (secret-looking variables dropped),
in the current directory, which is writable (workspace-write); its .git and .lever are protected
(`--status` says how: read-only binds under bubblewrap, checked and restored around the command
under Landlock). Its exit code is returned; 6 means no sandbox mechanism works here, and the
command was not run (only `--mode danger-full-access` runs it unconfined).

LEVER_SANDBOX=landlock (or bwrap) narrows the choice to that mechanism, e.g. to try the
Landlock fallback on a machine with bubblewrap; it can never turn the sandbox off."""


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "sandbox",
        help="show the sandbox mechanism, or run a command confined as the agent would",
        description="Show which sandbox mechanism lever uses here, or run CMD under a policy.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--status",
        action="store_true",
        help="print the mechanism, what it protects and how, why others are not used, and "
        "whether each command gets a cgroup of its own",
    )
    p.add_argument(
        "--mode",
        choices=("read-only", "workspace-write", "danger-full-access"),
        default="workspace-write",
        help="sandbox mode (default: workspace-write: the current directory is writable, "
        "except its .git and .lever)",
    )
    p.add_argument(
        "--writable",
        action="append",
        default=[],
        metavar="DIR",
        help="an extra writable root (repeatable)",
    )
    p.add_argument("--network", action="store_true", help="allow network access")
    p.add_argument(
        "--mechanism",
        choices=("bwrap", "landlock", "seatbelt", "none"),
        help="force a mechanism instead of the probed one (exit 6 if it does not confine here)",
    )
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS", help="the command")
    return p


def run(args: argparse.Namespace) -> int:
    from lever.cli import exit_codes

    if args.status:
        from lever.sandbox.cgroup import place
        from lever.sandbox.launcher_home import exposure
        from lever.sandbox.probe import probe

        print(probe().describe())
        print(place().describe())
        for note in exposure([os.getcwd()]):  # the current folder is the workspace
            print(f"warning: {note}")
        return exit_codes.OK
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        print("lever sandbox: give a command after `--`, or --status", file=sys.stderr)
        return exit_codes.USAGE
    return _run_confined(args, cmd)


def _run_confined(args: argparse.Namespace, cmd: list[str]) -> int:
    import os
    import subprocess
    from pathlib import Path

    from lever.cli import exit_codes
    from lever.sandbox.base import SandboxPolicy
    from lever.sandbox.env import command_env
    from lever.sandbox.factory import make_sandbox
    from lever.sandbox.protect import after_command, before_command

    cwd = Path.cwd()
    roots = tuple(Path(root).resolve() for root in args.writable)
    policy = SandboxPolicy(mode=args.mode, writable_roots=roots, network=args.network)
    try:
        sandbox = make_sandbox(policy, args.mechanism)
    except ValueError as exc:
        print(f"lever sandbox: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    if not getattr(sandbox, "available", True):
        reason = getattr(sandbox, "reason", "")
        print(f"lever sandbox: no sandbox mechanism available\n{reason}", file=sys.stderr)
        return exit_codes.SANDBOX
    env = command_env(os.environ)
    argv = sandbox.wrap(cmd, cwd, env)
    before_command(sandbox, cwd, _tell, background=False, outside=False)
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, check=False)
    except FileNotFoundError as exc:
        print(f"lever sandbox: {exc.filename}: not found", file=sys.stderr)
        return 127
    except KeyboardInterrupt:
        return exit_codes.INTERRUPTED
    finally:
        after_command(sandbox, cwd, _tell, outside=False)
    # A command killed by a signal reports 128 + signal, as shells do.
    return done.returncode if done.returncode >= 0 else 128 - done.returncode


def _tell(event: Any) -> None:
    print(f"lever sandbox: {event.message}", file=sys.stderr)
