"""Running scenarios: one run from a Scenario to a RunResult (time series, metrics,
provenance), and paired runs that measure each intervention against its counterfactual."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forumsim.experiment.start_from import started
from forumsim.measures import keyplayers
from forumsim.measures import metrics as m
from forumsim.version import __version__
from forumsim.world.agents import State
from forumsim.world.interventions import Event
from forumsim.world.model import Ecosystem
from forumsim.world.posts import PostLog
from forumsim.world.scenario import Scenario

SMOOTHING_DAYS = 7  # resilience metrics compare 7-day means: single days are noisy


@dataclass
class RunResult:
    """What one run produced: daily tables, end-of-run metrics and provenance; with
    interventions, also the counterfactual's daily table and the shocks' records."""

    scenario: Scenario
    ecosystem: pd.DataFrame
    forums: pd.DataFrame
    metrics: dict[str, object]
    contributions: np.ndarray  # posts + shares per registered person (participation)
    wall_seconds: float
    events: list[Event] = field(default_factory=list)
    fora_names: list[str] = field(default_factory=list)
    counterfactual: pd.DataFrame | None = None
    # With export: the community's posts, members and events as columns (world/posts.py).
    community: dict[str, dict[str, np.ndarray]] | None = None
    tables_sha256: str | None = None  # with start_from: of the tables day 0 was built from

    def summary(self) -> dict[str, object]:
        """The content of summary.json."""
        return {"scenario": self.scenario.name, "seed": self.scenario.seed,
                "days": self.scenario.days, "people": self.scenario.people,
                "version": __version__, "config_sha256": self.scenario.config_sha256(),
                **({"start_from_sha256": self.tables_sha256}
                   if self.tables_sha256 is not None else {}),
                "wall_seconds": round(self.wall_seconds, 3), "metrics": self.metrics}


def end_of_run_metrics(eco: Ecosystem) -> dict[str, object]:
    """Flat end-of-run figures: participation inequality, roles, fora, network."""
    p = eco.people
    registered = p.registered()
    n = max(int(registered.sum()), 1)
    contributions = (p.posts + p.shares)[registered]
    roles = np.bincount(p.role[registered], minlength=5)
    daily = eco.datacollector.get_model_vars_dataframe()
    # The tie network among people in the ecosystem, without those who have no tie there.
    inside = p.state == State.ACTIVE
    u, v = eco.ties.edges.u, eco.ties.edges.v
    both = inside[u] & inside[v]
    sizes = keyplayers.component_sizes(u[both], v[both])
    return {
        "registered_people": int(registered.sum()),
        "share_lurkers": float(roles[0] / n),
        "share_posting": float((p.posts[registered] > 0).sum() / n),
        "share_sharing": float((p.shares[registered] > 0).sum() / n),
        "share_downloading": float(p.downloaded[registered].sum() / n),
        "top1pct_post_share": m.top_share(contributions, 0.01),
        "share_vips": float(roles[2] / n),
        "share_staff": float((roles[3] + roles[4]) / n),
        "online_fora": int(sum(f.online for f in eco.fora)),
        "fora_ever": len(eco.fora),
        "fora_founded": eco.founded_count,
        "posts_total": int(daily["posts"].sum()),
        "shares_total": int(daily["shares"].sum()),
        "active_people_mean_last30": float(daily.tail(30)["active_people"].mean()),
        "arrested": int((p.state == State.ARRESTED).sum()),
        "ties": len(eco.ties),
        # Among people in the ecosystem who have at least one tie.
        "network_giant_share": float(sizes.max() / sizes.sum()) if len(sizes) else 0.0,
        "network_fragmentation": keyplayers.fragmentation_of(sizes),
    }


def ecosystem(scenario: Scenario) -> Ecosystem:
    """The model of `scenario` at day 0; with `start_from`, built from that table (its
    `config` is then the scenario with the table's fora and population size)."""
    if scenario.start_from is None:
        return Ecosystem(scenario)
    return Ecosystem(*started(scenario))


def simulate(scenario: Scenario, progress: Callable[[int], None] | None = None,
             export_posts: bool = False) -> RunResult:
    """Run a scenario exactly as given (no counterfactual), from day 0; `progress(day)`
    after each day. With `export_posts`, the result holds the community's posts table."""
    start = time.perf_counter()
    eco = ecosystem(scenario)
    if export_posts:
        eco.post_log = PostLog()
    _step_to(eco, scenario.days, progress)
    result = _result(eco, start)
    if export_posts:
        result.community = eco.post_log.tables(eco)
    return result


def _step_to(eco: Ecosystem, day: int, progress: Callable[[int], None] | None) -> None:
    """Step `eco` until it has simulated `day`; `progress(day)` after each day."""
    while eco.day < day:
        eco.step()
        if progress is not None:
            progress(eco.day)


def _result(eco: Ecosystem, start: float) -> RunResult:
    """The RunResult of a model stepped to its horizon (wall time counted from `start`)."""
    registered = eco.people.registered()
    return RunResult(
        scenario=eco.config,
        ecosystem=eco.datacollector.get_model_vars_dataframe().reset_index(drop=True),
        forums=eco.datacollector.get_table_dataframe("forums"),
        metrics=end_of_run_metrics(eco),
        contributions=(eco.people.posts + eco.people.shares)[registered],
        wall_seconds=time.perf_counter() - start,
        events=eco.events,
        fora_names=[f.name for f in eco.fora],
        tables_sha256=eco.observed_sha256,
    )


class Snapshots:
    """Forks of a model taken on the days before paired runs part from it; each is handed
    out as many times as it was asked for, copied except the last time."""

    def __init__(self, uses: Counter[int]) -> None:
        self.uses = uses  # day after which a snapshot is taken -> how many forks start there
        self.taken: dict[int, Ecosystem] = {}

    def take(self, eco: Ecosystem) -> None:
        """Snapshot `eco` if a paired run forks on the day it has just simulated."""
        if self.uses[eco.day] and eco.day not in self.taken:
            self.taken[eco.day] = eco.fork()
            self.taken[eco.day].post_log = None  # only the run itself exports its posts

    def fork(self, day: int, interventions: list) -> Ecosystem:
        """A model that continues from the snapshot of `day` under `interventions`."""
        self.uses[day] -= 1
        if self.uses[day]:
            return self.taken[day].fork(interventions)
        eco = self.taken.pop(day)
        eco.replace_interventions(interventions)
        return eco


def run(scenario: Scenario, progress: Callable[[float], None] | None = None,
        export_posts: bool = False) -> RunResult:
    """Run a scenario; with interventions, also its counterfactual (same scenario and
    seed, no shocks: common random numbers) and, for targeted arrests, the same arrests at
    random (`measurement.random_arrest_draws` draws of other people), then add one record
    per intervention to `metrics['interventions']`. With several shocks, each one is
    measured against the scenario without that one shock, keeping the others;
    `metrics['policy']` holds the same record for all the shocks together against the
    counterfactual without any of them. `progress(fraction)` reports the share of
    simulated days done.

    The paired runs are identical until their first shock, so they are not simulated
    from day 0: each continues a fork of the run with shocks taken the day before it
    parts from it (the counterfactual before the first shock, a random-arrest variant
    before its own arrests). The results are those of simulating each from day 0.

    With `export_posts`, the result also holds the community of the run with shocks as
    posts, members and events tables (`RunResult.community`)."""
    start = time.perf_counter()
    days = scenario.days
    eco = ecosystem(scenario)
    if export_posts:
        eco.post_log = PostLog()
    targeted = [i for i, spec in enumerate(scenario.interventions)
                if spec.type == "arrests" and spec.strategy != "random"]
    # The day each paired run parts from the run with shocks is the day before its
    # first shock: all shocks for the counterfactual, intervention i for its variant.
    first = {i: min(intervention.days) for i, intervention in enumerate(eco.interventions)}
    draws = range(scenario.measurement.random_arrest_draws)
    parts = {(i, draw): min(max(first[i] - 1, 0), days) for i in targeted for draw in draws}
    if scenario.interventions:
        parts["counterfactual"] = min(max(min(first.values()) - 1, 0), days)
    several = len(scenario.interventions) > 1
    if several:  # each shock against the same scenario without that one shock
        parts.update({("without", i): min(max(first[i] - 1, 0), days) for i in first})
    snapshots = Snapshots(Counter(parts.values()))
    total = days + sum(days - day for day in parts.values())
    done = 0

    def advance(day: int) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done / total)

    snapshots.take(eco)
    while eco.day < days:
        eco.step()
        advance(eco.day)
        snapshots.take(eco)
    result = _result(eco, start)
    if export_posts:
        result.community = eco.post_log.tables(eco)
    del eco  # only its results are needed now: free its memory for the paired runs
    if scenario.interventions:
        twin = snapshots.fork(parts["counterfactual"], [])
        _step_to(twin, days, advance)
        counterfactual = _result(twin, start)
        result.counterfactual = counterfactual.ecosystem
        baselines = dict.fromkeys(first, counterfactual)
        if several:
            for i in first:
                others = [spec for j, spec in enumerate(scenario.interventions) if j != i]
                twin = snapshots.fork(parts[("without", i)], others)
                _step_to(twin, days, advance)
                baselines[i] = _result(twin, start)
        randoms: dict[int, list[RunResult]] = {i: [] for i in targeted}
        for i in targeted:
            for draw in draws:
                twin = snapshots.fork(parts[(i, draw)],
                                      _random_variant(result, i, draw).interventions)
                _step_to(twin, days, advance)
                randoms[i].append(_result(twin, start))
        result.metrics["interventions"] = [
            intervention_record(result, baselines[i], i, randoms.get(i))
            for i in range(len(scenario.interventions))]
        for record in result.metrics["interventions"]:
            record["counterfactual"] = "without this shock" if several else "without shocks"
        result.metrics["policy"] = policy_record(result, counterfactual)
    result.wall_seconds = time.perf_counter() - start
    return result


def policy_record(result: RunResult, counterfactual: RunResult) -> dict[str, object]:
    """The whole effect of all the run's shocks together, against the counterfactual
    without any of them: `intervention_record` read from the first shock on, over the
    events of every shock (all arrested, displaced and rehomed people, all successors)."""
    specs = result.scenario.interventions
    first = min(range(len(specs)), key=lambda i: next(
        (e.day for e in result.events if e.index == i), specs[i].day))
    together = dataclasses.replace(
        result, events=[dataclasses.replace(e, index=first) for e in result.events])
    record = intervention_record(together, counterfactual, first)
    targets = [r["target"] for r in result.metrics["interventions"] if r["target"]]
    record.update(type=" + ".join(spec.type for spec in specs),
                  target=", ".join(dict.fromkeys(map(str, targets))) or None,
                  counterfactual="without shocks")
    return record


def _random_variant(result: RunResult, index: int, draw: int) -> Scenario:
    """The scenario with intervention `index` replaced by as many arrests at random, among
    the same candidates (the ecosystem, or one forum's members), as the strategy made at
    its first application; `draw` picks which random people."""
    scenario = result.scenario
    first = next((e for e in result.events if e.index == index), None)
    k = max(first.arrested if first is not None else 0, 1)
    specs = [spec.model_copy(update={"strategy": "random", "k": k, "share": None,
                                     "draw": draw})
             if i == index else spec
             for i, spec in enumerate(scenario.interventions)]
    return scenario.model_copy(update={"interventions": specs})


def smoothed(series: pd.Series) -> np.ndarray:
    return series.rolling(SMOOTHING_DAYS, min_periods=1).mean().to_numpy()


RANDOM_ARREST_KEYS = ("loss_random", "loss_random_low", "loss_random_high", "kpd", "kpd_low",
                      "kpd_high", "random_draws")  # only targeted arrests have them


def rehoming(events: list) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """Of one shock's `events`: the displaced, the arrested, and where each displaced
    person who rehomed went (person -> forum). People the shock arrested cannot rehome:
    they are not counted as displaced."""
    if not events:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), {}
    arrested = np.unique(np.concatenate([e.arrested_people for e in events]))
    displaced = np.setdiff1d(np.unique(np.concatenate([e.displaced for e in events])),
                             arrested)
    caught = set(arrested.tolist())
    rehomed: dict[int, int] = {}
    for event in events:
        rehomed.update((p, f) for p, f in event.rehomed.items() if p not in caught)
    return displaced, arrested, rehomed


def intervention_record(result: RunResult, counterfactual: RunResult, index: int,
                        random_runs: list[RunResult] | None = None) -> dict[str, object]:
    """Resilience figures of intervention `index` against the counterfactual: loss,
    peak loss, triangle and kpd within the effect window after the shock, recovery,
    lasting loss, relocation. With `random_runs` (the same arrests at random, one run per
    draw), key-player dependence with its interval."""
    spec = result.scenario.interventions[index]
    measure = result.scenario.measurement
    window = measure.effect_window_days
    events = [e for e in result.events if e.index == index]
    day = events[0].day if events else spec.day
    actual = result.ecosystem["active_people"].to_numpy(float)
    other = counterfactual.ecosystem["active_people"].to_numpy(float)
    smooth_actual = smoothed(result.ecosystem["active_people"])
    smooth_other = smoothed(counterfactual.ecosystem["active_people"])
    displaced, arrested, rehomed = rehoming(events)
    destinations = Counter(rehomed.values())
    record: dict[str, object] = {
        "type": spec.type,
        "day": day,
        "target": next((e.target for e in events if e.target), getattr(spec, "strategy", None)),
        "effect_window_days": window,
        "loss": m.loss(actual, other, day - 1, window=window),
        "peak_loss": m.peak_loss(smooth_actual, smooth_other, day - 1, window=window),
        "days_to_recovery": m.days_to_recovery(smooth_actual, smooth_other, day - 1,
                                               measure.recovery_tolerance,
                                               hold=measure.recovery_hold_days),
        "triangle": m.triangle(actual, other, day - 1, window=window),
        "lasting_loss": m.lasting_loss(actual, other, window=30),
        "arrested": len(arrested),
        "displaced": len(displaced),
        "rehomed_30d": len(rehomed) / len(displaced) if len(displaced) else None,
        "top_destination_share": (max(destinations.values()) / len(rehomed)
                                  if rehomed else None),
        "destinations": {result.fora_names[f]: n for f, n in destinations.most_common()},
        "successor_fora": sum(len(e.successors) for e in events),
        "network_giant_share_counterfactual": counterfactual.metrics["network_giant_share"],
        "network_fragmentation_counterfactual": counterfactual.metrics["network_fragmentation"],
    }
    if random_runs:
        losses = [m.loss(run.ecosystem["active_people"].to_numpy(float), other, day - 1,
                         window=window) for run in random_runs]
        kpd = m.key_player_dependence(record["loss"], losses)
        record.update(loss_random=kpd.loss_random, loss_random_low=kpd.loss_random_low,
                      loss_random_high=kpd.loss_random_high, kpd=kpd.kpd, kpd_low=kpd.low,
                      kpd_high=kpd.high, random_draws=kpd.draws)
    return record
