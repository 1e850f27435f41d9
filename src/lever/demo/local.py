"""`lever demo --local`: a real small model on this machine, on a task it can do, judged honestly.

Qwen2.5-Coder (1.5B by default) runs on lever's own llama-server on 127.0.0.1 (started here,
stopped at exit), in a copy of the sample project. The task is a one-step shell question, the
size of task a 1.5B model handles; the answer is checked against the file itself, and the run
reports its time, requests and tokens whether the model got it right or not.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from lever.agent.limits import Limits
from lever.config.loader import ConfigError
from lever.protocol import TokenUsage, TurnFinished

if TYPE_CHECKING:
    from lever.agent.session import Session
    from lever.demo import Subscriber

FILE = "README.md"
TASK = f"How many lines does {FILE} have? Use the shell, then answer with the number."
#: One shell call and an answer; a model that needs far more is lost, not working.
MAX_REQUESTS = 6

BANNER = """\
lever demo --local — a REAL model: {title}, on llama-server on this machine's CPU (no key, no
network). Small models are slow and fallible; this one gets a task of its size, and the answer
is checked against the file. Working in a copy of the sample project: {folder}
"""


class _Tally:
    """Requests and tokens, counted from the event stream like every other front end."""

    def __init__(self) -> None:
        self.requests = self.input_tokens = self.output_tokens = self.cached_tokens = 0

    def __call__(self, event: BaseModel) -> None:
        if isinstance(event, TokenUsage):
            self.requests += 1
            self.input_tokens += event.input_tokens
            self.output_tokens += event.output_tokens
            self.cached_tokens += event.cached_input_tokens


def run_local_demo(model: str, show: Sequence[Subscriber], keep: bool = False) -> int:
    """The demo on a real local model; raises ConfigError (unknown model, no server)."""
    from lever.demo import copy_sample
    from lever.local.models import MODELS

    if model not in MODELS:
        raise ConfigError(f"unknown model {model!r}; known: 0.5b, 1.5b")
    folder = Path(tempfile.mkdtemp(prefix="lever-demo-local-"))
    try:
        copy_sample(folder)
        print(BANNER.format(title=MODELS[model].title, folder=folder), file=sys.stderr)
        print(f"task: {TASK}\n", file=sys.stderr)
        return _run_and_judge(folder, model, show)
    finally:
        if keep:
            print(f"kept the sample folder: {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _run_and_judge(folder: Path, model: str, show: Sequence[Subscriber]) -> int:
    from lever.assembly import build_session, load_for, start_local
    from lever.config.providers import resolve_model

    expected = len((folder / FILE).read_text(encoding="utf-8").splitlines())
    began = time.monotonic()
    config = load_for(argparse.Namespace(overrides=[], profile=None), folder)
    resolved = start_local(resolve_model(config, provider="local", model=model), config)
    session = build_session(resolved, folder, config, Limits(max_turns=MAX_REQUESTS))
    tally = _Tally()
    for subscriber in show:
        session.subscribe(subscriber)
    session.subscribe(tally)
    finished = asyncio.run(_one_turn(session))
    seconds = time.monotonic() - began
    right = re.search(rf"(?<!\d){expected}(?!\d)", finished.last_message) is not None
    print(
        f"\n{seconds:.1f} s (server start included), {tally.requests} requests, "
        f"{tally.input_tokens} prompt tokens ({tally.cached_tokens} reused from the server's "
        f"cache), {tally.output_tokens} generated",
        file=sys.stderr,
    )
    if finished.reason == "done" and right:
        print(f"the model answered correctly: {FILE} has {expected} lines", file=sys.stderr)
        return 0
    said = finished.last_message.strip()[:200] or f"no answer (the run ended: {finished.reason})"
    print(
        f"the model did NOT answer correctly: it said {said!r}; {FILE} has {expected} lines",
        file=sys.stderr,
    )
    return 1


async def _one_turn(session: Session) -> TurnFinished:
    session.start()
    finished = await session.run_turn(TASK)
    await session.close(finished.reason)
    return finished
