"""The report of a sweep: confidence intervals over replicates, paired effects against the
counterfactual, key-player curves, and sensitivity indices that find the parameter that
matters."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forumsim.analysis.sweep_report import number
from forumsim.experiment.executors import run_sweep
from forumsim.experiment.plan import load_sweep
from forumsim.measures.metrics import mean_ci
from forumsim.ui.cli import app

DATA = Path(__file__).parent / "data"
runner = CliRunner()


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """Each test sweep run (in this process) and reported through the command line."""

    def make(name: str) -> Path:
        out = tmp_path_factory.mktemp(name) / "out"
        run_sweep(load_sweep(DATA / f"{name}_sweep.yaml"), out, executor="inline")
        result = runner.invoke(app, ["report", str(out)])
        assert result.exit_code == 0, result.output
        return out

    return {name: make(name) for name in ("tiny", "kpd", "sobol", "morris")}


def section(markdown: str, title: str) -> str:
    start = markdown.index(title)
    end = markdown.find("\n## ", start + 1)
    return markdown[start:] if end < 0 else markdown[start:end]


def row(markdown: str, starts: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {starts} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_report_writes_markdown_html_and_the_figures_it_links(reported):
    out = reported["tiny"]
    markdown = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    linked = re.findall(r"\(figures/([\w.]+\.png)\)", markdown)
    assert set(linked) == {"outcomes.png", "activity.png", "paired_gap.png"}
    assert all((out / "figures" / name).stat().st_size > 5000 for name in linked)
    assert page.count("<img src=\"data:image/png;base64,") == len(linked)  # self-contained
    assert "Does seizing the largest forum hurt more" in markdown  # the file's question


def test_large_numbers_are_written_whole_and_small_ones_to_three_digits():
    assert number(17913.4) == "17,913" and number(0.012345) == "0.0123" and number(942.4) == "942"


def test_outcome_cells_are_the_mean_and_95_percent_interval_over_replicates(reported):
    out = reported["tiny"]
    summary = pd.read_parquet(out / "summary.parquet")
    markdown = (out / "report.md").read_text()
    header = row(markdown, "scenario")
    cells = row(markdown, "home_loyalty=0.9, interventions=none")
    values = summary[(summary["behaviour.home_loyalty"] == 0.9)
                     & (summary["interventions"] == "none")]["active_people_mean_last30"]
    mean, low, high = mean_ci(values)
    assert cells[header.index("n")] == "2"
    assert cells[header.index("active_people_mean_last30")] == (
        f"{number(mean)} [{number(low)}, {number(high)}]")


def test_interventions_are_reported_against_their_counterfactual(reported):
    out = reported["tiny"]
    shocks = section((out / "report.md").read_text(), "## Intervention 0")
    assert "interventions=takedown" in shocks and "interventions=none" not in shocks
    summary = pd.read_parquet(out / "summary.parquet")
    loss = summary[(summary["interventions"] == "takedown")
                   & (summary["behaviour.home_loyalty"] == 0.6)]["iv0_loss"]
    mean, low, high = mean_ci(loss)
    header = row(shocks, "scenario")
    assert row(shocks, "home_loyalty=0.6, interventions=takedown")[
        header.index("iv0_loss")] == f"{number(mean)} [{number(low)}, {number(high)}]"


def test_key_player_table_has_one_row_per_strategy_and_k_with_kpd(reported):
    out = reported["kpd"]
    players = section((out / "report.md").read_text(), "## Key players")
    assert (out / "figures" / "key_players_0.png").is_file()
    summary = pd.read_parquet(out / "summary.parquet")
    header = row(players, "strategy")
    for strategy in ("degree", "betweenness"):
        for k in (5, 20):
            cells = row(players, f"{strategy} | {k}")
            # kpd is undefined (NaN) where the random arrests cost nothing: the report
            # averages the replicates where it is defined.
            kpd = summary[(summary["iv0_strategy"] == strategy) & (summary["iv0_k"] == k)][
                "iv0_kpd"].dropna()
            shown = cells[header.index("kpd")]
            mean = number(mean_ci(kpd)[0])
            # One defined replicate has a mean but no interval.
            assert shown.startswith(f"{mean} [") if len(kpd) > 1 else shown == mean
    assert row(players, "random | 5")[header.index("kpd")] == "–"


def test_sobol_indices_find_that_people_drive_registrations(reported):
    markdown = (reported["sobol"] / "report.md").read_text()
    registered = section(markdown, "## Sensitivity").split("### registered_people")[1]
    total = {name: float(row(registered, name)[2].split()[0])
             for name in ("people", "behaviour.thanks_per_share")}
    assert total["people"] > 0.8 and total["behaviour.thanks_per_share"] < 0.1
    assert (reported["sobol"] / "figures" / "sensitivity.png").is_file()


def test_morris_effects_find_that_people_drive_registrations(reported):
    markdown = (reported["morris"] / "report.md").read_text()
    registered = section(markdown, "## Sensitivity").split("### registered_people")[1]
    mu_star = {name: float(row(registered, name)[1].split()[0])
               for name in ("people", "behaviour.thanks_per_share")}
    assert mu_star["people"] > 10 * mu_star["behaviour.thanks_per_share"]


def test_a_partly_finished_sweep_reports_what_is_there_and_says_so(tmp_path, monkeypatch):
    from forumsim.experiment import runner as runner_module

    real_run, calls = runner_module.run, []

    def stop_after_four(scenario, progress=None):
        calls.append(1)
        if len(calls) > 4:
            raise KeyboardInterrupt
        return real_run(scenario, progress)

    monkeypatch.setattr(runner_module, "run", stop_after_four)
    out = tmp_path / "out"
    run_sweep(load_sweep(DATA / "tiny_sweep.yaml"), out, executor="inline", runs_per_part=1)
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 of 8 planned finished" in (out / "report.md").read_text()


@pytest.mark.parametrize("setup, words", [
    (lambda folder: None, "no manifest.json"),
    (lambda folder: (folder / "manifest.json").write_text("{}"), "no summary.parquet yet"),
])
def test_report_of_a_folder_that_is_not_a_finished_sweep_exits_2(tmp_path, setup, words):
    setup(tmp_path)
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and words in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "report.md").exists()


# --- the figures of one run (forumsim run) -------------------------------------------------


def _forums() -> pd.DataFrame:
    """Three fora over ten days: A seized on day 6, B down on days 3-4, C founded on day 5."""
    rows = []
    for day in range(1, 11):
        rows.append((day, "Forum A", "open", "online" if day < 6 else "seized",
                     100 if day < 6 else 0))
        rows.append((day, "Forum B", "restricted", "down" if day in (3, 4) else "online",
                     0 if day in (3, 4) else 50))
        if day >= 5:
            rows.append((day, "Forum A (2)", "closed", "online", 20))
    return pd.DataFrame(rows, columns=["day", "forum", "access", "status", "active_members"])


def test_each_forum_keeps_one_colour_in_order_of_first_appearance():
    from forumsim.analysis.report import forum_colours

    forums = _forums()
    colours = forum_colours(forums)
    assert list(colours) == ["Forum A", "Forum B", "Forum A (2)"]
    assert len(set(colours.values())) == 3


def test_forum_histories_give_the_status_at_the_end_and_what_happened():
    from forumsim.analysis.report import forum_histories

    a, b, c = forum_histories(_forums())
    assert a.label() == "Forum A (open, seized on day 6)" and a.founded is None
    assert a.days[a.alive()].max() == 6  # its rows go on, but it is drawn until day 6
    assert b.outages == [(3, 4)] and b.label() == "Forum B (restricted, online)"
    assert c.founded == 5 and c.ended is None


def test_the_smoothed_line_restarts_at_a_break_so_a_seizure_stays_a_step():
    from forumsim.analysis.report import smoothed_between

    days = np.arange(1, 21)
    values = np.r_[np.full(10, 100.0), np.zeros(10)]
    step = smoothed_between(days, values, [11])
    assert step[9] == 100 and step[10] == 0  # not a week-long slide
    assert smoothed_between(days, values, [])[10] > 50  # what a plain trailing mean does
