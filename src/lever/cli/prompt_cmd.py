"""`lever prompt`: print the system prompt (there are no hidden instructions)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "prompt", help="print the system prompt lever sends to the model"
    )
    return p


def run(args: argparse.Namespace) -> int:
    from lever.agent.prompts import load_prompt

    sys.stdout.write(load_prompt("system"))
    return 0
