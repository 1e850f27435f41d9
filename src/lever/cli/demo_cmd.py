"""`lever demo`: the real loop on a sample project with a scripted model."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="watch lever fix a bug in a sample project (scripted model, no key needed)",
        description="Copy a small sample project with a failing test into a temporary folder and "
        "run the real agent loop on it. The model's turns are scripted.",
    )
    p.add_argument("--keep", action="store_true", help="keep the sample folder afterwards")
    p.add_argument("--json", action="store_true", help="print the event stream as JSONL")
    return p


def run(args: argparse.Namespace) -> int:
    from lever.demo import run_demo

    return run_demo(keep=args.keep, json_events=args.json)
