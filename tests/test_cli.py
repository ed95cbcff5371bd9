"""The `forumsim` command: outputs of `run`, and bad input stopping early and clearly."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from forumsim.ui.cli import app

runner = CliRunner()
SMALL = ["run", "small", "--days", "40", "--people", "800", "--quiet"]


def test_run_writes_summary_tables_and_figures(tmp_path):
    out = tmp_path / "res"
    result = runner.invoke(app, [*SMALL, "--out", str(out), "--seed", "11"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert {"scenario", "seed", "days", "people", "version", "config_sha256",
            "wall_seconds", "metrics"} <= set(summary)
    assert summary["seed"] == 11 and summary["days"] == 40 and summary["people"] == 800
    assert {"share_lurkers", "share_posting", "share_sharing", "top1pct_post_share",
            "online_fora"} <= set(summary["metrics"])
    ecosystem = pq.read_table(out / "ecosystem.parquet").to_pandas()
    assert len(ecosystem) == 40
    assert {"day", "active_people", "posts", "shares", "registrations", "online_fora",
            "lurkers", "members", "vips", "moderators", "admins"} <= set(ecosystem.columns)
    forums = pq.read_table(out / "forums.parquet").to_pandas()
    assert {"day", "forum", "access", "status", "members", "active_members", "posts",
            "shares", "staff"} <= set(forums.columns)
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert figures == ["activity_per_forum.png", "participation_lorenz.png",
                       "role_composition.png"]
    assert "share_lurkers" in result.output  # the summary table


def test_fora_option_sets_the_number_of_fora(tmp_path):
    out = tmp_path / "res"
    result = runner.invoke(app, [*SMALL, "--fora", "5", "--out", str(out), "--no-figures"])
    assert result.exit_code == 0, result.output
    forums = pq.read_table(out / "forums.parquet").to_pandas()
    assert forums[forums["day"] == 1]["forum"].nunique() == 5


@pytest.mark.parametrize("args, words", [
    (["--people", "-5"], "--people"),
    (["--days", "0"], "--days"),
    (["--seed", "-1"], "--seed"),
    (["--fora", "0"], "--fora"),
])
def test_bad_command_line_values_exit_2_naming_the_option(tmp_path, args, words):
    out = tmp_path / "res"
    result = runner.invoke(app, ["run", "small", *args, "--out", str(out)])
    assert result.exit_code == 2
    assert words in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("content, words", [
    ("name: x\nfora: [\n", "not valid YAML"),
    ("name: x\npeople: 100\nfora: [{name: A, access: open}]\ncolour: red\n",
     "unknown field 'colour'"),
    ("name: x\npeople: 5\nfora: [{name: A, access: open}]\n", "field 'people'"),
    ("- just\n- a list\n", "expected a mapping"),
    ("name: x\nfora: [{name: A, access: public}]\n", "fora.0.access"),
])
def test_bad_scenario_files_exit_2_with_one_clear_message(tmp_path, content, words):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    out = tmp_path / "res"
    result = runner.invoke(app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert str(path) in result.output.replace("\n", "")
    assert not out.exists()


def test_unknown_file_exits_2_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "forumsim.ui.cli", "run", str(tmp_path / "no.yaml")],
        capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert "no such scenario file" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()


# --- run never deletes or replaces what it did not write --------------------------------


def test_run_leaves_an_existing_user_folder_and_file_untouched(tmp_path):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("\\chapter{One}\n")
    (thesis / "data.csv").write_text("a,b\n1,2\n")
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    for out, words in ((thesis, "was not written by forumsim run"),
                       (precious, "exists and is a file"),
                       (precious / "sub", "is a file, not a folder")):
        for extra in ([], ["--overwrite"]):
            result = runner.invoke(app, [*SMALL, "--out", str(out), *extra])
            assert result.exit_code == 2, result.output
            assert words in " ".join(result.output.split())
            assert "results written" not in result.output  # refused before simulating
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        ["thesis", "chapter1.tex", "data.csv", "precious.txt"])


def test_an_earlier_run_is_replaced_only_with_overwrite(tmp_path):
    out = tmp_path / "res"
    assert runner.invoke(app, [*SMALL, "--out", str(out), "--no-figures"]).exit_code == 0
    first = (out / "summary.json").read_text()
    again = runner.invoke(app, [*SMALL, "--out", str(out), "--no-figures", "--seed", "5"])
    assert again.exit_code == 2 and "add --overwrite" in " ".join(again.output.split())
    assert (out / "summary.json").read_text() == first
    replaced = runner.invoke(app, [*SMALL, "--out", str(out), "--no-figures", "--seed", "5",
                                   "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert json.loads((out / "summary.json").read_text())["seed"] == 5


def test_the_default_results_folder_keeps_other_runs_and_notes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "notes.md").write_text("mine")
    scenario = tmp_path / "dot.yaml"
    scenario.write_text('extends: small\nname: "."\n')
    result = runner.invoke(app, ["run", str(scenario), "--quiet"])
    assert result.exit_code == 2 and "a name is a plain label" in result.output
    ok = runner.invoke(app, [*SMALL, "--no-figures"])
    assert ok.exit_code == 0, ok.output
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["notes.md", "small"]


def test_a_run_that_cannot_fit_in_memory_is_refused_before_it_starts(tmp_path, monkeypatch):
    from forumsim.experiment import resources

    monkeypatch.setattr(resources, "available_memory", lambda: 2 << 30)
    out = tmp_path / "res"
    result = runner.invoke(app, ["run", "small", "--people", "20000000", "--out", str(out)])
    message = " ".join(result.output.split())
    assert result.exit_code == 2, message
    assert "a run of 20,000,000 people and 3 fora needs about" in message
    assert "this machine has 2.0 GB available" in message and "at most about" in message
    assert not out.exists()


# --- what the commands print --------------------------------------------------------------


@pytest.mark.parametrize("command, shown", [
    (["run", "--help"], "results/<scenario name>"),
    (["sweep", "--help"], "the number of CPUs"),
    (["validate", "--help"], "write nothing"),
])
def test_help_shows_every_default(command, shown, monkeypatch):
    result = runner.invoke(app, command)
    text = " ".join(result.output.split())  # phrases may be wrapped over lines
    assert result.exit_code == 0 and shown in text
    assert " . " not in text and "DOMAIN" not in text


@pytest.mark.parametrize("command", [[], ["run"], ["sweep"], ["report"], ["calibrate"],
                                     ["demo"], ["data"], ["data", "summarize"]])
def test_help_fits_an_80_column_terminal_with_room_for_its_sentences(command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(map(len, lines)) <= 80
    # Help text starts by column 40, so each line of it holds at least 40 characters ...
    indents = {len(line) - len(line.lstrip()) for line in lines if line.strip()}
    assert max(indents) <= 40, result.output
    # ... and a paragraph is rewrapped, not broken where the source line ended.
    description = result.output.split("\n\n")[1]
    assert all(len(line) > 50 for line in description.splitlines()[:-1]), description


def test_run_prints_each_figure_with_its_unit(tmp_path):
    result = runner.invoke(app, [*SMALL, "--out", str(tmp_path / "r"), "--no-figures"],
                           terminal_width=200)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "active_people_mean_last30" in line)
    assert "people per day" in line
    assert "share" in next(line for line in result.output.splitlines() if "share_lurkers" in line)
    lurkers = next(line for line in result.output.splitlines() if "share_lurkers" in line)
    assert "%" in lurkers
    # A count of shares is a count, not a share in percent.
    shares = next(line for line in result.output.splitlines() if "shares_total" in line)
    assert "%" not in shares and "shares" in shares


def test_describe_shows_what_each_variant_of_a_sweep_is():
    result = runner.invoke(app, ["describe", "experiments/policy_mix.yaml"], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert "#     seize: [{type: takedown, day: 365" in result.output
    assert "#     decapitate: [{type: arrests" in result.output


def test_validate_prints_the_table_and_writes_only_where_told(tmp_path, monkeypatch):
    from forumsim.analysis import validate

    rows = [{"key": "p", "pattern": "members who post", "source": "van der Bruggen et al. 2022",
             "target": "about 3.4%", "test": "mean from 2.0% to 6.0%", "unit": "share",
             "mean": 0.038, "low": 0.035, "high": 0.04, "n": 3, "passed": True}]
    monkeypatch.setattr(validate, "timed_validate", lambda **kwargs: (rows, 1.0))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["validate", "--quick"], terminal_width=200)
    assert result.exit_code == 0, result.output
    cells = result.output.replace("│", " ").split()  # table cells wrap over lines
    assert "3.8%" in cells and "members" in cells and "pass" in cells
    assert list(tmp_path.iterdir()) == []  # no docs/ created where it runs
    result = runner.invoke(app, ["validate", "--quick", "--write", "out/v.md"])
    written = (tmp_path / "out" / "v.md").read_text()
    assert result.exit_code == 0 and "| mean from 2.0% to 6.0% | 3.8% (3.5% to 4.0%) |" in written


def test_a_sweep_ends_with_the_report_command_to_run_next(tmp_path):
    out = tmp_path / "o"
    result = runner.invoke(app, ["sweep", "tests/data/tiny_sweep.yaml", "--out", str(out),
                                 "--executor", "inline", "--quiet"], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith(f"forumsim report {out}")
