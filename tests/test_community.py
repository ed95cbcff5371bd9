"""Statistics of a community from its posts, on small tables whose values are known by
hand."""

from __future__ import annotations

import numpy as np
import pytest

from forumsim.measures import community as stats


def test_participation_of_one_heavy_poster_among_light_ones():
    result = stats.participation(np.array([1, 1, 1, 1, 6]))
    assert result["posts_per_author_gini"] == pytest.approx(0.4)
    assert result["posts_top1pct_author_share"] == pytest.approx(0.6)
    assert result["posts_per_author_median"] == 1 and result["posts_per_author_max"] == 6


def test_monthly_activity_counts_new_authors_and_those_who_stay():
    active, new, retention = stats.monthly_activity(np.array([0, 1, 0, 2, 1]),
                                                    np.array([5, 5, 6, 6, 8]))
    assert active.tolist() == [2, 2, 0, 1]
    assert new.tolist() == [2, 1, 0, 0]
    assert retention[:2].tolist() == [0.5, 0.0] and np.isnan(retention[2])


def test_reply_depth_follows_the_chain_to_its_first_post():
    assert stats.reply_depth(np.array([-1, 0, 1, 0, -1, 4, 2])).tolist() == [0, 1, 2, 1, 0, 1, 3]


def test_threads_sizes_and_replies():
    result = stats.threads(np.array([0, 0, 0, 1, 2, 2]), np.array([-1, 0, 1, -1, -1, 4]))
    assert result["thread_size_max"] == 3 and result["thread_size_median"] == 2
    assert result["single_post_thread_share"] == pytest.approx(1 / 3)
    assert result["reply_share"] == pytest.approx(0.5)
    assert result["reply_depth_mean"] == pytest.approx(4 / 3)


def test_a_reply_triangle_and_an_isolated_author():
    graph = stats.reply_network(np.array([0, 1, 2, 0, 3, 3]),
                                np.array([-1, 0, 1, 2, -1, 4]), n_authors=4)
    result = stats.network(graph)
    assert sorted(d for _, d in graph.degree()) == [0, 2, 2, 2]  # a self-reply forms no tie
    assert result["reply_clustering"] == pytest.approx(0.75)
    assert result["reply_transitivity"] == pytest.approx(1.0)
    assert result["reply_isolated_share"] == pytest.approx(0.25)


def test_fora_sizes_and_authors_on_several():
    result = stats.fora(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 0, 0, 0]))
    assert result["fora"] == 2
    assert result["multi_forum_author_share"] == pytest.approx(1 / 3)
    assert result["largest_forum_share"] == pytest.approx(0.75)
    assert result["forum_size_gini"] == pytest.approx(0.25)


def _takedown_posts():
    """20 authors a week on fora 0 (0-9) and 1 (10-19) for four weeks; forum 0 is taken
    down on day 28; 0-4 go to forum 2 in week 1, 5-6 to forum 1 in week 2, 7-9 are gone;
    two newcomers arrive in week 3."""
    weeks = {w: [(a, 0) for a in range(10)] + [(a, 1) for a in range(10, 20)]
             for w in range(-4, 0)}
    weeks[0] = [(a, 1) for a in range(10, 20)]
    weeks[1] = weeks[0] + [(a, 2) for a in range(5)]
    weeks[2] = weeks[1] + [(5, 1), (6, 1)]
    for w in (3, 4, 5):
        weeks[w] = weeks[2] + [(20, 1), (21, 2)]
    rows = [(28 + 7 * w, a, f) for w, posts in sorted(weeks.items()) for a, f in posts]
    return (np.array(column) for column in zip(*rows, strict=True))


def test_takedown_drop_recovery_and_where_its_authors_went():
    day, author, forum = _takedown_posts()
    result = stats.takedown(day, author, forum, target=0, on=28)
    assert result["drop"] == pytest.approx(0.5)  # 10 active authors against 20
    assert result["recovery_days"] == 21  # 19 of 20 in week 3
    assert result["moved_share"] == pytest.approx(0.7)
    assert result["top_destination"] == 2
    assert result["top_destination_share"] == pytest.approx(5 / 7)


def test_a_takedown_without_enough_recovery_is_not_said_to_recover():
    day, author, forum = _takedown_posts()
    early = day < 28 + 21
    result = stats.takedown(day[early], author[early], forum[early], target=0, on=28)
    assert result["drop"] == pytest.approx(0.5) and result["recovery_days"] is None
