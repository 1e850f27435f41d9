"""`lever app-server`: JSON-RPC 2.0 over stdio for editors (docs/app-server.md)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "app-server",
        help="JSON-RPC 2.0 over stdio for editor extensions",
        description="Speak JSON-RPC 2.0 on stdin/stdout, one JSON message per line: sessions "
        "(new, resume, fork, list, close), turns, interrupts, approvals, config and models; every "
        "session event is streamed as an `event` notification. The protocol and its JSON Schema "
        "are described in docs/app-server.md. Ends when stdin closes.",
    )
    return p


def run(args: argparse.Namespace) -> int:
    import asyncio

    from lever.server.app_server import serve_stdio

    asyncio.run(serve_stdio())
    return 0
