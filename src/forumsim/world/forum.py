"""Fora (the environments people act in) and the per-forum memberships of people.

A `Forum` holds its access policy, status, staff, queues of work for its staff and the
day's counters. All memberships of all people live in one `Memberships` table (a row per
person and forum); `Membership` is a readable view of one row.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from forumsim.world.access import AccessPolicy
from forumsim.world.table import Table


class Rank(IntEnum):
    """Status of a person on one forum; a person's class is their highest rank anywhere."""

    LURKER = 0
    MEMBER = 1
    VIP = 2
    MODERATOR = 3
    ADMIN = 4


class Status:
    """Forum statuses. Seized and closed fora never come back."""

    ONLINE = "online"
    DOWN = "down"
    SEIZED = "seized"
    CLOSED = "closed"
    GONE = (SEIZED, CLOSED)


class Address(IntEnum):
    """What a person knows of a forum's address (the `known` matrix of the ecosystem)."""

    BANNED = -1
    UNKNOWN = 0
    KNOWN = 1
    INVITED = 2


@dataclass(eq=False)
class Forum:
    """One forum: access regime, status, staff, staff work queues and today's activity."""

    id: int
    name: str
    access: AccessPolicy
    founded: int
    founder: int = -1
    key: int = 0  # a stable number for its name, to address its random draws (world/draws.py)
    status: str = Status.ONLINE
    down_until: int = -1
    ended: int = -1
    members: int = 0  # current members: people in the ecosystem with a membership here
    registered: int = 0  # accounts ever registered (banned and departed people included)
    admins: list[int] = field(default_factory=list)
    moderators: list[int] = field(default_factory=list)
    applications: deque = field(default_factory=deque)
    reports: deque = field(default_factory=deque)
    backlog_days: int = 0
    registrations_open: bool = True
    abandoned: bool = False  # no admin or moderator left: closes at the next status update
    hidden: bool = False  # admins hide member lists and activity (after enforcement news)
    infiltrated: bool = False  # covertly run by law enforcement
    frozen_until: int = -1  # registrations frozen until this day
    recent_authors: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    staff_peak: int = 0  # most staff the forum ever had: losing them raises its hazards
    vetting_left: float = 0.0  # invitations its admins can still vet (closed fora)
    # Fresh material and visits, summed with a decay (see `pull`), and today's material.
    material: float = 0.0
    usual_material: float = 0.0  # what its members are used to (`pull`)
    visit_load: float = 0.0
    material_today: float = 0.0
    # Today's counters, reset at the start of each day.
    visitors: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    visitors_yesterday: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    posts: int = 0
    shares: int = 0
    registrations: int = 0

    @property
    def online(self) -> bool:
        """Reachable today."""
        return self.status == Status.ONLINE

    @property
    def gone(self) -> bool:
        """Seized or closed for good."""
        return self.status in Status.GONE

    @property
    def staff(self) -> list[int]:
        """Admins and moderators (person indices)."""
        return self.admins + self.moderators

    def new_day(self) -> None:
        """Reset today's counters."""
        self.visitors_yesterday = self.visitors
        self.visitors = np.empty(0, dtype=np.int64)
        self.posts = self.shares = self.registrations = 0
        self.material_today = 0.0

    def understaffing(self) -> float:
        """Share of its peak staff the forum has lost (0 at full strength)."""
        return 1.0 - len(self.staff) / self.staff_peak if self.staff_peak else 0.0

    def remember_authors(self, authors: np.ndarray, keep: int = 200) -> None:
        """Keep the most recent authors: the people a reply can answer."""
        self.recent_authors = np.concatenate([self.recent_authors, authors])[-keep:]


class Memberships:
    """All memberships: one table row per (person, forum) and an index person x forum -> row.

    `row_of[p, f]` is the row of person p's current membership of forum f, or -1 when p
    is not (or no longer) a member. Rows of ended memberships stay in the table.
    """

    def __init__(self, n_people: int, forum_capacity: int = 16) -> None:
        self.table = Table({"person": np.int32, "forum": np.int16, "rank": np.int8,
                            "posts": np.int32, "contributions": np.int32, "thanks": np.int32,
                            "joined": np.int32, "promoted": np.int32, "last_visit": np.int32,
                            "warnings": np.int16,
                            "full_access": bool, "invited": bool},
                           capacity=max(1024, n_people // 2))
        self.row_of = np.full((n_people, forum_capacity), -1, dtype=np.int32)
        self.count = np.zeros(n_people, dtype=np.int16)  # current memberships per person

    def __len__(self) -> int:
        return len(self.table)

    def ensure_forum_slot(self, forum_id: int) -> None:
        """Make room for one more forum column (fora founded during a run)."""
        if forum_id >= self.row_of.shape[1]:
            extra = np.full((self.row_of.shape[0], self.row_of.shape[1]), -1, dtype=np.int32)
            self.row_of = np.hstack([self.row_of, extra])

    def add(self, people: np.ndarray, forum: int, day: int | np.ndarray, rank: int,
            full_access: bool, invited: bool | np.ndarray = False) -> np.ndarray:
        """Register `people` (not yet members) on `forum`; returns the new rows. `invited`
        records who came in by an invitation or a contact's vouching."""
        rows = self.table.append(person=people, forum=forum, rank=rank, joined=day,
                                 promoted=day, last_visit=-1, full_access=full_access,
                                 invited=invited)
        self.row_of[people, forum] = rows
        np.add.at(self.count, people, 1)
        return rows

    def end(self, person: int, forum: int) -> None:
        """End a membership (ban); its row is kept for the record."""
        if self.row_of[person, forum] >= 0:
            self.count[person] -= 1
        self.row_of[person, forum] = -1

    def of(self, person: int, forum: int) -> Membership | None:
        """The current membership of `person` on `forum`, if any."""
        row = int(self.row_of[person, forum])
        return Membership(self.table, row) if row >= 0 else None

    def current_rows(self, person: int) -> np.ndarray:
        """Rows of the person's current memberships."""
        rows = self.row_of[person]
        return rows[rows >= 0]


class Membership:
    """A view of one membership row: rank, posts, contributions, thanks, joined, day of the
    last promotion, warnings."""

    def __init__(self, table: Table, row: int) -> None:
        self._table, self.row = table, row

    def _get(self, column: str) -> int:
        return getattr(self._table, column)[self.row].item()

    person = property(lambda self: self._get("person"))
    forum = property(lambda self: self._get("forum"))
    rank = property(lambda self: Rank(self._get("rank")))
    posts = property(lambda self: self._get("posts"))
    contributions = property(lambda self: self._get("contributions"))
    thanks = property(lambda self: self._get("thanks"))
    joined = property(lambda self: self._get("joined"))
    promoted = property(lambda self: self._get("promoted"))
    warnings = property(lambda self: self._get("warnings"))
    full_access = property(lambda self: bool(self._get("full_access")))

    def __repr__(self) -> str:
        return (f"Membership(person={self.person}, forum={self.forum}, rank={self.rank.name}, "
                f"posts={self.posts}, contributions={self.contributions}, thanks={self.thanks})")
