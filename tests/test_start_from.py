"""Starting from an observed community: day 0 built from a posts table (the model's own
export, or a hand-made table) has the table's posting authors per forum, its members and
ranks, and its reply network; shocks act on its fora; bad tables are refused with one
line and exit 2, nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forumsim.experiment.files import load_scenario
from forumsim.experiment.plan import load_sweep
from forumsim.experiment.runner import ecosystem, run
from forumsim.experiment.start_from import observe
from forumsim.ui.cli import app
from forumsim.world.forum import Rank
from forumsim.world.model import Ecosystem
from forumsim.world.scenario import embedded_scenario

cli = CliRunner()


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """A run folder of the small scenario with its community exported (60 days)."""
    out = tmp_path_factory.mktemp("start") / "small"
    result = cli.invoke(app, ["run", "small", "--days", "60", "--export-posts", "--out",
                              str(out), "--no-figures", "-q"])
    assert result.exit_code == 0, result.output
    return out


def _started(folder: Path, **values) -> Ecosystem:
    return ecosystem(embedded_scenario("small").overridden(start_from=str(folder), **values))


def _by_forum(eco: Ecosystem, column: str) -> dict[str, np.ndarray]:
    table = eco.memberships.table
    return {f.name: getattr(table, column)[table.forum == f.id] for f in eco.fora}


def test_day_0_has_the_tables_posting_authors_members_and_ranks_per_forum(export):
    posts = pd.read_parquet(export / "posts.parquet")
    members = pd.read_parquet(export / "members.parquet")
    members = members[members["forum"].isin(posts["forum"])]  # fora with posts only (data.md)
    eco = _started(export)
    posting = {name: int((n > 0).sum()) for name, n in _by_forum(eco, "posts").items()}
    assert posting == posts.groupby("forum")["author"].nunique().to_dict()
    assert {f.name: f.members for f in eco.fora} == members.groupby("forum").size().to_dict()
    ranks = {name: np.bincount(r, minlength=5).tolist()
             for name, r in _by_forum(eco, "rank").items()}
    names = [r.name.lower() for r in Rank]
    expected = {forum: [int((group["rank"] == name).sum()) for name in names]
                for forum, group in members.groupby("forum")}
    assert ranks == expected
    assert {f.name: len(f.admins) for f in eco.fora} == {
        forum: int((group["rank"] == "admin").sum()) for forum, group in members.groupby("forum")}
    assert eco.config.people >= members["author"].nunique() / 0.35
    assert eco.config.start_from == str(export)


def test_day_0_ties_are_the_reply_network_of_the_table(export):
    posts = pd.read_parquet(export / "posts.parquet")
    answered = posts.set_index(["forum", "post_id"])["author"]
    replies = posts[posts["reply_to"].notna()]
    whom = answered.loc[list(zip(replies["forum"], replies["reply_to"].astype(int),
                                 strict=True))].to_numpy()
    pairs = {frozenset((str(a), str(b))) for a, b in zip(replies["author"], whom, strict=True)
             if a != b}
    assert len(pairs) > 5
    eco = _started(export)
    label = dict(zip(eco.observed_people.tolist(), observe(export).authors, strict=False))
    ties = {frozenset((label[u], label[v]))
            for u, v in zip(eco.ties.edges.u.tolist(), eco.ties.edges.v.tolist(), strict=True)}
    assert ties == pairs
    assert eco.ties.edges.last.max() <= 0 and eco.ties.edges.weight.sum() >= len(pairs)


def test_the_same_table_scenario_and_seed_give_the_same_run(export):
    scenario = embedded_scenario("small").overridden(start_from=str(export), days=30)
    first, second = run(scenario), run(scenario)
    pd.testing.assert_frame_equal(first.ecosystem, second.ecosystem)
    assert first.metrics == second.metrics
    other = run(scenario.overridden(seed=8))
    assert not first.ecosystem.equals(other.ecosystem)


def test_a_takedown_of_a_forum_named_in_the_table_acts_on_it(export, tmp_path):
    scenario = tmp_path / "seize.yaml"
    scenario.write_text(f"extends: small\nstart_from: {export}\ndays: 40\ninterventions:\n"
                        "  - {type: takedown, day: 20, target: Forum B}\n")
    out = tmp_path / "out"
    result = cli.invoke(app, ["run", str(scenario), "--out", str(out), "--no-figures", "-q"])
    assert result.exit_code == 0, result.output
    forums = pd.read_parquet(out / "forums.parquet")
    seized = forums[(forums["forum"] == "Forum B") & (forums["day"] >= 20)]
    assert (seized["status"] == "seized").all()
    assert "start_from:" in (out / "scenario.yaml").read_text()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# Author "a" posts most on forum X, "b" replies to "a" twice, "c" once to "b"; "d" is alone on Y.
POSTS = ("post_id,thread_id,forum,author,timestamp,reply_to\n"
         + "".join(f"{i},1,X,a,2021-01-0{1 + i // 8}T0{i % 8}:00:00Z,\n" for i in range(20))
         + "20,1,X,b,2021-01-05T00:00:00Z,3\n21,1,X,b,2021-01-06T00:00:00Z,4\n"
         + "22,1,X,c,2021-01-07T00:00:00Z,21\n23,1,X,c,2021-01-08T00:00:00Z,22\n"
         + "1,1,Y,d,2021-01-10T00:00:00Z,\n")


def test_a_posts_table_alone_gives_ranks_from_counts_and_lurkers_from_the_published_share(
        tmp_path):
    table = _write(tmp_path / "data" / "posts.csv", POSTS)
    eco = _started(table)
    x, y = eco.forum("X"), eco.forum("Y")
    assert [f.name for f in eco.fora] == ["X", "Y"]  # largest first
    assert eco.config.fora[0].access == "open"  # the default for a forum the scenario lacks
    # 3.4% of members post: 3 posting authors bring round(3 * 0.966 / 0.034) = 85 lurkers
    lurkers = 85
    assert x.members == 3 + lurkers and y.members == 1 + 28
    label = dict(zip(eco.observed_people.tolist(), observe(table).authors, strict=False))
    assert [label[p] for p in x.admins] == ["a"] and [label[p] for p in y.admins] == ["d"]
    # One moderator per 150 posting members: b, the second most prolific.
    assert [label[p] for p in x.moderators] == ["b"]
    ranks = _by_forum(eco, "rank")["X"]
    assert np.bincount(ranks, minlength=5).tolist() == [lurkers, 1, 0, 1, 1]
    edges = eco.ties.edges
    ties = {frozenset((label[u], label[v])): (w, formed, last) for u, v, w, formed, last in zip(
        edges.u.tolist(), edges.v.tolist(), edges.weight.tolist(), edges.formed.tolist(),
        edges.last.tolist(), strict=True)}
    # Day 0 is the last post's day (10 January); c's reply to itself is left out.
    assert ties == {frozenset("ab"): (2.0, -5, -4), frozenset("bc"): (1.0, -3, -3)}
    # a scenario naming the forum sets its access; vip_contributions makes VIPs by posts
    vip = _started(table, **{"behaviour.vip_contributions": 2})
    assert np.bincount(_by_forum(vip, "rank")["X"], minlength=5).tolist()[2] == 1  # c


def test_the_posting_share_of_a_forum_without_members_table_is_a_scenario_setting(tmp_path):
    table = _write(tmp_path / "posts.csv", POSTS)
    eco = _started(table, start_from_posting_share=0.1)
    # 3 posting authors are 10% of X's members, the one of Y 10% of its members
    assert eco.forum("X").members == 30 and eco.forum("Y").members == 10
    assert np.bincount(_by_forum(eco, "rank")["X"], minlength=5).tolist()[0] == 27


def test_a_table_without_replies_starts_without_ties(tmp_path):
    table = _write(tmp_path / "posts.csv", "post_id,thread_id,forum,author,timestamp,"
                   "reply_to\n1,1,F,a,2021-01-01,\n2,1,F,a,2021-01-02,1\n")
    result = run(embedded_scenario("small").overridden(start_from=str(table), days=10))
    assert result.scenario.fora[0].name == "F" and result.ecosystem["day"].tolist()[-1] == 10
    assert result.metrics["registered_people"] >= 1 + 28


def test_a_relative_start_from_is_found_next_to_the_scenario_file(tmp_path, monkeypatch):
    _write(tmp_path / "study" / "posts.csv", POSTS)
    scenario = _write(tmp_path / "study" / "seize.yaml",
                      "extends: small\nstart_from: posts.csv\ninterventions:\n"
                      "  - {type: takedown, day: 5, target: X}\n")
    monkeypatch.chdir(tmp_path)
    loaded = load_scenario(scenario)
    assert loaded.start_from == str(tmp_path / "study" / "posts.csv")
    assert ecosystem(loaded).forum("X").members > 3


def test_a_scenario_with_start_from_needs_its_observed_start():
    with pytest.raises(ValueError, match="observed start"):
        Ecosystem(embedded_scenario("small").overridden(start_from="posts.csv"))


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("missing.csv", None, "missing.csv: no such file."),
    ("posts.csv", POSTS.replace("thread_id,", "thread,"),
     "posts.csv, header: the posts table has no column 'thread_id'"),
    ("posts.csv", POSTS.replace(",21\n", ",99\n"),
     "posts.csv, row 23, column reply_to: '99' is no post of this forum"),
    ("posts.csv", POSTS.replace(",Y,", ",largest,"),
     "posts.csv, row 25, column forum: 'largest' is a word shocks use"),
    ("posts.csv", "user,text\nu1,hello\n",
     "posts.csv, header: not a posts, members or events table"),
    ("posts.csv", POSTS + "1,2,3\n", "posts.csv, row 26: cannot be read as CSV"),
    ("posts.csv", POSTS, "interventions.0.target: no forum 'Forum A' in the posts table"),
])
def test_bad_start_tables_are_refused_with_one_line_and_nothing_written(
        tmp_path, name, text, expected):
    table = tmp_path / name
    if text is not None:
        table.write_text(text)
    scenario = _write(tmp_path / "s.yaml", "extends: small\ninterventions:\n"
                      "  - {type: takedown, day: 5, target: Forum A}\n"
                      if "Forum A" in expected else "extends: small\n")
    out = tmp_path / "out"
    result = cli.invoke(app, ["run", str(scenario), "--start-from", str(table), "--out",
                              str(out), "-q"])
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_start_from_does_not_go_with_people_or_fora(tmp_path):
    table = _write(tmp_path / "posts.csv", POSTS)
    for option in (["--people", "500"], ["--fora", "2"]):
        result = cli.invoke(app, ["run", "small", "--start-from", str(table), *option,
                                  "--out", str(tmp_path / "out")])
        assert result.exit_code == 2 and option[0] in result.output
        assert not (tmp_path / "out").exists()


# --- sweeps over an observed community -----------------------------------------------------


def _sweep(folder: Path, text: str) -> Path:
    return _write(folder / "sweep.yaml", "base: small\nreplicates: 1\nseed: 7\n" + text)


def test_a_sweep_finds_its_tables_next_to_it_and_plans_with_their_sizes(tmp_path, monkeypatch):
    study = tmp_path / "study"
    _write(study / "x.csv", POSTS)
    _write(study / "y.csv", POSTS.replace(",c,", ",a,"))  # c's posts by a: one author fewer
    sweep = _sweep(study, "fixed: {days: 5}\nparameters:\n  start_from: [x.csv, y.csv]\n")
    monkeypatch.chdir(tmp_path)  # elsewhere than the sweep file
    plan = load_sweep(sweep)
    tables = [plan.scenario(run).start_from for run in plan.runs]
    assert tables == [str(study / "x.csv"), str(study / "y.csv")]
    # The memory check sees the population the table makes, not the base's 2,000 people.
    assert plan.largest.fora[0].name == "X" and plan.largest.people == ecosystem(
        plan.scenario(plan.runs[0])).config.people
    result = cli.invoke(app, ["sweep", str(sweep), "--out", str(tmp_path / "out"), "-q",
                              "--executor", "inline"])
    assert result.exit_code == 0, result.output


def test_a_sweep_does_not_resume_over_a_changed_table(tmp_path):
    table = _write(tmp_path / "posts.csv", POSTS)
    sweep = _sweep(tmp_path, "fixed: {days: 5, start_from: posts.csv}\n"
                             "parameters:\n  behaviour.home_loyalty: [0.6, 0.9]\n")
    before = load_sweep(sweep).sha256()
    os.utime(table, (1.7e9, 1.7e9))  # a new time alone (November 2023) changes nothing
    assert load_sweep(sweep).sha256() == before
    table.write_text(POSTS.replace(",b,", ",e,"))
    assert load_sweep(sweep).sha256() != before


@pytest.mark.parametrize(("fixed", "expected"), [
    ("{start_from: missing.csv}", "start_from: "),
    ("{start_from: posts.csv, people: 500}", "'people' does not go with start_from"),
    ("{start_from: posts.csv, interventions: [{type: takedown, day: 3, target: Forum A}]}",
     "no forum 'Forum A' in the posts table"),
])
def test_a_sweep_over_a_bad_table_stops_before_writing(tmp_path, fixed, expected):
    _write(tmp_path / "posts.csv", POSTS)
    sweep = _sweep(tmp_path, f"fixed: {fixed}\nparameters:\n  behaviour.home_loyalty: [0.6]\n")
    out = tmp_path / "out"
    result = cli.invoke(app, ["sweep", str(sweep), "--out", str(out), "-q"])
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())
    assert str(sweep) in result.output and not out.exists()


def test_a_run_records_the_hash_of_the_table_it_started_from(tmp_path):
    table = _write(tmp_path / "posts.csv", POSTS)
    first = run(embedded_scenario("small").overridden(start_from=str(table), days=3))
    table.write_text(POSTS.replace(",b,", ",e,"))
    second = run(embedded_scenario("small").overridden(start_from=str(table), days=3))
    assert first.scenario.config_sha256() == second.scenario.config_sha256()
    assert first.summary()["start_from_sha256"] != second.summary()["start_from_sha256"]
    assert "start_from_sha256" not in run(embedded_scenario("small").overridden(
        days=3, people=100)).summary()
