"""The teaching page answers only its own origin.

`SameOrigin` wraps the page's ASGI app: an HTTP request whose Host header names another
server, or that comes from a page of another origin, gets 403, and so does a WebSocket
upgrade whose Origin is not the page's own. This stops a web page that the teacher visits
from driving the demo through DNS rebinding (a hostile name made to point at 127.0.0.1)
or a cross-site WebSocket.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("", "0.0.0.0", "::")


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable only from this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int) -> str | None:
    """The warning printed when the page listens beyond this machine, else None."""
    if is_loopback(host):
        return None
    where = "any address of this machine" if host in WILDCARDS else host
    return (f"warning: --host {host} serves the page on {where}: anyone who can reach this "
            f"machine on port {port} can open the page and drive the simulation. Use the "
            "default --host 127.0.0.1 unless other machines must reach it.")


def reachable_addresses(host: str) -> list[str]:
    """The addresses other machines can open the page at, for a page bound to `host`: the
    machine's own non-loopback, non-link-local addresses for a wildcard (IPv6 ones only
    for '::'), else `host` itself."""
    if host not in WILDCARDS:
        return [host]
    import psutil

    found = []
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family not in (socket.AF_INET, socket.AF_INET6) or (
                    address.family == socket.AF_INET6 and host != "::"):
                continue
            ip = ipaddress.ip_address(address.address.split("%")[0])
            if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
                found.append(str(ip))
    return sorted(set(found), key=lambda a: (":" in a, a))


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _split(authority: str) -> tuple[str, int | None] | None:
    """Host and port of `host[:port]` (IPv6 in brackets), lower-cased; None if malformed."""
    try:
        parts = urlsplit(f"//{authority}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    return host.rstrip("."), port


class SameOrigin:
    """ASGI middleware: pass requests addressed to the page's own host and port (and
    WebSockets opened by the page itself); answer everything else with 403."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.app = app
        self.port = port
        bound = host.strip("[]").lower()
        self.any_ip = bound in WILDCARDS  # every address of the machine: any IP literal
        names = {bound} | set(LOOPBACK_NAMES if is_loopback(bound) or self.any_ip else ())
        if not is_loopback(bound):  # the machine's own names, as other machines call it
            names |= {name.lower() for name in (socket.gethostname(), socket.getfqdn())
                      if not is_loopback(name)}
        self.names = names - set(WILDCARDS)

    def allowed_host(self, authority: str) -> bool:
        """Whether a Host header (or an Origin's host and port) names this page."""
        split = _split(authority)
        if split is None:
            return False
        host, port = split
        if (port or 80) != self.port:
            return False
        return host in self.names or (self.any_ip and _is_ip(host))

    def same_origin(self, origin: str, authority: str) -> bool:
        """Whether an Origin header is the page's own: http(s) on the Host it was sent to."""
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or parts.path not in ("", "/"):
            return False
        return _split(parts.netloc) == _split(authority) and self.allowed_host(parts.netloc)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        authority = headers.get("host", "")
        origin = headers.get("origin")
        if not self.allowed_host(authority):
            reason = "it is not this page's address"
        elif scope["type"] == "websocket" and origin is None:
            reason = "a WebSocket must come from the page itself"
        elif origin is not None and not self.same_origin(origin, authority):
            reason = "the request comes from a page of another origin"
        else:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # refused: HTTP 403
            return
        body = f"403 forbidden: {reason}.\n".encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
