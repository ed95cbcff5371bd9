"""Finding a forum (newcomers and the displaced), founding new fora, and desisting.

The market is semi-open: there is no search engine, so a person can only register on a
forum whose address they know: from the public link list (open and restricted fora),
from a forum they belong to (cross-promotion), or from a contact (an invitation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from forumsim.world.access import stricter
from forumsim.world.agents import State
from forumsim.world.draws import Purpose
from forumsim.world.forum import Address, Rank
from forumsim.world.kernels import join

if TYPE_CHECKING:
    from forumsim.world.forum import Forum


LEADER_WEIGHT = 5.0  # weight of a VIP's word in an announcement, against a member's presence


def search_and_join(eco: mesa.Model, people: np.ndarray) -> int:
    """Each person registers on one forum they know of and may enter, preferring large
    fora; returns how many registered. People with no such forum stay where they are."""
    people = np.unique(people)
    people = people[eco.people.state[people] <= State.ACTIVE]
    if not len(people):
        return 0
    n_fora = len(eco.fora)
    open_now = eco.registering()
    listed = np.array([f.access.publicly_listed for f in eco.fora])
    by_invitation = eco.by_invitation()
    contacts, vouchers = _contacts_on_fora(eco, people, n_fora)
    # The exponential numbers of the race among the fora (`Draws.race`).
    clock = -np.log1p(-eco.draws.grid(Purpose.JOIN, eco.day, people, eco.forum_keys))
    choice, invited = join.choose_forum(
        people, eco.known, eco.memberships.row_of, open_now, listed, by_invitation, contacts,
        vouchers, apparent_sizes(eco), eco.behaviour.contact_weight,
        displaced_bias(eco, people), clock)
    chosen = choice >= 0
    eco.join_each(people[chosen], choice[chosen], invited[chosen])
    return int(np.count_nonzero(chosen))


def apparent_sizes(eco: mesa.Model) -> np.ndarray:
    """Each forum's size as someone looking for a forum sees it: its members (plus one),
    and for a forum founded during the run, `new_forum_appeal` times the average forum's,
    fading over `novelty_days` (link lists announce new fora: early adopters come first)."""
    b = eco.behaviour
    size = np.array([f.members + 1.0 for f in eco.fora])
    founded = np.array([f.founded for f in eco.fora])
    if b.new_forum_appeal > 0 and (founded > 0).any():
        alive = ~eco.gone()
        typical = size[alive].mean() if alive.any() else 1.0
        fresh = founded > 0
        size[fresh] += (b.new_forum_appeal * typical
                        * np.exp(-(eco.day - founded[fresh]) / b.novelty_days))
    return size


def join_if_allowed(eco: mesa.Model, people: np.ndarray, forum: Forum) -> int:
    """`people` register on `forum` if it is open to them (see `join_where_allowed`);
    returns how many did."""
    return join_where_allowed(eco, people, np.full(len(people), forum.id, dtype=np.int64))


def join_where_allowed(eco: mesa.Model, people: np.ndarray, forums: np.ndarray) -> int:
    """`people[i]` registers on forum `forums[i]` if it is open to them (online,
    registrations open, not banned there, not yet members; on a closed forum only the
    invited), forum by forum in order of id; returns how many registrations there were."""
    if not len(people):
        return 0
    open_now = eco.registering()
    by_invitation = eco.by_invitation()
    known = eco.known[people, forums]
    invited = known == Address.INVITED
    allowed = (open_now[forums] & (eco.people.state[people] == State.ACTIVE)
               & (eco.memberships.row_of[people, forums] < 0) & (known != Address.BANNED)
               & (invited | ~by_invitation[forums]))
    eco.join_each(people[allowed], forums[allowed], invited[allowed])
    return int(np.count_nonzero(allowed))


def newcomers(eco: mesa.Model) -> np.ndarray:
    """Today's newcomers, next in line among those who never registered. People (re)enter
    the ecosystem at a daily rate of `entry_rate_per_day` x the population x its
    visibility (`visibility`), raised by recent growth, whatever is left of the pool;
    people who desisted and come back (`returners`) take their expected share of those
    places, the rest are newcomers. They arrive as a Poisson process: each person in line
    has an arrival epoch on the scale of the cumulative intensity, so a shock that changes
    the intensity changes when people arrive, not who arrives next."""
    b = eco.behaviour
    growth = 1.0
    history = eco._active_history
    if len(history) > 37:
        now, before = np.mean(history[-7:]), np.mean(history[-37:-30])
        if before > 0:
            growth += b.visibility_growth_weight * max(0.0, now / before - 1.0)
    entering = b.entry_rate_per_day * eco.people.n * visibility(eco) * growth
    returning = b.return_prob_per_day * np.count_nonzero(eco.people.state == State.DESISTED)
    start = eco._entry_next
    eco._entry_clock += max(entering - returning, 0.0)
    eco._entry_next = int(np.searchsorted(eco._entry_epochs, eco._entry_clock, side="right"))
    return eco._entry_queue[start:eco._entry_next]


def visibility(eco: mesa.Model) -> float:
    """How easily a would-be newcomer finds the ecosystem, against day 0: the chance that
    a search turns up at least one of the publicly listed fora online, each found with
    `link_find_prob`, 1 - (1 - p)^listed, divided by the same with day 0's listed fora.
    More listed fora help less and less; with none online, nobody new finds their way."""
    p = eco.behaviour.link_find_prob
    listed = sum(f.online and f.access.publicly_listed for f in eco.fora)
    found = 1.0 - (1.0 - p) ** listed
    at_start = 1.0 - (1.0 - p) ** eco.listed_at_start
    return found / at_start if at_start > 0 else float(listed > 0)


def returners(eco: mesa.Model) -> np.ndarray:
    """People who desisted and come back today (each on the day drawn when they left,
    `return_prob_per_day` a day); they look for a forum, starting from the ones they
    belonged to."""
    back = np.flatnonzero(eco._return_day == eco.day)
    back = back[eco.people.state[back] == State.DESISTED]
    if len(back):
        eco._return_day[back] = -1
        eco.come_back(back)
    return back


def displaced_bias(eco: mesa.Model, people: np.ndarray) -> np.ndarray:
    """Extra pull of each forum for each of `people` who was displaced by a shock still
    followed (1 for everyone else), up to a factor common to the person's row: (1 +
    `announcement_weight`) for the forum announced by the old forum's staff and VIPs,
    times exp(`herding_weight` x the share of the fellow displaced who went to that forum
    in the last `herding_days`), over every such shock.

    The herding term is a choice with social interactions (Brock and Durlauf 2001): the
    crowd's share enters the utility of a forum linearly, so its pull is exponential and
    the forum most of the crowd chose gains more than its share, concentrating where the
    displaced go. (A pull linear in the share would only keep the shares as they are.)"""
    n_fora = len(eco.fora)
    log_bias = np.zeros((len(people), n_fora))
    followed = False
    b = eco.behaviour
    for event in eco.events:
        pending = event.following(eco.day)
        if not len(pending):
            continue
        mine = np.isin(people, pending)
        if not mine.any():
            continue
        term = b.herding_weight * event.recent_destinations(eco.day, b.herding_days, n_fora)
        if event.rally >= 0:
            term[event.rally] += np.log1p(b.announcement_weight)
        log_bias[mine] += term
        followed = True
    if not followed:
        return np.ones_like(log_bias)  # the daily case: no shock is followed
    # Each choice weighs one person's fora against each other, so a factor common to a
    # row changes nothing: dividing by the row's largest keeps exp() finite however many
    # shocks are followed at once.
    return np.exp(log_bias - log_bias.max(axis=1, keepdims=True))


def announce(eco: mesa.Model, forum: Forum, event) -> None:
    """Surviving staff and VIPs of a downed forum tell its displaced where to go: the
    forum with most members in common with it, its VIPs counting `LEADER_WEIGHT` times
    and its staff twice that (the forum its leaders already share with many members)."""
    table = eco.memberships.table
    members = eco.members_of(forum)
    ranks = table.rank[eco.memberships.row_of[members, forum.id]]
    if not (ranks >= Rank.VIP).any():
        return  # nobody with standing is left to announce anything
    weight = np.select([ranks >= Rank.MODERATOR, ranks >= Rank.VIP],
                       [2 * LEADER_WEIGHT, LEADER_WEIGHT], 1.0)
    rows = np.take(eco.memberships.row_of, members, axis=0)[:, :len(eco.fora)] >= 0
    score = (rows * weight[:, None]).sum(axis=0)
    score[[f.id for f in eco.fora if f.gone or not f.online or f is forum]] = 0
    if score.max() <= 0:
        return
    event.rally = int(np.argmax(score))
    audience = event.displaced
    known = eco.known[audience, event.rally]
    eco.known[audience, event.rally] = np.where(known == Address.BANNED, known,
                                                np.maximum(known, Address.KNOWN))


def end_careers(eco: mesa.Model, people: np.ndarray) -> None:
    """Careers that end today end, except for the loyal: VIPs and staff carry on with
    probability `status_retention`, embedded people with 1 - exp(-tie_retention x e),
    e their ties weighed by their strength now (`Ties.embeddedness`); those who carry on
    start another career."""
    b, p = eco.behaviour, eco.people
    people = people[p.state[people] == State.ACTIVE]
    if not len(people):
        return
    status = np.where(p.role[people] >= Rank.VIP, b.status_retention, 0.0)
    embedded = 1.0 - np.exp(-b.tie_retention * eco.ties.embeddedness(people, eco.day))
    stays = eco.draws.chance(Purpose.CARRY_ON, eco.day, people,
                             1.0 - (1.0 - status) * (1.0 - embedded))
    if stays.any():
        eco.schedule_career_end(people[stays], eco.day + eco.new_careers(people[stays], 1))
    desist(eco, people[~stays])


def _contacts_on_fora(eco: mesa.Model, people: np.ndarray,
                      n_fora: int) -> tuple[np.ndarray, np.ndarray]:
    """For each person and forum: how many of their contacts are members there, and how
    many of those are VIPs or staff (who can vouch for them)."""
    return join.contacts_on_fora(people, n_fora, *eco.ties.adjacency(), eco.people.state,
                                 eco.memberships.row_of, eco.memberships.table.rank)


def found_forum(eco: mesa.Model, founder: int, access: str, name: str | None = None) -> int:
    """`founder` opens a new forum as its admin and tells their contacts; returns its id."""
    if name is None:  # numbered apart from successors, so names match in paired runs
        eco.new_fora += 1
        name = f"New forum {eco.new_fora}"
    forum = eco.add_forum(name, access, founder=founder)
    eco.founded_count += 1
    eco.join(np.array([founder]), forum, rank=Rank.ADMIN)
    contacts = eco.ties.neighbours(founder)
    contacts = contacts[eco.known[contacts, forum.id] != Address.BANNED]
    tell = Address.INVITED if access == "closed" else Address.KNOWN
    eco.known[contacts, forum.id] = np.maximum(eco.known[contacts, forum.id], tell)
    return forum.id


def maybe_found_forum(eco: mesa.Model) -> int | None:
    """Now and then a skilled, active person founds a new forum (weighted by skill)."""
    b, day = eco.behaviour, eco.day
    if eco.draws.one(Purpose.FOUNDING, day) >= b.founding_rate_per_day:
        return None
    p = eco.people
    candidates = np.flatnonzero((p.state == State.ACTIVE) & (p.skill >= b.founder_min_skill)
                                & (p.role >= Rank.MEMBER))
    if not len(candidates):
        return None
    # Weighted by skill: an exponential race, so the founder is the same in paired runs
    # whenever they are a candidate in both.
    clock = eco.draws.exponential(Purpose.FOUNDER, day, candidates, 1.0) / p.skill[candidates]
    founder = int(candidates[np.argmin(clock)])
    mix = b.new_forum_access
    # Each takedown halves the appeal of open access to founders.
    weights = np.array([mix.open * 0.5 ** eco.takedowns, mix.restricted, mix.closed])
    cumulative = np.cumsum(weights / weights.sum())
    pick = int(np.searchsorted(cumulative, eco.draws.one(Purpose.FOUNDED_ACCESS, day),
                               side="right"))
    access = ("open", "restricted", "closed")[min(pick, 2)]
    return found_forum(eco, founder, access)


def desist(eco: mesa.Model, people: np.ndarray, state: int = State.DESISTED) -> None:
    """People leave the ecosystem for good (or are arrested): they never act again."""
    p = eco.people
    people = people[p.state[people] == State.ACTIVE]
    if not len(people):
        return
    p.state[people] = state
    p.p_max[people] = 0.0
    if state == State.DESISTED and eco.behaviour.return_prob_per_day > 0:
        eco._return_day[people] = eco.day + _days_until_return(eco, people)
    # They no longer count as members of the fora they belonged to.
    n_fora = len(eco.fora)
    leaving = np.count_nonzero(np.take(eco.memberships.row_of, people, axis=0)[:, :n_fora] >= 0,
                               axis=0)
    for forum_id in np.flatnonzero(leaving).tolist():
        eco.fora[forum_id].members -= int(leaving[forum_id])
    eco.role_counts -= np.bincount(p.role[people], minlength=len(eco.role_counts))
    staff = people[p.role[people] >= Rank.MODERATOR]
    for person in staff.tolist():
        for forum in eco.fora:
            if person in forum.staff:
                eco.leave_staff(person, forum)


def _days_until_return(eco: mesa.Model, people: np.ndarray) -> np.ndarray:
    """Days until each of `people`, desisting today, comes back: geometric with daily
    chance `return_prob_per_day` (at least one; beyond any run's horizon is never)."""
    u = eco.draws.uniform(Purpose.RETURN, eco.day, people)
    days = np.ceil(np.log1p(-u) / np.log1p(-eco.behaviour.return_prob_per_day))
    return np.clip(days, 1, 10**9).astype(np.int32)


def give_up(eco: mesa.Model, people: np.ndarray) -> None:
    """Displaced people who still found no forum today may desist for good."""
    p = eco.people
    people = people[p.state[people] == State.ACTIVE]
    rows = np.take(eco.memberships.row_of, people, axis=0)[:, : len(eco.fora)]
    gone = eco.gone()
    stranded = people[~((rows >= 0) & ~gone).any(axis=1)]
    quits = eco.draws.chance(Purpose.GIVE_UP, eco.day, stranded,
                             eco.behaviour.displaced_desist_prob)
    desist(eco, stranded[quits])


def plan_successor(eco: mesa.Model, forum: Forum, event) -> None:
    """Staff of a downed forum may open a successor after a set-up time that is shorter
    for a more skilled founder."""
    b = eco.behaviour
    staff = [s for s in forum.staff if eco.people.state[s] == State.ACTIVE]
    if not staff or eco.draws.one(Purpose.SUCCESSOR, eco.day, forum.key) >= b.successor_prob:
        return
    skill = float(eco.people.skill[staff].max())
    delay = max(1, int(np.ceil(b.successor_delay_days * (1.0 - skill / 2.0))))
    eco._successors[eco.day + delay].append((forum, list(forum.staff), event))


def found_successor(eco: mesa.Model, old: Forum, staff: list[int],
                    audience: np.ndarray) -> Forum | None:
    """The most skilled surviving former staff member opens a successor (often stricter);
    the other survivors join its staff; they tell their contacts and announce it to the
    old forum's displaced members (`audience`) on the fora they moved to."""
    survivors = [s for s in staff if eco.people.state[s] == State.ACTIVE]
    if not survivors:
        return None
    survivors.sort(key=lambda s: (-float(eco.people.skill[s]), s))
    founder = survivors[0]
    access = old.access.name
    if eco.draws.one(Purpose.STRICTER, eco.day, old.key) < eco.behaviour.successor_stricter_prob:
        access = stricter(old.access).name
    lineage = old.name.split(" (")[0]
    generation = sum(f.name == lineage or f.name.startswith(f"{lineage} (") for f in eco.fora)
    forum = eco.fora[found_forum(eco, founder, access, name=f"{lineage} ({generation + 1})")]
    helpers = np.array(survivors[1:], dtype=np.int64)
    helpers = helpers[eco.memberships.row_of[helpers, forum.id] < 0]
    if len(helpers):
        eco.join(helpers, forum, rank=Rank.MODERATOR)
    tell = Address.INVITED if access == "closed" else Address.KNOWN
    audience = audience[eco.known[audience, forum.id] != Address.BANNED]
    eco.known[audience, forum.id] = np.maximum(eco.known[audience, forum.id], tell)
    for person in survivors[1:]:
        contacts = eco.ties.neighbours(person)
        contacts = contacts[eco.known[contacts, forum.id] != Address.BANNED]
        eco.known[contacts, forum.id] = np.maximum(eco.known[contacts, forum.id], tell)
    return forum
