"""The post log: every post of a run with its thread and the post it answers, written
only when asked for, and never changing the run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forumsim.experiment.runner import run, simulate
from forumsim.world.posts import DAY_US, EPOCH, post_times
from forumsim.world.scenario import TakedownSpec, embedded_scenario

SCENARIO = embedded_scenario().overridden(people=5000, days=180, seed=5)


@pytest.fixture(scope="module")
def exported():
    return simulate(SCENARIO, export_posts=True)


def test_a_run_that_exports_its_posts_is_the_same_run():
    plain, logged = simulate(SCENARIO), simulate(SCENARIO, export_posts=True)
    assert plain.community is None and logged.community is not None
    assert plain.metrics == logged.metrics
    pd.testing.assert_frame_equal(plain.ecosystem, logged.ecosystem)
    pd.testing.assert_frame_equal(plain.forums, logged.forums)


def test_a_paired_run_that_exports_its_posts_gives_the_same_metrics():
    shocked = SCENARIO.model_copy(update={"interventions": [
        TakedownSpec(type="takedown", day=60, target="largest")]})
    plain, logged = run(shocked), run(shocked, export_posts=True)
    assert plain.metrics == logged.metrics
    pd.testing.assert_frame_equal(plain.counterfactual, logged.counterfactual)
    events = logged.community["events"]
    assert list(events["event"]) == ["takedown"]
    assert events["date"][0] == EPOCH + np.timedelta64(60, "D")


def test_every_post_is_logged_once_with_its_author_and_forum(exported):
    posts = exported.community["posts"]
    assert len(posts["post_id"]) == exported.metrics["posts_total"] > 300
    daily = exported.forums.groupby("forum")["posts"].sum()
    logged = pd.Series(posts["forum"]).value_counts()
    assert logged.sort_index().to_dict() == daily[daily > 0].sort_index().to_dict()


def test_a_reply_answers_an_earlier_post_of_its_forum_and_joins_its_thread(exported):
    posts = exported.community["posts"]
    reply_to, thread, ids = posts["reply_to"], posts["thread_id"], posts["post_id"]
    replies = reply_to >= 0
    assert 0.1 < replies.mean() < 0.9
    assert (reply_to[replies] < ids[replies]).all()
    assert (posts["forum"][reply_to[replies]] == posts["forum"][replies]).all()
    assert (thread[replies] == thread[reply_to[replies]]).all()
    assert (thread[~replies] == ids[~replies]).all()  # a thread is named by its first post
    assert (posts["timestamp"][reply_to[replies]] < posts["timestamp"][replies]).all()


def test_a_reply_answers_someone_the_replier_is_tied_to():
    """Without enforcement news every reply forms or feeds a tie: the log answers the
    person the model chose."""
    from forumsim.world.model import Ecosystem
    from forumsim.world.posts import PostLog

    eco = Ecosystem(SCENARIO)
    eco.post_log = PostLog()
    eco.run()
    log = eco.post_log.posts
    replies = np.flatnonzero(log.reply_to >= 0)
    a, b = log.author[replies], log.author[log.reply_to[replies]]
    pairs = a != b
    assert pairs.sum() > 50
    assert all(eco.ties.has_tie(int(x), int(y)) for x, y in zip(a[pairs], b[pairs], strict=True))


def test_members_table_lists_every_membership_with_its_rank(exported):
    members = exported.community["members"]
    ranks = set(members["rank"])
    assert ranks <= {"lurker", "member", "vip", "moderator", "admin"} and "admin" in ranks
    assert len(members["author"]) >= exported.metrics["registered_people"]
    authors = set(exported.community["posts"]["author"].tolist())
    assert authors <= set(members["author"].tolist())


def test_posts_of_a_day_spread_over_that_day_in_order():
    days = np.array([1, 1, 1, 2, 5, 5])
    times = post_times(days)
    assert (np.diff(times) > np.timedelta64(0, "us")).all()
    start = EPOCH + days * np.timedelta64(1, "D")
    offset = (times - start).astype(np.int64)
    assert ((offset > 0) & (offset < DAY_US)).all()
    assert offset[3] == DAY_US // 2  # a day's only post at noon
