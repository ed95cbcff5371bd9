"""`forumsim data summarize`: the statistics of a run's export agree with the model's own
counts, and a targets file is never replaced unless forumsim wrote it and is told to."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from forumsim.experiment.forum_data import load_community
from forumsim.experiment.store import write_community
from forumsim.experiment.targets import summarize
from forumsim.measures import community as stats
from forumsim.ui.cli import app
from forumsim.world.model import Ecosystem
from forumsim.world.posts import PostLog
from forumsim.world.scenario import TakedownSpec, embedded_scenario

SCENARIO = embedded_scenario().overridden(people=6000, days=240, seed=8).model_copy(
    update={"interventions": [TakedownSpec(type="takedown", day=150, target="largest")]})


@pytest.fixture(scope="module")
def both_paths(tmp_path_factory):
    """The model after a run that kept its posts, and the targets of its export read back
    from disk."""
    eco = Ecosystem(SCENARIO)
    eco.post_log = PostLog()
    eco.run()
    folder = tmp_path_factory.mktemp("export")
    write_community(eco.post_log.tables(eco), folder)
    return eco, summarize(load_community([folder]))


def test_posts_per_author_agree_with_the_models_counts(both_paths):
    eco, targets = both_paths
    posts = eco.people.posts[eco.people.posts > 0]
    assert targets["counts"]["posts"] == int(posts.sum()) > 500
    assert targets["counts"]["authors"] == len(posts)
    for name, value in stats.participation(posts).items():
        assert targets["statistics"][name] == pytest.approx(value, rel=1e-12), name


def test_posters_among_members_is_the_models_share_posting(both_paths):
    eco, targets = both_paths
    registered = eco.people.registered()
    assert targets["counts"]["members"] == int(registered.sum())
    assert targets["statistics"]["posters_among_members"] == pytest.approx(
        (eco.people.posts[registered] > 0).mean(), rel=1e-12)


def test_fora_and_authors_on_several_agree_with_the_memberships(both_paths):
    eco, targets = both_paths
    table = eco.memberships.table
    posted = table.posts > 0
    internal = stats.fora(table.person[posted], table.forum[posted])
    for name, value in internal.items():
        assert targets["statistics"][name] == pytest.approx(value, rel=1e-12), name
    assert targets["statistics"]["multi_forum_author_share"] > 0


def test_the_takedown_shows_in_the_targets(both_paths):
    eco, targets = both_paths
    (record,) = targets["takedowns"]
    event = next(e for e in eco.events if e.type == "takedown")
    assert record["forum"] == event.target and record["date"] == "2020-05-30"
    assert 0 < record["moved_share"] <= 1 and 0 < record["top_destination_share"] <= 1
    assert targets["statistics"]["takedown_1_drop"] == record["drop"]


def test_monthly_series_adds_up(both_paths):
    _, targets = both_paths
    monthly = targets["monthly"]
    assert len(monthly) == targets["counts"]["months"] == 8
    assert sum(m["new_authors"] for m in monthly) == targets["counts"]["authors"]
    assert monthly[-1]["retention"] is None


runner = CliRunner()


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    result = runner.invoke(app, ["run", "small", "--days", "90", "--quiet", "--no-figures",
                                 "--export-posts", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_summarize_writes_targets_and_replaces_them_only_when_told(run_folder, tmp_path):
    target = tmp_path / "targets.json"
    first = runner.invoke(app, ["data", "summarize", str(run_folder), "--out", str(target)])
    assert first.exit_code == 0, first.output
    written = json.loads(target.read_text())
    assert written["kind"] == "forumsim targets" and written["sources"] == [
        "posts.parquet", "members.parquet", "events.parquet"]
    # Every statistic printed has its unit.
    from forumsim.experiment.targets import statistic_unit

    assert all(statistic_unit(name) for name in written["statistics"])
    assert re.search(r"reply_share\s+│\s+[\d.%]+\s+│ share of posts", first.output)
    again = runner.invoke(app, ["data", "summarize", str(run_folder), "--out", str(target)])
    assert again.exit_code == 2 and "add --overwrite" in again.output
    forced = runner.invoke(app, ["data", "summarize", str(run_folder), "--out", str(target),
                                 "--overwrite"])
    assert forced.exit_code == 0, forced.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["targets.json"]


@pytest.mark.parametrize("content", ['{"statistics": {}}', "notes\n", ""])
def test_summarize_never_replaces_a_file_it_did_not_write(run_folder, tmp_path, content):
    target = tmp_path / "mine.json"
    target.write_text(content)
    result = runner.invoke(app, ["data", "summarize", str(run_folder), "--out", str(target),
                                 "--overwrite"])
    assert result.exit_code == 2 and "was not written by forumsim" in result.output
    assert target.read_text() == content


def test_summarize_refuses_a_bad_table_and_writes_nothing(tmp_path):
    (tmp_path / "posts.csv").write_text("post_id,thread_id,forum,author,timestamp,reply_to\n"
                                        "1,1,F,a,2021-01-01,2\n")
    result = runner.invoke(app, ["data", "summarize", str(tmp_path / "posts.csv"), "--out",
                                 str(tmp_path / "t.json")])
    assert result.exit_code == 2 and "row 1, column reply_to" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["posts.csv"]


def test_every_statistic_is_a_number_or_none(both_paths):
    _, targets = both_paths
    values = targets["statistics"].values()
    assert all(v is None or (isinstance(v, int | float) and np.isfinite(v)) for v in values)
    json.dumps(targets)  # plain JSON types only


def test_an_export_summarised_in_memory_gives_the_targets_read_from_disk(both_paths):
    from forumsim.experiment.forum_data import exported_community

    eco, targets = both_paths
    in_memory = summarize(exported_community(eco.post_log.tables(eco)))
    assert in_memory["statistics"] == targets["statistics"]
    assert in_memory["monthly"] == targets["monthly"]


def test_every_statistic_summarize_gives_can_be_fitted(both_paths):
    from forumsim.experiment.calibration import STATISTICS, TAKEDOWN

    _, targets = both_paths
    assert all(name in STATISTICS or TAKEDOWN.fullmatch(name)
               for name in targets["statistics"])
