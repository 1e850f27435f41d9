"""Executors run attempts and yield their results as they finish, behind one interface.

`local`: asyncio tasks in this process, at most `concurrency` at once. `ray`: each attempt is a
Ray task running the same `run_attempt` on a worker, on the shared path when the worker sees
the run's folder, else on a copy unpacked from a git bundle shipped with the task
(`lever.fleet.shipping`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any, Protocol

from lever.fleet import shipping
from lever.fleet.attempt import AttemptResult, AttemptSpec, run_attempt

Started = Callable[[AttemptSpec], None]

RAY_MISSING = (
    "the ray executor needs Ray: install lever with the `ray` extra "
    "(`pip install 'lever[ray]'` or `uv sync --extra ray`)"
)


class ExecutorError(RuntimeError):
    """The executor cannot run (Ray missing, cluster unreachable): one line for the person."""


class Executor(Protocol):
    name: str

    def run(
        self, specs: Sequence[AttemptSpec], started: Started
    ) -> AsyncGenerator[AttemptResult, None]:
        """Run every attempt; yield each result as it finishes. Closing the iterator (or
        cancelling its consumer) cancels the attempts still running and waits for them."""
        ...


class LocalExecutor:
    name = "local"

    def __init__(self, concurrency: int) -> None:
        self.concurrency = max(1, concurrency)

    async def run(
        self, specs: Sequence[AttemptSpec], started: Started
    ) -> AsyncGenerator[AttemptResult, None]:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(spec: AttemptSpec) -> AttemptResult:
            async with gate:
                started(spec)
                return await run_attempt(spec)

        tasks = [asyncio.create_task(one(spec)) for spec in specs]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()
            # Each attempt closes its session (killing its processes) before it ends.
            await asyncio.gather(*tasks, return_exceptions=True)


class RayExecutor:
    name = "ray"

    def __init__(
        self, concurrency: int, address: str | None = None, repo_mode: str = "auto"
    ) -> None:
        self.concurrency = max(1, concurrency)
        self.address = address
        #: auto | shared | bundle (`--ray-repo`): how workers reach the repository.
        self.repo_mode = repo_mode
        #: This run started Ray (a local cluster, or a connection): it shuts it down after.
        self._started = False

    def _start(self) -> Any:
        # Under `uv run`, Ray would package the current folder (the person's repository) as
        # the workers' working_dir and start them with `uv run`; workers need neither: they
        # import lever from this same environment. And no usage reports leave the machine.
        os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            import ray
        except ImportError as e:
            raise ExecutorError(RAY_MISSING) from e
        if ray.is_initialized():
            return ray
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,  # lever's progress is the report, not Ray's log
        }
        if self.address:
            options["address"] = self.address
        else:
            options["num_cpus"] = self.concurrency
        try:
            try:
                ray.init(**options)
            except Exception as e:
                # Ray waits a fixed 30 s for its raylet; on a busy machine one more try helps.
                if "timed out during startup" not in str(e):
                    raise
                ray.shutdown()
                ray.init(**options)
        except Exception as e:  # Ray raises many kinds; the person needs one line
            raise ExecutorError(f"cannot start Ray: {e}") from e
        self._started = True
        return ray

    async def run(
        self, specs: Sequence[AttemptSpec], started: Started
    ) -> AsyncGenerator[AttemptResult, None]:
        ray = await asyncio.to_thread(self._start)
        remote = ray.remote(num_cpus=1, max_retries=0)(shipping.run_shipped)
        payload, force = None, self.repo_mode == "bundle"
        if specs and (force or (self.repo_mode == "auto" and _remote_nodes(ray))):
            data = await asyncio.to_thread(shipping.pack, specs[0].source, specs[0].snapshot)
            payload = ray.put(data)  # stored once, fetched by each node that needs it
        waiting = list(specs)
        running: dict[asyncio.Future[Any], tuple[Any, AttemptSpec]] = {}
        try:
            while waiting or running:
                while waiting and len(running) < self.concurrency:
                    spec = waiting.pop(0)
                    started(spec)
                    ref = remote.remote(spec, payload, force)
                    running[asyncio.wrap_future(ref.future())] = (ref, spec)
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    _, spec = running.pop(future)
                    yield _result_of(future, spec)
        finally:
            for future, (ref, _) in running.items():
                future.cancel()  # its TaskCancelledError is then nobody's to report
                ray.cancel(ref, force=True)
            if self._started:
                await asyncio.to_thread(ray.shutdown)


def _remote_nodes(ray: Any) -> bool:
    """Whether the cluster has live nodes other than this machine (their workers may not see
    its file system)."""
    here = ray.util.get_node_ip_address()
    return any(n.get("Alive") and n.get("NodeManagerAddress") != here for n in ray.nodes())


def _result_of(future: asyncio.Future[Any], spec: AttemptSpec) -> AttemptResult:
    """The worker's result; a worker that died or could not run the attempt is its error."""
    try:
        return shipping.receive(future.result(), spec)
    except Exception as e:  # RayTaskError, WorkerCrashedError, …: one line in the results
        message = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        return AttemptResult(spec.task.id, spec.n, "error", error=f"ray: {message}")


def make_executor(
    name: str, concurrency: int, address: str | None = None, repo_mode: str = "auto"
) -> Executor:
    if name == "ray":
        return RayExecutor(concurrency, address, repo_mode)
    return LocalExecutor(concurrency)
