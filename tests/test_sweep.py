"""Sweep files and their plans: designs, seeds by position, parameter paths, and running a
plan on any executor with failures recorded rather than fatal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from forumsim.experiment import runner as runner_module
from forumsim.experiment.executors import run_sweep
from forumsim.experiment.files import load_scenario
from forumsim.experiment.plan import load_sweep, make_plan, run_seed
from forumsim.experiment.sweep import SweepError, parse_sweep
from forumsim.ui.cli import app
from forumsim.world.scenario import embedded_scenario

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny_sweep.yaml"
EXPERIMENTS = Path(__file__).parents[1] / "experiments"
cli = CliRunner()


def plan_of(text: str, tmp_path: Path, name: str = "sweep.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return load_sweep(path)


def test_grid_runs_every_combination_replicates_within_a_point():
    plan = load_sweep(TINY)
    assert len(plan.points) == 4 and len(plan.runs) == 8
    assert [r.run_id for r in plan.runs] == list(range(8))
    assert [(r.point, r.replicate) for r in plan.runs[:4]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    combos = [(p["behaviour.home_loyalty"], p["interventions"]) for p in plan.labels]
    assert combos == [(0.6, "none"), (0.6, "takedown"), (0.9, "none"), (0.9, "takedown")]


def test_run_seed_is_the_spawned_child_at_the_runs_position():
    plan = load_sweep(TINY)
    children = np.random.SeedSequence(2024).spawn(len(plan.runs))
    expected = [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]
    assert [r.seed for r in plan.runs] == expected
    assert len(set(expected)) == len(expected)
    assert plan.scenario(plan.runs[5]).seed == expected[5]


def test_seeds_of_earlier_runs_do_not_change_when_more_runs_are_planned():
    assert [run_seed(7, i) for i in range(5)] == [run_seed(7, i) for i in range(50)][:5]


def test_common_seeds_give_every_point_the_same_seed_per_replicate(tmp_path):
    plan = plan_of(TINY.read_text().replace("seed: 2024", "seed: 2024\ncommon_seeds: true"),
                   tmp_path)
    by_replicate = {}
    for run in plan.runs:
        by_replicate.setdefault(run.replicate, set()).add(run.seed)
    assert all(len(seeds) == 1 for seeds in by_replicate.values())
    assert by_replicate[0] != by_replicate[1]


def test_variants_replace_the_field_and_are_labelled_by_name():
    plan = load_sweep(TINY)
    takedown = plan.scenario(plan.runs[2])
    assert plan.runs[2].parameters["interventions"] == "takedown"
    assert [spec.type for spec in takedown.interventions] == ["takedown"]
    assert plan.scenario(plan.runs[0]).interventions == []


def test_fixed_values_apply_to_every_run():
    plan = load_sweep(TINY)
    assert {(plan.scenario(r).people, plan.scenario(r).days) for r in plan.runs} == {(400, 60)}


def test_range_includes_its_high_end_and_keeps_integers(tmp_path):
    plan = plan_of("base: small\nseed: 1\nparameters:\n  people: {range: [100, 300, 100]}\n"
                   "  behaviour.home_loyalty: {range: [0.1, 0.3, 0.1]}\n", tmp_path)
    people = sorted({p["people"] for p in plan.points})
    loyalty = sorted({p["behaviour.home_loyalty"] for p in plan.points})
    assert people == [100, 200, 300] and all(isinstance(v, int) for v in people)
    assert loyalty == [0.1, 0.2, 0.3]  # not 0.30000000000000004


def test_paths_reach_into_list_items_and_mappings_merge(tmp_path):
    text = """
base: small
seed: 3
fixed:
  interventions: [{type: arrests, day: 100, strategy: degree, k: 5}]
parameters:
  interventions.0.k: [5, 10]
  behaviour:
    variants:
      loyal: {home_loyalty: 0.95}
      fickle: {home_loyalty: 0.2}
"""
    plan = plan_of(text, tmp_path)
    scenario = plan.scenario(plan.runs[-1])
    assert scenario.interventions[0].k == 10 and scenario.interventions[0].strategy == "degree"
    assert scenario.behaviour.home_loyalty == 0.2
    default = embedded_scenario("small").behaviour
    assert scenario.behaviour.career_days_mean == default.career_days_mean  # merged, kept


def test_base_file_is_found_relative_to_the_sweep_file(tmp_path):
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "mine.yaml").write_text("extends: small\nname: mine\ndays: 33\n")
    plan = plan_of("base: ../scenarios/mine.yaml\nseed: 1\n", tmp_path / "scenarios",
                   name="s.yaml")
    assert plan.base.name == "mine" and plan.base.days == 33 and len(plan.runs) == 1


@pytest.mark.parametrize("design, samples, points", [
    ("lhs", 10, 10), ("sobol", 8, 8 * (3 + 2)), ("morris", 4, 4 * (3 + 1)),
])
def test_sampling_designs_make_the_documented_number_of_points(tmp_path, design, samples,
                                                                points):
    text = f"""
base: small
seed: 11
design: {design}
samples: {samples}
parameters:
  behaviour.home_loyalty: {{uniform: [0.5, 0.9]}}
  people: {{uniform: [200, 400]}}
  behaviour.successor_prob: [0.2, 0.8]
"""
    plan = plan_of(text, tmp_path)
    assert len(plan.points) == points and plan.unit.shape == (points, 3)
    loyalty = np.array([p["behaviour.home_loyalty"] for p in plan.points])
    assert ((loyalty >= 0.5) & (loyalty <= 0.9)).all()
    people = [p["people"] for p in plan.points]
    assert all(isinstance(v, int) and 200 <= v <= 400 for v in people)
    assert {p["behaviour.successor_prob"] for p in plan.points} <= {0.2, 0.8}
    again = plan_of(text, tmp_path, name="again.yaml")
    assert again.points == plan.points  # drawn from the root seed only


def test_latin_hypercube_puts_one_point_in_each_stratum(tmp_path):
    plan = plan_of("base: small\nseed: 4\ndesign: lhs\nsamples: 20\nparameters:\n"
                   "  behaviour.home_loyalty: {uniform: [0.0, 1.0]}\n", tmp_path)
    strata = np.floor(np.array([p["behaviour.home_loyalty"] for p in plan.points]) * 20)
    assert sorted(strata) == list(range(20))


def test_loguniform_spreads_evenly_on_a_log_scale(tmp_path):
    plan = plan_of("base: small\nseed: 4\ndesign: lhs\nsamples: 40\nparameters:\n"
                   "  behaviour.career_days_mean: {loguniform: [10, 1000]}\n", tmp_path)
    logs = np.log10([p["behaviour.career_days_mean"] for p in plan.points])
    assert sorted(np.floor(logs * 20)) == list(range(20, 60))  # 40 strata of 0.05 decades


def test_plan_hash_ignores_the_description_but_not_a_value(tmp_path):
    base = TINY.read_text()
    same = plan_of(base.replace("name: tiny", "name: tiny\ndescription: words"), tmp_path,
                   "a.yaml")
    other = plan_of(base.replace("0.9]", "0.8]"), tmp_path, "b.yaml")
    assert same.sha256() == load_sweep(TINY).sha256() != other.sha256()


def test_a_point_breaking_a_rule_across_fields_is_named_with_its_values(tmp_path):
    text = """
base: small
seed: 1
fixed: {interventions: [{type: takedown, day: 50}]}
parameters:
  days: [40, 80]
"""
    with pytest.raises(SweepError) as error:
        plan_of(text, tmp_path)
    message = str(error.value)
    assert "point 0" in message and "days=40" in message and "after the last" in message


def test_a_scenario_file_is_not_taken_for_a_sweep():
    text = (EXPERIMENTS / "decapitation.yaml").read_text()
    with pytest.raises(SweepError, match="scenario file, not a sweep"):
        parse_sweep(yaml.safe_load(text), "decapitation.yaml")


# --- running a plan ---------------------------------------------------------------------


def test_a_failing_run_is_recorded_with_error_and_seed_and_the_sweep_goes_on(
        tmp_path, monkeypatch):
    real_run = runner_module.run

    def flaky(scenario, progress=None):
        if scenario.behaviour.home_loyalty == 0.9 and scenario.interventions:
            raise RuntimeError("simulated failure")
        return real_run(scenario, progress)

    monkeypatch.setattr(runner_module, "run", flaky)
    plan = load_sweep(TINY)
    outcome = run_sweep(plan, tmp_path / "out", executor="inline")
    summary = pd.read_parquet(tmp_path / "out" / "summary.parquet")
    failed = summary[summary["status"] == "failed"]
    assert list(failed["run_id"]) == [6, 7] and outcome.tally.failed == 2
    assert failed["error"].str.contains("RuntimeError: simulated failure").all()
    assert list(failed["seed"]) == [plan.runs[6].seed, plan.runs[7].seed]
    ok = summary[summary["status"] == "ok"]
    assert len(ok) == 6 and ok["share_lurkers"].notna().all()


def test_cli_lists_failed_runs_at_the_end_and_exits_1(tmp_path, monkeypatch):
    def broken(scenario, progress=None):
        raise ValueError("no luck")

    monkeypatch.setattr(runner_module, "run", broken)
    result = cli.invoke(app, ["sweep", str(TINY), "--out", str(tmp_path / "o"),
                              "--executor", "inline", "-q"])
    assert result.exit_code == 1, result.output
    assert "failed runs" in result.output and "ValueError: no luck" in result.output
    assert "8 runs done" in result.output and "(8 failed)" in result.output


def test_rows_hold_parameters_metrics_and_intervention_records(tmp_path):
    run_sweep(load_sweep(TINY), tmp_path / "out", executor="inline")
    summary = pd.read_parquet(tmp_path / "out" / "summary.parquet")
    assert list(summary.columns[:8]) == ["run_id", "point", "replicate", "seed", "status",
                                         "error", "behaviour.home_loyalty", "interventions"]
    assert {"share_lurkers", "top1pct_post_share", "network_giant_share",
            "iv0_loss", "iv0_lasting_loss", "iv0_days_to_recovery", "iv0_triangle",
            "iv0_displaced", "iv0_rehomed_30d", "iv0_kpd"} <= set(summary.columns)
    takedowns = summary[summary["interventions"] == "takedown"]
    assert takedowns["iv0_loss"].notna().all()
    assert summary.loc[summary["interventions"] == "none", "iv0_loss"].isna().all()
    destinations = json.loads(takedowns["iv0_destinations"].iloc[0])
    assert isinstance(destinations, dict)
    series = pd.read_parquet(tmp_path / "out" / "series")
    assert len(series) == 8 * 60 and set(series["run_id"]) == set(range(8))
    with_shock = series[series["run_id"] == 2]
    assert with_shock["active_people_counterfactual"].notna().all()


def test_process_pool_and_inline_runs_give_identical_summaries(tmp_path):
    run_sweep(load_sweep(TINY), tmp_path / "inline", executor="inline")
    run_sweep(load_sweep(TINY), tmp_path / "pool", executor="process", workers=2)
    inline = pd.read_parquet(tmp_path / "inline" / "summary.parquet")
    pool = pd.read_parquet(tmp_path / "pool" / "summary.parquet")
    pd.testing.assert_frame_equal(inline, pool)
    assert (inline["status"] == "ok").all()


def test_sweep_command_writes_the_manifest_with_hashes_and_versions(tmp_path):
    out = tmp_path / "o"
    result = cli.invoke(app, ["sweep", str(TINY), "--out", str(out), "--executor", "inline",
                              "-q"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["planned_runs"] == 8 and manifest["points"] == 4
    assert len(manifest["sweep_file_sha256"]) == 64 and len(manifest["plan_sha256"]) == 64
    assert {"numpy", "pandas", "pyarrow", "mesa", "SALib", "dask"} <= set(
        manifest["dependencies"])
    assert manifest["ended"] is not None and manifest["started"] <= manifest["ended"]
    assert manifest["sessions"][0]["status"] == "finished"


def test_describe_prints_a_scenario_that_loads_back(tmp_path):
    takedown = EXPERIMENTS / "takedown_largest.yaml"
    result = cli.invoke(app, ["describe", str(takedown)])
    assert result.exit_code == 0, result.output
    assert "# probability that a visit goes to the home forum" in result.output
    (tmp_path / "resolved.yaml").write_text(result.output)
    assert load_scenario(tmp_path / "resolved.yaml") == load_scenario(takedown)


def test_describe_a_sweep_shows_its_plan_and_base(tmp_path):
    result = cli.invoke(app, ["describe", str(TINY)])
    assert result.exit_code == 0, result.output
    assert "4 points x 2 replicates = 8 runs" in result.output
    assert "interventions: 2 variants:" in result.output
    assert "#     takedown: [{type: takedown, day: 30, target: largest}]" in result.output
    assert "people: 400" in result.output and "days: 60" in result.output


def test_make_plan_accepts_a_sweep_and_scenario_given_in_python():
    sweep = parse_sweep({"base": "small", "seed": 9, "replicates": 3,
                         "parameters": {"people": [100, 200]}})
    plan = make_plan(sweep, embedded_scenario("small"), "python", name="p")
    assert len(plan.runs) == 6 and plan.scenario(plan.runs[4]).people == 200


def test_retry_failed_runs_failed_runs_again_and_keeps_the_new_rows(tmp_path, monkeypatch):
    real_run = runner_module.run

    def broken(scenario, progress=None):
        if scenario.behaviour.home_loyalty == 0.6:
            raise MemoryError("out of memory")
        return real_run(scenario, progress)

    monkeypatch.setattr(runner_module, "run", broken)
    run_sweep(load_sweep(TINY), tmp_path / "out", executor="inline")
    monkeypatch.setattr(runner_module, "run", real_run)
    again = run_sweep(load_sweep(TINY), tmp_path / "out", executor="inline", resume=True)
    assert again.tally.done == 0  # failed runs count as finished...
    retried = run_sweep(load_sweep(TINY), tmp_path / "out", executor="inline", resume=True,
                        retry_failed=True)
    assert retried.tally.done == 4  # ...unless retried
    summary = pd.read_parquet(tmp_path / "out" / "summary.parquet")
    assert list(summary["run_id"]) == list(range(8)) and (summary["status"] == "ok").all()


def test_a_sweep_that_cannot_fit_in_memory_is_refused_before_writing(tmp_path, monkeypatch):
    from forumsim.experiment import resources
    from forumsim.experiment.resources import NotEnoughMemoryError

    monkeypatch.setattr(resources, "available_memory", lambda: 3 << 30)
    sweep = tmp_path / "big.yaml"
    sweep.write_text("base: large\nseed: 1\nparameters:\n  people: [1000, 2000000]\n")
    with pytest.raises(NotEnoughMemoryError, match="2,000,000 people and 8 fora.*2 at a time"):
        run_sweep(load_sweep(sweep), tmp_path / "out", workers=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.yaml"]
    result = CliRunner().invoke(app, ["sweep", str(sweep), "--out", str(tmp_path / "out"),
                                      "--workers", "2"])
    assert result.exit_code == 2 and "or fewer --workers" in " ".join(result.output.split())


POLICY = DATA / "policy_sweep.yaml"


def test_every_policy_runs_on_every_sampled_scenario_and_replicate():
    plan = load_sweep(POLICY)
    assert len(plan.runs) == 4 * 5 * 2
    cross = {(r.parameters["policy"], r.parameters["scenario"], r.replicate) for r in plan.runs}
    assert cross == {(p, s, r) for p in ("none", "seize", "decapitate", "seize_and_arrests")
                     for s in range(5) for r in range(2)}
    loyalty = {}
    for run in plan.runs:  # a scenario's uncertain values are the same under every policy
        loyalty.setdefault(run.parameters["scenario"], set()).add(
            plan.scenario(run).behaviour.home_loyalty)
    assert all(len(values) == 1 for values in loyalty.values()) and len(loyalty) == 5


def test_policies_share_random_numbers_within_a_scenario_and_replicate():
    plan = load_sweep(POLICY)
    seeds = {}
    for run in plan.runs:
        seeds.setdefault((run.parameters["scenario"], run.replicate), set()).add(run.seed)
    assert all(len(s) == 1 for s in seeds.values())
    assert len({next(iter(s)) for s in seeds.values()}) == len(seeds)  # scenarios differ


def test_a_policy_given_as_a_list_sets_the_interventions_and_a_mapping_sets_fields(tmp_path):
    text = POLICY.read_text().replace("  none: []", "  none: []\n  loyal: {fixed_seed: 1}")
    with pytest.raises(SweepError, match=r"policies.loyal.*fixed_seed"):
        plan_of(text, tmp_path)
    text = POLICY.read_text().replace("  none: []", "  none: []\n  cautious: "
                                      "{behaviour.threat_days: 99}")
    plan = plan_of(text, tmp_path)
    by_policy = {r.parameters["policy"]: plan.scenario(r) for r in plan.runs}
    assert by_policy["cautious"].behaviour.threat_days == 99
    assert by_policy["none"].behaviour.threat_days != 99
    assert [s.type for s in by_policy["seize"].interventions] == ["takedown"]
    assert by_policy["cautious"].interventions == []


def test_a_plain_sweep_keeps_its_identity_without_the_policy_keys():
    identity = load_sweep(TINY).sweep.identity()
    assert "policies" not in identity and "uncertainties" not in identity
    assert "policies" in load_sweep(POLICY).sweep.identity()


def test_describe_shows_the_cross_of_policies_and_scenarios():
    result = cli.invoke(app, ["describe", str(POLICY)])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert "4 policies x 5 scenarios x 2 replicates = 40 runs" in first
    assert "common random numbers across policies" in first
    assert "#   seize: [{type: takedown, day: 30, target: largest}]" in result.output
    assert "reference 'none'" in result.output
    assert ("#   seize_and_arrests ('Seize and arrest moderators'): [{type: takedown"
            in result.output)


def test_a_policy_label_names_it_in_reports_and_changes_no_run():
    data = yaml.safe_load(POLICY.read_text())
    labelled, plain = parse_sweep(data), parse_sweep(
        {**data, "policies": {**data["policies"], "seize_and_arrests": data["policies"][
            "seize_and_arrests"]["interventions"]}})
    assert labelled.policy_label("seize_and_arrests") == "Seize and arrest moderators"
    assert plain.policy_label("seize_and_arrests") == "seize_and_arrests"
    assert labelled.levers() == plain.levers()
    assert labelled.identity() == plain.identity()  # a sweep resumes after relabelling
    data["policies"]["seize"] = {"label": ["a", "list"], "interventions": []}
    with pytest.raises(SweepError, match=r"policies.seize.label: must be a line of text"):
        parse_sweep(data)
