"""The dashboard's fleet and eval routes (pages and API), next to the session ones in `app`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from lever.dashboard import evals, fleets, sessions
from lever.dashboard.tasks import TaskError, TaskRequest

Page = Callable[[str, str], HTMLResponse]


def fleet_routes(app: FastAPI, home: Path, runner: fleets.FleetRunner, page: Page) -> None:
    @app.get("/fleets", response_class=HTMLResponse)
    def fleets_page() -> HTMLResponse:
        return page("fleets", "")

    @app.get("/f/{run_id}", response_class=HTMLResponse)
    def fleet_page(run_id: str) -> HTMLResponse:
        if not fleets.RUN_ID.match(run_id):
            raise HTTPException(404)
        return page("fleet", run_id)

    @app.get("/api/fleets")
    def api_fleets() -> list[dict[str, Any]]:
        return fleets.list_runs(home)

    @app.get("/api/fleets/{run_id}")
    def api_fleet(run_id: str) -> dict[str, Any]:
        try:
            return fleets.run_detail(home, run_id)
        except fleets.FleetError as exc:
            raise HTTPException(404, str(exc)) from exc

    @app.get("/api/fleets/{run_id}/diff")
    def api_fleet_diff(run_id: str, task: str, attempt: int) -> PlainTextResponse:
        try:
            return PlainTextResponse(fleets.diff_of(home, run_id, task, attempt))
        except fleets.FleetError as exc:
            raise HTTPException(404, str(exc)) from exc

    @app.post("/api/fleets/{run_id}/apply")
    async def api_fleet_apply(run_id: str, request: Request) -> JSONResponse:
        body = await _object(request)
        task = body.get("task")
        try:
            done = await asyncio.to_thread(fleets.apply, home, run_id, str(task) if task else None)
        except fleets.FleetError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse({"applied": done})

    @app.post("/api/fleets/{run_id}/interrupt")
    async def api_fleet_interrupt(run_id: str) -> JSONResponse:
        try:
            status = await runner.interrupt(run_id)
        except fleets.FleetError as exc:
            return _refused(exc)
        return JSONResponse({"status": status})

    @app.post("/api/fleets/{run_id}/clean")
    async def api_fleet_clean(run_id: str) -> JSONResponse:
        try:
            removed = await asyncio.to_thread(fleets.clean, home, run_id)
        except fleets.FleetError as exc:
            return _refused(exc)
        return JSONResponse({"removed": removed})

    @app.post("/api/fleets")
    async def api_new_fleet(request: Request) -> JSONResponse:
        body = await _object(request)
        try:
            wanted = fleet_request(body, set(await asyncio.to_thread(sessions.projects, home)))
            env = {**os.environ, "LEVER_HOME": str(home)}
            run = await runner.start(wanted, env)
        except (TaskError, fleets.FleetError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"run": run})


def _refused(exc: fleets.FleetError) -> JSONResponse:
    """404 for a run that does not exist, 409 for one whose state refuses the action."""
    code = 404 if isinstance(exc, fleets.NoSuchRun) else 409
    return JSONResponse({"error": str(exc)}, status_code=code)


def fleet_request(body: dict[str, Any], projects: set[str]) -> fleets.FleetRequest:
    """The checked request: the same checks as a task's, plus attempts and verify."""
    names = {f.name for f in fields(TaskRequest)}
    try:
        TaskRequest(**{k: str(v) for k, v in body.items() if k in names}).check(projects)
    except TypeError as exc:
        raise TaskError("expected a JSON object with prompt, cwd, attempts, verify…") from exc
    try:
        attempts = int(body.get("attempts", 2))
    except (TypeError, ValueError):
        attempts = 0
    if not 1 <= attempts <= 16:
        raise TaskError("attempts must be a number from 1 to 16")
    verify = str(body.get("verify") or "")
    if "\n" in verify or "\x00" in verify or len(verify) > 2000:
        raise TaskError("the verify command must be one line")
    keep = {k: str(v) for k, v in body.items() if k in names and k != "approval"}
    return fleets.FleetRequest(**keep, attempts=attempts, verify=verify)


async def _object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise TypeError
    except (ValueError, TypeError) as exc:
        raise HTTPException(400, "expected a JSON object") from exc
    return body


def eval_routes(app: FastAPI, home: Path, page: Page) -> None:
    @app.get("/evals", response_class=HTMLResponse)
    def evals_page() -> HTMLResponse:
        return page("evals", "")

    @app.get("/evals/compare", response_class=HTMLResponse)
    def compare_page() -> HTMLResponse:
        return page("compare", "")  # the two names are in the query, read by the page

    @app.get("/e/{name}", response_class=HTMLResponse)
    def eval_page(name: str) -> HTMLResponse:
        if not evals.NAME.match(name):
            raise HTTPException(404)
        return page("eval", name)

    @app.get("/api/evals")
    def api_evals() -> list[dict[str, Any]]:
        return evals.list_reports(home)

    @app.get("/api/evals/compare")
    def api_compare(a: str, b: str) -> dict[str, Any]:
        return _found(lambda: evals.compare(home, a, b))

    @app.get("/api/evals/{name}")
    def api_eval(name: str) -> dict[str, Any]:
        return _found(lambda: evals.report(home, name))

    @app.get("/api/evals/{name}/html")
    def api_eval_html(name: str) -> HTMLResponse:
        text = _found(lambda: evals.report_html(home, name))
        headers = {"content-security-policy": evals.REPORT_CSP, "x-frame-options": "SAMEORIGIN"}
        return HTMLResponse(text, headers=headers)


def _found(get: Callable[[], Any]) -> Any:
    try:
        return get()
    except evals.EvalError as exc:
        raise HTTPException(404, str(exc)) from exc
