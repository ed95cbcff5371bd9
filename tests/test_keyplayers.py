import networkx as nx
import numpy as np
import pytest

from forumsim.measures import keyplayers
from forumsim.measures.keyplayers import (
    GRAPH_STRATEGIES,
    betweenness,
    distance_fragmentation,
    fragmentation,
    giant_component_share,
    select_targets,
)


def clusters_joined_by_brokers() -> tuple[nx.Graph, list[int]]:
    """Five 10-cliques in a chain; each neighbouring pair is joined only through one broker
    tied to the last three people of one clique and the first three of the next. Returns
    the graph and the brokers' ids."""
    n_clusters, cluster_size = 5, 10
    graph = nx.Graph()
    for c in range(n_clusters):
        clique = nx.complete_graph(range(c * cluster_size, (c + 1) * cluster_size))
        graph.add_edges_from(clique.edges)
    brokers = []
    for c in range(n_clusters - 1):
        broker = n_clusters * cluster_size + c
        left = range((c + 1) * cluster_size - 3, (c + 1) * cluster_size)
        right = range((c + 1) * cluster_size, (c + 1) * cluster_size + 3)
        graph.add_edges_from((broker, p) for p in (*left, *right))
        brokers.append(broker)
    return graph, brokers


def without(graph: nx.Graph, removed: list[int]) -> nx.Graph:
    return graph.subgraph(set(graph) - set(removed))


# --- fragmentation measures -------------------------------------------------------------


def test_fragmentation_of_known_components():
    two_triangles = nx.disjoint_union(nx.complete_graph(3), nx.complete_graph(3))
    assert fragmentation(two_triangles) == pytest.approx(1 - 2 * 3 * 2 / (6 * 5))


def test_fragmentation_is_zero_for_a_connected_graph_and_one_without_ties():
    assert fragmentation(nx.path_graph(5)) == 0.0
    assert fragmentation(nx.empty_graph(5)) == 1.0
    assert fragmentation(nx.empty_graph(1)) == 0.0


def test_distance_fragmentation_of_a_path_counts_long_chains():
    # Ordered pairs of a 3-path: four at distance 1 and two at distance 2.
    assert distance_fragmentation(nx.path_graph(3)) == pytest.approx(1 - (4 + 2 * 0.5) / 6)


def test_distance_fragmentation_of_a_complete_graph_is_zero():
    assert distance_fragmentation(nx.complete_graph(6)) == pytest.approx(0.0)


def test_distance_fragmentation_of_people_without_ties_is_one():
    assert distance_fragmentation(nx.empty_graph(4)) == pytest.approx(1.0)


def test_giant_component_share_counts_the_largest_component():
    graph = nx.disjoint_union(nx.complete_graph(6), nx.path_graph(2))
    assert giant_component_share(graph) == pytest.approx(6 / 8)
    assert giant_component_share(nx.Graph()) == 0.0


# --- betweenness ------------------------------------------------------------------------


def top(scores: dict[int, float], k: int) -> set[int]:
    return set(sorted(scores, key=lambda v: (-scores[v], v))[:k])


def test_sampled_betweenness_is_reproducible_from_the_generator():
    graph = nx.barabasi_albert_graph(300, 2, seed=3)
    first = betweenness(graph, np.random.default_rng(5), exact_max_nodes=100, samples=50)
    again = betweenness(graph, np.random.default_rng(5), exact_max_nodes=100, samples=50)
    assert first == again


def test_sampled_betweenness_finds_most_of_the_exact_top_nodes():
    graph = nx.powerlaw_cluster_graph(600, 2, 0.3, seed=2)
    exact = betweenness(graph, np.random.default_rng(0))
    sampled = betweenness(graph, np.random.default_rng(0), exact_max_nodes=100, samples=150)
    assert len(top(exact, 10) & top(sampled, 10)) >= 8


@pytest.mark.slow
def test_sampled_betweenness_on_thousands_of_people_keeps_the_top_twenty():
    graph = nx.powerlaw_cluster_graph(3000, 2, 0.3, seed=1)
    exact = betweenness(graph, np.random.default_rng(0), exact_max_nodes=3000)
    sampled = betweenness(graph, np.random.default_rng(0), exact_max_nodes=2000, samples=500)
    # In six trials with different pivot draws the overlap was 18 to 20.
    assert len(top(exact, 20) & top(sampled, 20)) >= 15


# --- choosing targets -------------------------------------------------------------------


def test_betweenness_targeting_picks_the_brokers():
    graph, brokers = clusters_joined_by_brokers()
    targets = select_targets("betweenness", graph, len(brokers), np.random.default_rng(0))
    assert sorted(targets) == brokers


def test_betweenness_targeting_fragments_more_than_random():
    graph, brokers = clusters_joined_by_brokers()
    k = len(brokers)
    chosen = select_targets("betweenness", graph, k, np.random.default_rng(0))
    targeted = fragmentation(without(graph, chosen))
    random_f = [
        fragmentation(without(graph, select_targets("random", graph, k, np.random.default_rng(s))))
        for s in range(30)
    ]
    # Removing all four brokers leaves the five clusters apart: F = 1 - 5*90/(50*49) = 0.82.
    # The 30 random removals of four people averaged F = 0.10 (at most 0.65).
    assert targeted == pytest.approx(1 - 5 * 90 / (50 * 49))
    assert targeted > np.mean(random_f) + 0.5
    assert targeted > max(random_f)


def test_greedy_fragmentation_finds_the_cut_vertex_of_a_barbell_first():
    barbell = nx.barbell_graph(5, 1)  # two 5-cliques joined through node 5
    assert select_targets("fragmentation", barbell, 1, np.random.default_rng(0)) == [5]


def test_each_greedy_step_removes_the_node_that_fragments_most():
    graph = nx.powerlaw_cluster_graph(60, 1, 0.2, seed=4)
    targets = select_targets("fragmentation", graph, 5, np.random.default_rng(0))
    remaining = graph.copy()
    for target in targets:
        best = max(fragmentation(without(remaining, [v])) for v in remaining)
        assert fragmentation(without(remaining, [target])) == pytest.approx(best)
        remaining.remove_node(target)


def test_degree_targeting_picks_the_hub_of_a_star():
    star = nx.star_graph(6)
    assert select_targets("degree", star, 1, np.random.default_rng(0)) == [0]


def test_eigenvector_targeting_prefers_the_well_connected_core():
    graph = nx.disjoint_union(nx.complete_graph(5), nx.path_graph(3))
    targets = select_targets("eigenvector", graph, 5, np.random.default_rng(0))
    assert sorted(targets) == [0, 1, 2, 3, 4]


def test_eigenvector_falls_back_to_degree_when_it_does_not_converge(monkeypatch):
    def fail(*args, **kwargs):
        raise nx.PowerIterationFailedConvergence(1000)

    monkeypatch.setattr(keyplayers.nx, "eigenvector_centrality", fail)
    star = nx.star_graph(6)
    assert select_targets("eigenvector", star, 1, np.random.default_rng(0)) == [0]


def test_network_capital_weighs_contribution_by_degree():
    star = nx.star_graph(4)  # hub 0 has 4 ties, leaves 1 each
    capital = {0: 1.0, 3: 10.0}  # 0 scores 1 * 4/4, node 3 scores 10 * 1/4
    targets = select_targets("network_capital", star, 2, np.random.default_rng(0), capital=capital)
    assert targets == [3, 0]


def test_network_capital_needs_capital():
    with pytest.raises(ValueError, match="capital"):
        select_targets("network_capital", nx.path_graph(3), 1, np.random.default_rng(0))


@pytest.mark.parametrize("strategy", GRAPH_STRATEGIES)
def test_same_generator_state_gives_the_same_targets(strategy):
    graph = nx.powerlaw_cluster_graph(200, 2, 0.3, seed=9)
    capital = {v: float(v % 7) for v in graph}

    def choose(seed: int) -> list[int]:
        return select_targets(strategy, graph, 10, np.random.default_rng(seed), capital=capital)

    assert choose(11) == choose(11)
    assert len(set(choose(11))) == 10


@pytest.mark.parametrize("strategy", GRAPH_STRATEGIES)
def test_targets_come_only_from_the_candidates(strategy):
    graph, _ = clusters_joined_by_brokers()
    candidates = range(10, 25)
    targets = select_targets(
        strategy, graph, 6, np.random.default_rng(1), candidates=candidates, capital={12: 1.0}
    )
    assert len(targets) == 6
    assert set(targets) <= set(candidates)


@pytest.mark.parametrize("strategy", [s for s in GRAPH_STRATEGIES if s != "random"])
def test_candidates_outside_the_graph_come_after_central_people(strategy):
    star = nx.star_graph(3)
    targets = select_targets(
        strategy, star, 3, np.random.default_rng(0), candidates=[99, 0, 50], capital={0: 1.0}
    )
    assert targets == [0, 50, 99]


def test_random_targeting_can_pick_candidates_outside_the_graph():
    targets = select_targets("random", nx.path_graph(3), 2, np.random.default_rng(0),
                             candidates=[98, 99])
    assert sorted(targets) == [98, 99]


def test_asking_for_more_targets_than_people_returns_everyone():
    targets = select_targets("degree", nx.path_graph(4), 10, np.random.default_rng(0))
    assert sorted(targets) == [0, 1, 2, 3]


def test_unknown_strategy_names_the_allowed_ones():
    with pytest.raises(ValueError, match="betweenness"):
        select_targets("loudest", nx.path_graph(3), 1, np.random.default_rng(0))


def test_component_sizes_from_edges_agree_with_networkx():
    rng = np.random.default_rng(5)
    u, v = rng.integers(300, size=250), rng.integers(300, size=250)
    keep = u != v
    graph = nx.Graph()
    graph.add_edges_from(zip(u[keep].tolist(), v[keep].tolist(), strict=True))
    sizes = keyplayers.component_sizes(u[keep], v[keep])
    assert sorted(sizes.tolist()) == sorted(len(c) for c in nx.connected_components(graph))
    assert np.isclose(keyplayers.fragmentation_of(sizes), keyplayers.fragmentation(graph))
    assert np.isclose(sizes.max() / sizes.sum(), keyplayers.giant_component_share(graph))
