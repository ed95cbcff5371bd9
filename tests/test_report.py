"""The report of a sweep: confidence intervals over replicates, paired effects against the
counterfactual, key-player curves, and sensitivity indices that find the parameter that
matters."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forumsim.analysis.labels import title
from forumsim.analysis.sweep_report import load_results, number
from forumsim.experiment.executors import run_sweep
from forumsim.experiment.plan import load_sweep
from forumsim.measures.metrics import bootstrap_ci
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

    return {name: make(name) for name in ("tiny", "kpd", "sobol", "morris", "policy")}


def section(markdown: str, title: str) -> str:
    start = markdown.index(title)
    end = markdown.find("\n## ", start + 1)
    return markdown[start:] if end < 0 else markdown[start:end]


def row(markdown: str, starts: str, header: str | None = None) -> list[str]:
    """The cells of the first table row starting with `starts` (in a table whose header
    holds `header`, when a wide table was split into several)."""
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith(f"| {starts} |"):
            continue
        top = max(j for j in range(i + 1) if lines[j].startswith("|") and (
            j == 0 or not lines[j - 1].startswith("|")))
        if header is None or header in lines[top]:
            return [cell.strip() for cell in line.strip("|").split("|")]
    raise AssertionError(f"no row {starts!r} under a header with {header!r}")


def interval(results, values, name: str, what: str) -> str:
    mean, low, high = bootstrap_ci(values, results.seed(name + what), results.bounds(name))
    return f"{number(mean)} [{number(low)}, {number(high)}]"


def test_report_writes_markdown_html_and_the_figures_it_links(reported):
    out = reported["tiny"]
    markdown = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    linked = re.findall(r"\(figures/([\w.]+\.png)\)", markdown)
    assert set(linked) == {"outcomes.png", "activity.png", "paired_gap.png",
                           "levels_behaviour_home_loyalty.png", "levels_interventions.png"}
    assert all((out / "figures" / name).stat().st_size > 5000 for name in linked)
    assert page.count("<img src=\"data:image/png;base64,") == len(linked)  # self-contained
    assert "Does seizing the largest forum hurt more" in markdown  # the file's question


def test_large_numbers_are_written_whole_and_small_ones_to_three_digits():
    assert number(17913.4) == "17,913" and number(0.012345) == "0.0123" and number(942.4) == "942"


def test_outcome_cells_are_the_mean_and_95_percent_interval_over_replicates(reported):
    out = reported["tiny"]
    summary = pd.read_parquet(out / "summary.parquet")
    markdown = (out / "report.md").read_text()
    active = title("active_people_mean_last30")
    header = row(markdown, "scenario", active)
    label = "home_loyalty=0.9, interventions=none"
    cells = row(markdown, label, active)
    values = summary[(summary["behaviour.home_loyalty"] == 0.9)
                     & (summary["interventions"] == "none")]["active_people_mean_last30"]
    assert cells[header.index("n")] == "2 †"  # flagged: fewer than 5 runs
    assert cells[header.index(active)] == interval(load_results(out), values,
                                                   "active_people_mean_last30", label)
    assert "† fewer than 5" in markdown


def test_interventions_are_reported_against_their_counterfactual(reported):
    out = reported["tiny"]
    shocks = section((out / "report.md").read_text(), "## Intervention 1")
    assert "interventions=takedown" in shocks and "interventions=none" not in shocks
    summary = pd.read_parquet(out / "summary.parquet")
    loss = summary[(summary["interventions"] == "takedown")
                   & (summary["behaviour.home_loyalty"] == 0.6)]["iv0_loss"]
    header = row(shocks, "scenario", title("iv0_loss"))
    label = "home_loyalty=0.6, interventions=takedown"
    assert row(shocks, label, title("iv0_loss"))[header.index(title("iv0_loss"))] == (
        interval(load_results(out), loss, "iv0_loss", label))


def test_key_player_table_has_one_row_per_strategy_and_k_with_kpd(reported):
    out = reported["kpd"]
    players = section((out / "report.md").read_text(), "## Key players")
    assert (out / "figures" / "key_players_0.png").is_file()
    summary = pd.read_parquet(out / "summary.parquet")
    kpd_title = title("iv0_kpd")
    header = row(players, "strategy", kpd_title)
    for strategy in ("degree", "betweenness"):
        for k in (5, 20):
            cells = row(players, f"{strategy} | {k}", kpd_title)
            # kpd is undefined (NaN) where the random arrests cost nothing: the report
            # averages the replicates where it is defined.
            kpd = summary[(summary["iv0_strategy"] == strategy) & (summary["iv0_k"] == k)][
                "iv0_kpd"].dropna()
            shown = cells[header.index(kpd_title)]
            mean = number(kpd.mean())
            # One defined replicate has a mean but no interval, and says it is one.
            assert shown.startswith(f"{mean} [") if len(kpd) > 1 else shown.startswith(mean)
            assert ("(n = " in shown) == (len(kpd) < 2), shown
    assert row(players, "random | 5", kpd_title)[header.index(kpd_title)] == "–"


def test_sobol_indices_find_that_people_drive_registrations(reported):
    markdown = (reported["sobol"] / "report.md").read_text()
    registered = section(markdown, "## Sensitivity").split(f"### {title('registered_people')}")[1]
    total = {name: float(row(registered, name)[2].split()[0])
             for name in ("people", "thanks per share")}
    assert total["people"] > 0.8 and total["thanks per share"] < 0.1
    assert (reported["sobol"] / "figures" / "sensitivity.png").is_file()


def test_morris_effects_find_that_people_drive_registrations(reported):
    markdown = (reported["morris"] / "report.md").read_text()
    registered = section(markdown, "## Sensitivity").split(f"### {title('registered_people')}")[1]
    mu_star = {name: float(row(registered, name)[1].split()[0])
               for name in ("people", "thanks per share")}
    assert mu_star["people"] > 10 * mu_star["thanks per share"]


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


def test_a_sweep_without_any_shock_is_reported(tmp_path):
    # A baseline: replicates of a scenario with no interventions (no iv columns at all).
    (tmp_path / "baseline.yaml").write_text(
        "name: baseline\nbase: small\nfixed: {people: 300, days: 40}\nreplicates: 2\n"
        "seed: 7\n")
    out = tmp_path / "baseline"
    run_sweep(load_sweep(tmp_path / "baseline.yaml"), out, executor="inline")
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "figures" / "activity.png").exists()


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


def test_sixteen_fora_get_sixteen_distinct_colours_and_more_differ_by_line():
    from matplotlib.colors import to_rgb

    from forumsim.analysis.report import forum_colours, forum_dashes

    forums = pd.DataFrame({"day": range(20), "forum": [f"F{i}" for i in range(20)]})
    colours, dashes = forum_colours(forums), forum_dashes(forums)
    first = [np.array(to_rgb(colours[f"F{i}"])) for i in range(16)]
    closest = min(np.abs(a - b).sum() for i, a in enumerate(first) for b in first[i + 1:])
    assert closest > 0.25  # no two of them alike (sum of RGB differences)
    styles = {(colours[name], dashes[name]) for name in colours}
    assert len(styles) == 20 and dashes["F16"] != dashes["F0"]


def test_run_figures_say_they_show_one_run_and_draw_the_few_staff(tmp_path, monkeypatch):
    from forumsim.analysis import report
    from forumsim.experiment.runner import run
    from forumsim.world.scenario import embedded_scenario

    result = run(embedded_scenario("small").overridden(people=500, days=40, interventions=[
        {"type": "takedown", "day": 20, "target": "largest"}]))
    figures = {}
    monkeypatch.setattr(report, "_save", lambda fig, path: figures.setdefault(path.name, fig))
    report.run_figures(result, tmp_path)
    for name in ("activity_per_forum.png", "activity_vs_counterfactual.png",
                 "members_around_shocks.png", "participation_lorenz.png"):
        fig = figures[name]
        titles = [ax.get_title() for ax in fig.axes] + [fig._suptitle.get_text()
                                                         if fig._suptitle else ""]
        assert any("one run of 'small' (seed" in t for t in titles), name
    staff_axis = figures["role_composition.png"].axes[-1]  # the stacked panel's right axis
    assert [line.get_label() for line in staff_axis.get_lines()] == [
        "Moderators (right axis)", "Admins (right axis)"]
    curve = figures["participation_lorenz.png"].axes[0]
    assert curve.get_xscale() == "log"
    # Mathtext is off so that names from tables are drawn as written: no tick may rely on
    # it (a log axis's default labels would read "$\\mathdefault{10^{2}}$").
    for name, fig in figures.items():
        fig.canvas.draw()
        for ax in fig.axes:
            for tick in ax.get_xticklabels() + ax.get_yticklabels():
                assert "$" not in tick.get_text(), (name, tick.get_text())


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


def test_bootstrap_intervals_stay_possible_and_repeat_with_the_seed():
    shares = np.array([0.02, 0.95, 0.97])  # a t interval over these leaves [0, 1]
    mean, low, high = bootstrap_ci(shares, seed=3, bounds=(0.0, 1.0))
    assert 0.0 <= low < mean < high <= 1.0
    assert bootstrap_ci(shares, seed=3, bounds=(0.0, 1.0)) == (mean, low, high)
    assert np.isnan(bootstrap_ci([4.0], seed=3)[1])  # one value: no interval
    counts = np.array([0.0, 0.0, 9.0])
    assert bootstrap_ci(counts, seed=1, bounds=(0.0, np.inf))[1] >= 0


def test_contrasts_are_paired_differences_by_scenario_and_replicate(reported):
    out = reported["policy"]
    results = load_results(out)
    markdown = (out / "report.md").read_text()
    contrasts = section(markdown, "## Policies compared")
    active = title("active_people_mean_last30")
    header = row(contrasts, "contrast", active)
    ok = results.ok.set_index(["scenario", "replicate"])
    seize = ok[ok["policy"] == "seize"]["active_people_mean_last30"]
    none = ok[ok["policy"] == "none"]["active_people_mean_last30"]
    differences = (seize - none.reindex(seize.index)).to_numpy()
    assert len(differences) == 10
    mean, low, high = bootstrap_ci(differences, results.seed("active_people_mean_last30"
                                                             "seize-none"))
    cells = row(contrasts, "seize − none", active)
    assert cells[header.index(active)] == f"{number(mean)} [{number(low)}, {number(high)}]"
    assert cells[header.index("n")] == "10"
    # The reference is against itself nowhere; the effect of shocks is undefined for the
    # policy without any.
    assert "none − none" not in contrasts
    loss = title("policy_loss")
    assert row(contrasts, "seize − none", loss)[row(contrasts, "contrast", loss).index(loss)] \
        == "–"


def test_all_pairs_and_another_reference_on_request(reported, tmp_path):
    from forumsim.analysis.policies import contrasts

    results = load_results(reported["policy"])

    def pairs(reference: str, all_pairs: bool) -> list[str]:
        blocks = contrasts(results, tmp_path, reference, all_pairs)
        return list(next(b[1] for b in blocks if b[0] == "table")["contrast"])

    combination = "Seize and arrest moderators"  # its label
    assert pairs("none", True) == ["none − seize", "none − decapitate",
                                   f"none − {combination}", "seize − decapitate",
                                   f"seize − {combination}", f"decapitate − {combination}"]
    assert pairs("seize", False) == ["none − seize", "decapitate − seize",
                                     f"{combination} − seize"]
    result = runner.invoke(app, ["report", str(reported["policy"]), "--reference", "sieze"])
    assert result.exit_code == 2 and "not a policy of this sweep" in result.output
    result = runner.invoke(app, ["report", str(reported["policy"]), "--goal", "loss>0.1"])
    assert result.exit_code == 2 and "OUTCOME>=NUMBER" in result.output


def test_regret_is_the_shortfall_from_the_best_policy_in_each_scenario():
    from forumsim.analysis.policies import regret

    means = pd.DataFrame({"a": [0.5, 0.1], "b": [0.3, 0.4]})
    assert regret(means, "higher").to_dict("list") == {"a": [0.0, 0.30000000000000004],
                                                       "b": [0.2, 0.0]}
    assert regret(means, "lower").to_dict("list") == {"a": [0.2, 0.0],
                                                      "b": [0.0, 0.30000000000000004]}


def test_goals_count_the_scenarios_each_policy_meets(reported):
    out = reported["policy"]
    results = load_results(out)
    goals = section((out / "report.md").read_text(), "## Goals")
    means = results.ok.groupby(["policy", "scenario"])["active_people_mean_last30"].mean()
    for policy in ("none", "seize", "decapitate"):
        met = int((means[policy] <= 12).sum())
        assert row(goals, policy)[2].startswith(f"{met} of 5")
    assert 0 < int((means <= 12).sum()) < 20  # the goal tells policies apart here


def test_tables_are_split_to_fit_the_page_and_headers_are_labels(reported):
    from forumsim.analysis.sweep_report import MOST_COLUMNS, pieces

    wide = pd.DataFrame({"policy": ["a"], "n": [3], **{f"x{i}": [i] for i in range(9)}})
    parts = pieces(wide)
    assert [list(p.columns[:2]) for p in parts] == [["policy", "n"]] * 3
    assert sum(len(p.columns) - 2 for p in parts) == 9
    assert all(len(p.columns) - 2 <= MOST_COLUMNS for p in parts)
    for name in ("policy", "tiny"):
        markdown = (reported[name] / "report.md").read_text()
        headers = [line for line in markdown.splitlines() if line.startswith("| ")
                   and "| ---" not in line]
        assert not any(re.search(r"\biv\d+_", h) for h in headers), name
        page = (reported[name] / "report.html").read_text()
        for table in re.findall(r"<table><tr>(.*?)</tr>", page):
            assert table.count("<th>") <= MOST_COLUMNS + 3


def test_one_size_of_arrests_gets_a_table_not_a_one_point_curve(reported):
    out = reported["policy"]
    assert "## Key players" in (out / "report.md").read_text()
    assert not (out / "figures" / "key_players_0.png").exists()
    assert (reported["kpd"] / "figures" / "key_players_0.png").is_file()


def test_every_axis_of_every_figure_is_labelled(reported, tmp_path, monkeypatch):
    from forumsim.analysis import policies, sweep_report
    from forumsim.analysis.report import _save

    seen = []

    def checked(fig, path):
        for ax in fig.axes:
            if ax.axison and ax.get_label() != "<colorbar>":
                assert ax.get_xlabel() and ax.get_ylabel(), (path.name, ax.get_title())
        seen.append(path.name)
        return _save(fig, path)

    monkeypatch.setattr(sweep_report, "_save", checked)
    monkeypatch.setattr(policies, "_save", checked)
    out = tmp_path / "out"
    shutil.copytree(reported["policy"], out)
    sweep_report.write_report(out, goals=[sweep_report.parse_goal("iv0_lasting_loss>=0.27")])
    assert {"outcomes.png", "activity.png", "paired_gap.png", "contrasts.png",
            "robustness.png"} <= set(seen)


def test_sensitivity_of_a_policy_sweep_is_computed_per_policy(tmp_path):
    from forumsim.analysis.sweep_report import write_report

    sweep = tmp_path / "sobol_policies.yaml"
    sweep.write_text("""
base: small
fixed: {people: 300, days: 30}
policies:
  none: []
  seize: [{type: takedown, day: 15, target: largest}]
uncertainties:
  people: {uniform: [200, 600]}
  behaviour.thanks_per_share: {uniform: [1.0, 5.0]}
design: sobol
samples: 4
seed: 9
outcomes: [registered_people]
""")
    out = tmp_path / "out"
    run_sweep(load_sweep(sweep), out, executor="inline")
    write_report(out)
    markdown = section((out / "report.md").read_text(), "## Sensitivity")
    for policy in ("none", "seize"):
        part = markdown.split(f"### {title('registered_people')}, policy {policy}")[1]
        total = {name: float(row(part, name)[2].split()[0])
                 for name in ("people", "thanks per share")}
        assert total["people"] > 0.5 > 0.1 > total["thanks per share"]


# --- the policy report's bottom line ---------------------------------------------------------


def test_the_first_screen_is_the_bottom_line_with_each_policys_whole_effect(reported):
    out = reported["policy"]
    results = load_results(out)
    markdown = (out / "report.md").read_text()
    assert markdown.splitlines()[2] == "## Bottom line"  # right under the title
    first = section(markdown, "## Bottom line")
    lasting = "lasting loss, last 30 days"
    header = row(first, "policy", lasting)
    for policy in ("seize", "decapitate", "seize_and_arrests"):
        runs = results.ok[results.ok["policy"] == policy]
        cells = row(first, results.policy_label(policy), lasting)
        assert cells[header.index(lasting)] == results.cell(
            runs["policy_lasting_loss"], "policy_lasting_loss", policy)
        means = runs.groupby("scenario")["active_people_mean_last30"].mean()
        assert cells[header.index("scenarios meeting the goal")].startswith(
            f"{int((means <= 12).sum())} of 5")
        assert f"- {results.policy_label(policy)}: " in first  # where it fails, in words
    assert row(first, "none", lasting)[header.index(lasting)] == "–"  # no shocks to measure
    assert "Seize and arrest moderators" in first and "seize_and_arrests" not in first  # its label


def test_the_combinations_whole_effect_is_what_its_shortfall_figure_shows(reported):
    from forumsim.analysis.sweep_report import shortfall

    results = load_results(reported["policy"])
    gap = shortfall(results.series())  # what paired_gap.png draws, run by run
    combination = results.ok[results.ok["policy"] == "seize_and_arrests"].set_index("run_id")
    # The lasting loss is the activity lost over the shaded last 30 days.
    sums = gap[gap["day"] > gap["day"].max() - 30].groupby("run_id")[
        ["active_people", "active_people_counterfactual"]].sum()
    last = 1 - sums["active_people"] / sums["active_people_counterfactual"]
    np.testing.assert_allclose(last[combination.index], combination["policy_lasting_loss"])
    # ... and not the seizure's own record, which keeps the arrests in its counterfactual
    assert set(combination["iv0_counterfactual"]) == {"without this shock"}
    assert not np.allclose(combination["iv0_lasting_loss"], combination["policy_lasting_loss"])
    shocks = section((reported["policy"] / "report.md").read_text(), "## Intervention 1")
    assert "the others kept (marginal)" in row(shocks, "Seize and arrest moderators", "measured")


def test_command_line_goals_add_to_the_files_and_a_shock_measure_reads_the_whole_effect(
        reported, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reported["policy"], out)
    result = runner.invoke(app, ["report", str(out), "--goal", "lasting_loss>=0.05"])
    assert result.exit_code == 0, result.output
    goals = section((out / "report.md").read_text(), "## Goals")
    assert f"### Goal: {title('active_people_mean_last30')} <= 12" in goals  # the file's
    assert f"### Goal: {title('policy_lasting_loss')} >= 0.05" in goals  # and the command's


def test_a_cell_defined_in_fewer_runs_than_its_row_says_how_many(reported):
    results = load_results(reported["policy"])
    values = pd.Series([0.5, np.nan, 0.7, np.nan, np.nan, np.nan])
    assert results.cell(values, "iv0_rehomed_30d").endswith("(n = 2 †)")
    assert "(n = " not in results.cell(pd.Series([0.5, 0.7]), "iv0_rehomed_30d")


def test_arrests_of_a_share_of_the_candidates_read_as_a_share(reported):
    players = section((reported["policy"] / "report.md").read_text(), "## Key players")
    assert row(players, "staff | 100%")  # all of them, not one person


def test_prim_says_how_rough_it_is_and_its_figure_names_the_policy(reported, tmp_path,
                                                                     monkeypatch):
    from forumsim.analysis import policies
    from forumsim.analysis.bottom_line import _words
    from forumsim.analysis.discovery import discover

    titles = []
    monkeypatch.setattr(policies, "_save", lambda fig, path: titles.append(
        fig.axes[0].get_title()) or path)
    rng = np.random.default_rng(1)
    loyalty = rng.uniform(0.5, 0.95, 20)
    found = discover(pd.DataFrame({"behaviour.home_loyalty": loyalty,
                                   "behaviour.contact_weight": rng.uniform(0, 4, 20)}),
                     loyalty > 0.8)
    results = load_results(reported["policy"])
    blocks = policies.discovery_blocks(results, "policy_lasting_loss",
                                       {"seize_and_arrests": found}, tmp_path)
    assert blocks[0] == ("h3", "Where 'Seize and arrest moderators' fails the goal (PRIM)")
    text = " ".join(b[1] for b in blocks if b[0] == "p")
    assert "Only 20 runs" in text and "Coverage: of the runs where the policy fails" in text
    assert "Seize and arrest moderators" in titles[0]
    assert re.search(r"mostly where .*home loyalty is above 0\.(79|8)", _words(found))


def test_a_two_level_sweep_reports_the_paired_difference_between_the_levels(reported):
    from forumsim.analysis.policies import _difference_bounds, matched_differences

    out = reported["tiny"]
    results = load_results(out)
    levels = section((out / "report.md").read_text(), "## Levels compared")
    active, loss = title("active_people_mean_last30"), title("policy_loss")
    header = row(levels, "contrast", active)
    d = matched_differences(results.ok, "behaviour.home_loyalty", 0.9, 0.6,
                            "active_people_mean_last30", ["interventions", "replicate"])
    assert len(d) == 4
    mean, low, high = bootstrap_ci(
        d, results.seed("behaviour.home_loyalty0.9 − 0.6active_people_mean_last30"),
        _difference_bounds("active_people_mean_last30"))
    assert row(levels, "0.9 − 0.6", active)[header.index(active)] == (
        f"{number(mean)} [{number(low)}, {number(high)}]")
    # The loss is defined only in the runs with the takedown: two of the four pairs.
    assert row(levels, "0.9 − 0.6", loss)[row(levels, "contrast", loss).index(loss)].endswith(
        "(n = 2 †)")
    assert row(levels, "takedown − none", active)
