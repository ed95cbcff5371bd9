"""Memory and threads of the teaching page's server as browser tabs open and close.

    python benchmarks/demo_sessions.py [--tabs 50] [--at-once 10] [--max-sessions N]

Serves the page (`forumsim demo`) and opens --tabs tabs in headless Chromium
(/usr/bin/chromium), --at-once at a time, each until its page has drawn; then closes
them, as a browser does when a tab is closed without its page being unloaded cleanly
(no close beacon), so the server sees only its WebSocket end. It prints the server's
resident memory and thread count (from /proc): after one warm-up tab (the page's modules
load on its first visit, once), at the peak, and once the closed tabs' sessions are
freed; and whether the end is within 10% of the start.

Target (issue 25): 50 tabs opened and closed leave the server's memory and thread count
within 10% of where they started (before: 282 MB to 471 MB and 6 to 111 threads, unchanged
60 s after the tabs closed).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import forumsim
from forumsim.ui.sessions import LINGER_SECONDS

CHROMIUM = Path("/usr/bin/chromium")


def usage(pid: int) -> tuple[float, int]:
    """Resident memory (MB) and threads of process `pid`."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["Threads"])


def settled(pid: int, timeout: float) -> tuple[float, int, float]:
    """Usage once a closed tab's session may have been freed (LINGER_SECONDS) and the
    thread count has then not changed for 15 s (idle worker threads gone), or after
    `timeout` s; and the seconds it took."""
    start = time.monotonic()
    time.sleep(LINGER_SECONDS)
    last, since = usage(pid)[1], time.monotonic()
    while time.monotonic() - start < timeout:
        time.sleep(1)
        threads = usage(pid)[1]
        if threads != last:
            last, since = threads, time.monotonic()
        elif time.monotonic() - since >= 15:
            break
    return (*usage(pid), time.monotonic() - start)


def open_tab(browser, port: int):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
    page.get_by_role("button", name="Reset", exact=True).wait_for(timeout=120_000)
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tabs", type=int, default=50)
    parser.add_argument("--at-once", type=int, default=10)
    parser.add_argument("--max-sessions", type=int, default=None)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(forumsim.__file__).parents[1])}
    command = [sys.executable, "-m", "forumsim.ui.cli", "demo", "--port", str(port)]
    if args.max_sessions:
        command += ["--max-sessions", str(args.max_sessions)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, env=env)
    try:
        server.stdout.readline()  # the address: the server listens
        started = usage(server.pid)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            open_tab(browser, port).close()
            before = settled(server.pid, 120)
            peak = before[:2]
            opened = 0
            while opened < args.tabs:
                pages = [open_tab(browser, port)
                         for _ in range(min(args.at_once, args.tabs - opened))]
                opened += len(pages)
                now = usage(server.pid)
                peak = (max(peak[0], now[0]), max(peak[1], now[1]))
                for page in pages:
                    page.close()
            closed = time.monotonic()
            after = settled(server.pid, 180)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"server at start: {started[0]:.0f} MB, {started[1]} threads")
    print(f"after one warm-up tab: {before[0]:.0f} MB, {before[1]} threads")
    print(f"peak with {args.at_once} tabs open ({args.tabs} in all): {peak[0]:.0f} MB, "
          f"{peak[1]} threads")
    print(f"after closing them ({time.monotonic() - closed:.0f} s later): {after[0]:.0f} MB, "
          f"{after[1]} threads")
    memory, threads = after[0] / before[0] - 1, after[1] / before[1] - 1
    ok = abs(memory) <= 0.10 and abs(threads) <= 0.10
    print(f"change: memory {memory:+.1%}, threads {threads:+.1%}: "
          f"{'within' if ok else 'NOT within'} 10%")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
