"""The dashboard's ASGI app: pages, static files, the session API and the event stream.

Every route sits behind `GateMiddleware` (lever.dashboard.security): Host check, token, CSRF.
Pages are one HTML shell; the browser renders the transcript from the events themselves
(static/app.js), with DOM text nodes only, so a model's `<script>` stays text.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse

from lever.dashboard import sessions, views
from lever.dashboard.fleets import FleetRunner
from lever.dashboard.security import Gate, GateMiddleware
from lever.dashboard.stream import SESSION_ID, StreamHub, follow
from lever.dashboard.tasks import TaskError, TaskRequest, TaskRunner
from lever.sandbox.paths import PathOutsideRoots, confine

STATIC = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def create_app(
    home: Path,
    gate: Gate,
    static_dir: Path = STATIC,
    stopping: Callable[[], bool] = lambda: False,
) -> GateMiddleware:
    """The app wrapped in its gate. `static_dir` is replaceable for tests only; `stopping()`
    says the server is shutting down (event streams then end instead of holding it up)."""
    runner = TaskRunner(home)
    fleet_runner = FleetRunner(home)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.gather(runner.shutdown(), fleet_runner.shutdown())

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.runner = runner
    app.state.fleet_runner = fleet_runner
    _page_routes(app, gate, static_dir)
    app.state.stopping = stopping
    _api_routes(app, home, runner)

    def page(view: str, subject: str) -> HTMLResponse:
        return _page(static_dir, gate, view, subject)

    views.fleet_routes(app, home, fleet_runner, page)
    views.eval_routes(app, home, page)
    return GateMiddleware(app, gate)


def _page(static_dir: Path, gate: Gate, view: str, session_id: str = "") -> HTMLResponse:
    shell = (static_dir / "page.html").read_text(encoding="utf-8")
    for key, value in (("csrf", gate.csrf), ("view", view), ("session", session_id)):
        shell = shell.replace("{{" + key + "}}", html.escape(value, quote=True))
    return HTMLResponse(shell)


def _static_file(static_dir: Path, name: str) -> Path:
    """A file inside the static folder, or 404: no `..`, no absolute path, no symlink out."""
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        raise HTTPException(404)
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise HTTPException(404)
    try:
        path = confine(name, static_dir, [static_dir])
    except (PathOutsideRoots, OSError) as exc:
        raise HTTPException(404) from exc
    if not path.is_file() or path.name == "page.html":
        raise HTTPException(404)
    return path


def _page_routes(app: FastAPI, gate: Gate, static_dir: Path) -> None:
    @app.get("/", response_class=HTMLResponse)
    def index_page() -> HTMLResponse:
        return _page(static_dir, gate, "sessions")

    @app.get("/s/{session_id}", response_class=HTMLResponse)
    def session_page(session_id: str) -> HTMLResponse:
        if not SESSION_ID.match(session_id):
            raise HTTPException(404)
        return _page(static_dir, gate, "session", session_id)

    @app.get("/static/{name:path}")
    def static(name: str) -> FileResponse:
        path = _static_file(static_dir, name)
        return FileResponse(path, media_type=_TYPES.get(path.suffix, "application/octet-stream"))


def _rollout(home: Path, session_id: str) -> Path:
    if not SESSION_ID.match(session_id):
        raise HTTPException(404)
    path = sessions.rollout_of(home, session_id)
    if path is None:
        raise HTTPException(404, "no such session")
    return path


def _after(request: Request) -> int:
    """Where to resume: EventSource's `Last-Event-ID` header, else `?after=`, else the start."""
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    try:
        return max(0, int(raw))
    except ValueError:
        return 0


def _api_routes(app: FastAPI, home: Path, runner: TaskRunner) -> None:
    # One watch per rollout, shared by every page following it; woken when the server stops.
    hub = StreamHub(lambda: bool(app.state.stopping()))

    @app.get("/api/sessions")
    def api_sessions(
        q: str = "", cwd: str = "", status: str = "", limit: int = 100
    ) -> list[dict[str, Any]]:
        return sessions.list_sessions(home, q=q, cwd=cwd, status=status, limit=limit)

    @app.get("/api/projects")
    def api_projects() -> list[str]:
        return sessions.projects(home)

    @app.get("/api/sessions/{session_id}/events")
    async def api_events(
        session_id: str, request: Request, follow_: int = Query(1, alias="follow")
    ) -> StreamingResponse:
        path = await asyncio.to_thread(_rollout, home, session_id)
        stopping = app.state.stopping

        async def gone() -> bool:
            return bool(stopping()) or await request.is_disconnected()

        stream = follow(path, _after(request), gone, once=not follow_, hub=hub)
        headers = {"x-accel-buffering": "no"}
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)

    _task_routes(app, home, runner)


def _task_routes(app: FastAPI, home: Path, runner: TaskRunner) -> None:
    # The task routes are `async`: they touch the sessions' asyncio state (cancelling a turn,
    # resolving an approval, reading the open requests), which only the event loop may do;
    # a plain `def` route would run in a worker thread.
    @app.get("/api/tasks")
    async def api_tasks() -> list[dict[str, Any]]:
        return [task.to_dict() for task in runner.tasks.values()]

    @app.post("/api/tasks")
    async def api_new_task(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            # The page's form sends the fleet's fields too (attempts 1, verify empty).
            known = {f.name for f in fields(TaskRequest)}
            task_request = TaskRequest(**{k: str(v) for k, v in dict(body).items() if k in known})
        except (ValueError, TypeError) as exc:
            raise HTTPException(400, "expected a JSON object with prompt, cwd, model…") from exc
        try:
            task_request.check(set(await asyncio.to_thread(sessions.projects, home)))
            task = await runner.start(task_request)
        except TaskError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({**task.to_dict(), "request": asdict(task_request)})

    @app.post("/api/tasks/{session_id}/interrupt")
    async def api_interrupt(session_id: str) -> dict[str, bool]:
        if session_id not in runner.tasks:
            raise HTTPException(404, "no task with this id is running from this server")
        return {"interrupted": runner.interrupt(session_id)}

    @app.post("/api/tasks/{session_id}/approval")
    async def api_approval(session_id: str, request: Request) -> JSONResponse:
        """The person's answer to an open approval request: `{call_id, decision}` with
        decision approve_once, approve_session, deny or deny_and_stop."""
        try:
            body = dict(await request.json())
            runner.answer(session_id, str(body["call_id"]), str(body["decision"]))
        except (ValueError, TypeError, KeyError) as exc:
            message = str(exc) if isinstance(exc, TaskError) else "expected {call_id, decision}"
            return JSONResponse({"error": message}, status_code=400)
        return JSONResponse({"answered": True})
