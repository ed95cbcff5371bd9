"""Speed of the teaching page: simulated days per second with 5,000 people, drawing included.

    python benchmarks/demo_speed.py [--people 5000] [--days 365] [--ties]
    python benchmarks/demo_speed.py --browser [--seconds 20] [--screenshot docs/img/demo.png]

By default each day is stepped and every figure of the page is built, as the page does
after each day: the forum map, the three plots and the live figures (with --ties also the
tie network), encoded as the JSON sent to the browser. With --browser the real page is
served and played in headless Chromium (/usr/bin/chromium) for --seconds, and the days it
advances are counted: the rate a class sees, the browser's drawing included. The page
waits its play interval (50 ms by default, a slider in the sidebar) between days, so the
browser rate stays below the first one. --screenshot saves the paused page at the end
(how docs/img/demo.png was made).

Target (issue 6): at least 5 simulated days per second with 5,000 people, drawing included.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import forumsim
from forumsim.ui import demo_figures
from forumsim.ui.app import ClassroomEcosystem


def draw(eco: ClassroomEcosystem, ties: bool, layout: dict) -> int:
    """Build every figure of the page for today; returns the bytes sent to the browser."""
    figures = [demo_figures.forum_map(eco), demo_figures.activity_chart(eco),
               demo_figures.roles_chart(eco), demo_figures.registrations_chart(eco),
               asdict(demo_figures.shock_figures(eco)) if eco.events else None]
    if ties:
        option, layout["positions"] = demo_figures.tie_network(eco, previous=layout.get(
            "positions"))
        figures.append(option)
    return len(json.dumps(figures, default=str))


def in_process(people: int, days: int, ties: bool) -> None:
    """Step and draw `days` days of the takedown preset; print days per second."""
    eco = ClassroomEcosystem(people=people)
    layout: dict = {}
    stepping = drawing = 0.0
    sent = 0
    for _ in range(days):
        start = time.perf_counter()
        eco.step()
        stepped = time.perf_counter()
        sent = draw(eco, ties, layout)
        stepping += stepped - start
        drawing += time.perf_counter() - stepped
    total = stepping + drawing
    print(f"{people:,} people, {days} days (takedown preset), figures built every day"
          f"{' incl. the tie network' if ties else ''}:")
    print(f"  step {1000 * stepping / days:.1f} ms/day, figures {1000 * drawing / days:.1f} "
          f"ms/day, {sent / 1000:.0f} kB of figures on the last day")
    print(f"  {days / total:.0f} simulated days per second")


def in_browser(seconds: float, screenshot: Path | None) -> None:
    """Serve the page, play it in headless Chromium and count the days it advances."""
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(forumsim.__file__).parents[1])}
    server = subprocess.Popen([sys.executable, "-m", "forumsim.ui.cli", "demo", "--port",
                               str(port)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        server.stdout.readline()  # the address: the server is listening
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1600, "height": 1420})
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
            page.get_by_role("button", name="Reset", exact=True).wait_for(timeout=60_000)
            time.sleep(2)  # let the charts load

            def day() -> float:
                return float(page.get_by_text(re.compile(r"^Time: ")).inner_text()[6:])

            page.get_by_role("button", name="▶", exact=True).click()
            time.sleep(2)  # past the first days, while the charts settle
            first, start = day(), time.perf_counter()
            time.sleep(seconds)
            last, elapsed = day(), time.perf_counter() - start
            if screenshot is not None:
                page.get_by_role("button", name="❚❚", exact=True).click()
                time.sleep(1)
                page.screenshot(path=screenshot)
            browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
    print(f"5,000 people in headless Chromium, default play interval: days {first:.0f} to "
          f"{last:.0f} in {elapsed:.1f} s = {(last - first) / elapsed:.1f} simulated days "
          "per second")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=5000, help="(the page itself: 5,000)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--ties", action="store_true", help="also draw the tie network")
    parser.add_argument("--browser", action="store_true", help="play the real page")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--screenshot", type=Path, help="with --browser: save the page here")
    args = parser.parse_args()
    if args.browser:
        in_browser(args.seconds, args.screenshot)
    else:
        in_process(args.people, args.days, args.ties)


if __name__ == "__main__":
    main()
