"""The teaching page: watch a forum ecosystem form and absorb a takedown, in the browser.

Mesa's SolaraViz around the same `Ecosystem` and interventions as the command line:
the sidebar builds a model from a preset and a few controls (press Reset to apply them)
and plays it day by day; the page shows the fora, live plots, the figures of the latest
shock and buttons that seize a forum, arrest people or start an outage. `forumsim demo`
calls `serve`.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import ClassVar

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from forumsim.ui import demo_figures
from forumsim.ui.origin import SameOrigin, exposure_warning
from forumsim.world.interventions import ROLE_STRATEGIES, Intervention
from forumsim.world.model import Ecosystem
from forumsim.world.scenario import (
    STRATEGIES,
    ArrestsSpec,
    OutageSpec,
    TakedownSpec,
    embedded_scenario,
)


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
            "belonged to (the thick edges on the map). Former staff usually open a successor "
            "forum about two weeks later, often with stricter access: how much of "
            "the loss is back after two months?")),
    "Arrests: the admins of Forum A": Preset(
        ({"type": "arrests", "day": SHOCK_DAY, "strategy": "admins", "share": 1.0,
          "forum": "Forum A"},), (
            f"On day {SHOCK_DAY} the admins of Forum A are arrested. A moderator takes "
            "over and the forum carries on: the plots barely move. Compare with the next "
            "preset, where all of its staff are arrested.")),
    "Arrests: all staff of Forum A": Preset(
        ({"type": "arrests", "day": SHOCK_DAY, "strategy": "staff", "share": 1.0,
          "forum": "Forum A"},), (
            f"On day {SHOCK_DAY} every admin and moderator of Forum A is arrested. Nobody "
            "is left to run it, so it closes the same day and its members must move, much "
            "as after a seizure, but no staff remain to open a successor.")),
    "Outage: the largest forum is down for two weeks": Preset(
        ({"type": "outage", "day": SHOCK_DAY, "target": "largest", "duration_days": 14},), (
            f"On day {SHOCK_DAY} the largest forum goes down for 14 days (a DDoS). Failed "
            "visits jump while members who know other fora go there; when it comes back "
            "nearly everyone returns. Compare the loss and the recovery with the seizure.")),
}
DEFAULT_PRESET = "Takedown: the largest forum is seized"
DEFAULT_SEED = 3  # its takedown shows the whole story: a successor forum with stricter access


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
                                   seed=int(seed), fora=fora,
                                   interventions=list(PRESETS[preset].shocks))
        super().__init__(scenario)
        self.preset = preset
        # Steps run in the play thread; buttons and drawing must not see half a day.
        self.lock = threading.RLock()
        ClassroomEcosystem.live.add(self)

    def step(self) -> None:
        """One day (see `Ecosystem.step`), never while a shock is being scheduled."""
        with self.lock:
            super().step()

    def schedule(self, spec: TakedownSpec | ArrestsSpec | OutageSpec) -> int:
        """Apply `spec` at the start of the next day (phase 1, like scheduled shocks);
        returns that day."""
        with self.lock:
            day = self.day + 1
            spec = spec.model_copy(update={"day": day})
            super().schedule(spec)
            return day


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


# --- the page's parts -------------------------------------------------------------------
# Solara components are named in PascalCase, like the elements they build (hence N802).

CHART_STYLE = {"style": "height: 360px; width: 100%;"}


@solara.component
def Chart(model: ClassroomEcosystem, build: Callable[[Ecosystem], dict]) -> None:
    """One figure of `demo_figures`, rebuilt after every day."""
    update_counter.get()
    with model.lock:
        option = build(model)
    solara.FigureEcharts(option=option, attributes=CHART_STYLE, responsive=True)


@solara.component
def TieNetwork(model: ClassroomEcosystem) -> None:
    """The trust ties of the most connected people, coloured by role."""
    update_counter.get()
    layout = solara.use_ref({})
    with model.lock:
        option, layout.current = demo_figures.tie_network(model, previous=layout.current)
    solara.FigureEcharts(option=option, attributes={"style": "height: 600px; width: 100%;"},
                         responsive=True)


def _share(value: float | None, missing: str = "–") -> str:
    return missing if value is None else f"{value:.0%}"


@solara.component
def LiveFigures(model: ClassroomEcosystem) -> None:
    """What to look for in this preset, and how the ecosystem absorbs its latest shock."""
    update_counter.get()
    with model.lock:
        figures = demo_figures.shock_figures(model)
        upcoming = [describe(i) for i in model.interventions if min(i.days) > model.day]
        window = model.behaviour.rehoming_window_days
    # Plain HTML: solara.Markdown would fetch KaTeX, which the offline assets lack.
    parts = [f"<p>{escape(PRESETS[model.preset].look_for)}</p>"]
    if upcoming:
        parts.append(f"<p><i>Coming: {escape('; '.join(upcoming))}.</i></p>")
    if figures is None:
        parts.append("<p><b>No shock yet.</b> Press play, or trigger one with the buttons.</p>")
    else:
        displaced = (f"{_share(figures.rehomed_share)} of {figures.displaced:,}"
                     if figures.displaced else "– (nobody displaced)")
        successors = (f"{len(figures.successors)} ({', '.join(figures.successors)})"
                      if figures.successors else "none yet")
        rows = [("Loss so far", _share(figures.loss_so_far, "– (no day before it)")),
                ("Days since the shock", str(figures.days_since)),
                ("Displaced who found a new forum", displaced),
                ("Successor fora", successors), ("Arrested", f"{figures.arrested:,}")]
        parts.append(f"<p><b>Latest shock:</b> {escape(figures.label)} on day {figures.day}</p>"
                     "<table>" + "".join(f"<tr><td>{label}</td><td><b>{escape(value)}</b></td>"
                                         "</tr>" for label, value in rows) + "</table>")
        parts.append(
            "<p><small>Loss so far: the largest drop of the 7-day mean of active people below "
            "their mean in the 7 days before the shock. It is not measured against a run "
            "without the shock (as <code>forumsim run</code> does), so it also holds the "
            "ecosystem's own ups and downs. Found a new forum: active on another forum within "
            f"{window} days.</small></p>")
    solara.HTML(tag="div", unsafe_innerHTML="".join(parts), classes=["forumsim-figures"])


@solara.component
def ShockButtons(model: ClassroomEcosystem) -> None:
    """Seize a forum, arrest k people by a strategy, or start an outage, tomorrow."""
    update_counter.get()
    target, set_target = solara.use_state("")
    strategy, set_strategy = solara.use_state("degree")
    k, set_k = solara.use_state(5)
    note, set_note = solara.use_state("")
    with model.lock:
        alive = sorted((f for f in model.fora if not f.gone), key=lambda f: -f.members)
        names = [f.name for f in alive]
        today = model.day
    forum = target if target in names else (names[0] if names else "")

    def schedule(spec, what: str) -> None:
        day = model.schedule(spec)
        set_note(f"{what}: at the start of day {day}.")

    with solara.Column(classes=["forumsim-shocks"], style={"padding": "8px"}):
        solara.Text(f"Day {today} so far: a shock hits at the start of day {today + 1}.")
        solara.Select(label="Forum", values=names, value=forum, on_value=set_target)
        with solara.Row():
            solara.Button("Seize forum", color="error", disabled=not forum,
                          on_click=lambda: schedule(TakedownSpec(
                              type="takedown", day=1, target=forum, publicized=True),
                              f"Seizure of {forum}"))
            solara.Button("Outage (7 days)", color="warning", disabled=not forum,
                          on_click=lambda: schedule(OutageSpec(
                              type="outage", day=1, target=forum), f"Outage of {forum}"))
        solara.Select(label="Arrest strategy", values=list(STRATEGIES), value=strategy,
                      on_value=set_strategy)
        solara.SliderInt("People to arrest (k)", value=k, min=1, max=50, on_value=set_k)
        solara.Button(f"Arrest {k} people", color="error",
                      on_click=lambda: schedule(ArrestsSpec(
                          type="arrests", day=1, strategy=strategy, k=k),
                          f"Arrest of {k} people ({strategy})"))
        if note:
            # Not solara.Info: its Alert fails with ipyvuetify 3.
            solara.Text(note, style={"font-weight": "bold", "color": "#b00020"})


_DEFAULT_FORA = embedded_scenario().fora
MODEL_PARAMS = {
    "preset": {"type": "Select", "label": "Preset", "value": DEFAULT_PRESET,
               "values": list(PRESETS)},
    "people": {"type": "SliderInt", "label": "People", "value": 5000, "min": 1000,
               "max": 20000, "step": 1000},
    "seed": {"type": "SliderInt", "label": "Seed", "value": DEFAULT_SEED, "min": 0, "max": 100,
             "step": 1},
    **{f"access_{letter}": {"type": "Select", "label": f"{spec.name} access",
                            "value": spec.access, "values": demo_figures.REGIMES}
       for letter, spec in zip("abcde", _DEFAULT_FORA, strict=False)},
}


@solara.component
def Dashboard(model: ClassroomEcosystem) -> None:
    """The page's main area: the map and plots, the live figures and the shock buttons."""
    show_ties, set_show_ties = solara.use_state(False)
    solara.Text("Pick a preset and the controls on the left, press Reset to build that "
                "ecosystem, then ▶ to play it day by day.")
    with solara.Columns([1, 1]):
        Chart(model, demo_figures.forum_map)
        Chart(model, demo_figures.activity_chart)
    with solara.Columns([1, 1]):
        with solara.Card(model.preset):
            LiveFigures(model)
        with solara.Card("Shocks"):
            ShockButtons(model)
    with solara.Columns([1, 1]):
        Chart(model, demo_figures.roles_chart)
        Chart(model, demo_figures.registrations_chart)
    # A button, not a checkbox: Vuetify 3 draws a checkbox's label over its box.
    solara.Button(f"{'Hide' if show_ties else 'Show'} the ties of the most connected people",
                  outlined=True, on_click=lambda: set_show_ties(not show_ties))
    if show_ties:  # drawn only on request: the layout costs more than the other figures
        TieNetwork(model)


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
    """The teaching page; each browser tab gets its own ecosystem."""
    model = solara.use_reactive(solara.use_memo(ClassroomEcosystem, dependencies=[]))
    # Mesa's SolaraViz gives the controls; the main area is laid out here rather than in
    # its draggable grid, which stays blank with ipyvue 3 (mesa issue #3806).
    SolaraViz(model, components=[], model_params=MODEL_PARAMS, play_interval=50,
              name="forumsim: how a forum ecosystem absorbs a shock")
    if solara.util.ipyvuetify_major_version == 3:
        solara.Style(VUETIFY3_SIDEBAR_FIX)
    Dashboard(model.value)


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


def serve(host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the teaching page on http://host:port, print the address, block until Ctrl-C."""
    # Solara reads the app to serve from the environment when its server module loads.
    os.environ["SOLARA_APP"] = "forumsim.ui.app:Page"
    import uvicorn
    from solara.server import settings

    settings.main.mode = "production"
    settings.telemetry.mixpanel_enable = False  # no calls home: the page works offline
    # Solara warns on every page load over plain http to a host other than "localhost"
    # about cookies for pages embedded in iframes, which this page never is.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    sock = _listen(host, port)
    port = sock.getsockname()[1]
    warning = exposure_warning(host, port)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    from solara.server.starlette import app as solara_app

    shown = f"[{host}]" if ":" in host else host
    print(f"forumsim teaching page: http://{shown}:{port}/  (Ctrl-C to stop)", flush=True)
    # Only requests to this page's own address, and WebSockets from the page itself.
    config = uvicorn.Config(SameOrigin(solara_app, host, port), log_level="warning",
                            timeout_graceful_shutdown=2)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        # A page left playing keeps its play thread, and so this process, alive.
        for model in list(ClassroomEcosystem.live):
            model.running = False
