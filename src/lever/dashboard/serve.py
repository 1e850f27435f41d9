"""Bind, print the URL, run uvicorn until Ctrl-C."""

from __future__ import annotations

import ipaddress
import socket
import sys
from contextlib import suppress


class ServeError(Exception):
    """Bad options or an unusable address: one line for the person, exit 2."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    if not 0 <= port <= 65535:
        raise ServeError(f"--port {port} is not a port number (0-65535)")
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((bare if bare != "localhost" else "127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(host: str, port: int, *, allow_remote: bool = False, open_browser: bool = False) -> int:
    if not is_loopback(host) and not allow_remote:
        raise ServeError(
            f"refusing to listen on {host}: the dashboard controls your agent, so it binds to "
            "loopback only (127.0.0.1). Pass --allow-remote to override."
        )
    sock = bind(host, port)
    port = sock.getsockname()[1]

    import uvicorn

    from lever.config.loader import lever_home
    from lever.dashboard.app import create_app
    from lever.dashboard.security import Gate

    extra = () if is_loopback(host) else (host if ":" not in host else f"[{host.strip('[]')}]",)
    gate = Gate(port=port, extra_hosts=extra, ip_hosts=bool(extra))
    server: uvicorn.Server | None = None
    app = create_app(lever_home(), gate, stopping=lambda: server is not None and server.should_exit)
    url = f"http://127.0.0.1:{port}/?token={gate.token}"
    if extra:
        url = f"http://{extra[0]}:{port}/?token={gate.token}"
    print(f"lever dashboard: {url}", flush=True)
    print("(the token is the key to this dashboard; Ctrl-C stops it)", file=sys.stderr, flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    # Event streams end when `should_exit` is set; the timeout is a backstop for anything else.
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    with suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    return 0
