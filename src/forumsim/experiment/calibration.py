"""Calibration files: which parameters of a base scenario to fit, their priors, the
targets (a targets.json of `forumsim data summarize`, or published values with
tolerances) and which statistics are fitted and which held out for checking.

This module reads and validates the file and says how far a simulation is from the
targets; `inference.py` runs ABC-SMC on it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from forumsim.experiment.files import inside, load_scenario, read_bytes
from forumsim.experiment.files import read_yaml as read_guarded
from forumsim.world.scenario import EMBEDDED, Scenario, ScenarioError, embedded_scenario, quoted

STATISTICS = (
    "posts_per_author_mean", "posts_per_author_median", "posts_per_author_q90",
    "posts_per_author_q99", "posts_per_author_max", "posts_per_author_gini",
    "posts_top1pct_author_share", "posters_among_members", "monthly_active_authors_mean",
    "monthly_new_authors_mean", "monthly_retention_mean", "thread_size_mean",
    "thread_size_median", "thread_size_q90", "thread_size_q99", "thread_size_max",
    "single_post_thread_share", "reply_share", "reply_depth_mean", "reply_depth_q90",
    "reply_depth_max", "reply_degree_mean", "reply_degree_median", "reply_degree_q90",
    "reply_degree_q99", "reply_degree_max", "reply_isolated_share", "reply_clustering",
    "reply_transitivity", "fora", "multi_forum_author_share", "forum_size_gini",
    "largest_forum_share")
MARKER = "calibration.json"  # marks a calibration folder and what it was made from
LOCK = ".forumsim-calibrate.lock"  # one calibration writes a folder at a time
MAX_TARGETS_BYTES = 64 << 20  # a targets file is a few kilobytes
TAKEDOWN = re.compile(r"takedown_\d+_(drop|recovery_days|moved_share|top_destination_share)")
# Statistics of the simulated run itself, which no posts table gives (who shares material,
# where the displaced people went, not only the authors): fitted to published values only.
RUN_STATISTICS = ("run_share_sharing", "run_share_posting", "run_share_lurkers",
                  "run_share_downloading", "run_top1pct_post_share", "run_share_vips",
                  "run_share_staff")
RUN_TAKEDOWN = re.compile(r"run_takedown_(\d+)_(rehomed_share|rehomed_top_destination_share)")


def is_run_statistic(name: str) -> bool:
    """Whether `name` is a statistic of the simulated run (not of its posts)."""
    return name in RUN_STATISTICS or bool(RUN_TAKEDOWN.fullmatch(name))


class CalibrationError(ValueError):
    """A calibration file is invalid; the message names file, field, value and rule."""


class CalibrationFolderError(ValueError):
    """The output folder cannot take this calibration; the message says what to do."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Prior(Strict):
    """A parameter's prior: uniform or log-uniform between two bounds."""

    uniform: tuple[float, float] | None = None
    log_uniform: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _one_range(self) -> Prior:
        given = [r for r in (self.uniform, self.log_uniform) if r is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of uniform: [low, high] or log_uniform: "
                             "[low, high]")
        low, high = given[0]
        if not low < high:
            raise ValueError(f"the range [{low}, {high}] must have low < high")
        if self.log_uniform is not None and low <= 0:
            raise ValueError("a log-uniform range must be above 0")
        return self

    @property
    def kind(self) -> Literal["uniform", "log_uniform"]:
        return "uniform" if self.uniform is not None else "log_uniform"

    @property
    def bounds(self) -> tuple[float, float]:
        return self.uniform or self.log_uniform


class Published(Strict):
    """A published value and how far from it a simulation may be and still count as
    one tolerance away (the unit of the distance)."""

    value: float
    tolerance: float = Field(gt=0)


class Targets(Strict):
    """Where the target values come from: a targets file (relative to the calibration
    file), published values, or both (published values take precedence)."""

    file: str | None = None
    published: dict[str, Published] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _some(self) -> Targets:
        if self.file is None and not self.published:
            raise ValueError("give a targets file (file: targets.json) or published values")
        return self


class Calibration(Strict):
    """A calibration: base scenario with fixed values, priors, targets, fitted and held-out
    statistics, and the ABC-SMC settings."""

    name: str | None = None
    description: str = ""
    base: str = Field(description="embedded scenario name or scenario file")
    fixed: dict[str, object] = Field(default_factory=dict)
    parameters: dict[str, Prior] = Field(min_length=1)
    targets: Targets
    fit: list[str] = Field(min_length=1)
    hold_out: list[str] = Field(default_factory=list)
    population: int = Field(100, ge=5, le=100_000, description="particles per generation")
    generations: int = Field(5, ge=1, le=100, description="ABC-SMC generations at most")
    minimum_epsilon: float = Field(0.0, ge=0, description="stop once epsilon is this small")
    seed: int = Field(0, ge=0, description="root of every simulation's seed")
    replicates: int = Field(1, ge=1, le=100, description="simulations per particle, each "
                            "with a seed of its own; their statistics are averaged (for "
                            "statistics too noisy to fit from one run)")
    predictive: int = Field(20, ge=0, le=10_000, description="posterior draws simulated "
                            "again for the report's predictive check (0: none)")

    @model_validator(mode="after")
    def _known_statistics(self) -> Calibration:
        for name in [*self.fit, *self.hold_out, *self.targets.published]:
            if name not in STATISTICS and not TAKEDOWN.fullmatch(name) \
                    and not is_run_statistic(name):
                raise ValueError(f"'{name}' is not a statistic of forumsim data summarize "
                                 "(see docs/data.md) nor of the simulated run "
                                 "(run_..., see docs/calibration.md)")
        both = sorted(set(self.fit) & set(self.hold_out))
        if both:
            raise ValueError(f"'{both[0]}' is both fitted and held out")
        return self


class Problem:
    """A calibration made ready: the scenario to vary, the priors, and target values and
    scales of the fitted and held-out statistics."""

    def __init__(self, calibration: Calibration, base: Scenario, targets: dict[str, float],
                 scales: dict[str, float], source: str) -> None:
        self.calibration, self.base, self.source = calibration, base, source
        self.targets, self.scales = targets, scales
        self.name = calibration.name or Path(source).stem
        self._integers = {path for path in calibration.parameters
                          if isinstance(_get(base.model_dump(), path), int)}

    def scenario(self, parameters: dict[str, float], seed: int | None = None) -> Scenario:
        """The base scenario with `parameters` set (rounded for whole-number fields)."""
        values = {path: round(v) if path in self._integers else float(v)
                  for path, v in parameters.items()}
        return self.base.overridden(source=f"{self.source}, parameters", seed=seed, **values)

    def extremes(self) -> list[Scenario]:
        """The base scenario, and the scenario at each bound of each prior (among them the
        largest run the calibration can make, for the memory check)."""
        return [self.base, *(self.scenario({name: bound})
                             for name, prior in self.calibration.parameters.items()
                             for bound in prior.bounds)]

    def seed_of(self, parameters: dict[str, float]) -> int:
        """A simulation's seed, from the root seed and its parameter values: the same
        particle always gives the same simulation."""
        key = json.dumps([self.calibration.seed, sorted(parameters.items())])
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") >> 1

    def replicate_seeds(self, seed: int) -> list[int]:
        """The seeds of a particle's `replicates` simulations: its own seed first, then
        seeds derived from it."""
        more = [int.from_bytes(hashlib.sha256(json.dumps([seed, r]).encode()).digest()[:4],
                               "big") >> 1 for r in range(1, self.calibration.replicates)]
        return [seed, *more]

    def distance(self, simulated: dict, observed: dict | None = None) -> float:
        """Root mean square of the fitted statistics' errors, each in units of its scale
        (a tolerance, or the target's size); infinite if one is undefined."""
        total = 0.0
        for name in self.calibration.fit:
            value = simulated.get(name)
            if value is None or not math.isfinite(value):
                return math.inf
            total += ((value - self.targets[name]) / self.scales[name]) ** 2
        return math.sqrt(total / len(self.calibration.fit))

    def identity(self) -> str:
        """What determines the calibration's simulations and distances (for --resume)."""
        fields = self.calibration.model_dump(mode="json", exclude={"description", "name",
                                                                   "generations",
                                                                   "minimum_epsilon",
                                                                   "predictive"})
        return hashlib.sha256(json.dumps([fields, self.base.model_dump(mode="json"),
                                          self.targets], sort_keys=True).encode()).hexdigest()


def load_calibration(path: str | Path) -> Problem:
    """Read and check a calibration file, its base scenario and its targets; raises
    CalibrationError with one line."""
    path = Path(path)
    data = read_guarded(path, "calibration", CalibrationError)
    if not isinstance(data, dict):
        raise CalibrationError(f"{path}: expected a mapping of fields (base, parameters, "
                               f"targets, fit, ...), got {type(data).__name__}.")
    try:
        calibration = Calibration.model_validate(data)
    except ValidationError as error:
        raise CalibrationError(_explain(error, str(path))) from None
    base = _base(calibration, path)
    targets, scales = _targets(calibration, path)
    problem = Problem(calibration, base, targets, scales, str(path))
    for name, prior in calibration.parameters.items():
        for bound in prior.bounds:
            try:
                problem.scenario({name: bound})
            except ScenarioError as error:
                raise CalibrationError(f"{path}: parameters.{name}: {error}") from None
    return problem


def _explain(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    path = ".".join(quoted(p, bare=True) for p in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown field '{path}'."
    if first["type"] == "missing":
        return f"{source}: field '{path}' is required but missing."
    if not path:
        return f"{source}: {message}."
    return f"{source}: field '{path}' has value {quoted(first.get('input'))}, but " \
           f"{message[0].lower() + message[1:]}."


def _base(calibration: Calibration, path: Path) -> Scenario:
    try:
        if calibration.base in EMBEDDED:
            base = embedded_scenario(calibration.base)
        else:
            base = load_scenario(inside(path.parent / calibration.base, path.parent,
                                        f"{path}: field 'base'", calibration.base),
                                 root=path.parent)
        base = base.overridden(source=f"{path}, fixed", seed=calibration.seed,
                               **calibration.fixed)
    except ScenarioError as error:
        raise CalibrationError(f"{path}: its base scenario is invalid: {error}") from None
    return base


def _targets(calibration: Calibration, path: Path) -> tuple[dict, dict]:
    """Target values and scales of the fitted and held-out statistics."""
    values, scales = {}, {}
    if calibration.targets.file is not None:
        where = path.parent / calibration.targets.file
        try:
            data = read_bytes(where, MAX_TARGETS_BYTES)
            if len(data) > MAX_TARGETS_BYTES:
                raise ValueError(f"is larger than {MAX_TARGETS_BYTES >> 20} MiB")
            statistics = json.loads(data)["statistics"]
            if not isinstance(statistics, dict):
                raise TypeError("its 'statistics' is not a mapping of names to values")
        except FileNotFoundError:
            raise CalibrationError(f"{path}: targets.file {where}: not a targets file of "
                                   "forumsim data summarize (no such file).") from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            reason = f"no {error}" if isinstance(error, KeyError) else str(error)
            raise CalibrationError(f"{path}: targets.file {where}: not a targets file of "
                                   f"forumsim data summarize ({reason}).") from None
        for name, value in statistics.items():
            if isinstance(value, int | float) and not isinstance(value, bool) \
                    and math.isfinite(value):
                values[name], scales[name] = float(value), abs(float(value)) or 1.0
    for name, published in calibration.targets.published.items():
        values[name], scales[name] = published.value, published.tolerance
    used = [*calibration.fit, *calibration.hold_out]
    for name in used:
        if is_run_statistic(name) and name not in calibration.targets.published:
            raise CalibrationError(f"{path}: the statistic '{name}' is one of the simulated "
                                   "run, which no posts table has: give its value under "
                                   "targets.published.")
        if name not in values:
            raise CalibrationError(f"{path}: the statistic '{name}' has no target value (not "
                                   "in the targets file, or null there, and not published).")
    return {name: values[name] for name in used}, {name: scales[name] for name in used}


def _get(data: dict, path: str) -> object:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data.get(part)
    return data


def check_folder(out: Path, problem: Problem, resume: bool) -> None:
    """Refuse an `out` that is a file, a link, a folder of something else, an earlier
    calibration without `resume`, or (with `resume`) the folder of another calibration."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise CalibrationFolderError(f"--out {out}: is a file or a link; give a folder.")
    if not out.exists() or not any(p.name != LOCK for p in out.iterdir()):
        if resume:
            raise CalibrationFolderError(f"--out {out}: holds no calibration to resume; leave "
                                         "out --resume to start one.")
        return
    try:
        marker = json.loads((out / MARKER).read_text())
    except (OSError, ValueError):
        raise CalibrationFolderError(f"--out {out}: is a folder that was not written by "
                                     "forumsim calibrate; forumsim never deletes what it "
                                     "did not write. Choose another --out.") from None
    if not resume:
        raise CalibrationFolderError(f"--out {out}: holds an earlier calibration; add "
                                     "--resume to continue it, or choose another --out.")
    if marker.get("identity") != problem.identity():
        raise CalibrationFolderError(f"--out {out}: holds a calibration of other parameters, "
                                     "priors, targets or base scenario; it cannot be resumed "
                                     "with this file. Choose another --out.")
