"""Random numbers by address: every draw of the simulation is a function of (seed,
purpose, day, who, index), not the next number of a shared stream.

Two runs of one scenario and seed, one with a shock and one without (a paired
counterfactual), then make the same draw for every person, day and decision the shock
did not touch, however far their histories have parted: a person active on day 500 in
one run is active on day 500 in the other unless the shock changed their chance, and a
lurker who would post on a visit posts in both. With sequential streams the first
differing draw shifts every later one, and the measured effect of a shock drowns in
noise. This is the principle of counter-based generators (Salmon et al. 2011, Random123):
a draw is a keyed hash of its counter, here the output function of SplitMix64 (Steele,
Lea & Flood 2014), vectorised with numpy.

Choices among sets that differ between runs are made so that they too agree where they
can: a weighted choice is an exponential race (each option's key divided by its weight,
the smallest wins), keyed by the option, so removing one option changes only the choices
that went to it; picking one of a forum's people is consistent hashing (`pick_points`).
"""

from __future__ import annotations

import zlib
from enum import IntEnum

import numpy as np

from forumsim.world import hashing

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15  # the golden-ratio increment of SplitMix64
_UNIT = 1.0 / (1 << 53)


class Purpose(IntEnum):
    """What a draw decides. Each purpose has its own numbers, so adding a decision to the
    model leaves every other decision's draws as they were."""

    ACTIVITY = 1  # who is active today
    LOYALTY = 2  # a visit goes home
    CHOICE = 3  # which of one's fora to visit
    DRIFT = 4  # a better forum becomes home
    EXPLORE = 5  # a visitor looks for another forum
    POST = 6  # a visitor posts
    DRY = 7  # a lurker leaves a dry forum
    INVITE = 8  # a VIP or member invites a contact to a closed forum
    INVITE_PICK = 9  # which contact
    VET = 10  # the order in which admins vet invitations
    SHARE = 11  # a visitor shares material
    REPLY = 12  # a post replies to someone
    ANSWER = 13  # whom a reply answers
    AUTHOR_POINT = 14  # where an author sits on the forum's circle of recent authors
    CAUTIOUS_TIE = 15  # a reply to a stranger still ties while people are cautious
    PRIVATE = 16  # a reply leads to a private exchange
    BREAK = 17  # a post breaks the rules
    THANKS = 18  # how many thanks a contribution earns
    THANK_TIE = 19  # a thanks comes from one of today's visitors
    THANKER = 20  # which visitor
    VISITOR_POINT = 21  # where a visitor sits on the forum's circle of visitors
    CAUTIOUS_THANK = 22  # a thanks to a stranger still ties while people are cautious
    ACCEPT = 23  # staff accept an application
    CROSS = 24  # a visitor learns an allied forum's address
    JOIN = 25  # which forum someone looking for one registers on
    GIVE_UP = 26  # a displaced person with nowhere to go gives up
    CARRY_ON = 27  # someone whose career ends carries on
    CAREER = 28  # the length of a new career
    RETURN = 29  # when someone who desisted comes back
    ENTRY = 30  # when a newcomer arrives
    DETER = 31  # a risk-averse person quits after a publicized takedown
    OUTAGE = 32  # a forum goes down today
    OUTAGE_LENGTH = 33
    CLOSURE = 34  # an understaffed forum closes today
    SUCCESSOR = 35  # surviving staff plan a successor
    STRICTER = 36  # the successor is stricter
    FOUNDING = 37  # someone founds a forum today
    FOUNDER = 38  # who
    FOUNDED_ACCESS = 39  # its access regime
    TARGET = 40  # a shock's randomly picked forum
    ARRESTS = 41  # a shock's choice of people (a generator of its own)
    SEIZED_DATA = 42  # seized data identifies a member
    IDENTIFY = 43  # an infiltration identifies a visitor
    DETECT = 44  # staff detect an infiltration


def name_key(name: str) -> int:
    """A stable number for a name (a forum's), to address its draws: the same forum has
    the same key in paired runs even when other fora were founded in another order."""
    return zlib.crc32(name.encode())


def _mix_int(z: int) -> int:
    """SplitMix64's output function on a Python integer."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


class Draws:
    """The random numbers of one run, addressed by (purpose, day, who, index). Stateless
    beyond the seed, so a fork of the model draws exactly as the model would."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._key = _mix_int((seed * GAMMA + 0x5851F42D4C957F2D) & MASK)
        self._day, self._bases = None, {}  # the bases of one day, as they are asked for

    def _base(self, purpose: int, day: int) -> int:
        """The counter every draw of (purpose, day) starts from."""
        if day != self._day:
            self._day, self._bases = day, {}
        base = self._bases.get(purpose)
        if base is None:
            z = _mix_int((self._key + purpose * GAMMA) & MASK)
            base = self._bases[purpose] = _mix_int((z + (day + 1) * GAMMA) & MASK)
        return base

    def bases(self, day: int, *purposes: int) -> tuple[np.uint64, ...]:
        """The bases of `purposes` on `day`, for the compiled kernels."""
        return tuple(np.uint64(self._base(purpose, day)) for purpose in purposes)

    def uniform(self, purpose: int, day: int, who: np.ndarray,
                index: np.ndarray | int | None = None) -> np.ndarray:
        """Uniform numbers in [0, 1), one per entry of `who` (a person, a forum's key, or
        0 for the whole ecosystem) and, if given, of `index` (the option or item the draw
        is about: one for all, or one per entry)."""
        base = np.uint64(self._base(purpose, day))
        who = np.ascontiguousarray(who, dtype=np.int64)
        if index is None:
            return hashing.uniform(base, who)
        if np.ndim(index) == 0:  # one index for all (a forum's key, say)
            return hashing.uniform_pairs(base, who, np.full(who.shape, index, dtype=np.int64))
        index = np.broadcast_to(np.asarray(index, dtype=np.int64), who.shape)
        return hashing.uniform_pairs(base, who, np.ascontiguousarray(index))

    def grid(self, purpose: int, day: int, who: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Uniform numbers for every pair of `who` (rows) and `index` (columns): the
        same number `uniform` gives for that pair."""
        return hashing.uniform_grid(np.uint64(self._base(purpose, day)),
                                    np.ascontiguousarray(who, dtype=np.int64),
                                    np.ascontiguousarray(index, dtype=np.int64))

    def below(self, purpose: int, day: int, bound: np.ndarray,
              factor: float) -> tuple[np.ndarray, np.ndarray]:
        """Everyone (person i for i < len(bound)) whose number today is below
        `bound[i] · factor`, with their numbers: what `uniform` over everyone would give,
        compared, without computing the numbers of those who cannot pass."""
        return hashing.below(np.uint64(self._base(purpose, day)),
                             np.ascontiguousarray(bound), float(factor))

    def chance(self, purpose: int, day: int, who: np.ndarray, p: np.ndarray | float,
               index: np.ndarray | int | None = None) -> np.ndarray:
        """Whether each event of probability `p` happens."""
        return self.uniform(purpose, day, who, index) < p

    def one(self, purpose: int, day: int, who: int = 0, index: int | None = None) -> float:
        """A single uniform number (for a forum's or the ecosystem's decision): the same
        as `uniform` gives for this `who` and `index`, computed without arrays."""
        z = _mix_int((int(who) * GAMMA + self._base(purpose, day)) & MASK)
        if index is not None:
            z = _mix_int((z + (int(index) + 1) * GAMMA) & MASK)
        return (z >> 11) * _UNIT

    def exponential(self, purpose: int, day: int, who: np.ndarray, mean: float,
                    index: np.ndarray | int | None = None) -> np.ndarray:
        """Exponential numbers of the given mean."""
        return -mean * np.log1p(-self.uniform(purpose, day, who, index))

    def poisson(self, purpose: int, day: int, who: np.ndarray, mean: float,
                index: np.ndarray | int | None = None) -> np.ndarray:
        """Poisson counts of the given (small) mean, by inverting the distribution
        function, so a person's count moves little when the mean does."""
        u = self.uniform(purpose, day, who, index)
        count = np.zeros(len(u), dtype=np.int64)
        if mean <= 0:
            return count
        term = cumulative = np.exp(-mean)
        k = 0
        undecided = u >= cumulative
        while undecided.any() and k < 1000:
            count[undecided] += 1
            k += 1
            term *= mean / k
            cumulative += term
            undecided &= u >= cumulative
        return count

    def race(self, purpose: int, day: int, who: np.ndarray, weight: np.ndarray,
             keys: np.ndarray) -> np.ndarray:
        """A weighted choice of one column per row of `weight` (rows: `who`; columns:
        options addressed by `keys`): the column whose exponential key divided by its
        weight is smallest. Zero weights never win; a row of zeros gives -1."""
        u = self.grid(purpose, day, who, keys)
        with np.errstate(divide="ignore"):
            time = -np.log1p(-u) / weight
        time[~(weight > 0)] = np.inf
        choice = np.argmin(time, axis=1)
        choice[~np.isfinite(time[np.arange(len(time)), choice])] = -1
        return choice

    def pick_points(self, purpose: int, day: int, points: np.ndarray, point_purpose: int,
                    who: np.ndarray, index: np.ndarray | int | None = None) -> np.ndarray:
        """For each `who`, one of `points` (people, repeats weighing more): consistent
        hashing, so that a point added or removed changes only the picks that fall next
        to it. Each point sits on a circle at a position drawn for it today (the k-th
        repeat of a person at its own); each `who` draws a position and takes the first
        point at or after it."""
        who = np.ascontiguousarray(who, dtype=np.int64)
        indexed = index is not None
        index = (np.ascontiguousarray(np.broadcast_to(np.asarray(index, dtype=np.int64),
                                                      who.shape)) if indexed else who)
        return hashing.pick_points(np.ascontiguousarray(points, dtype=np.int64),
                                   np.uint64(self._base(point_purpose, day)), who,
                                   np.uint64(self._base(purpose, day)), index, indexed)

    def generator(self, purpose: int, day: int, *index: int) -> np.random.Generator:
        """A numpy generator of its own for a decision that needs a library's sampler
        (e.g. the pivots of sampled betweenness), keyed like every other draw."""
        return np.random.default_rng([self.seed, int(purpose), day + 1, *index])
