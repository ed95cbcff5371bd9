"""Figures of a run (matplotlib): activity per forum, role composition, participation."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from forumsim.experiment.runner import RunResult  # noqa: E402
from forumsim.measures.metrics import lorenz_curve, top_share  # noqa: E402
from forumsim.world.model import ROLE_NAMES  # noqa: E402


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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def activity_per_forum(result: RunResult, path: Path) -> Path:
    """Active members per forum and day (7-day mean), largest fora labelled."""
    forums = result.forums
    totals = forums.groupby("forum")["active_members"].sum().sort_values(ascending=False)
    fig, ax = plt.subplots(figsize=(9, 4.8))
    for rank, name in enumerate(totals.index):
        series = forums[forums["forum"] == name].set_index("day")["active_members"]
        smooth = series.rolling(7, min_periods=1).mean()
        if rank < 8:
            access = forums.loc[forums["forum"] == name, "access"].iloc[-1]
            ax.plot(smooth.index, smooth.values, lw=1.4, label=f"{name} ({access})")
        else:
            ax.plot(smooth.index, smooth.values, lw=0.8, color="0.7")
    ax.set(title=f"Activity per forum — scenario '{result.scenario.name}'",
           xlabel="day", ylabel="active members per day (7-day mean)")
    ax.legend(fontsize=8, ncol=2, title="forum (access at end)", title_fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def role_composition(result: RunResult, path: Path) -> Path:
    """People in the ecosystem by role (their highest status), stacked over time."""
    eco = result.ecosystem
    fig, (ax_all, ax_top) = plt.subplots(1, 2, figsize=(11, 4.5))
    labels = ["Lurkers", "Members", "VIPs", "Moderators", "Admins"]
    colours = [f"C{i}" for i in range(len(ROLE_NAMES))]
    ax_all.stackplot(eco["day"], [eco[name] for name in ROLE_NAMES], labels=labels,
                     colors=colours)
    ax_all.set(title="People in the ecosystem by role", xlabel="day", ylabel="people")
    ax_all.legend(loc="upper left", fontsize=8)
    for name, label, colour in list(zip(ROLE_NAMES, labels, colours, strict=True))[1:]:
        ax_top.plot(eco["day"], eco[name], label=label, color=colour)
    ax_top.set(title="Posting roles only (lurkers left out)", xlabel="day", ylabel="people")
    ax_top.set_yscale("log")
    ax_top.legend(fontsize=8)
    for ax in (ax_all, ax_top):
        ax.grid(alpha=0.3)
    return _save(fig, path)


def participation_lorenz(result: RunResult, path: Path) -> Path:
    """Lorenz curve of posts and shares per registered person."""
    x, y = lorenz_curve(result.contributions)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot(x, y, lw=2, label="simulated")
    ax.plot([0, 1], [0, 1], ls="--", color="0.5", label="perfect equality")
    top1 = top_share(result.contributions, 0.01)
    lurkers = result.metrics["share_lurkers"]
    ax.set(title="Participation inequality",
           xlabel="share of registered people (fewest posts first)",
           ylabel="cumulative share of posts and shares")
    ax.text(0.04, 0.85, f"top 1% produce {top1:.0%} of posts and shares\n"
                        f"lurkers: {lurkers:.1%}",
            transform=ax.transAxes, fontsize=9)
    ax.legend(loc="center left", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _shock_lines(ax: plt.Axes, records: list[dict]) -> None:
    for i, record in enumerate(records):
        ax.axvline(record["day"], color="crimson", ls=":", lw=1.2)
        ax.annotate(f"{record['type']}\n{record['target'] or ''}", (record["day"], 1.0),
                    xycoords=("data", "axes fraction"), xytext=(3, -4 - 22 * (i % 3)),
                    textcoords="offset points", va="top", fontsize=8, color="crimson")


def activity_vs_counterfactual(result: RunResult, path: Path) -> Path:
    """Active people with the interventions and without them (same seed), 7-day means."""
    records = result.metrics["interventions"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for frame, label, style in ((result.counterfactual, "without interventions", "--"),
                                (result.ecosystem, "with interventions", "-")):
        smooth = frame["active_people"].rolling(7, min_periods=1).mean()
        ax.plot(frame["day"], smooth, ls=style, lw=1.6, label=label)
    _shock_lines(ax, records)
    ax.set(title="Ecosystem activity against the counterfactual",
           xlabel="day", ylabel="active people per day (7-day mean)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def members_around_shocks(result: RunResult, path: Path) -> Path:
    """Active members per forum from 60 days before the first shock to 180 after."""
    records = result.metrics["interventions"]
    first = min(r["day"] for r in records)
    forums = result.forums
    window = forums[(forums["day"] >= first - 60) & (forums["day"] <= first + 180)]
    totals = window.groupby("forum")["active_members"].sum().sort_values(ascending=False)
    fig, ax = plt.subplots(figsize=(9, 4.8))
    for name in totals.index[:8]:
        series = window[window["forum"] == name].set_index("day")["active_members"]
        ax.plot(series.index, series.rolling(7, min_periods=1).mean(), lw=1.4, label=name)
    _shock_lines(ax, records)
    ax.set(title="Members per forum around the shocks",
           xlabel="day", ylabel="active members per day (7-day mean)")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def displaced_destinations(result: RunResult, path: Path) -> Path:
    """Where the displaced were active within the rehoming window, per intervention."""
    records = [r for r in result.metrics["interventions"] if r["displaced"]]
    fig, axes = plt.subplots(1, max(len(records), 1), figsize=(5 * max(len(records), 1), 4.2),
                             squeeze=False)
    for ax, record in zip(axes[0], records, strict=False):
        names = list(record["destinations"])[:10][::-1]
        counts = [record["destinations"][n] for n in names]
        ax.barh(names, counts, color="C2")
        stayed = record["displaced"] - sum(record["destinations"].values())
        ax.set(title=f"{record['type']} of {record['target']} (day {record['day']})",
               xlabel="displaced people active there within the window")
        ax.text(0.98, 0.02, f"displaced: {record['displaced']:,}\nnot rehomed: {stayed:,}",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=8)
    if not records:
        axes[0][0].text(0.5, 0.5, "no one was displaced", ha="center", va="center")
        axes[0][0].set_axis_off()
    fig.suptitle("Where the displaced went")
    return _save(fig, path)
