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

from forumsim.world import observed, pull, relocation
from forumsim.world.access import policy, stricter
from forumsim.world.agents import (
    ROLE_CLASSES,
    Admin,
    Member,
    Moderator,
    Person,
    Population,
    State,
    Visits,
)
from forumsim.world.draws import Draws, Purpose, name_key
from forumsim.world.forum import Address, Forum, Memberships, Rank, Status
from forumsim.world.interventions import KINDS, Event, Intervention, build
from forumsim.world.kernels import choice
from forumsim.world.posts import PostLog
from forumsim.world.scenario import InterventionSpec, Scenario, embedded_scenario
from forumsim.world.ties import Ties


def trait_stream(seed: int):
    """The stream of each personal trait, by the trait's name. Each trait has its own, so a
    sweep that changes one trait's parameter leaves everyone's other traits as they were
    (common random numbers across a sweep's points)."""
    def stream(name: str) -> np.random.Generator:
        key = zlib.crc32(name.encode())
        return np.random.default_rng(np.random.SeedSequence([seed, 2_000_003, key]))
    return stream


INVITATION_DAYS = 90  # an invitation not taken up within this many days lapses
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

    def __init__(self, scenario: Scenario | None = None,
                 start: observed.ObservedStart | None = None) -> None:
        """The ecosystem of `scenario` at day 0: its fora with staff and members drawn
        from the population or, with `start` (needed when the scenario has
        `start_from`), the observed community's (`world/observed.py`)."""
        scenario = scenario or embedded_scenario()
        if (start is None) != (scenario.start_from is None):
            raise ValueError("a scenario with start_from needs its observed start (see "
                             "forumsim.experiment.start_from), and only such a scenario")
        super().__init__(rng=scenario.seed)
        self.config = scenario  # mesa.Model.scenario is Mesa's own
        # Every draw after day 0 is addressed by (purpose, day, who): see world/draws.py.
        self.draws = Draws(scenario.seed)
        self.behaviour = b = scenario.behaviour
        self.day = 0
        n = scenario.people
        self.people = Population(n, b, trait_stream(scenario.seed))
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
        self.pull = np.ones(0)  # what each forum offers against its usual (`world/pull.py`)
        self.offer = np.ones(0)  # and against the other fora
        self.forum_keys = np.zeros(0, dtype=np.int64)  # each forum's `key`, by id
        self.expected_material = 0.0
        # Invitations not yet taken up: who, to which forum, on which day.
        self._invited = np.empty((0, 3), dtype=np.int64)
        self.thanks_given: list[tuple[np.ndarray, np.ndarray]] = []  # today's, tied at night
        self._return_day = np.full(n, -1, dtype=np.int32)  # when the desisted come back
        self._active_history: list[int] = []
        self.post_log: PostLog | None = None  # set to a PostLog to keep every post
        # With an observed start: the person of each observed person.
        self.observed_people = None if start is None else observed.set_up(self, start)
        self.observed_sha256 = None if start is None else start.sha256
        if start is None:
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
                # A shock downed it (e.g. all staff arrested) only if it closes within
                # the days the shock is followed; a closure months later is not its own.
                for event in self.events:
                    if (event.forum == forum.id and not len(event.displaced)
                            and self.day <= event.day + event.window):
                        event.displace(self.recently_active_members(forum))
            if 0 <= forum.frozen_until <= self.day:
                forum.registrations_open, forum.frozen_until = True, -1
            if not forum.gone:
                Admin.keep_online(self, forum)
        self.act()
        self.govern()
        Member.tie_thankers(self)
        self.relocate()
        pull.update(self)
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
        visits, unplaced = self._choose_visits(active)
        offline = ~np.array([f.online for f in self.fora], dtype=bool)
        if offline.any():
            failed = offline[visits.forums]
            self.today["failed_visits"] += int(np.count_nonzero(failed))
            visits = visits.where(~failed)
        self.active_today = len(visits)
        self.memberships.table.last_visit[visits.rows] = self.day
        for event in self.events:
            event.follow(self, visits)
        for forum_id, people in visits.by_forum():
            self.fora[forum_id].visitors = people
        Person.visit(self, visits)
        # Newcomers, returners, the invited, people with no forum left and curious
        # visitors look for a forum.
        self._take_up_invitations(active)
        self.search_and_join(np.concatenate([relocation.newcomers(self),
                                             relocation.returners(self), unplaced,
                                             Person.explorers(self, visits)]))
        relocation.give_up(self, unplaced)
        self._active_history.append(self.active_today)

    def invite(self, people: np.ndarray, forums: np.ndarray) -> None:
        """`people[i]` is invited to forum `forums[i]`: they take it up on their next
        active day."""
        fresh = np.column_stack([people, forums, np.full(len(people), self.day)])
        self._invited = np.vstack([self._invited, fresh.astype(np.int64)])

    def _take_up_invitations(self, active: np.ndarray) -> None:
        """The invited who are active today register where they were invited (if they
        still may); the others keep their invitation for up to INVITATION_DAYS."""
        if not len(self._invited):
            return
        pairs = self._invited
        is_active = np.zeros(self.people.n, dtype=bool)
        is_active[active] = True
        today = is_active[pairs[:, 0]]
        fresh = pairs[:, 2] > self.day - INVITATION_DAYS
        self._invited = pairs[~today & fresh]
        for forum_id in np.unique(pairs[today, 1]).tolist():
            people = np.unique(pairs[today & (pairs[:, 1] == forum_id), 0])
            relocation.join_if_allowed(self, people, self.fora[forum_id])

    def visit_allies(self, people: np.ndarray, allies: np.ndarray) -> None:
        """Visitors told of allied fora (`people[i]` of forum `allies[i]`) go and register
        there if they may."""
        relocation.join_where_allowed(self, people, allies)

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
            if forum.access.name == "closed":
                Admin.refill_vetting(self, forum)
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
            relocation.end_careers(self, ending[order])

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
        by the novelty of their registration and their visit factor (so the O(n) part is
        one comparison)."""
        p = self.people
        if self.day % 7 == 1:
            self._tighten_activity_bounds()
        # One number per person and day, addressed by both, so a person is active on the
        # same days in paired runs unless the shock changed their chance.
        candidates, draw = self.draws.below(Purpose.ACTIVITY, self.day, p.p_max,
                                            pull.largest_offer_factor(self))
        chance = np.minimum(p.activity[candidates] * self._novelty(candidates)
                            * pull.visit_factor(self, candidates), 1.0)
        if self.deterred_on is not None:
            chance *= self.deterrence()
        return candidates[draw < chance]

    def _tighten_activity_bounds(self) -> None:
        """Novelty only decays, so today's chance bounds the next days' (fewer rejections)."""
        self.bound_activity(np.flatnonzero(self.people.state == State.ACTIVE))

    def bound_activity(self, people: np.ndarray) -> None:
        """Set each person's bound of their chance to visit, before what forums offer:
        activity x novelty x community, none of which grows until their next reply or
        return (which set it again). Kept above 1 where it is: `_draw_active` multiplies
        it by today's largest offer factor."""
        p = self.people
        p.p_max[people] = (p.activity[people] * self._novelty(people)
                           * pull.community_factor(self, people))

    def _novelty(self, people: np.ndarray) -> np.ndarray:
        """The extra activity of having registered lately: 1 + novelty_boost, fading over
        novelty_days since each person entered the ecosystem."""
        b = self.behaviour
        return 1.0 + b.novelty_boost * np.exp(-(self.day - self.people.entered[people])
                                              / b.novelty_days)

    def _choose_visits(self, people: np.ndarray) -> tuple[Visits, np.ndarray]:
        """Each active person visits their home forum or, now and then, another forum they
        belong to, chosen by its offer (and, for the displaced, by where others went and
        what was announced); a better forum may become home. Returns the visits and the
        people who have no usable membership left."""
        gone = self.gone()
        # Most people belong to their home forum only: they go home, no choice to make.
        forums, rows, others = choice.homes(people, self.people.home, self.memberships.row_of,
                                            self.memberships.count, gone)
        unplaced = np.zeros(len(people), dtype=bool)
        if len(others):
            choosers = people[others]
            # The exponential numbers of the race among one's fora (`Draws.race`).
            clock = -np.log1p(-self.draws.grid(Purpose.CHOICE, self.day, choosers,
                                               self.forum_keys))
            forums[others], rows[others], unplaced[others] = choice.among(
                choosers, self.people.home, self.memberships.row_of, gone,
                self.offer, self.behaviour.home_loyalty, self.behaviour.drift_prob,
                relocation.displaced_bias(self, choosers), clock,
                *self.draws.bases(self.day, Purpose.LOYALTY, Purpose.DRIFT))
        placed = ~unplaced
        return Visits(people[placed], forums[placed], rows[placed]), people[unplaced]

    def count_per_forum(self, counter: str, forums: np.ndarray) -> None:
        """Add one to today's `counter` of each forum in `forums` (and the ecosystem's)."""
        self.add_per_forum(counter, np.bincount(forums, minlength=len(self.fora)))

    def add_per_forum(self, counter: str, counts: np.ndarray) -> None:
        """Add today's `counts` (by forum id) to each forum's `counter` and the ecosystem's."""
        self.today[counter] += int(counts.sum())
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
        day = self.day if joined is None else joined
        full = forum.access.full_access_on_join or rank >= Rank.VIP
        rows = self.memberships.add(people, forum.id, day, Rank.LURKER, full_access=full,
                                    invited=invited)
        self._count_registrations(forum, len(people))
        self._settle_in(people, forum.id, day)
        if rank > Rank.LURKER:
            self.set_rank(rows, rank)

    def join_each(self, people: np.ndarray, forums: np.ndarray, invited: np.ndarray) -> None:
        """Each of `people` registers today on their forum in `forums` (ids), as a lurker:
        what `join` does forum by forum in order of id, at once (people who search for
        a forum register on different ones)."""
        if not len(people):
            return
        order = np.argsort(forums.astype(np.int16), kind="stable")  # a radix sort
        people, forums, invited = people[order], forums[order], invited[order]
        full = np.array([f.access.full_access_on_join for f in self.fora], dtype=bool)
        self.memberships.add(people, forums, self.day, Rank.LURKER, full_access=full[forums],
                             invited=invited)
        counts = np.bincount(forums, minlength=len(self.fora))
        for forum_id in np.flatnonzero(counts).tolist():
            self._count_registrations(self.fora[forum_id], int(counts[forum_id]))
        self._settle_in(people, forums, self.day)

    def _count_registrations(self, forum: Forum, n: int) -> None:
        """`n` people just registered on `forum`: its counts and the day's."""
        forum.members += n
        forum.registered += n
        forum.registrations += n
        self.today["registrations"] += n

    def _settle_in(self, people: np.ndarray, forums: int | np.ndarray,
                   day: int | np.ndarray) -> None:
        """People who just registered (on `forums`, on `day`) know its address, make it
        home if they have none, and enter the ecosystem if they were outside."""
        p = self.people
        known = self.known[people, forums]
        self.known[people, forums] = np.maximum(known, Address.KNOWN)
        gone = self.gone()
        home = p.home[people]
        homeless = (home < 0) | gone[np.maximum(home, 0)]
        if not np.isscalar(forums) and len(people) > 1:
            # Someone registering on several fora makes the first one home, as they
            # would registering on them one by one.
            homeless &= _first_occurrences(people)
        p.home[people[homeless]] = forums if np.isscalar(forums) else forums[homeless]
        outside = p.state[people] == State.OUTSIDE
        if outside.any():
            self._enter(people[outside], day if np.isscalar(day) else np.asarray(day)[outside])

    def _enter(self, people: np.ndarray, entered: int | np.ndarray) -> None:
        """People enter the ecosystem: they become active and their career clock starts."""
        p = self.people
        p.state[people] = State.ACTIVE
        p.entered[people] = entered
        self.bound_activity(people)
        self.role_counts += np.bincount(p.role[people], minlength=len(self.role_counts))
        self._unregistered.append(people)
        careers = np.ceil(p.career_days[people]).astype(np.int64)
        # Careers are memoryless: people registered before day 0 get a fresh remainder.
        self.schedule_career_end(people, np.maximum(p.entered[people], self.day)
                                 + np.maximum(careers, 1))

    def schedule_career_end(self, people: np.ndarray, ends: np.ndarray) -> None:
        """Each of `people` desists on their day in `ends` (unless they carry on then);
        people whose careers end on the same day desist in the order they were set."""
        self._career_end[people] = ends
        self._career_order[people] = self._careers_set + np.arange(len(people))
        self._careers_set += len(people)

    def come_back(self, people: np.ndarray) -> None:
        """People who desisted return: active again with a new career, members again of
        the fora they still belong to."""
        p = self.people
        p.state[people] = State.ACTIVE
        self.bound_activity(people)
        self.role_counts += np.bincount(p.role[people], minlength=len(self.role_counts))
        n_fora = len(self.fora)
        back = np.count_nonzero(np.take(self.memberships.row_of, people, axis=0)[:, :n_fora] >= 0,
                                axis=0)
        for forum_id in np.flatnonzero(back).tolist():
            self.fora[forum_id].members += int(back[forum_id])
        self.schedule_career_end(people, self.day + self.new_careers(people))

    def new_careers(self, people: np.ndarray, index: int = 0) -> np.ndarray:
        """Days of a fresh career for each of `people`, starting today (at least one)."""
        careers = self.draws.exponential(Purpose.CAREER, self.day, people,
                                         self.behaviour.career_days_mean, index)
        return np.maximum(np.ceil(careers), 1).astype(np.int64)

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
            forum.staff_peak = max(forum.staff_peak, len(forum.staff))
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
            successor = forum.moderators[0] if forum.moderators else self._trusted_member(forum)
            if successor is not None:
                self.set_rank(np.array([self.memberships.row_of[successor, forum.id]]), Rank.ADMIN)
            else:
                forum.abandoned = True  # closes at the next status update (phase 2)

    def _trusted_member(self, forum: Forum) -> int | None:
        """The member with most thanks (at least `handover_min_thanks`) still in the
        ecosystem, who takes over a forum left without staff; None if nobody qualifies."""
        table = self.memberships.table
        rows = np.flatnonzero(table.forum == forum.id)
        people = table.person[rows].astype(np.int64)
        rows = rows[(self.memberships.row_of[people, forum.id] == rows)
                    & (self.people.state[people] == State.ACTIVE)
                    & (table.rank[rows] >= Rank.MEMBER) & (table.rank[rows] < Rank.MODERATOR)
                    & (table.thanks[rows] >= self.behaviour.handover_min_thanks)]
        if not len(rows):
            return None
        return int(table.person[rows[np.argmax(table.thanks[rows])]])

    def close(self, forum: Forum) -> None:
        """The forum closes for good today; its recently active members are displaced."""
        forum.abandoned = True

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

    def resolve_forum(self, target: str, key: int = 0) -> Forum | None:
        """The forum a shock (addressed by `key`) aims at: by name, or the largest / most
        central / a random forum among those not gone (None if there is none)."""
        alive = [f for f in self.fora if not f.gone]
        if target not in ("largest", "most_central", "random"):
            forum = self.forum(target)
            return None if forum.gone else forum
        if not alive:
            return None
        if target == "largest":
            return max(alive, key=lambda f: (f.members, -f.id))
        if target == "random":
            return alive[int(self.draws.one(Purpose.TARGET, self.day, key) * len(alive))]
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
        relocation.announce(self, forum, event)
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
        quits = self.draws.chance(Purpose.DETER, self.day, active,
                                  b.deterrence_desist_prob * p.risk_aversion[active])
        relocation.desist(self, active[quits])

    def desist(self, people: np.ndarray) -> None:
        """People leave the ecosystem (they may come back one day)."""
        relocation.desist(self, people)

    def deterrence(self) -> float:
        """Today's activity multiplier after a publicized takedown (1 = no effect)."""
        b = self.behaviour
        elapsed = self.day - self.deterred_on
        return 1.0 - b.deterrence_activity_drop * float(np.exp(-elapsed / b.deterrence_days))

    def add_forum(self, name: str, access: str, founder: int = -1) -> Forum:
        """A new forum comes online today."""
        forum = Forum(id=len(self.fora), name=name, access=policy(access), founded=self.day,
                      founder=founder, key=name_key(name))
        self.memberships.ensure_forum_slot(forum.id)
        if forum.id >= self.known.shape[1]:
            self.known = np.hstack([self.known, np.zeros_like(self.known)])
        self.fora.append(forum)
        self.pull = np.append(self.pull, 1.0)  # a new forum starts as an average one
        self.offer = np.append(self.offer, 1.0)
        self.forum_keys = np.append(self.forum_keys, forum.key)
        return forum

    # ----- day 0 ---------------------------------------------------------------------------
    def _set_up_fora(self) -> None:
        """Fora of the scenario with their staff and initial members (tenures as in a
        steady ecosystem)."""
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
                # Tenures as in an ecosystem that people have been entering at a steady
                # rate and leaving after careers of mean `career_days_mean` (exponential).
                tenure = rng.exponential(self.behaviour.career_days_mean, len(members))
                self.join(members, forum, joined=-np.minimum(tenure, 3650).astype(np.int64))
        self.finish_day_zero()

    def finish_day_zero(self) -> None:
        """Once day 0's fora and members are set up: clear its counters, queue the
        people not yet registered, and note what a visit is expected to offer."""
        p, rng = self.people, self.rng
        self.today = dict.fromkeys(DAILY_COUNTERS, 0)
        for forum in self.fora:
            forum.new_day()
        # Not-yet-registered people arrive as newcomers, in a random order (`relocation.newcomers`).
        # Each arrives when the ecosystem's cumulative entry intensity passes their epoch
        # (`relocation.newcomers`): the same people arrive in the same order in paired runs.
        outside = rng.permutation(np.flatnonzero(p.state == State.OUTSIDE))
        self._entry_queue, self._entry_next, self._entry_clock = outside, 0, 0.0
        self._entry_epochs = np.cumsum(self.draws.exponential(Purpose.ENTRY, 0, outside, 1.0))
        self.listed_at_start = sum(f.access.publicly_listed for f in self.fora)
        # What people expect a visit to offer: the material per visit of the day-0 members.
        registered = np.flatnonzero(p.state == State.ACTIVE)
        visits = float(p.activity[registered].sum())
        self.expected_material = float((p.activity[registered] * p.share[registered]).sum()
                                       / visits) if visits else 0.0
        pull.settle(self)

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
                   "subscribers", "ties", "datacollector"}
        collecting = gc.isenabled()
        gc.disable()  # a copy makes many objects that all survive: nothing to collect
        try:
            for name, value in self.__dict__.items():
                if name not in special:
                    twin.__dict__[name] = copy.deepcopy(value, memo)
            twin.subscribers = defaultdict(list)  # a fork starts unobserved
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
    def gone(self) -> np.ndarray:
        """Which fora (by id) are gone for good: seized or closed."""
        return np.array([f.gone for f in self.fora], dtype=bool)

    def by_invitation(self) -> np.ndarray:
        """Which fora (by id) only the invited may join: the closed ones, where members
        vouch for contacts and a shared admin vouches for the trusted."""
        return np.array([f.access.by_invitation for f in self.fora], dtype=bool)

    def registering(self) -> np.ndarray:
        """Which fora (by id) take registrations today: online, and not frozen."""
        return np.array([f.online and f.registrations_open for f in self.fora], dtype=bool)

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


def _first_occurrences(items: np.ndarray) -> np.ndarray:
    """Whether each item is the first of its value in `items`."""
    first = np.zeros(len(items), dtype=bool)
    first[np.unique(items, return_index=True)[1]] = True
    return first


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
