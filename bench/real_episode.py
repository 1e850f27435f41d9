"""A 5-step episode with a real model: lever, the Codex CLI and mini-swe-agent against one
llama-server (Qwen2.5-Coder 1.5B), through a recording proxy. See bench/README.md.

    uv run python bench/real_episode.py [--agents lever,codex,mini] [--repeats 3]
    bench/run --real [...]

Prints a Markdown table; raw figures go to bench/results/real_episode.json, and every request
and reply body to bench/results/real_episode/ (both gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import real_agents
from agents import Agent
from real_proxy import Exchange, RecordingProxy
from real_report import render, steps
from run import machine

from lever.local.manage import LocalOptions, resolve_gguf
from lever.local.server import ServerSpec, find_server_binary, free_port, start, stop_process

HERE = Path(__file__).resolve().parent
#: Unsorted, and no word a model would guess as "the first one".
WORDS = ["quokka", "zephyr", "marmot", "kestrel", "narwhal", "tapir", "gecko", "ocelot"]
EXPECTED = sorted(WORDS)[0]
#: No shell operators (`>`, `|`): lever's `shell` tool takes an argv list, Codex's and
#: mini-swe-agent's a string for a shell, and a redirect written into an argv list is an
#: argument, not a redirect (a trial run did exactly that). The task measures the harnesses,
#: not that difference, so every command means the same in both forms.
TASK = """\
Run these five shell commands in the current folder, one command per tool call, in this order:
1. mkdir out
2. cp data/words.txt out/words.txt
3. sort -o out/sorted.txt out/words.txt
4. wc -l out/sorted.txt
5. head -n 1 out/sorted.txt
Then finish: your final answer is the word that command 5 printed."""


# -- the model server ----------------------------------------------------------------------


def start_server(model: str, folder: Path) -> tuple[subprocess.Popen[bytes], str, list[str]]:
    """lever's own llama-server start (`lever local serve`'s flags: -t CPUs -np 1 -c 8192
    --jinja, lever's chat template, --temp 0, -n 512) on a free port; (process, URL, argv)."""
    options = LocalOptions(model=model)
    spec = ServerSpec(gguf=resolve_gguf(options), binary=find_server_binary(None), port=free_port())
    process = start(spec, folder / "llama-server.log")
    return process, f"http://127.0.0.1:{spec.port}/v1", spec.command()


# -- one episode ---------------------------------------------------------------------------


def prepare(work: Path) -> None:
    (work / "data").mkdir(parents=True)
    (work / "data" / "words.txt").write_text("\n".join(WORDS) + "\n")


def check(work: Path, answer: str) -> tuple[bool, str]:
    """Correct when the commands left their files and the answer names the word (commands 4
    and 5 only print: the request count shows whether they ran)."""
    expect = {
        "out/words.txt": "\n".join(WORDS) + "\n",
        "out/sorted.txt": "\n".join(sorted(WORDS)) + "\n",
    }
    for name, text in expect.items():
        path = work / name
        if not path.exists():
            return False, f"{name} missing"
        if path.read_text() != text:
            return False, f"{name} has other content"
    if EXPECTED not in answer.lower():
        return False, f"answer does not name {EXPECTED!r}: {answer[:80]!r}"
    return True, ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_episode(
    agent: Agent, proxy: RecordingProxy, folder: Path, raw: Path, timeout: float, server: int
) -> dict[str, Any]:
    """One episode of `agent` in a fresh folder; `server` is llama-server's pid."""
    work, home = folder / "work", folder / "home"
    prepare(work)
    home.mkdir(parents=True)
    proxy.take()  # anything left over from the previous agent is not this one's
    server_cpu = cpu_seconds(server)
    started = time.monotonic()
    with (folder / "stdout").open("wb") as out, (folder / "stderr").open("wb") as err:
        proc = subprocess.Popen(
            real_agents.argv(agent, proxy.base_url, work, home, TASK),
            cwd=work, env=real_agents.env(agent, proxy.base_url, home),
            stdin=subprocess.DEVNULL, stdout=out, stderr=err,
        )  # fmt: skip
        try:
            code: int | str = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = f"killed after {timeout:.0f} s"
        finally:  # also when the bench itself is stopped: no agent outlives it
            proc.kill()
            proc.wait()
    ended = time.monotonic()
    server_cpu = cpu_seconds(server) - server_cpu
    time.sleep(0.2)  # a reply the agent abandoned is recorded when its stream closes
    exchanges, bodies = proxy.take()
    _keep_bodies(raw, bodies)
    answer = real_agents.answer(agent, home)
    correct, why = check(work, answer)
    if code != 0 and not why:
        why = f"exit {code}"
    return {
        "returncode": code,
        "correct": correct and code == 0,
        "why": why or _stderr_tail(folder / "stderr", code),
        "answer": answer[-300:],
        **timing(started, ended, exchanges),
        "server_cpu_s": server_cpu,
        "requests": [_request(x, started) for x in exchanges],
    }


def timing(started: float, ended: float, exchanges: list[Exchange]) -> dict[str, float]:
    """Wall time, the time the server was working for the agent (the union of the requests'
    intervals, so overlapping requests count once) and the rest: the harness's own share
    (start-up, its work between replies, the commands, shutdown)."""
    server = 0.0
    reach = started
    for x in sorted(exchanges, key=lambda x: x.started):
        begin, end = max(x.started, reach), min(x.ended, ended)
        if end > begin:
            server += end - begin
        reach = max(reach, x.ended)
    wall = ended - started
    return {"wall_s": wall, "server_s": server, "harness_s": wall - server}


def _request(x: Exchange, started: float) -> dict[str, Any]:
    return {
        "path": x.path,
        "status": x.status,
        "at_s": x.started - started,
        "server_s": x.ended - x.started,
        "request_bytes": x.request_bytes,
        **x.figures,
    }


def _keep_bodies(raw: Path, bodies: list[tuple[bytes, bytes]]) -> None:
    raw.mkdir(parents=True, exist_ok=True)
    for i, (request, reply) in enumerate(bodies, 1):
        (raw / f"{i:02d}-request.json").write_bytes(request)
        (raw / f"{i:02d}-reply.txt").write_bytes(reply)


def _stderr_tail(path: Path, code: int | str) -> str:
    if code == 0:
        return ""
    lines = path.read_text(errors="replace").strip().splitlines()
    return lines[-1][:200] if lines else ""


# -- several episodes per agent ------------------------------------------------------------


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs (counts too: the runs are mostly identical at temperature 0),
    plus the run whose wall time is the median, in full, for the per-request table."""
    ordered = sorted(runs, key=lambda r: r["wall_s"])
    middle = ordered[(len(ordered) - 1) // 2]

    def median(get: Any) -> float:
        return statistics.median(get(r) for r in runs)

    def total(r: dict[str, Any], key: str) -> int:
        return sum(x.get(key) or 0 for x in r["requests"])

    return {
        "runs": len(runs),
        "correct": sum(r["correct"] for r in runs),
        "wall_s": median(lambda r: r["wall_s"]),
        "server_s": median(lambda r: r["server_s"]),
        "harness_s": median(lambda r: r["harness_s"]),
        # Cores the server had while it worked for the agent (it runs -t CPUs threads): below
        # that, other work on the shared machine was taking CPU from it.
        "server_cores": median(lambda r: r["server_cpu_s"] / r["server_s"] if r["server_s"] else 0),
        "load": median(lambda r: r["load_at_start"]),
        "requests": median(lambda r: len(r["requests"])),
        "steps": median(steps),
        "prompt_n": median(lambda r: total(r, "prompt_n")),
        "cache_n": median(lambda r: total(r, "cache_n")),
        "predicted_n": median(lambda r: total(r, "predicted_n")),
        "failures": sorted({r["why"] for r in runs if not r["correct"]}),
        "median_run": middle,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--agents", default=",".join(real_agents.AGENTS), help="comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="episodes per agent")
    parser.add_argument("--model", default="1.5b", help="a pulled local model (lever local)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per episode")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "real_episode.json")
    args = parser.parse_args()
    # SIGTERM (or SIGINT, which a background job ignores) unwinds through the `finally`
    # blocks, which stop the agent and the model server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    raw = args.json.with_suffix("")  # every request and reply body, per episode
    shutil.rmtree(raw, ignore_errors=True)
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
        "load_at_start": os.getloadavg(),
        "task": TASK,
        "agents": {},
    }
    agents = [real_agents.AGENTS[key]() for key in args.agents.split(",")]
    for agent in agents:
        agent.install()  # installs first, so the episodes run within the same few minutes
    with tempfile.TemporaryDirectory(prefix="lever-real-") as tmp:
        began = time.monotonic()
        server, upstream, command = start_server(args.model, Path(tmp))
        results["server"] = {"argv": command, "start_s": time.monotonic() - began}
        results["load_at_start"] = os.getloadavg()  # the server is loaded: the episodes begin
        args.json.parent.mkdir(parents=True, exist_ok=True)

        def save(runs: dict[str, list[dict[str, Any]]]) -> None:
            # After every episode: a run stopped half-way still leaves its figures.
            for agent in agents:
                results["agents"][agent.name] = _agent_result(agent, runs[agent.name])
            results["seconds"] = time.monotonic() - began
            args.json.write_text(json.dumps(results, indent=1))

        save({agent.name: [] for agent in agents})
        try:
            with RecordingProxy(upstream) as proxy:
                _episodes(agents, proxy, server.pid, args, Path(tmp), raw, save)
        finally:
            # SIGTERM, then SIGKILL: a server still generating for an agent that was killed
            # can take longer than a few seconds to stop on its own.
            stop_process(server.pid, server)
            raw.mkdir(parents=True, exist_ok=True)
            shutil.copy(Path(tmp) / "llama-server.log", raw / "llama-server.log")
    print(render(results))
    return 0


def _agent_result(agent: Agent, runs: list[dict[str, Any]]) -> dict[str, Any]:
    if agent.unavailable:
        return {"unavailable": agent.unavailable, "version": agent.version}
    if not runs:
        return {"unavailable": "no episode finished (the bench was stopped)"}
    return {"version": agent.version, **summarize(runs), "all_runs": runs}


def _episodes(
    agents: list[Agent],
    proxy: RecordingProxy,
    server: int,
    args: argparse.Namespace,
    tmp: Path,
    raw: Path,
    save: Callable[[dict[str, list[dict[str, Any]]]], None],
) -> None:
    """Round by round, each agent once per round: a change in the machine's load (it is
    shared) then falls on every agent alike instead of on one agent's block of runs."""
    runs: dict[str, list[dict[str, Any]]] = {a.name: [] for a in agents}
    for i in range(args.repeats):
        for agent in agents:
            if agent.unavailable:
                continue
            print(f"… {agent.name}, episode {i + 1}/{args.repeats}", file=sys.stderr, flush=True)
            load = os.getloadavg()[0]
            slug = f"{agent.name.replace(' (', '-').rstrip(')')}-{i + 1}"
            run = run_episode(agent, proxy, tmp / slug, raw / slug, args.timeout, server)
            run["load_at_start"] = load
            print(
                f"  {run['wall_s']:.1f} s, {len(run['requests'])} requests, "
                f"{'correct' if run['correct'] else 'not correct: ' + run['why']}",
                file=sys.stderr, flush=True,
            )  # fmt: skip
            runs[agent.name].append(run)
            save(runs)


if __name__ == "__main__":
    sys.exit(main())
