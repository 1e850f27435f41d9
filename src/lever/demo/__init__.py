"""`lever demo`: the real agent loop on a bundled sample project, with a scripted model.

The model is lever's fake model server on 127.0.0.1 playing `script.json`; everything else (the
shell commands, the patch, the tests, the rollout) is real.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from importlib.resources import as_file, files
from pathlib import Path

from pydantic import BaseModel

from lever.agent.session import Session
from lever.config.loader import lever_home
from lever.models.factory import make_client
from lever.protocol import TurnFinished
from lever.store.rollout import RolloutWriter, new_session_id
from lever.testing.fake_model import FakeModelServer
from lever.tools.registry import default_tools

TASK = "The test suite fails. Find the bug and fix it, then show that the tests pass."

BANNER = """\
lever demo — the model's turns are SCRIPTED: a fake model server on 127.0.0.1 plays a fixed
script, so no key or network is needed. The shell commands, the patch and the tests are real,
run in a copy of a small sample project: {folder}
"""

REAL_MODEL_HINT = """
To use a real model:
  export OPENAI_API_KEY=...      && lever exec "your task"
  export ANTHROPIC_API_KEY=...   && lever exec --provider anthropic "your task"
  a small model on this machine, offline and without a key (Qwen2.5-Coder 1.5B):
  lever local pull 1.5b --server && lever exec --provider local "your task"
  (or try it on this sample: lever demo --local)
  a local server (llama.cpp, Ollama, vLLM):
  lever exec --provider openai-chat --base-url http://127.0.0.1:8080/v1 --model NAME "your task"
"""


def copy_sample(target: Path) -> None:
    with as_file(files(__name__) / "sample") as sample:
        shutil.copytree(sample, target, dirs_exist_ok=True)


def _tests_pass(folder: Path) -> bool:
    result = subprocess.run(
        [sys.executable, "-m", "unittest", "-q"], cwd=folder, capture_output=True, check=False
    )
    return result.returncode == 0


#: What shows the run (the CLI passes its renderer and, with --json, its JSONL printer): the
#: demo does not import the CLI (DESIGN.md §1: nothing imports `cli`).
Subscriber = Callable[[BaseModel], None]


async def _run(folder: Path, show: Sequence[Subscriber]) -> TurnFinished:
    script = json.loads((files(__name__) / "script.json").read_text(encoding="utf-8"))
    with FakeModelServer(script) as server:
        session_id = new_session_id()
        session = Session(
            make_client("openai-responses", server.base_url, None),
            model="scripted-demo-model",
            provider="demo (scripted)",
            cwd=folder,
            tools=default_tools(),
            rollout=RolloutWriter.create(lever_home(), session_id),
            session_id=session_id,
            home=lever_home(),
        )
        for subscriber in show:
            session.subscribe(subscriber)
        session.start()
        finished = await session.run_turn(TASK)
        await session.close(finished.reason)
        return finished


def run_demo(show: Sequence[Subscriber], keep: bool = False) -> int:
    folder = Path(tempfile.mkdtemp(prefix="lever-demo-"))
    try:
        copy_sample(folder)
        print(BANNER.format(folder=folder), file=sys.stderr)
        print(f"task: {TASK}\n", file=sys.stderr)
        finished = asyncio.run(_run(folder, show))
        passing = _tests_pass(folder)
        print(f"\nsample tests after the run: {'PASS' if passing else 'FAIL'}", file=sys.stderr)
        print(REAL_MODEL_HINT, file=sys.stderr)
        return 0 if finished.reason == "done" and passing else 1
    finally:
        if keep:
            print(f"kept the sample folder: {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
