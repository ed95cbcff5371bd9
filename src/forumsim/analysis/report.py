"""Figures of a run (matplotlib): activity per forum, role composition, participation, and
with shocks the run against its counterfactual, the fora around the shocks and where the
displaced went.

Every forum with data appears in every figure that shows fora, in the same colour in all
of them (`forum_colours`), labelled with its status at the end. Daily values are drawn
faintly with a 7-day mean over them; the mean starts afresh at every shock and at every
change of a forum's status, so a seizure shows as the step it is rather than a week-long
slide. Outages, closures, seizures and foundings are marked where they happen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False  # names from users' tables drawn as written
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from forumsim.analysis import colours  # noqa: E402
from forumsim.analysis.colours import forum_colour  # noqa: E402
from forumsim.experiment.runner import SMOOTHING_DAYS, RunResult  # noqa: E402
from forumsim.measures.metrics import top_share  # noqa: E402
from forumsim.world.model import ROLE_NAMES  # noqa: E402

SHOCK_NAMES = {"takedown": "seizure", "arrests": "arrests", "outage": "outage",
               "infiltration": "infiltration", "bot_wave": "bot wave"}
MARKS = {"seized": ("X", "seized"), "closed": ("s", "closed (no staff left)"),
         "founded": ("^", "founded during the run")}


def run_figures(result: RunResult, folder: Path) -> list[Path]:
    """Write the standard figures of one run into `folder`; returns their paths."""
    folder = Path(folder)
    paths = [activity_per_forum(result, folder / "activity_per_forum.png"),
             role_composition(result, folder / "role_composition.png"),
             participation_lorenz(result, folder / "participation_lorenz.png")]
    if result.counterfactual is not None:
        paths += [activity_vs_counterfactual(result, folder / "activity_vs_counterfactual.png"),
                  members_around_shocks(result, folder / "members_around_shocks.png"),
                  displaced_destinations(result, folder / "displaced_destinations.png")]
    return paths


def _save(fig: plt.Figure, path: Path) -> Path:
    """Save `fig` as `path` whole (through a temporary file: never half a figure)."""
    staging = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(staging, format=path.suffix.lstrip("."), dpi=110, bbox_inches="tight")
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
        plt.close(fig)
    return path


# --- what happened to each forum -----------------------------------------------------------


def _forum_order(forums: pd.DataFrame) -> list[str]:
    return list(forums.sort_values("day", kind="stable")["forum"].drop_duplicates())


def forum_colours(forums: pd.DataFrame) -> dict[str, str]:
    """One colour per forum, in order of first appearance: the same in every figure (and
    on the teaching page)."""
    return {name: forum_colour(i) for i, name in enumerate(_forum_order(forums))}


def forum_dashes(forums: pd.DataFrame) -> dict[str, str]:
    """Each forum's line style: solid for the first sixteen, then dashed, then dotted, so
    that no two fora look alike."""
    return {name: colours.forum_dashes(i) for i, name in enumerate(_forum_order(forums))}


@dataclass(frozen=True)
class ForumHistory:
    """One forum's days, daily active members and what happened to it."""

    name: str
    days: np.ndarray
    active: np.ndarray
    status: np.ndarray
    access_at_end: str
    status_at_end: str
    ended: int | None  # day it was seized or closed
    founded: int | None  # first day, for a forum founded during the run
    outages: list[tuple[int, int]]  # (first day down, last day down)

    def label(self) -> str:
        """The legend entry: name, access and status at the end."""
        state = self.status_at_end if self.ended is None else \
            f"{self.status_at_end} on day {self.ended}"
        return f"{self.name} ({self.access_at_end}, {state})"

    def alive(self) -> np.ndarray:
        """Which of its days it existed: up to the day it was seized or closed (its rows
        go on to the end of the run, with nobody active)."""
        return self.days <= (self.ended if self.ended is not None else self.days[-1])

    def breaks(self) -> list[int]:
        """Days its activity may jump: status changes (outages, the end)."""
        return [d for start, end in self.outages for d in (start, end + 1)] + (
            [self.ended] if self.ended is not None else [])


def forum_histories(forums: pd.DataFrame) -> list[ForumHistory]:
    """Every forum of the run, in order of first appearance."""
    first_day = int(forums["day"].min())
    histories = []
    for name in _forum_order(forums):
        rows = forums[forums["forum"] == name].sort_values("day")
        days, status = rows["day"].to_numpy(), rows["status"].to_numpy()
        down = status == "down"
        starts = np.flatnonzero(down & ~np.r_[False, down[:-1]])
        ends = np.flatnonzero(down & ~np.r_[down[1:], False])
        gone = np.flatnonzero(np.isin(status, ("seized", "closed")))
        histories.append(ForumHistory(
            name=name, days=days, active=rows["active_members"].to_numpy(dtype=float),
            status=status, access_at_end=str(rows["access"].iloc[-1]),
            status_at_end=str(status[-1]), ended=int(days[gone[0]]) if len(gone) else None,
            founded=int(days[0]) if days[0] > first_day else None,
            outages=[(int(days[a]), int(days[b])) for a, b in zip(starts, ends, strict=True)]))
    return histories


def smoothed_between(days: np.ndarray, values: np.ndarray, breaks: list[int],
                     window: int = SMOOTHING_DAYS) -> np.ndarray:
    """Trailing `window`-day mean that starts afresh on each day in `breaks`, so a jump
    on such a day stays a jump."""
    values = np.asarray(values, dtype=float)
    out = np.empty(len(values))
    edges = sorted({0, len(values), *np.searchsorted(days, breaks).tolist()})
    for start, end in zip(edges[:-1], edges[1:], strict=True):
        part = pd.Series(values[start:end])
        out[start:end] = part.rolling(window, min_periods=1).mean().to_numpy()
    return out


def _shock_days(result: RunResult) -> list[int]:
    return sorted({r["day"] for r in result.metrics.get("interventions", [])})


def _draw_forum(ax: plt.Axes, history: ForumHistory, colour: str, dashes: str,
                shocks: list[int], days: slice | None = None) -> None:
    """Daily values faint, the 7-day mean over them, and the forum's marks."""
    keep = history.alive() if days is None else (
        history.alive() & (history.days >= days.start) & (history.days <= days.stop))
    if not keep.any():
        return
    x, daily = history.days[keep], history.active[keep]
    smooth = smoothed_between(x, daily, [*shocks, *history.breaks()])
    ax.plot(x, daily, lw=0.6, alpha=0.3, color=colour)
    ax.plot(x, smooth, lw=1.5, color=colour, ls=dashes, label=history.label())
    at = dict(zip(x.tolist(), smooth.tolist(), strict=True))
    if history.ended is not None and history.ended in at:
        kind = "seized" if history.status_at_end == "seized" else "closed"
        before = at.get(history.ended - 1, at[history.ended])
        ax.plot(history.ended, before, MARKS[kind][0], ms=9, color=colour, mec="black",
                mew=0.8, zorder=5)
    if history.founded is not None and history.founded in at:
        ax.plot(history.founded, at[history.founded], MARKS["founded"][0], ms=8,
                color=colour, mec="black", mew=0.8, zorder=5)
    for start, end in history.outages:  # a strip along the bottom while it is down
        if days is None or (end >= days.start and start <= days.stop):
            ax.axvspan(start - 0.5, end + 0.5, ymin=0, ymax=0.035, color=colour, lw=0)


def _mark_legend(ax: plt.Axes, outages: bool) -> None:
    """What the marks and lines mean, under the plot: inside it would cover the data or
    the labels of the shocks."""
    handles = [Line2D([], [], marker=marker, ls="", color="0.6", mec="black", label=label)
               for marker, label in MARKS.values()]
    if outages:
        handles.append(Patch(color="0.6", label="strip at the bottom: forum down (outage)"))
    handles.append(Line2D([], [], color="0.4", lw=0.6, alpha=0.5, label="daily value"))
    handles.append(Line2D([], [], color="0.4", lw=1.5, label=f"{SMOOTHING_DAYS}-day mean "
                          "(restarted at shocks and status changes)"))
    # The figure's legend: the axes' own is the forums', and an artist added to the
    # axes would be clipped to them.
    ax.figure.legend(handles=handles, fontsize=7, loc="upper center", ncol=3,
                     bbox_to_anchor=(0.5, 0.0), frameon=False)


def _forum_legend(ax: plt.Axes, n: int) -> None:
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
              ncol=1 if n <= 22 else 2, title="forum (access, status at the end)",
              title_fontsize=7)


def _shock_lines(ax: plt.Axes, result: RunResult) -> None:
    """Dotted lines at the shocks and at successor foundings, labelled at the top."""
    marks = [(r["day"], f"{SHOCK_NAMES.get(r['type'], r['type'])}\n{r['target'] or ''}",
              "crimson") for r in result.metrics.get("interventions", [])]
    firsts = result.forums.groupby("forum")["day"].min()
    marks += [(int(firsts[name]), f"successor\n{name} opens", "seagreen")
              for event in result.events for name in event.successors if name in firsts]
    for i, (day, text, colour) in enumerate(sorted(marks)):
        ax.axvline(day, color=colour, ls=":", lw=1.2)
        ax.annotate(text, (day, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(3, -4 - 22 * (i % 3)), textcoords="offset points", va="top",
                    fontsize=7, color=colour,
                    bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1})


# --- the figures ---------------------------------------------------------------------------


def activity_per_forum(result: RunResult, path: Path) -> Path:
    """Active members of every forum per day, daily and 7-day mean, with seizures,
    closures, foundings and outages marked."""
    histories = forum_histories(result.forums)
    colours, dashes = forum_colours(result.forums), forum_dashes(result.forums)
    shocks = _shock_days(result)
    fig, ax = plt.subplots(figsize=(11, 5.2))
    for history in histories:
        _draw_forum(ax, history, colours[history.name], dashes[history.name], shocks)
    _shock_lines(ax, result)
    ax.set(title=f"Activity of each of the {len(histories)} fora — {_one_run(result)}",
           xlabel="day", ylabel="active members per day")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    _mark_legend(ax, any(h.outages for h in histories))
    _forum_legend(ax, len(histories))
    return _save(fig, path)


def _one_run(result: RunResult) -> str:
    """What a figure of one run says it shows: one run, its scenario and seed."""
    return f"one run of '{result.scenario.name}' (seed {result.scenario.seed})"


def role_composition(result: RunResult, path: Path) -> Path:
    """People in the ecosystem by role (their highest status), stacked over time, with
    the few staff on an axis of their own; and every posting role on a log scale."""
    eco = result.ecosystem
    fig, (ax_all, ax_top) = plt.subplots(1, 2, figsize=(11, 4.5))
    labels = ["Lurkers", "Members", "VIPs", "Moderators", "Admins"]
    colours = [f"C{i}" for i in range(len(ROLE_NAMES))]
    ax_all.stackplot(eco["day"], [eco[name] for name in ROLE_NAMES[:3]], labels=labels[:3],
                     colors=colours[:3])
    # Staff are a handful among thousands: a band of their own would be a hairline.
    ax_staff = ax_all.twinx()
    for name, label, colour in list(zip(ROLE_NAMES, labels, colours, strict=True))[3:]:
        ax_staff.plot(eco["day"], eco[name], color=colour, lw=2,
                      label=f"{label} (right axis)")
    ax_staff.set_ylim(bottom=0, top=max(float(eco[list(ROLE_NAMES[3:])].to_numpy().max()),
                                        1.0) * 2.5)
    ax_staff.set_ylabel("moderators and admins (lines)")
    ax_all.set(title="People in the ecosystem by role", xlabel="day",
               ylabel="lurkers, members and VIPs (stacked)")
    handles = ax_all.get_legend_handles_labels()[0] + ax_staff.get_legend_handles_labels()[0]
    ax_staff.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.9)
    for name, label, colour in list(zip(ROLE_NAMES, labels, colours, strict=True))[1:]:
        ax_top.plot(eco["day"], eco[name], label=label, color=colour)
    ax_top.set(title="Posting roles only (lurkers left out)", xlabel="day", ylabel="people")
    ax_top.set_yscale("log")
    # Plain numbers: with mathtext off (names drawn as written), 10^2 would show as TeX.
    ax_top.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda y, _: f"{y:,g}"))
    ax_top.legend(fontsize=8)
    for ax in (ax_all, ax_top):
        ax.grid(alpha=0.3)
        _shock_lines(ax, result)
    fig.tight_layout()
    return _save(fig, path)


TOP_SHARES = (0.001, 0.01, 0.1)  # the most active 0.1%, 1% and 10% of registered people


def participation_lorenz(result: RunResult, path: Path) -> Path:
    """Participation inequality read from the top: the share of all posts and shares made
    by the most active people, on a log scale of people (a Lorenz curve of so unequal a
    distribution is flat, then vertical), and the top 0.1%, 1% and 10%'s shares."""
    contributions = np.sort(np.asarray(result.contributions, dtype=float))[::-1]
    total = contributions.sum()
    fig, (ax_curve, ax_bars) = plt.subplots(1, 2, figsize=(11, 4.5),
                                            gridspec_kw={"width_ratios": [3, 2]})
    if total > 0:
        people = np.arange(1, len(contributions) + 1) / len(contributions)
        ax_curve.plot(people, np.cumsum(contributions) / total, lw=2,
                      label="simulated (most active first)")
        ax_curve.plot(people, people, ls="--", color="0.5", label="everyone contributing alike")
    ax_curve.set_xscale("log")
    ax_curve.set(xlim=(min(1 / max(len(contributions), 1), 1e-3), 1), ylim=(0, 1.02),
                 title="Share of posts and shares made by the most active people",
                 xlabel="most active share of registered people (log scale)",
                 ylabel="their share of all posts and shares")
    ax_curve.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
        lambda x, _: f"{100 * x:g}%"))
    ax_curve.legend(loc="upper left", fontsize=8)
    ax_curve.grid(alpha=0.3, which="both")
    shares = [top_share(result.contributions, k) for k in TOP_SHARES]
    silent = float((contributions == 0).mean()) if len(contributions) else 0.0
    labels = [f"top {k:.1%}".replace(".0%", "%") for k in TOP_SHARES]
    bars = ax_bars.bar([*labels, "posted or\nshared nothing"], [*shares, silent],
                       color=["C0"] * len(shares) + ["0.7"])
    ax_bars.bar_label(bars, labels=[f"{v:.0%}" for v in [*shares, silent]], fontsize=8)
    ax_bars.set(ylim=(0, 1.1), title="Top shares, and the silent",
                xlabel="group of registered people",
                ylabel="share of posts and shares (people, for the silent)")
    ax_bars.grid(alpha=0.3, axis="y")
    fig.suptitle(f"Participation inequality — {_one_run(result)}", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def activity_vs_counterfactual(result: RunResult, path: Path) -> Path:
    """Active people with the interventions and without them (same seed): daily values
    and 7-day means restarted at each shock."""
    shocks = _shock_days(result)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for frame, label, style, colour in (
            (result.counterfactual, "without the interventions", "--", "0.35"),
            (result.ecosystem, "with the interventions", "-", "C3")):
        days = frame["day"].to_numpy()
        daily = frame["active_people"].to_numpy(dtype=float)
        ax.plot(days, daily, lw=0.6, alpha=0.3, color=colour)
        ax.plot(days, smoothed_between(days, daily, shocks), ls=style, lw=1.6, color=colour,
                label=f"{label} ({SMOOTHING_DAYS}-day mean; daily values faint)")
    _shock_lines(ax, result)
    ax.set(title=f"Ecosystem activity against the counterfactual — {_one_run(result)}\n"
                 "(the counterfactual: the same scenario and seed without the interventions)",
           xlabel="day", ylabel="active people per day")
    ax.title.set_fontsize(10)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return _save(fig, path)


BEFORE_DAYS, AFTER_DAYS = 60, 180


def members_around_shocks(result: RunResult, path: Path) -> Path:
    """Active members of every forum that existed from 60 days before the first shock to
    180 days after, with seizures, closures, foundings and outages marked."""
    first = min(_shock_days(result))
    span = slice(first - BEFORE_DAYS, first + AFTER_DAYS)
    colours, dashes = forum_colours(result.forums), forum_dashes(result.forums)
    shocks = _shock_days(result)
    histories = [h for h in forum_histories(result.forums)
                 if (h.alive() & (h.days >= span.start) & (h.days <= span.stop)).any()]
    fig, ax = plt.subplots(figsize=(11, 5.2))
    for history in histories:
        _draw_forum(ax, history, colours[history.name], dashes[history.name], shocks, span)
    _shock_lines(ax, result)
    ax.set_xlim(max(span.start, int(result.forums["day"].min())),
                min(span.stop, int(result.forums["day"].max())))
    ax.set(title=f"Active members of each forum from {BEFORE_DAYS} days before the first "
                 f"shock to {AFTER_DAYS} days after — {_one_run(result)}", xlabel="day",
           ylabel="active members per day")
    ax.title.set_fontsize(10)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    _mark_legend(ax, any(h.outages for h in histories))
    _forum_legend(ax, len(histories))
    return _save(fig, path)


def displaced_destinations(result: RunResult, path: Path) -> Path:
    """For each intervention that displaced people: how many were active on each other
    forum within the rehoming window (successors marked), and how many on none."""
    window = result.scenario.behaviour.rehoming_window_days
    records = [r for r in result.metrics["interventions"] if r["displaced"]]
    successors = {name for event in result.events for name in event.successors}
    colours = forum_colours(result.forums)
    panels = max(len(records), 1)
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.6), squeeze=False)
    for ax, record in zip(axes[0], records, strict=False):
        names = list(record["destinations"])[:12]
        counts = [record["destinations"][n] for n in names]
        stayed = record["displaced"] - sum(record["destinations"].values())
        labels = [f"{n} (successor)" if n in successors else n for n in names]
        bars = ax.barh([*labels, "active on no other forum"][::-1], [*counts, stayed][::-1],
                       color=[*(colours.get(n, "C2") for n in names), "0.75"][::-1])
        for bar, name in zip(bars[::-1], names, strict=False):
            if name in successors:
                bar.set_hatch("//")
                bar.set_edgecolor("black")
        ax.bar_label(bars, labels=[f"{v:,}" for v in [*counts, stayed][::-1]], fontsize=7,
                     padding=2)
        shock = SHOCK_NAMES.get(record["type"], record["type"])
        ax.set(title=f"{shock} of {record['target']} on day {record['day']}: "
                     f"{record['displaced']:,} displaced",
               xlabel=f"displaced people active there within {window} days of the shock")
        ax.title.set_fontsize(10)
        ax.margins(x=0.12)
    if not records:
        axes[0][0].text(0.5, 0.5, "no one was displaced", ha="center", va="center")
        axes[0][0].set_axis_off()
    fig.tight_layout()
    return _save(fig, path)
