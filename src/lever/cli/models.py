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
        if (args.provider or config.get("provider")) == "local" and not args.base_url:
            return _list_local()
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


def _list_local() -> int:
    """`--provider local`: the pulled pinned models (no server is started to list them)."""
    from lever.local.models import MODELS
    from lever.local.pull import is_pulled

    pulled = [name for name, model in MODELS.items() if is_pulled(model)]
    for name in pulled:
        print(name)  # what --model takes; `lever local status` shows the files
    if not pulled:
        print(
            "lever models: no local model is pulled yet: `lever local pull 1.5b` fetches one "
            f"(known: {', '.join(MODELS)})",
            file=sys.stderr,
        )
    return exit_codes.OK
