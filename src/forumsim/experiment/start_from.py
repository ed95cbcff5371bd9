"""Starting from an observed community (`start_from:` in a scenario, `forumsim run
--start-from`): a posts table, and its members table if given, read and checked as
`forumsim data check` reads them, turned into the numbers day 0 is built from
(`world/observed.py`). Every assumption is listed in docs/data.md, "Starting from an
observed community".
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forumsim.experiment.forum_data import SUFFIXES, DataError, load_community
from forumsim.world.forum import Rank
from forumsim.world.observed import UNKNOWN_DAY, ObservedStart
from forumsim.world.scenario import (
    PICKED,
    Scenario,
    ScenarioError,
    parse_scenario,
    unknown_target,
)

DEFAULT_ACCESS = "open"  # of a forum the scenario does not name
RECENT_AUTHORS = 200  # the latest authors a forum remembers (whom replies can answer)
MAX_FORA, MAX_NAME = 60, 40  # as a scenario's fora
MAX_PEOPLE = 20_000_000


@dataclass(frozen=True)
class Observed:
    """A posts table digested, whatever the scenario: one entry per membership (an author
    on a forum with posts there, or listed there by the members table), with local
    person and forum numbers, posts, the days (day 0: the day of the last post) of the
    first and last post (-1: none) and of registration (UNKNOWN_DAY: not given), and the
    rank the members table gives (-1: none it names); and the reply ties."""

    path: str
    authors: np.ndarray  # the pseudonym of each observed person
    fora: tuple[str, ...]  # by size, largest first
    ranked: np.ndarray  # per forum: the members table gives ranks there
    listed: np.ndarray  # per forum: the members table lists its members
    people: int
    person: np.ndarray
    forum: np.ndarray
    posts: np.ndarray
    first_post: np.ndarray
    last_post: np.ndarray
    registered: np.ndarray
    given_rank: np.ndarray
    tie_a: np.ndarray
    tie_b: np.ndarray
    tie_weight: np.ndarray
    tie_formed: np.ndarray
    tie_last: np.ndarray
    recent: tuple[np.ndarray, ...]
    sha256: str = ""  # of the tables' bytes (posts, then members), for provenance


def started(scenario: Scenario, source: str = "scenario") -> tuple[Scenario, ObservedStart]:
    """The scenario with its day 0 taken from its `start_from` table: its fora and
    population size replaced by the table's, and the observed start to build day 0 from.
    A bad table raises DataError naming file, row and column; a shock aimed at a forum
    the table does not have raises ScenarioError starting with `source`."""
    path = Path(scenario.start_from).absolute()
    observed = observe(path)
    b = scenario.behaviour
    specs = {spec.name: spec for spec in scenario.fora}
    rank, admins, moderators = _ranks(observed, scenario)
    posting = observed.posts > 0
    posters = np.bincount(observed.forum[posting], minlength=len(observed.fora))
    # Fora whose members the members table does not list get lurkers from the share.
    share = scenario.start_from_posting_share
    lurkers = np.where(observed.listed, 0,
                       np.round(posters * (1 - share) / share)).astype(np.int64)
    forum = np.concatenate([observed.forum, np.repeat(np.arange(len(lurkers)), lurkers)])
    added = int(lurkers.sum())
    person = np.concatenate([observed.person,
                             observed.people + np.arange(added, dtype=np.int64)])
    registered = int(observed.people + added)
    authors = len(np.unique(observed.person[posting]))
    people = max(10, registered,
                 math.ceil(registered / b.initial_registered_share)
                 if b.initial_registered_share > 0 else 0,
                 math.ceil(authors / b.communicator_share) if b.communicator_share > 0 else 0)
    if people > MAX_PEOPLE:
        raise DataError(f"{observed.path}: implies a population of {people:,} people, more "
                        f"than the {MAX_PEOPLE:,} a scenario may have.")
    sizes = np.bincount(forum, minlength=len(observed.fora))
    fora = [{"name": name, "access": specs[name].access if name in specs else DEFAULT_ACCESS,
             "size_weight": float(sizes[f]), "admins": int(min(max(admins[f], 1), 20)),
             "moderators": int(min(moderators[f], 200))}
            for f, name in enumerate(observed.fora)]
    data = scenario.model_dump(mode="json")
    data.update(fora=fora, people=people, start_from=str(path))
    resolved = parse_scenario(data, source=source)
    problem = unknown_target(resolved.interventions, list(observed.fora),
                             f"in the posts table {path}")
    if problem:
        raise ScenarioError(f"{source}: {problem}.")
    n_lurkers = np.zeros(added, dtype=np.int64)
    start = ObservedStart(
        fora=observed.fora, people=registered, person=person, forum=forum,
        rank=np.concatenate([rank, n_lurkers]).astype(np.int8),
        posts=np.concatenate([observed.posts, n_lurkers]).astype(np.int32),
        joined=np.concatenate([_joined(observed), np.full(added, UNKNOWN_DAY)]).astype(np.int32),
        last_post=np.concatenate([observed.last_post, n_lurkers - 1]).astype(np.int32),
        tie_a=observed.tie_a, tie_b=observed.tie_b, tie_weight=observed.tie_weight,
        tie_formed=observed.tie_formed, tie_last=observed.tie_last, recent=observed.recent,
        sha256=observed.sha256)
    return resolved, start


def _joined(observed: Observed) -> np.ndarray:
    """Day of registration: the members table's, or the first post's, whichever is
    earlier; none after day 0."""
    first = np.where(observed.first_post <= 0, observed.first_post, UNKNOWN_DAY)
    known = np.where(observed.registered != UNKNOWN_DAY, observed.registered, first)
    both = (observed.registered != UNKNOWN_DAY) & (observed.posts > 0)
    known[both] = np.minimum(observed.registered[both], observed.first_post[both])
    return np.where(known == UNKNOWN_DAY, known, np.minimum(known, 0))


def _ranks(observed: Observed, scenario: Scenario
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each membership's rank, and each forum's admins and moderators. Where the members
    table gives a forum's ranks, its staff and VIP words are used (anyone else: Member
    if they posted there, else Lurker) and a forum without an admin gets its top
    member as one. Elsewhere ranks follow from the posts: Member for a post, VIP at
    `vip_contributions` posts, and the most prolific posters are its staff, as many as
    the scenario's forum of that name has or else one admin and the moderators its
    admins would recruit (one per `members_per_moderator` posting members)."""
    b = scenario.behaviour
    specs = {spec.name: spec for spec in scenario.fora}
    n_fora = len(observed.fora)
    posts, forum = observed.posts, observed.forum
    ranked = observed.ranked[forum]
    rank = np.where(posts > 0, Rank.MEMBER, Rank.LURKER).astype(np.int64)
    rank[~ranked & (posts >= b.vip_contributions)] = Rank.VIP
    given = ranked & (observed.given_rank >= Rank.VIP)
    rank[given] = observed.given_rank[given]
    posters = np.bincount(forum[posts > 0], minlength=n_fora)
    admins = np.array([specs[name].admins if name in specs else 1
                       for name in observed.fora], dtype=np.int64)
    moderators = np.array([specs[name].moderators if name in specs
                           else math.ceil(posters[f] / b.members_per_moderator)
                           for f, name in enumerate(observed.fora)], dtype=np.int64)
    # Order each forum's members from the highest rank and most posts down: the top
    # ones are the staff where ranks come from the posts, and the admin of a ranked
    # forum that names none.
    order = np.lexsort((observed.person, observed.first_post, -posts, -rank, forum))
    start = np.searchsorted(forum[order], np.arange(n_fora))
    place = np.empty(len(order), dtype=np.int64)
    place[order] = np.arange(len(order)) - start[forum[order]]
    counted = ~ranked & (posts > 0)
    rank[counted & (place < admins[forum] + moderators[forum])] = Rank.MODERATOR
    rank[counted & (place < admins[forum])] = Rank.ADMIN
    has_admin = np.bincount(forum[rank == Rank.ADMIN], minlength=n_fora) > 0
    rank[ranked & ~has_admin[forum] & (place == 0)] = Rank.ADMIN
    for f in range(n_fora):  # the scenario's forum specs show the staff of day 0
        if observed.ranked[f]:
            here = forum == f
            admins[f] = np.count_nonzero(rank[here] == Rank.ADMIN)
            moderators[f] = np.count_nonzero(rank[here] == Rank.MODERATOR)
        else:
            admins[f] = min(admins[f], posters[f])
            moderators[f] = min(moderators[f], posters[f] - admins[f])
    return rank, admins, moderators


def observe(path: str | Path) -> Observed:
    """The digest of the tables at `path` (read once while the files are unchanged)."""
    path = Path(path).absolute()
    return _digest(str(path), _stamp(path))


def _files(path: Path) -> list[Path]:
    """The tables day 0 is built from: a posts table, or a folder's posts and members."""
    files = ([path / f"{kind}{suffix}" for kind in ("posts", "members") for suffix in SUFFIXES]
             if path.is_dir() else [path])
    return [f for f in files if f.is_file()]


def _stamp(path: Path) -> tuple:
    """What identifies the tables' contents for the cache: each file's size and time."""
    return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in _files(path))


def _contents_sha256(path: Path) -> str:
    """SHA-256 of the tables' bytes, file after file, each after its file name (not its
    folder or modification time, so a moved or touched table hashes the same)."""
    digest = hashlib.sha256()
    for file in _files(path):
        with file.open("rb") as handle:
            digest.update(file.name.encode() + b"\0")
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=2)
def _digest(path: str, stamp: tuple) -> Observed:
    """Read and check the tables at `path` (a posts table, or a folder holding posts and
    members tables) and digest them; cached while the files are unchanged (`stamp`)."""
    del stamp  # only part of the cache key
    community = load_community([path])  # a folder's events table is checked, not used
    posts, members = community.posts, community.members
    forum_names = _fora(posts, members)
    index = pd.Index(forum_names)
    if members is not None:
        members = members[index.get_indexer(members["forum"]) >= 0]
    labels = pd.concat([posts["author"], members["author"]]) if members is not None \
        else posts["author"]
    codes, uniques = pd.factorize(labels, sort=False)
    author = codes[: len(posts)].astype(np.int64)
    forum = index.get_indexer(posts["forum"]).astype(np.int64)
    n_fora, n_people = len(forum_names), len(uniques)
    times = posts["time"].dt.tz_localize(None).to_numpy().astype("datetime64[D]")
    day = (times - times[-1]).astype(np.int64)  # posts are in time order
    # Memberships from the posts: posts, first and last post per author and forum.
    key = author * n_fora + forum
    keys, first, counts = np.unique(key, return_index=True, return_counts=True)
    last = len(key) - 1 - np.unique(key[::-1], return_index=True)[1]
    if members is not None:
        member_key = codes[len(posts):].astype(np.int64) * n_fora + index.get_indexer(
            members["forum"])
        keys_all = np.union1d(keys, member_key)
    else:
        keys_all = keys
    at = np.searchsorted(keys_all, keys)
    n = len(keys_all)
    n_posts, first_post, last_post = (np.zeros(n, dtype=np.int64), np.full(n, 1, np.int64),
                                      np.full(n, -1, dtype=np.int64))
    n_posts[at], first_post[at], last_post[at] = counts, day[first], day[last]
    registered = np.full(n, UNKNOWN_DAY, dtype=np.int64)
    given_rank = np.full(n, -1, dtype=np.int64)
    ranked = listed = np.zeros(n_fora, dtype=bool)
    if members is not None:
        where = np.searchsorted(keys_all, member_key)
        time = members["time"].dt.tz_localize(None).to_numpy().astype("datetime64[D]")
        known = ~np.isnat(time)
        registered[where[known]] = (time[known] - times[-1]).astype(np.int64)
        given_rank[where] = _rank_words(members["rank"])
        listed = np.bincount(member_key % n_fora, minlength=n_fora) > 0
        ranked = np.bincount(member_key[members["rank"].to_numpy() != ""] % n_fora,
                             minlength=n_fora) > 0
    tie_a, tie_b, weight, formed, last_reply = _reply_ties(posts["parent"].to_numpy(),
                                                           author, day, n_people)
    recent = tuple(author[np.flatnonzero(forum == f)[-RECENT_AUTHORS:]] for f in range(n_fora))
    return Observed(path=path, authors=np.asarray(uniques, dtype=object), fora=forum_names,
                    ranked=ranked, listed=listed, people=n_people,
                    person=keys_all // n_fora, forum=keys_all % n_fora,
                    posts=n_posts, first_post=first_post, last_post=last_post,
                    registered=registered, given_rank=given_rank, tie_a=tie_a, tie_b=tie_b,
                    tie_weight=weight, tie_formed=formed, tie_last=last_reply, recent=recent,
                    sha256=_contents_sha256(Path(path)))


def _fora(posts: pd.DataFrame, members: pd.DataFrame | None) -> tuple[str, ...]:
    """The fora of the posts table, largest first (members, then name), each name checked
    for use in a scenario."""
    authors = posts.groupby("forum", sort=True)["author"].nunique()
    if members is not None:
        listed = members[members["forum"].isin(authors.index)].groupby("forum")["author"].size()
        authors = authors.combine(listed, max, fill_value=0)
    order = sorted(authors.index, key=lambda name: (-authors[name], name))
    if len(order) > MAX_FORA:
        raise DataError(f"{posts['source'].iloc[0]}: has {len(order)} fora; a scenario holds "
                        f"at most {MAX_FORA} (start from a table of fewer fora).")
    for name in order:
        if len(name) > MAX_NAME or name in PICKED:
            row = int(np.argmax((posts["forum"] == name).to_numpy()))
            why = (f"is longer than {MAX_NAME} characters" if len(name) > MAX_NAME else
                   "is a word shocks use to pick a forum on the day")
            raise DataError(f"{posts['source'].iloc[row]}, row {posts['row'].iloc[row]}, "
                            f"column forum: '{name[:40]}' {why}; rename the forum to start "
                            "from this table.")
    return tuple(order)


def _rank_words(words: pd.Series) -> np.ndarray:
    """The rank a members table's word names: Admin (admin, owner), Moderator (mod,
    staff), VIP (vip); -1 for any other word (a rank of ordinary members)."""
    text = words.str.lower()
    rank = np.full(len(text), -1, dtype=np.int64)
    rank[text.str.contains("vip", regex=False).to_numpy()] = Rank.VIP
    rank[(text.str.contains("mod", regex=False) | text.str.contains("staff", regex=False))
         .to_numpy()] = Rank.MODERATOR
    rank[(text.str.contains("admin", regex=False) | text.str.contains("owner", regex=False))
         .to_numpy()] = Rank.ADMIN
    return rank


def _reply_ties(parent: np.ndarray, author: np.ndarray, day: np.ndarray, n_people: int
                ) -> tuple[np.ndarray, ...]:
    """The reply network: authors tied when one replied to the other (replies to oneself
    left out), weighted by their replies, with the days of the first and last reply."""
    reply = np.flatnonzero(parent >= 0)
    a, b = author[reply], author[parent[reply]]
    keep = a != b
    a, b, when = a[keep], b[keep], day[reply][keep]
    pair = np.minimum(a, b) * n_people + np.maximum(a, b)
    # Replies are in time order: a pair's first occurrence is its first reply.
    keys, first, inverse = np.unique(pair, return_index=True, return_inverse=True)
    last = len(pair) - 1 - np.unique(pair[::-1], return_index=True)[1]
    weight = np.bincount(inverse, minlength=len(keys)).astype(np.float64)
    formed, last = when[first], when[last]
    return keys // n_people, keys % n_people, weight, formed, last

