"""The dashboard's gate: token everywhere, CSRF, Host, path traversal, loopback only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from lever.dashboard.security import Gate
from lever.dashboard.serve import is_loopback

from ..e2e.conftest import run_lever
from .conftest import PORT, SESSION_ID, make_client, raw_request

# Every method of every route the app has: a route added later is covered without a test edit.
KNOWN = {"/", "/s/{session_id}", "/static/{name:path}", "/api/sessions", "/api/tasks"}
KNOWN |= {"/fleets", "/f/{run_id}", "/api/fleets/{run_id}/apply", "/evals", "/e/{name}"}
KNOWN |= {"/api/evals/{name}/html", "/api/evals/compare", "/evals/compare"}
RUN_ID = "20261201-120000-abcd"


def all_routes(app: Any) -> list[tuple[str, str]]:
    routes = []
    for route in app.app.routes:
        assert isinstance(route, Route), f"unexpected route type {route!r}"
        path = route.path.replace("{session_id}", SESSION_ID).replace("{name:path}", "app.js")
        path = path.replace("{run_id}", RUN_ID).replace("{name}", "report.json")
        assert "{" not in path, f"fill in the parameter of {route.path} in this test"
        routes += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return routes


def test_the_route_list_is_the_real_one(app) -> None:
    paths = {route.path for route in app.app.routes}
    assert paths >= KNOWN
    assert "/docs" not in paths and "/openapi.json" not in paths


@pytest.mark.parametrize(
    "auth",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic whatever"},
        {"Cookie": f"lever_token_{PORT}=wrong"},
        {"Cookie": "lever_token_9999=whatever"},
    ],
)
async def test_every_route_refuses_a_request_without_the_token(app, gate, auth) -> None:
    routes = all_routes(app)
    assert len(routes) >= 8
    async with make_client(app, headers=auth) as client:
        for method, path in [*routes, ("GET", "/no/such/page"), ("GET", "/docs")]:
            headers = {"X-Lever-CSRF": gate.csrf}  # CSRF is right: the token alone is missing
            response = await client.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, response.status_code)
            assert SESSION_ID not in response.text


async def test_the_same_routes_answer_with_the_token(authed, app, gate) -> None:
    """The control: with the token the answers are not 401 (so the test above can fail)."""
    for method, path in all_routes(app):
        if path.endswith("/events"):
            path += "?follow=0"
        response = await authed.request(method, path, headers={"X-Lever-CSRF": gate.csrf}, json={})
        assert response.status_code != 401, (method, path)


async def test_the_token_in_the_url_becomes_a_strict_httponly_cookie(anon, gate) -> None:
    first = await anon.get(f"/s/{SESSION_ID}", params={"token": gate.token, "x": "1"})
    assert first.status_code == 303
    assert first.headers["location"] == f"/s/{SESSION_ID}?x=1"  # the token leaves the URL
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"lever_token_{PORT}={gate.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = await anon.get(f"/s/{SESSION_ID}")  # the client kept the cookie
    assert page.status_code == 200 and gate.csrf in page.text
    assert (await anon.get("/", params={"token": "wrong"})).status_code == 401


async def test_the_login_redirect_stays_on_this_server(app, gate) -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "//evil.example/x",
        "query_string": f"token={gate.token}".encode(),
        "headers": [(b"host", f"127.0.0.1:{PORT}".encode())],
    }
    await app(scope, None, send)
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 303
    assert headers[b"location"] == b"/evil.example/x"


STATE_CHANGING = [
    ("POST", f"/api/tasks/{SESSION_ID}/interrupt"),
    ("POST", f"/api/tasks/{SESSION_ID}/approval"),
    ("POST", "/api/tasks"),
    ("POST", "/api/fleets"),
    ("POST", f"/api/fleets/{RUN_ID}/apply"),
    ("POST", f"/api/fleets/{RUN_ID}/interrupt"),
    ("POST", f"/api/fleets/{RUN_ID}/clean"),
]


@pytest.mark.parametrize("method,path", STATE_CHANGING)
@pytest.mark.parametrize(
    "headers,why",
    [
        ({}, "missing or wrong CSRF"),
        ({"X-Lever-CSRF": "wrong"}, "missing or wrong CSRF"),
        ({"X-Lever-CSRF": "CSRF", "Origin": "http://evil.example"}, "cross-origin"),
        ({"X-Lever-CSRF": "CSRF", "Origin": f"http://127.0.0.1:{PORT + 1}"}, "cross-origin"),
        ({"X-Lever-CSRF": "CSRF", "Origin": "null"}, "cross-origin"),
        ({"X-Lever-CSRF": "CSRF", "Sec-Fetch-Site": "cross-site"}, "cross-site"),
        ({"X-Lever-CSRF": "CSRF", "Sec-Fetch-Site": "same-site"}, "cross-site"),
    ],
)
async def test_csrf_is_refused(authed, gate, method, path, headers, why) -> None:
    headers = {k: gate.csrf if v == "CSRF" else v for k, v in headers.items()}
    response = await authed.request(method, path, headers=headers, json={})
    assert response.status_code == 403
    assert why in response.text


async def test_every_state_changing_route_is_in_the_csrf_test(app) -> None:
    unsafe = {(m, p) for m, p in all_routes(app) if m not in ("GET", "HEAD", "OPTIONS")}
    assert unsafe == set(STATE_CHANGING)


async def test_csrf_passes_with_the_header_and_our_origin(authed, gate) -> None:
    headers = {"X-Lever-CSRF": gate.csrf, "Origin": f"http://localhost:{PORT}"}
    response = await authed.post(f"/api/tasks/{SESSION_ID}/interrupt", headers=headers)
    assert response.status_code == 404  # past the gate: no such task on this server


@pytest.mark.parametrize(
    "host", ["evil.example", f"evil.example:{PORT}", f"127.0.0.1:{PORT + 1}", "127.0.0.1", ""]
)
async def test_a_foreign_host_header_is_refused(app, gate, host) -> None:
    """DNS rebinding: a page on evil.example that resolves to 127.0.0.1 sends its own Host."""
    headers = {"Host": host, "Authorization": f"Bearer {gate.token}"}
    status, body = await raw_request(app, "GET", "/api/sessions", headers)
    assert status == 403 and b"Host" in body


@pytest.mark.parametrize("host", [f"127.0.0.1:{PORT}", f"localhost:{PORT}", f"[::1]:{PORT}"])
async def test_loopback_host_headers_are_served(app, gate, host) -> None:
    headers = {"Host": host, "Authorization": f"Bearer {gate.token}"}
    status, body = await raw_request(app, "GET", "/api/sessions", headers)
    assert status == 200 and SESSION_ID.encode() in body


TRAVERSALS = [
    "/static/../security.py",
    "/static/../../../../../../etc/passwd",
    "/static/%2e%2e/security.py",
    "/static/%2e%2e%2fsecurity.py",
    "/static/..%2fsecurity.py",
    "/static/..%5csecurity.py",
    "/static/..\\security.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/./app.js/../../security.py",
    "/static/leak.txt",
    "/static/linkdir/secret.txt",
    "/static/linkdir/../leak.txt",
    "/static/page.html",
    "/static/",
    "/static/app.js%00.png",
]


@pytest.mark.parametrize("path", TRAVERSALS)
async def test_static_files_do_not_leave_the_static_folder(app, gate, path) -> None:
    headers = {"Host": f"127.0.0.1:{PORT}", "Authorization": f"Bearer {gate.token}"}
    # As a server hands it over (`%2e` decoded, `..` kept), and percent-encoded as sent.
    from urllib.parse import unquote

    for given in {unquote(path), path}:
        status, body = await raw_request(app, "GET", given, headers)
        assert status in (400, 403, 404), (given, status)
        assert b"TOP-SECRET" not in body and b"import" not in body and b"root:" not in body


async def test_static_files_inside_are_served(authed) -> None:
    response = await authed.get("/static/app.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")


async def test_every_response_carries_a_strict_csp(authed) -> None:
    for path in ("/", f"/s/{SESSION_ID}", "/static/app.css", "/api/sessions", "/nope"):
        csp = (await authed.get(path)).headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe" not in csp
        assert "frame-ancestors 'none'" in csp


def test_the_page_script_never_parses_html() -> None:
    """The XSS rule of app.js: session text enters the page as text nodes only."""
    from lever.dashboard.app import STATIC

    script = (STATIC / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    page = (STATIC / "page.html").read_text()
    assert not re.search(r"<script>|\son[a-z]+=|https?://", page)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_loopback_addresses(host) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", "10.0.0.1"])
def test_other_addresses_are_not_loopback(host) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10"])
def test_serve_refuses_a_non_loopback_address(host, clean_env) -> None:
    result = run_lever("serve", "--host", host, "--port", "0", env=clean_env, timeout=30)
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr and "Traceback" not in result.stderr
    assert "token" not in result.stdout  # it never started


def test_serve_bad_port_is_a_one_line_error(clean_env) -> None:
    result = run_lever("serve", "--port", "70000", env=clean_env, timeout=30)
    assert result.returncode == 2 and "not a port number" in result.stderr


def test_remote_mode_accepts_ip_literals_but_no_names() -> None:
    local = Gate(port=4242)
    remote = Gate(port=4242, extra_hosts=("0.0.0.0",), ip_hosts=True)
    assert not local.host_ok("192.168.1.7:4242")
    assert remote.host_ok("192.168.1.7:4242") and remote.host_ok("[fe80::1]:4242")
    assert not remote.host_ok("192.168.1.7:4243")
    assert not remote.host_ok("rebind.attacker.example:4242")


def test_gate_hosts_follow_the_bound_port() -> None:
    gate = Gate(port=4242, extra_hosts=("10.0.0.5",))
    assert gate.hosts() == {"127.0.0.1:4242", "localhost:4242", "[::1]:4242", "10.0.0.5:4242"}
    assert gate.cookie_name == "lever_token_4242"
    assert gate.token != Gate(port=4242).token and len(gate.token) >= 40


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVER_")}
    env["LEVER_HOME"] = str(tmp_path / "serve-home")
    return env


_ = httpx  # the clients above are httpx over ASGITransport
