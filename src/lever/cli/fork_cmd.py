"""`lever fork`: registered separately so `lever --help` lists it; shares resume's code."""

from __future__ import annotations

import argparse
from typing import Any

from lever.cli.resume_cmd import register_fork
from lever.cli.resume_cmd import run as run


def register(sub: Any) -> argparse.ArgumentParser:
    return register_fork(sub)
