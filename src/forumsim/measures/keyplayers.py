"""Who to arrest, and how badly removing them breaks the network.

Works on a networkx `Graph` whose nodes are integer person ids. Centralities use who
knows whom (hops) and ignore the `weight` of ties: a strong tie is not a long path.
All randomness comes from the numpy generator passed in, so the same generator state
gives the same targets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import networkx as nx
import numpy as np

GRAPH_STRATEGIES = (
    "random",
    "degree",
    "betweenness",
    "eigenvector",
    "fragmentation",
    "network_capital",
)


# --- how broken is the network ----------------------------------------------------------


def _pairs(size: int) -> int:
    """Ordered pairs of distinct people in a group of `size`."""
    return size * (size - 1)


def fragmentation(graph: nx.Graph) -> float:
    """Borgatti's F: the share of pairs of people who cannot reach each other at all.

    F = 1 - sum_k s_k (s_k - 1) / (n (n - 1)) over components of size s_k; 0.0 when
    there are fewer than two people.
    """
    n = graph.number_of_nodes()
    if n < 2:
        return 0.0
    reachable = sum(_pairs(len(c)) for c in nx.connected_components(graph))
    return 1.0 - reachable / _pairs(n)


def distance_fragmentation(graph: nx.Graph) -> float:
    """Borgatti's distance-weighted dF = 1 - sum_{i != j} (1 / d_ij) / (n (n - 1)).

    d_ij is the shortest path in hops and 1/d = 0 for unreachable pairs, so dF also
    rises when people stay connected only through long chains. Exact BFS from every
    node: O(n m), meant for small graphs (a forum's core, not the whole ecosystem).
    """
    n = graph.number_of_nodes()
    if n < 2:
        return 0.0
    closeness = 0.0
    for _, lengths in nx.all_pairs_shortest_path_length(graph):
        hops = np.fromiter(lengths.values(), dtype=float, count=len(lengths))
        closeness += float((1.0 / hops[hops > 0]).sum())
    return 1.0 - closeness / _pairs(n)


def component_sizes(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Sizes of the connected components of the graph with edges (u[i], v[i]), over the
    people on at least one edge (sparse, so large tie networks need no networkx graph)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    people, index = np.unique(np.concatenate([u, v]), return_inverse=True)
    if not len(people):
        return np.zeros(0, dtype=np.int64)
    edges = index.reshape(2, -1)
    adjacency = coo_matrix((np.ones(edges.shape[1]), (edges[0], edges[1])),
                           shape=(len(people), len(people)))
    _, labels = connected_components(adjacency, directed=False)
    return np.bincount(labels)


def fragmentation_of(sizes: np.ndarray) -> float:
    """Borgatti's F from component sizes (as `fragmentation`)."""
    n = int(sizes.sum())
    if n < 2:
        return 0.0
    sizes = sizes.astype(np.float64)
    return 1.0 - float((sizes * (sizes - 1)).sum()) / (n * (n - 1.0))


def giant_component_share(graph: nx.Graph) -> float:
    """Share of people in the largest connected component (0.0 for an empty graph)."""
    n = graph.number_of_nodes()
    if n == 0:
        return 0.0
    return max(len(c) for c in nx.connected_components(graph)) / n


# --- centralities -----------------------------------------------------------------------


def betweenness(
    graph: nx.Graph, rng: np.random.Generator, exact_max_nodes: int = 2000, samples: int = 500
) -> dict[int, float]:
    """Normalised betweenness centrality: exact up to `exact_max_nodes`, sampled above.

    The sampled version (Brandes & Pich 2007) runs shortest paths from `samples` random
    pivots instead of all n nodes and rescales, so it costs samples/n of the exact one.
    Each node's estimate is unbiased with a standard error shrinking like
    1/sqrt(samples); nodes whose betweenness stands out by more than that (the brokers
    a strategy targets) keep their rank, while the order among near-equal nodes is noisy.
    The pivots are drawn from `rng`; the exact version does not touch it.
    """
    n = graph.number_of_nodes()
    if n <= exact_max_nodes:
        return nx.betweenness_centrality(graph)
    return nx.betweenness_centrality(
        graph, k=min(samples, n), seed=int(rng.integers(2**31))
    )


def _degree_centrality(graph: nx.Graph) -> dict[int, float]:
    return nx.degree_centrality(graph) if graph.number_of_nodes() > 1 else dict.fromkeys(graph, 0.0)


def _eigenvector(graph: nx.Graph) -> dict[int, float]:
    """Eigenvector centrality, or degree centrality if power iteration does not converge."""
    if graph.number_of_edges() == 0:
        return dict.fromkeys(graph, 0.0)
    try:
        return nx.eigenvector_centrality(graph, max_iter=1000)
    except nx.PowerIterationFailedConvergence:
        return _degree_centrality(graph)


# --- greedy key-player removal ----------------------------------------------------------


def _pair_loss_on_removal(graph: nx.Graph, roots: Iterable[int]) -> dict[int, int]:
    """For each node in the components of `roots`: by how much removing it alone cuts the
    number of ordered reachable pairs, sum_k s_k (s_k - 1).

    One iterative depth-first search per component (Tarjan's cut-vertex test): a child
    subtree whose low-link does not climb above its parent is cut off by the parent's
    removal. That prices every node in O(n + m) instead of one component count per node.
    """
    pair_loss: dict[int, int] = {}
    discovery: dict[int, int] = {}
    for root in roots:
        if root in discovery:
            continue
        discovery[root] = len(discovery)
        low = {root: discovery[root]}
        subtree = {root: 1}
        cut_off_pairs: dict[int, int] = {root: 0}
        cut_off_people: dict[int, int] = {root: 0}
        component = [root]
        stack = [(root, None, iter(graph[root]))]
        while stack:
            node, parent, neighbours = stack[-1]
            for other in neighbours:
                if other == parent:
                    continue
                if other in discovery:
                    low[node] = min(low[node], discovery[other])
                    continue
                discovery[other] = low[other] = len(discovery)
                subtree[other], cut_off_pairs[other], cut_off_people[other] = 1, 0, 0
                component.append(other)
                stack.append((other, node, iter(graph[other])))
                break
            else:
                stack.pop()
                if parent is not None:
                    low[parent] = min(low[parent], low[node])
                    subtree[parent] += subtree[node]
                    if low[node] >= discovery[parent]:
                        cut_off_pairs[parent] += _pairs(subtree[node])
                        cut_off_people[parent] += subtree[node]
        size = len(component)
        for node in component:
            rest = size - 1 - cut_off_people[node]  # the piece still holding the root
            pair_loss[node] = _pairs(size) - cut_off_pairs[node] - _pairs(rest)
    return pair_loss


def _greedy_fragmentation(graph: nx.Graph, pool: list[int], k: int) -> list[int]:
    """Borgatti's greedy key-player set: repeatedly remove the pool member whose removal
    leaves the remaining graph most fragmented (highest F).

    Every remaining graph has the same n, so maximising F means cutting the most
    reachable pairs; each step prices all nodes exactly and re-prices only the component
    the removed node belonged to. Ties go to the higher current degree, then the lower id.
    """
    remaining = graph.copy()
    choosable = {node for node in pool if node in remaining}
    pair_loss = _pair_loss_on_removal(remaining, sorted(remaining))
    chosen: list[int] = []
    while choosable and len(chosen) < k:
        best = min(choosable, key=lambda v: (-pair_loss[v], -remaining.degree(v), v))
        neighbours = list(remaining[best])
        remaining.remove_node(best)
        choosable.discard(best)
        del pair_loss[best]
        pair_loss.update(_pair_loss_on_removal(remaining, neighbours))
        chosen.append(best)
    return chosen


# --- choosing targets -------------------------------------------------------------------


def _scores(
    strategy: str,
    graph: nx.Graph,
    rng: np.random.Generator,
    capital: Mapping[int, float] | None,
) -> dict[int, float]:
    if strategy == "network_capital":
        if capital is None:
            raise ValueError("the network_capital strategy needs a capital mapping")
        centrality = _degree_centrality(graph)
        return {v: float(capital.get(v, 0.0)) * c for v, c in centrality.items()}
    if strategy == "betweenness":
        return betweenness(graph, rng)
    if strategy == "eigenvector":
        return _eigenvector(graph)
    return _degree_centrality(graph)


def select_targets(
    strategy: str,
    graph: nx.Graph,
    k: int,
    rng: np.random.Generator,
    *,
    candidates: Iterable[int] | None = None,
    capital: Mapping[int, float] | None = None,
) -> list[int]:
    """Up to `k` distinct people to remove, chosen by `strategy` (one of GRAPH_STRATEGIES).

    Centralities are computed on the whole graph; `candidates` only restricts who may be
    chosen (e.g. the members of one forum). A candidate absent from the graph scores 0
    and is chosen after every positive score; equal scores go to the lower id.
    "eigenvector" falls back to degree when power iteration does not converge;
    "network_capital" is capital[v] (e.g. shares or thanks, missing = 0) times degree
    centrality; "fragmentation" is Borgatti's greedy key-player set.
    """
    if strategy not in GRAPH_STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {GRAPH_STRATEGIES}")
    if k < 0:
        raise ValueError(f"k must be non-negative, got {k}")
    # Sorted so that the choice does not depend on the order nodes were added in.
    pool = sorted(set(graph.nodes if candidates is None else candidates))
    k = min(k, len(pool))
    if strategy == "random":
        picked = rng.choice(len(pool), size=k, replace=False)
        return [int(pool[i]) for i in picked]
    if strategy == "fragmentation":
        chosen = _greedy_fragmentation(graph, pool, k)
        absent = [v for v in pool if v not in graph]
        return [int(v) for v in (chosen + absent)[:k]]
    score = _scores(strategy, graph, rng, capital)
    # Rounded so float noise from summation order cannot reorder genuinely equal scores.
    ranked = sorted(pool, key=lambda v: (-round(score.get(v, 0.0), 12), v))
    return [int(v) for v in ranked[:k]]
