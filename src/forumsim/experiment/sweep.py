"""Sweep files: a base scenario, a parameter space (lists, ranges, distributions, named
variants), a design (grid, lhs, sobol, morris), replicates and a root seed. Or, for policy
analysis, `policies:` (named sets of interventions: the levers) crossed with
`uncertainties:` (the parameter space of what is not known, sampled by the design, or
joint draws from a calibration's posterior).

This module reads and validates the file; `plan.py` turns it into runs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)

from forumsim.experiment.files import read_yaml as read_guarded
from forumsim.world.scenario import EMBEDDED, plain_label, quoted

MAX_RUNS = 1_000_000
NOT_SWEPT = ("seed", "name", "description")  # seeds come from the root seed


class SweepError(ValueError):
    """A sweep file is invalid; the message names file, field, value and what is allowed."""


class Strict(BaseModel):
    """Base for sweep parts: unknown keys and non-finite numbers are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Levels(BaseModel):
    """Discrete values, tried in the order given."""

    values: list[Any]

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, data: Any) -> Any:
        return {"values": data} if isinstance(data, list) else data

    @model_serializer
    def _as_list(self) -> list[Any]:
        return self.values

    def levels(self) -> list[tuple[object, object]]:
        return [(_label(v), v) for v in self.values]


def _bounds(values: Any, names: tuple[str, ...]) -> Any:
    """Check the shape first, so the message says what the numbers are for."""
    if not isinstance(values, list | tuple) or len(values) != len(names):
        raise ValueError(f"must be {len(names)} numbers: [{', '.join(names)}]")
    return values


def _ordered(low: float, high: float) -> None:
    if not low < high:
        raise ValueError(f"low ({low:g}) must be below high ({high:g})")


class Range(Strict):
    """`{range: [low, high, step]}`: low, low + step, ... up to and including high."""

    range: list[float]
    _integer: bool = PrivateAttr(False)

    @field_validator("range", mode="before")
    @classmethod
    def _shape(cls, values: Any) -> Any:
        return _bounds(values, ("low", "high", "step"))

    @field_validator("range")
    @classmethod
    def _steps(cls, values: list[float]) -> list[float]:
        low, high, step = values
        if step <= 0:
            raise ValueError(f"the step (third number) must be positive, got {step:g}")
        if high < low:
            raise ValueError(f"high ({high:g}) must not be below low ({low:g})")
        if (high - low) / step >= 10_000:
            raise ValueError("it makes more than 10,000 values; use a larger step")
        return values

    @field_serializer("range")
    def _integers_stay_integers(self, values: list[float]) -> list[float | int]:
        return [int(v) for v in values] if self._integer else values

    @model_validator(mode="wrap")
    @classmethod
    def _keep_integers(cls, data: Any, handler: Any) -> Range:
        space = handler(data)
        if isinstance(data, dict):
            space._integer = _all_integers(data.get("range"))
        return space

    def levels(self) -> list[tuple[object, object]]:
        low, high, step = self.range
        count = math.floor((high - low) / step + 1e-9) + 1
        values = [low + i * step for i in range(count)]
        values = [int(round(v)) if self._integer else float(f"{v:.12g}") for v in values]
        return [(v, v) for v in values]


class Uniform(Strict):
    """`{uniform: [low, high]}`: drawn evenly between the bounds (integers if both are)."""

    uniform: list[float]
    _integer: bool = PrivateAttr(False)

    @field_validator("uniform", mode="before")
    @classmethod
    def _shape(cls, values: Any) -> Any:
        return _bounds(values, ("low", "high"))

    @field_validator("uniform")
    @classmethod
    def _order(cls, values: list[float]) -> list[float]:
        _ordered(*values)
        return values

    @field_serializer("uniform")
    def _integers_stay_integers(self, values: list[float]) -> list[float | int]:
        return [int(v) for v in values] if self._integer else values

    @model_validator(mode="wrap")
    @classmethod
    def _keep_integers(cls, data: Any, handler: Any) -> Uniform:
        space = handler(data)
        if isinstance(data, dict):
            space._integer = _all_integers(data.get("uniform"))
        return space

    @property
    def bounds(self) -> tuple[float, float]:
        return self.uniform[0], self.uniform[1]

    def at(self, u: float) -> tuple[object, object]:
        low, high = self.bounds
        if self._integer:
            value = min(int(low + math.floor(u * (high - low + 1))), int(high))
        else:
            value = float(low + u * (high - low))
        return value, value


class LogUniform(Strict):
    """`{loguniform: [low, high]}`: evenly spread on a log scale; both bounds positive."""

    loguniform: list[Annotated[float, Field(gt=0)]]

    @field_validator("loguniform", mode="before")
    @classmethod
    def _shape(cls, values: Any) -> Any:
        return _bounds(values, ("low", "high"))

    @field_validator("loguniform")
    @classmethod
    def _order(cls, values: list[float]) -> list[float]:
        _ordered(*values)
        return values

    @property
    def bounds(self) -> tuple[float, float]:
        return self.loguniform[0], self.loguniform[1]

    def at(self, u: float) -> tuple[object, object]:
        low, high = np.log(self.bounds)
        value = float(np.exp(low + u * (high - low)))
        return value, value


class Variants(Strict):
    """`{variants: {name: value, ...}}`: named alternatives, e.g. sets of interventions."""

    variants: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]+$")], Any] = Field(
        min_length=1)

    def levels(self) -> list[tuple[object, object]]:
        return list(self.variants.items())


_KINDS = ("range", "uniform", "loguniform", "variants")


def _space_kind(value: Any) -> str | None:
    if isinstance(value, list):
        return "levels"
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _KINDS:
        return next(iter(value))
    if isinstance(value, BaseModel):
        return {Levels: "levels", Range: "range", Uniform: "uniform",
                LogUniform: "loguniform", Variants: "variants"}[type(value)]
    return None


ParameterSpace = Annotated[
    Annotated[Levels, Tag("levels")] | Annotated[Range, Tag("range")]
    | Annotated[Uniform, Tag("uniform")] | Annotated[LogUniform, Tag("loguniform")]
    | Annotated[Variants, Tag("variants")],
    Discriminator(_space_kind, custom_error_type="parameter_space",
                  custom_error_message="must be a list of values, or a mapping with exactly "
                                       "one of: range, uniform, loguniform, variants"),
]


# A scenario field by dotted path, list items by index: behaviour.home_loyalty, fora.0.access
FIELD_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$"
FieldPath = Annotated[str, Field(max_length=120, pattern=FIELD_PATH)]
MAX_DRAWS = 10_000


class Posterior(Strict):
    """`{posterior: PATH, draws: N}`: N joint draws (whole particles, by weight) from the
    last generation of a calibration's posterior; PATH is the folder of `forumsim
    calibrate` (or its posterior.parquet), relative to the sweep file."""

    posterior: str = Field(min_length=1, max_length=1000, description="a calibration "
                           "folder or its posterior.parquet, relative to the sweep file")
    draws: int = Field(ge=1, le=MAX_DRAWS, description="posterior draws: the scenarios "
                       "every policy runs on")


def _uncertainty_kind(value: Any) -> str:
    is_posterior = isinstance(value, Posterior) or (isinstance(value, dict)
                                                    and "posterior" in value)
    return "posterior" if is_posterior else "spaces"


Uncertainties = Annotated[
    Annotated[dict[FieldPath, ParameterSpace], Field(max_length=100), Tag("spaces")]
    | Annotated[Posterior, Tag("posterior")],
    Discriminator(_uncertainty_kind),
]


PolicyName = Annotated[str, Field(max_length=40, pattern=r"^[A-Za-z0-9_.\-]+$")]


class Goal(Strict):
    """A goal a policy should meet in a scenario: an outcome at least or at most a value."""

    at_least: float | None = None
    at_most: float | None = None

    @model_validator(mode="after")
    def _one_side(self) -> Goal:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("give exactly one of at_least, at_most")
        return self

    def met(self, values: np.ndarray) -> np.ndarray:
        """Whether each value meets the goal (a missing value does not)."""
        with np.errstate(invalid="ignore"):
            if self.at_least is not None:
                return values >= self.at_least
            return values <= self.at_most

    def __str__(self) -> str:
        return (f">= {self.at_least:g}" if self.at_least is not None
                else f"<= {self.at_most:g}")


class Sweep(Strict):
    """A sweep: which scenario to start from, what to vary, how to sample it, how often."""

    name: str | None = Field(None, min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$",
                             description="label of the sweep [default: the file's stem]")
    description: str = ""
    base: str = Field(min_length=1, description="scenario file (relative to this file) or "
                                                "an embedded scenario name")
    fixed: dict[FieldPath, Any] = Field(default_factory=dict, description="values set in "
                                        "every run, by dotted path (e.g. days, "
                                        "behaviour.home_loyalty)")
    parameters: dict[FieldPath, ParameterSpace] = Field(default_factory=dict, max_length=100)
    uncertainties: Uncertainties = Field(
        default_factory=dict, description="what is not known: sampled by the design, like "
        "parameters, or {posterior: PATH, draws: N}, joint draws from a calibration's "
        "posterior; every policy runs on every sampled scenario")
    policies: dict[PolicyName, list[Any] | dict[FieldPath, Any]] = Field(
        default_factory=dict, max_length=100, description="the levers: name -> a list of "
        "interventions, or a mapping of fields (dotted paths) the policy sets, with an "
        "optional label: the name reports show")
    reference: PolicyName | None = Field(None, description="the policy every other is "
                                         "contrasted with in the report [default: the first]")
    goals: dict[str, Goal] = Field(default_factory=dict, max_length=20, description="outcome "
                                   "-> {at_least: x} or {at_most: x}: the report gives the "
                                   "share of scenarios in which each policy meets it")
    design: Literal["grid", "lhs", "sobol", "morris"] = "grid"
    samples: int | None = Field(None, ge=1, le=MAX_RUNS, description="points (lhs), base "
                                "samples (sobol, a power of 2) or trajectories (morris)")
    levels: int = Field(4, ge=2, le=20, description="grid levels of a morris design")
    second_order: bool = Field(False, description="sobol: also second-order indices")
    replicates: int = Field(1, ge=1, le=10_000, description="runs per point, each with its own "
                                                            "seed")
    seed: int = Field(ge=0, le=2**63 - 1, description="root seed of every run's seed")
    common_seeds: bool = Field(False, description="replicate r of every point gets the same "
                               "seed (common random numbers across points)")
    keep_series: bool = Field(True, description="store each run's daily series")
    outcomes: list[str] = Field(default_factory=list, description="metrics the report "
                                "analyses for sensitivity [default: a few key ones]")

    @field_validator("name")
    @classmethod
    def _plain_label(cls, name: str | None) -> str | None:
        return plain_label(name)

    @field_validator("policies", mode="before")
    @classmethod
    def _policy_shapes(cls, policies: Any) -> Any:
        for name, value in (policies.items() if isinstance(policies, dict) else ()):
            if not isinstance(value, list | dict):
                raise ValueError(f"policies.{name}: must be a list of interventions (e.g. "
                                 "[{type: takedown, day: 365, target: largest}]) or a "
                                 "mapping of the fields it sets, got "
                                 f"{quoted(value)}")
            label = value.get("label", "") if isinstance(value, dict) else ""
            if not isinstance(label, str) or len(label) > 80 or not label.isprintable():
                raise ValueError(f"policies.{name}.label: must be a line of text of at most "
                                 f"80 characters (the name reports show), got {quoted(label)}")
        return policies

    @property
    def posterior(self) -> Posterior | None:
        """Where the uncertainties come from when they are a calibration's posterior."""
        return self.uncertainties if isinstance(self.uncertainties, Posterior) else None

    @property
    def space(self) -> dict[str, Any]:
        """What the design samples: the uncertainties, or the parameters of a plain sweep
        (nothing, for posterior draws: the draws are the scenarios)."""
        if self.posterior is not None:
            return {}
        return self.uncertainties or self.parameters

    def levers(self) -> dict[str, dict[str, Any]]:
        """Each policy as the fields it sets (a list of interventions sets `interventions`)."""
        return {name: {"interventions": value} if isinstance(value, list) else
                {path: v for path, v in value.items() if path != "label"}
                for name, value in self.policies.items()}

    def policy_label(self, name: str) -> str:
        """The name reports show for a policy: its `label`, or its key."""
        value = self.policies.get(name)
        return (value.get("label") or name) if isinstance(value, dict) else name

    @model_validator(mode="after")
    def _policies_fit(self) -> Sweep:
        if self.parameters and (self.uncertainties or self.policies):
            key = "uncertainties" if self.uncertainties else "policies"
            raise ValueError(f"{key}: a sweep gives either parameters, or policies and "
                             "uncertainties; move the parameters under uncertainties")
        if self.reference is not None and self.reference not in self.policies:
            raise ValueError(f"reference: '{self.reference}' is not one of the policies ("
                             f"{', '.join(self.policies) or 'none given'})")
        for name, fields in self.levers().items():
            if not fields:
                continue
            for path in fields:
                clash = [u for u in self.space if u == path or u.startswith(path + ".")
                         or path.startswith(u + ".")]
                if clash:
                    raise ValueError(f"uncertainties.{clash[0]}: policy '{name}' sets "
                                     f"'{path}' too; a field is either a lever or an "
                                     "uncertainty, not both")
                if path.split(".")[0] in NOT_SWEPT:
                    raise ValueError(f"policies.{name}: '{path}' cannot be set by a policy")
        return self

    @model_validator(mode="after")
    def _design_fits(self) -> Sweep:
        if self.posterior is not None:
            if self.design != "grid" or self.samples is not None:
                raise ValueError("design: posterior draws are the scenarios themselves; "
                                 "remove design and samples (set the number with draws)")
            return self
        for field, spaces, role in (("parameters", self.parameters, "swept"),
                                    ("uncertainties", self.uncertainties, "uncertain")):
            for name, space in spaces.items():
                if name.split(".")[0] in NOT_SWEPT:
                    raise ValueError(f"{field}.{name}: '{name}' cannot be {role}; seeds come "
                                     "from the sweep's root seed and replicates")
                if isinstance(space, Levels) and not space.values:
                    raise ValueError(f"{field}.{name}: the list of values is empty")
        key = "uncertainties" if self.uncertainties else "parameters"
        continuous = [n for n, s in self.space.items() if hasattr(s, "at")]
        if self.design == "grid":
            if continuous:
                raise ValueError(f"{key}.{continuous[0]}: a grid design needs discrete "
                                 "values (a list, range or variants); distributions need "
                                 "design lhs, sobol or morris")
            if self.samples is not None:
                raise ValueError("samples: a grid design takes every combination; remove "
                                 "samples or choose design lhs, sobol or morris")
            return self
        if not self.space:
            raise ValueError(f"{key}: a {self.design} design needs at least one parameter")
        if self.samples is None:
            what = {"lhs": "the number of points", "sobol": "the base sample size (a power "
                    "of 2)", "morris": "the number of trajectories"}[self.design]
            raise ValueError(f"samples: design {self.design} needs samples: {what}")
        if self.design == "sobol" and self.samples & (self.samples - 1):
            raise ValueError(f"samples: a sobol design needs a power of 2 (e.g. 64, 128, "
                             f"256), got {self.samples}")
        if self.design == "morris" and self.samples < 2:
            raise ValueError("samples: a morris design needs at least 2 trajectories")
        return self

    def scenarios_count(self) -> int:
        """How many scenarios (combinations of the sampled space, or posterior draws) the
        design makes."""
        if self.posterior is not None:
            return self.posterior.draws
        d = len(self.space)
        if self.design == "grid":
            return math.prod(len(s.levels()) for s in self.space.values())
        return {"lhs": self.samples, "morris": self.samples * (d + 1),
                "sobol": self.samples * (2 * d + 2 if self.second_order else d + 2)
                }[self.design]

    def points_count(self) -> int:
        """How many points the plan runs: each scenario once per policy (or once)."""
        return self.scenarios_count() * max(len(self.policies), 1)

    def identity(self) -> dict:
        """What determines the runs (everything but labels and report choices)."""
        unused = {k for k in ("uncertainties", "policies") if not getattr(self, k)}
        found = self.model_dump(mode="json", exclude={"description", "outcomes", "reference",
                                                      "goals", *unused})  # older hashes hold
        for name, value in found.get("policies", {}).items():
            if isinstance(value, dict) and "label" in value:  # a label changes no run
                fields = {path: v for path, v in value.items() if path != "label"}
                found["policies"][name] = (fields["interventions"]
                                           if list(fields) == ["interventions"] else fields)
        return found


def _all_integers(values: Any) -> bool:
    return isinstance(values, list | tuple) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in values)


def _label(value: object) -> object:
    """How a value appears in the results table: scalars as is, the rest as JSON."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True)


def _explain(error: ValidationError, source: str) -> str:
    """One sentence naming the field path, the bad value and what is allowed."""
    first = error.errors()[0]
    loc = list(first["loc"])
    if len(loc) > 1 and loc[0] == "uncertainties" and loc[1] in ("spaces", "posterior"):
        del loc[1]  # the union's tag: ranges, or a posterior
    if (len(loc) > 2 and loc[0] in ("parameters", "uncertainties")
            and loc[2] in (*_KINDS, "levels")):
        del loc[2]  # the union's tag
    path = ".".join(quoted(p, bare=True) for p in loc if p not in ("values", "[key]"))
    more = len(error.errors()) - 1
    extra = f" ({more} more problem{'s' if more > 1 else ''} after this one.)" if more else ""
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(Sweep.model_fields) if len(loc) == 1 else None
        hint = f" Allowed fields: {allowed}." if allowed else ""
        return f"{source}: unknown field '{path}'.{hint}{extra}"
    if first["type"] == "missing":
        return f"{source}: field '{path}' is required but missing.{extra}"
    if not path:
        return f"{source}: {message}.{extra}"
    value = first.get("input")
    if isinstance(value, dict) and first["type"] != "parameter_space":
        return f"{source}: field '{path}': {message}.{extra}"
    rule = message[0].lower() + message[1:]
    return f"{source}: field '{path}' has value {quoted(value)}, but {rule}.{extra}"


def parse_sweep(data: object, source: str = "sweep") -> Sweep:
    """Validate a mapping into a Sweep, raising SweepError with a one-line reason."""
    if not isinstance(data, dict):
        raise SweepError(f"{source}: expected a mapping of fields (base, parameters, design, "
                         f"replicates, seed, ...), got {type(data).__name__}.")
    if "base" not in data and ("fora" in data or "extends" in data):
        raise SweepError(f"{source}: this is a scenario file, not a sweep. A sweep names its "
                         "scenario in 'base:' (a file or one of "
                         f"{', '.join(EMBEDDED)}) and varies it under 'parameters:'.")
    try:
        return Sweep.model_validate(data)
    except ValidationError as error:
        raise SweepError(_explain(error, source)) from None


def read_yaml(path: Path, what: str = "sweep") -> object:
    """The content of a YAML file through the guarded loader (see `files.read_yaml`),
    with a one-line SweepError naming the file and the line."""
    return read_guarded(path, what, SweepError)
