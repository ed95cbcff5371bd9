"""People: the Mesa agent classes of the five roles and the arrays that hold their state.

A person's class is their highest rank on any forum (Lurker < Member < VIP < Moderator <
Admin); their rank on each forum is in their `Membership` there. What a role does lives in
its class. Because on a given day only a few percent of people act, and a Python call per
person would cost more than all of numpy's work, each behaviour is a classmethod acting on
a `Visits` batch: all of today's visits made at that rank, handled at once with numpy.
Per-person Python runs only on rare events (a promotion, an invitation, a founding).
"""

from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from forumsim.world.draws import Purpose
from forumsim.world.forum import Address, Membership, Rank
from forumsim.world.kernels import govern, stacked, visit

if TYPE_CHECKING:
    from forumsim.world.forum import Forum
    from forumsim.world.scenario import Behaviour


class State:
    """Where a person stands in the ecosystem."""

    OUTSIDE = 0  # not yet registered anywhere
    ACTIVE = 1
    DESISTED = 2
    ARRESTED = 3


class Population:
    """Traits and running totals of all people as arrays indexed by person. The traits
    (`TRAITS`) are drawn once and read-only, so forks of the model share them."""

    TRAITS = ("activity", "communicate", "share", "rule_breaking", "skill", "risk_aversion",
              "career_days")

    def __init__(self, n: int, behaviour: Behaviour,
                 stream: Callable[[str], np.random.Generator]) -> None:
        b = behaviour
        self.n = n
        self.state = np.full(n, State.OUTSIDE, dtype=np.int8)
        self.role = np.full(n, Rank.LURKER, dtype=np.int8)
        self.home = np.full(n, -1, dtype=np.int32)
        self.entered = np.full(n, -1, dtype=np.int32)
        self.posts = np.zeros(n, dtype=np.int32)
        self.shares = np.zeros(n, dtype=np.int32)
        self.thanks = np.zeros(n, dtype=np.int32)
        self.downloaded = np.zeros(n, dtype=bool)  # ever visited with full access
        # Replies received, decayed since the day of the last one (`replies_now`).
        self.replies = np.zeros(n, dtype=np.float32)
        self.replied_on = np.zeros(n, dtype=np.int32)
        # Each trait is drawn from its own named stream (`stream(name)`), so changing one
        # trait's parameter redraws nobody's other traits.
        # Daily visit probability: log-normal, so a few people are active almost daily.
        self.activity = np.minimum(
            b.activity_median_per_day * np.exp(b.activity_sigma
                                               * stream("activity").standard_normal(n)), 1.0
        ).astype(np.float32)
        communicator = stream("communicator").random(n) < b.communicator_share
        self.communicate = _propensity(stream("communicate"), communicator,
                                       b.post_prob_per_visit)
        # Sharing material is not public communication: sharers are drawn apart from
        # communicators (about 7% share, about 3.4% communicate, in different studies).
        sharer = stream("sharer").random(n) < b.sharer_share
        self.share = _propensity(stream("share"), sharer, b.share_prob_per_visit)
        breaker = stream("rule_breaker").random(n) < b.rule_breaker_share
        self.rule_breaking = _propensity(stream("rule_breaking"), breaker,
                                         b.rule_break_prob_per_post)
        self.skill = stream("skill").beta(2.0, 5.0, n).astype(np.float32)
        self.risk_aversion = stream("risk_aversion").beta(2.0, 2.0, n).astype(np.float32)
        # Drawn up front so that a person's career is the same in paired runs.
        self.career_days = (stream("career").exponential(b.career_days_mean, n)
                            .astype(np.float32) + 1.0)
        # Upper bound of each person's daily chance to act, for drawing the active set.
        self.p_max = np.zeros(n, dtype=np.float32)
        for name in self.TRAITS:
            getattr(self, name).flags.writeable = False

    def __deepcopy__(self, memo: dict) -> Population:
        """A copy with its own running state, sharing the read-only traits."""
        twin = Population.__new__(Population)
        for name, value in self.__dict__.items():
            twin.__dict__[name] = value if name in self.TRAITS else copy.deepcopy(value, memo)
        return twin

    def registered(self) -> np.ndarray:
        """Mask of people who ever registered on a forum."""
        return self.state != State.OUTSIDE

    def replies_now(self, people: np.ndarray, day: int, days: float) -> np.ndarray:
        """Replies each person received, each fading over `days` (e-folding time)."""
        return self.replies[people] * np.exp(-(day - self.replied_on[people]) / days)

    def add_replies(self, people: np.ndarray, day: int, days: float) -> None:
        """Each entry of `people` received one reply today."""
        people, counts = np.unique(people, return_counts=True)
        self.replies[people] = self.replies_now(people, day, days) + counts
        self.replied_on[people] = day


def _propensity(rng: np.random.Generator, who: np.ndarray, mean: float) -> np.ndarray:
    """Beta-distributed propensity with the given mean for `who`, zero for the rest.
    Everyone gets a draw, so a person's value does not depend on who else is in `who`."""
    value = np.zeros(len(who), dtype=np.float32)
    if 0.0 < mean < 1.0:
        a = 1.5
        draws = rng.beta(a, a * (1.0 - mean) / mean, len(who))
        value[who] = draws[who]
    elif mean >= 1.0:
        value[who] = 1.0
    return value


@dataclass
class Visits:
    """A batch of today's visits: who visited which forum, through which membership row."""

    people: np.ndarray
    forums: np.ndarray
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.people)

    def where(self, mask: np.ndarray) -> Visits:
        """The visits selected by a boolean mask."""
        return Visits(self.people[mask], self.forums[mask], self.rows[mask])

    def by_forum(self) -> Iterator[tuple[int, np.ndarray]]:
        """(forum id, visiting people) for each forum visited, in forum order."""
        if not len(self.forums):
            return
        # Forum ids fit in 16 bits (as in the membership table): numpy's stable sort of
        # those is a radix sort, in one pass.
        order = np.argsort(self.forums.astype(np.int16), kind="stable")
        forums, people = self.forums[order], self.people[order]
        starts = np.flatnonzero(np.diff(forums)) + 1
        for start, stop in zip([0, *starts.tolist()], [*starts.tolist(), len(forums)],
                               strict=True):
            yield int(forums[start]), people[start:stop]


class Person(mesa.Agent):
    """Someone who uses darkweb fora; the common base of the five role classes."""

    rank: ClassVar[Rank]

    def __init__(self, model: mesa.Model, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def state(self) -> int:
        return int(self.model.people.state[self.index])

    @property
    def home(self) -> int:
        return int(self.model.people.home[self.index])

    @property
    def traits(self) -> dict[str, float]:
        """The person's fixed traits."""
        p = self.model.people
        names = ("activity", "communicate", "share", "rule_breaking", "skill", "risk_aversion")
        return {name: float(getattr(p, name)[self.index]) for name in names}

    @property
    def memberships(self) -> list[Membership]:
        """Current memberships, one per forum."""
        table = self.model.memberships.table
        return [Membership(table, int(r)) for r in self.model.memberships.current_rows(self.index)]

    def become(self, cls: type[Person]) -> None:
        """Change class (promotion) keeping identity, traits, memberships and ties."""
        unique_id = self.unique_id
        self.model.deregister_agent(self)
        self.__class__ = cls
        self.model.register_agent(self)
        self.unique_id = unique_id

    @classmethod
    def visit(cls, eco: mesa.Model, visits: Visits) -> None:
        """All of today's visits at once, whatever the visitor's rank: everyone looks
        around and downloads (with full access); then each role does its part on the
        visits made at its rank (ranks as they were when the day's visits began). One
        pass over all visits keeps the cost per day independent of the number of roles."""
        ranks = eco.memberships.table.rank[visits.rows]
        full = eco.memberships.table.full_access[visits.rows]
        eco.today["downloads"] += int(np.count_nonzero(full))
        eco.people.downloaded[visits.people[full]] = True
        lurking = ranks == Rank.LURKER
        posting = Lurker.speak(eco, visits, lurking)
        Member.contribute(eco, visits, posting)
        Lurker.leave_if_dry(eco, visits.where(lurking & ~posting))
        Member.vouch_for_contacts(eco, visits.where(~lurking))
        VIP.enter_vip_area(eco, visits.where(ranks >= Rank.VIP))

    @classmethod
    def explorers(cls, eco: mesa.Model, visits: Visits) -> np.ndarray:
        """The few visitors who will also look for another forum whose address they know."""
        curious = eco.draws.chance(Purpose.EXPLORE, eco.day, visits.people,
                                   eco.behaviour.join_other_prob_per_visit)
        return visits.people[curious]


class Lurker(Person):
    """Visits and downloads, may share material (which is not posting), never posts; the
    first post makes them a Member there."""

    rank = Rank.LURKER

    @classmethod
    def speak(cls, eco: mesa.Model, visits: Visits, lurking: np.ndarray) -> np.ndarray:
        """Who posts on this visit (at `communicate`). A lurker who posts becomes a
        Member there first, and so posts as a member."""
        posting = eco.draws.chance(Purpose.POST, eco.day, visits.people,
                                   eco.people.communicate[visits.people])
        first = lurking & posting
        if first.any():
            eco.set_rank(visits.rows[first], Rank.MEMBER)
        return posting

    @classmethod
    def leave_if_dry(cls, eco: mesa.Model, visits: Visits) -> None:
        """A lurker who finds nothing fresh at home may leave the ecosystem for good."""
        b = eco.behaviour
        if not len(visits) or b.dry_leave_prob_per_visit == 0:
            return
        at_home = visits.forums == eco.people.home[visits.people]
        dry = at_home & (eco.pull[visits.forums] < b.dry_pull)
        leaving = dry & eco.draws.chance(Purpose.DRY, eco.day, visits.people,
                                         b.dry_leave_prob_per_visit)
        if leaving.any():
            eco.desist(visits.people[leaving])


class Member(Person):
    """Posts threads and replies, shares material, earns thanks, forms ties by replying."""

    rank = Rank.MEMBER

    @classmethod
    def vouch_for_contacts(cls, eco: mesa.Model, visits: Visits) -> None:
        """On closed fora, invite a contact now and then (the only way in): VIPs and staff
        at `invite_prob_per_visit`, members at `member_invite_factor` times that."""
        b = eco.behaviour
        closed = eco.by_invitation()[visits.forums]
        if not closed.any():
            return
        standing = eco.memberships.table.rank[visits.rows] >= Rank.VIP
        chance = b.invite_prob_per_visit * np.where(standing, 1.0, b.member_invite_factor)
        inviting = closed & eco.draws.chance(Purpose.INVITE, eco.day, visits.people, chance)
        if not inviting.any():
            return
        inviters = visits.people[inviting]
        owner, contacts = eco.ties.neighbours_of(inviters)
        forums = visits.forums[inviting][owner]
        # Only contacts in the ecosystem, not yet members and not banned there.
        eligible = ((eco.people.state[contacts] == State.ACTIVE)
                    & (eco.memberships.row_of[contacts, forums] < 0)
                    & (eco.known[contacts, forums] != Address.BANNED))
        owner, contacts, forums = owner[eligible], contacts[eligible], forums[eligible]
        if not len(owner):
            return
        # Each inviter picks one of their eligible contacts at random: the one with the
        # smallest draw, addressed by the pair (the same pick in paired runs while the
        # contact is eligible in both).
        key = eco.draws.uniform(Purpose.INVITE_PICK, eco.day, inviters[owner], contacts)
        order = np.lexsort((key, owner))
        picked = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
        picked = picked[Admin.vet_invitations(eco, contacts[picked], forums[picked])]
        eco.known[contacts[picked], forums[picked]] = Address.INVITED
        eco.invite(contacts[picked], forums[picked])

    @classmethod
    def contribute(cls, eco: mesa.Model, visits: Visits, posting: np.ndarray) -> None:
        """Posts (new threads or replies) of the `posting` visits, and shares, which
        anyone may make (lurkers too: sharing is not posting)."""
        people = eco.people
        posts = visits.where(posting)
        cls.post(eco, posts)
        sharing = eco.draws.chance(Purpose.SHARE, eco.day, visits.people,
                                   people.share[visits.people] * cls.status(eco, visits))
        cls.share(eco, visits.where(sharing))
        for forum_id, authors in visits.where(posting | sharing).by_forum():
            eco.fora[forum_id].remember_authors(authors)

    @classmethod
    def status(cls, eco: mesa.Model, visits: Visits) -> np.ndarray:
        """How much thanks received and VIP or staff rank raise sharing (1: not at all):
        the reward of sharing is status."""
        b, table = eco.behaviour, eco.memberships.table
        thanks = eco.people.thanks[visits.people]
        boost = 1.0 + b.thanks_share_boost * (1.0 - np.exp(-thanks / b.thanks_scale))
        return boost * np.where(table.rank[visits.rows] >= Rank.VIP, 1.0 + b.vip_share_boost, 1.0)

    @classmethod
    def post(cls, eco: mesa.Model, posts: Visits) -> None:
        """Count the posts, tie repliers to the people they answer (one of their forum's
        recent authors still there), queue rule violations."""
        if not len(posts):
            return
        b, draws, day, people = eco.behaviour, eco.draws, eco.day, eco.people
        authors, start = stacked([f.recent_authors for f in eco.fora])
        counts, repliers, answered, private, breaking = visit.post(
            posts.people, posts.forums, posts.rows, len(eco.fora), eco.memberships.table.posts,
            people.posts, people.state, eco.memberships.row_of, authors, start,
            b.reply_share, b.private_exchange_prob, people.rule_breaking,
            *draws.bases(day, Purpose.REPLY, Purpose.ANSWER, Purpose.AUTHOR_POINT,
                         Purpose.PRIVATE, Purpose.BREAK))
        eco.add_per_forum("posts", counts)
        if eco.post_log is not None:  # opt-in: every post with its thread (world/posts.py)
            eco.post_log.record(eco, posts, [repliers] if len(repliers) else [],
                                [answered] if len(answered) else [])
        if len(repliers):
            if eco.cautious:
                # After enforcement news people deal mostly with trusted contacts (ties still
                # strong after decay); a reply to anyone else rarely forms or feeds a tie.
                trusted = eco.ties.trusted(repliers, answered, eco.day)
                keep = trusted | draws.chance(Purpose.CAUTIOUS_TIE, day, repliers,
                                              b.threat_new_tie_factor)
                repliers, answered, private = repliers[keep], answered[keep], private[keep]
            # A private exchange after a reply makes the tie three times as strong.
            eco.ties.interact(repliers, answered, eco.day, strength=np.where(private, 3.0, 1.0))
            people.add_replies(answered, eco.day, b.material_days)
            eco.bound_activity(answered)  # replies raise their wish to come back
        for forum_id, row in zip(posts.forums[breaking].tolist(), posts.rows[breaking].tolist(),
                                 strict=True):
            eco.fora[forum_id].reports.append(row)

    @classmethod
    def share(cls, eco: mesa.Model, shares: Visits) -> None:
        """Shares: an application where access is limited, otherwise a contribution."""
        if not len(shares):
            return
        table = eco.memberships.table
        eco.people.shares[shares.people] += 1
        eco.count_per_forum("shares", shares.forums)
        full = table.full_access[shares.rows]
        for forum_id, row in zip(shares.forums[~full].tolist(), shares.rows[~full].tolist(),
                                 strict=True):
            eco.fora[forum_id].applications.append(row)
        cls.credit(eco, shares.rows[full])

    @classmethod
    def credit(cls, eco: mesa.Model, rows: np.ndarray) -> None:
        """A contribution counts as fresh material on its forum (more from VIPs and staff)
        and earns thanks, some from today's visitors (lurkers too), who become weakly
        tied to the sharer: how most non-posters come to have a contact. Enough
        contributions and thanks make a VIP."""
        if not len(rows):
            return
        b, table = eco.behaviour, eco.memberships.table
        visitors, start = stacked([f.visitors for f in eco.fora])
        material, thankers, thanked, earned = visit.credit(
            rows, table.person, table.forum, table.rank, table.contributions, table.thanks,
            eco.people.thanks, eco.forum_keys, len(eco.fora), b.thanks_per_share,
            float(np.exp(-b.thanks_per_share)), b.vip_material_weight, b.vip_contributions,
            b.vip_thanks, b.thanks_tie_prob, visitors, start,
            *eco.draws.bases(eco.day, Purpose.THANKS, Purpose.THANK_TIE, Purpose.THANKER,
                             Purpose.VISITOR_POINT))
        for forum_id in np.flatnonzero(material).tolist():
            eco.fora[forum_id].material_today += float(material[forum_id])
        if len(thankers):  # tied at the end of the day, all at once (`tie_thankers`)
            eco.thanks_given.append((thankers, thanked))
        if earned.any():
            eco.set_rank(rows[earned], Rank.VIP)

    @classmethod
    def tie_thankers(cls, eco: mesa.Model) -> None:
        """Today's thanks tie the thankers weakly to the sharers (after enforcement news,
        mostly among trusted contacts)."""
        if not eco.thanks_given:
            return
        thankers = np.concatenate([pair[0] for pair in eco.thanks_given])
        thanked = np.concatenate([pair[1] for pair in eco.thanks_given])
        eco.thanks_given = []
        if eco.cautious:
            keep = (eco.ties.trusted(thankers, thanked, eco.day)
                    | eco.draws.chance(Purpose.CAUTIOUS_THANK, eco.day, thankers,
                                       eco.behaviour.threat_new_tie_factor, thanked))
            thankers, thanked = thankers[keep], thanked[keep]
        eco.ties.interact(thankers, thanked, eco.day, strength=0.5)


class VIP(Member):
    """Contributed valuable material: VIP-area access, and may vouch for contacts."""

    rank = Rank.VIP

    @classmethod
    def enter_vip_area(cls, eco: mesa.Model, visits: Visits) -> None:
        """A visit at VIP rank or above also downloads from the VIP area."""
        eco.today["exclusive_downloads"] += len(visits)


class Moderator(VIP):
    """Staff: screens applicants and enforces rules within a limited daily capacity."""

    rank = Rank.MODERATOR

    @classmethod
    def screen_applicants(cls, eco: mesa.Model, forum: Forum, capacity: int) -> int:
        """Review queued contributions of applicants; accepted ones get full access."""
        if not forum.applications or capacity <= 0:
            return 0
        table = eco.memberships.table
        rows = np.array(_take(forum.applications, capacity), dtype=np.int64)
        people = table.person[rows].astype(np.int64)
        rows_now = rows[eco.memberships.row_of[people, forum.id] == rows]  # not banned since
        people = table.person[rows_now].astype(np.int64)
        # Accepted meanwhile: an ordinary contribution now.
        accepted = table.full_access[rows_now] | eco.draws.chance(
            Purpose.ACCEPT, eco.day, people, eco.behaviour.application_accept_prob, forum.key)
        table.full_access[rows_now[accepted]] = True
        Member.credit(eco, rows_now[accepted])
        return len(rows)

    @classmethod
    def enforce_rules(cls, eco: mesa.Model, forum: Forum, capacity: int) -> int:
        """Handle reported posts: warn, and ban after too many warnings."""
        table = eco.memberships.table
        rows = _take(forum.reports, capacity)
        for row in rows:
            if row < 0:
                continue  # a bot registration, cleared
            person = int(table.person[row])
            if eco.memberships.row_of[person, forum.id] != row or table.rank[row] >= Rank.MODERATOR:
                continue
            table.warnings[row] += 1
            if table.warnings[row] >= eco.behaviour.warnings_before_ban:
                eco.ban(person, forum)
        return len(rows)


class Admin(Moderator):
    """Runs a forum: keeps it online, recruits staff, cross-promotes, tightens access."""

    rank = Rank.ADMIN

    @classmethod
    def keep_online(cls, eco: mesa.Model, forum: Forum) -> None:
        """Outages are likelier when the forum's most skilled admin is less skilled and
        when it has lost staff; a forum left with too few staff may close."""
        b = eco.behaviour
        if forum.status == "down" and eco.day >= forum.down_until:
            forum.status = "online"
        if forum.online and forum.admins:
            skill = float(eco.people.skill[forum.admins].max())
            lost = forum.understaffing()
            # Draws addressed by the forum keep outages in step between paired runs.
            draws, day = eco.draws, eco.day
            outage, closing = (draws.one(Purpose.OUTAGE, day, forum.key),
                               draws.one(Purpose.CLOSURE, day, forum.key))
            length = _geometric(draws.one(Purpose.OUTAGE_LENGTH, day, forum.key),
                                1 / b.outage_days_mean)
            risk = b.outage_rate_per_day * (1.0 - skill) * (1.0 + b.understaffed_outage_factor
                                                            * lost)
            if outage < risk:
                forum.status = "down"
                forum.down_until = eco.day + length
            if forum.staff_peak > 1 and closing < b.understaffed_closure_per_day * lost * (
                    forum.staff_peak / (forum.staff_peak - 1)):
                eco.close(forum)

    @classmethod
    def vet_invitations(cls, eco: mesa.Model, people: np.ndarray,
                        forums: np.ndarray) -> np.ndarray:
        """Which of today's invitations (of `people` to closed fora `forums`) the admins
        let through: as many as their vetting capacity left, chosen at random; the rest
        are turned down. A closed forum's growth is therefore bounded by its admins, not
        by its size."""
        allowed = np.zeros(len(forums), dtype=bool)
        order = np.argsort(eco.draws.uniform(Purpose.VET, eco.day, people), kind="stable")
        for forum_id in np.unique(forums).tolist():
            forum = eco.fora[forum_id]
            mine = order[forums[order] == forum_id]
            passed = mine[: int(forum.vetting_left)]
            allowed[passed] = True
            forum.vetting_left -= len(passed)
        return allowed

    @classmethod
    def refill_vetting(cls, eco: mesa.Model, forum: Forum) -> None:
        """A day's vetting capacity for a closed forum's admins, kept for a week at most."""
        weekly = len(forum.admins) * eco.behaviour.vetting_per_admin_per_week
        forum.vetting_left = min(forum.vetting_left + weekly / 7.0, weekly)

    @classmethod
    def recruit_moderators(cls, eco: mesa.Model, forum: Forum) -> None:
        """Promote the best long-standing, trusted, active, skilled member when short of staff."""
        b, table = eco.behaviour, eco.memberships.table
        rows = np.flatnonzero((table.forum == forum.id) & (table.posts > 0))
        rows = rows[(eco.memberships.row_of[table.person[rows], forum.id] == rows)
                    & (eco.people.state[table.person[rows]] == State.ACTIVE)]
        needed = int(np.ceil(len(rows) / b.members_per_moderator))
        if len(forum.moderators) >= needed:
            return
        people = table.person[rows]
        eligible = ((table.rank[rows] <= Rank.VIP) & (table.rank[rows] >= Rank.MEMBER)
                    & (eco.day - table.joined[rows] >= b.moderator_min_tenure_days)
                    & (eco.people.state[people] == State.ACTIVE))
        if not eligible.any():
            return
        p = eco.people
        score = ((table.thanks[rows] + 1.0) * p.skill[people] * p.activity[people]
                 * (1.0 - p.rule_breaking[people]))
        best = rows[eligible][np.argmax(score[eligible])]
        eco.set_rank(np.array([best]), Rank.MODERATOR)

    @classmethod
    def cross_promote(cls, eco: mesa.Model, forum: Forum) -> None:
        """Today's visitors may learn the addresses of fora where this forum's admins are
        (a shared admin vouches for trusted members, VIPs and staff, on a closed one);
        those told go and register there if they may."""
        if not len(forum.visitors) or not forum.admins:
            return
        gone = eco.gone()
        closed = eco.by_invitation()
        told, counts = govern.cross_promote(
            forum.id, forum.visitors, np.array(forum.admins, dtype=np.int64),
            eco.memberships.row_of, eco.memberships.table.rank, gone, closed, eco.forum_keys,
            eco.known, *eco.draws.bases(eco.day, Purpose.CROSS),
            eco.behaviour.cross_promotion_prob)
        eco.visit_allies(told, np.repeat(np.arange(len(counts)), counts))

    @classmethod
    def tighten_access(cls, eco: mesa.Model, forum: Forum, backlog: bool) -> None:
        """An open forum whose staff stay swamped for long goes restricted."""
        forum.backlog_days = forum.backlog_days + 1 if backlog else 0
        if forum.infiltrated:
            return  # law enforcement keeps the doors open
        if forum.backlog_days >= eco.behaviour.tighten_backlog_days and forum.access.name == "open":
            eco.change_access(forum, "restricted")


def _geometric(u: float, p: float) -> int:
    """The number of daily trials up to the first success of chance `p`, from a uniform."""
    return 1 if p >= 1 else max(1, math.ceil(math.log1p(-u) / math.log1p(-p)))


def _take(queue: deque, capacity: int) -> list[int]:
    """Up to `capacity` items from the front of a staff work queue."""
    return [queue.popleft() for _ in range(min(capacity, len(queue)))]


ROLE_CLASSES: tuple[type[Person], ...] = (Lurker, Member, VIP, Moderator, Admin)
