"""Targets: the statistics of a community that a researcher can compute where the data
are kept and share (`forumsim data summarize`), written as targets.json.

Only aggregates leave: counts, shares, quantiles and monthly totals, never a post, an
author or a thread. See docs/data.md for each statistic.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from forumsim.experiment.files import read_bytes
from forumsim.experiment.folders import check_output_file, write_output_file
from forumsim.experiment.forum_data import Community
from forumsim.measures import community as stats
from forumsim.version import __version__

KIND = "forumsim targets"


# The unit of each statistic, by the first pattern its name matches (see docs/data.md).
STATISTIC_UNITS = (
    # statistics of a simulated run, which calibrations may fit to published values
    ("run_share_", "share of registered people"),
    ("run_top1pct_post_share", "share of contributions"),
    ("_rehomed_top_destination_share", "share of the rehomed"),
    ("_rehomed_share", "share of the displaced"),
    ("posts_per_author_gini", "Gini, 0 to 1"), ("posts_per_author_", "posts per author"),
    ("posts_top1pct_author_share", "share of posts"),
    ("posters_among_members", "share of members"),
    ("monthly_retention_mean", "share of a month's authors"),
    ("monthly_", "authors per month"),
    ("single_post_thread_share", "share of threads"), ("thread_size_", "posts per thread"),
    ("reply_share", "share of posts"), ("reply_depth_", "replies back to the first post"),
    ("reply_isolated_share", "share of authors"), ("reply_degree_", "authors replied with"),
    ("reply_clustering", "coefficient, 0 to 1"), ("reply_transitivity", "share of triples"),
    ("multi_forum_author_share", "share of authors"), ("forum_size_gini", "Gini, 0 to 1"),
    ("largest_forum_share", "share of posting authors"), ("fora", "fora"),
    ("_drop", "share of weekly active authors"), ("_recovery_days", "days"),
    ("_moved_share", "share of the forum's authors"),
    ("_top_destination_share", "share of those who moved"),
)


def statistic_unit(name: str) -> str:
    """The unit of a statistic of `summarize` (a takedown's by its suffix)."""
    for pattern, unit in STATISTIC_UNITS:
        if name.startswith(pattern) or (pattern.startswith("_") and name.endswith(pattern)):
            return unit
    return ""


def summarize(community: Community) -> dict:
    """The targets of a community: counts, flat `statistics` (name to number, None where
    undefined), the `monthly` series and one record per takedown."""
    posts = community.posts
    author, authors = pd.factorize(posts["author"])
    forum, fora = pd.factorize(posts["forum"])
    thread = pd.factorize(posts["thread"])[0]
    parent = posts["parent"].to_numpy()
    times = posts["time"].dt.tz_convert("UTC").dt.tz_localize(None)
    day = (times.dt.floor("D") - times.iloc[0].floor("D")).dt.days.to_numpy()
    month = (times.dt.year * 12 + times.dt.month - 1).to_numpy()
    statistics = {**stats.participation(np.bincount(author)),
                  "posters_among_members": _posters(community, authors)}
    active, new, retention = stats.monthly_activity(author, month)
    statistics.update({
        "monthly_active_authors_mean": float(active.mean()),
        "monthly_new_authors_mean": float(new[1:].mean()) if len(new) > 1 else None,
        "monthly_retention_mean": _mean(retention)})
    statistics.update(stats.threads(thread, parent))
    statistics.update(stats.network(stats.reply_network(author, parent, len(authors))))
    statistics.update(stats.fora(author, forum))
    takedowns = _takedowns(community, fora, day, author, forum, times.iloc[0].floor("D"))
    for k, record in enumerate(takedowns, start=1):
        for key in ("drop", "recovery_days", "moved_share", "top_destination_share"):
            statistics[f"takedown_{k}_{key}"] = record[key]
    first = int(month.min())
    months = [f"{(first + i) // 12:04d}-{(first + i) % 12 + 1:02d}" for i in range(len(active))]
    monthly = [{"month": m, "active_authors": int(a), "new_authors": int(n),
                "retention": _number(r)}
               for m, a, n, r in zip(months, active, new, [*retention, None], strict=True)]
    return {"kind": KIND, "forumsim": __version__,
            "sources": [Path(s).name for s in community.sources],
            "counts": {"posts": len(posts), "authors": len(authors), "fora": len(fora),
                       "threads": int(thread.max()) + 1 if len(thread) else 0,
                       "months": len(active),
                       "members": (None if community.members is None
                                   else int(community.members["author"].nunique()))},
            "statistics": {k: _number(v) for k, v in statistics.items()},
            "monthly": monthly, "takedowns": takedowns}


def _posters(community: Community, authors: pd.Index) -> float | None:
    """Share of members (distinct authors of the members table) who posted."""
    if community.members is None:
        return None
    members = community.members["author"].unique()
    return float(np.isin(members, authors).mean()) if len(members) else None


def _takedowns(community: Community, fora: pd.Index, day: np.ndarray, author: np.ndarray,
               forum: np.ndarray, origin: pd.Timestamp) -> list[dict]:
    if community.events is None:
        return []
    events = community.events[community.events["event"].str.lower() == "takedown"]
    records = []
    for name, when in zip(events["forum"], events["time"], strict=True):
        on = int((when.tz_convert("UTC").tz_localize(None).floor("D") - origin).days)
        record = stats.takedown(day, author, forum, int(fora.get_loc(name)), on)
        destination = record.pop("top_destination")
        records.append({"forum": name, "date": when.strftime("%Y-%m-%d"),
                        **{k: _number(v) for k, v in record.items()},
                        "top_destination": None if destination is None else fora[destination]})
    return records


def _mean(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else None


def _number(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def earlier_targets(path: Path) -> bool:
    """Whether `path` (a regular file) holds targets written by `forumsim data summarize`."""
    try:
        return json.loads(read_bytes(path, 64 << 20)).get("kind") == KIND
    except (ValueError, AttributeError):
        return False


def check_targets_path(path: Path, overwrite: bool = False) -> None:
    """Refuse, before any work, a targets path that may not be written: a link, a folder,
    a pipe or device, a file forumsim did not write, or earlier targets without
    `overwrite` (StoreError)."""
    check_output_file(path, overwrite, earlier_targets, "data summarize")


def write_targets(targets: dict, path: Path, overwrite: bool = False) -> None:
    """Write targets.json whole (through a temporary file), where `check_targets_path`
    allows it."""
    written = {**targets, "written": datetime.now(UTC).isoformat(timespec="seconds")}
    write_output_file(path, json.dumps(written, indent=2) + "\n", overwrite, earlier_targets,
                      "data summarize")
