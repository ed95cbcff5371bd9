"""Interoperability with the EMA Workbench (Kwakkel 2017), for analysts who drive models
with it: a forumsim sweep file (or scenario with uncertainties and policies) as an EMA
`ReplicatorModel`, and a forumsim sweep folder as EMA's `(experiments, outcomes)`, so all of
EMA's analysis works on results computed by forumsim's own executors.

Names: EMA needs Python identifiers, so a dotted scenario path becomes one with double
underscores (`behaviour.home_loyalty` -> `behaviour__home_loyalty`) in both directions.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forumsim.analysis.policies import POLICY_OUTCOMES
from forumsim.analysis.sweep_report import load_results
from forumsim.experiment.plan import load_sweep, run_seed
from forumsim.experiment.sweep import Levels, LogUniform, Range, SweepError, Uniform, Variants
from forumsim.world.scenario import Scenario, set_path

POLICY = "policy"  # forumsim's column of the policy's name
LEVER = "policy_name"  # EMA's lever: which named policy (EMA keeps 'policy' for its own)


def ema_name(path: str) -> str:
    """The EMA name of a scenario path: dots become double underscores."""
    return path.replace(".", "__")


def scenario_path(name: str) -> str:
    """The scenario path of an EMA name (the inverse of `ema_name`)."""
    return name.replace("__", ".")


def _ema():
    with warnings.catch_warnings():  # optional EMA parts we do not use
        warnings.simplefilter("ignore")
        import ema_workbench
    return ema_workbench


def parameter(path: str, space: Any):
    """An EMA parameter for a forumsim parameter space."""
    ema = _ema()
    name = ema_name(path)
    if isinstance(space, Uniform):
        low, high = space.bounds
        if space._integer:
            return ema.IntegerParameter(name, int(low), int(high))
        return ema.RealParameter(name, low, high)
    if isinstance(space, LogUniform):
        from scipy.stats import loguniform

        return ema.RealParameter.from_dist(name, loguniform(*space.bounds))
    if isinstance(space, Variants):
        return ema.CategoricalParameter(name, list(space.variants))
    if isinstance(space, Levels | Range):
        return ema.CategoricalParameter(name, [v for _, v in space.levels()])
    raise TypeError(f"{path}: no EMA parameter for {type(space).__name__}")


@dataclass
class ForumsimFunction:
    """The function EMA calls for one replication: the base scenario with the sampled
    uncertainties, the chosen policy and the replication's seed, run with its
    counterfactual; returns the requested end-of-run metrics. Picklable, so EMA's
    multiprocessing evaluator can use it."""

    base: dict  # the resolved base scenario as JSON
    outcomes: list[str]
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> name -> value

    def scenario(self, **values: Any) -> Scenario:
        """The forumsim scenario of one replication (EMA's keyword arguments)."""
        data = json.loads(json.dumps(self.base))
        seed = values.pop("seed")
        policy = values.pop(LEVER, None)
        for name, value in values.items():
            path = scenario_path(name)
            if path in self.variants:
                value = self.variants[path][value]
            set_path(data, path, _plain(value), "EMA experiment")
        for path, value in (self.policies[policy] if policy is not None else {}).items():
            set_path(data, path, value, f"policy {policy}")
        data["seed"] = int(seed)
        return Scenario.model_validate(data)

    def __call__(self, **values: Any) -> dict[str, float]:
        from forumsim.experiment.executors import metrics_row
        from forumsim.experiment.runner import run

        row = metrics_row(run(self.scenario(**values)))
        return {name: _number(row.get(name)) for name in self.outcomes}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def replicator_model(sweep_file: str | Path, outcomes: list[str] | None = None):
    """An EMA `ReplicatorModel` of a forumsim sweep file: its uncertainties (or
    parameters) as EMA uncertainties, its policies as one categorical lever `policy_name`,
    its outcomes (one value per replication), and its replicates as replications seeded
    as the sweep's (replicate r gets the seed of run r: common random numbers across all
    experiments, as `common_seeds: true` gives in a forumsim sweep)."""
    ema = _ema()
    plan = load_sweep(sweep_file)
    sweep = plan.sweep
    if sweep.posterior is not None:
        raise SweepError(f"{sweep_file}: uncertainties: the EMA Workbench samples each "
                         "uncertainty on its own, so it cannot keep a posterior's joint "
                         "draws; run this sweep with forumsim sweep.")
    names = outcomes or sweep.outcomes or list(POLICY_OUTCOMES)
    variants = {path: dict(space.variants) for path, space in sweep.space.items()
                if isinstance(space, Variants)}
    function = ForumsimFunction(plan.base.model_dump(mode="json"), names, sweep.levers(),
                                variants)
    model = ema.ReplicatorModel(ema_name(plan.name), function=function)
    model.uncertainties = [parameter(p, s) for p, s in sweep.space.items()]
    if sweep.policies:
        model.levers = [ema.CategoricalParameter(LEVER, list(sweep.policies))]
    # EMA 3 gathers a ReplicatorModel's replications into one array per experiment, which
    # its ScalarOutcome refuses: each metric is an ArrayOutcome of length `replicates`.
    model.outcomes = [ema.ArrayOutcome(name) for name in names]
    model.replications = [{"seed": run_seed(sweep.seed, r)} for r in range(sweep.replicates)]
    return model


def sweep_results(folder: str | Path, outcomes: list[str] | None = None
                  ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A sweep folder as EMA's `(experiments, outcomes)`: one experiment per point (a
    scenario, under a policy in a policy sweep) with its parameters by EMA name, and each
    outcome as an array of experiments x replicates (failed runs as NaN), the shape a
    `ReplicatorModel` gives; `ema_workbench.util.process_replications` averages them."""
    results = load_results(folder)
    summary = results.summary
    columns = [c for c in results.manifest["parameters"] if c != POLICY]
    points = summary.drop_duplicates("point").set_index("point").sort_index()
    experiments = pd.DataFrame({ema_name(c): points[c].to_numpy() for c in columns})
    if results.policies:
        experiments[LEVER] = pd.Categorical(points[POLICY], categories=results.policies)
        experiments["scenario"] = points["scenario"].to_numpy()
        experiments["policy"] = points[POLICY].to_numpy()
    else:
        experiments["scenario"] = points.index.to_numpy()
    experiments["model"] = results.manifest["sweep"]
    names = outcomes or [c for c in summary.columns if pd.api.types.is_numeric_dtype(
        summary[c]) and c not in ("run_id", "point", "replicate", "seed", "scenario", *columns)]
    ok = summary.assign(**{n: summary[n].where(summary["status"] == "ok") for n in names})
    shape = (len(points), results.sweep.replicates)
    arrays = {}
    for name in names:
        grid = np.full(shape, np.nan)
        grid[ok["point"].to_numpy(), ok["replicate"].to_numpy()] = ok[name].to_numpy(float)
        arrays[name] = grid
    return experiments, arrays
