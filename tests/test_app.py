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
from forumsim.ui.app import (
    DEFAULT_SEED,
    PRESETS,
    SHOCK_DAY,
    Classroom,
    ClassroomEcosystem,
    Page,
    Settings,
    _listen,
    describe,
)
from forumsim.world.forum import Status
from forumsim.world.scenario import ArrestsSpec, TakedownSpec

CHROMIUM = Path("/usr/bin/chromium")


def small(preset: str = "Growth: how fora form") -> ClassroomEcosystem:
    return ClassroomEcosystem(preset=preset, people=1000, seed=3)


def test_page_imports_and_its_default_settings_build_the_model() -> None:
    assert callable(Page)
    eco = Settings().build()
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
    without = eco.counterfactual()
    for _ in range(70):
        eco.step()
        without.step()
    figures = demo_figures.shock_figures(eco, without)
    if PRESETS[preset].shocks:
        assert figures is not None and figures.day == 60 and figures.days_since == 10
        assert [describe(i) for i in eco.interventions][0].endswith("on day 60")
    else:
        assert figures is None
    options = [demo_figures.forum_map(eco), demo_figures.activity_chart(eco),
               demo_figures.counterfactual_chart(eco, without), demo_figures.roles_chart(eco),
               demo_figures.registrations_chart(eco), demo_figures.tie_network(eco)[0]]
    json.dumps(options)  # what the browser receives


def test_the_counterfactual_stays_in_step_until_the_first_shock() -> None:
    eco = small("Takedown: the largest forum is seized")
    without = eco.counterfactual()
    for _ in range(80):
        eco.step()
        without.step()
    active = np.asarray(eco.datacollector.model_vars["active_people"])
    other = np.asarray(without.datacollector.model_vars["active_people"])
    assert (active[:59] == other[:59]).all()  # days 1 to 59: the same draws
    assert (active[59:] != other[59:]).any()
    assert demo_figures.shock_figures(eco, without).loss_so_far > 0


def test_a_button_shock_hits_at_the_start_of_the_next_day() -> None:
    eco = small()
    eco.run(20)
    day = eco.schedule(TakedownSpec(type="takedown", day=1, target="Forum B"))
    assert day == 21 and eco.forum("Forum B").status == Status.ONLINE
    eco.step()
    assert eco.forum("Forum B").status == Status.SEIZED
    assert eco.events[-1].day == 21
    assert demo_figures.shock_news(eco, eco.events[-1]).startswith(
        "Day 21: Forum B was seized; ")


def test_the_classroom_thread_stops_on_pause_and_takes_requests_in_any_order() -> None:
    published: list = []
    room = Classroom(Settings(people=1000), publish=published.append)
    try:
        room.set_interval(0)
        room.play()
        _wait_until(lambda: room.snapshot.day >= 10, 30, "ten days")
        room.shock(TakedownSpec(type="takedown", day=1, target="Forum A"))
        room.set_ties(True)
        before = room.eco.day
        room.pause()
        room.shock(ArrestsSpec(type="arrests", day=1, strategy="degree", k=5))
        _wait_until(lambda: not room.snapshot.playing, 5, "the pause")
        stopped = room.snapshot.day
        time.sleep(0.3)
        assert room.snapshot.day == stopped and room.eco.day == stopped
        assert stopped <= before + 1  # at most the day being stepped when pause came
        room.step()
        room.step()
        _wait_until(lambda: room.snapshot.day == stopped + 2, 5, "two steps")
        assert room.snapshot.ties is not None
        assert [s.seq for s in published] == sorted({s.seq for s in published})
        assert any("arrested" in line for line in room.snapshot.news)
        rows = room.csv().splitlines()
        assert len(rows) == stopped + 3 and rows[0].endswith("active_people_without_shocks,shocks")
        room.reset(Settings(people=1000, seed=4))
        _wait_until(lambda: room.snapshot.day == 0, 5, "the reset")
        assert room.eco.config.seed == 4 and room.snapshot.latest is None
    finally:
        room.close()


def test_forum_map_marks_a_seized_forum_and_drops_its_edges() -> None:
    eco = small()
    eco.run(60)  # long enough for members shared by fora other than Forum A
    eco.schedule(TakedownSpec(type="takedown", day=1, target="Forum A"))
    eco.step()
    option = demo_figures.forum_map(eco)
    node = next(n for n in option["series"][0]["data"] if n["name"] == "Forum A")
    assert "SEIZED" in node["label"]["formatter"]
    links = option["series"][0]["links"]
    assert links and all("Forum A" not in (link["source"], link["target"]) for link in links)


def test_every_forum_is_in_the_activity_legend_and_keeps_its_colour() -> None:
    eco = small()
    eco.run(40)
    before = {s["name"]: s["itemStyle"]["color"]
              for s in demo_figures.activity_chart(eco)["series"]}
    eco.schedule(TakedownSpec(type="takedown", day=1, target="Forum A"))
    eco.run(60)
    option = demo_figures.activity_chart(eco)
    names = [s["name"] for s in option["series"]]
    assert names == [f.name for f in eco.fora] and "type" not in option["legend"]  # not paged
    after = {s["name"]: s["itemStyle"]["color"] for s in option["series"]}
    assert all(after[name] == colour for name, colour in before.items())


def test_a_forum_has_one_colour_in_every_chart_and_its_access_is_a_shape() -> None:
    eco = small()
    eco.run(40)
    eco.schedule(TakedownSpec(type="takedown", day=1, target="Forum B"))
    eco.forum("Forum C").status = Status.CLOSED  # as when no staff are left
    eco.step()
    nodes = {n["name"]: n for n in demo_figures.forum_map(eco)["series"][0]["data"]}
    lines = {s["name"]: s["itemStyle"]["color"]
             for s in demo_figures.activity_chart(eco)["series"]}
    assert {name: node["itemStyle"]["color"] for name, node in nodes.items()} == lines
    assert len(set(lines.values())) == len(lines)
    categories = demo_figures.forum_map(eco)["series"][0]["categories"]
    assert [c["symbol"] for c in categories] == ["circle", "roundRect", "diamond"]
    assert len({c["itemStyle"]["color"] for c in categories}) == 1  # shape, not colour
    assert nodes["Forum B"]["label"]["formatter"] == "Forum B: SEIZED"
    assert nodes["Forum C"]["label"]["formatter"] == "Forum C: shut down"
    # Nothing else in the charts is drawn in a forum's colour.
    others = [demo_figures.counterfactual_chart(eco, eco.counterfactual()),
              demo_figures.roles_chart(eco), demo_figures.registrations_chart(eco),
              demo_figures.tie_network(eco)[0]]
    used = {s["itemStyle"]["color"] for o in others for s in o["series"] if "itemStyle" in s}
    used |= {c["itemStyle"]["color"] for c in others[-1]["series"][0]["categories"]}
    assert not used & set(lines.values())
    assert others[-1]["legend"]["data"] == list(demo_figures.ROLE_STYLES)  # its legend


def test_thinned_lines_keep_their_peaks() -> None:
    days = np.arange(1, 701)
    failed = np.zeros(700)
    failed[137] = 127.0  # one bad day, as after an outage
    points = demo_figures._points(days, failed, 0)
    assert len(points) <= demo_figures.MAX_POINTS and [138, 127] in points
    assert points[-1] == [700, 0]


@pytest.mark.parametrize("preset", list(PRESETS)[1:])
def test_each_presets_text_holds_with_the_default_settings(preset: str) -> None:
    # What the card promises, on the seed and settings the page starts with.
    eco = Settings(preset=preset).build()
    without = eco.counterfactual()
    for _ in range(120):
        eco.step()
        without.step()
    forum_a = eco.forum("Forum A")
    loss = demo_figures.shock_figures(eco, without).loss_so_far
    text = PRESETS[preset].look_for
    if preset.startswith("Takedown"):
        successor = eco.forum(eco.events[0].successors[0])
        assert "successor forum about two weeks later, with stricter access" in text
        assert 70 <= successor.founded <= 80 and successor.access.name != "open"
    elif preset.startswith("Arrests: the admins"):
        assert "the forum carries on: the plots barely move" in text
        assert forum_a.status == Status.ONLINE and loss < 0.1
    elif preset.startswith("Arrests: all staff"):
        assert "nobody has, so it shuts down the same day" in text
        assert forum_a.status == Status.CLOSED and forum_a.ended == SHOCK_DAY
    else:
        assert "when it comes back nearly everyone returns" in text
        active = np.asarray(eco.datacollector.model_vars["active_people"], dtype=float)
        other = np.asarray(without.datacollector.model_vars["active_people"], dtype=float)
        assert loss > 0.2 and active[-30:].mean() > 0.95 * other[-30:].mean()


def test_loss_so_far_is_the_shortfall_below_the_counterfactual() -> None:
    actual = np.array([100.0] * 10 + [40.0] * 10)
    without = np.array([100.0] * 20)
    assert demo_figures.loss_so_far(actual, without, 10) == pytest.approx(0.6)
    assert demo_figures.loss_so_far(np.array([100.0] * 10 + [120.0] * 5), without, 10) == 0.0
    assert demo_figures.loss_so_far(actual, np.zeros(20), 10) is None  # nobody to compare


def test_plotted_lines_are_thinned_but_keep_the_last_day() -> None:
    days = np.arange(1, 1001)
    points = demo_figures._points(days, days.astype(float))
    assert len(points) <= demo_figures.MAX_POINTS and points[-1] == [1000, 1000.0]


def test_a_page_for_the_whole_network_prints_an_address_students_can_open() -> None:
    from forumsim.ui.origin import reachable_addresses

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "forumsim.ui.cli", "demo", "--host", "0.0.0.0", "--port",
         str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=ctrl_c_as_in_a_terminal)
    try:
        first = server.stdout.readline()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
    assert "0.0.0.0" not in first
    shown = re.search(r"http://([^/]+):(\d+)/", first)
    assert shown and int(shown[2]) == port
    expected = reachable_addresses("0.0.0.0")
    assert shown[1] == (expected[0] if expected else "127.0.0.1"), first


def test_a_taken_port_stops_with_one_clear_line(capsys: pytest.CaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(SystemExit) as stop:
            _listen("127.0.0.1", taken.getsockname()[1])
    assert stop.value.code == 2
    assert "Choose another --port" in capsys.readouterr().err


# --- the page in a browser -----------------------------------------------------------------


def ctrl_c_as_in_a_terminal() -> None:
    """In a server's process: SIGINT stops it, as Ctrl-C does (a test run started in the
    background ignores SIGINT, and its children would inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _day(page) -> int:
    """The day shown at the top of the sidebar ('Day 12')."""
    return int(re.search(r"Day (\d+)", page.locator(".forumsim-day").inner_text()).group(1))


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


ERROR_WORDS = ("Traceback", "Too many renders", "error in step", "RuntimeError",
               "The model stopped")


def _assert_one_colour_per_forum(page, charts) -> None:
    """The map and the activity lines the browser was given name each forum by the same
    colour; no two activity lines alike (beyond the sixteen colours of the palette, a
    colour comes back with dashed lines: a long run founds that many fora); and the map
    as drawn shows the colour of each forum online."""
    given = page.evaluate("""() => {
        const [map, lines] = [...document.querySelectorAll('.solara-echarts')].map(
            d => d.__vue__.option);
        return {map: map.series[0].data.map(n => [n.name, n.itemStyle.color, n.label.formatter]),
                lines: lines.series.map(s => [s.name, s.itemStyle.color, s.lineStyle.type])};}""")
    lines = {name: colour for name, colour, _ in given["lines"]}
    assert {name: colour for name, colour, _ in given["map"]} == lines
    styles = [(colour, dashes) for _, colour, dashes in given["lines"]]
    assert len(set(styles)) == len(styles), styles
    assert len(set(lines.values())) == min(len(lines), 16)
    from io import BytesIO

    from PIL import Image

    drawn = np.asarray(Image.open(BytesIO(charts.nth(0).screenshot())).convert("RGB"),
                       dtype=int).reshape(-1, 3)
    for name, colour, label in given["map"]:
        if label == name:  # online: drawn in its colour, not faded
            rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
            assert (np.abs(drawn - rgb).sum(axis=1) < 12).any(), (name, colour)


def _assert_no_error(page) -> None:
    body = page.locator("body").inner_text()
    assert not [word for word in ERROR_WORDS if word in body], body[:2000]
    assert page.locator(".v-alert").count() == 0


@pytest.mark.timeout(420)
def test_page_survives_play_pause_shocks_and_ties_in_any_order_in_an_offline_browser(
        tmp_path: Path) -> None:
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
            stdout=subprocess.PIPE, stderr=log, text=True, cwd=tmp_path, env=env,
            preexec_fn=ctrl_c_as_in_a_terminal)
    try:
        address = server.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in address, server_log.read_text()
        blocked, failed, errors = [], [], []
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync"])
            page = browser.new_page(viewport={"width": 1600, "height": 1300},
                                    accept_downloads=True)

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
            _wait_until(lambda: charts.count() >= 5, 30, "the charts to draw")
            figures = page.locator(".forumsim-figures")
            assert "No shock yet" in figures.inner_text()
            _assert_one_colour_per_forum(page, charts)
            assert _day(page) == 0
            sidebar = page.locator(".v-navigation-drawer").inner_text()
            for shown in ("People: 5,000", f"Seed: {DEFAULT_SEED}",
                          "Time per day: 50 ms (at most 20 days/s)"):
                assert shown in sidebar, sidebar
            assert "Use Threads" not in sidebar and "Time:" not in sidebar
            activity_before = charts.nth(1).screenshot()
            play = page.get_by_role("button", name="▶ Play", exact=True)
            pause = page.get_by_role("button", name="❚❚ Pause", exact=True)
            ties = page.get_by_role("button", name=re.compile("the ties of the most connected"))
            interval = 0.05  # the default time per day, in seconds

            seize = page.get_by_role("button", name="Seize forum", exact=True)
            arrest = page.get_by_role("button", name=re.compile(r"^Arrest \d+ people$"))
            outage = page.get_by_role("button", name="Outage (7 days)", exact=True)
            pauses = []
            for cycle in range(20):
                start = _day(page)
                play.click()
                _wait_until(lambda start=start: _day(page) >= start + 3, 30,
                            f"the days to advance (cycle {cycle})")
                if cycle % 4 == 0:  # shocks and the ties toggle while playing ...
                    (seize if seize.is_enabled() else arrest).click()
                elif cycle % 4 == 1:
                    arrest.click()
                elif cycle % 4 == 2:
                    ties.click()
                    if outage.is_enabled():  # not once every forum has been seized
                        outage.click()
                time.sleep(0.3)
                pause.click()
                clicked = time.monotonic()
                play.wait_for(timeout=10_000)  # the page shows the pause ...
                shown, acknowledged = _day(page), time.monotonic() - clicked
                time.sleep(interval + 0.5)
                stopped = _day(page)
                time.sleep(1.0)
                # ... with the last day it stepped: nothing advances after that
                assert _day(page) == stopped == shown, (cycle, shown, stopped)
                pauses.append(round(acknowledged, 2))
                if cycle % 4 == 3:  # ... and while paused, before playing again
                    (seize if seize.is_enabled() else arrest).click()
                    ties.click()
                _assert_no_error(page)
            print("seconds from each pause click to the page showing it:", pauses)

            _wait_until(lambda: "was seized" in figures.inner_text(), 20,
                        "the seizures to show in the live figures")
            text = figures.inner_text()
            assert re.search(r"Loss so far\s+\d+%", text), text
            assert re.search(r"Day \d+: \d+ people were arrested", text), text
            assert re.search(r"Day \d+: .+ went down for 7 days", text), text
            assert charts.nth(1).screenshot() != activity_before
            _assert_one_colour_per_forum(page, charts)  # seized fora and successors too
            page.screenshot(path=tmp_path / "demo.png", full_page=True)

            with page.expect_download() as download:
                page.get_by_text("Download the run so far (CSV)").click()
            rows = Path(download.value.path()).read_text().splitlines()
            assert rows[0].startswith("day,active_people,")
            assert rows[0].endswith("active_people_without_shocks,shocks")
            assert len(rows) == _day(page) + 1 and "was seized" in "".join(rows)

            page.get_by_role("button", name="Reset", exact=True).click()
            _wait_until(lambda: _day(page) == 0 and "No shock yet" in figures.inner_text(),
                        20, "a fresh ecosystem after Reset")
            _assert_no_error(page)
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


# --- a page a classroom cannot knock over ----------------------------------------------------


def _rendered_controls(room: Classroom):
    """The sidebar of `room` rendered in a session of its own, as the server renders it."""
    import contextlib

    import solara
    from solara.server import kernel, kernel_context

    from forumsim.ui.app import Controls, View

    session = kernel_context.VirtualKernelContext(id="test", kernel=kernel.Kernel(),
                                                  session_id="test")
    with session:
        view = View(room.snapshot, contextlib.nullcontext())
        _, rendered = solara.render(Controls(room, view), handle_error=False)
    return session, rendered


def test_the_page_takes_no_value_its_controls_do_not_offer() -> None:
    import ipyvuetify as v

    room = Classroom(Settings(people=1000))
    session, rendered = _rendered_controls(room)
    try:
        with session:
            sliders = {(s.widget.min, s.widget.max): s.widget for s in rendered.find(v.Slider)}
            people, seed, pace = sliders[1000, 20_000], sliders[0, 100], sliders[0, 500]
            # What a crafted WebSocket message can make the widgets report:
            people.v_model = 21_000
            people.v_model = 1500  # not a step of the slider
            seed.v_model = 101
            pace.v_model = 10**9
            for select in rendered.find(v.Select):
                select.widget.v_model = "anything"
            rendered.find(v.Btn, children=["Reset"]).widget.click()
            _wait_until(lambda: room.snapshot.seq > 1, 10, "the reset")
        assert room.eco.config.people == 1000 and room.eco.config.seed == Settings().seed
        assert room.interval_ms == 50 and room.settings == Settings(people=1000)
    finally:
        room.close()
        with session:
            rendered.close()


def test_settings_and_shocks_no_control_offers_are_refused() -> None:
    for wrong in ({"people": 500_000}, {"people": 20_000_000}, {"people": 1500},
                  {"seed": -1}, {"preset": "Every forum at once"},
                  {"access": ("open",) * 4 + ("wide open",)}):
        with pytest.raises(ValueError, match="no control of the page offers"):
            Settings(**wrong)
    room = Classroom(Settings(people=1000))
    try:
        room.set_interval(10**9)
        room.shock(ArrestsSpec(type="arrests", day=1, strategy="degree", k=10**6))
        room.shock(TakedownSpec(type="takedown", day=1, target="No Such Forum"))
        room.step()
        _wait_until(lambda: room.snapshot.day == 1, 10, "a day")
        assert room.interval_ms == 50 and room.eco.events == [] and room.snapshot.error is None
    finally:
        room.close()


def test_a_reset_the_memory_cannot_hold_keeps_the_run_and_says_so(monkeypatch) -> None:
    from forumsim.ui import app

    room = Classroom(Settings(people=1000))
    try:
        monkeypatch.setattr(app, "available_memory", lambda: 30 << 20)
        room.reset(Settings(people=20_000))
        _wait_until(lambda: room.snapshot.error is not None, 10, "the refusal")
        assert room.snapshot.error.startswith("Not enough memory for an ecosystem of 20,000")
        assert room.eco.config.people == 1000  # the run goes on
        room.step()
        _wait_until(lambda: room.snapshot.day == 1, 10, "a day")
        monkeypatch.setattr(app, "available_memory", lambda: None)
        room.reset(Settings(people=2000))
        _wait_until(lambda: room.eco.config.people == 2000, 20, "the reset")
        assert room.snapshot.error is None
    finally:
        room.close()
