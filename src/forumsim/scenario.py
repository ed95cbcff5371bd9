"""Scenario files: validated parameters of one simulation, and the embedded defaults.

A scenario is plain data (pydantic models). It knows nothing of the model's internals;
`Ecosystem(scenario)` turns it into a running simulation. Every parameter carries its
unit in its name or description; `docs/parameters.md` gives the source of each default.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

AccessName = Literal["open", "restricted", "closed"]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
EMBEDDED = ("default", "small", "large")


class ScenarioError(ValueError):
    """A scenario (file or override) is invalid; the message names field, value and rule."""


class Strict(BaseModel):
    """Base for scenario parts: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ForumSpec(Strict):
    """One forum present at day 0."""

    name: str = Field(min_length=1, max_length=40, description="label used in results")
    access: AccessName = Field(description="open, restricted or closed")
    size_weight: PositiveFloat = Field(
        1.0, description="relative share of the initially registered people who join it"
    )
    admins: int = Field(1, ge=1, le=20, description="admins at day 0")
    moderators: int = Field(2, ge=0, le=200, description="moderators at day 0")


class AccessMix(Strict):
    """Probabilities of each access regime for a newly founded forum (must sum to 1)."""

    open: Probability = 0.4
    restricted: Probability = 0.4
    closed: Probability = 0.2

    @model_validator(mode="after")
    def _sums_to_one(self) -> AccessMix:
        total = self.open + self.restricted + self.closed
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"open + restricted + closed must sum to 1, got {total:g}")
        return self


class Behaviour(Strict):
    """Behavioural parameters; rates are per day, probabilities per visit unless named."""

    # Activity: who shows up on a given day.
    activity_median_per_day: Probability = Field(
        0.05, description="median probability that a registered person visits a forum on a day"
    )
    activity_sigma: float = Field(
        1.2, ge=0.0, le=4.0, description="log-normal spread of the daily visit probability"
    )
    novelty_boost: float = Field(
        1.5, ge=0.0, le=20.0, description="extra activity (multiple) right after registering"
    )
    novelty_days: PositiveFloat = Field(
        60.0, description="days over which the novelty boost decays (e-folding time)"
    )
    home_loyalty: Probability = Field(
        0.8, description="probability that a visit goes to the home forum"
    )
    join_other_prob_per_visit: Probability = Field(
        0.01, description="probability that a visitor also registers on another known forum"
    )
    initial_registered_share: Probability = Field(
        0.35, description="share of people already registered somewhere at day 0"
    )
    entry_rate_per_day: Probability = Field(
        0.0025, description="daily probability that a not-yet-registered person looks for a forum"
    )
    career_days_mean: PositiveFloat = Field(
        800.0, description="mean days from registering to desisting for good (exponential)"
    )
    # Participation: who posts and shares.
    communicator_share: Probability = Field(
        0.045, description="share of people with any propensity to post publicly"
    )
    post_prob_per_visit: Probability = Field(
        0.3, description="mean probability that a communicator posts on a visit"
    )
    sharer_share: Probability = Field(
        0.6, description="share of communicators who also share material"
    )
    share_prob_per_visit: Probability = Field(
        0.15, description="mean probability that a sharer shares material on a visit"
    )
    reply_share: Probability = Field(0.7, description="share of posts that reply to someone")
    private_exchange_prob: Probability = Field(
        0.1, description="probability that a reply leads to a private exchange (stronger tie)"
    )
    tie_half_life_days: PositiveFloat = Field(
        180.0, description="days without contact after which a tie's strength halves"
    )
    thanks_per_share: float = Field(
        3.0, ge=0.0, le=1000.0, description="mean thanks a share receives"
    )
    rule_breaker_share: Probability = Field(
        0.05, description="share of people with a propensity to break forum rules"
    )
    rule_break_prob_per_post: Probability = Field(
        0.2, description="probability that a rule-breaker's post violates the rules"
    )
    # Status and governance.
    vip_contributions: int = Field(
        15, ge=1, le=100_000, description="shares on a forum needed to become a VIP there"
    )
    vip_thanks: int = Field(40, ge=0, le=1_000_000, description="thanks needed to become VIP")
    moderator_min_tenure_days: int = Field(
        60, ge=0, le=10_000, description="days of membership before a member can be recruited"
    )
    members_per_moderator: int = Field(
        150, ge=1, le=1_000_000, description="posting members one moderator is meant to look after"
    )
    moderator_capacity_per_day: int = Field(
        25, ge=1, le=100_000, description="applications or reports one staff member handles a day"
    )
    warnings_before_ban: int = Field(3, ge=1, le=100, description="warnings that lead to a ban")
    application_accept_prob: Probability = Field(
        0.7, description="probability that staff accept a restricted forum's applicant"
    )
    invite_prob_per_visit: Probability = Field(
        0.02, description="probability that a VIP or staff member invites a contact on a visit"
    )
    cross_promotion_prob: Probability = Field(
        0.01, description="probability that a visitor learns an allied forum's address on a visit"
    )
    tighten_backlog_days: int = Field(
        14, ge=1, le=10_000, description="days of staff backlog after which an open forum tightens"
    )
    # Fora coming and going.
    outage_rate_per_day: Probability = Field(
        0.01, description="daily outage probability of a forum whose best admin has skill 0"
    )
    outage_days_mean: PositiveFloat = Field(3.0, description="mean length of an outage, days")
    founding_rate_per_day: Probability = Field(
        1 / 120, description="daily probability that a skilled person founds a new forum"
    )
    founder_min_skill: Probability = Field(
        0.6, description="technical skill needed to found a forum"
    )
    new_forum_access: AccessMix = Field(default_factory=AccessMix)


class Scenario(Strict):
    """Everything one run needs: population, fora, behaviour, horizon and seed."""

    name: str = Field("default", min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    seed: int = Field(42, ge=0, le=2**63 - 1)
    days: int = Field(730, ge=1, le=36_500, description="simulated days")
    people: int = Field(20_000, ge=10, le=20_000_000, description="people in the population")
    fora: list[ForumSpec] = Field(min_length=1, max_length=60)
    behaviour: Behaviour = Field(default_factory=Behaviour)

    @field_validator("fora")
    @classmethod
    def _unique_names(cls, fora: list[ForumSpec]) -> list[ForumSpec]:
        names = [f.name for f in fora]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"forum names must be unique; repeated: {', '.join(duplicates)}")
        return fora

    def with_fora(self, k: int) -> Scenario:
        """This scenario with exactly `k` fora: the first k, or more added in rotation."""
        if k < 1:
            raise ScenarioError(f"fora: must be at least 1, got {k}")
        fora = list(self.fora[:k])
        regimes: tuple[AccessName, ...] = ("open", "restricted", "closed")
        smallest = min(f.size_weight for f in self.fora)
        while len(fora) < k:
            i = len(fora)
            fora.append(ForumSpec(name=f"Forum {i + 1}", access=regimes[i % 3],
                                  size_weight=smallest))
        return self.model_copy(update={"fora": fora})

    def overridden(self, **values: object) -> Scenario:
        """A validated copy with top-level fields replaced (None values are ignored)."""
        data = self.model_dump()
        data.update({k: v for k, v in values.items() if v is not None})
        return parse_scenario(data, source="command line")

    def config_sha256(self) -> str:
        """Hash of the fully resolved scenario, for provenance and resume checks."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _describe(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    path = ".".join(str(p) for p in first["loc"]) or "(top level)"
    value = first.get("input")
    shown = json.dumps(value, default=str) if not isinstance(value, dict) else "{...}"
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown field '{path}'. Remove it or check its spelling."
    if first["type"] == "missing":
        return f"{source}: field '{path}' is required but missing."
    more = len(error.errors()) - 1
    extra = f" ({more} more problem{'s' if more > 1 else ''} after this one.)" if more else ""
    return f"{source}: field '{path}' has value {shown}, but {first['msg'].lower()}.{extra}"


def parse_scenario(data: object, source: str = "scenario") -> Scenario:
    """Validate a mapping into a Scenario, raising ScenarioError with a one-line reason."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: expected a mapping of fields, got {type(data).__name__}.")
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(_describe(error, source)) from None


def embedded_scenario(name: str = "default") -> Scenario:
    """One of the scenarios shipped inside the package (`default`, `small`, `large`)."""
    if name not in EMBEDDED:
        raise ScenarioError(f"no embedded scenario '{name}'; choose one of {', '.join(EMBEDDED)}.")
    text = resources.files("forumsim.scenarios").joinpath(f"{name}.yaml").read_text()
    return parse_scenario(yaml.safe_load(text), source=f"embedded scenario '{name}'")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a YAML scenario file (or the name of an embedded scenario)."""
    if str(path) in EMBEDDED:
        return embedded_scenario(str(path))
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(
            f"{path}: no such scenario file (embedded ones: {', '.join(EMBEDDED)}).")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", error)
        raise ScenarioError(f"{path}: not valid YAML{where}: {problem}.") from None
    return parse_scenario(data, source=str(path))
