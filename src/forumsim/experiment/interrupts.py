"""Ctrl-C (SIGINT) and SIGTERM (`kill`, a batch system's time limit) in the long commands.

While `handled()` is active either signal raises `Interrupted` in the main thread, so
that every `finally` and `except BaseException` on the way out runs: temporary folders
are removed, locks released, finished work kept. A few steps must not be cut in two (the
renames that swap an output into place): inside `held()` a signal waits for its end.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state = {"held": 0, "pending": None}


class Interrupted(KeyboardInterrupt):  # noqa: N818 - it is what happened, not an error
    """The command was stopped by a signal; `exit_code` is the shell's 128 + its number
    (130 for Ctrl-C, 143 for SIGTERM). `written` names an output that was completed
    before the signal took effect (None if there is none)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.written: object = None  # an output completed before stopping, if any

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return "Ctrl-C" if self.signum == signal.SIGINT else signal.Signals(self.signum).name


def _stop(signum: int, frame: object) -> None:
    if _state["held"]:
        _state["pending"] = signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """SIGINT and SIGTERM raise `Interrupted` while inside (the main thread only)."""
    previous = {signum: signal.signal(signum, _stop) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """A signal that arrives inside takes effect at the end, once the steps inside are
    all done."""
    _state["held"] += 1
    try:
        yield
    finally:
        _state["held"] -= 1
    pending = _state["pending"]
    if not _state["held"] and pending is not None:
        _state["pending"] = None
        raise Interrupted(pending)
