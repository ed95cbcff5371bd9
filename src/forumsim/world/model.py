"""The ecosystem: fora, people, ties and interventions, stepped one day at a time."""

from __future__ import annotations

import copy
import gc
import zlib
from collections import defaultdict

import mesa
import numpy as np
from mesa.agentset import AbstractAgentSet
from mesa.experimental.mesa_signals import ModelSignals

from forumsim.world import relocation
from forumsim.world.access import policy, stricter
from forumsim.world.agents import (
    ROLE_CLASSES,
    Admin,
    Moderator,
    Person,
    Population,
    State,
    Visits,
)
from forumsim.world.forum import Address, Forum, Memberships, Rank, Status
from forumsim.world.interventions import KINDS, Event, Intervention, build
from forumsim.world.scenario import InterventionSpec, Scenario, embedded_scenario
from forumsim.world.ties import Ties


class Streams:
    """Independent random streams derived from the scenario's seed, one per process that
    must stay in step between paired runs (common random numbers): daily activity, each
    forum's outages, new fora, and the choices of interventions. Everything else uses
    the model's own `rng`, seeded from the same seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        activity, founding, interventions = np.random.SeedSequence(seed).spawn(3)
        self.activity = np.random.default_rng(activity)
        self.founding = np.random.default_rng(founding)
        self.interventions = np.random.default_rng(interventions)

    def trait(self, name: str) -> np.random.Generator:
        """The stream of the personal trait called `name`. Each trait has its own, so a
        sweep that changes one trait's parameter leaves everyone's other traits as they
        were (common random numbers across a sweep's points)."""
        key = zlib.crc32(name.encode())
        return np.random.default_rng(np.random.SeedSequence([self.seed, 2_000_003, key]))

    def forum(self, name: str) -> np.random.Generator:
        """The stream of the forum called `name` (its outages). Keyed by name, not by id,
        so a forum keeps its stream when a shock adds other fora before it."""
        key = zlib.crc32(name.encode())
        return np.random.default_rng(np.random.SeedSequence([self.seed, 1_000_003, key]))


ROLE_NAMES = ("lurkers", "members", "vips", "moderators", "admins")
DAILY_COUNTERS = ("posts", "shares", "downloads", "exclusive_downloads", "registrations",
                  "failed_visits")


class Ecosystem(mesa.Model):
    """A darkweb forum ecosystem. `step()` is one day, in this order:

    1. interventions due today are applied;
    2. fora update their status (abandoned fora close, frozen registrations reopen,
       outages start and end);
    3. activity: today's active people are drawn at once; each visits one forum and acts
       through the behaviour of their rank there;
    4. governance: staff screen applicants and handle reports; admins recruit,
       cross-promote and tighten access;
    5. relocation: successors of downed fora open; a new forum may be founded; careers
       end (people with no forum left search for one on their active days, in phase 3);
    6. data collection.
    """

    def __init__(self, scenario: Scenario | None = None) -> None:
        scenario = scenario or embedded_scenario()
        super().__init__(rng=scenario.seed)
        self.config = scenario  # mesa.Model.scenario is Mesa's own
        self.streams = Streams(scenario.seed)
        self._draw_buffer = np.empty(scenario.people, dtype=np.float32)
        self.behaviour = b = scenario.behaviour
        self.day = 0
        n = scenario.people
        self.people = Population(n, b, self.streams.trait)
        # Mesa agents of people who entered the ecosystem (see `persons`); ids 1..n are
        # theirs (person i has unique_id i + 1), other agents get ids above n.
        self._persons: dict[int, Person] = {}
        self._unregistered: list[np.ndarray] = []  # people whose agent is missing or stale
        self.agent_id_counter = n + 1
        self.memberships = Memberships(n)
        self.known = np.zeros((n, self.memberships.row_of.shape[1]), dtype=np.int8)
        self.ties = Ties(n, b.tie_half_life_days)
        self.fora: list[Forum] = []
        self.founded_count = 0  # all fora founded during the run, successors included
        self.new_fora = 0  # those founded from scratch (named "New forum k")
        self.role_counts = RoleCounts()
        self.today: dict[str, int] = dict.fromkeys(DAILY_COUNTERS, 0)
        self.active_today = 0
        # The day each person's career ends, and the order in which those ends were set
        # (people whose careers end on the same day desist in that order).
        self._career_end = np.full(n, -1, dtype=np.int32)
        self._career_order = np.zeros(n, dtype=np.int64)
        self._careers_set = 0
        self.interventions = build(scenario.interventions)
        self.events: list[Event] = []
        self.takedowns = 0
        self.cautious_until = -1
        self.deterred_on: int | None = None
        self._successors: dict[int, list[tuple[Forum, list[int], Event]]] = defaultdict(list)
        self._set_up_fora()
        self.datacollector = mesa.DataCollector(
            model_reporters={"day": "day", "active_people": "active_today",
                             **{name: _today(name) for name in DAILY_COUNTERS},
                             "online_fora": lambda m: sum(f.online for f in m.fora),
                             "fora": lambda m: sum(not f.gone for f in m.fora),
                             "ties": lambda m: len(m.ties),
                             **{name: _role_count(name) for name in ROLE_NAMES}},
            tables={"forums": ["day", "forum", "access", "status", "members", "registered",
                               "active_members", "posts", "shares", "staff", "registrations",
                               "infiltrated"]},
        )

    # ----- the day -----------------------------------------------------------------------
    def step(self) -> None:
        """One day, in the phase order of the class docstring."""
        self.day = int(self.time)
        self._new_day()
        self.apply_interventions()
        for forum in self.fora:
            if forum.abandoned and not forum.gone:
                forum.status, forum.ended = Status.CLOSED, self.day
                for event in self.events:  # e.g. all staff arrested: the shock downed it
                    if event.forum == forum.id and not len(event.displaced):
                        event.displace(self.recently_active_members(forum))
            if 0 <= forum.frozen_until <= self.day:
                forum.registrations_open, forum.frozen_until = True, -1
            if not forum.gone:
                Admin.keep_online(self, forum)
        self.act()
        self.govern()
        self.relocate()
        self.collect()

    def schedule(self, spec) -> Intervention:
        """Add a shock while the model runs (e.g. from the teaching page); it acts on the
        days of its spec, like the scenario's own."""
        intervention = KINDS[spec.type](spec, len(self.interventions))
        self.interventions.append(intervention)
        return intervention

    def apply_interventions(self) -> None:
        """Shocks scheduled for today, in the scenario's order."""
        for intervention in self.interventions:
            if intervention.due(self.day):
                intervention.apply(self)

    def act(self) -> None:
        """Draw today's active people at once; only they act."""
        active = self._draw_active()
        outside = self.people.state[active] == State.OUTSIDE
        visits, unplaced = self._choose_visits(active[~outside])
        offline = ~np.array([f.online for f in self.fora], dtype=bool)
        if offline.any():
            failed = offline[visits.forums]
            self.today["failed_visits"] += int(np.count_nonzero(failed))
            visits = visits.where(~failed)
        self.active_today = len(visits)
        self.memberships.table.last_visit[visits.rows] = self.day
        for event in self.events:
            event.follow(self.day, visits)
        for forum_id, people in visits.by_forum():
            self.fora[forum_id].visitors = people
        ranks = self.memberships.table.rank[visits.rows]
        for rank, cls in enumerate(ROLE_CLASSES):
            at_rank = visits.where(ranks == rank)
            if len(at_rank):
                cls.visit(self, at_rank)
        # Newcomers, people with no forum left and curious visitors look for a forum.
        self.search_and_join(np.concatenate([active[outside], unplaced,
                                             Person.explorers(self, visits)]))
        relocation.give_up(self, unplaced)

    def govern(self) -> None:
        """Staff work through queues within capacity; admins tend their forum."""
        b = self.behaviour
        weekly = self.day % 7 == 0
        for forum in self.fora:
            if not forum.online:
                continue
            capacity = len(forum.staff) * b.moderator_capacity_per_day
            used = Moderator.screen_applicants(self, forum, capacity)
            used += Moderator.enforce_rules(self, forum, capacity - used)
            Admin.tighten_access(self, forum, backlog=bool(forum.applications or forum.reports))
            Admin.cross_promote(self, forum)
            if weekly:
                Admin.recruit_moderators(self, forum)

    def relocate(self) -> None:
        """Successors of downed fora open; new fora are founded now and then; careers that
        end today end."""
        for forum, staff, event in self._successors.pop(self.day, []):
            successor = relocation.found_successor(self, forum, staff, event.displaced)
            if successor is not None:
                event.successors.append(successor.name)
        relocation.maybe_found_forum(self)
        ending = np.flatnonzero(self._career_end == self.day)
        if len(ending):
            order = np.argsort(self._career_order[ending], kind="stable")
            relocation.desist(self, ending[order])

    def collect(self) -> None:
        """Append today's rows to the data collector."""
        self.datacollector.collect(self)
        for f in self.fora:
            self.datacollector.add_table_row("forums", {
                "day": self.day, "forum": f.name, "access": f.access.name, "status": f.status,
                "members": f.members, "registered": f.registered,
                "active_members": len(f.visitors), "posts": f.posts,
                "shares": f.shares, "staff": len(f.staff), "registrations": f.registrations,
                "infiltrated": f.infiltrated})

    # ----- activity ------------------------------------------------------------------------
    def _new_day(self) -> None:
        self.today = dict.fromkeys(DAILY_COUNTERS, 0)
        self.active_today = 0
        for forum in self.fora:
            forum.new_day()

    def _draw_active(self) -> np.ndarray:
        """Today's active people: a cheap draw against each person's upper bound, thinned
        by the novelty of their registration (so the O(n) part is one comparison)."""
        p = self.people
        if self.day % 7 == 1:
            self._tighten_activity_bounds()
        # One uniform per person and day from a stream nothing else uses, so a person is
        # active on the same days in paired runs unless the shock changed them.
        draw = self.streams.activity.random(p.n, dtype=np.float32, out=self._draw_buffer)
        candidates = np.flatnonzero(draw < p.p_max)
        registered = p.state[candidates] == State.ACTIVE
        chance = p.p_max[candidates].copy()
        who = candidates[registered]
        b = self.behaviour
        novelty = 1.0 + b.novelty_boost * np.exp(-(self.day - p.entered[who]) / b.novelty_days)
        chance[registered] = np.minimum(p.activity[who] * novelty, 1.0)
        if self.deterred_on is not None:
            chance[registered] *= self.deterrence()
        return candidates[draw[candidates] < chance]

    def _tighten_activity_bounds(self) -> None:
        """Novelty only decays, so today's chance bounds the next days' (fewer rejections)."""
        p, b = self.people, self.behaviour
        active = np.flatnonzero(p.state == State.ACTIVE)
        novelty = 1.0 + b.novelty_boost * np.exp(-(self.day - p.entered[active]) / b.novelty_days)
        p.p_max[active] = np.minimum(p.activity[active] * novelty, 1.0)

    def _choose_visits(self, people: np.ndarray) -> tuple[Visits, np.ndarray]:
        """Each active person visits their home forum (or another forum they belong to);
        returns the visits and the people who have no usable membership left."""
        n_fora = len(self.fora)
        rows = np.take(self.memberships.row_of, people, axis=0)[:, :n_fora]
        usable = rows >= 0
        gone = np.array([f.gone for f in self.fora], dtype=bool)
        if gone.any():
            usable &= ~gone
        n_usable = np.count_nonzero(usable, axis=1)
        home = self.people.home[people]
        everyone = np.arange(len(people))
        has_home = (home >= 0) & usable[everyone, np.maximum(home, 0)]
        forums = home.astype(np.int64)
        homeless = ~has_home
        if homeless.any():
            forums[homeless] = np.argmax(usable[homeless], axis=1)
        # Only people with a choice to make draw where they go instead of home.
        choosing = n_usable > 1
        choosing[choosing] = ~(has_home[choosing] & (self.rng.random(int(choosing.sum()))
                                                      < self.behaviour.home_loyalty))
        if choosing.any():
            keys = self.rng.random((int(choosing.sum()), n_fora))
            keys[~usable[choosing]] = -1.0
            elsewhere = has_home[choosing]
            keys[elsewhere, home[choosing][elsewhere]] = -0.5
            forums[choosing] = np.argmax(keys, axis=1)
        placed = n_usable > 0
        chosen = rows[everyone, forums]
        return Visits(people[placed], forums[placed], chosen[placed]), people[~placed]

    def count_per_forum(self, counter: str, forums: np.ndarray) -> None:
        """Add one to today's `counter` of each forum in `forums` (and the ecosystem's)."""
        self.today[counter] += len(forums)
        counts = np.bincount(forums, minlength=len(self.fora))
        for forum_id in np.flatnonzero(counts).tolist():
            forum = self.fora[forum_id]
            setattr(forum, counter, getattr(forum, counter) + int(counts[forum_id]))

    # ----- events: joining, ranks, staff, access ------------------------------------------
    def search_and_join(self, people: np.ndarray) -> int:
        """People look for a forum they know and may enter (see `relocation`)."""
        return relocation.search_and_join(self, people) if len(people) else 0

    def join(self, people: np.ndarray, forum: Forum, rank: int = Rank.LURKER,
             joined: int | np.ndarray | None = None,
             invited: bool | np.ndarray = False) -> None:
        """Register `people` on `forum` (`invited`: by invitation or vouching); newcomers
        enter the ecosystem."""
        p = self.people
        day = self.day if joined is None else joined
        full = forum.access.full_access_on_join or rank >= Rank.VIP
        rows = self.memberships.add(people, forum.id, day, Rank.LURKER, full_access=full,
                                    invited=invited)
        forum.members += len(people)
        forum.registered += len(people)
        forum.registrations += len(people)
        self.today["registrations"] += len(people)
        known = self.known[people, forum.id]
        self.known[people, forum.id] = np.maximum(known, Address.KNOWN)
        gone = np.array([f.gone for f in self.fora], dtype=bool)
        home = p.home[people]
        homeless = (home < 0) | gone[np.maximum(home, 0)]
        p.home[people[homeless]] = forum.id
        new = people[p.state[people] == State.OUTSIDE]
        if len(new):
            entered = day if np.isscalar(day) else np.asarray(day)[p.state[people] == State.OUTSIDE]
            self._enter(new, entered)
        if rank > Rank.LURKER:
            self.set_rank(rows, rank)

    def _enter(self, people: np.ndarray, entered: int | np.ndarray) -> None:
        """People enter the ecosystem: they become active and their career clock starts."""
        p, b = self.people, self.behaviour
        p.state[people] = State.ACTIVE
        p.entered[people] = entered
        p.p_max[people] = np.minimum(p.activity[people] * (1.0 + b.novelty_boost), 1.0)
        self.role_counts += np.bincount(p.role[people], minlength=len(self.role_counts))
        self._unregistered.append(people)
        careers = np.ceil(p.career_days[people]).astype(np.int64)
        # Careers are memoryless: people registered before day 0 get a fresh remainder.
        self._career_end[people] = np.maximum(p.entered[people], self.day) + np.maximum(careers, 1)
        self._career_order[people] = self._careers_set + np.arange(len(people))
        self._careers_set += len(people)

    def set_rank(self, rows: np.ndarray, rank: int) -> None:
        """Raise the rank of memberships `rows`; a person's class follows their highest rank."""
        table, p = self.memberships.table, self.people
        rows = rows[table.rank[rows] < rank]
        table.rank[rows] = rank
        table.promoted[rows] = self.day
        if rank >= Rank.VIP:
            table.full_access[rows] = True
        promoted = []
        for row in rows.tolist():
            person, forum = int(table.person[row]), self.fora[int(table.forum[row])]
            if rank == Rank.MODERATOR:
                forum.moderators.append(person)
            elif rank == Rank.ADMIN:
                if person in forum.moderators:
                    forum.moderators.remove(person)
                forum.admins.append(person)
            if p.role[person] < rank:
                if p.state[person] == State.ACTIVE:
                    self.role_counts[p.role[person]] -= 1
                    self.role_counts[rank] += 1
                p.role[person] = rank
                promoted.append(person)
        if promoted:
            self._unregistered.append(np.array(promoted, dtype=np.int64))

    def leave_staff(self, person: int, forum: Forum) -> None:
        """A staff member is gone; an admin-less forum hands over to a moderator or closes."""
        if person in forum.moderators:
            forum.moderators.remove(person)
        if person in forum.admins:
            forum.admins.remove(person)
        if not forum.admins and not forum.gone:
            if forum.moderators:
                successor = forum.moderators[0]
                self.set_rank(np.array([self.memberships.row_of[successor, forum.id]]), Rank.ADMIN)
            else:
                forum.abandoned = True  # closes at the next status update (phase 2)

    def ban(self, person: int, forum: Forum) -> None:
        """Staff ban a member: the membership ends and they cannot register again."""
        self.memberships.end(person, forum.id)
        self.known[person, forum.id] = Address.BANNED
        if self.people.state[person] == State.ACTIVE:  # departed people no longer count
            forum.members -= 1
        if self.people.home[person] == forum.id:
            self.people.home[person] = -1

    def change_access(self, forum: Forum, access: str) -> None:
        """Admins switch the forum to another access regime (or one step 'stricter')."""
        forum.access = stricter(forum.access) if access == "stricter" else policy(access)

    # ----- shocks ------------------------------------------------------------------------------
    @property
    def cautious(self) -> bool:
        """Whether enforcement news is recent enough to make people wary of strangers."""
        return self.day <= self.cautious_until

    def resolve_forum(self, target: str) -> Forum | None:
        """The forum a shock aims at: by name, or the largest / most central / a random
        forum among those not gone (None if there is none)."""
        alive = [f for f in self.fora if not f.gone]
        if target not in ("largest", "most_central", "random"):
            forum = self.forum(target)
            return None if forum.gone else forum
        if not alive:
            return None
        if target == "largest":
            return max(alive, key=lambda f: (f.members, -f.id))
        if target == "random":
            return alive[int(self.streams.interventions.integers(len(alive)))]
        return max(alive, key=lambda f: (self.shared_members(f), -f.id))

    def shared_members(self, forum: Forum) -> int:
        """Members of `forum` who also belong to another forum still there (its centrality
        in the forum overlap network)."""
        members = self.members_of(forum)
        others = [f.id for f in self.fora if f is not forum and not f.gone]
        rows = np.take(self.memberships.row_of, members, axis=0)[:, others]
        return int((rows >= 0).any(axis=1).sum()) if others else 0

    def members_of(self, forum: Forum) -> np.ndarray:
        """People in the ecosystem with a current membership of `forum`."""
        table = self.memberships.table
        rows = np.flatnonzero(table.forum == forum.id)
        people = table.person[rows].astype(np.int64)
        current = self.memberships.row_of[people, forum.id] == rows
        people = people[current]
        return people[self.people.state[people] == State.ACTIVE]

    def record_event(self, intervention, forum: Forum | None) -> Event:
        """Start the record of a shock applied today."""
        event = Event(type=intervention.spec.type, day=self.day, index=intervention.index,
                      target=forum.name if forum is not None else None,
                      forum=forum.id if forum is not None else -1,
                      window=self.behaviour.rehoming_window_days)
        self.events.append(event)
        return event

    def take_down(self, forum: Forum, event: Event) -> None:
        """The forum goes offline for good; its recently active members are displaced;
        surviving staff may found a successor."""
        event.displace(self.recently_active_members(forum))
        forum.status, forum.ended, forum.infiltrated = Status.SEIZED, self.day, False
        self.takedowns += 1
        relocation.plan_successor(self, forum, event)
        forum.admins, forum.moderators = [], []  # a seized forum has no staff left

    def recently_active_members(self, forum: Forum) -> np.ndarray:
        """People in the ecosystem who visited `forum` within the rehoming window."""
        table = self.memberships.table
        rows = np.flatnonzero(table.forum == forum.id)
        recent = rows[table.last_visit[rows] >= self.day - self.behaviour.rehoming_window_days]
        people = table.person[recent].astype(np.int64)
        return people[self.people.state[people] == State.ACTIVE]

    def arrest(self, people: np.ndarray) -> np.ndarray:
        """Arrest people still in the ecosystem; they never act again. Returns who was."""
        people = np.unique(np.asarray(people, dtype=np.int64))
        people = people[self.people.state[people] == State.ACTIVE]
        relocation.desist(self, people, State.ARRESTED)
        return people

    def alarm(self) -> None:
        """Enforcement news: people turn cautious; admins hide member lists and activity."""
        self.cautious_until = self.day + int(self.behaviour.threat_days)
        for forum in self.fora:
            forum.hidden = True

    def deter(self) -> None:
        """A publicized takedown: activity drops for a while; the most risk-averse quit."""
        self.deterred_on = self.day
        p, b = self.people, self.behaviour
        active = np.flatnonzero(p.state == State.ACTIVE)
        quits = (self.streams.interventions.random(len(active))
                 < b.deterrence_desist_prob * p.risk_aversion[active])
        relocation.desist(self, active[quits])

    def deterrence(self) -> float:
        """Today's activity multiplier after a publicized takedown (1 = no effect)."""
        b = self.behaviour
        elapsed = self.day - self.deterred_on
        return 1.0 - b.deterrence_activity_drop * float(np.exp(-elapsed / b.threat_days))

    def add_forum(self, name: str, access: str, founder: int = -1) -> Forum:
        """A new forum comes online today."""
        forum = Forum(id=len(self.fora), name=name, access=policy(access), founded=self.day,
                      founder=founder, rng=self.streams.forum(name))
        self.memberships.ensure_forum_slot(forum.id)
        if forum.id >= self.known.shape[1]:
            self.known = np.hstack([self.known, np.zeros_like(self.known)])
        self.fora.append(forum)
        return forum

    # ----- day 0 ---------------------------------------------------------------------------
    def _set_up_fora(self) -> None:
        """Fora of the scenario with their staff and initial members (tenure up to a year)."""
        p, rng = self.people, self.rng
        n = p.n
        specs = self.config.fora
        order = rng.permutation(n)
        n_staff = sum(s.admins + s.moderators for s in specs)
        # Staff are drawn from the most skilled communicators (they run and post).
        talent = p.skill[order] * (p.communicate[order] > 0) + 1e-3 * p.skill[order]
        staff_pool = order[np.argsort(-talent, kind="stable")[:n_staff]].tolist()
        rest = order[~np.isin(order, staff_pool)].astype(np.int64)
        n_initial = int(round(self.behaviour.initial_registered_share * len(rest)))
        initial = rest[:n_initial]
        weights = np.array([s.size_weight for s in specs])
        homes = rng.choice(len(specs), size=n_initial, p=weights / weights.sum())
        for i, spec in enumerate(specs):
            forum = self.add_forum(spec.name, spec.access)
            # Most skilled first: the fora listed first (the larger ones) get the best staff,
            # and a forum's admins are its most skilled staff.
            admins = [staff_pool.pop(0) for _ in range(spec.admins)]
            mods = [staff_pool.pop(0) for _ in range(spec.moderators)]
            for group, rank in ((admins, Rank.ADMIN), (mods, Rank.MODERATOR)):
                group = np.array(group, dtype=np.int64)
                if len(group):
                    self.join(group, forum, rank, joined=-365)
            staff = np.array(admins + mods)
            pairs = np.array([(a, c) for a in staff for c in staff if a < c]).reshape(-1, 2)
            self.ties.interact(pairs[:, 0], pairs[:, 1], 0, strength=3.0)
            members = initial[homes == i]
            if len(members):
                self.join(members, forum, joined=-rng.integers(0, 365, len(members)))
        self.today = dict.fromkeys(DAILY_COUNTERS, 0)
        for forum in self.fora:
            forum.new_day()
        # Not-yet-registered people look for a forum at the entry rate.
        outside = p.state == State.OUTSIDE
        p.p_max[outside] = self.behaviour.entry_rate_per_day

    # ----- Mesa agents ---------------------------------------------------------------------------
    @property
    def persons(self) -> dict[int, Person]:
        """The Mesa agent of each person who entered the ecosystem (desisted and arrested
        people included), by person index; its class is the person's highest rank."""
        self._register_agents()
        return self._persons

    @property
    def agents(self) -> AbstractAgentSet:
        """Mesa's set of all agents (see `persons`)."""
        self._register_agents()
        return super().agents

    @property
    def agents_by_type(self) -> dict[type, AbstractAgentSet]:
        """Mesa's agents by class: `agents_by_type[VIP]` are the people whose class is VIP."""
        self._register_agents()
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        """The agent classes present."""
        self._register_agents()
        return super().agent_types

    def _register_agents(self) -> None:
        """Bring Mesa's agents in step with the people's arrays: an agent for each person
        who entered since the last call, a class change for each promotion.

        People enter and get promoted thousands of times a day, while Mesa's agents are
        read rarely (by tests, a data collector's agent reporters, a user), so the
        changes are queued (`_unregistered`) and applied at the next read, in one batch:
        a run that never reads its agents creates none, and a fork copies none."""
        if not self.__dict__.get("_unregistered"):
            return
        people = np.unique(np.concatenate(self._unregistered))
        self._unregistered = []
        newcomers: dict[type[Person], list[int]] = defaultdict(list)
        for person, rank in zip(people.tolist(), self.people.role[people].tolist(), strict=True):
            cls, agent = ROLE_CLASSES[rank], self._persons.get(person)
            if agent is None:
                newcomers[cls].append(person)
            elif type(agent) is not cls:
                agent.become(cls)
        for cls, indices in newcomers.items():
            self._add_persons(cls, indices)

    def _add_persons(self, cls: type[Person], indices: list[int]) -> None:
        """New agents of class `cls` for people `indices`, registered with Mesa."""
        persons, new = self._persons, cls.__new__
        if self._has_subscribers("agents", ModelSignals.AGENT_ADDED) or cls._datasets:
            for i in indices:  # someone observes registrations: through Mesa, one by one
                persons[i] = agent = cls(self, i)
                agent.unique_id = i + 1
            return
        # What `Agent.__init__` and `Model.register_agent` do, without a call per agent.
        if cls not in self._agents_by_type:
            self._agents_by_type[cls] = type(self._all_agents)([], random=self.random)
        add_to_all, add_to_class = self._all_agents.add, self._agents_by_type[cls].add
        for i in indices:
            agent = new(cls)
            agent.model, agent.unique_id, agent.pos, agent.index = self, i + 1, None, i
            add_to_all(agent)
            add_to_class(agent)
            persons[i] = agent

    # ----- snapshots and forks -----------------------------------------------------------------
    def fork(self, interventions: list[InterventionSpec] | None = None) -> Ecosystem:
        """An independent copy of the whole model as it is now, to step on its own: people,
        fora, ties, shocks and their records, the data collected so far, Mesa's clock and
        agents, and the state of every random stream, so it continues exactly as this
        model would. With `interventions`, the copy continues under that list of shocks
        instead (see `replace_interventions`). A fork kept unstepped is a snapshot."""
        twin = copy.deepcopy(self)
        if interventions is not None:
            twin.replace_interventions(interventions)
        return twin

    def replace_interventions(self, specs: list[InterventionSpec]) -> None:
        """Continue under another list of shocks (e.g. a counterfactual without one of
        them). A shock whose spec is in both lists keeps its state (an infiltration under
        way keeps whom it identified) and its records in `events`, renumbered to its place
        in the new list; the others start afresh and act on those of their days still to
        come. Records of shocks no longer in the list stay in `events` with index -1."""
        kept = list(self.interventions)
        interventions, places = [], {}
        for index, spec in enumerate(specs):
            same = next((i for i in kept if i.spec == spec), None)
            if same is not None:
                kept.remove(same)
                places[same.index] = index
                same.index = index
            interventions.append(same or KINDS[spec.type](spec, index))
        for event in self.events:
            event.index = places.get(event.index, -1)
        self.interventions = interventions
        self.config = self.config.model_copy(update={"interventions": list(specs)})

    def __deepcopy__(self, memo: dict) -> Ecosystem:
        """`copy.deepcopy`, with the bulky parts copied the fast way: ties and collected
        rows by their containers (their items never change), Mesa agents not at all (the
        fork makes its own when they are first read, see `_register_agents`)."""
        twin = type(self).__new__(type(self))
        memo[id(self)] = twin
        for shared in (self.config, self.behaviour):  # immutable in use
            memo[id(shared)] = shared
        special = {"_persons", "_unregistered", "_all_agents", "_agents_by_type",
                   "subscribers", "ties", "datacollector", "_draw_buffer"}
        collecting = gc.isenabled()
        gc.disable()  # a copy makes many objects that all survive: nothing to collect
        try:
            for name, value in self.__dict__.items():
                if name not in special:
                    twin.__dict__[name] = copy.deepcopy(value, memo)
            twin.subscribers = defaultdict(list)  # a fork starts unobserved
            twin._draw_buffer = np.empty_like(self._draw_buffer)
            twin.ties = self.ties.copy()
            twin.datacollector = _copy_collector(self.datacollector)
            # The fork's Mesa agents are made when first read, like those of newcomers.
            twin._all_agents = type(self._all_agents)([], random=twin.random)
            twin._agents_by_type, twin._persons = {}, {}
            twin._unregistered = [np.flatnonzero(self.people.registered())]
            for cls, agents in self._agents_by_type.items():
                if not issubclass(cls, Person):  # agents a user added, copied as they are
                    for agent in agents:
                        clone = copy.deepcopy(agent, memo)
                        twin.register_agent(clone)
                        clone.unique_id = agent.unique_id
        finally:
            if collecting:
                gc.enable()
        return twin

    # ----- convenience -----------------------------------------------------------------------
    def forum(self, name: str) -> Forum:
        """The forum called `name`."""
        for forum in self.fora:
            if forum.name == name:
                return forum
        raise KeyError(name)

    def run(self, days: int | None = None) -> Ecosystem:
        """Step `days` days (default: the scenario's horizon)."""
        for _ in range(self.config.days if days is None else days):
            self.step()
        return self


def _copy_collector(collector: mesa.DataCollector) -> mesa.DataCollector:
    """A data collector with its own copy of the rows collected so far (the rows hold
    numbers and names, which never change)."""
    twin = copy.copy(collector)
    twin.model_vars = {name: list(values) for name, values in collector.model_vars.items()}
    twin.tables = {name: {column: list(values) for column, values in table.items()}
                   for name, table in collector.tables.items()}
    for name in ("_collection_steps", "_agent_records", "_agenttype_records"):
        setattr(twin, name, copy.deepcopy(getattr(collector, name)))
    return twin


def _today(name: str):
    return lambda m: m.today[name]


def _role_count(name: str):
    return lambda m: int(m.role_counts[name])


class RoleCounts(np.ndarray):
    """People in the ecosystem (state ACTIVE) by class: an array indexed by rank, as the
    model updates it in bulk, that also reads by role name (`counts["vips"]`), prints
    with its labels and converts with `as_dict()`."""

    def __new__(cls) -> RoleCounts:
        return np.zeros(len(ROLE_NAMES), dtype=np.int64).view(cls)

    def __getitem__(self, key):
        return super().__getitem__(ROLE_NAMES.index(key) if isinstance(key, str) else key)

    def as_dict(self) -> dict[str, int]:
        """{'lurkers': ..., 'members': ..., 'vips': ..., 'moderators': ..., 'admins': ...}"""
        return {name: int(n) for name, n in zip(ROLE_NAMES, np.asarray(self), strict=True)}

    def __repr__(self) -> str:
        return "RoleCounts(" + ", ".join(f"{k}={v}" for k, v in self.as_dict().items()) + ")"
