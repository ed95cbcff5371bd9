"""Posts tables: a forum community as researchers hold it (and `forumsim run
--export-posts` writes it), read from CSV or Parquet and checked row by row.

Three tables, one row per post, membership and event (see docs/data.md):

- posts: post_id, thread_id, forum, author, timestamp, reply_to (may be empty);
- members (optional): author, forum, registered (may be empty), rank (may be empty);
- events (optional): forum, date, event (takedown, outage, ...).

A table that cannot be used is refused with one line naming the file, the row (counted
from 1 after the header) and the column: a missing column, an empty or unparsable value,
a time outside a forum's plausible life (before 1990, or after the day the table was
written), an id too large to be held exactly, a duplicate post, a reply to a post that is
not there, text that is not UTF-8, a file that is not a table at all. Extra columns are
ignored.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

COLUMNS = {
    "posts": ("post_id", "thread_id", "forum", "author", "timestamp", "reply_to"),
    "members": ("author", "forum", "registered", "rank"),
    "events": ("forum", "date", "event"),
}
OPTIONAL = {"reply_to", "registered", "rank"}  # columns whose values may be empty
TIMES = {"timestamp", "registered", "date"}
SUFFIXES = (".csv", ".parquet")
MAX_BYTES = 8 << 30  # a posts table of 100 million posts is a few GB
CHUNK = 1 << 20  # bytes of a CSV file checked at a time
MAX_FIELD = 1000  # characters of a needed value (an id, a name, a time)
EARLIEST = pd.Timestamp("1990-01-01", tz="UTC")  # before any forum of the kind modelled
SLACK = pd.Timedelta(days=1)  # clocks and time zones: a table's times may pass its writing
EXACT_IDS = 2**53  # whole numbers a float holds exactly
SIMULATED = b"forumsim.simulated"  # Parquet metadata of a run's export: its times are the
#                                    model's calendar (from 2020), not the day it was written
BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


class DataError(ValueError):
    """A table that cannot be used; the message names the file, row and column."""


@dataclass
class Community:
    """A community's tables, checked. `posts` has one row per post, in time order, with
    `time` (UTC), `forum`, `author`, `thread` (forum and thread id joined) and `parent`
    (the row of the post it replies to, -1 for none); `members` and `events`, if given,
    have `time` for `registered` and `date`."""

    posts: pd.DataFrame
    members: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    sources: tuple[str, ...] = ()


def load_community(paths: list[str | Path]) -> Community:
    """Read and check the tables in `paths` (files, or folders holding posts, members and
    events tables, such as a run folder); a table's kind is told by its columns. Several
    posts tables (e.g. one per forum) are joined."""
    tables: dict[str, list[pd.DataFrame]] = {kind: [] for kind in COLUMNS}
    sources: dict[str, list[str]] = {kind: [] for kind in COLUMNS}
    for path in _files(paths):
        kind, frame = read_table(path)
        tables[kind].append(frame)
        sources[kind].append(str(path))
    if not tables["posts"]:
        raise DataError(f"{', '.join(map(str, paths))}: no posts table among them (a posts "
                        f"table has the columns {', '.join(COLUMNS['posts'])}).")
    if not sum(map(len, tables["posts"])):
        raise DataError(f"{', '.join(sources['posts'])}: the posts table has no rows.")
    posts = _check_posts(tables["posts"])
    forums = set(posts["forum"].unique())
    members = pd.concat(tables["members"], ignore_index=True) if tables["members"] else None
    events = pd.concat(tables["events"], ignore_index=True) if tables["events"] else None
    if members is not None:
        _check_unique(members, ["author", "forum"], "is listed twice as a member of forum")
    if events is not None:
        unknown = ~events["forum"].isin(forums)
        if unknown.any():
            _refuse(events, int(np.argmax(unknown.to_numpy())), "forum",
                    "names a forum that has no posts in the posts table")
        events = events.sort_values("time", kind="stable").reset_index(drop=True)
    return Community(posts, members, events, tuple(sum(sources.values(), [])))


def _files(paths: list[str | Path]) -> list[Path]:
    """The table files named, a folder standing for the tables it holds."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            inside = sorted(p for kind in COLUMNS for suffix in SUFFIXES
                            if (p := path / f"{kind}{suffix}").is_file())
            if not inside:
                raise DataError(f"{path}: a folder without posts.csv or posts.parquet (nor "
                                "members or events tables).")
            found += inside
        else:
            found.append(path)
    return found


def read_table(path: Path) -> tuple[str, pd.DataFrame]:
    """One table file: its kind (posts, members or events, by its columns) and its needed
    columns as text (times parsed to UTC in `time`), each value checked."""
    raw, latest = (_read_parquet(path) if path.suffix.lower() == ".parquet"
                   else _read_csv(path))
    names = raw.column_names
    kind = ("posts" if "post_id" in names else "events" if "event" in names
            else "members" if "registered" in names or "rank" in names else None)
    if kind is None:
        raise DataError(f"{path}, header: not a posts, members or events table (a posts table "
                        f"has the columns {', '.join(COLUMNS['posts'])}; found "
                        f"{', '.join(names[:8]) or 'none'}).")
    missing = [c for c in COLUMNS[kind] if c not in names]
    if missing:
        raise DataError(f"{path}, header: the {kind} table has no column '{missing[0]}' "
                        f"(needed: {', '.join(COLUMNS[kind])}).")
    frame = pd.DataFrame({c: _text(path, raw.column(c), c, latest) for c in COLUMNS[kind]})
    frame["source"], frame["row"] = str(path), np.arange(1, len(frame) + 1)
    for column in COLUMNS[kind]:
        empty = frame[column] == ""
        if column not in OPTIONAL and empty.any():
            _refuse(frame, int(np.argmax(empty.to_numpy())), column, "is empty")
        lengths = frame[column].str.len().to_numpy()
        if len(lengths) and lengths.max() > MAX_FIELD:
            row = int(np.argmax(lengths > MAX_FIELD))
            _refuse(frame, row, column, f"holds {lengths[row]:,} characters; an id, a name "
                                        f"or a time is shorter than {MAX_FIELD:,}")
        if column in TIMES:
            frame[column if column != "timestamp" else "time"] = _times(frame, column, latest)
    if kind == "posts":
        frame = frame.drop(columns="timestamp")
    else:
        frame = frame.rename(columns={"registered": "time", "date": "time"})
    return kind, frame


def _written(path: Path) -> pd.Timestamp:
    """The latest time a table written at `path`'s modification time can hold."""
    return pd.Timestamp(path.stat().st_mtime_ns, unit="ns", tz="UTC") + SLACK


def _read_parquet(path: Path) -> tuple[pa.Table, pd.Timestamp | None]:
    """A Parquet file as a table, and the latest time it can hold (None for a run's
    export, whose times are the model's calendar)."""
    _check_file(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise DataError(f"{path}: cannot be read as a Parquet file "
                        f"({_first_line(error)}).") from None
    simulated = SIMULATED in (table.schema.metadata or {})
    return table, None if simulated else _written(path)


def _read_csv(path: Path) -> tuple[pa.Table, pd.Timestamp]:
    """A CSV file as a table of text columns, after checking its encoding (a block at a
    time: a file of NUL bytes or another encoding is refused at its first block), and the
    latest time it can hold."""
    if path.suffix.lower() != ".csv":
        raise DataError(f"{path}: not a table file; give a .csv or .parquet file.")
    _check_file(path)
    header = _check_text(path)
    try:
        table = pa_csv.read_csv(
            path, read_options=pa_csv.ReadOptions(block_size=16 << 20),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid as error:
        row, reason = _bad_row(path, len(header))
        raise DataError(f"{path}, row {row}: cannot be read as CSV "
                        f"({reason or _first_line(error).removeprefix('CSV parse error: ')})."
                        ) from None
    return table, _written(path)


def _check_text(path: Path) -> list[str]:
    """Check that a CSV file is UTF-8 text without NUL bytes, a block at a time; its
    header's column names."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    rows, start = 0, b""
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            if not start:
                start = block
                for bom, name in BOMS:
                    if block.startswith(bom):
                        raise DataError(f"{path}: is {name} text; save it as UTF-8.")
            try:
                text = decoder.decode(block)
            except UnicodeDecodeError as error:
                row = rows + block[: error.start].count(b"\n")
                raise DataError(f"{path}, row {row}: is not UTF-8 text (byte "
                                f"0x{block[error.start]:02x}); save the file as UTF-8.") from None
            if "\x00" in text:
                row = rows + text[: text.index("\x00")].count("\n")
                raise DataError(f"{path}, row {row}: holds a NUL byte; not a CSV text file.")
            rows += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise DataError(f"{path}, row {rows}: is not UTF-8 text (it ends inside a "
                            "character); save the file as UTF-8.") from None
    try:
        header = next(csv.reader(io.StringIO(start.decode("utf-8-sig", errors="replace"))), [])
    except csv.Error as error:
        raise DataError(f"{path}, header: cannot be read as CSV ({error}).") from None
    if not header:
        raise DataError(f"{path}, header: the file is empty; a table starts with a header "
                        "row naming its columns.")
    doubled = sorted({name for name in header if header.count(name) > 1})
    if doubled:
        raise DataError(f"{path}, header: the column '{doubled[0]}' appears twice.")
    return header


def _bad_row(path: Path, width: int) -> tuple[int, str | None]:
    """The first data row that cannot be a row of the table: one whose number of fields
    differs from the header's, or that Python's CSV reader refuses (with the reason)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        row = 0
        try:
            for row, fields in enumerate(reader):
                if row and len(fields) != width:
                    return row, None
        except csv.Error as error:
            return row + 1, str(error)
    return 0, None


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DataError(f"{path}: no such file.")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file.")
    if path.stat().st_size > MAX_BYTES:
        raise DataError(f"{path}: larger than {MAX_BYTES >> 30} GB; split it into several "
                        "tables (e.g. one per forum).")


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def _text(path: Path, column: pa.ChunkedArray, name: str,
          latest: pd.Timestamp | None) -> pd.Series:
    """A column as text ('' for missing); times are written ISO 8601, once they are known
    to lie in a forum's plausible life (`_plausible`)."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if pa.types.is_null(kind):  # a column with no values at all (e.g. no replies)
        return pd.Series([""] * len(column), dtype=object)
    if pa.types.is_timestamp(kind):
        _plausible_stamps(path, column, name, latest)
        values = column.to_pandas()
        if values.dt.tz is None:
            values = values.dt.tz_localize("UTC")
        return values.dt.strftime("%Y-%m-%dT%H:%M:%S.%f%z").fillna("")
    if pa.types.is_floating(kind):  # integer ids stored as floats (e.g. with NaN)
        values = column.to_pandas()
        whole = values.dropna()
        too_large = ~(whole.abs() < EXACT_IDS)
        if too_large.any():
            row = int(whole.index[np.argmax(too_large.to_numpy())]) + 1
            raise DataError(f"{path}, row {row}, column {name}: {whole[too_large].iloc[0]:g} is "
                            f"no value a table of posts holds (a number stored as a float "
                            f"is exact only below 2^53); store ids as text or integers.")
        if (whole == np.floor(whole)).all():
            values = values.astype("Int64")
        return values.astype(str).where(values.notna(), "")
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_date(kind):
        column = column.cast(pa.string())
    elif not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise DataError(f"{path}, column {name}: holds values of type {kind}, not text, "
                        "numbers or times.")
    return column.to_pandas().fillna("").astype(str)


def _plausible_stamps(path: Path, column: pa.ChunkedArray, name: str,
                      latest: pd.Timestamp | None) -> None:
    """Refuse a Parquet time column holding a time outside a forum's plausible life,
    compared as whole numbers of its unit (so that no time is too far out to convert)."""
    unit = column.type.unit
    per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    numbers = column.cast(pa.int64()).to_numpy(zero_copy_only=False)
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    outside = numbers < EARLIEST.value // (10**9 // per_second)
    if latest is not None:
        outside |= numbers > latest.value // (10**9 // per_second)
    outside &= valid
    if outside.any():
        row = int(np.argmax(outside))
        seconds = int(numbers[row]) // per_second
        year = 1970 + seconds // 31_556_952  # a Gregorian year, on average
        _implausible(path, row + 1, name, f"a time in the year {year}", latest)


def _times(frame: pd.DataFrame, column: str, latest: pd.Timestamp | None) -> pd.Series:
    """Parse a column of ISO 8601 times to UTC (no offset: taken as UTC); '' stays NaT.
    Every time must lie in a forum's plausible life: from 1990 to `latest` (the day the
    table was written), or from 1990 on for a run's export."""
    text = frame[column]
    times = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    bad = times.isna() & (text != "")
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        _refuse(frame, row, column, f"'{text.iloc[row][:40]}' is not an ISO 8601 time "
                                    "(e.g. 2021-03-01T14:05:00Z)")
    times = times.astype("datetime64[us, UTC]")
    outside = times < EARLIEST
    if latest is not None:
        outside |= times > latest
    if outside.any():
        row = int(np.argmax(outside.to_numpy()))
        _implausible(frame["source"].iloc[row], int(frame["row"].iloc[row]), column,
                     f"'{text.iloc[row][:40]}'", latest)
    return times


def _implausible(source: object, row: int, column: str, shown: str,
                 latest: pd.Timestamp | None) -> None:
    until = ("" if latest is None
             else f" to {(latest - SLACK):%Y-%m-%d}, the day the table was written")
    raise DataError(f"{source}, row {row}, column {column}: {shown} is outside the life of any "
                    f"forum of this kind (from {EARLIEST:%Y-%m-%d}{until}); check the column's "
                    "unit and time zone.")


def _refuse(frame: pd.DataFrame, row: int, column: str, problem: str) -> None:
    """Raise a DataError naming the file, row (from 1) and column of `frame`."""
    raise DataError(f"{frame['source'].iloc[row]}, row {frame['row'].iloc[row]}, column "
                    f"{column}: {problem}.")


def _check_unique(frame: pd.DataFrame, keys: list[str], problem: str) -> None:
    doubled = frame.duplicated(keys)
    if doubled.any():
        row = int(np.argmax(doubled.to_numpy()))
        _refuse(frame, row, keys[0], f"'{frame[keys[0]].iloc[row][:40]}' {problem} "
                                     f"'{frame[keys[1]].iloc[row][:40]}'")


def _check_posts(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Join posts tables and link replies: ids are unique within a forum, a reply answers
    a post of its forum made no later than itself (so reply chains end)."""
    posts = pd.concat(frames, ignore_index=True)
    _check_unique(posts, ["post_id", "forum"], "is a second post with this id on forum")
    key = pd.MultiIndex.from_arrays([posts["forum"], posts["post_id"]])
    replies = posts["reply_to"] != ""
    parent = np.full(len(posts), -1, dtype=np.int64)
    parent[replies.to_numpy()] = key.get_indexer(
        pd.MultiIndex.from_arrays([posts["forum"][replies], posts["reply_to"][replies]]))
    orphan = replies.to_numpy() & (parent < 0)
    if orphan.any():
        row = int(np.argmax(orphan))
        value = posts["reply_to"].iloc[row]
        hint = " (ids are compared as text: write whole-number ids without '.0')" * (
            value.endswith(".0"))
        _refuse(posts, row, "reply_to", f"'{value[:40]}' is no post of this forum{hint}")
    # In time order (posts of the same instant in table order), a reply must come after
    # the post it answers: then every reply chain ends.
    order = np.lexsort((np.arange(len(posts)), posts["time"].to_numpy()))
    rank = np.empty(len(posts), dtype=np.int64)
    rank[order] = np.arange(len(posts))
    linked = parent >= 0
    early = np.zeros(len(posts), dtype=bool)
    early[linked] = rank[parent[linked]] >= rank[linked]
    if early.any():
        row = int(np.argmax(early))
        _refuse(posts, row, "reply_to", f"'{posts['reply_to'].iloc[row][:40]}' is this post "
                                        "itself, a later one, or one listed after it at the "
                                        "same time")
    posts = posts.iloc[order].reset_index(drop=True)
    parent = parent[order]
    parent[parent >= 0] = rank[parent[parent >= 0]]
    posts["parent"] = parent
    posts["thread"] = posts["forum"] + "\x1f" + posts["thread_id"]
    return posts[["time", "forum", "author", "thread", "parent", "post_id", "source", "row"]]


def exported_community(tables: dict[str, dict[str, np.ndarray]]) -> Community:
    """The community of a run's export (`RunResult.community`) as `load_community` reads
    it from disk, without writing it: posts in time order, replies as rows."""
    posts, members, events = tables["posts"], tables["members"], tables["events"]
    forum = pd.Series(posts["forum"], dtype=object)
    return Community(
        posts=pd.DataFrame({
            "time": pd.to_datetime(posts["timestamp"], utc=True),
            "forum": forum, "author": posts["author"].astype(str),
            "thread": forum + "\x1f" + posts["thread_id"].astype(str),
            "parent": posts["reply_to"]}),
        members=pd.DataFrame({"author": members["author"].astype(str),
                              "forum": members["forum"],
                              "time": pd.to_datetime(members["registered"], utc=True),
                              "rank": members["rank"]}),
        events=pd.DataFrame({"forum": events["forum"],
                             "time": pd.to_datetime(events["date"], utc=True),
                             "event": events["event"]}))
