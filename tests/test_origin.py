"""The teaching page answers only its own origin: other Host headers, requests from other
origins and WebSockets opened by other pages get 403; a non-loopback --host warns."""

from __future__ import annotations

import base64
import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forumsim.ui.origin import SameOrigin, exposure_warning, is_loopback

SRC = str(Path(__file__).parents[1] / "src")


def _guard(host: str, port: int = 8765) -> SameOrigin:
    return SameOrigin(lambda *a: None, host, port)


@pytest.mark.parametrize("authority, ok", [
    ("127.0.0.1:8765", True), ("localhost:8765", True), ("[::1]:8765", True),
    ("LOCALHOST:8765", True), ("evil.example:8765", False), ("evil.example", False),
    ("127.0.0.1:8766", False), ("127.0.0.1", False), ("", False), ("10.0.0.5:8765", False),
    ("127.0.0.1:8765@evil.example", False),
])
def test_a_loopback_page_accepts_only_loopback_names_on_its_port(authority, ok):
    assert _guard("127.0.0.1").allowed_host(authority) is ok


def test_a_page_on_every_interface_accepts_addresses_and_its_host_name_not_others():
    guard = _guard("0.0.0.0")
    assert guard.allowed_host("192.0.2.7:8765") and guard.allowed_host("localhost:8765")
    assert guard.allowed_host(f"{socket.gethostname()}:8765")
    assert not guard.allowed_host("evil.example:8765")  # a rebound name is not ours
    bound = _guard("192.0.2.7")
    assert bound.allowed_host("192.0.2.7:8765") and not bound.allowed_host("192.0.2.8:8765")
    assert not bound.allowed_host("localhost:8765")  # nothing listens there


@pytest.mark.parametrize("origin, ok", [
    ("http://127.0.0.1:8765", True), ("https://127.0.0.1:8765", True),
    ("http://localhost:8765", False),  # a page of another origin, even if also local
    ("http://evil.example", False), ("null", False), ("http://127.0.0.1:9999", False),
    ("file://", False),
])
def test_only_the_pages_own_origin_is_its_origin(origin, ok):
    assert _guard("127.0.0.1").same_origin(origin, "127.0.0.1:8765") is ok


def test_a_host_other_than_loopback_warns_that_anyone_can_drive_the_page():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert is_loopback(host) and exposure_warning(host, 8765) is None
    for host in ("0.0.0.0", "::", "192.0.2.7"):
        warning = exposure_warning(host, 8765)
        assert warning.startswith(f"warning: --host {host}")
        assert "anyone who can reach this machine on port 8765" in warning


# --- the page itself, on a free loopback port ----------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def page():
    """`forumsim demo` on a free loopback port; its port and what it printed."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": SRC}
    process = subprocess.Popen([sys.executable, "-m", "forumsim.ui.cli", "demo", "--port",
                                str(port)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("the page did not start")
    yield port, process
    process.terminate()
    try:
        process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def _get(port: int, host: str, origin: str | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": host, **({"Origin": origin} if origin else {})}
    connection.request("GET", "/", headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def _upgrade(port: int, host: str, origin: str | None) -> bytes:
    """The status line answering a WebSocket upgrade to the kernel's channel."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /jupyter/api/kernels/test/channels?session_id=test HTTP/1.1\r\n"
               f"Host: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               + (f"Origin: {origin}\r\n" if origin else "") + "\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request.encode())
        return s.recv(256).split(b"\r\n")[0]


def test_the_page_answers_its_own_host_and_refuses_others(page):
    port, _ = page
    assert _get(port, f"127.0.0.1:{port}") == 200
    assert _get(port, f"localhost:{port}") == 200
    assert _get(port, "evil.example") == 403
    assert _get(port, f"evil.example:{port}") == 403  # DNS rebinding: the name is not ours
    assert _get(port, f"127.0.0.1:{port}", origin="http://evil.example") == 403


def test_a_websocket_from_another_origin_never_reaches_the_kernel(page):
    port, _ = page
    own = f"http://127.0.0.1:{port}"
    assert _upgrade(port, f"127.0.0.1:{port}", "http://evil.example").endswith(b"403 Forbidden")
    assert _upgrade(port, f"127.0.0.1:{port}", None).endswith(b"403 Forbidden")
    assert _upgrade(port, f"evil.example:{port}", own).endswith(b"403 Forbidden")
    assert _upgrade(port, f"127.0.0.1:{port}", own).endswith(b"101 Switching Protocols")


def test_a_loopback_page_prints_no_warning(page):
    port, process = page
    process.terminate()
    _, stderr = process.communicate(timeout=30)
    assert "warning" not in stderr
