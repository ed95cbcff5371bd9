"""Speed of the teaching page: simulated days per second with 5,000 people, drawing included.

    python benchmarks/demo_speed.py [--people 5000] [--days 365] [--ties]
    python benchmarks/demo_speed.py --browser [--seconds 30] [--screenshot docs/img/demo.png]

By default a `Classroom` (the page's run: the ecosystem with the shocks and its
counterfactual without them) steps `--days` days of the takedown preset as fast as it can,
building every figure of the page after each day as the page does: the forum map, the
four plots and the live figures (with --ties also the tie network). It prints where the
time goes. With --browser the real page is served and played in headless Chromium
(/usr/bin/chromium) at the default time per day (50 ms, at most 20 days/s) for
--seconds; a third of the way in it seizes the largest forum and two thirds in it arrests
5 people by degree (the buttons' defaults). It prints the days per second over the whole
span, shocks included: the rate a class sees, the browser's drawing included. --screenshot saves the
paused page at the end (how docs/img/demo.png was made).

Target (issue 12): at least 8 simulated days per second sustained with 5,000 people in
headless Chromium, shocks included.
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
from pathlib import Path

import forumsim
from forumsim.ui.app import Classroom, Settings
from forumsim.world.scenario import ArrestsSpec


def in_process(people: int, days: int, ties: bool) -> None:
    """Step and draw `days` days of the takedown preset (plus a betweenness arrest on day
    120) with its counterfactual; print the cost per day."""
    room = Classroom(Settings(people=people))
    room.close()  # its thread: this loop steps the run itself, in the same order
    room.show_ties = ties
    stepping = drawing = 0.0
    sent = 0
    for day in range(1, days + 1):
        if day == 120:
            room.eco.schedule(ArrestsSpec(type="arrests", day=1, strategy="betweenness", k=20))
        start = time.perf_counter()
        room._advance()
        stepped = time.perf_counter()
        snapshot = room._take_snapshot()
        drawing += time.perf_counter() - stepped
        stepping += stepped - start
        charts = [f.option for f in snapshot.charts.values()]
        sent = len(json.dumps([*charts, snapshot.ties.option if snapshot.ties else None],
                              default=str))
    total = stepping + drawing
    print(f"{people:,} people, {days} days (takedown preset, 20 betweenness arrests on day "
          f"120), the run and its counterfactual, figures built every day"
          f"{' incl. the tie network' if ties else ''}:")
    print(f"  step both {1000 * stepping / days:.1f} ms/day, figures "
          f"{1000 * drawing / days:.1f} ms/day, {sent / 1000:.0f} kB of figures on the last day")
    print(f"  {days / total:.0f} simulated days per second before drawing in the browser")


def _day(page) -> int:
    return int(re.search(r"Day (\d+)", page.locator(".forumsim-day").inner_text()).group(1))


def in_browser(seconds: float, screenshot: Path | None) -> None:
    """Serve the page, play it in headless Chromium with two shocks and count the days."""
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
            page = browser.new_page(viewport={"width": 1600, "height": 1500})
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
            page.get_by_role("button", name="Reset", exact=True).wait_for(timeout=60_000)
            time.sleep(2)  # let the charts load
            page.get_by_role("button", name="▶ Play", exact=True).click()
            time.sleep(2)  # past the first days, while the charts settle
            first, start = _day(page), time.perf_counter()
            time.sleep(seconds / 3)
            page.get_by_role("button", name="Seize forum", exact=True).click()
            time.sleep(seconds / 3)
            page.get_by_role("button", name=re.compile(r"^Arrest \d+ people$")).click()
            time.sleep(seconds / 3)
            last, elapsed = _day(page), time.perf_counter() - start
            if screenshot is not None:
                page.get_by_role("button", name="❚❚ Pause", exact=True).click()
                time.sleep(1)
                page.screenshot(path=screenshot, full_page=True)
            browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
    print(f"5,000 people in headless Chromium, default time per day (50 ms), a seizure and "
          f"5 arrests by degree: days {first} to {last} in {elapsed:.1f} s = "
          f"{(last - first) / elapsed:.1f} simulated days per second")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=5000, help="(the page itself: 5,000)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--ties", action="store_true", help="also draw the tie network")
    parser.add_argument("--browser", action="store_true", help="play the real page")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--screenshot", type=Path, help="with --browser: save the page here")
    args = parser.parse_args()
    if args.browser:
        in_browser(args.seconds, args.screenshot)
    else:
        in_process(args.people, args.days, args.ties)


if __name__ == "__main__":
    main()
