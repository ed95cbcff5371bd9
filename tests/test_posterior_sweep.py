"""Sweeps over a calibration's posterior: the draws are whole particles (joint, so that
what the calibration learnt about how parameters go together is kept), the same sweep
file gives the same draws, a changed posterior is not resumed, bad input is refused in
one line, and the report says which policy is best and how sure."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forumsim.experiment.executors import run_sweep
from forumsim.experiment.plan import load_sweep
from forumsim.experiment.store import StoreError
from forumsim.ui.cli import app

runner = CliRunner()
LOYALTY, DESIST = "behaviour.home_loyalty", "behaviour.displaced_desist_prob"
SWEEP = """name: drawn
base: small
fixed: {{people: 200, days: 30}}
policies:
  none: []
  seize: [{{type: takedown, day: 15, target: largest}}]
uncertainties: {{posterior: {posterior}, draws: {draws}}}
replicates: {replicates}
seed: 11
goals:
  active_people_mean_last30: {{at_most: 8}}
"""


def correlated_particles(count: int, seed: int, correlation: float = 0.9) -> pd.DataFrame:
    """Particles of two parameters whose correlation is about `correlation`."""
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0, 0], [[1, correlation], [correlation, 1]], size=count)
    u = (z - z.min(axis=0)) / np.ptp(z, axis=0)  # each into [0, 1]
    return pd.DataFrame({LOYALTY: 0.5 + 0.45 * u[:, 0], DESIST: 0.4 * u[:, 1]})


def write_posterior(folder: Path, particles: pd.DataFrame, seed: int = 0,
                    earlier: pd.DataFrame | None = None) -> Path:
    """A calibration folder as `forumsim calibrate` leaves it: posterior.parquet with two
    generations (the draws must come from the last) and calibration.json."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    first = earlier if earlier is not None else particles.sample(frac=1, random_state=seed)
    frames = [frame.assign(generation=t, weight=rng.uniform(0.5, 1.5, len(frame)))
              for t, frame in enumerate([first.reset_index(drop=True), particles])]
    table = pd.concat(frames, ignore_index=True)
    table[["generation", "weight", *particles.columns]].to_parquet(
        folder / "posterior.parquet", index=False)
    (folder / "calibration.json").write_text('{"kind": "calibration"}\n')
    return folder


def sweep_file(folder: Path, posterior: str = "calibration", draws: int = 3,
               replicates: int = 1, text: str = SWEEP) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(text.format(posterior=posterior, draws=draws, replicates=replicates))
    return path


def drawn_values(plan) -> np.ndarray:
    """One row per scenario (draw): its parameter values."""
    rows = {label["scenario"]: (label[LOYALTY], label[DESIST]) for label in plan.labels}
    return np.array([rows[s] for s in sorted(rows)])


# --- the draws ------------------------------------------------------------------------


def test_posterior_draws_are_whole_particles_and_keep_their_correlation(tmp_path):
    particles = correlated_particles(500, seed=1)
    write_posterior(tmp_path / "calibration", particles)
    plan = load_sweep(sweep_file(tmp_path, draws=400))
    drawn = drawn_values(plan)
    assert len(drawn) == 400 and len(plan.runs) == 800  # two policies on every draw
    known = {tuple(row) for row in particles.to_numpy()}
    assert all(tuple(row) in known for row in drawn)  # each draw is one particle, whole
    assert np.corrcoef(particles.to_numpy().T)[0, 1] > 0.85
    assert np.corrcoef(drawn.T)[0, 1] > 0.8
    # Drawing each parameter on its own would lose the correlation: the test can fail.
    rng = np.random.default_rng(0)
    marginals = np.column_stack([rng.permutation(drawn[:, 0]), rng.permutation(drawn[:, 1])])
    assert abs(np.corrcoef(marginals.T)[0, 1]) < 0.2


def test_draws_come_from_the_last_generation_by_weight(tmp_path):
    particles = correlated_particles(40, seed=2)
    folder = write_posterior(tmp_path / "calibration", particles,
                             earlier=correlated_particles(40, seed=3))
    table = pd.read_parquet(folder / "posterior.parquet")
    last = table["generation"] == 1
    table.loc[last & (table.index % 2 == 0), "weight"] = 0.0  # half the particles: no weight
    table.to_parquet(folder / "posterior.parquet", index=False)
    plan = load_sweep(sweep_file(tmp_path, draws=200))
    weighted = {tuple(row) for row in table.loc[last & (table["weight"] > 0),
                                                 [LOYALTY, DESIST]].to_numpy()}
    assert {tuple(row) for row in drawn_values(plan)} <= weighted
    assert plan.posterior.generation == 1 and plan.posterior.population == 40


def test_the_same_sweep_file_gives_the_same_draws_and_another_seed_others(tmp_path):
    write_posterior(tmp_path / "calibration", correlated_particles(100, seed=4))
    path = sweep_file(tmp_path, draws=5)
    first, again = load_sweep(path), load_sweep(path)
    np.testing.assert_array_equal(drawn_values(first), drawn_values(again))
    assert [r.seed for r in first.runs] == [r.seed for r in again.runs]
    assert first.sha256() == again.sha256()
    other = load_sweep(path, seed=12)
    assert not np.array_equal(drawn_values(other), drawn_values(first))


def test_every_policy_runs_on_every_draw_with_the_draws_seeds(tmp_path):
    write_posterior(tmp_path / "calibration", correlated_particles(100, seed=5))
    plan = load_sweep(sweep_file(tmp_path, draws=3, replicates=2))
    assert len(plan.runs) == 3 * 2 * 2
    by_draw_and_seed: dict[tuple, set] = {}
    for run in plan.runs:
        label = plan.labels[run.point]
        by_draw_and_seed.setdefault((label["scenario"], run.replicate), set()).add(
            (label["policy"], run.seed, label[LOYALTY]))
    for runs in by_draw_and_seed.values():  # paired: same values and seed, both policies
        assert {policy for policy, _, _ in runs} == {"none", "seize"}
        assert len({(seed, value) for _, seed, value in runs}) == 1
    scenario = plan.scenario(plan.runs[0])
    assert scenario.behaviour.home_loyalty == plan.labels[0][LOYALTY]


def test_a_posterior_of_a_whole_number_field_gives_whole_numbers(tmp_path):
    particles = pd.DataFrame({"behaviour.vip_thanks": [30.4, 99.6, 150.2]})
    write_posterior(tmp_path / "calibration", particles)
    plan = load_sweep(sweep_file(tmp_path, draws=4))
    thanks = {plan.scenario(run).behaviour.vip_thanks for run in plan.runs}
    assert thanks <= {30, 100, 150} and all(isinstance(t, int) for t in thanks)


# --- resuming ---------------------------------------------------------------------------


def test_a_sweep_whose_posterior_changed_refuses_to_resume(tmp_path):
    folder = write_posterior(tmp_path / "calibration", correlated_particles(50, seed=6))
    path = sweep_file(tmp_path, draws=2)
    out = tmp_path / "out"
    assert run_sweep(load_sweep(path), out, executor="inline").tally.failed == 0
    # Another earlier generation leaves the draws as they were: the sweep resumes.
    write_posterior(folder, correlated_particles(50, seed=6),
                    earlier=correlated_particles(50, seed=7))
    assert run_sweep(load_sweep(path), out, executor="inline", resume=True).tally.done == 0
    write_posterior(folder, correlated_particles(50, seed=8))  # a new calibration
    with pytest.raises(StoreError, match="other posterior draws.*posterior.parquet changed"):
        run_sweep(load_sweep(path), out, executor="inline", resume=True)
    before = sorted(p.name for p in out.rglob("*"))
    result = runner.invoke(app, ["sweep", str(path), "--out", str(out), "--resume", "-q"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "changed since the sweep started" in " ".join(result.output.split())
    assert sorted(p.name for p in out.rglob("*")) == before


# --- bad input: one line, exit 2, nothing written -----------------------------------------


def _fifo(folder: Path) -> str:
    (folder / "calibration" / "posterior.parquet").unlink()
    os.mkfifo(folder / "calibration" / "posterior.parquet")
    return "calibration"


def _text_file(folder: Path) -> str:
    (folder / "calibration" / "posterior.parquet").write_text("generation,weight\n0,1\n")
    return "calibration"


def _columns(folder: Path, **changes) -> str:
    path = folder / "calibration" / "posterior.parquet"
    table = pd.read_parquet(path)
    for name, value in changes.items():
        if value is None:
            table = table.drop(columns=name)
        else:
            table[name] = value
    table.to_parquet(path, index=False)
    return "calibration"


def _outside(folder: Path) -> str:
    write_posterior(folder.parent / f"{folder.name}-elsewhere", correlated_particles(20, 9))
    return f"../{folder.name}-elsewhere"


def _linked_out(folder: Path) -> str:
    elsewhere = write_posterior(folder.parent / f"{folder.name}-linked",
                                correlated_particles(20, 9))
    (folder / "calibration" / "posterior.parquet").unlink()
    (folder / "calibration" / "posterior.parquet").symlink_to(elsewhere / "posterior.parquet")
    return "calibration"


def _empty_folder(folder: Path) -> str:
    (folder / "empty").mkdir()
    return "empty"


BAD = {
    "missing": (lambda f: "nowhere", ["uncertainties.posterior", "no such calibration"]),
    "folder without a posterior": (_empty_folder, ["holds no posterior.parquet"]),
    "outside the sweep's folder": (_outside, ["is outside"]),
    "a link out of the folder": (_linked_out, ["is outside"]),
    "a pipe": (_fifo, ["not a regular file"]),
    "not parquet": (_text_file, ["not a posterior of forumsim calibrate",
                                 "not a Parquet file"]),
    "no weights": (lambda f: _columns(f, weight=None), ["no 'weight' column"]),
    "text values": (lambda f: _columns(f, **{LOYALTY: "high"}), ["not numbers"]),
    "negative weights": (lambda f: _columns(f, weight=-1.0), ["weights"]),
    "not finite": (lambda f: _columns(f, **{DESIST: np.inf}), ["not a finite number"]),
    "unknown parameter": (lambda f: _columns(f, **{"behaviour.home_loyality": 0.7}),
                          ["no field 'behaviour.home_loyality'",
                           "Did you mean 'behaviour.home_loyalty'"]),
    "not a field path": (lambda f: _columns(f, **{"behaviour.home\nloyalty": 0.7}),
                         ["is not a scenario field by dotted path"]),
    "not a number field": (lambda f: _columns(f, **{"fora.0.access": 0.5}),
                           ["'fora.0.access'", "not a number"]),
    "out of the field's range": (lambda f: _columns(f, **{DESIST: 1.5}), ["point"]),
}
BAD_SWEEPS = {
    "no draws": ("draws: {draws}", "", ["uncertainties.draws", "required"]),
    "zero draws": ("draws: {draws}", "draws: 0", ["uncertainties.draws", "0"]),
    "too many draws": ("draws: {draws}", "draws: 10001", ["uncertainties.draws", "10000"]),
    "with a design": ("replicates:", "design: lhs\nsamples: 4\nreplicates:",
                      ["posterior draws are the scenarios"]),
    "a lever too": ("none: []", "none: {{behaviour.home_loyalty: 0.6}}",
                    ["'behaviour.home_loyalty' is set by policy 'none'"]),
}


def refused(path: Path, tmp_path: Path, words: list[str]) -> None:
    """`forumsim sweep` refuses the file in one line naming it, exit 2, writing nothing."""
    before = sorted(tmp_path.rglob("*"))
    result = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "out"),
                                 "--executor", "inline", "-q"])
    message = result.output.strip()
    assert result.exit_code == 2, result.output
    assert "Traceback" not in message and "\n" not in " ".join(message.split())
    assert message.startswith(f"error: {path}")
    for word in words:
        assert word in " ".join(message.split()), message
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_posterior_is_refused_in_one_line(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "sweep"
    write_posterior(folder / "calibration", correlated_particles(20, seed=10))
    change, words = BAD[case]
    refused(sweep_file(folder, posterior=change(folder)), tmp_path, words)


@pytest.mark.parametrize("case", BAD_SWEEPS, ids=list(BAD_SWEEPS))
def test_a_bad_posterior_field_is_refused_in_one_line(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_posterior(tmp_path / "calibration", correlated_particles(20, seed=10))
    old, new, words = BAD_SWEEPS[case]
    refused(sweep_file(tmp_path, text=SWEEP.replace(old, new)), tmp_path, words)


# --- end to end ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def drawn_sweep(tmp_path_factory):
    """A tiny policy sweep over 4 posterior draws, 2 replicates, on the process pool."""
    folder = tmp_path_factory.mktemp("drawn")
    write_posterior(folder / "calibration", correlated_particles(60, seed=12))
    path = sweep_file(folder, draws=4, replicates=2)
    result = runner.invoke(app, ["sweep", str(path), "--out", str(folder / "out"),
                                 "--workers", "2", "-q"])
    assert result.exit_code == 0, result.output
    return path, folder / "out"


def test_a_policy_sweep_over_posterior_draws_reports_the_chance_of_being_best(drawn_sweep):
    _, out = drawn_sweep
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    assert "scenarios drawn jointly from a calibration's posterior" in report
    best = report.split("## Which policy is best, and how sure")[1].split("\n## ")[0]
    assert "posterior probability" in best
    table = best.split("### active people per day, last 30 days (people): lower is better")[1]
    assert "| policy | n | chance of being best | expected | mean regret | worst regret |" \
        in table
    summary = pd.read_parquet(out / "summary.parquet")
    paired = summary.pivot_table(index=["scenario", "replicate"], columns="policy",
                                 values="active_people_mean_last30")
    wins = (paired["seize"] < paired["none"]).mean() + 0.5 * (
        paired["seize"] == paired["none"]).mean()
    assert f"| seize | 8 | {wins:.0%} [" in table
    assert "## Robustness across scenarios" in report and "worst regret" in report
    goals = report.split("### Goal: active people per day")[1].split("\n## ")[0]
    assert "draws failing it" in goals
    assert "| design | posterior draws: 2 policies x 4 scenarios x 2 replicates |" in report
    assert "| posterior | 4 joint draws, by weight, from generation 1 (60 particles) of " \
        in report


def test_the_manifest_records_the_posterior_and_its_parameters(drawn_sweep):
    _, out = drawn_sweep
    manifest = pd.read_json(out / "manifest.json", typ="series")
    assert manifest["uncertainties"] == [LOYALTY, DESIST]
    assert manifest["posterior"]["draws"] == 4 and len(manifest["posterior"]["sha256"]) == 64
    summary = pd.read_parquet(out / "summary.parquet")
    assert summary["scenario"].nunique() == 4 and set(summary["policy"]) == {"none", "seize"}


def test_a_dask_local_cluster_runs_the_same_draws_as_the_process_pool(drawn_sweep, tmp_path):
    path, out = drawn_sweep
    result = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "dask"),
                                 "--executor", "dask-local", "--workers", "2", "-q"])
    assert result.exit_code == 0, result.output
    columns = ["run_id", "seed", LOYALTY, DESIST, "policy", "active_people_mean_last30"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "dask" / "summary.parquet")[columns],
                                  pd.read_parquet(out / "summary.parquet")[columns])


def test_the_ema_workbench_is_not_given_a_posterior_it_would_sample_apart(tmp_path):
    from forumsim.analysis.ema import replicator_model
    from forumsim.experiment.sweep import SweepError

    write_posterior(tmp_path / "calibration", correlated_particles(20, seed=13))
    with pytest.raises(SweepError, match="cannot keep a posterior's joint draws"):
        replicator_model(sweep_file(tmp_path))


def test_the_shipped_portfolio_runs_every_policy_on_draws_of_the_shipped_posterior():
    path = Path(__file__).parents[1] / "experiments" / "enforcement_portfolio_posterior.yaml"
    plan = load_sweep(path)
    assert len(plan.runs) == 5 * 16 * 2
    assert plan.uncertain == ["behaviour.home_loyalty", "behaviour.contact_weight",
                              "behaviour.displaced_desist_prob", "behaviour.successor_prob",
                              "behaviour.threat_days"]
    assert plan.sweep.policies.keys() == load_sweep(path.with_name(
        "enforcement_portfolio.yaml")).sweep.policies.keys()
    shipped = pd.read_parquet(path.parent / "posteriors" / "calibrate_small" /
                              "posterior.parquet")
    last = shipped[shipped["generation"] == shipped["generation"].max()]
    particles = {tuple(row) for row in last[plan.uncertain].to_numpy()}
    assert all(tuple(row) in particles for row in plan.posterior.values)
