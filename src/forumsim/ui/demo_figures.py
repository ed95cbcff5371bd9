"""What the teaching page draws, as plain data: ECharts options for the forum map, the
tie network and the live plots, and the live figures of the latest shock.

Pure functions of an `Ecosystem`, so the page, the speed benchmark and the tests build
exactly the same figures. ECharts (bundled with Solara's offline assets) redraws in the
browser, which keeps a day's update to a few milliseconds of Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from forumsim.analysis.colours import forum_colour, forum_dashes
from forumsim.experiment.runner import SMOOTHING_DAYS  # the same 7-day means as the run's metrics
from forumsim.measures import metrics
from forumsim.world.agents import State
from forumsim.world.forum import Forum, Status
from forumsim.world.interventions import Event
from forumsim.world.model import ROLE_NAMES, Ecosystem

MAX_POINTS = 200  # per plotted line: the browser redraws every day, keep it light
# Colour names a forum, in every chart (by forum id, as in a run's figures, so a forum
# keeps its colour as others are founded). Access is a shape on the map; roles and the
# ecosystem as a whole are drawn in greys and black, which name no forum.
ACCESS_SYMBOLS = {"open": "circle", "restricted": "roundRect", "closed": "diamond"}
REGIMES = list(ACCESS_SYMBOLS)
ROLE_STYLES = dict(zip(ROLE_NAMES, (("#b8b8b8", "solid"), ("#8a8a8a", "dashed"),
                                    ("#5a5a5a", "solid"), ("#2b2b2b", "dotted"),
                                    ("#000000", "solid")), strict=True))
SHOCK_LINE = "#333333"
SHOCK_NAMES = {"takedown": "seizure", "arrests": "arrests", "outage": "outage",
               "infiltration": "infiltration", "bot_wave": "bot wave"}


# --- the live figures of the latest shock -------------------------------------------------


@dataclass
class ShockFigures:
    """How the ecosystem is absorbing its latest shock, as far as it has got."""

    label: str  # e.g. "seizure of Forum A"
    day: int
    days_since: int
    loss_so_far: float | None  # None: the same ecosystem without shocks had nobody active
    arrested: int
    displaced: int
    rehomed_share: float | None  # None: nobody was displaced
    successors: list[str] = field(default_factory=list)


def shock_label(eco: Ecosystem, event: Event) -> str:
    """A short description of a shock for the page."""
    name = SHOCK_NAMES.get(event.type, event.type)
    if event.type == "arrests":
        spec = eco.interventions[event.index].spec
        where = f" on {event.target}" if event.target else ""
        return f"arrest of {event.arrested} people ({spec.strategy}){where}"
    return f"{name} of {event.target}" if event.target else f"{name} (no target left)"


def shock_news(eco: Ecosystem, event: Event) -> str:
    """What a shock did, dated and in the past tense, e.g. 'Day 61: Forum A was seized;
    1,204 people lost their forum.'"""
    spec = eco.interventions[event.index].spec
    if event.type == "takedown":
        what = f"{event.target} was seized" if event.target else "no forum was left to seize"
    elif event.type == "outage":
        what = (f"{event.target} went down for {spec.duration_days} days" if event.target
                else "no forum was left to take down")
    elif event.type == "arrests":
        where = f" on {event.target}" if event.target else ""
        what = f"{event.arrested:,} people were arrested ({spec.strategy}){where}"
    else:
        what = shock_label(eco, event)
    lost = f"; {len(event.displaced):,} people lost their forum" if len(event.displaced) else ""
    return f"Day {event.day}: {what}{lost}."


def loss_so_far(actual: np.ndarray, counterfactual: np.ndarray, shock: int) -> float | None:
    """Largest relative shortfall, from day index `shock` on, of the 7-day mean of active
    people below the same ecosystem's without the shocks (the run's own loss, so far)."""
    if shock >= len(actual):
        return None
    without = trailing_mean(counterfactual[:len(actual)])
    if not without[shock:].any():
        return None
    return metrics.peak_loss(trailing_mean(actual), without, shock)


def shock_figures(eco: Ecosystem, counterfactual: Ecosystem,
                  event: Event | None = None) -> ShockFigures | None:
    """The live figures of `event` (by default the latest shock applied so far; None
    before any), measured against `counterfactual`, the same ecosystem stepped alongside
    without the shocks."""
    if not eco.events:
        return None
    event = event or eco.events[-1]
    days = np.asarray(eco.datacollector.model_vars["day"])
    active = np.asarray(eco.datacollector.model_vars["active_people"], dtype=float)
    without = np.asarray(counterfactual.datacollector.model_vars["active_people"], dtype=float)
    displaced = len(event.displaced)
    return ShockFigures(
        label=shock_label(eco, event), day=event.day, days_since=eco.day - event.day,
        loss_so_far=loss_so_far(active, without, int(np.searchsorted(days, event.day))),
        arrested=event.arrested, displaced=displaced,
        rehomed_share=len(event.rehomed) / displaced if displaced else None,
        successors=list(event.successors))


# --- the ecosystem at a glance -------------------------------------------------------------


def forum_position(forum_id: int) -> tuple[float, float]:
    """A fixed place for each forum on a sunflower spiral: the first fora sit in the middle
    and a new forum never moves the others."""
    angle = forum_id * math.pi * (3.0 - math.sqrt(5.0))
    radius = 100.0 * math.sqrt(forum_id + 0.5)
    return round(radius * math.cos(angle), 1), round(radius * math.sin(angle), 1)


def shared_members(eco: Ecosystem) -> np.ndarray:
    """Fora x fora: people in the ecosystem with a current membership of both."""
    n = len(eco.fora)
    present = np.flatnonzero(eco.people.state == State.ACTIVE)
    member = (eco.memberships.row_of[present, :n] >= 0).astype(np.int32)
    return member.T @ member


# What the map writes beside a forum that is not simply online ("closed" is an access
# regime, so a forum that ended without staff is "shut down").
STATUS_WORDS = {Status.SEIZED: "SEIZED", Status.CLOSED: "shut down", Status.DOWN: "down"}


def _forum_node(forum: Forum, size: float) -> dict:
    """One forum on the map: its colour is the forum's own (as in the charts), its shape
    its access regime (the legend's category); outline, fading and label mark a forum
    that is down, seized, shut down or infiltrated."""
    style = {"color": forum_colour(forum.id), "borderColor": "#333", "borderWidth": 1}
    mark = STATUS_WORDS.get(forum.status, "")
    if forum.status in (Status.SEIZED, Status.CLOSED):
        style.update(opacity=0.45, borderColor="#000", borderWidth=4, borderType="solid"
                     if forum.status == Status.SEIZED else "dashed")
    elif forum.status == Status.DOWN:
        style.update(opacity=0.35, borderType="dashed", borderWidth=3)
    if forum.infiltrated:
        style.update(borderColor="#000", borderWidth=5, borderType="dotted")
        mark = "infiltrated"
    x, y = forum_position(forum.id)
    label = {"show": True, "formatter": f"{forum.name}: {mark}" if mark else forum.name}
    if mark:  # a seized, shut or down forum has nobody active: keep it big enough to see
        size = max(size, 28.0)
        label.update(fontWeight="bold", color="#111", opacity=1)
    status = STATUS_WORDS.get(forum.status, str(forum.status)).lower()
    return {"name": forum.name, "x": x, "y": y, "symbolSize": round(size, 1),
            "category": REGIMES.index(forum.access.name), "itemStyle": style, "label": label,
            "value": len(forum.visitors),
            "tooltip": {"formatter": f"{forum.name}: {forum.access.name} access, {status}"
                                     f"<br>{len(forum.visitors)} active today, "
                                     f"{forum.members} members, {len(forum.staff)} staff"}}


def forum_map(eco: Ecosystem) -> dict:
    """Fora as nodes sized by today's active members, in each forum's colour and shaped by
    its access regime; edges weighted by shared members."""
    active = eco.datacollector.tables["forums"]["active_members"]
    largest = max(max(active, default=1), 1)  # largest ever, so sizes do not jump
    nodes = [_forum_node(f, 12.0 + 68.0 * math.sqrt(len(f.visitors) / largest))
             for f in eco.fora]
    shared = shared_members(eco)
    alive = [f.id for f in eco.fora if not f.gone]
    pairs = [(a, b, int(shared[a, b])) for i, a in enumerate(alive) for b in alive[i + 1:]
             if shared[a, b] > 0]
    most = max((n for _, _, n in pairs), default=1)
    links = [{"source": eco.fora[a].name, "target": eco.fora[b].name, "value": n,
              "lineStyle": {"width": round(1.0 + 11.0 * n / most, 1)},
              "tooltip": {"formatter": f"{eco.fora[a].name} – {eco.fora[b].name}: "
                                       f"{n} shared members"}}
             for a, b, n in pairs]
    return {
        "animation": False,
        "title": {"text": f"Fora on day {eco.day}",
                  "subtext": "colour: the forum, as in the charts · shape: access\n"
                             "size: active today · lines: shared members",
                  "textStyle": {"fontSize": 14}, "subtextStyle": {"lineHeight": 16}},
        "tooltip": {},
        # Top right, away from the labels under the nodes at the bottom of the map.
        "legend": {"top": 0, "right": 0, "orient": "vertical", "selectedMode": False,
                   "data": [{"name": regime, "icon": symbol}
                            for regime, symbol in ACCESS_SYMBOLS.items()],
                   "formatter": "{name} access"},
        "series": [{"type": "graph", "layout": "none", "roam": False, "top": 85,
                    "bottom": 40, "left": 70, "right": 70, "data": nodes, "links": links,
                    "categories": [{"name": regime, "symbol": symbol,
                                    "itemStyle": {"color": "#9e9e9e"}}
                                   for regime, symbol in ACCESS_SYMBOLS.items()],
                    "lineStyle": {"color": "#888", "opacity": 0.5, "curveness": 0.1},
                    "label": {"position": "bottom"}}],
    }


def tie_network(eco: Ecosystem, top: int = 60,
                previous: dict[int, tuple[float, float]] | None = None) -> tuple[dict, dict]:
    """The ties among the `top` most connected people in the ecosystem, shaded by role
    (greys: colour names fora); returns the ECharts option and the layout (pass it back
    so the drawing stays calm)."""
    degree = eco.ties.degree()
    degree[eco.people.state != State.ACTIVE] = 0
    people = np.flatnonzero(degree)
    people = people[np.argsort(-degree[people], kind="stable")[:top]]
    inside = np.zeros(eco.people.n, dtype=bool)
    inside[people] = True
    u, v = eco.ties.edges.u, eco.ties.edges.v
    keep = inside[u] & inside[v]
    strength = eco.ties.strength(eco.day)[keep]
    graph = nx.Graph()
    graph.add_nodes_from(people.tolist())
    graph.add_edges_from(zip(u[keep].tolist(), v[keep].tolist(), strict=True))
    fixed = {p: previous[p] for p in graph if previous and p in previous}
    layout = nx.spring_layout(graph, pos=fixed or None, iterations=15 if fixed else 50,
                              seed=int(eco.config.seed)) if len(graph) else {}
    layout = {int(p): (float(x), float(y)) for p, (x, y) in layout.items()}
    roles = eco.people.role
    nodes = [{"name": str(p), "x": round(layout[p][0] * 300, 1),
              "y": round(layout[p][1] * 300, 1),
              "symbolSize": round(6 + 3 * math.sqrt(degree[p]), 1),
              "category": int(roles[p]),
              "tooltip": {"formatter": f"person {p}: {ROLE_NAMES[roles[p]][:-1]}, "
                                       f"{degree[p]} ties"}}
             for p in people.tolist()]
    strongest = float(strength.max()) if len(strength) else 1.0
    links = [{"source": str(a), "target": str(b),
              "lineStyle": {"width": round(0.5 + 3.5 * s / strongest, 2)}}
             for a, b, s in zip(u[keep].tolist(), v[keep].tolist(), strength.tolist(),
                                strict=True)]
    option = {
        "animation": False,
        "title": {"text": f"Ties of the {len(nodes)} most connected people, day {eco.day}",
                  "subtext": "shade: role (darker: higher) · size: number of ties · "
                             "edge: tie strength",
                  "textStyle": {"fontSize": 14}},
        "tooltip": {},
        "legend": {"bottom": 0, "data": list(ROLE_NAMES), "selectedMode": False},
        "series": [{"type": "graph", "layout": "none", "top": 70, "bottom": 40,
                    "data": nodes, "links": links,
                    "categories": [{"name": role, "itemStyle": {
                        "color": colour, "borderColor": "#000", "borderWidth": 0.5}}
                        for role, (colour, _) in ROLE_STYLES.items()],
                    "lineStyle": {"color": "#bbb", "opacity": 0.6}}],
    }
    return option, layout


# --- live plots ------------------------------------------------------------------------------


def trailing_mean(values: np.ndarray, days: int = SMOOTHING_DAYS) -> np.ndarray:
    """Mean of each day and the `days - 1` days before it (fewer at the start)."""
    values = np.asarray(values, dtype=float)
    total = np.cumsum(np.concatenate(([0.0], values)))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - days, 0)
    return (total[ends] - total[starts]) / (ends - starts)


def _points(days: np.ndarray, values: np.ndarray, digits: int = 1) -> list:
    """[day, value] pairs, thinned to at most MAX_POINTS by keeping the lowest and the
    highest day of each stretch (so a one-day peak survives) and the last day; missing
    values are None. Vectorised: this runs for every line every day."""
    values = np.asarray(values, dtype=float)
    keep = _extremes(values, (MAX_POINTS - 1) // 2)
    shown = np.round(values[keep], digits)
    missing = np.isnan(shown)
    numbers = (shown.astype(np.int64) if digits == 0 and not missing.any() else shown).tolist()
    if missing.any():
        numbers = [None if gap else v for v, gap in zip(numbers, missing.tolist(), strict=True)]
    return [list(pair) for pair in zip(np.asarray(days)[keep].tolist(), numbers, strict=True)]


def _extremes(values: np.ndarray, stretches: int) -> np.ndarray:
    """Indices of the lowest and highest value of each of `stretches` equal stretches of
    `values`, and of the last value, in order (every index if there are few)."""
    n = len(values)
    if n <= 2 * stretches + 1:
        return np.arange(n)
    size = math.ceil(n / stretches)
    grid = np.full(size * math.ceil(n / size), np.nan)
    grid[:n] = values
    grid = grid.reshape(-1, size)
    starts = np.arange(len(grid)) * size
    missing = np.isnan(grid)
    low = np.argmin(np.where(missing, np.inf, grid), axis=1)
    high = np.argmax(np.where(missing, -np.inf, grid), axis=1)
    keep = np.unique(np.concatenate([starts + low, starts + high, [n - 1]]))
    return keep[keep < n]


def shock_markers(eco: Ecosystem) -> dict:
    """Dashed vertical lines at the days of the shocks so far (an ECharts markLine)."""
    lines = [{"xAxis": e.day, "label": {"formatter": SHOCK_NAMES.get(e.type, e.type)}}
             for e in eco.events]
    return {"symbol": "none", "silent": True, "data": lines,
            "lineStyle": {"type": "dashed", "color": SHOCK_LINE, "width": 1.5},
            "label": {"position": "insideEndTop", "color": SHOCK_LINE}}


def _line_chart(eco: Ecosystem, title: str, series: list[dict], y_name: str,
                log: bool = False, legend_rows: int = 1) -> dict:
    if series:
        series[0]["markLine"] = shock_markers(eco)
    return {
        "animation": False,
        "title": {"text": title, "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"},
        # Every line in the legend, wrapped over as many rows as it needs (never paged).
        "legend": {"bottom": 0, "itemGap": 8, "itemWidth": 18, "textStyle": {"fontSize": 11}},
        "grid": {"left": 55, "right": 20, "top": 45, "bottom": 38 + LEGEND_ROW * legend_rows},
        "xAxis": {"type": "value", "name": "day", "nameLocation": "middle", "nameGap": 22,
                  "min": "dataMin", "max": "dataMax"},
        "yAxis": {"type": "log" if log else "value", "name": y_name,
                  **({"min": 1, "logBase": 10} if log else {})},
        "series": series,
    }


LEGEND_ROW = 20  # pixels per row of legend entries
LEGEND_PER_ROW = 5  # forum names per legend row at half the page's width


def legend_rows(n: int) -> int:
    """Rows the legend of a chart with `n` forum lines takes."""
    return max(1, math.ceil(n / LEGEND_PER_ROW))


def activity_chart(eco: Ecosystem) -> dict:
    """Active people per forum per day (7-day means), every forum in the legend, with
    markers at shocks."""
    table = eco.datacollector.tables["forums"]
    days = np.asarray(table["day"], dtype=np.int64)
    index = {f.name: f.id for f in eco.fora}
    forum = np.fromiter((index[name] for name in table["forum"]), dtype=np.int64,
                        count=len(days))
    first = int(days.min()) if len(days) else 0
    grid = np.full((int(days.max()) - first + 1 if len(days) else 0, len(eco.fora)), np.nan)
    grid[days - first, forum] = table["active_members"]
    all_days = np.arange(first, first + len(grid))
    series = []  # every forum, even before its first day: the legend shows its colour
    for f in eco.fora:
        column = grid[:, f.id]
        alive = ~np.isnan(column)  # a forum founded later has no rows before it
        smooth = np.full(len(column), np.nan)
        smooth[alive] = trailing_mean(column[alive])
        start = int(np.argmax(alive)) if alive.any() else len(column)
        series.append({"type": "line", "name": f.name, "showSymbol": False,
                       "data": _points(all_days[start:], smooth[start:]),
                       "itemStyle": {"color": forum_colour(f.id)},
                       "lineStyle": {"width": 1.5, "type": forum_dashes(f.id)}})
    return _line_chart(eco, "Active people per forum (7-day mean)", series, "people",
                       legend_rows=legend_rows(len(series)))


def counterfactual_chart(eco: Ecosystem, counterfactual: Ecosystem) -> dict:
    """Active people per day with the shocks and in the same ecosystem without them
    (stepped alongside with the same random numbers): daily values and 7-day means."""
    days = np.asarray(eco.datacollector.model_vars["day"])
    series = []
    for label, model, colour in (("with the shocks", eco, "#000000"),
                                 ("without the shocks", counterfactual, "#8a8a8a")):
        daily = np.asarray(model.datacollector.model_vars["active_people"],
                           dtype=float)[:len(days)]
        series += [{"type": "line", "name": label, "showSymbol": False,
                    "data": _points(days, trailing_mean(daily)), "itemStyle": {"color": colour},
                    "lineStyle": {"width": 2, **({"type": "dashed"} if model is not eco
                                                 else {})}},
                   {"type": "line", "name": f"{label}, daily", "showSymbol": False,
                    "data": _points(days, daily, 0), "itemStyle": {"color": colour},
                    "lineStyle": {"width": 0.8, "opacity": 0.35}}]
    return _line_chart(eco, "Active people: with and without the shocks (7-day mean, daily "
                       "faint)", series, "people", legend_rows=2)


def roles_chart(eco: Ecosystem) -> dict:
    """People in the ecosystem by role (log scale: lurkers far outnumber the rest)."""
    data = eco.datacollector.model_vars
    days = np.asarray(data["day"])
    series = []
    for role, (colour, dashes) in ROLE_STYLES.items():
        counts = np.asarray(data[role], dtype=float)
        counts[counts <= 0] = np.nan  # a log axis has no zero
        series.append({"type": "line", "name": role, "showSymbol": False,
                       "data": _points(days, counts, 0), "itemStyle": {"color": colour},
                       "lineStyle": {"width": 2, "type": dashes}})
    return _line_chart(eco, "People by role (log scale)", series, "people", log=True)


def registrations_chart(eco: Ecosystem) -> dict:
    """New registrations and failed visits (to fora that are down) per day."""
    data = eco.datacollector.model_vars
    days = np.asarray(data["day"])
    series = [{"type": "line", "name": name.replace("_", " "), "showSymbol": False,
               "data": _points(days, np.asarray(data[name], dtype=float), 0),
               "itemStyle": {"color": colour}, "lineStyle": {"width": 1.5, "type": dashes}}
              for name, colour, dashes in (("registrations", "#000000", "solid"),
                                           ("failed_visits", "#8a8a8a", "dashed"))]
    return _line_chart(eco, "Registrations and failed visits per day", series, "per day")
