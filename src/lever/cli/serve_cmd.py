"""`lever serve`: the local web dashboard (docs/dashboard.md). FastAPI is imported in `run`."""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_PORT = 8765


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="a local web dashboard: sessions live, new tasks and approvals, fleets, evals",
        description="Serve a web dashboard over your sessions on 127.0.0.1. It prints a URL with "
        "a random access token; every request needs it (a cookie after the first visit). "
        "Security model and keyboard shortcuts: docs/dashboard.md.",
    )
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT}; 0 picks a free one)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow --host to be a non-loopback address (anyone who can reach it and has the "
        "token controls your agent)",
    )
    p.add_argument("--open", action="store_true", help="open the dashboard in a browser")
    return p


def run(args: argparse.Namespace) -> int:
    import sys

    from lever.dashboard.serve import ServeError, serve

    try:
        return serve(args.host, args.port, allow_remote=args.allow_remote, open_browser=args.open)
    except ServeError as exc:
        print(f"lever serve: error: {exc}", file=sys.stderr)
        return 2
