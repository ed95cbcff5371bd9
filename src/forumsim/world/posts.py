"""The post log: every post of a run with its thread and the post it answers, kept only
when a run is asked to export its community (`forumsim run --export-posts`).

The model decides whom a reply answers (an author among the forum's recent authors); the
log turns that into a post: the answered author's latest post on that forum, and the
reply joins its thread. A post that is not a reply, or that answers someone with no post
there yet (an author known only for shared material), starts a thread. The log draws no
random numbers, so a run with it is the same run as without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from forumsim.world.forum import Rank, Status
from forumsim.world.table import Table

if TYPE_CHECKING:
    import mesa

    from forumsim.world.agents import Visits

EPOCH = np.datetime64("2020-01-01T00:00:00", "us")  # the date of day 0
DAY_US = 86_400_000_000  # microseconds in a day


class PostLog:
    """All posts so far: day, forum, author, the post answered (-1: none) and the thread
    (the id of its first post); a post's id is its row."""

    def __init__(self) -> None:
        self.posts = Table({"day": np.int32, "forum": np.int32, "author": np.int64,
                            "reply_to": np.int64, "thread": np.int64})
        # The latest post of each membership row (-1: none yet), grown with the table.
        self._latest = np.full(0, -1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.posts)

    def record(self, eco: mesa.Model, posts: Visits, repliers: list[np.ndarray],
               answered: list[np.ndarray]) -> None:
        """Log a batch of today's posts; `repliers[k]` answer `answered[k]` (the model's
        choice, before caution decides whether the reply forms a tie)."""
        reply_to = np.full(len(posts), -1, dtype=np.int64)
        if repliers:
            who, whom = np.concatenate(repliers), np.concatenate(answered)
            # A person visits one forum a day, so each poster is in the batch once.
            order = np.argsort(posts.people, kind="stable")
            at = order[np.searchsorted(posts.people[order], who)]
            their_rows = eco.memberships.row_of[whom, posts.forums[at]]
            reply_to[at] = self._latest_of(their_rows)
        ids = self.posts.append(day=eco.day, forum=posts.forums, author=posts.people,
                                reply_to=reply_to)
        starts = reply_to < 0
        thread = np.where(starts, ids, 0)
        thread[~starts] = self.posts.thread[reply_to[~starts]]
        self.posts.thread[ids] = thread
        self._latest_of(posts.rows)  # make room
        self._latest[posts.rows] = ids

    def _latest_of(self, rows: np.ndarray) -> np.ndarray:
        """The latest post of each membership row, growing the index to cover `rows`."""
        need = int(rows.max()) + 1 if len(rows) else 0
        if need > len(self._latest):
            grown = np.full(max(need, 2 * len(self._latest)), -1, dtype=np.int64)
            grown[: len(self._latest)] = self._latest
            self._latest = grown
        return self._latest[rows]

    def tables(self, eco: mesa.Model) -> dict[str, dict[str, np.ndarray]]:
        """The community in the posts-table format (see docs/data.md) as columns of numpy
        arrays: `posts`, `members` (every membership ever) and `events` (shocks aimed at
        a forum, and closures)."""
        log = self.posts
        names = np.array([f.name for f in eco.fora], dtype=object)
        members = eco.memberships.table
        rank_names = np.array([r.name.lower() for r in Rank], dtype=object)
        events = [(e.forum, e.day, e.type) for e in eco.events if e.forum >= 0]
        events += [(f.id, f.ended, "closure") for f in eco.fora if f.status == Status.CLOSED]
        events.sort(key=lambda e: (e[1], e[0]))
        forum, day, kind = (np.array(c) for c in zip(*events, strict=True)) if events else (
            np.empty(0, dtype=np.int64),) * 3
        return {
            "posts": {"post_id": np.arange(len(log), dtype=np.int64),
                      "thread_id": log.thread.copy(), "forum": names[log.forum],
                      "author": log.author.copy(), "timestamp": post_times(log.day),
                      "reply_to": log.reply_to.copy()},
            "members": {"author": members.person.astype(np.int64),
                        "forum": names[members.forum.astype(np.int64)],
                        "registered": day_start(members.joined),
                        "rank": rank_names[members.rank.astype(np.int64)]},
            "events": {"forum": names[forum.astype(np.int64)],
                       "date": day_start(day.astype(np.int64)),
                       "event": kind.astype(object)},
        }


def day_start(days: np.ndarray) -> np.ndarray:
    """The UTC time at which each simulated day starts (day 0 is EPOCH)."""
    return EPOCH + np.asarray(days, dtype=np.int64) * np.timedelta64(1, "D")


def post_times(days: np.ndarray) -> np.ndarray:
    """Timestamps of posts logged in time order: each day's posts spread evenly over that
    day, in the order they were made (so a reply comes after the post it answers)."""
    days = np.asarray(days, dtype=np.int64)
    if not len(days):
        return np.empty(0, dtype="datetime64[us]")
    first = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    counts = np.diff(np.r_[first, len(days)])
    rank = np.arange(len(days)) - np.repeat(first, counts)
    offset = (2 * rank + 1) * DAY_US // (2 * np.repeat(counts, counts))
    return day_start(days) + offset.astype("timedelta64[us]")
