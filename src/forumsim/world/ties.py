"""The social network of trust ties between people.

Ties are undirected and weighted. They form only when two people interact (a reply, a
private exchange after a reply, or working together as staff) and strengthen with each
further interaction; their effective strength halves every `half_life_days` without
contact, which decides who counts as a trusted contact after enforcement news.
"""

from __future__ import annotations

import copy

import networkx as nx
import numpy as np

from forumsim.world.table import Table


class Ties:
    """Trust ties: an edge table plus adjacency lists, updated only on interactions."""

    def __init__(self, n_people: int, half_life_days: float) -> None:
        self.n_people = n_people
        self.half_life_days = half_life_days
        self.edges = Table({"u": np.int32, "v": np.int32, "weight": np.float32,
                            "formed": np.int32, "last": np.int32})
        self._row: dict[int, int] = {}
        self._adjacent: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self.edges)

    def copy(self) -> Ties:
        """An independent copy (for a fork of the model)."""
        twin = Ties.__new__(Ties)
        twin.n_people, twin.half_life_days = self.n_people, self.half_life_days
        twin.edges = copy.deepcopy(self.edges)
        twin._row = dict(self._row)
        twin._adjacent = {person: list(others) for person, others in self._adjacent.items()}
        return twin

    def interact(self, a: np.ndarray, b: np.ndarray, day: int,
                 strength: float | np.ndarray = 1.0) -> int:
        """Record interactions between pairs (a[i], b[i]) of the given strength(s);
        returns how many ties were new."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        strength = np.broadcast_to(np.asarray(strength, dtype=np.float64), a.shape)
        keep = a != b
        lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
        keys, inverse = np.unique(lo * self.n_people + hi, return_inverse=True)
        added = np.bincount(inverse, weights=strength[keep], minlength=len(keys))
        row_of = self._row.get
        known = np.array([row_of(k, -1) for k in keys.tolist()], dtype=np.int64)
        old = known >= 0
        rows = known[old]
        self.edges.weight[rows] += added[old]
        self.edges.last[rows] = day
        fresh = keys[~old]
        if len(fresh):
            u, v = fresh // self.n_people, fresh % self.n_people
            new_rows = self.edges.append(u=u, v=v, weight=added[~old], formed=day, last=day)
            self._row.update(zip(fresh.tolist(), new_rows.tolist(), strict=True))
            adjacent = self._adjacent
            for x, y in zip(u.tolist(), v.tolist(), strict=True):
                adjacent.setdefault(x, []).append(y)
                adjacent.setdefault(y, []).append(x)
        return len(fresh)

    def neighbours(self, person: int) -> np.ndarray:
        """People tied to `person`."""
        return np.asarray(self._adjacent.get(int(person), ()), dtype=np.int64)

    def connected(self, people: np.ndarray) -> np.ndarray:
        """Which of `people` have at least one tie."""
        adjacent = self._adjacent
        return np.fromiter((p in adjacent for p in people.tolist()), dtype=bool,
                           count=len(people))

    def degree_of(self, people: np.ndarray) -> np.ndarray:
        """Number of ties of each of `people`."""
        adjacent = self._adjacent
        return np.fromiter((len(adjacent.get(p, ())) for p in people.tolist()), dtype=np.int64,
                           count=len(people))

    def has_tie(self, a: int, b: int) -> bool:
        """Whether `a` and `b` have ever interacted."""
        lo, hi = min(a, b), max(a, b)
        return lo * self.n_people + hi in self._row

    def trusted(self, a: np.ndarray, b: np.ndarray, day: int,
                threshold: float = 0.5) -> np.ndarray:
        """Whether each pair (a[i], b[i]) has a tie whose strength on `day`, after decay,
        is at least `threshold` (default: one interaction within the last half-life)."""
        lo, hi = np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)
        rows = np.array([self._row.get(k, -1) for k in (lo * self.n_people + hi).tolist()],
                        dtype=np.int64)
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
        return np.bincount(np.concatenate([self.edges.u, self.edges.v]),
                           minlength=self.n_people)

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
