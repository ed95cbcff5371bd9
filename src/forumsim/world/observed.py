"""Day 0 from an observed community: the fora, memberships, ranks and reply ties of a
posts table (read and turned into numbers by `forumsim.experiment.start_from`), given to
people of the model's population.

Who is who: the population's traits are drawn as always; the observed posting authors,
most prolific first, become the people with the highest expected posting rate (daily
visit chance times chance to post on a visit), so that the heaviest posters stay the
heaviest; everyone else observed (lurkers) is a person drawn at random from the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from forumsim.world.forum import Rank

if TYPE_CHECKING:
    import mesa

UNKNOWN_DAY = np.iinfo(np.int32).min  # a registration day the table does not give
JOINED_SPREAD_DAYS = 365  # unknown registrations: up to a year before day 0, as the model's


@dataclass(frozen=True)
class ObservedStart:
    """A community up to day 0, as numbers. Observed people are numbered 0..people-1;
    each membership is a (person, forum) pair with its rank, posts before day 0, day of
    registration (UNKNOWN_DAY: not known) and day of its last post (-1: none); ties are
    distinct pairs with a weight and the days of their first and last reply; `recent[f]`
    are forum f's latest authors, oldest first."""

    fora: tuple[str, ...]
    people: int
    person: np.ndarray
    forum: np.ndarray
    rank: np.ndarray
    posts: np.ndarray
    joined: np.ndarray
    last_post: np.ndarray
    tie_a: np.ndarray
    tie_b: np.ndarray
    tie_weight: np.ndarray
    tie_formed: np.ndarray
    tie_last: np.ndarray
    recent: tuple[np.ndarray, ...]
    sha256: str = ""  # of the tables it was read from, for the run's provenance


def set_up(eco: mesa.Model, start: ObservedStart) -> np.ndarray:
    """Build day 0 of `eco` from `start`: its fora (access from the scenario's fora,
    which name them in the same order), memberships, ranks, homes and ties. Returns the
    person of each observed person."""
    names = tuple(spec.name for spec in eco.config.fora)
    if names != start.fora:
        raise ValueError("the scenario's fora are not those of its observed start")
    if start.people > eco.people.n:
        raise ValueError(f"{start.people} observed people do not fit a population of "
                         f"{eco.people.n}")
    fora = [eco.add_forum(spec.name, spec.access) for spec in eco.config.fora]
    who = _assign(eco, start)
    person = who[start.person]
    joined = start.joined.astype(np.int64)
    unknown = joined == UNKNOWN_DAY
    joined[unknown] = -eco.rng.integers(0, JOINED_SPREAD_DAYS, int(unknown.sum()))
    # Memberships, forum by forum in one batch each; the home forum is where the person
    # posted most (the first membership joined until then).
    rows = np.empty(len(person), dtype=np.int64)
    for forum_id, forum in enumerate(fora):
        here = np.flatnonzero(start.forum == forum_id)
        if len(here):
            eco.join(person[here], forum, joined=joined[here])
            rows[here] = eco.memberships.row_of[person[here], forum_id]
    table, p = eco.memberships.table, eco.people
    table.posts[rows] = start.posts
    table.last_visit[rows] = start.last_post
    _rank(eco, rows, person, start.rank)
    order = np.lexsort((start.forum, -start.posts.astype(np.int64), person))
    first = order[np.r_[True, person[order][1:] != person[order][:-1]]]
    p.home[person[first]] = start.forum[first]
    entered = np.full(p.n, np.iinfo(np.int32).max, dtype=np.int64)
    np.minimum.at(entered, person, joined)
    observed = _distinct(person, p.n)
    p.entered[observed] = entered[observed]
    eco.bound_activity(observed)
    eco.ties.recall(who[start.tie_a], who[start.tie_b], start.tie_weight, start.tie_formed,
                    start.tie_last)
    for forum, authors in zip(fora, start.recent, strict=True):
        forum.recent_authors = who[authors]
    eco.finish_day_zero()
    return who


def _assign(eco: mesa.Model, start: ObservedStart) -> np.ndarray:
    """The person of each observed person: posters by posting rate, the rest at random."""
    p = eco.people
    posts = np.bincount(start.person, weights=start.posts, minlength=start.people)
    posters = np.flatnonzero(posts > 0)
    posters = posters[np.argsort(-posts[posters], kind="stable")]
    rate = p.activity.astype(np.float64) * p.communicate
    # The len(posters) highest rates, highest first, ties by person index (as a stable
    # sort of everyone would give, without sorting everyone).
    k = len(posters)
    kth = -np.partition(-rate, k - 1)[k - 1] if k else np.inf
    above = np.flatnonzero(rate > kth)
    top = np.concatenate([above, np.flatnonzero(rate == kth)[: k - len(above)]])
    eager = top[np.lexsort((top, -rate[top]))]
    who = np.empty(start.people, dtype=np.int64)
    who[posters] = eager
    rest = np.ones(p.n, dtype=bool)
    rest[eager] = False
    others = np.flatnonzero(posts == 0)
    who[others] = eco.rng.permutation(np.flatnonzero(rest))[: len(others)]
    return who


def _distinct(people: np.ndarray, n: int) -> np.ndarray:
    """The people in `people`, each once, in index order (without sorting them)."""
    seen = np.zeros(n, dtype=bool)
    seen[people] = True
    return np.flatnonzero(seen)


def _rank(eco: mesa.Model, rows: np.ndarray, person: np.ndarray, rank: np.ndarray) -> None:
    """Give memberships their observed ranks: members and VIPs at once, staff through the
    model's own promotion (which keeps each forum's staff lists)."""
    table, p = eco.memberships.table, eco.people
    plain = (rank > Rank.LURKER) & (rank < Rank.MODERATOR)
    table.rank[rows[plain]] = rank[plain]
    table.full_access[rows[rank >= Rank.VIP]] = True
    np.maximum.at(p.role, person[plain], rank[plain].astype(p.role.dtype))
    for staff in (Rank.MODERATOR, Rank.ADMIN):
        eco.set_rank(rows[rank == staff], staff)
    active = _distinct(person, p.n)
    eco.role_counts[:] = np.bincount(p.role[active], minlength=len(eco.role_counts))
