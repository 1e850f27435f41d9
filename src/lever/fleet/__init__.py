"""Fleets (DESIGN.md §8): N tasks x k attempts, each in its own worktree and session, graded by
a verification command; the best attempt per task can be applied to the main tree.

Modules: `tasks` (what to run), `workspace` (worktrees, copies, diffs), `attempt` (one attempt:
a session to its end, then the verification), `executors` (local asyncio, Ray), `select`
(the best attempt), `store` (the run's files under `$LEVER_HOME/fleets/RUN/`), `driver`
(`lever fleet run`), `recover` (`lever fleet resume`), `manage` (show, apply, clean, list),
`progress` (what the person sees), `events` (the run as `events.jsonl`, and its readers),
`shipping` (the repository as a git bundle for Ray workers without the shared path).
"""
