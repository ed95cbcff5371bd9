"""Shocks to the ecosystem, scheduled by day: takedown, arrests, infiltration, outage and
bot-registration waves. Each is a small class whose `apply` runs on its days."""

from __future__ import annotations

from dataclasses import dataclass, field

import mesa
import numpy as np

from forumsim.measures import keyplayers
from forumsim.world.agents import State, Visits
from forumsim.world.draws import Purpose, name_key
from forumsim.world.forum import Forum, Rank, Status
from forumsim.world.scenario import (
    ArrestsSpec,
    BotWaveSpec,
    InfiltrationSpec,
    OutageSpec,
    TakedownSpec,
)


@dataclass
class Event:
    """The record of one shock: what, when, where, who was arrested or displaced, and
    where the displaced went within `window` days."""

    type: str
    day: int
    index: int
    target: str | None
    forum: int
    window: int
    arrested: int = 0
    arrested_people: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    detected: int | None = None
    successors: list[str] = field(default_factory=list)
    displaced: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    rehomed: dict[int, int] = field(default_factory=dict)  # person -> forum they moved to
    rally: int = -1  # the forum announced to the displaced by their old staff and VIPs
    arrivals: dict[int, np.ndarray] = field(default_factory=dict)  # day -> moves per forum
    _pending: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def arrest(self, eco: mesa.Model, people: np.ndarray) -> None:
        """Arrest `people` as part of this shock and keep who they were."""
        caught = eco.arrest(people)
        self.arrested_people = np.union1d(self.arrested_people, caught)
        self.arrested = len(self.arrested_people)

    def displace(self, people: np.ndarray) -> None:
        """People lose their forum in this shock; follow where they go."""
        self.displaced = np.union1d(self.displaced, people)
        self._pending = np.union1d(self._pending, people)

    def following(self, day: int) -> np.ndarray:
        """The displaced not yet rehomed, while the shock is still followed."""
        return self._pending if day <= self.day + self.window else self._pending[:0]

    def follow(self, eco: mesa.Model, visits: Visits) -> None:
        """Note the displaced who are active on another forum today, within the window."""
        day = eco.day
        if not len(self._pending) or day > self.day + self.window:
            return
        moved = np.isin(visits.people, self._pending) & (visits.forums != self.forum)
        if moved.any():
            people, forums = visits.people[moved], visits.forums[moved]
            self.rehomed.update(zip(people.tolist(), forums.tolist(), strict=True))
            self._pending = np.setdiff1d(self._pending, people)
            self.arrivals[day] = np.bincount(forums, minlength=len(eco.fora))

    def recent_destinations(self, day: int, days: int, n_fora: int) -> np.ndarray:
        """Share of the displaced who moved to each forum in the last `days` days."""
        counts = np.zeros(n_fora)
        for moved_on in range(day - days, day):
            arrived = self.arrivals.get(moved_on)
            if arrived is not None:
                counts[:len(arrived)] += arrived
        total = counts.sum()
        return counts / total if total else counts


ROLE_STRATEGIES = {"admins": (Rank.ADMIN,), "moderators": (Rank.MODERATOR,),
                   "staff": (Rank.MODERATOR, Rank.ADMIN), "vips": (Rank.VIP,)}


class Intervention:
    """Base: a shock that happens on the days of its spec; `index` is its place in the
    scenario's list (the key of its results)."""

    def __init__(self, spec, index: int) -> None:
        self.spec, self.index = spec, index
        self.days = set(spec.days())
        # Its random choices are addressed by what it is, not by its place in the list, so
        # a paired run that drops another shock makes the same choices.
        self.key = name_key(spec.model_dump_json())

    def due(self, day: int) -> bool:
        """Whether `apply` runs today."""
        return day in self.days

    def apply(self, eco: mesa.Model) -> None:
        raise NotImplementedError


class Takedown(Intervention):
    """A forum is seized: offline for good; seized data may identify members; publicity
    deters."""

    def apply(self, eco: mesa.Model) -> None:
        spec: TakedownSpec = self.spec
        forum = eco.resolve_forum(spec.target, self.key)
        if forum is None:
            eco.record_event(self, None)
            return
        event = eco.record_event(self, forum)
        eco.take_down(forum, event)
        if spec.data_seized > 0:
            members = eco.members_of(forum)
            p = eco.people
            opsec = (p.skill[members] + p.risk_aversion[members]) / 2.0
            chance = spec.data_seized * (1.0 - eco.behaviour.hiding_effect * forum.hidden)
            caught = members[(opsec < eco.behaviour.poor_opsec_threshold)
                             & eco.draws.chance(Purpose.SEIZED_DATA, eco.day, members, chance)]
            event.arrest(eco, caught)
        if spec.publicized:
            eco.deter()
        eco.alarm()


class Arrests(Intervention):
    """Remove k people (or a share) chosen by a targeting strategy; they never act again."""

    def apply(self, eco: mesa.Model) -> None:
        spec: ArrestsSpec = self.spec
        forum = eco.forum(spec.forum) if spec.forum else None
        candidates = eco.members_of(forum) if forum is not None else np.flatnonzero(
            eco.people.state == State.ACTIVE)
        if spec.strategy in ROLE_STRATEGIES:  # a share of the role's holders, not of all
            candidates = candidates[np.isin(_ranks(eco, candidates, forum),
                                            ROLE_STRATEGIES[spec.strategy])]
        k = spec.k if spec.k is not None else int(round(spec.share * len(candidates)))
        targets = self.select(eco, candidates, min(k, len(candidates)), forum)
        event = eco.record_event(self, forum)
        event.arrest(eco, np.asarray(targets, dtype=np.int64))
        if event.arrested:  # arrests of nobody make no news
            eco.alarm()

    def generator(self, eco: mesa.Model) -> np.random.Generator:
        """The numbers of today's choice of people: addressed by the shock and its
        `draw` (another draw picks other people at random)."""
        return eco.draws.generator(Purpose.ARRESTS, eco.day, self.key, self.spec.draw)

    def select(self, eco: mesa.Model, candidates: np.ndarray, k: int,
               forum: Forum | None) -> list[int]:
        """The k people the strategy picks among the candidates."""
        strategy = self.spec.strategy
        if k <= 0:
            return []
        if strategy in ROLE_STRATEGIES:
            return _by_role(eco, candidates, k, ROLE_STRATEGIES[strategy], forum,
                            self.generator(eco))
        graph = eco.ties.to_networkx(people=candidates)
        capital = None
        if strategy == "network_capital":
            p = eco.people
            capital = dict(zip(candidates.tolist(),
                               (p.shares[candidates] + p.thanks[candidates]).tolist(),
                               strict=True))
        return keyplayers.select_targets(strategy, graph, k, self.generator(eco),
                                         candidates=candidates.tolist(), capital=capital)


def _ranks(eco: mesa.Model, people: np.ndarray, forum: Forum | None) -> np.ndarray:
    """Each person's rank on `forum` (all must be members), or their class if None."""
    if forum is None:
        return eco.people.role[people]
    return eco.memberships.table.rank[eco.memberships.row_of[people, forum.id]]


def _by_role(eco: mesa.Model, candidates: np.ndarray, k: int, ranks: tuple[Rank, ...],
             forum: Forum | None, rng: np.random.Generator) -> list[int]:
    """People holding one of `ranks` (on `forum`, or anywhere), highest rank first,
    at random within a rank."""
    held = _ranks(eco, candidates, forum)
    chosen: list[int] = []
    for rank in sorted(ranks, reverse=True):
        pool = candidates[held == rank]
        chosen += rng.permutation(pool)[: k - len(chosen)].tolist()
    return chosen


class Infiltration(Intervention):
    """Law enforcement covertly runs a forum: it stays online and welcoming while active
    members are identified day by day; at the end, arrests and takedown, or a quiet exit.
    Staff may detect the undercover operation, which ends it early."""

    def __init__(self, spec: InfiltrationSpec, index: int) -> None:
        super().__init__(spec, index)
        self.days = set(range(spec.day, spec.last_day() + 1))
        self.forum: Forum | None = None
        self.identified = np.empty(0, dtype=np.int64)
        self.event = None

    def apply(self, eco: mesa.Model) -> None:
        spec: InfiltrationSpec = self.spec
        if eco.day == spec.day:
            self.forum = eco.resolve_forum(spec.target, self.key)
            self.event = eco.record_event(self, self.forum)
            if self.forum is not None:
                self.forum.infiltrated = True
        forum = self.forum
        if forum is None or forum.gone or not forum.infiltrated:
            return
        if eco.day == spec.day:
            return  # the operation starts today: yesterday's visitors were not watched
        if eco.day < spec.day + spec.duration_days:
            self._watch(eco, forum)
        else:
            self._end(eco, forum)

    def _watch(self, eco: mesa.Model, forum: Forum) -> None:
        """Yesterday's visitors may be identified; staff may detect the operation."""
        b = eco.behaviour
        visitors = forum.visitors_yesterday
        chance = self.spec.identify_prob_per_day * (1.0 - b.hiding_effect * forum.hidden)
        found = visitors[eco.draws.chance(Purpose.IDENTIFY, eco.day, visitors, chance)]
        self.identified = np.union1d(self.identified, found)
        skill = float(eco.people.skill[forum.staff].max()) if forum.staff else 0.0
        if (eco.draws.one(Purpose.DETECT, eco.day, forum.key)
                < b.undercover_detection_prob_per_day * skill):
            forum.infiltrated = False
            self.event.detected = eco.day
            eco.change_access(forum, "stricter")
            forum.hidden = True

    def _end(self, eco: mesa.Model, forum: Forum) -> None:
        forum.infiltrated = False
        if self.spec.ending == "takedown":
            self.event.arrest(eco, self.identified)
            self.event.day = eco.day
            eco.take_down(forum, self.event)
            eco.alarm()


class Outage(Intervention):
    """A forum is unreachable for a number of days, then comes back."""

    def apply(self, eco: mesa.Model) -> None:
        spec: OutageSpec = self.spec
        forum = eco.resolve_forum(spec.target, self.key)
        eco.record_event(self, forum)
        if forum is not None and forum.status == Status.ONLINE:
            forum.status = Status.DOWN
            forum.down_until = eco.day + spec.duration_days


class BotWave(Intervention):
    """Bot registrations swamp a forum's staff; its admins freeze registrations."""

    def __init__(self, spec: BotWaveSpec, index: int) -> None:
        super().__init__(spec, index)
        self.days = {d + i for d in spec.days() for i in range(spec.duration_days)}
        self.forum: Forum | None = None

    def apply(self, eco: mesa.Model) -> None:
        spec: BotWaveSpec = self.spec
        if eco.day in spec.days():
            self.forum = eco.resolve_forum(spec.target, self.key)
            eco.record_event(self, self.forum)
        forum = self.forum
        if forum is None or forum.gone:
            return
        forum.reports.extend([-1] * spec.bots_per_day)  # junk the staff must clear
        forum.registrations_open = False
        forum.frozen_until = max(forum.frozen_until, eco.day + spec.freeze_days)


KINDS = {"takedown": Takedown, "arrests": Arrests, "infiltration": Infiltration,
         "outage": Outage, "bot_wave": BotWave}


def build(specs: list) -> list[Intervention]:
    """Intervention objects for a scenario's specs."""
    return [KINDS[spec.type](spec, i) for i, spec in enumerate(specs)]
