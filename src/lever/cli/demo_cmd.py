"""`lever demo`: the real loop on a sample project with a scripted model."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="watch lever fix a bug in a sample project (scripted model, no key needed)",
        description="Copy a small sample project with a failing test into a temporary folder and "
        "run the real agent loop on it. The model's turns are scripted; with --local a real small "
        "model on this machine answers a question about the sample instead (no key needed; "
        "`lever local pull` first).",
    )
    p.add_argument(
        "--local",
        action="store_true",
        help="a real model: Qwen2.5-Coder on llama-server on this CPU (see `lever local`)",
    )
    p.add_argument(
        "--model", default="1.5b", metavar="0.5b|1.5b", help="with --local (default: 1.5b)"
    )
    p.add_argument("--keep", action="store_true", help="keep the sample folder afterwards")
    p.add_argument("--json", action="store_true", help="print the event stream as JSONL")
    return p


def run(args: argparse.Namespace) -> int:
    from lever.cli.exec import json_printer
    from lever.cli.render import HumanRenderer
    from lever.demo import Subscriber

    show: list[Subscriber] = [HumanRenderer()]
    if args.json:
        show.append(json_printer)
    if args.local:
        from lever.config.providers import ConfigError
        from lever.demo.local import run_local_demo

        try:
            return run_local_demo(args.model, show, keep=args.keep)
        except ConfigError as e:
            print(f"lever demo --local: {e}", file=sys.stderr)
            return 2
    from lever.demo import run_demo

    return run_demo(show, keep=args.keep)
