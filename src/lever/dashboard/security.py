"""The dashboard's gate: every request passes here before any route sees it.

Four checks, in this order (docs/dashboard.md, "Security model"):

1. Host: only `127.0.0.1:PORT`, `localhost:PORT` and `[::1]:PORT` (with `--allow-remote`, also
   the bound host and any IP literal with this port). A DNS-rebinding page reaches the server
   under its own host name; refusing unknown Host headers makes its requests fail before they
   can read anything.
2. Token: a random token printed in the URL. `?token=` on a GET sets an HttpOnly, SameSite=Strict
   cookie and redirects to the same URL without it (the token leaves the address bar and the
   history); `Authorization: Bearer TOKEN` works for scripts. Nothing is served without it.
3. CSRF, for every method that can change state: the per-server CSRF token in the `X-Lever-CSRF`
   header (a cross-site form cannot set headers), an Origin (when sent) that is this server, and
   no `Sec-Fetch-Site: cross-site`.
4. Headers on every response: a strict Content-Security-Policy (scripts and styles only from this
   server, nothing inline), no framing, no sniffing, no referrer, no caching.

It is plain ASGI (not BaseHTTPMiddleware) so server-sent event streams pass through unbuffered.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = dict[str, Any]
Receive = Any
Send = Any

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-lever-csrf"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


@dataclass
class Gate:
    """What the checks need to know: the port, the secrets, extra allowed host names."""

    port: int
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    extra_hosts: tuple[str, ...] = ()
    #: With --allow-remote: also any IP-literal Host (how other machines reach it). A rebinding
    #: attack needs a DNS name, so IP literals stay safe to accept.
    ip_hosts: bool = False

    @property
    def cookie_name(self) -> str:
        # Cookies are not separated by port: two servers on localhost must not clobber each other.
        return f"lever_token_{self.port}"

    def hosts(self) -> set[str]:
        names = ("127.0.0.1", "localhost", "[::1]", *self.extra_hosts)
        return {f"{name}:{self.port}" for name in names}

    def host_ok(self, host: str) -> bool:
        if host in self.hosts():
            return True
        name, _, port = host.rpartition(":")
        if not self.ip_hosts or port != str(self.port):
            return False
        try:
            ipaddress.ip_address(name.removeprefix("[").removesuffix("]"))
        except ValueError:
            return False
        return True

    def origins(self) -> set[str]:
        return {f"http://{host}" for host in self.hosts()}

    def token_ok(self, candidate: str | None) -> bool:
        return candidate is not None and secrets.compare_digest(candidate, self.token)

    def csrf_ok(self, candidate: str | None) -> bool:
        return candidate is not None and secrets.compare_digest(candidate, self.csrf)


def _headers(scope: Scope) -> dict[str, str]:
    # Latin-1 as the HTTP spec says; a header given twice keeps its first value.
    found: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        found.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
    return found


def _cookie(headers: dict[str, str], name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no credential
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def _bearer(headers: dict[str, str]) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


async def _reply(send: Send, status: int, text: str, extra: list[Any] | None = None) -> None:
    body = (text + "\n").encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *SECURITY_HEADERS,
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GateMiddleware:
    """Wraps the dashboard app; see the module docstring for the checks."""

    def __init__(self, app: Any, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            return
        headers = _headers(scope)
        if not self.gate.host_ok(headers.get("host", "")):
            await _reply(send, 403, "forbidden: unexpected Host header")
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        given = dict(query).get("token")
        if given is not None and scope["method"] == "GET":
            await self._login(scope, send, given, query)
            return
        cookie = _cookie(headers, self.gate.cookie_name)
        if not (self.gate.token_ok(_bearer(headers)) or self.gate.token_ok(cookie)):
            await _reply(send, 401, "unauthorized: open the URL `lever serve` printed")
            return
        if scope["method"] not in SAFE_METHODS:
            problem = self._csrf_problem(headers)
            if problem:
                await _reply(send, 403, f"forbidden: {problem}")
                return
        await self.app(scope, receive, self._with_headers(send))

    async def _login(self, scope: Scope, send: Send, given: str, query: list[Any]) -> None:
        """`?token=`: set the cookie and send the browser to the same URL without the token."""
        if not self.gate.token_ok(given):
            await _reply(send, 401, "unauthorized: wrong token")
            return
        rest = urlencode([(k, v) for k, v in query if k != "token"])
        path = "/" + str(scope.get("path", "/")).lstrip("/")  # never `//host`: no open redirect
        location = path + (f"?{rest}" if rest else "")
        cookie = f"{self.gate.cookie_name}={self.gate.token}; HttpOnly; SameSite=Strict; Path=/"
        extra = [(b"location", location.encode()), (b"set-cookie", cookie.encode())]
        await _reply(send, 303, "see other", extra)

    def _csrf_problem(self, headers: dict[str, str]) -> str | None:
        if not self.gate.csrf_ok(headers.get(CSRF_HEADER)):
            return "missing or wrong CSRF token"
        origin = headers.get("origin")
        same = f"http://{headers.get('host', '')}"  # the Host was checked already
        if origin is not None and origin not in self.gate.origins() and origin != same:
            return "cross-origin request"
        if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return "cross-site request"
        return None

    def _with_headers(self, send: Send) -> Send:
        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {key.lower() for key, _ in message.get("headers", [])}
                added = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        return wrapped
