"""The teaching page: its model and figures, and the page itself in a real, offline browser."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

import forumsim
from forumsim.ui import demo_figures
from forumsim.ui.app import MODEL_PARAMS, PRESETS, ClassroomEcosystem, Page, _listen, describe
from forumsim.world.forum import Status
from forumsim.world.scenario import TakedownSpec

CHROMIUM = Path("/usr/bin/chromium")


def small(preset: str = "Growth: how fora form") -> ClassroomEcosystem:
    return ClassroomEcosystem(preset=preset, people=1000, seed=3)


def test_page_imports_and_its_controls_build_the_model() -> None:
    assert callable(Page)
    eco = ClassroomEcosystem(**{name: p["value"] for name, p in MODEL_PARAMS.items()})
    assert isinstance(eco, forumsim.Ecosystem)
    assert eco.config.people == 5000
    assert [f.access.name for f in eco.fora] == [f.access for f in eco.config.fora]


def test_access_controls_set_each_forums_regime() -> None:
    eco = ClassroomEcosystem(people=1000, access_a="closed", access_e="open")
    assert eco.fora[0].access.name == "closed"
    assert eco.fora[4].access.name == "open"


@pytest.mark.parametrize("preset", list(PRESETS))
def test_each_preset_runs_and_its_figures_are_plain_json(preset: str) -> None:
    eco = small(preset)
    eco.run(70)
    figures = demo_figures.shock_figures(eco)
    if PRESETS[preset].shocks:
        assert figures is not None and figures.day == 60 and figures.days_since == 10
        assert [describe(i) for i in eco.interventions][0].endswith("on day 60")
    else:
        assert figures is None
    options = [demo_figures.forum_map(eco), demo_figures.activity_chart(eco),
               demo_figures.roles_chart(eco), demo_figures.registrations_chart(eco),
               demo_figures.tie_network(eco)[0]]
    json.dumps(options)  # what the browser receives


def test_a_button_shock_hits_at_the_start_of_the_next_day() -> None:
    eco = small()
    eco.run(20)
    day = eco.schedule(TakedownSpec(type="takedown", day=1, target="Forum B"))
    assert day == 21 and eco.forum("Forum B").status == Status.ONLINE
    eco.step()
    assert eco.forum("Forum B").status == Status.SEIZED
    assert eco.events[-1].day == 21
    figures = demo_figures.shock_figures(eco)
    assert figures.label == "seizure of Forum B" and figures.days_since == 0
    assert figures.displaced > 0


def test_forum_map_marks_a_seized_forum_and_drops_its_edges() -> None:
    eco = small()
    eco.run(30)
    eco.schedule(TakedownSpec(type="takedown", day=1, target="Forum A"))
    eco.step()
    option = demo_figures.forum_map(eco)
    node = next(n for n in option["series"][0]["data"] if n["name"] == "Forum A")
    assert "SEIZED" in node["label"]["formatter"]
    links = option["series"][0]["links"]
    assert links and all("Forum A" not in (link["source"], link["target"]) for link in links)


def test_loss_so_far_compares_with_the_week_before_the_shock() -> None:
    active = np.array([100.0] * 10 + [40.0] * 10)
    assert demo_figures.loss_so_far(active, 10) == pytest.approx(0.6)
    assert demo_figures.loss_so_far(np.array([100.0] * 10 + [120.0] * 5), 10) == 0.0
    assert demo_figures.loss_so_far(active, 0) is None  # no day before the shock


def test_plotted_lines_are_thinned_but_keep_the_last_day() -> None:
    days = np.arange(1, 1001)
    points = demo_figures._points(days, days.astype(float))
    assert len(points) <= demo_figures.MAX_POINTS and points[-1] == [1000, 1000.0]


def test_a_taken_port_stops_with_one_clear_line(capsys: pytest.CaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(SystemExit) as stop:
            _listen("127.0.0.1", taken.getsockname()[1])
    assert stop.value.code == 2
    assert "Choose another --port" in capsys.readouterr().err


# --- the page in a browser -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _day(page) -> float:
    """The day shown in Mesa's 'Information' card ('Time: 12.0')."""
    text = page.get_by_text(re.compile(r"^Time: ")).inner_text()
    return float(text.split(":")[1])


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.timeout(150)
def test_page_plays_and_absorbs_a_seizure_in_an_offline_browser(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (.ci/run installs it)")
    playwright = pytest.importorskip("playwright.sync_api")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(forumsim.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    server_log = tmp_path / "server.log"
    with server_log.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "forumsim.ui.cli", "demo", "--port", str(port)],  # loopback
            stdout=subprocess.PIPE, stderr=log, text=True, cwd=tmp_path, env=env)
    try:
        address = server.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in address, server_log.read_text()
        blocked, failed, errors = [], [], []
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync"])
            page = browser.new_page(viewport={"width": 1600, "height": 1300})

            def offline(route) -> None:  # the page must need nothing from the internet
                if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
                    route.continue_()
                else:
                    blocked.append(route.request.url)
                    route.abort()

            page.route("**/*", offline)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}")
                    if r.status >= 400 else None)
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
            page.get_by_role("button", name="Reset", exact=True).wait_for(timeout=60_000)
            charts = page.locator(".solara-echarts canvas")
            _wait_until(lambda: charts.count() >= 4, 30, "the charts to draw")
            figures = page.locator(".forumsim-figures")
            assert "No shock yet" in figures.inner_text()
            activity_before = charts.nth(1).screenshot()

            page.get_by_role("button", name="▶", exact=True).click()
            _wait_until(lambda: _day(page) >= 10, 30, "ten simulated days")
            page.get_by_role("button", name="Seize forum", exact=True).click()
            _wait_until(lambda: "seizure of Forum A" in figures.inner_text(), 20,
                        "the seizure to show in the live figures")
            _wait_until(lambda: _day(page) >= 25, 30, "the days after the seizure")
            text = figures.inner_text()
            assert re.search(r"Loss so far\s+\d+%", text), text
            assert re.search(r"Displaced who found a new forum\s+\d+% of \d", text), text
            assert int(re.search(r"Days since the shock\s+(\d+)", text).group(1)) >= 5, text
            assert charts.nth(1).screenshot() != activity_before
            body = page.locator("body").inner_text()
            assert "Traceback" not in body and "error in step" not in body
            assert page.locator(".v-alert.error, .v-alert--type-error").count() == 0
            page.screenshot(path=tmp_path / "demo.png", full_page=True)
            # Mesa's Reset rebuilds the ecosystem from the sidebar's controls.
            page.get_by_role("button", name="Reset", exact=True).click()
            _wait_until(lambda: _day(page) == 0 and "No shock yet" in figures.inner_text(),
                        20, "a fresh ecosystem after Reset")
            browser.close()
        assert not blocked, f"the page fetched from the internet: {blocked}"
        assert not failed, f"requests failed: {failed}"
        assert not errors, f"errors in the page: {errors}"
    finally:
        server.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            raise AssertionError("the server did not stop on Ctrl-C") from None
    assert "Traceback" not in server_log.read_text(), server_log.read_text()
