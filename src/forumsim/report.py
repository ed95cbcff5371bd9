"""Figures of a run (matplotlib): activity per forum, role composition, participation."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from forumsim.metrics import lorenz_curve, top_share  # noqa: E402
from forumsim.model import ROLE_NAMES  # noqa: E402
from forumsim.runner import RunResult  # noqa: E402


def run_figures(result: RunResult, folder: Path) -> list[Path]:
    """Write the standard figures of one run into `folder`; returns their paths."""
    folder = Path(folder)
    paths = [activity_per_forum(result, folder / "activity_per_forum.png"),
             role_composition(result, folder / "role_composition.png"),
             participation_lorenz(result, folder / "participation_lorenz.png")]
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
    ax.text(0.04, 0.85, f"top 1% produce {top1:.0%} of posts\nlurkers: {lurkers:.1%}",
            transform=ax.transAxes, fontsize=9)
    ax.legend(loc="center left", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)
