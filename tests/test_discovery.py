"""Scenario discovery finds the conditions that decide an outcome: on a sweep table where
one uncertain parameter alone decides it, PRIM's box restricts that parameter, at the
planted threshold, and its feature score is the highest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forumsim.analysis.discovery import DiscoveryError, discover
from forumsim.experiment.executors import manifest
from forumsim.experiment.plan import load_sweep
from forumsim.experiment.store import write_table
from forumsim.ui.cli import app

runner = CliRunner()
SWEEP = """
name: planted
base: small
policies:
  none: []
  seize: [{type: takedown, day: 30, target: largest}]
uncertainties:
  behaviour.home_loyalty: {uniform: [0.5, 0.95]}
  behaviour.displaced_desist_prob: {uniform: [0.05, 0.4]}
  behaviour.contact_weight: {uniform: [0.0, 4.0]}
design: lhs
samples: 120
seed: 5
"""


def planted(loyalty: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The lasting loss: at least 0.1 exactly where home loyalty is below 0.65."""
    return np.where(loyalty < 0.65, 0.15, 0.05) + rng.uniform(-0.02, 0.02, loyalty.size)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A sweep folder as `forumsim sweep` leaves it, with a synthetic summary table in
    which home loyalty alone decides the seizure's lasting loss."""
    root = tmp_path_factory.mktemp("planted")
    (root / "sweep.yaml").write_text(SWEEP)
    plan = load_sweep(root / "sweep.yaml")
    out = root / "out"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps(manifest(plan, root / "sweep.yaml")))
    rows = pd.DataFrame([{"run_id": r.run_id, "point": r.point, "replicate": r.replicate,
                          "seed": r.seed, "status": "ok", "error": None, **r.parameters}
                         for r in plan.runs])
    rng = np.random.default_rng(0)
    lasting = planted(rows["behaviour.home_loyalty"].to_numpy(), rng)
    rows["iv0_lasting_loss"] = np.where(rows["policy"] == "seize", lasting, np.nan)
    write_table(rows, out / "summary.parquet")
    return out


def test_prim_box_is_the_one_parameter_that_decides_the_outcome():
    rng = np.random.default_rng(1)
    x = pd.DataFrame({"a": rng.uniform(0, 1, 300), "b": rng.uniform(0, 1, 300),
                      "c": rng.uniform(5, 9, 300)})
    found = discover(x, (x["a"] < 0.3).to_numpy(), seed=2)
    assert list(found.limits["condition"]) == ["a"]
    assert found.limits["high"].iloc[0] == pytest.approx(0.3, abs=0.03)
    assert found.box["coverage"] >= 0.9 and found.box["density"] >= 0.95
    assert found.scores.index[0] == "a" and found.scores["a"] > 0.5
    assert found.tradeoff["coverage"].is_monotonic_decreasing  # the trade-off, in order


def test_discovery_refuses_when_there_is_nothing_to_tell_apart():
    x = pd.DataFrame({"a": np.linspace(0, 1, 20)})
    with pytest.raises(DiscoveryError, match="none of the 20 runs"):
        discover(x, np.zeros(20, dtype=bool))


def test_discover_command_finds_the_planted_condition(folder):
    result = runner.invoke(app, ["discover", str(folder), "--outcome", "iv0_lasting_loss",
                                 "--below", "0.1", "--policy", "seize"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "iv0_lasting_loss below 0.1 under policy 'seize': " in result.output
    box = result.output.split("chosen box")[1].split("feature scores")[0]
    assert "home loyalty" in box and "contact weight" not in box and "desist" not in box
    low = float(box.split("home loyalty")[1].split()[1].strip("│"))
    assert low == pytest.approx(0.65, abs=0.03)  # fails at loyalty of 0.65 and above
    scores = result.output.split("feature scores")[1]
    assert scores.index("home loyalty") < scores.index("contact weight")


@pytest.mark.parametrize(("arguments", "words"), [
    (["--outcome", "iv0_lasting_loss"], "exactly one of --below X or --above X"),
    (["--outcome", "iv0_lastingloss", "--below", "1"], "closest: iv0_lasting_loss"),
    (["--outcome", "iv0_lasting_loss", "--below", "1", "--policy", "x"], "not a policy"),
    (["--outcome", "iv0_lasting_loss", "--below", "-5"], "none of the"),
])
def test_discover_input_errors_are_one_line_and_exit_2(folder, arguments, words):
    result = runner.invoke(app, ["discover", str(folder), *arguments])
    assert result.exit_code == 2 and words in result.output, result.output


def test_the_report_shows_where_a_policy_fails_its_goal(folder):
    from forumsim.analysis.sweep_report import parse_goal, write_report

    write_report(folder, goals=[parse_goal("iv0_lasting_loss>=0.1")])
    markdown = (folder / "report.md").read_text()
    part = markdown.split("### Where 'seize' fails the goal (PRIM)")[1].split("\n### ")[0]
    limits = next(line for line in part.splitlines() if line.startswith("| home loyalty |"))
    assert float(limits.split("|")[2].split(" to ")[0]) == pytest.approx(0.65, abs=0.03)
    assert "contact weight |" not in part.split("Feature scores")[0]
    assert (folder / "figures" / "discovery_iv0_lasting_loss_seize.png").is_file()
    assert "Where 'none' fails" not in markdown  # no lasting loss without an intervention


def test_integer_conditions_are_peeled_and_pasted_like_real_ones():
    rng = np.random.default_rng(4)
    x = pd.DataFrame({"days": rng.integers(30, 181, 200), "b": rng.uniform(0, 1, 200)})
    found = discover(x, (x["days"] > 120).to_numpy(), seed=1)
    assert list(found.limits["condition"]) == ["days"]
    assert found.limits["low"].iloc[0] == pytest.approx(120, abs=6)
