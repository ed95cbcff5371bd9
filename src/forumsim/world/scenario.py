"""Scenario files: validated parameters of one simulation, and the embedded defaults.

A scenario is plain data (pydantic models). It knows nothing of the model's internals;
`Ecosystem(scenario)` turns it into a running simulation. Every parameter carries its
unit in its name or description; `docs/parameters.md` gives the source of each default.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import typing
from importlib import resources
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

AccessName = Literal["open", "restricted", "closed"]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
EMBEDDED = ("default", "small", "large")
PICKED = ("largest", "most_central", "random")  # targets chosen on the day of the shock


class ScenarioError(ValueError):
    """A scenario (file or override) is invalid; the message names field, value and rule."""


def plain_label(name: str | None) -> str | None:
    """A scenario's or sweep's name, which names its results folder: not '.' or '..'."""
    if name in (".", ".."):
        raise ValueError("a name is a plain label (it names the results folder), not "
                         "'.' or '..'")
    return name


class Strict(BaseModel):
    """Base for scenario parts: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class ForumSpec(Strict):
    """One forum present at day 0."""

    name: str = Field(min_length=1, max_length=40, description="label used in results")
    access: AccessName = Field(description="open, restricted or closed")
    size_weight: PositiveFloat = Field(
        1.0, description="relative share of the initially registered people who join it"
    )
    admins: int = Field(1, ge=1, le=20, description="admins at day 0")
    moderators: int = Field(2, ge=0, le=200, description="moderators at day 0")

    @field_validator("name")
    @classmethod
    def _not_a_pick(cls, name: str) -> str:
        if name in PICKED:
            raise ValueError(f"'{name}' picks a forum on the day of a shock, so no forum may "
                             "be called that")
        return name


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
        4.0, ge=0.0, le=20.0, description="extra activity (multiple) right after registering"
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
        0.0004, description="newcomers a day, as a share of the population (everyone who may "
                            "ever register), while the fora listed at day 0 are online "
                            "(scaled by visibility); none once everyone has registered"
    )
    link_find_prob: Probability = Field(
        0.8, description="chance that a would-be newcomer's search turns up a given listed "
                         "forum: visibility is the chance to find at least one of the "
                         "listed fora online, against day 0"
    )
    career_days_mean: PositiveFloat = Field(
        800.0, description="mean days from registering to desisting for good (exponential)"
    )
    # Participation: who posts and shares.
    communicator_share: Probability = Field(
        0.04, description="share of people with any propensity to post publicly"
    )
    post_prob_per_visit: Probability = Field(
        0.3, description="mean probability that a communicator posts on a visit"
    )
    sharer_share: Probability = Field(
        0.1, description="share of people with any propensity to share material (drawn "
                          "apart from communicators)"
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
        18, ge=1, le=100_000, description="shares on a forum needed to become a VIP there"
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
        0.2, description="probability that a VIP or staff member invites a contact on a visit"
    )
    vetting_per_admin_per_week: float = Field(
        2.0, ge=0.0, le=100_000.0,
        description="invitations to a closed forum one of its admins vets a week (unused "
                    "capacity is kept for at most a week); the rest are turned down"
    )
    member_invite_factor: Probability = Field(
        0.25, description="a member's chance to invite a contact to a closed forum, as a share "
                          "of a VIP's"
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
    outage_days_mean: float = Field(3.0, ge=1.0, le=10_000.0,
                                    description="mean length of an outage, days")
    founding_rate_per_day: Probability = Field(
        1 / 120, description="daily probability that a skilled person founds a new forum"
    )
    new_forum_appeal: float = Field(
        3.0, ge=0.0, le=1000.0,
        description="pull of a brand-new forum on people looking for one, as a multiple of "
                    "the average forum's size; decays over novelty_days (link lists "
                    "announce new fora)"
    )
    founder_min_skill: Probability = Field(
        0.6, description="technical skill needed to found a forum"
    )
    new_forum_access: AccessMix = Field(default_factory=AccessMix)
    # Relocation, succession and reactions to enforcement.
    contact_weight: float = Field(
        1.0, ge=0.0, le=100.0,
        description="extra pull of a forum per contact already there, when choosing where to go"
    )
    displaced_desist_prob: Probability = Field(
        0.03, description="probability that a displaced person who finds no forum on an "
                          "active day gives up for good"
    )
    successor_prob: Probability = Field(
        0.8, description="probability that surviving staff of a downed forum found a successor"
    )
    successor_delay_days: PositiveFloat = Field(
        21.0, description="set-up time of a successor forum for a founder of skill 0, days "
                          "(a founder of skill s needs (1 - s/2) times this)"
    )
    successor_stricter_prob: Probability = Field(
        0.6, description="probability that a successor forum is one step stricter"
    )
    threat_days: PositiveFloat = Field(
        90.0, description="days that enforcement news keeps people cautious"
    )
    threat_new_tie_factor: Probability = Field(
        0.3, description="while cautious, chance that a reply to a stranger still forms a tie"
    )
    deterrence_activity_drop: Probability = Field(
        0.3, description="largest drop in activity right after a publicized takedown (share)"
    )
    deterrence_desist_prob: Probability = Field(
        0.05, description="probability that a fully risk-averse person desists on a "
                          "publicized takedown"
    )
    poor_opsec_threshold: Probability = Field(
        0.35, description="operational security (mean of skill and risk aversion) below "
                          "which seized data can identify a person"
    )
    hiding_effect: Probability = Field(
        0.5, description="reduction of identification chances once admins hide member activity"
    )
    undercover_detection_prob_per_day: Probability = Field(
        0.01, description="daily chance that staff of skill 1 detect law enforcement running "
                          "their forum"
    )
    rehoming_window_days: int = Field(
        30, ge=1, le=3650, description="days after a shock within which the displaced count "
                                       "as rehomed"
    )
    deterrence_days: PositiveFloat = Field(
        21.0, description="days over which the activity drop after a publicized takedown "
                          "decays (e-folding time)"
    )
    # Content and community: what a forum offers its members.
    pull_weight: Probability = Field(
        0.5, description="share of a person's visit chance that depends on their home forum's "
                         "pull (0: visits ignore what a forum offers)"
    )
    material_days: PositiveFloat = Field(
        30.0, description="days over which shared material stays fresh (e-folding time)"
    )
    expectation_days: PositiveFloat = Field(
        60.0, description="days over which people get used to more or less material per "
                           "visit than before (the ecosystem's average is followed with this "
                           "e-folding time): until then a forum with less pulls less"
    )
    vip_material_weight: float = Field(
        2.0, ge=0.0, le=100.0, description="weight of a share made by a VIP or staff member "
                                           "(first circulating in VIP areas) against one by a "
                                           "member"
    )
    community_weight: float = Field(
        0.5, ge=0.0, le=10.0, description="largest extra visit chance (multiple) from replies a "
                                          "person has received lately"
    )
    restricted_pull_share: Probability = Field(
        0.5, description="share of a forum's pull that a member without full access gets"
    )
    report_pull_penalty: float = Field(
        5.0, ge=0.0, le=1000.0, description="loss of pull per unhandled report per daily visit "
                                            "(pull divided by 1 + penalty x waiting/visits)"
    )
    drift_prob: Probability = Field(
        0.2, description="probability that a visit to a forum with more pull than the home "
                         "forum makes it the new home"
    )
    dry_pull: Probability = Field(
        0.3, description="pull below which a forum has run dry"
    )
    dry_leave_prob_per_visit: Probability = Field(
        0.01, description="probability that a lurker visiting a dry home forum leaves for good"
    )
    # Status, ties and loyalty.
    thanks_share_boost: float = Field(
        1.0, ge=0.0, le=100.0, description="largest extra sharing (multiple) from thanks received"
    )
    thanks_scale: PositiveFloat = Field(
        50.0, description="thanks at which the sharing boost reaches 63% of its largest value"
    )
    vip_share_boost: float = Field(
        0.5, ge=0.0, le=100.0, description="extra sharing (multiple) of VIPs and staff"
    )
    status_retention: Probability = Field(
        0.5, description="probability that a VIP or staff member whose career ends carries on "
                         "for another career"
    )
    tie_retention: float = Field(
        0.15, ge=0.0, le=100.0, description="retention per tie at a career's end: an embedded "
                                            "person with d ties carries on with probability "
                                            "1 - exp(-tie_retention x d)"
    )
    thanks_tie_prob: Probability = Field(
        0.3, description="probability that a thanks given to a share comes from one of today's "
                         "visitors and ties them to the sharer (weak tie)"
    )
    # Governance with consequences.
    understaffed_outage_factor: float = Field(
        2.0, ge=0.0, le=100.0, description="extra outage risk (multiple) of a forum that has "
                                           "lost all the staff it had at its peak"
    )
    understaffed_closure_per_day: Probability = Field(
        0.002, description="daily closure probability of a forum that has lost all but its "
                           "last staff member (scaled by the share of peak staff lost)"
    )
    handover_min_thanks: int = Field(
        5, ge=0, le=1_000_000_000, description="thanks a member needs to take over an admin-less, "
                                               "moderator-less forum (a huge value: it closes)"
    )
    # Coordinated relocation.
    announcement_weight: float = Field(
        3.0, ge=0.0, le=1000.0, description="extra pull (multiple) of the forum that surviving "
                                            "staff and VIPs of a downed forum announce"
    )
    herding_weight: float = Field(
        3.0, ge=0.0, le=50.0, description="pull of the crowd: a forum's weight for the "
                                          "displaced is multiplied by exp(herding_weight x "
                                          "the share of the fellow displaced who went there "
                                          "lately)"
    )
    herding_days: int = Field(
        7, ge=1, le=3650, description="days of fellow displaced's moves a displaced person hears of"
    )
    # An open population.
    visibility_growth_weight: float = Field(
        1.0, ge=0.0, le=100.0, description="extra newcomers (multiple) per unit of the "
                                           "ecosystem's recent relative growth"
    )
    return_prob_per_day: Probability = Field(
        0.0005, description="daily probability that someone who desisted comes back"
    )


class Measurement(Strict):
    """How a shock's effect is measured against its counterfactual (paired run)."""

    effect_window_days: int = Field(
        180, ge=1, le=36_500, description="days after a shock over which its loss, triangle "
                                          "and key-player dependence are measured")
    recovery_tolerance: Probability = Field(
        0.1, description="relative gap (7-day means) within which, above or below, activity "
                         "counts as recovered")
    recovery_hold_days: int = Field(
        28, ge=1, le=3650, description="days the gap must stay within the tolerance for the "
                                       "shock to count as recovered from")
    random_arrest_draws: int = Field(
        5, ge=2, le=100, description="random draws of as many arrests as a targeted "
                                     "strategy made, each a paired run, for the key-player "
                                     "dependence and its interval")


ForumTarget = Annotated[str, Field(
    min_length=1, description="a forum's name, or 'largest', 'most_central' or 'random'")]
STRATEGIES = ("random", "admins", "moderators", "staff", "vips", "degree", "betweenness",
              "eigenvector", "fragmentation", "network_capital")


class Scheduled(Strict):
    """When an intervention happens: on `day`, and again every `every_days`, `times` times."""

    day: int = Field(ge=1, description="day of the (first) shock")
    every_days: int | None = Field(None, ge=1, le=36_500, description="repeat interval, days")
    times: int = Field(1, ge=1, le=10_000, description="how many times it happens")

    def days(self) -> list[int]:
        """All days on which it happens."""
        return [self.day + i * (self.every_days or 0) for i in range(self.times)]

    def last_day(self) -> int:
        """The last day on which it acts."""
        return self.days()[-1]

    @model_validator(mode="after")
    def _repeat_needs_interval(self) -> Scheduled:
        if self.times > 1 and self.every_days is None:
            raise ValueError("times > 1 needs every_days (the repeat interval)")
        return self


class TakedownSpec(Scheduled):
    """A forum is seized and goes offline for good."""

    type: Literal["takedown"]
    target: ForumTarget = "largest"
    data_seized: Probability = Field(
        0.0, description="probability that each member with poor opsec is identified and arrested")
    publicized: bool = Field(False, description="deterrence: perceived risk rises for a while")


class ArrestsSpec(Scheduled):
    """People chosen by a targeting strategy are arrested and never act again."""

    type: Literal["arrests"]
    strategy: Literal["random", "admins", "moderators", "staff", "vips", "degree",
                      "betweenness", "eigenvector", "fragmentation", "network_capital"] = "random"
    k: int | None = Field(None, ge=1, le=10_000_000, description="people arrested each time")
    share: Probability | None = Field(None, description="or: share of the candidates arrested")
    forum: str | None = Field(None, description="only among members of this forum (by name)")
    draw: int = Field(0, ge=0, le=1_000_000, description="which draw of the random choices "
                      "(at random, within a rank, sampled betweenness): another draw picks "
                      "other people")

    @model_validator(mode="after")
    def _k_or_share(self) -> ArrestsSpec:
        if (self.k is None) == (self.share is None):
            raise ValueError("give exactly one of k (a number of people) or share")
        return self


class InfiltrationSpec(Scheduled):
    """Law enforcement covertly runs a forum for a while, identifying active members."""

    type: Literal["infiltration"]
    target: ForumTarget = "largest"
    duration_days: int = Field(90, ge=1, le=36_500)
    identify_prob_per_day: Probability = Field(
        0.02, description="daily chance that an active member is identified")
    ending: Literal["takedown", "quiet"] = "takedown"

    def last_day(self) -> int:
        return self.day + self.duration_days  # arrests and takedown happen on this day

    @model_validator(mode="after")
    def _once(self) -> InfiltrationSpec:
        if self.times != 1:
            raise ValueError("an infiltration happens once (times: 1); list several "
                             "infiltrations to repeat one")
        return self


class OutageSpec(Scheduled):
    """A forum is down for a while (DDoS, failure) and comes back."""

    type: Literal["outage"]
    target: ForumTarget = "largest"
    duration_days: int = Field(7, ge=1, le=36_500)


class BotWaveSpec(Scheduled):
    """Hacktivists flood a forum with bot registrations; admins may freeze registrations."""

    type: Literal["bot_wave"]
    target: ForumTarget = "largest"
    bots_per_day: int = Field(500, ge=1, le=10_000_000)
    duration_days: int = Field(7, ge=1, le=36_500)
    freeze_days: int = Field(30, ge=1, le=36_500, description="how long admins freeze sign-ups")

    def last_day(self) -> int:
        return self.days()[-1] + self.duration_days - 1


InterventionSpec = Annotated[TakedownSpec | ArrestsSpec | InfiltrationSpec | OutageSpec
                             | BotWaveSpec, Field(discriminator="type")]


class Scenario(Strict):
    """Everything one run needs: population, fora, behaviour, horizon and seed."""

    name: str = Field("default", min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    seed: int = Field(42, ge=0, le=2**63 - 1)
    days: int = Field(730, ge=1, le=36_500, description="simulated days")
    people: int = Field(20_000, ge=10, le=20_000_000, description="people in the population")
    fora: list[ForumSpec] = Field(min_length=1, max_length=60)
    behaviour: Behaviour = Field(default_factory=Behaviour)
    interventions: list[InterventionSpec] = Field(default_factory=list)
    measurement: Measurement = Field(default_factory=Measurement)
    burn_in_days: int = Field(
        0, ge=0, le=36_500, description="days the ecosystem takes to settle from its set-up "
                                        "(ties, careers and fora built up from day 0): its "
                                        "baseline is steady from then on, and shocks "
                                        "belong after it")
    start_from: str | None = Field(
        None, min_length=1, description="a posts table (CSV or Parquet), or a folder holding "
                                        "posts and members tables: day 0 is built from it "
                                        "(docs/data.md); its fora replace `fora` and the "
                                        "population size follows from it")
    start_from_posting_share: float = Field(
        0.034, gt=0, le=1, description="with start_from: on a forum whose members the members "
                                       "table does not list, the share of its members taken to "
                                       "have posted (3.4% posted publicly in van der Bruggen et "
                                       "al. 2022); the rest are added as lurkers")

    @field_validator("name")
    @classmethod
    def _plain_label(cls, name: str) -> str:
        return plain_label(name)

    @model_validator(mode="after")
    def _schedules_fit(self) -> Scenario:
        for i, spec in enumerate(self.interventions):
            last = spec.last_day()  # an infiltration or bot wave must also end in time
            if last > self.days:
                raise ValueError(f"interventions.{i}: happens on day {last}, after the last "
                                 f"simulated day {self.days}")
        if self.start_from is not None:
            return self  # day 0 comes from a table: its fora and staff are checked there
        staff = sum(f.admins + f.moderators for f in self.fora)
        if self.people < 2 * staff:
            raise ValueError(f"people: {self.people} is too few for the {staff} admins and "
                             f"moderators of the fora; give at least {2 * staff}")
        problem = unknown_target(self.interventions, [f.name for f in self.fora], "at day 0")
        if problem:
            raise ValueError(problem)
        return self

    def without_interventions(self) -> Scenario:
        """The counterfactual: the same scenario and seed with no shocks."""
        return self.model_copy(update={"interventions": []})

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

    def overridden(self, source: str = "Scenario.overridden()", **values: object) -> Scenario:
        """A validated copy with fields replaced, named as in sweeps: top-level names or
        dotted paths (`**{"behaviour.home_loyalty": 0.9}`, `**{"fora.0.access": "closed"}`);
        mappings merge into the fields they replace, None values are ignored. Errors are
        `ScenarioError`s that start with `source`."""
        data = self.model_dump()
        for path, value in values.items():
            if value is not None:
                set_path(data, path, value, source)
        return parse_scenario(data, source=source)

    def identity_data(self) -> dict:
        """The scenario as JSON data, for hashes: without the settings of `start_from`
        when there is none (so such a scenario hashes as before they existed)."""
        data = self.model_dump(mode="json")
        if data["start_from"] is None:
            del data["start_from_posting_share"]
        return data

    def config_sha256(self) -> str:
        """Hash of the fully resolved scenario, for provenance and resume checks (a
        scenario without `start_from` hashes as it did before that field existed)."""
        data = self.identity_data()
        if data["start_from"] is None:
            del data["start_from"]
        canonical = json.dumps(data, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def unknown_target(interventions: list, names: list[str], where: str) -> str | None:
    """Why a shock names a forum that is not among `names` (the fora of day 0, `where`
    says whose), or None if every named target exists. Arrests among a forum's members
    need the forum by name; the other shocks can also pick their target on the day."""
    named = sorted(names)
    for i, spec in enumerate(interventions):
        field, allowed = (("forum", named) if isinstance(spec, ArrestsSpec)
                          else ("target", [*named, *PICKED]))
        target = getattr(spec, field, None)
        if target is not None and target not in allowed:
            shown = quoted(target, bare=True)
            return (f"interventions.{i}.{field}: no forum '{shown}' {where}; use one of "
                    f"{', '.join(allowed)}")
    return None


def quoted(value: object, limit: int = 40, bare: bool = False) -> str:
    """A value as a message shows it: JSON (or, `bare`, a key as is), non-finite numbers
    as YAML writes them (.inf, .nan), cut to `limit` characters so a huge value never
    floods the terminal."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"
    text = str(value) if bare else json.dumps(value, default=str)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


_UNION_TAGS = {"takedown": TakedownSpec, "arrests": ArrestsSpec,
               "infiltration": InfiltrationSpec, "outage": OutageSpec, "bot_wave": BotWaveSpec}


def did_you_mean(name: str, known: typing.Iterable[str]) -> str | None:
    """The known name closest to a misspelled one, if any is close."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return close[0] if close else None


def set_path(data: dict, path: str, value: object, source: str) -> None:
    """Set the field at dotted `path` of a scenario's data (list items by index; a
    mapping merges into a mapping), or raise ScenarioError naming the nearest field."""
    keys = path.split(".")
    node: typing.Any = data
    for depth, key in enumerate(keys):
        here = ".".join(keys[: depth + 1])
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ScenarioError(f"{source}: '{here}' is not an item of a list of "
                                    f"{len(node)} (use an index from 0 to {len(node) - 1}).")
            key = int(key)
        elif isinstance(node, dict):
            if key not in node:
                close = did_you_mean(key, node)
                hint = f" Did you mean '{'.'.join([*keys[:depth], close])}'?" if close else ""
                raise ScenarioError(f"{source}: the scenario has no field '{here}'.{hint}")
        else:
            raise ScenarioError(f"{source}: '{'.'.join(keys[:depth])}' is a single value, so "
                                f"it has no field '{key}'.")
        if depth == len(keys) - 1:
            old = node[key]
            node[key] = (_merged(old, value) if isinstance(old, dict) and isinstance(value, dict)
                         else copy.deepcopy(value))
        else:
            node = node[key]


def _merged(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if both else copy.deepcopy(value)
    return merged


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The scenario part (pydantic model) that holds the field at error location `loc`."""
    model: type[BaseModel] = Scenario
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if part in _UNION_TAGS:
            model = _UNION_TAGS[part]
            continue
        field = model.model_fields.get(part)
        inner = _inner_model(field.annotation) if field is not None else None
        if inner is None:
            return None
        model = inner
    return model


def _inner_model(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _misspelling(errors: list[dict]) -> tuple[dict, str | None] | None:
    """An unknown key, with the known field it is closest to (preferring a required
    field reported missing next to it): a misspelled key shows up as both."""
    for error in errors:
        if error["type"] != "extra_forbidden":
            continue
        loc = tuple(error["loc"])
        missing = [e["loc"][-1] for e in errors
                   if e["type"] == "missing" and tuple(e["loc"][:-1]) == loc[:-1]]
        model = _model_at(loc)
        known = [*missing, *(model.model_fields if model is not None else ())]
        return error, did_you_mean(str(loc[-1]), missing) or did_you_mean(str(loc[-1]), known)
    return None


def _describe(error: ValidationError, source: str) -> str:
    """One sentence naming the field, the bad value and what is allowed."""
    errors = error.errors()
    misspelt = _misspelling(errors)
    first = misspelt[0] if misspelt else errors[0]
    loc = [p for p in first["loc"] if p not in _UNION_TAGS]  # pydantic adds the union tag
    path = ".".join(quoted(p, bare=True) for p in loc)
    more = len(errors) - 1
    extra = f" ({more} more problem{'s' if more > 1 else ''} after this one.)" if more else ""
    if misspelt:
        close = misspelt[1]
        if close is not None:
            if any(e["type"] == "missing" and e["loc"][-1] == close for e in errors):
                more -= 1  # the "missing" field is the one misspelt: not another problem
                extra = (f" ({more} more problem{'s' if more > 1 else ''} after this one.)"
                         if more else "")
            fixed = ".".join([*path.split(".")[:-1], close])
            return f"{source}: unknown field '{path}'. Did you mean '{fixed}'?{extra}"
        return f"{source}: unknown field '{path}'. Remove it or check its spelling.{extra}"
    if first["type"] == "missing":
        return f"{source}: field '{path}' is required but missing.{extra}"
    message = first["msg"].removeprefix("Value error, ")
    value = first.get("input")
    if isinstance(value, dict | list):
        where = f"field '{path}': " if path else ""
        return f"{source}: {where}{message}.{extra}"
    rule = message[0].lower() + message[1:]
    return f"{source}: field '{path}' has value {quoted(value)}, but {rule}.{extra}"


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
    text = resources.files("forumsim.world.scenarios").joinpath(f"{name}.yaml").read_text()
    return parse_scenario(yaml.safe_load(text), source=f"embedded scenario '{name}'")
