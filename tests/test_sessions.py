"""The teaching page serves at most so many tabs at once, tells the next visitor so, and
frees a closed tab's session: its models, its thread and the thread of its WebSocket."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from solara.server import kernel_context

import forumsim
from forumsim.ui import sessions
from forumsim.ui.sessions import LINGER_SECONDS, SessionLimit

CHROMIUM = Path("/usr/bin/chromium")


def _ask(limit: SessionLimit, kind: str, path: str) -> list[dict]:
    """What `limit` sends for one request, and whether it passed it on ('passed')."""
    sent: list[dict] = []

    async def app(scope, receive, send) -> None:
        sent.append({"type": "passed"})

    async def receive() -> dict:
        return {"type": "websocket.connect" if kind == "websocket" else "http.request"}

    async def send(message: dict) -> None:
        sent.append(message)

    limit.app = app
    asyncio.run(limit({"type": kind, "path": path, "headers": []}, receive, send))
    return sent


def test_when_full_the_next_visitor_is_told_and_new_sessions_are_refused(monkeypatch):
    monkeypatch.setattr(kernel_context, "contexts", {"a": object(), "b": object()})
    monkeypatch.setattr(SessionLimit, "_free_later", lambda self: None)
    full = SessionLimit(None, max_sessions=2)
    page = _ask(full, "http", "/")
    assert page[0]["status"] == 503 and b"The teaching page is full" in page[1]["body"]
    assert b"open in 2 browser tabs" in page[1]["body"]
    assert _ask(full, "websocket", "/jupyter/api/kernels/c/channels") == [
        {"type": "websocket.close", "code": 1013}]
    assert _ask(full, "websocket", "/jupyter/api/kernels/a/channels") == [{"type": "passed"}]
    assert _ask(full, "http", "/static/assets/app.js") == [{"type": "passed"}]
    assert _ask(SessionLimit(None, max_sessions=3), "http", "/") == [{"type": "passed"}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^Threads:\s+(\d+)", status, re.MULTILINE).group(1))


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.slow  # a minute: a closed tab's session lingers LINGER_SECONDS
@pytest.mark.timeout(300)
def test_a_full_page_says_so_and_a_closed_tabs_place_and_threads_are_freed(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (.ci/run installs it)")
    playwright = pytest.importorskip("playwright.sync_api")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(forumsim.__file__).parents[1])}
    server = subprocess.Popen(
        [sys.executable, "-m", "forumsim.ui.cli", "demo", "--port", str(port),
         "--max-sessions", "2"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=env)
    try:
        assert f"http://127.0.0.1:{port}/" in server.stdout.readline()
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])

            def tab():
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
                return page

            first = tab()
            first.get_by_role("button", name="Reset", exact=True).wait_for(timeout=60_000)
            before = _threads(server.pid)  # the server with one tab
            second = tab()
            second.get_by_role("button", name="Reset", exact=True).wait_for(timeout=60_000)
            third = tab()
            assert "The teaching page is full" in third.locator("body").inner_text()
            second.close()  # without a word to the server: only its WebSocket ends

            def served() -> bool:
                third.reload()
                try:
                    third.get_by_role("button", name="Reset", exact=True).wait_for(
                        timeout=5000)
                except playwright.Error:
                    return False
                return True

            _wait_until(served, LINGER_SECONDS + 60, "the closed tab's place")
            third.close()
            _wait_until(lambda: _threads(server.pid) <= before, LINGER_SECONDS
                        + sessions.IDLE_THREAD_SECONDS + 30, "the closed tabs' threads to end")
            first.get_by_role("button", name="Step one day", exact=True).click()
            first.locator(".forumsim-day").get_by_text("Day 1").wait_for(timeout=10_000)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
