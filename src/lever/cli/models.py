"""`lever models`: what a provider serves."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lever.cli import exit_codes
from lever.cli.flags import add_model_flags


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("models", help="list the models a provider serves")
    add_model_flags(p)
    return p


def run(args: argparse.Namespace) -> int:
    import asyncio

    from lever.assembly import load_for, resolve_from_args
    from lever.config.providers import ConfigError
    from lever.models.base import ModelError
    from lever.models.factory import list_models

    try:
        config = load_for(args, Path.cwd())
        if not args.model:
            args.model = "-"  # listing needs no model name
        resolved = resolve_from_args(args, config)
    except ConfigError as e:
        print(f"lever models: {e}", file=sys.stderr)
        return exit_codes.USAGE
    provider = resolved.provider
    try:
        names = asyncio.run(list_models(provider.wire, provider.base_url, resolved.api_key))
    except ModelError as e:
        print(f"lever models: {provider.name}: {e}", file=sys.stderr)
        return exit_codes.ERROR
    for name in sorted(names):
        print(name)
    return exit_codes.OK
