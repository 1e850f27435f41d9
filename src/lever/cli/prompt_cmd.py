"""`lever prompt`: print the system prompt (there are no hidden instructions)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "prompt", help="print the system prompt lever sends to the model"
    )
    p.add_argument(
        "--local",
        action="store_true",
        help="the short prompt of small local models (--provider local) instead",
    )
    p.add_argument(
        "-a",
        "--ask-for-approval",
        metavar="POLICY",
        choices=("untrusted", "on-failure", "on-request", "never"),
        default="never",
        help="with --local: the approval policy it is written for (default: never)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    from lever.agent.prompts import load_prompt, small_model_prompt

    if args.local:
        sys.stdout.write(small_model_prompt(args.ask_for_approval))
    else:
        sys.stdout.write(load_prompt("system"))
    return 0
