"""The work behind `lever fleet …` (imported only when the command runs)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from lever.cli import exit_codes
from lever.cli.fleet_cmd import fail, home
from lever.config.providers import ConfigError
from lever.fleet import manage, recover, store
from lever.fleet.driver import FleetOptions, FleetRun, execute, plan
from lever.fleet.executors import Executor, ExecutorError, make_executor
from lever.fleet.progress import Progress
from lever.fleet.select import choose
from lever.fleet.tasks import Task, TaskError, load_tasks, tasks_from_prompts
from lever.fleet.workspace import WorkspaceError
from lever.protocol import TurnFinished


def dispatch(args: argparse.Namespace) -> int:
    action = args.fleet_action
    if action is None:
        print(args.fleet_help(), end="")
        return exit_codes.OK
    try:
        if action == "run":
            return run_fleet(args)
        if action == "resume":
            return resume_fleet(args)
        if action == "show":
            print(manage.show(home(), args.run))
        elif action == "apply":
            for line in manage.apply(home(), args.run, args.task, args.attempt):
                print(line)
        elif action == "clean":
            removed = manage.clean(home(), args.run)
            print(f"removed {len(removed)} worktrees and branches")
        else:
            for line in manage.list_runs(home()):
                print(line)
    except store.RunNotFound as e:
        return fail(str(e))
    except manage.ApplyError as e:
        return fail(str(e), exit_codes.ERROR)
    except WorkspaceError as e:
        return fail(str(e), exit_codes.ERROR)
    return exit_codes.OK


def _tasks(args: argparse.Namespace) -> list[Task]:
    if args.tasks and args.prompts:
        raise TaskError("give tasks as arguments or with --tasks FILE, not both")
    if args.tasks:
        return load_tasks(Path(args.tasks), args.verify)
    if not args.prompts:
        raise TaskError("no tasks: give TASK arguments or --tasks FILE")
    return tasks_from_prompts(args.prompts, args.verify)


#: The options `lever fleet resume` takes from the manifest, as they were given.
RECORDED = (
    "attempts", "verify_timeout", "concurrency", "executor", "ray_address", "ray_repo", "max_turns",
    "max_tokens", "timeout", "sandbox", "model", "provider", "base_url", "api_key_env",
    "overrides", "profile",
)  # fmt: skip


def _options(args: argparse.Namespace, tasks: list[Task] | None = None) -> FleetOptions:
    """Everything the run needs, resolved as `lever exec` resolves it (TaskError/ConfigError)."""
    from lever.assembly import limits_from, load_for, resolve_from_args, sandbox_from
    from lever.sandbox.approval import is_unconfined

    cwd = Path(args.cd or ".").resolve()
    if not cwd.is_dir():
        raise TaskError(f"no such folder: {cwd}")
    tasks = tasks if tasks is not None else _tasks(args)
    if args.attempts < 1:
        raise TaskError("-k must be at least 1")
    if args.concurrency is not None and args.concurrency < 1:
        raise TaskError("--concurrency must be at least 1")
    config = load_for(args, cwd)
    concurrency = args.concurrency or os.cpu_count() or 1
    # `--provider local`: one llama-server for the whole run, a slot per concurrent attempt.
    resolved = resolve_from_args(args, config, parallel=concurrency)
    if is_unconfined(sandbox_from(config, args, cwd)):
        # Approval policy is `never`: with no sandbox mechanism every command would be refused.
        raise ConfigError(
            "no sandbox mechanism is available to confine the attempts' commands, and fleets "
            "never ask for approval; install bubblewrap or use --sandbox danger-full-access"
        )
    return FleetOptions(
        tasks=tasks,
        k=args.attempts,
        cwd=cwd,
        home=home(),
        resolved=resolved,
        config=config,
        limits=limits_from(config, args),
        sandbox_mode=args.sandbox,
        verify_timeout=args.verify_timeout,
        exit_code_of=_exit_code,
        recorded={name: getattr(args, name, None) for name in RECORDED},
        concurrency=concurrency,
    )


def _exit_code(reason: str, detail: str) -> int:
    from lever.cli.exec import exit_code_for

    return exit_code_for(TurnFinished(reason=reason, last_message="", detail=detail))


def run_fleet(args: argparse.Namespace) -> int:
    try:
        options = _options(args)
    except (TaskError, ConfigError) as e:
        return fail(str(e))
    executor = make_executor(args.executor, options.concurrency, args.ray_address, args.ray_repo)
    try:
        fleet = plan(options, executor.name)
    except (WorkspaceError, OSError) as e:
        return fail(f"cannot prepare the run: {e}", exit_codes.ERROR)
    return _run(fleet, executor, options, "run")


def resume_fleet(args: argparse.Namespace) -> int:
    """`lever fleet resume RUN`: the recorded options (the config is read again), the attempts
    without a result run again; `--concurrency` / `--executor` may change."""
    try:
        folder, manifest = recover.load_manifest(home(), args.run)
    except (store.RunNotFound, recover.ResumeError) as e:
        return fail(str(e))
    recorded = dict(manifest.get("options") or {})
    for name in ("concurrency", "executor", "ray_address", "ray_repo"):
        if getattr(args, name) is not None:
            recorded[name] = getattr(args, name)
    given = {name: recorded.get(name) for name in RECORDED}
    given["overrides"] = given["overrides"] or []
    given["attempts"] = manifest["k"]
    given["executor"] = given["executor"] or "local"
    given["verify_timeout"] = given["verify_timeout"] or 600.0
    given["ray_repo"] = given["ray_repo"] or "auto"
    cwd = Path(manifest["root"]) / manifest["cwd"]
    namespace = argparse.Namespace(**given, cd=str(cwd), prompts=[], tasks=None, verify=None)
    try:
        options = _options(namespace, recover.tasks_of(manifest))
    except (TaskError, ConfigError) as e:
        return fail(str(e))
    executor = make_executor(
        namespace.executor, options.concurrency, namespace.ray_address, namespace.ray_repo
    )
    try:
        fleet = recover.reopen(folder, options, executor.name)
    except (WorkspaceError, OSError) as e:
        return fail(f"cannot resume the run: {e}", exit_codes.ERROR)
    return _run(fleet, executor, options, "resume")


def _run(fleet: FleetRun, executor: Executor, options: FleetOptions, verb: str) -> int:
    progress = Progress([t.id for t in options.tasks], options.k)
    progress.preload(fleet.results)
    todo = len(fleet.todo)
    what = (
        f"{todo} of {len(fleet.specs)} attempts left"
        if verb == "resume"
        else (f"{len(options.tasks)} tasks x {options.k} attempts")
    )
    progress.note(
        f"run {fleet.id}: {what}, {executor.name} executor, {options.concurrency} at once, "
        f"in {fleet.manifest['root']}"
    )
    if options.resolved.provider.name == "local":
        progress.bottleneck = (
            f"one llama-server for the run, {options.concurrency} parallel slots: the model's "
            "throughput, not lever, is the bottleneck"
        )
        progress.note(progress.bottleneck)
    try:
        with progress:
            interrupted = asyncio.run(_drive(fleet, executor, progress, options))
    except ExecutorError as e:
        return fail(f"{e} (run {fleet.id} recorded; `lever fleet clean {fleet.id}`)")
    return _report(fleet, interrupted)


async def _drive(
    fleet: FleetRun, executor: Executor, progress: Progress, options: FleetOptions
) -> bool:
    """Run the fleet; True when Ctrl-C (or SIGTERM) stopped it. The first Ctrl-C cancels every
    attempt (each closes its session, killing its processes); a second one kills lever."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None

    def stop() -> None:
        main.cancel()
        loop.remove_signal_handler(signal.SIGINT)

    loop.add_signal_handler(signal.SIGINT, stop)
    loop.add_signal_handler(signal.SIGTERM, stop)
    try:
        await execute(fleet, executor, progress, options)
    except asyncio.CancelledError:
        main.uncancel()
        return True
    return False


def _report(fleet: FleetRun, interrupted: bool) -> int:
    chosen = choose(fleet.results)
    print(manage.table(fleet.results, chosen))
    if interrupted:
        missing = len(fleet.specs) - len(fleet.results)
        print(
            f"lever fleet: interrupted; {missing} attempts did not finish. Worktrees are "
            f"recorded: `lever fleet resume {fleet.id}` finishes the run, `lever fleet clean "
            f"{fleet.id}` removes them.",
            file=sys.stderr,
        )
        return exit_codes.INTERRUPTED
    unsolved = [task for task, n in chosen.items() if n is None]
    print(
        f"lever fleet: run {fleet.id} finished; `lever fleet show {fleet.id}` for the diffs, "
        f"`lever fleet apply {fleet.id}` to apply the chosen ones, `lever fleet clean "
        f"{fleet.id}` to remove the worktrees",
        file=sys.stderr,
    )
    if unsolved:
        print(f"lever fleet: no attempt passed for: {', '.join(unsolved)}", file=sys.stderr)
        return exit_codes.ERROR
    return exit_codes.OK
