"""Ties: formed only by interaction, strengthened by repetition, decaying without contact."""

from __future__ import annotations

import numpy as np
import pytest

from forumsim.world.ties import Ties


def test_interaction_creates_then_strengthens_a_tie():
    ties = Ties(10, half_life_days=100)
    assert ties.interact(np.array([1, 2]), np.array([2, 1]), day=3) == 1
    assert len(ties) == 1 and ties.has_tie(1, 2) and ties.has_tie(2, 1)
    assert ties.edges.weight[0] == 2.0
    assert ties.interact(np.array([1]), np.array([2]), day=5, strength=3.0) == 0
    # What is left of the tie two days later, and the new contact on top.
    assert ties.edges.weight[0] == pytest.approx(2.0 * 2 ** (-2 / 100) + 3.0)
    assert ties.edges.last[0] == 5


def test_a_tie_kept_up_settles_and_one_left_alone_fades():
    ties = Ties(3, half_life_days=10)
    for day in range(0, 200, 5):  # a reply every five days
        ties.interact(np.array([0]), np.array([1]), day)
    steady = ties.edges.weight[0]
    assert steady == pytest.approx(1 / (1 - 2 ** (-5 / 10)), rel=1e-3)  # not growing
    assert ties.embeddedness(np.array([0]), 195 + 30)[0] == pytest.approx(steady / 8)


def test_self_interactions_make_no_tie():
    ties = Ties(5, half_life_days=10)
    assert ties.interact(np.array([3]), np.array([3]), day=0) == 0
    assert len(ties) == 0


def test_neighbours_are_symmetric():
    ties = Ties(6, half_life_days=10)
    ties.interact(np.array([0, 0, 4]), np.array([1, 2, 0]), day=0)
    assert sorted(ties.neighbours(0).tolist()) == [1, 2, 4]
    assert ties.neighbours(4).tolist() == [0]
    assert ties.neighbours(5).tolist() == []


def test_strength_halves_after_the_half_life():
    ties = Ties(4, half_life_days=30)
    ties.interact(np.array([0]), np.array([1]), day=10, strength=4.0)
    assert np.isclose(ties.strength(day=40)[0], 2.0)


def test_ties_link_only_people_who_were_on_a_common_forum(busy_run):
    table = busy_run.memberships.table
    fora_of: dict[int, set[int]] = {}
    for person, forum in zip(table.person.tolist(), table.forum.tolist(), strict=True):
        fora_of.setdefault(person, set()).add(forum)
    edges = busy_run.ties.edges
    assert len(edges) > 100
    for u, v in zip(edges.u.tolist(), edges.v.tolist(), strict=True):
        assert fora_of.get(u, set()) & fora_of.get(v, set()), (u, v)


def test_graph_export_keeps_people_and_weights():
    ties = Ties(5, half_life_days=10)
    ties.interact(np.array([0, 1]), np.array([1, 2]), day=0, strength=2.0)
    graph = ties.to_networkx(people=np.array([0, 1, 3]))
    assert set(graph.nodes) == {0, 1, 3}
    assert graph[0][1]["weight"] == 2.0 and not graph.has_edge(1, 2)


def test_index_agrees_with_a_plain_record_across_re_indexing():
    """Lookups, neighbours and degrees match a dictionary of ties kept alongside, before
    and after the recent ties are folded into the main index (MERGE_AT)."""
    rng = np.random.default_rng(3)
    n = 400
    ties = Ties(n, half_life_days=10)
    reference: dict[tuple[int, int], float] = {}
    for day in range(60):
        a, b = rng.integers(n, size=300), rng.integers(n, size=300)
        ties.interact(a, b, day)
        today: dict[tuple[int, int], float] = {}
        for x, y in zip(a.tolist(), b.tolist(), strict=True):
            if x != y:
                key = (min(x, y), max(x, y))
                today[key] = today.get(key, 0.0) + 1.0
        for key, added in today.items():
            if key in reference:
                left, last = reference[key]
                reference[key] = (left * 2 ** (-(day - last) / 10) + added, day)
            else:
                reference[key] = (added, day)
    assert ties._indexed > 0 and len(ties) > ties._indexed  # both runs in use
    assert len(ties) == len(reference)
    for (x, y), (weight, last) in reference.items():
        row = ties._find(ties._key(np.array([x]), np.array([y])))[0]
        assert ties.edges.weight[row] == pytest.approx(weight, rel=1e-5)
        assert ties.edges.last[row] == last
    people = np.array([5, 7, 5, 399, 0, 7])  # repeats get their neighbours each time
    owner, neighbour = ties.neighbours_of(people)
    for i, person in enumerate(people.tolist()):
        expected = sorted(y if x == person else x for x, y in reference if person in (x, y))
        assert sorted(neighbour[owner == i].tolist()) == expected
        assert ties.degree_of(np.array([person]))[0] == len(expected)
    assert np.all(np.diff(owner) >= 0)
    assert [len(part) for part in ties.neighbours_of(np.array([], dtype=np.int64))] == [0, 0]
