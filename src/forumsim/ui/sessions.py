"""How many browser tabs the teaching page serves at once, and how soon a closed one is freed.

Each tab is a session: a Solara virtual kernel holding the tab's `Classroom` (two models
and the thread that steps them) and a thread for its WebSocket. `SessionLimit` wraps the
page's ASGI app: while `max_sessions` sessions are live, the page itself answers the next
visitor with 503 and a short note saying so, and a WebSocket that would open a new session
is closed (a tab reconnecting to its own session is let through). A tab that goes away
without a word (closed, crashed, its computer asleep) leaves its session for
`LINGER_SECONDS`, time to reconnect; then Solara closes the kernel, which stops the
classroom's thread and lets its models go. Once the sessions that ended are freed, the
server gives their memory back to the system and ends the idle threads that served their
WebSockets (`benchmarks/demo_sessions.py` measures it).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc

import anyio.to_thread
from solara.server import kernel_context

from forumsim.ui.origin import ASGIApp, Receive, Scope, Send

MAX_SESSIONS = 40  # a class, each at a tab of their own
LINGER_SECONDS = 20  # a silent tab's session is kept this long for it to reconnect
# anyio ends a worker thread left idle this long, but only when it next runs a task
IDLE_THREAD_SECONDS = 10
KERNELS = "/jupyter/api/kernels/"  # Solara's WebSocket of a tab's session: KERNELS<id>/...


def live_sessions() -> int:
    """Sessions the server holds now: connected, connecting, or waiting to be freed."""
    return len(kernel_context.contexts)


def full_page(max_sessions: int) -> bytes:
    """What the next visitor reads while the page serves as many tabs as it may."""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>forumsim: the page is "
        "full</title></head><body style='font-family: sans-serif; max-width: 40em; "
        "margin: 4em auto'><h1>The teaching page is full</h1><p>It is open in "
        f"{max_sessions} browser tabs, as many as this server runs at once (each tab "
        "simulates an ecosystem of its own). Close a tab you no longer need, or wait for "
        f"someone else to; a closed tab's place is free within {LINGER_SECONDS} seconds. "
        "Then reload this page.</p><p><small>Whoever started the page can allow more tabs "
        "with <code>forumsim demo --max-sessions N</code>, memory allowing."
        "</small></p></body></html>").encode()


def give_back_memory() -> None:
    """Collect what the ended sessions left and return the freed heap to the system
    (glibc's malloc_trim; elsewhere the collection alone)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class SessionLimit:
    """ASGI middleware: at most `max_sessions` sessions; the next visitor is told why; the
    memory and threads of ended sessions are given back once they are freed."""

    def __init__(self, app: ASGIApp, max_sessions: int = MAX_SESSIONS) -> None:
        self.app = app
        self.max_sessions = max_sessions
        self._freeing: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task] = set()

    def _free_later(self) -> None:
        """After the last session ended: once it is freed and its WebSocket's thread has
        been idle long enough, give the memory back, on a worker thread (which lets anyio
        end the idle ones)."""
        if self._freeing is not None:
            self._freeing.cancel()
        loop = asyncio.get_running_loop()

        def start() -> None:
            task = loop.create_task(anyio.to_thread.run_sync(give_back_memory))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self._freeing = loop.call_later(LINGER_SECONDS + IDLE_THREAD_SECONDS + 5, start)

    def _new_session(self, scope: Scope) -> bool:
        """Whether a request would start a session: the page itself, or a WebSocket for a
        kernel the server does not hold."""
        path = scope.get("path", "")
        if scope["type"] == "websocket":
            kernel = path.removeprefix(KERNELS).split("/", 1)[0] if path.startswith(
                KERNELS) else None
            return kernel not in kernel_context.contexts
        return scope["type"] == "http" and path == "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] in ("http", "websocket") and self._new_session(scope)
                and live_sessions() >= self.max_sessions):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1013})  # try again later
                return
            body = full_page(self.max_sessions)
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode()),
                                    (b"retry-after", str(LINGER_SECONDS).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._free_later()
