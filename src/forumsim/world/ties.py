"""The social network of trust ties between people.

Ties are undirected and weighted. They form only when two people interact (a reply, a
private exchange after a reply, or working together as staff) and strengthen with each
further interaction; their strength halves every `half_life_days` (`weight` is the
strength on the day of the last contact), so a tie kept up by regular contact settles
at a level set by how often the two interact, and one left alone fades. That decides
who counts as a trusted contact after enforcement news, and how embedded a person is.
"""

from __future__ import annotations

import copy

import networkx as nx
import numpy as np

from forumsim.world.kernels import ties as kernels
from forumsim.world.table import Table

MERGE_AT = 4096  # recent ties kept apart from the indexed ones before a re-index


class Ties:
    """Trust ties: an edge table, updated only on interactions, with a sorted index of
    tie keys and per-person adjacency (CSR) rebuilt now and then; the ties formed since
    the last rebuild are kept in a small sorted run of their own (so a new tie costs no
    Python work per tie)."""

    def __init__(self, n_people: int, half_life_days: float) -> None:
        self.n_people = n_people
        self.half_life_days = half_life_days
        self.edges = Table({"u": np.int32, "v": np.int32, "weight": np.float32,
                            "formed": np.int32, "last": np.int32})
        self._degree = np.zeros(n_people, dtype=np.int32)
        self._indexed = 0  # rows [0, _indexed) are in the CSR and the main key run
        empty = np.empty(0, dtype=np.int64)
        self._keys, self._rows = empty, empty  # main run: sorted keys and their rows
        self._recent_keys, self._recent_rows = empty, empty  # rows from _indexed on
        self._recent_ends, self._recent_others = empty, empty  # their ends, sorted by end
        self._recent_edge_rows = empty  # the edge row of each of them
        self._start = np.zeros(n_people + 1, dtype=np.int64)
        self._adjacent = np.empty(0, dtype=np.int32)
        self._adjacent_rows = empty  # the edge row of each adjacency entry

    def __len__(self) -> int:
        return len(self.edges)

    def copy(self) -> Ties:
        """An independent copy (for a fork of the model)."""
        return copy.deepcopy(self)

    def _key(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        return np.minimum(a, b) * self.n_people + np.maximum(a, b)

    def _find(self, keys: np.ndarray) -> np.ndarray:
        """The row of each tie key, -1 where the two people have no tie."""
        return kernels.find(np.ascontiguousarray(keys, dtype=np.int64), self._keys, self._rows,
                            self._recent_keys, self._recent_rows)

    def interact(self, a: np.ndarray, b: np.ndarray, day: int,
                 strength: float | np.ndarray = 1.0) -> int:
        """Record interactions between pairs (a[i], b[i]) of the given strength(s);
        returns how many ties were new."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        strength = np.ascontiguousarray(np.broadcast_to(np.asarray(strength, dtype=np.float64),
                                                        a.shape))
        keys, added, known = kernels.tally(a, b, strength, self.n_people, self._keys,
                                           self._rows, self._recent_keys, self._recent_rows)
        old = known >= 0
        rows = known[old]
        # What is left of the tie since the last contact, and this contact on top.
        faded = np.exp2(-(day - self.edges.last[rows]) / self.half_life_days)
        self.edges.weight[rows] = self.edges.weight[rows] * faded + added[old]
        self.edges.last[rows] = day
        fresh = keys[~old]  # sorted, as np.unique returns them
        if len(fresh):
            u, v = fresh // self.n_people, fresh % self.n_people
            new_rows = self.edges.append(u=u, v=v, weight=added[~old], formed=day, last=day)
            (self._recent_keys, self._recent_rows, self._recent_ends, self._recent_others,
             self._recent_edge_rows) = kernels.file_new(
                self._recent_keys, self._recent_rows, self._recent_ends, self._recent_others,
                self._recent_edge_rows, fresh, new_rows, self.n_people, self._degree)
            if len(self._recent_keys) > max(MERGE_AT, self._indexed // 2):
                self._reindex()
        return len(fresh)

    def recall(self, a: np.ndarray, b: np.ndarray, weight: np.ndarray, formed: np.ndarray,
               last: np.ndarray) -> None:
        """Ties from before day 0 (an observed start): distinct pairs of different people,
        with their weight and the days of their first and last contact."""
        self.interact(a, b, 0, strength=weight)
        rows = self._find(self._key(a, b))
        self.edges.formed[rows] = formed
        self.edges.last[rows] = last

    def _reindex(self) -> None:
        """Fold the recent ties into the main key run and rebuild the adjacency."""
        at = np.searchsorted(self._keys, self._recent_keys)
        self._keys = np.insert(self._keys, at, self._recent_keys)
        self._rows = np.insert(self._rows, at, self._recent_rows)
        self._recent_keys = self._recent_rows = np.empty(0, dtype=np.int64)
        self._recent_ends = self._recent_others = np.empty(0, dtype=np.int64)
        self._recent_edge_rows = np.empty(0, dtype=np.int64)
        u, v = self.edges.u.astype(np.int64), self.edges.v.astype(np.int64)
        ends, others = np.concatenate([u, v]), np.concatenate([v, u]).astype(np.int32)
        order = np.argsort(ends, kind="stable")
        self._adjacent = others[order]
        self._adjacent_rows = np.tile(np.arange(len(u), dtype=np.int64), 2)[order]
        self._start = np.zeros(self.n_people + 1, dtype=np.int64)
        np.cumsum(np.bincount(ends, minlength=self.n_people), out=self._start[1:])
        self._indexed = len(u)

    def neighbours(self, person: int) -> np.ndarray:
        """People tied to `person`."""
        return self.neighbours_of(np.array([person], dtype=np.int64))[1]

    def neighbours_of(self, people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Everyone tied to any of `people`, as (index into `people`, neighbour) pairs,
        grouped by index in the order of `people`."""
        people = np.asarray(people, dtype=np.int64)
        if not len(people):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        owner, neighbour = _gather(self._start[people], self._start[people + 1],
                                   self._adjacent)
        if not len(self._recent_ends):
            return owner, neighbour
        # Ties formed since the last re-index, placed after each person's indexed ones.
        ends = self._recent_ends
        recent_owner, recent = _gather(np.searchsorted(ends, people, side="left"),
                                       np.searchsorted(ends, people, side="right"),
                                       self._recent_others)
        if not len(recent):
            return owner, neighbour
        indexed = np.bincount(owner, minlength=len(people))
        both = indexed + np.bincount(recent_owner, minlength=len(people))
        first = np.cumsum(both) - both  # where each person's neighbours begin
        merged = np.empty(len(owner) + len(recent), dtype=np.int64)
        merged[first[owner] + _rank_within(owner, indexed)] = neighbour
        merged[first[recent_owner] + indexed[recent_owner]
               + _rank_within(recent_owner, both - indexed)] = recent
        return np.repeat(np.arange(len(people)), both), merged

    def adjacency(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The tie index for compiled kernels: person p's indexed contacts are
        `adjacent[start[p]:start[p + 1]]`; the contacts of ties formed since, `others[i]`
        for every i with `ends[i] == p` (sorted by end). Returns (start, adjacent, ends,
        others)."""
        return self._start, self._adjacent, self._recent_ends, self._recent_others

    def embeddedness(self, people: np.ndarray, day: int) -> np.ndarray:
        """Each person's ties weighed by their strength on `day`, after decay since their
        last contact (a reply within the last half-life counts about 1): how embedded
        they are now, not how many people they ever met."""
        people = np.asarray(people, dtype=np.int64)
        owner, rows = _gather(self._start[people], self._start[people + 1],
                              self._adjacent_rows)
        ends = self._recent_ends
        if len(ends):
            recent_owner, recent_rows = _gather(np.searchsorted(ends, people, side="left"),
                                                np.searchsorted(ends, people, side="right"),
                                                self._recent_edge_rows)
            owner, rows = np.concatenate([owner, recent_owner]), np.concatenate([rows,
                                                                                recent_rows])
        age = day - self.edges.last[rows]
        strength = self.edges.weight[rows] * np.exp2(-age / self.half_life_days)
        return np.bincount(owner, weights=strength, minlength=len(people))

    def connected(self, people: np.ndarray) -> np.ndarray:
        """Which of `people` have at least one tie."""
        return self._degree[people] > 0

    def degree_of(self, people: np.ndarray) -> np.ndarray:
        """Number of ties of each of `people`."""
        return self._degree[people].astype(np.int64)

    def has_tie(self, a: int, b: int) -> bool:
        """Whether `a` and `b` have ever interacted."""
        return bool(self._find(self._key(np.array([a]), np.array([b])))[0] >= 0)

    def trusted(self, a: np.ndarray, b: np.ndarray, day: int,
                threshold: float = 0.5) -> np.ndarray:
        """Whether each pair (a[i], b[i]) has a tie whose strength on `day`, after decay,
        is at least `threshold` (default: one interaction within the last half-life)."""
        rows = self._find(self._key(a, b))
        found = rows >= 0
        strong = np.zeros(len(rows), dtype=bool)
        age = day - self.edges.last[rows[found]]
        strong[found] = self.edges.weight[rows[found]] * np.exp2(-age / self.half_life_days) \
            >= threshold
        return strong

    def strength(self, day: int) -> np.ndarray:
        """Effective weight of every tie on `day`, after decay since its last contact."""
        age = day - self.edges.last
        return self.edges.weight * np.exp2(-age / self.half_life_days)

    def degree(self) -> np.ndarray:
        """Number of ties of each person."""
        return self._degree.astype(np.int64)

    def to_networkx(self, people: np.ndarray | None = None, day: int | None = None) -> nx.Graph:
        """The tie graph (optionally restricted to `people`), edge attribute `weight`."""
        u, v = self.edges.u, self.edges.v
        weight = self.edges.weight if day is None else self.strength(day)
        if people is not None:
            inside = np.zeros(self.n_people, dtype=bool)
            inside[people] = True
            keep = inside[u] & inside[v]
            u, v, weight = u[keep], v[keep], weight[keep]
        graph = nx.Graph()
        if people is not None:
            graph.add_nodes_from(np.asarray(people).tolist())
        graph.add_weighted_edges_from(zip(u.tolist(), v.tolist(), weight.tolist(), strict=True))
        return graph



def _gather(start: np.ndarray, stop: np.ndarray, values: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """values[start[i]:stop[i]] for every i, as (i, value) pairs in order of i."""
    counts = stop - start
    owner = np.repeat(np.arange(len(start)), counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, values[np.repeat(start, counts) + offsets].astype(np.int64)


def _rank_within(owner: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each item's position among the items of its owner, for items grouped by owner
    (`counts`: items per owner)."""
    return np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
