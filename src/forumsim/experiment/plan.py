"""The plan of a sweep: every run in a fixed order, with its parameter values and seed.

Every run's seed comes from `numpy.random.SeedSequence(seed)` spawned by the run's
position in the plan, so it depends only on the sweep file, never on execution order.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from forumsim.experiment.files import inside, load_scenario
from forumsim.experiment.posterior import PosteriorDraws, read_draws
from forumsim.experiment.resources import scenario_memory
from forumsim.experiment.sweep import (
    MAX_RUNS,
    NOT_SWEPT,
    Levels,
    Sweep,
    SweepError,
    parse_sweep,
    read_yaml,
)
from forumsim.world.scenario import (
    EMBEDDED,
    Scenario,
    ScenarioError,
    _describe,
    embedded_scenario,
    quoted,
    set_path,
)


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep: its position, seed and parameter values as results columns."""

    run_id: int
    point: int
    replicate: int
    seed: int
    parameters: dict[str, object]


@dataclass
class Plan:
    """Every run of a sweep, in a fixed order: point by point, replicates within a point."""

    sweep: Sweep
    name: str
    base: Scenario
    points: list[dict[str, object]]  # parameter path -> value
    labels: list[dict[str, object]]  # parameter path -> value as a results column
    unit: np.ndarray | None  # the design in [0, 1]^d (sampling designs), for sensitivity
    source: str = "sweep"  # the file, for messages
    most_interventions: int = 0  # of any point
    largest: Scenario | None = None  # the point needing the most memory
    runs: list[PlannedRun] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # the start_from tables of its runs
    posterior: PosteriorDraws | None = None  # the draws, when they are the uncertainties

    @property
    def uncertain(self) -> list[str]:
        """The uncertainties' names: the sampled ones, or the posterior's parameters."""
        return self.posterior.names if self.posterior else list(self.sweep.uncertainties)

    def scenario(self, run: PlannedRun) -> Scenario:
        """The scenario of one run: the base with the point's values and the run's seed."""
        return _point_scenario(self.base, self.points[run.point], f"run {run.run_id}",
                               seed=run.seed)

    def sha256(self) -> str:
        """Hash of what determines the runs: the sweep, the resolved base scenario, the
        contents of the tables runs start from and the posterior draws runs are on (so a
        changed table or posterior is not resumed)."""
        identity = {"sweep": self.sweep.identity(), "base": self.base.identity_data()}
        if self.posterior is not None:
            identity["posterior"] = self.posterior.sha256()
        if self.tables:
            from forumsim.experiment.start_from import observe  # pandas: only when used

            identity["tables"] = {path: observe(path).sha256 for path in self.tables}
        canonical = json.dumps(identity, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def problem(self) -> dict:
        """The SALib problem of a sampling design (every parameter scaled to [0, 1])."""
        names = list(self.sweep.space)
        return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}


def run_seed(root: int, position: int) -> int:
    """The seed of the run at `position`: child `position` of SeedSequence(root), 63 bits."""
    child = np.random.SeedSequence(root, spawn_key=(position,))
    return int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def load_sweep(path: str | Path, seed: int | None = None) -> Plan:
    """Read, validate and plan a sweep file (with root seed `seed` instead of the file's,
    if given); raises SweepError or ScenarioError."""
    path = Path(path)
    data = read_yaml(path)
    if seed is not None and isinstance(data, dict):
        data = {**data, "seed": seed}
    sweep = _tables_next_to(parse_sweep(data, str(path)), path)
    base = _load_base(sweep.base, path)
    draws = (read_draws(sweep.posterior, path, design_seed(sweep.seed))
             if sweep.posterior is not None else None)
    return make_plan(sweep, base, str(path), name=sweep.name or path.stem, posterior=draws)


def _tables_next_to(sweep: Sweep, path: Path) -> Sweep:
    """The sweep with each relative `start_from` it sets (in `fixed`, or as the levels of
    a parameter) taken from the sweep file's folder, as a scenario file's is from its own."""
    def located(value: object) -> object:
        return (os.path.normpath(path.absolute().parent / value)
                if isinstance(value, str) and not Path(value).is_absolute() else value)

    if "start_from" in sweep.fixed:
        sweep.fixed["start_from"] = located(sweep.fixed["start_from"])
    space = sweep.space.get("start_from")
    if isinstance(space, Levels):
        space.values = [located(value) for value in space.values]
    return sweep


def _load_base(base: str, sweep_path: Path) -> Scenario:
    if base in EMBEDDED:
        return embedded_scenario(base)
    try:
        scenario_path = inside(sweep_path.parent / base, sweep_path.parent,
                               f"{sweep_path}: field 'base'", base)
    except ScenarioError as error:
        raise SweepError(str(error)) from None
    if not scenario_path.exists():
        raise SweepError(f"{sweep_path}: field 'base' has value {quoted(base)}, but no "
                         f"such scenario file exists ({scenario_path}); give a path relative "
                         f"to the sweep file or one of {', '.join(EMBEDDED)}.")
    try:
        return load_scenario(scenario_path, root=sweep_path.parent)
    except ScenarioError as error:
        raise SweepError(f"{sweep_path}: its base scenario is invalid: {error}") from None


def make_plan(sweep: Sweep, base: Scenario, source: str, name: str,
              posterior: PosteriorDraws | None = None) -> Plan:
    """Apply `fixed` to the base, draw the design (or take the `posterior` draws a sweep
    over a posterior needs) and check every point is a valid scenario."""
    if (sweep.posterior is None) != (posterior is None):
        raise SweepError(f"{source}: uncertainties: posterior draws go with a sweep whose "
                         "uncertainties are {posterior: PATH, draws: N}, and it needs them; "
                         "plan it from its file with load_sweep.")
    data = base.model_dump(mode="json")
    for key, value in sweep.fixed.items():
        _set(data, key, value, f"{source}: fixed.{key}")
    base = _validated(data, f"{source}, fixed")
    kind = "uncertainties" if sweep.uncertainties else "parameters"
    for key, space in sweep.space.items():
        where = f"{source}, {kind}.{key}"
        if hasattr(space, "at"):
            checks = [(f"{where} (bound {quoted(v)})", space.at(u)[1]) for u, v in
                      ((0.0, space.bounds[0]), (1.0, space.bounds[1]))]
        else:
            checks = [(f"{where} = {quoted(label)}", value)
                      for label, value in space.levels()]
        for what, value in checks:
            _check_alone(base, key, value, what, f"{source}: {kind}.{key}")
    levers = sweep.levers()
    for policy, fields in levers.items():
        for key, value in fields.items():
            _check_alone(base, key, value, f"{source}, policies.{policy}",
                         f"{source}: policies.{policy}.{key}")
    if sweep.points_count() * sweep.replicates > MAX_RUNS:
        raise SweepError(f"{source}: the design makes {sweep.points_count() * sweep.replicates:,} "
                         f"runs; at most {MAX_RUNS:,} are allowed.")
    unit, chosen = (_design(sweep) if posterior is None else
                    (None, _posterior_points(posterior, base, levers, source)))
    points = [{k: v for k, (_, v) in row.items()} for row in chosen]
    labels = _columns([{k: lab for k, (lab, _) in row.items()} for row in chosen])
    if levers:  # every policy on every sampled scenario, scenario by scenario
        points = [{**point, **fields} for point in points for fields in levers.values()]
        labels = [{**label, "policy": policy, "scenario": s}
                  for s, label in enumerate(labels) for policy in levers]
    most, largest = 0, None
    started_as: dict[str, Scenario] = {}  # day 0 from a table: sizes as the table gives them
    for i, point in enumerate(points):
        described = ", ".join(f"{k}={quoted(v)}" for k, v in labels[i].items()
                              if k != "scenario")
        what = f"{source}, point {i} ({described or 'the base'})"
        scenario = _point_scenario(base, point, what)
        most = max(most, len(scenario.interventions))
        if scenario.start_from is not None:
            scenario = _started(scenario, what, started_as, sweep)
        if largest is None or scenario_memory(scenario) > scenario_memory(largest):
            largest = scenario
    plan = Plan(sweep, name, base, points, labels, unit, source, most, largest,
                tables=sorted({s.start_from for s in started_as.values()}),
                posterior=posterior)
    policies = max(len(levers), 1)
    for point, replicate in itertools.product(range(len(points)), range(sweep.replicates)):
        position = len(plan.runs)
        # Common random numbers across policies: the seed follows the scenario, not the
        # policy (so a plain sweep keeps its seeds by position).
        paired = (point // policies) * sweep.replicates + replicate
        seed = run_seed(sweep.seed, replicate if sweep.common_seeds else paired)
        plan.runs.append(PlannedRun(position, point, replicate, seed, labels[point]))
    return plan


def _posterior_points(draws: PosteriorDraws, base: Scenario, levers: dict[str, dict],
                      source: str) -> list[dict[str, tuple]]:
    """The posterior's draws as the design's points, {parameter: (label, value)}: each
    parameter a single-valued field of the base scenario that no policy sets, whole
    numbers rounded for whole-number fields (a calibration's particles are floats)."""
    where = f"{source}: field 'uncertainties.posterior' ({draws.file})"
    data = base.model_dump(mode="json")
    integers = set()
    for name in draws.names:
        shown = f"'{quoted(name, bare=True)}'"
        try:  # on a copy: only whether the field exists
            set_path(base.model_dump(mode="json"), name, 0, f"{where}, parameter {shown}")
        except ScenarioError as error:
            raise SweepError(str(error)) from None
        old = _value_at(data, name)
        if name.split(".")[0] in NOT_SWEPT or not isinstance(old, int | float) \
                or isinstance(old, bool):
            raise SweepError(f"{where}: its parameter {shown} is not a number of the scenario "
                             f"that a posterior can set (it is {quoted(old)} in the base "
                             "scenario).")
        for policy, fields in levers.items():
            if any(name == p or name.startswith(p + ".") for p in fields):
                raise SweepError(f"{where}: its parameter {shown} is set by policy "
                                 f"'{policy}' too; a field is either a lever or an "
                                 "uncertainty, not both.")
        if isinstance(old, int):
            integers.add(name)
    return [{name: (value, value) for name, value in
             ((n, round(v) if n in integers else v) for n, v in row.items())}
            for row in draws.rows()]


def _value_at(data: dict, path: str) -> object:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def design_seed(seed: int) -> int:
    """The seed of a sweep's design (its sample, or its posterior draws), from the root."""
    return int(np.random.SeedSequence(seed).generate_state(1)[0])


def _design(sweep: Sweep) -> tuple[np.ndarray | None, list[dict[str, tuple]]]:
    """The design's points as {parameter: (label, value)}, and its unit-cube sample."""
    spaces = sweep.space
    if sweep.design == "grid":
        names = list(spaces)
        combos = itertools.product(*(spaces[n].levels() for n in names))
        return None, [dict(zip(names, combo, strict=True)) for combo in combos]
    unit = unit_sample(sweep)
    rows = [{name: _at(space, u) for (name, space), u in zip(spaces.items(), row, strict=True)}
            for row in unit]
    return unit, rows


def _at(space: object, u: float) -> tuple[object, object]:
    """A value of any space at quantile `u`; discrete spaces pick one level evenly."""
    if hasattr(space, "at"):
        return space.at(float(u))
    levels = space.levels()
    return levels[min(int(u * len(levels)), len(levels) - 1)]


def unit_sample(sweep: Sweep) -> np.ndarray:
    """The sampling design in [0, 1]^d, drawn from the root seed."""
    seed = design_seed(sweep.seed)
    d = len(sweep.space)
    if sweep.design == "lhs":
        from scipy.stats import qmc

        return qmc.LatinHypercube(d=d, rng=np.random.default_rng(seed)).random(
            sweep.samples)
    problem = {"num_vars": d, "names": list(sweep.space), "bounds": [[0.0, 1.0]] * d}
    if sweep.design == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, sweep.samples, calc_second_order=sweep.second_order,
                            seed=seed)
    from SALib.sample import morris

    return morris.sample(problem, sweep.samples, num_levels=sweep.levels, seed=seed)


def _columns(labels: list[dict[str, object]]) -> list[dict[str, object]]:
    """Labels of a parameter as one column type: all as text if their types are mixed."""
    for name in labels[0] if labels else ():
        kinds = {type(row[name]) for row in labels if row[name] is not None}
        if len(kinds) > 1 and not kinds <= {int, float}:
            for row in labels:
                row[name] = None if row[name] is None else str(row[name])
    return labels


def _started(scenario: Scenario, what: str, seen: dict[str, Scenario],
             sweep: Sweep) -> Scenario:
    """A point's scenario as its `start_from` table makes it (its fora and population),
    reading and checking the table once; a bad table or a shock aimed at a forum the
    table lacks is a SweepError naming the point."""
    swept = [key for key in (*sweep.space, *sweep.fixed, *{k for fields in
             sweep.levers().values() for k in fields}) if key == "people"]
    if swept:
        raise SweepError(f"{what}: 'people' does not go with start_from "
                         f"({scenario.start_from}): the table gives the population.")
    key = json.dumps({"start_from": scenario.start_from,
                      "share": scenario.start_from_posting_share,
                      "behaviour": scenario.behaviour.model_dump(mode="json"),
                      "interventions": [s.model_dump(mode="json")
                                        for s in scenario.interventions]}, sort_keys=True)
    if key not in seen:
        from forumsim.experiment.forum_data import DataError  # pandas: only when used
        from forumsim.experiment.start_from import started

        try:
            seen[key] = started(scenario, source=what)[0]
        except DataError as error:
            raise SweepError(f"{what}: start_from: {error}") from None
        except ScenarioError as error:  # names the point already
            raise SweepError(str(error)) from None
    return seen[key]


def _point_scenario(base: Scenario, values: dict[str, object], what: str,
                    seed: int | None = None, source: str | None = None) -> Scenario:
    data = base.model_dump(mode="json")
    for key, value in values.items():
        _set(data, key, value, source or f"{what}: {key}")
    if seed is not None:
        data["seed"] = seed
    return _validated(data, what)


def _check_alone(base: Scenario, key: str, value: object, what: str, source: str) -> None:
    """Reject a value that is wrong on its own; rules across fields (e.g. an intervention
    after the last day) wait for the points, where the other parameters are set too."""
    data = base.model_dump(mode="json")
    _set(data, key, value, source)
    try:
        Scenario.model_validate(data)
    except ValidationError as error:
        if error.errors()[0]["loc"]:
            raise SweepError(_describe(error, what)) from None


def _validated(data: dict, what: str) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise SweepError(_describe(error, what)) from None


def _set(data: dict, path: str, value: object, where: str) -> None:
    """Set the scenario field at dotted `path` (list items by index; mappings merge),
    with the scenario's own path rules, as a sweep error."""
    try:
        set_path(data, path, value, where)
    except ScenarioError as error:
        raise SweepError(str(error)) from None
