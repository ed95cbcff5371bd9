"""The teaching page: watch a forum ecosystem form and absorb a takedown, in the browser.

The page runs the same `Ecosystem` and interventions as the command line. Each browser tab
gets a `Classroom`: the ecosystem with the shocks, the same ecosystem without them (the
counterfactual, stepped alongside with the same random numbers) and the one thread that
steps both. Buttons only leave requests for that thread; after each day it builds an
immutable `Snapshot` of everything the page shows, and the page renders from snapshots
alone, so no drawing ever sees half a day and pressing anything in any order is safe.
`forumsim demo` calls `serve`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import socket
import sys
import threading
import time
import warnings
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import ClassVar

import reacton.core
import solara
from solara.components.echarts import EchartsWidget

from forumsim.experiment.export import spreadsheet_safe
from forumsim.experiment.resources import NotEnoughMemoryError, available_memory, model_memory
from forumsim.ui import demo_figures
from forumsim.ui.origin import SameOrigin, exposure_warning, reachable_addresses
from forumsim.ui.sessions import LINGER_SECONDS, MAX_SESSIONS, SessionLimit
from forumsim.world.interventions import ROLE_STRATEGIES, Intervention
from forumsim.world.model import Ecosystem
from forumsim.world.scenario import (
    STRATEGIES,
    ArrestsSpec,
    OutageSpec,
    TakedownSpec,
    embedded_scenario,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preset:
    """A teaching scenario: the shocks it schedules and what the class should look for."""

    shocks: tuple[dict, ...]
    look_for: str


SHOCK_DAY = 60  # two months of calm first, so the class sees the ecosystem before the shock
PRESETS = {
    "Growth: how fora form": Preset((), (
        "No shocks: watch the ecosystem grow. Most people who register only read "
        "(lurkers); a few post and become members, fewer share and become VIPs, and staff "
        "recruit moderators from long-standing members (roles plot, log scale). Now and "
        "then a skilled member founds a new forum: a node appears on the map and draws "
        "members mostly from the fora it shares members with.")),
    "Takedown: the largest forum is seized": Preset(
        ({"type": "takedown", "day": SHOCK_DAY, "target": "largest", "publicized": True},), (
            f"On day {SHOCK_DAY} the largest forum is seized and the seizure is publicized. "
            "Activity drops at once; then the displaced turn up on fora they already "
            "belonged to (the thick lines on the map). With the default settings its "
            "former staff open a successor forum about two weeks later, with stricter "
            "access (on some seeds nobody does): how much of the loss is back after two "
            "months?")),
    "Arrests: the admins of Forum A": Preset(
        ({"type": "arrests", "day": SHOCK_DAY, "strategy": "admins", "share": 1.0,
          "forum": "Forum A"},), (
            f"On day {SHOCK_DAY} the admins of Forum A are arrested. A moderator takes "
            "over and, with the default settings, the forum carries on: the plots barely "
            "move (without its admins a forum is likelier to fail later; on some seeds it "
            "does). Compare with the next preset, where all of its staff are arrested.")),
    "Arrests: all staff of Forum A": Preset(
        ({"type": "arrests", "day": SHOCK_DAY, "strategy": "staff", "share": 1.0,
          "forum": "Forum A"},), (
            f"On day {SHOCK_DAY} every admin and moderator of Forum A is arrested. Its most "
            "thanked member takes over if one has earned enough thanks; with the default "
            "settings nobody has, so it shuts down the same day and its members must move, "
            "much as after a seizure, but no staff remain to open a successor.")),
    "Outage: the largest forum is down for two weeks": Preset(
        ({"type": "outage", "day": SHOCK_DAY, "target": "largest", "duration_days": 14},), (
            f"On day {SHOCK_DAY} the largest forum goes down for 14 days (a DDoS). Failed "
            "visits jump while members who know other fora go there; when it comes back "
            "nearly everyone returns. Compare the loss and the recovery with the seizure.")),
}
DEFAULT_PRESET = "Takedown: the largest forum is seized"
# With it each preset does what its text says (a test checks): the seizure's successor
# opens two weeks later with stricter access, and so on.
DEFAULT_SEED = 8


class ClassroomEcosystem(Ecosystem):
    """The `Ecosystem` of the embedded default scenario, built from the page's controls;
    shocks the teacher triggers are scheduled for the next day like any other."""

    live: ClassVar[weakref.WeakSet[ClassroomEcosystem]] = weakref.WeakSet()  # stopped on exit

    def __init__(self, preset: str = DEFAULT_PRESET, people: int = 5000,
                 seed: int = DEFAULT_SEED,
                 access_a: str = "open", access_b: str = "open",
                 access_c: str = "restricted", access_d: str = "restricted",
                 access_e: str = "closed") -> None:
        base = embedded_scenario()
        regimes = (access_a, access_b, access_c, access_d, access_e)
        fora = [spec.model_dump() for spec in base.fora]
        for forum, access in zip(fora, regimes, strict=False):
            forum["access"] = access
        scenario = base.overridden(name="demo", description=preset, people=int(people),
                                   seed=int(seed), fora=fora, days=HORIZON_DAYS,
                                   interventions=list(PRESETS[preset].shocks))
        super().__init__(scenario)
        self.preset = preset
        ClassroomEcosystem.live.add(self)

    def counterfactual(self) -> Ecosystem:
        """The same ecosystem (scenario and seed) without any shock, built at day 0: every
        random number is addressed by (seed, purpose, day, person), so both make the same
        draws wherever a shock did not reach, and the gap between the two is the shocks'
        effect."""
        return Ecosystem(self.config.without_interventions())

    def schedule(self, spec: TakedownSpec | ArrestsSpec | OutageSpec) -> int:
        """Apply `spec` at the start of the next day (phase 1, like scheduled shocks);
        returns that day."""
        day = self.day + 1
        super().schedule(spec.model_copy(update={"day": day}))
        return day


HORIZON_DAYS = 3650  # the page plays up to ten years; the presets' shocks come on day 60

TARGETS = {"largest": "the largest forum", "most_central": "the most central forum",
           "random": "a random forum"}


def describe(intervention: Intervention) -> str:
    """A scheduled shock in words, e.g. 'seizure of the largest forum on day 60'."""
    spec = intervention.spec
    if spec.type != "arrests":
        name = demo_figures.SHOCK_NAMES.get(spec.type, spec.type)
        return f"{name} of {TARGETS.get(spec.target, spec.target)} on day {spec.day}"
    if spec.k is not None:
        who = f"{spec.k} people ({spec.strategy})"
    elif spec.strategy in ROLE_STRATEGIES:
        who = f"{'all' if spec.share == 1 else f'{spec.share:.0%} of the'} {spec.strategy}"
    else:
        who = f"{spec.share:.0%} of the people ({spec.strategy})"
    return f"arrest of {who}{f' of {spec.forum}' if spec.forum else ''} on day {spec.day}"


# --- one tab's run: the stepping thread and its snapshots ---------------------------------

ACCESS_KEYS = ("access_a", "access_b", "access_c", "access_d", "access_e")
_DEFAULT_FORA = embedded_scenario().fora


@dataclass(frozen=True)
class Bounds:
    """The values a slider of the page offers: `low` to `high` in steps of `step`. The
    server takes no other, whatever a crafted message says the slider was set to."""

    low: int
    high: int
    step: int = 1

    def allows(self, value: object) -> bool:
        return (isinstance(value, int) and not isinstance(value, bool)
                and self.low <= value <= self.high and (value - self.low) % self.step == 0)


PEOPLE = Bounds(1000, 20_000, 1000)
SEED = Bounds(0, 100)
INTERVAL_MS = Bounds(0, 500, 10)
ARRESTS = Bounds(1, 50)


def accepting(allowed: Callable[[object], bool], then: Callable[[object], None]
              ) -> Callable[[object], None]:
    """A control's `on_value` that passes on only what the control can send."""
    def take(value: object) -> None:
        if allowed(value):
            then(value)
        else:
            log.warning("the teaching page ignored a value no control sends: %.60r", value)
    return take


@dataclass(frozen=True)
class Settings:
    """What the sidebar builds an ecosystem from (applied by Reset); only values the
    sidebar's controls offer."""

    preset: str = DEFAULT_PRESET
    people: int = 5000
    seed: int = DEFAULT_SEED
    access: tuple[str, ...] = tuple(spec.access for spec in _DEFAULT_FORA)

    def __post_init__(self) -> None:
        if (self.preset not in PRESETS or not PEOPLE.allows(self.people)
                or not SEED.allows(self.seed) or len(self.access) != len(_DEFAULT_FORA)
                or not set(self.access) <= set(demo_figures.REGIMES)):
            raise ValueError(f"settings no control of the page offers: {self!r:.200}")

    def build(self) -> ClassroomEcosystem:
        """The ecosystem these settings describe, at day 0."""
        return ClassroomEcosystem(preset=self.preset, people=self.people, seed=self.seed,
                                  **dict(zip(ACCESS_KEYS, self.access, strict=False)))


class Figure:
    """An ECharts option as one opaque value. Solara's renderer walks every list and
    dict an element is given, looking for elements inside; for a day's thousands of plot
    points that walk costs more than the day itself, so `Chart` gets the option wrapped
    and hands it to the browser widget directly."""

    __slots__ = ("option",)

    def __init__(self, option: dict) -> None:
        self.option = option


@dataclass(frozen=True)
class Snapshot:
    """Everything the page shows, taken between two days; never changed afterwards."""

    seq: int
    day: int
    playing: bool
    ended: bool
    preset: str
    charts: dict[str, Figure]  # chart name -> its ECharts option
    ties: Figure | None  # the tie network, only while it is shown
    latest: demo_figures.ShockFigures | None
    earlier: tuple[demo_figures.ShockFigures, ...]  # the shocks before the latest, latest first
    news: tuple[str, ...]  # what the shocks did, latest first, dated and in the past tense
    coming: tuple[str, ...]  # shocks scheduled and not yet applied
    fora: tuple[str, ...]  # fora not gone, largest first
    window: int  # rehoming window of the live figures, in days
    error: str | None = None  # the model failed, or a new ecosystem could not be built


DEFAULT_INTERVAL_MS = 50
# While playing, the figures are rebuilt at most this often (the day and the live figures
# every day): redrawing five charts costs the browser more than a day costs the model.
CHART_FPS = 6


class Classroom:
    """One tab's run: the ecosystem with the shocks, the same ecosystem without them,
    and the one thread that steps both. Every method may be called from any thread at
    any time: it only leaves a request, which the stepping thread carries out between
    two days; after each, that thread publishes a fresh `Snapshot`."""

    def __init__(self, settings: Settings | None = None,
                 publish: Callable[[Snapshot], None] | None = None) -> None:
        self.lock = threading.Condition()  # guards everything below; the thread waits on it
        self.publish = publish or (lambda snapshot: None)
        self.interval_ms = DEFAULT_INTERVAL_MS
        self.playing = False
        self.show_ties = False
        self._requests: deque[Callable[[], None]] = deque()
        self._closed = False
        self._seq = 0
        self._layout: dict = {}
        self._error: str | None = None
        self._build(settings or Settings())
        self.snapshot = self._take_snapshot()
        self._thread = threading.Thread(target=self._work, name="forumsim-classroom",
                                        daemon=True)
        self._thread.start()

    # --- requests (any thread) ---
    def play(self) -> None:
        """Step day after day, each taking at least the play interval."""
        self._request(lambda: setattr(self, "playing", not self._ended()))

    def pause(self) -> None:
        """Stop after the day being stepped, if any."""
        # Said before waiting for the lock: a thread playing with no interval takes the
        # lock back at once after each day, so a pause that waited its turn could let
        # several more days go by. The thread reads the flag before each day.
        self.playing = False
        self._request(lambda: None)  # wakes the thread: it publishes the pause

    def step(self) -> None:
        """One day (while paused)."""
        self._request(lambda: None if self.playing or self._ended() else self._advance())

    def reset(self, settings: Settings) -> None:
        """Pause and build a fresh ecosystem (and its counterfactual) from `settings`, if
        the memory it needs is free (else the page says so and the run goes on)."""
        with self.lock:
            self.playing = False
        self._request(lambda: self._rebuild(settings))

    def shock(self, spec: TakedownSpec | ArrestsSpec | OutageSpec) -> None:
        """Schedule `spec` for the start of the next day (the ecosystem with shocks only),
        if the buttons could have asked for it: a forum that is not gone, or up to
        ARRESTS.high arrests by one of the strategies."""
        def schedule() -> None:
            if isinstance(spec, ArrestsSpec):
                allowed = ARRESTS.allows(spec.k) and spec.forum is None
            else:
                allowed = spec.target in {f.name for f in self.eco.fora if not f.gone}
            if allowed:
                self.eco.schedule(spec)
            else:
                log.warning("the teaching page ignored a shock no button asks for: %.200r",
                            spec)
        self._request(schedule)

    def set_interval(self, ms: int) -> None:
        """The time each day takes at least while playing, in milliseconds (the stepping,
        the figures and the drawing count towards it)."""
        if not INTERVAL_MS.allows(ms):
            log.warning("the teaching page ignored a time per day of %.60r", ms)
            return
        with self.lock:
            self.interval_ms = ms
            self.lock.notify_all()

    def set_ties(self, show: bool) -> None:
        """Draw the tie network (built only while shown: it costs more than the rest)."""
        def toggle() -> None:
            self.show_ties = show
        self._request(toggle)

    def close(self) -> None:
        """Stop the thread (the tab is gone)."""
        with self.lock:
            self._closed, self.playing = True, False
            self.lock.notify_all()

    def csv(self) -> str:
        """The run so far, one row per day: the ecosystem's daily table, active people in
        the same ecosystem without the shocks, and the shocks that hit that day."""
        with self.lock:
            data = self.eco.datacollector.model_vars
            without = self.without.datacollector.model_vars["active_people"]
            news: dict[int, list[str]] = {}
            for event in self.eco.events:
                news.setdefault(event.day, []).append(
                    demo_figures.shock_news(self.eco, event).split(": ", 1)[1])
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            columns = list(data)
            writer.writerow([*columns, "active_people_without_shocks", "shocks"])
            for i, day in enumerate(data["day"]):
                writer.writerow([*(data[c][i] for c in columns), without[i],
                                 spreadsheet_safe(" ".join(news.get(day, [])))])
            return text.getvalue()

    # --- the stepping thread ---
    def _request(self, action: Callable[[], None]) -> None:
        with self.lock:
            self._requests.append(action)
            self.lock.notify_all()

    def _ended(self) -> bool:
        return self.eco.day >= self.eco.config.days or self._error is not None

    def _build(self, settings: Settings) -> None:
        need = model_memory(settings.people, len(settings.access))
        available = available_memory()
        if available is not None and need > available:
            raise NotEnoughMemoryError(
                f"Not enough memory for an ecosystem of {settings.people:,} people now: it "
                f"needs about {need >> 20:,} MB, and the server has {available >> 20:,} MB "
                "free. Choose fewer people, or try again once other tabs have closed.")
        self.settings = settings
        self.eco = settings.build()
        self.without = self.eco.counterfactual()
        self._layout, self._error, self._notice, self.playing = {}, None, None, False
        self._charts_at: tuple | None = None  # when the figures were last built, and them

    def _rebuild(self, settings: Settings) -> None:
        """Build from `settings`, or keep the current run and say why not."""
        try:
            self._build(settings)
        except NotEnoughMemoryError as refusal:
            self._notice = str(refusal)

    def _advance(self) -> None:
        try:
            self.eco.step()
            self.without.step()
        except Exception as error:  # a bug: say so on the page instead of dying silently
            log.exception("the teaching page's model failed")
            self._error = (f"The model stopped: {type(error).__name__}: {error}. Press Reset "
                           "to start again.")
            self.playing = False
        if self._ended():
            self.playing = False

    def _work(self) -> None:
        while True:
            with self.lock:
                self.lock.wait_for(lambda: self._closed or self._requests
                                   or (self.playing and self.eco.running))
                started = time.perf_counter()
                if self._closed:
                    return
                if self._requests:
                    self._requests.popleft()()
                else:
                    self._advance()
                snapshot = self.snapshot = self._take_snapshot()
            try:
                self.publish(snapshot)
            except Exception:  # the tab went away while drawing: nothing left to draw for
                log.exception("the teaching page could not draw day %d", snapshot.day)
                self.close()
                return
            with self.lock:  # the rest of the day's time, cut short by a pause or a request
                rest = self.interval_ms / 1000 - (time.perf_counter() - started)
                self.lock.wait_for(lambda: self._closed or self._requests or not self.playing,
                                   timeout=max(rest, 0.0))

    def _charts(self) -> tuple[dict[str, Figure], Figure | None]:
        """The figures for today, or the last ones while playing faster than the browser
        redraws them usefully (at most CHART_FPS times a second)."""
        now = time.perf_counter()
        if self.playing and self._charts_at is not None and \
                now - self._charts_at[0] < 1 / CHART_FPS and self.show_ties == self._charts_at[2]:
            return self._charts_at[1], self._charts_at[3]
        eco = self.eco
        ties = None
        if self.show_ties:
            option, self._layout = demo_figures.tie_network(eco, previous=self._layout)
            ties = Figure(option)
        charts = {"forum_map": Figure(demo_figures.forum_map(eco)),
                  "activity": Figure(demo_figures.activity_chart(eco)),
                  "counterfactual": Figure(demo_figures.counterfactual_chart(eco, self.without)),
                  "roles": Figure(demo_figures.roles_chart(eco)),
                  "registrations": Figure(demo_figures.registrations_chart(eco))}
        self._charts_at = (now, charts, self.show_ties, ties)
        return charts, ties

    def _take_snapshot(self) -> Snapshot:
        eco = self.eco
        self._seq += 1
        charts, ties = self._charts()
        alive = sorted((f for f in eco.fora if not f.gone), key=lambda f: -f.members)
        return Snapshot(
            seq=self._seq, day=eco.day, playing=self.playing, ended=self._ended(),
            preset=eco.preset, charts=charts, ties=ties,
            latest=demo_figures.shock_figures(eco, self.without),
            earlier=tuple(demo_figures.shock_figures(eco, self.without, event)
                          for event in reversed(eco.events[:-1])),
            news=tuple(demo_figures.shock_news(eco, e) for e in reversed(eco.events)),
            coming=tuple(describe(i) for i in eco.interventions if min(i.days) > eco.day),
            fora=tuple(f.name for f in alive), window=eco.behaviour.rehoming_window_days,
            error=self._error or self._notice)


# --- the page's parts ------------------------------------------------------------------
# Solara components are named in PascalCase, like the elements they build. They read only
# the latest snapshot, split by `View` into one reactive value per part of the page so that
# a day redraws only what changed; buttons call the Classroom, which never blocks for long.


@solara.component
def Chart(figure: Figure, base_height: int = 330) -> None:
    """An ECharts figure, made taller by the rows its legend takes; its option goes to
    the widget directly (see `Figure`)."""
    legend = figure.option.get("grid", {}).get("bottom", 58) - 58
    # No option here: the renderer would set it back on every pass; `show` sets it.
    element = EchartsWidget.element(
        responsive=True, attributes={"style": f"height: {base_height + legend}px; width: 100%;"})

    def show() -> None:
        solara.get_widget(element).option = figure.option

    solara.use_effect(show, [figure])
    return element


def _share(value: float | None, missing: str = "–") -> str:
    return missing if value is None else f"{value:.0%}"


def live_figures_html(snapshot: Snapshot) -> str:
    """The preset's card: what to look for, shocks to come, what the shocks did, and the
    live figures of the latest shock."""
    # Plain HTML: solara.Markdown would fetch KaTeX, which the offline assets lack.
    parts = [f"<p>{escape(PRESETS[snapshot.preset].look_for)}</p>"]
    if snapshot.coming:
        parts.append("<p><i>Coming: " + escape("; ".join(snapshot.coming)) + ".</i></p>")
    figures = snapshot.latest
    if figures is None:
        parts.append("<p><b>No shock yet.</b> Press play, or trigger one with the buttons.</p>")
    else:
        displaced = (f"{_share(figures.rehomed_share)} of {figures.displaced:,}"
                     if figures.displaced else "– (nobody displaced)")
        successors = (f"{len(figures.successors)} ({', '.join(figures.successors)})"
                      if figures.successors else "none yet")
        rows = [("Loss so far", _share(figures.loss_so_far)),
                ("Days since the shock", str(figures.days_since)),
                ("Displaced who found a new forum", displaced),
                ("Successor fora", successors), ("Arrested", f"{figures.arrested:,}")]
        parts.append(f"<p><b>Latest shock:</b> {escape(figures.label)} on day {figures.day}</p>"
                     "<table>" + "".join(f"<tr><td>{label}</td><td><b>{escape(value)}</b></td>"
                                         "</tr>" for label, value in rows) + "</table>")
        parts.append(
            "<p><small>Loss so far: the largest shortfall, since this shock, of the 7-day "
            "mean of active people below that of the same ecosystem without any of the "
            "shocks (the dashed line below), stepped alongside with the same random "
            "numbers, as <code>forumsim run</code> measures it; with several shocks it is "
            "their combined effect. Found a new forum: active on another forum within "
            f"{snapshot.window} days.</small></p>")
    if snapshot.earlier:
        parts.append("<p><b>Earlier shocks</b> (loss: since that shock, all shocks "
                     "together):</p><table><tr><th>day</th><th>shock</th><th>loss</th>"
                     "<th>found a new forum</th><th>successors</th><th>arrested</th></tr>"
                     + "".join(_earlier_row(figures) for figures in snapshot.earlier[:5])
                     + "</table>")
    if snapshot.news:
        parts.append("<p><b>What happened:</b></p><ul>" + "".join(
            f"<li>{escape(line)}</li>" for line in snapshot.news[:6]) + "</ul>")
    return "".join(parts)


def _earlier_row(figures: demo_figures.ShockFigures) -> str:
    cells = (str(figures.day), figures.label, _share(figures.loss_so_far),
             _share(figures.rehomed_share), str(len(figures.successors)),
             f"{figures.arrested:,}")
    return "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>"


class View:
    """One tab's view of the latest snapshot: a reactive value per part of the page, set
    only when that part changed, so that only the components reading it render again."""

    def __init__(self, snapshot: Snapshot, batch: contextlib.AbstractContextManager) -> None:
        self.batch = batch  # the page's render context: sets inside it render once
        self.day = solara.reactive((snapshot.day, snapshot.ended))
        self.playing = solara.reactive((snapshot.playing, snapshot.ended))
        self.charts = {name: solara.reactive(figure) for name, figure in snapshot.charts.items()}
        self.ties = solara.reactive(snapshot.ties)
        self.card = solara.reactive((snapshot.preset, live_figures_html(snapshot)))
        self.fora = solara.reactive(snapshot.fora)
        self.error = solara.reactive(snapshot.error)

    def show(self, snapshot: Snapshot) -> None:
        """Bring every part up to `snapshot` (called by the stepping thread), in one
        render pass."""
        with self.batch:
            self._show(snapshot)

    def _show(self, snapshot: Snapshot) -> None:
        self.playing.set((snapshot.playing, snapshot.ended))
        self.day.set((snapshot.day, snapshot.ended))
        self.error.set(snapshot.error)
        self.fora.set(snapshot.fora)
        self.card.set((snapshot.preset, live_figures_html(snapshot)))
        for name, figure in snapshot.charts.items():
            self.charts[name].set(figure)  # the same Figure while charts are not rebuilt
        self.ties.set(snapshot.ties)


@solara.component
def LiveChart(view: View, name: str, base_height: int = 330) -> None:
    """One chart of the page, drawn again only when its figure changed."""
    Chart(view.charts[name].value, base_height)


@solara.component
def ShockButtons(room: Classroom, view: View) -> None:
    """Seize a forum, arrest k people by a strategy, or start an outage, tomorrow."""
    target, set_target = solara.use_state("")
    strategy, set_strategy = solara.use_state("degree")
    k, set_k = solara.use_state(5)
    names = list(view.fora.value)
    forum = target if target in names else (names[0] if names else "")
    with solara.Column(classes=["forumsim-shocks"], style={"padding": "8px"}):
        solara.Text("A shock hits at the start of the next day.")
        solara.Select(label="Forum", values=names, value=forum,
                      on_value=accepting(lambda name: name in names, set_target))
        with solara.Row():
            solara.Button("Seize forum", color="error", disabled=not forum,
                          on_click=lambda: room.shock(TakedownSpec(
                              type="takedown", day=1, target=forum, publicized=True)))
            solara.Button("Outage (7 days)", color="warning", disabled=not forum,
                          on_click=lambda: room.shock(OutageSpec(
                              type="outage", day=1, target=forum)))
        solara.Select(label="Arrest strategy", values=list(STRATEGIES), value=strategy,
                      on_value=accepting(lambda name: name in STRATEGIES, set_strategy))
        solara.SliderInt(f"People to arrest (k): {k}", value=k, min=ARRESTS.low,
                         max=ARRESTS.high, on_value=accepting(ARRESTS.allows, set_k),
                         thumb_label=False)
        solara.Button(f"Arrest {k} people", color="error",
                      on_click=lambda: room.shock(ArrestsSpec(
                          type="arrests", day=1, strategy=strategy, k=k)))


@solara.component
def DayShown(view: View) -> None:
    """'Day N', at the top of the sidebar."""
    day, ended = view.day.value
    solara.HTML(tag="div", unsafe_innerHTML=f"<b>Day {day}</b>"
                + (" (the end: ten simulated years)" if ended else ""),
                classes=["forumsim-day"], style={"font-size": "22px"})


@solara.component
def PlayButtons(room: Classroom, view: View) -> None:
    """Play or pause, and step one day."""
    playing, ended = view.playing.value
    with solara.Row():
        if playing:
            solara.Button("❚❚ Pause", color="primary", on_click=room.pause)
        else:
            solara.Button("▶ Play", color="primary", on_click=room.play, disabled=ended)
        solara.Button("Step one day", color="primary", on_click=room.step,
                      disabled=playing or ended)


@solara.component
def Controls(room: Classroom, view: View) -> None:
    """The sidebar: play, pause, step, the pace, the download, and the settings Reset
    applies."""
    preset, set_preset = solara.use_state(room.settings.preset)
    people, set_people = solara.use_state(room.settings.people)
    seed, set_seed = solara.use_state(room.settings.seed)
    access, set_access = solara.use_state(room.settings.access)
    interval, set_interval = solara.use_state(room.interval_ms)

    def change_interval(ms: int) -> None:
        set_interval(ms)
        room.set_interval(ms)

    def set_regime(i: int, regime: str) -> None:
        set_access(tuple(regime if j == i else a for j, a in enumerate(access)))

    with solara.Card("Run"):
        DayShown(view)
        PlayButtons(room, view)
        pace = f"at most {1000 // interval} days/s" if interval else "as fast as it goes"
        # The words above the slider: beside it, Vuetify leaves the track a sliver.
        solara.Text(f"Time per day: {interval} ms ({pace})")
        solara.SliderInt("", value=interval, min=INTERVAL_MS.low, max=INTERVAL_MS.high,
                         step=INTERVAL_MS.step,
                         on_value=accepting(INTERVAL_MS.allows, change_interval),
                         thumb_label=False)
        solara.FileDownload(room.csv, filename="forumsim_run_so_far.csv",
                            label="Download the run so far (CSV)", mime_type="text/csv")
    with solara.Card("New ecosystem", subtitle="Press Reset to apply these settings."):
        solara.Select(label="Preset", values=list(PRESETS), value=preset,
                      on_value=accepting(lambda name: name in PRESETS, set_preset))
        solara.SliderInt(f"People: {people:,}", value=people, min=PEOPLE.low, max=PEOPLE.high,
                         step=PEOPLE.step, on_value=accepting(PEOPLE.allows, set_people),
                         thumb_label=False)
        solara.SliderInt(f"Seed: {seed}", value=seed, min=SEED.low, max=SEED.high,
                         on_value=accepting(SEED.allows, set_seed), thumb_label=False)
        for i, spec in enumerate(_DEFAULT_FORA):
            solara.Select(label=f"{spec.name} access", values=demo_figures.REGIMES,
                          value=access[i], on_value=accepting(
                              lambda regime: regime in demo_figures.REGIMES,
                              lambda regime, i=i: set_regime(i, regime)))
        solara.Button("Reset", color="primary", on_click=lambda: room.reset(
            Settings(preset=preset, people=int(people), seed=int(seed), access=access)))


@solara.component
def PresetCard(view: View) -> None:
    """The preset's card: what to look for and the live figures of the latest shock."""
    preset, html = view.card.value
    with solara.Card(preset):
        solara.HTML(tag="div", unsafe_innerHTML=html, classes=["forumsim-figures"])


@solara.component
def ErrorNote(view: View) -> None:
    """Only if the model failed, or Reset could not build: what happened (the page keeps
    working)."""
    if view.error.value:
        solara.Text(view.error.value, style={"font-weight": "bold"})


@solara.component
def Ties(room: Classroom, view: View) -> None:
    """The button that shows or hides the tie network, and the network while shown."""
    show, set_show = solara.use_state(False)

    def toggle() -> None:
        set_show(not show)
        room.set_ties(not show)

    # A button, not a checkbox: Vuetify 3 draws a checkbox's label over its box.
    solara.Button(f"{'Hide' if show else 'Show'} the ties of the most connected people",
                  outlined=True, on_click=toggle)
    if show and view.ties.value is not None:
        Chart(view.ties.value, 600)


@solara.component
def Dashboard(room: Classroom, view: View) -> None:
    """The page's main area: the map and plots, the live figures and the shock buttons."""
    ErrorNote(view)
    solara.Text("Pick a preset and the settings on the left, press Reset to build that "
                "ecosystem, then ▶ Play to play it day by day.")
    with solara.Columns([1, 1]):
        LiveChart(view, "forum_map", 360)
        LiveChart(view, "activity")
    with solara.Columns([1, 1]):
        PresetCard(view)
        with solara.Card("Shocks"):
            ShockButtons(room, view)
    with solara.Columns([1, 1]):
        LiveChart(view, "counterfactual")
        LiveChart(view, "roles")
    with solara.Columns([1, 1]):
        LiveChart(view, "registrations")
        with solara.Column():
            Ties(room, view)


def open_classroom() -> Classroom | str:
    """A new tab's classroom, or why there is none (not enough memory for it)."""
    try:
        return Classroom()
    except NotEnoughMemoryError as refusal:
        return str(refusal)


# Card titles wrap between words, never inside one ("ap / ply"); the live figures' tables
# keep their columns apart.
PAGE_STYLE = """
.v-card-title, .v-card__title { word-break: normal !important; overflow-wrap: normal; }
.forumsim-figures td, .forumsim-figures th { padding: 1px 10px 1px 0; text-align: left; }
"""
# Solara 1.58 sizes its sidebar as "min-content", which Vuetify 3 (ipyvue 3) cannot lay
# out: the sidebar would cover the app bar and the page. Give it a width and make room.
VUETIFY3_SIDEBAR_FIX = """
.v-navigation-drawer.solara-content-main {
  width: 420px !important; top: 64px !important; height: calc(100% - 64px) !important;
}
.v-layout:has(.v-navigation-drawer--active) .v-main.solara-content-main {
  --v-layout-left: 420px !important;
}
"""


@solara.component
def Page() -> None:
    """The teaching page; each browser tab gets its own classroom, if the memory for it is
    free (else it says so)."""
    room = solara.use_memo(open_classroom, dependencies=[])
    if isinstance(room, str):
        solara.Text(room, style={"font-weight": "bold", "padding": "2em"})
    else:
        ClassroomPage(room)


@solara.component
def ClassroomPage(room: Classroom) -> None:
    """The page of one tab's classroom: its controls, figures and buttons."""
    context = reacton.core.get_render_context()
    view = solara.use_memo(lambda: View(room.snapshot, context), dependencies=[])

    def attach() -> Callable[[], None]:
        room.publish = view.show
        view.show(room.snapshot)  # anything published before this ran
        return room.close

    solara.use_effect(attach, [])
    with solara.AppBar():
        solara.AppBarTitle("forumsim: how a forum ecosystem absorbs a shock")
    with solara.Sidebar():
        Controls(room, view)
    solara.Style(PAGE_STYLE)
    if solara.util.ipyvuetify_major_version == 3:
        solara.Style(VUETIFY3_SIDEBAR_FIX)
    Dashboard(room, view)


# --- serving ----------------------------------------------------------------------------


def _listen(host: str, port: int) -> socket.socket:
    """A bound listening socket, or a clear exit if the address is taken or invalid."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:  # bad input: one line and exit code 2, like the rest of the CLI
        sock.close()
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in host)
        print(f"error: cannot serve on {shown}:{port}: {error.strerror}. Choose another "
              "--port (or --host).", file=sys.stderr)
        raise SystemExit(2) from None
    sock.listen(128)
    return sock


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(host: str = "127.0.0.1", port: int = 8765, max_sessions: int = MAX_SESSIONS) -> None:
    """Serve the teaching page on http://host:port to at most `max_sessions` tabs at once,
    print the address, block until Ctrl-C."""
    # Solara reads the app to serve from the environment when its server module loads.
    os.environ["SOLARA_APP"] = "forumsim.ui.app:Page"
    import uvicorn
    from solara.server import settings

    settings.main.mode = "production"
    settings.telemetry.mixpanel_enable = False  # no calls home: the page works offline
    settings.kernel.cull_timeout = f"{LINGER_SECONDS}s"  # Solara keeps a silent tab a day
    settings.theme.show_banner = False  # its "runs on Solara" note covered a chart
    settings.theme.title = "forumsim teaching page"
    # Solara warns on every page load over plain http to a host other than "localhost"
    # about cookies for pages embedded in iframes, which this page never is.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    sock = _listen(host, port)
    port = sock.getsockname()[1]
    warning = exposure_warning(host, port)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    from solara.server.starlette import app as solara_app

    # What students type: an address of this machine, never 0.0.0.0.
    urls = [_url(address, port) for address in reachable_addresses(host)]
    if not urls:
        urls = [_url("127.0.0.1", port) + " (no network address found: this machine only)"]
    print(f"forumsim teaching page: {urls[0]}  (Ctrl-C to stop)", flush=True)
    if len(urls) > 1:
        print(f"also at: {', '.join(urls[1:])}", flush=True)
    # Only requests to this page's own address, and WebSockets from the page itself.
    config = uvicorn.Config(SameOrigin(SessionLimit(solara_app, max_sessions), host, port),
                            log_level="warning", timeout_graceful_shutdown=2)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        # A page left playing keeps its play thread, and so this process, alive.
        for model in list(ClassroomEcosystem.live):
            model.running = False
