"""Statistics of a forum community from its posts: participation, activity over time,
threads, the reply network, fora, and what followed each takedown.

Pure functions on integer codes: authors, fora and threads numbered from 0, each post's
day (whole days from any origin), and `parent`, the index of the post a post replies to
(-1 for none), with posts in time order so that a parent comes before its replies.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from forumsim.measures.metrics import gini, top_share

QUANTILES = (0.5, 0.9, 0.99)


def spread(values: np.ndarray, name: str) -> dict[str, float]:
    """Mean, median, 90% and 99% quantiles and maximum of `values`, keyed `name_...`."""
    values = np.asarray(values, dtype=float)
    if not len(values):
        return dict.fromkeys([f"{name}_{k}" for k in ("mean", "median", "q90", "q99", "max")])
    q50, q90, q99 = np.quantile(values, QUANTILES)
    return {f"{name}_mean": float(values.mean()), f"{name}_median": float(q50),
            f"{name}_q90": float(q90), f"{name}_q99": float(q99),
            f"{name}_max": float(values.max())}


def participation(posts_per_author: np.ndarray) -> dict[str, float]:
    """How unequal posting is among authors: spread, Gini and the top 1%'s share of posts."""
    counts = np.asarray(posts_per_author)
    return {**spread(counts, "posts_per_author"),
            "posts_per_author_gini": gini(counts) if len(counts) else None,
            "posts_top1pct_author_share": top_share(counts, 0.01) if len(counts) else None}


def monthly_activity(author: np.ndarray, month: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each month from the first to the last: authors who posted, authors who posted
    for the first time, and the share of the month's authors who post again the next
    month (one value fewer, NaN after a month without authors)."""
    month = month - month.min()
    n = int(month.max()) + 1
    pairs = np.unique(np.asarray(author, dtype=np.int64) * n + month)
    who, when = pairs // n, pairs % n
    active = np.bincount(when, minlength=n)
    first = np.r_[True, who[1:] != who[:-1]]  # pairs sorted by author, then month
    new = np.bincount(when[first], minlength=n)
    following = np.r_[(who[1:] == who[:-1]) & (when[1:] == when[:-1] + 1), False]
    stayed = np.bincount(when[following], minlength=n)[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        retention = np.where(active[:-1] > 0, stayed / np.maximum(active[:-1], 1), np.nan)
    return active, new, retention


def reply_depth(parent: np.ndarray) -> np.ndarray:
    """Each post's depth in its reply chain: 0 for a post that replies to none, 1 for a
    reply to it, and so on (by pointer jumping: a few numpy passes, not a loop per post)."""
    parent = np.asarray(parent, dtype=np.int64)
    depth = (parent >= 0).astype(np.int64)
    up = parent.copy()
    while (up >= 0).any():
        linked = up >= 0
        depth[linked] += depth[up[linked]]
        nxt = np.full_like(up, -1)
        nxt[linked] = up[up[linked]]
        up = nxt
    return depth


def threads(thread: np.ndarray, parent: np.ndarray) -> dict[str, float]:
    """Thread sizes (posts per thread), the share of posts that reply to a post, and how
    deep replies go."""
    sizes = np.bincount(thread)
    sizes = sizes[sizes > 0]
    depth = reply_depth(parent)
    replies = depth > 0
    return {**spread(sizes, "thread_size"),
            "single_post_thread_share": float(np.mean(sizes == 1)) if len(sizes) else None,
            "reply_share": float(replies.mean()) if len(depth) else None,
            "reply_depth_mean": float(depth[replies].mean()) if replies.any() else None,
            "reply_depth_q90": float(np.quantile(depth[replies], 0.9)) if replies.any()
            else None,
            "reply_depth_max": float(depth.max()) if len(depth) else None}


def reply_network(author: np.ndarray, parent: np.ndarray, n_authors: int) -> nx.Graph:
    """The undirected network of authors tied by a reply from one to the other (replies to
    oneself left out); every author is a node."""
    author = np.asarray(author, dtype=np.int64)
    replies = np.flatnonzero(parent >= 0)
    a, b = author[replies], author[parent[replies]]
    keep = a != b
    graph = nx.Graph()
    graph.add_nodes_from(range(n_authors))
    graph.add_edges_from(zip(a[keep].tolist(), b[keep].tolist(), strict=True))
    return graph


def network(graph: nx.Graph) -> dict[str, float]:
    """Degree distribution, the share of authors without a reply tie, average clustering
    (Watts and Strogatz) and transitivity of the reply network."""
    degree = np.array([d for _, d in graph.degree()], dtype=float)
    n = graph.number_of_nodes()
    return {**spread(degree, "reply_degree"),
            "reply_isolated_share": float(np.mean(degree == 0)) if n else None,
            "reply_clustering": float(nx.average_clustering(graph)) if n else None,
            "reply_transitivity": float(nx.transitivity(graph)) if n else None}


def fora(author: np.ndarray, forum: np.ndarray) -> dict[str, float]:
    """Authors on more than one forum, and how skewed forum sizes (posting authors per
    forum) are: Gini and the largest forum's share."""
    author, forum = np.asarray(author, dtype=np.int64), np.asarray(forum, dtype=np.int64)
    n_fora = int(forum.max()) + 1
    pairs = np.unique(author * n_fora + forum)
    per_author = np.bincount(pairs // n_fora)
    sizes = np.bincount(pairs % n_fora)
    return {"fora": int(np.count_nonzero(sizes)),
            "multi_forum_author_share": float(np.mean(per_author[per_author > 0] > 1)),
            "forum_size_gini": gini(sizes[sizes > 0]),
            "largest_forum_share": float(sizes.max() / sizes.sum())}


def takedown(day: np.ndarray, author: np.ndarray, forum: np.ndarray, target: int, on: int,
             window_days: int = 30, weeks_after: int = 12, tolerance: float = 0.1
             ) -> dict[str, float | int | None]:
    """What followed a takedown of forum `target` on day `on`, from the posts alone.

    - `drop`: 1 minus the lowest weekly count of active authors (all fora) in the
      `weeks_after` weeks from the takedown, relative to the mean of the 4 weeks before;
    - `recovery_days`: days from the takedown to the start of the first week, from the
      lowest one on, back within `tolerance` of that level (0 if activity never fell
      below it, None if it did not recover within the data);
    - `moved_share`: of the authors who posted on the target in the `window_days` before,
      the share who posted on another forum within `weeks_after` weeks after;
    - `top_destination` and `top_destination_share`: the forum where most of those movers
      posted first after the takedown, and their share of the movers.
    """
    day, author, forum = (np.asarray(x, dtype=np.int64) for x in (day, author, forum))
    week = np.floor_divide(day - on, 7)
    inside = (week >= -4) & (week < weeks_after)
    pairs = np.unique((week[inside] + 4) * (author.max() + 1) + author[inside])
    weekly = np.bincount(pairs // (author.max() + 1), minlength=4 + weeks_after)
    before, after = weekly[:4], weekly[4:]
    last_week = int(np.floor_divide(day.max() - on, 7)) if len(day) else -1
    after = after[: max(min(last_week + 1, weeks_after), 0)]
    baseline = float(before.mean())
    result: dict[str, float | int | None] = dict.fromkeys(
        ("drop", "recovery_days", "moved_share", "top_destination", "top_destination_share"))
    if baseline > 0 and len(after):
        low = int(np.argmin(after))
        result["drop"] = float(1.0 - after[low] / baseline)
        back = np.flatnonzero(after[low:] >= (1.0 - tolerance) * baseline)
        if after[low] >= (1.0 - tolerance) * baseline:
            result["recovery_days"] = 0
        elif len(back):
            result["recovery_days"] = int(7 * (low + back[0]))
    recent = np.unique(author[(forum == target) & (day >= on - window_days) & (day < on)])
    later = (day >= on) & (day < on + 7 * weeks_after) & (forum != target)
    later &= np.isin(author, recent)
    if len(recent):
        movers, first = np.unique(author[later], return_index=True)
        result["moved_share"] = float(len(movers) / len(recent))
        if len(movers):
            destinations = np.bincount(forum[later][first])
            result["top_destination"] = int(np.argmax(destinations))
            result["top_destination_share"] = float(destinations.max() / len(movers))
    return result
