"""Posts tables: read from CSV or Parquet as the model writes them, and bad tables
refused with one line naming the file, the row and the column."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from forumsim.experiment.forum_data import DataError, load_community
from forumsim.ui.cli import app

POSTS = """post_id,thread_id,forum,author,timestamp,reply_to
p1,t1,Alpha,a,2021-03-01T10:00:00Z,
p2,t1,Alpha,b,2021-03-01T11:00:00+00:00,p1
p3,t1,Alpha,c,2021-03-02 09:30:00,p2
p1,t9,Beta,a,2021-03-02T12:00:00+01:00,
p4,t2,Alpha,b,2021-04-01,
"""


def _write(folder, name, text):
    path = folder / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_a_posts_table_links_replies_within_their_forum(tmp_path):
    community = load_community([_write(tmp_path, "posts.csv", POSTS)])
    posts = community.posts
    assert list(posts["post_id"]) == ["p1", "p2", "p3", "p1", "p4"]  # in time order
    assert list(posts["parent"]) == [-1, 0, 1, -1, -1]
    assert list(posts["forum"]) == ["Alpha", "Alpha", "Alpha", "Beta", "Alpha"]
    assert str(posts["time"].iloc[3]) == "2021-03-02 11:00:00+00:00"  # +01:00 in UTC
    assert posts["thread"].nunique() == 3
    assert community.members is None and community.events is None


def test_a_run_folder_reads_back_as_the_model_wrote_it(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "small", "--days", "60", "--quiet",
                                      "--no-figures", "--export-posts", "--out", str(out)])
    assert result.exit_code == 0, result.output
    marker = json.loads((out / ".forumsim-run").read_text())
    assert {"posts.parquet", "members.parquet", "events.parquet"} <= set(marker["files"])
    community = load_community([out])
    written = pd.read_parquet(out / "posts.parquet")
    assert len(community.posts) == len(written) > 0
    assert list(written.columns) == ["post_id", "thread_id", "forum", "author", "timestamp",
                                     "reply_to"]
    assert str(written["timestamp"].dtype) == "datetime64[us, UTC]"
    # The same table as CSV reads to the same community.
    written.to_csv(tmp_path / "posts.csv", index=False)
    again = load_community([tmp_path / "posts.csv"]).posts
    columns = ["time", "forum", "author", "thread", "parent"]
    pd.testing.assert_frame_equal(again[columns], community.posts[columns])
    assert len(community.members) == len(pd.read_parquet(out / "members.parquet"))


def _refusal(tmp_path, name, text, extra=()):
    paths = [_write(tmp_path, name, text), *[_write(tmp_path, n, t) for n, t in extra]]
    with pytest.raises(DataError) as caught:
        load_community(paths)
    return str(caught.value)


@pytest.mark.parametrize("text, words", [
    (POSTS.replace(",reply_to", "").replace(",p1\n", "\n").replace(",p2\n", "\n")
     .replace(",\n", "\n"), "header: the posts table has no column 'reply_to'"),
    (POSTS.replace("2021-03-02 09:30:00", "2 March 2021"),
     "row 3, column timestamp: '2 March 2021' is not an ISO 8601 time"),
    (POSTS.replace("2021-03-02 09:30:00", "2021-02-30T10:00:00"), "row 3, column timestamp"),
    (POSTS.replace(",p2\n", ",p7\n"), "row 3, column reply_to: 'p7' is no post of this forum"),
    (POSTS.replace(",p2\n", ",p2.0\n"), "without '.0'"),
    (POSTS.replace("p1,t9,Beta", "p1,t9,Alpha"),
     "row 4, column post_id: 'p1' is a second post with this id on forum 'Alpha'"),
    (POSTS.replace(",p1\n", ",p3\n"), "row 2, column reply_to: 'p3' is this post itself, a "
                                      "later one"),
    (POSTS.replace(",p1\n", ",p2\n"), "row 2, column reply_to"),
    (POSTS.replace("Alpha,c", "Alpha,"), "row 3, column author: is empty"),
    (POSTS.replace("p4,t2,Alpha,b,2021-04-01,", "p4,t2,Alpha,b"), "row 5: cannot be read as CSV"),
    (POSTS.encode("utf-16"), "is UTF-16 text; save it as UTF-8"),
    (POSTS.encode().replace(b"Beta", b"B\xe9ta"), "row 4: is not UTF-8 text (byte 0xe9)"),
    (POSTS.encode().replace(b"Beta", b"B\x00ta"), "row 4: holds a NUL byte"),
    (POSTS.replace("thread_id,forum", "forum,forum"), "header: the column 'forum' appears twice"),
    ("name,size\nx,1\n", "header: not a posts, members or events table"),
    ("", "header: the file is empty"),
])
def test_a_bad_posts_table_is_refused_naming_file_row_and_column(tmp_path, text, words):
    message = _refusal(tmp_path, "posts.csv", text)
    assert message.startswith(str(tmp_path / "posts.csv"))
    assert words in message and "\n" not in message


@pytest.mark.parametrize("name, text, words", [
    ("members.csv", "author,forum,registered,rank\na,Alpha,2021-01-01,member\n"
                    "a,Alpha,2021-01-02,vip\n",
     "members.csv, row 2, column author: 'a' is listed twice as a member of forum 'Alpha'"),
    ("members.csv", "author,forum,registered,rank\na,Alpha,soon,member\n",
     "members.csv, row 1, column registered: 'soon' is not an ISO 8601 time"),
    ("events.csv", "forum,date,event\nGamma,2021-03-05,takedown\n",
     "events.csv, row 1, column forum: names a forum that has no posts"),
    ("events.csv", "forum,date,event\nAlpha,,takedown\n", "events.csv, row 1, column date: is "
                                                         "empty"),
])
def test_bad_members_and_events_tables_are_refused(tmp_path, name, text, words):
    message = _refusal(tmp_path, "posts.csv", POSTS, extra=[(name, text)])
    assert words in message


def test_files_that_are_not_tables_are_refused(tmp_path):
    assert "cannot be read as a Parquet file" in _refusal(tmp_path, "posts.parquet",
                                                          b"PAR1 not really")
    assert "not a table file" in _refusal(tmp_path, "posts.txt", POSTS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="a folder without posts.csv"):
        load_community([tmp_path / "empty"])
    with pytest.raises(DataError, match="no posts table among them"):
        load_community([_write(tmp_path, "events.csv", "forum,date,event\n")])


def test_a_parquet_table_may_hold_numbers_and_times(tmp_path):
    frame = pd.DataFrame({"post_id": [1, 2], "thread_id": [1, 1], "forum": ["F", "F"],
                          "author": [7, 8],
                          "timestamp": pd.to_datetime(["2021-01-01 10:00", "2021-01-01 11:00"]),
                          "reply_to": [None, 1.0], "extra": ["x", "y"]})
    frame.to_parquet(tmp_path / "posts.parquet")
    posts = load_community([tmp_path / "posts.parquet"]).posts
    assert list(posts["parent"]) == [-1, 0] and list(posts["author"]) == ["7", "8"]


def test_data_check_exits_2_with_one_line_for_a_bad_table(tmp_path):
    path = _write(tmp_path, "posts.csv", POSTS.replace(",p2\n", ",p7\n"))
    result = CliRunner().invoke(app, ["data", "check", str(path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "row 3, column reply_to" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["posts.csv"]
    good = CliRunner().invoke(app, ["data", "check", str(_write(tmp_path, "ok.csv", POSTS))])
    assert good.exit_code == 0 and "threads" in good.output


def test_help_and_table_errors_import_no_heavy_library(tmp_path):
    """`forumsim data --help` stays instant; pandas is imported only to read tables."""
    import subprocess
    import sys

    code = ("import sys; from typer.testing import CliRunner; from forumsim.ui.cli import app; "
            "CliRunner().invoke(app, ['data', '--help']); "
            "CliRunner().invoke(app, ['data', 'summarize', '--help']); "
            "print(sorted(m for m in ('pandas', 'mesa', 'pyabc', 'networkx') "
            "if m in sys.modules))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout
    assert shown.strip() == "[]"


def test_a_parquet_column_of_lists_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"post_id": [1], "thread_id": [1], "forum": ["F"], "author": [[1, 2]],
                      "timestamp": ["2021-01-01"], "reply_to": [None]})
    pq.write_table(table, tmp_path / "posts.parquet")
    with pytest.raises(DataError, match=r"posts.parquet, column author: holds values of type "
                                        r"list"):
        load_community([tmp_path / "posts.parquet"])


def test_float_ids_of_a_parquet_table_read_as_whole_numbers(tmp_path):
    frame = pd.DataFrame({"post_id": [1.0, 2.0, 3.5], "thread_id": [1, 1, 1],
                          "forum": ["F"] * 3, "author": ["a", "b", "c"],
                          "timestamp": ["2021-01-01", "2021-01-02", "2021-01-03"],
                          "reply_to": [None, None, None]})
    frame.to_parquet(tmp_path / "posts.parquet")
    posts = load_community([tmp_path / "posts.parquet"]).posts
    assert list(posts["post_id"]) == ["1.0", "2.0", "3.5"]  # not all whole: kept as written
    frame["post_id"], frame["reply_to"] = [1.0, 2.0, 3.0], [None, 1.0, None]
    frame.to_parquet(tmp_path / "posts.parquet")
    posts = load_community([tmp_path / "posts.parquet"]).posts
    assert list(posts["post_id"]) == ["1", "2", "3"] and list(posts["parent"]) == [-1, 0, -1]


def test_the_models_export_saved_as_csv_by_pandas_passes_the_check(tmp_path):
    # What a researcher does first: open the exported tables in pandas and save them as CSV.
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "small", "--people", "800", "--days", "60",
                                      "--export-posts", "--no-figures", "--out", str(out)])
    assert result.exit_code == 0, result.output
    posts = pd.read_parquet(out / "posts.parquet")
    assert str(posts["reply_to"].dtype) == "Int64" and posts["reply_to"].notna().any()
    paths = []
    for name in ("posts", "members", "events"):
        paths.append(tmp_path / f"{name}.csv")
        pd.read_parquet(out / f"{name}.parquet").to_csv(paths[-1], index=False)
    assert ".0," not in paths[0].read_text() and not paths[0].read_text().endswith(".0\n")
    checked = CliRunner().invoke(app, ["data", "check", *map(str, paths)])
    assert checked.exit_code == 0, checked.output
    assert load_community([str(p) for p in paths]).posts.shape[0] == len(posts)
