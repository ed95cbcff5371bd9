"""The model against published patterns: `forumsim validate`.

Each pattern of `docs/validation.md` is measured over replicates (seeds 5000, 5001, ...,
on which nothing was tuned) of the default scenario, of a takedown of the largest forum
after a year (and the same takedown publicized, with arrests from its seized data), and
of arrests of 20 people by betweenness, and compared with its published target or
direction.
Which patterns were used for calibration and which are held out is in
`docs/calibration.md`.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forumsim.analysis.validation_table import TITLE, earlier_table
from forumsim.experiment import interrupts
from forumsim.experiment.executors import open_pool
from forumsim.experiment.folders import write_output_file
from forumsim.experiment.runner import run, simulate, smoothed
from forumsim.measures import keyplayers
from forumsim.measures import metrics as m
from forumsim.world.agents import State
from forumsim.world.model import Ecosystem
from forumsim.world.scenario import Scenario, embedded_scenario, parse_scenario

SHOCK_DAY = 365
FIRST_SEED = 5000  # the validation seeds: 5000, 5001, ..., tuned on by nothing (calibration.md)
KINDS = ("baseline", "takedown", "publicized", "key_players")  # the runs of each replicate


UNITS = ("share", "points", "count", "days", "ratio", "number")


def shown(value: float, unit: str) -> str:
    """A value in its unit: shares as percent, differences of shares as percentage
    points, counts as whole numbers with separators, the rest to three digits."""
    if value is None or math.isnan(value):
        return "n/a"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "points":
        return f"{100 * value:+.1f} pp"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "days":
        return f"{value:,.0f} days"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


@dataclass(frozen=True)
class Test:
    """How a pattern passes: its value is above, below or between thresholds. The full
    validation tests the bound of the 95% interval over replicates where `interval` is
    set (the mean otherwise); with too few replicates for a useful interval (--quick) the
    mean is tested against the same threshold, a point estimate with no margin."""

    kind: str  # "above", "at least", "below" or "between"
    low: float
    high: float | None = None
    interval: bool = False

    def passes(self, mean: float, low: float, high: float, quick: bool) -> bool:
        """Whether (mean, 95% interval) passes; `quick` tests the mean only."""
        on_interval = self.interval and not quick
        if self.kind == "above":
            return (low if on_interval else mean) > self.low
        if self.kind == "at least":
            return (low if on_interval else mean) >= self.low
        if self.kind == "below":
            return (high if on_interval else mean) < self.low
        return self.low <= mean <= self.high

    def describe(self, unit: str, quick: bool) -> str:
        """The test in words and in the unit of the target, e.g. '95% CI above 50.0%'."""
        on = "95% CI" if self.interval and not quick else "mean"
        limit = shown(self.low, unit) if unit != "points" else f"{100 * self.low:.0f} pp"
        if self.kind == "between":
            return f"{on} from {limit} to {shown(self.high, unit)}"
        if self.kind == "below" and self.interval and not quick:
            on = "upper end of the 95% CI"
        elif self.interval and not quick:
            on = "lower end of the 95% CI"
        return f"{on} {'>=' if self.kind == 'at least' else '>' if self.kind == 'above' else '<'}" \
               f" {limit}"


@dataclass(frozen=True)
class Pattern:
    """A published pattern: what is measured, in which unit, its source, the published
    target and the test it must pass."""

    key: str
    name: str
    unit: str  # one of UNITS
    source: str
    target: str
    test: Test
    bounds: tuple[float, float] | None = None  # the values the measure can take, if not its unit's


PATTERNS = [
    Pattern("share_posting", "members who post publicly", "share",
            "van der Bruggen et al. 2022", "about 3.4% (2% to 6%)", Test("between", 0.02, 0.06)),
    Pattern("share_sharing", "registered people who share material", "share",
            "da Cunha et al. 2020", "about 7% (5% to 10%)", Test("between", 0.05, 0.10)),
    Pattern("share_lurkers", "lurkers (never post)", "share",
            "van der Bruggen et al. 2022", "large majority, 90% or more",
            Test("at least", 0.90)),
    Pattern("top1pct_post_share", "content by the most active 1%", "share",
            "da Cunha et al. 2020", "a handful produce most: over 50%",
            Test("above", 0.5, interval=True)),
    Pattern("share_elite", "VIPs and staff among registered people", "share",
            "van der Bruggen & Blokland 2020, section 3.3", "a small elite: under 2%",
            Test("below", 0.02, interval=True)),
    Pattern("largest_forum_members", "registered members of the largest forum (per 20,000 "
            "people)", "count", "da Cunha et al. 2020; Fonhof et al. 2019",
            "thousands: 2,000 to 20,000", Test("between", 2_000, 20_000)),
    Pattern("size_skew", "log10(largest / median forum size)", "number",
            "da Cunha et al. 2020; Fonhof et al. 2019 (fora of a few thousand to hundreds "
            "of thousands of members)", "skewed: over log10(3) = 0.477",
            Test("above", math.log10(3), interval=True)),
    Pattern("initial_fora_online_1y", "fora of day 0 still online after a year", "share",
            "van der Bruggen & Blokland 2020, section 3.3.2", "months to years: 80% or more",
            Test("at least", 0.8)),
    Pattern("early_peak", "fora founded in the run whose activity peaks in their first "
            "half-year and then settles", "share", "Blokland et al. 2024", "most: over 50%",
            Test("above", 0.5)),
    Pattern("top_destination_in_common", "replicates whose most chosen destination is the "
            "forum that shared most members with the seized one", "share",
            "ElBahrawy et al. 2020", "typically: over 50%", Test("above", 0.5)),
    Pattern("size_preference", "rank correlation of destination counts with forum size",
            "number", "ElBahrawy et al. 2020", "positive: over 0",
            Test("above", 0.0, interval=True), bounds=(-1.0, 1.0)),
    Pattern("contact_preference", "rehomed with ties who went where a contact was, minus "
            "the share expected from size alone", "points", "ElBahrawy et al. 2020",
            "positive: over 0 pp", Test("above", 0.0, interval=True)),
    Pattern("closure_costs_low_activity", "activity lost in the 90 days after (against the "
            "counterfactual, person by person) by the least active third of the displaced, "
            "minus that lost by the most active third, as shares of their own", "points",
            "ElBahrawy et al. 2020", "closures mainly cost low-activity users: over 0 pp",
            Test("above", 0.0, interval=True)),
    Pattern("registration_surge", "registrations at the main destination in the 30 days "
            "after, relative to the counterfactual", "ratio", "Operation Bayonet 2017",
            "surge: over 1.5 times", Test("above", 1.5, interval=True)),
    Pattern("top_destination", "rehomed displaced who went to the most chosen destination",
            "share", "ElBahrawy et al. 2020", "about 66% (71% ± 21%): 50% to 90%",
            Test("between", 0.5, 0.9)),
    Pattern("destination_gain_first_week", "active members of the most chosen destination "
            "on days 2 to 6 after the seizure, relative to the counterfactual", "ratio",
            "ElBahrawy et al. 2020", "destinations gain from about day 2: over 1.1 times",
            Test("above", 1.1, interval=True)),
    Pattern("rehomed_first_week", "of the displaced rehomed within 30 days, those who "
            "rehomed within 7 days", "share", "ElBahrawy et al. 2020",
            "destinations level off after about 6 days: over 50%",
            Test("above", 0.5, interval=True)),
    Pattern("days_to_recovery", "days until activity is back within 10% of the "
            "counterfactual for 28 days, after a seizure without arrests (never: the days "
            "left, a lower bound)", "days",
            "Vu, Hutchings & Anderson 2024; Vu et al. 2025; Darkode (press, 2015)",
            "back within weeks: under 42 days", Test("below", 42, interval=True)),
    Pattern("recovered_publicized", "replicates back within 10% of the counterfactual for "
            "28 days within 180 days of a publicized seizure with 30% of its data seized "
            "(arrests)", "share", "Collier et al. 2019; Soska & Christin 2015; Van Buskirk "
            "et al. 2017", "within months: over 50%", Test("above", 0.5)),
    Pattern("betweenness_beats_random", "fragmentation F of the tie network after removing "
            "20 people by betweenness minus after removing 20 at random (same day)",
            "number", "Bright et al. 2017; Borgatti 2006", "over 0",
            Test("above", 0.0, interval=True)),
    Pattern("kpd_betweenness", "key-player dependence kpd = loss(betweenness) / "
            "loss(random), 20 arrests", "ratio", "Bright et al. 2017", "over 1",
            Test("above", 1.0)),
]
QUICK_REPLICATES = 3


def takedown_scenario(seed: int, people: int | None = None) -> Scenario:
    """The default scenario with its largest forum seized after a year."""
    data = embedded_scenario().overridden(seed=seed, people=people).model_dump()
    data["name"] = "validate_takedown"
    data["interventions"] = [{"type": "takedown", "day": SHOCK_DAY, "target": "largest"}]
    return parse_scenario(data, source="validation")


def key_player_scenario(seed: int, people: int | None = None) -> Scenario:
    """The default scenario with 20 arrests by betweenness after a year."""
    data = embedded_scenario().overridden(seed=seed, people=people).model_dump()
    data["name"] = "validate_key_players"
    data["interventions"] = [{"type": "arrests", "day": SHOCK_DAY, "strategy": "betweenness",
                              "k": 20}]
    return parse_scenario(data, source="validation")


def baseline_values(seed: int, people: int | None = None) -> dict[str, float]:
    """Participation, roles, forum sizes and lifetimes of one default run."""
    result = simulate(embedded_scenario().overridden(seed=seed, people=people))
    metrics, forums = result.metrics, result.forums
    last = forums[forums["day"] == forums["day"].max()]
    sizes = np.sort(last["registered"].to_numpy())  # published sizes count accounts
    scale = 20_000 / result.scenario.people
    initial = forums[forums["day"] == 1]["forum"]
    after_year = forums[(forums["day"] == min(365, forums["day"].max()))
                        & forums["forum"].isin(initial)]
    return {
        "share_posting": metrics["share_posting"],
        "share_sharing": metrics["share_sharing"],
        "share_lurkers": metrics["share_lurkers"],
        "top1pct_post_share": metrics["top1pct_post_share"],
        "share_elite": metrics["share_vips"] + metrics["share_staff"],
        "largest_forum_members": float(sizes[-1] * scale),
        "size_skew": float(np.log10(sizes[-1] / max(np.median(sizes), 1.0))),
        "initial_fora_online_1y": float((after_year["status"] == "online").mean()),
        "early_peak": _early_peak_share(forums, set(initial)),
    }


def _early_peak_share(forums, initial: set[str]) -> float:
    """Share of fora founded during the run (and alive a year) whose 30-day mean activity
    peaks within their first 180 days and ends below that peak."""
    verdicts = []
    for _, rows in forums[~forums["forum"].isin(initial)].groupby("forum"):
        series = rows.sort_values("day")["active_members"].rolling(30, min_periods=30).mean()
        series = series.dropna().to_numpy()
        if len(series) < 365 or series.max() < 1:
            continue
        peak = int(np.argmax(series))
        verdicts.append(peak < 180 and series[-90:].mean() < series[peak])
    return float(np.mean(verdicts)) if verdicts else float("nan")


def takedown_values(seed: int, people: int | None = None) -> dict[str, float]:
    """Migration, surge, timing and recovery after seizing the largest forum."""
    scenario = takedown_scenario(seed, people)
    shocked = Ecosystem(scenario).run(SHOCK_DAY - 1)
    counterfactual = shocked.fork([])
    in_common = _most_in_common(shocked)  # on the day before the seizure
    activity = {}  # who visited a forum, day by day, in the 90 days from the seizure
    for name, eco in (("shocked", shocked), ("counterfactual", counterfactual)):
        days = []
        while eco.day < scenario.days:
            eco.step()
            if eco.day < SHOCK_DAY + 90:
                visited = np.zeros(eco.people.n, dtype=bool)
                for forum in eco.fora:
                    visited[forum.visitors] = True
                days.append(visited)
        activity[name] = np.array(days)
    event = shocked.events[0]
    forums = shocked.datacollector.get_table_dataframe("forums")
    before = forums[forums["day"] == event.day - 1].set_index("forum")["members"]
    names = [f.name for f in shocked.fora]
    destinations = Counter(names[f] for f in event.rehomed.values())
    sizes = [before.get(name, 0) for name in before.index if name != event.target]
    counts = [destinations.get(name, 0) for name in before.index if name != event.target]
    main = destinations.most_common(1)[0][0] if destinations else None
    return {
        "top_destination_in_common": float(main is not None
                                           and main == in_common.get(event.target)),
        "size_preference": _spearman(sizes, counts),
        "contact_preference": _contact_preference(shocked, event, before),
        "closure_costs_low_activity": _activity_cost_gradient(shocked, event, activity),
        "registration_surge": _surge(forums, counterfactual, main, event.day),
        "top_destination": max(destinations.values(), default=0)
        / max(sum(destinations.values()), 1),
        "destination_gain_first_week": _gain(forums, counterfactual, main, event.day),
        "rehomed_first_week": _first_week_share(event),
        "days_to_recovery": _recovery_days(shocked, counterfactual, event.day),
    }


def publicized_values(seed: int, people: int | None = None) -> dict[str, float]:
    """Whether activity comes back within six months of a publicized seizure with
    arrests from its seized data."""
    scenario = takedown_scenario(seed, people)
    spec = {**scenario.interventions[0].model_dump(), "publicized": True, "data_seized": 0.3}
    record = run(scenario.overridden(interventions=[spec])).metrics["interventions"][0]
    days = record["days_to_recovery"]
    return {"recovered_publicized": float(days is not None and days <= 180)}


def _most_in_common(eco: Ecosystem) -> dict[str, str]:
    """For each forum not gone, the other forum not gone that shares most of its current
    members."""
    alive = [f for f in eco.fora if not f.gone]
    closest = {}
    for forum in alive:
        members = eco.members_of(forum)
        shared = [(int((eco.memberships.row_of[members, f.id] >= 0).sum()), f.name)
                  for f in alive if f is not forum]
        if shared:
            closest[forum.name] = max(shared)[1]
    return closest


def _activity_cost_gradient(eco: Ecosystem, event, activity: dict[str, np.ndarray]) -> float:
    """Of the displaced (not arrested), the share of its own counterfactual activity that
    the least active third lost in the 90 days after, minus that the most active third
    lost: positive when a closure mainly costs low-activity users."""
    displaced = np.setdiff1d(event.displaced, event.arrested_people)
    if len(displaced) < 3:
        return float("nan")
    rate = eco.people.activity[displaced]
    low, high = np.quantile(rate, [1 / 3, 2 / 3])
    shocked = activity["shocked"][:, displaced].sum(axis=0)
    calm = activity["counterfactual"][:, displaced].sum(axis=0)

    def lost(group: np.ndarray) -> float:
        return 1.0 - shocked[group].sum() / max(calm[group].sum(), 1)
    return float(lost(rate <= low) - lost(rate >= high))


def _gain(forums, counterfactual: Ecosystem, main: str | None, day: int) -> float:
    """The main destination's active members on days 2 to 6 after `day`, relative to the
    counterfactual's."""
    if main is None:
        return float("nan")
    other = counterfactual.datacollector.get_table_dataframe("forums")
    window = lambda f: f[(f["forum"] == main) & f["day"].between(day + 2, day + 6)]  # noqa: E731
    return float(window(forums)["active_members"].sum()
                 / max(window(other)["active_members"].sum(), 1))


def _first_week_share(event) -> float:
    """Of the displaced rehomed within 30 days, the share who moved within 7."""
    moved = {day - event.day: int(counts.sum()) for day, counts in event.arrivals.items()}
    month = sum(n for after, n in moved.items() if after <= 30)
    return sum(n for after, n in moved.items() if after <= 7) / month if month else math.nan


def _spearman(x: list[float], y: list[float]) -> float:
    if len(x) < 3:
        return float("nan")
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def _contact_preference(eco: Ecosystem, event, before) -> float:
    """Observed share of rehomed people (with ties) whose destination held a contact,
    minus the share expected had each picked a surviving forum by size alone."""
    ids = {f.name: f.id for f in eco.fora}
    candidates = [ids[name] for name in before.index if name != event.target]
    weights = np.array([before[eco.fora[f].name] for f in candidates], dtype=float)
    weights /= weights.sum()
    observed, expected = [], []
    for person, destination in event.rehomed.items():
        contacts = eco.ties.neighbours(person)
        if not len(contacts):
            continue
        rows = eco.memberships.row_of[contacts][:, candidates]
        has_contact = (rows >= 0).any(axis=0)
        index = candidates.index(destination) if destination in candidates else None
        observed.append(bool(index is not None and has_contact[index]))
        expected.append(float(weights @ has_contact))
    return float(np.mean(observed) - np.mean(expected)) if observed else float("nan")


def _surge(forums, counterfactual: Ecosystem, main: str | None, day: int) -> float:
    if main is None:
        return float("nan")
    other = counterfactual.datacollector.get_table_dataframe("forums")
    window = lambda f: f[(f["forum"] == main) & f["day"].between(day, day + 29)]  # noqa: E731
    return float(window(forums)["registrations"].sum()
                 / max(window(other)["registrations"].sum(), 1))


def _recovery_days(shocked: Ecosystem, counterfactual: Ecosystem, day: int) -> float:
    """Days from the shock until activity stays within 10% of the counterfactual for 28
    days; the days left in the run if it never does (so a lower bound)."""
    actual = shocked.datacollector.get_model_vars_dataframe()["active_people"]
    other = counterfactual.datacollector.get_model_vars_dataframe()["active_people"]
    days = m.days_to_recovery(smoothed(actual), smoothed(other), day - 1, 0.1)
    return float(len(actual) - day if days is None else days)


def key_player_values(seed: int, people: int | None = None) -> dict[str, float]:
    """Key-player dependence of betweenness arrests."""
    record = run(key_player_scenario(seed, people)).metrics["interventions"][0]
    kpd = record.get("kpd")
    eco = Ecosystem(embedded_scenario().overridden(seed=seed, people=people)).run(SHOCK_DAY - 1)
    graph = eco.ties.to_networkx(people=np.flatnonzero(eco.people.state == State.ACTIVE))
    graph.remove_nodes_from([v for v, d in list(graph.degree) if d == 0])
    rng = np.random.default_rng(seed)
    after = {}
    for strategy in ("betweenness", "random"):
        removed = graph.copy()
        removed.remove_nodes_from(keyplayers.select_targets(strategy, graph, 20, rng))
        after[strategy] = keyplayers.fragmentation(removed)
    return {"betweenness_beats_random": after["betweenness"] - after["random"],
            "kpd_betweenness": float("nan") if kpd is None else float(kpd)}


def _one(task: tuple[str, int, int | None]) -> dict[str, float]:
    kind, seed, people = task
    return {"baseline": baseline_values, "takedown": takedown_values,
            "publicized": publicized_values, "key_players": key_player_values}[kind](seed,
                                                                                  people)


def validate(replicates: int = 10, people: int | None = None, workers: int = 2,
             progress: Callable[[int, int], None] | None = None,
             quick: bool | None = None, first_seed: int = FIRST_SEED) -> list[dict[str, object]]:
    """Measure every pattern over `replicates` seeds from `first_seed` on; one row per
    pattern. `quick` (default: fewer than 5 replicates) tests means instead of interval
    bounds."""
    quick = replicates < 5 if quick is None else quick
    tasks = [(kind, first_seed + i, people) for i in range(replicates)
             for kind in KINDS]
    values: dict[str, list[float]] = {}
    with open_pool("process", workers) as pool:  # stopped at once by Ctrl-C or SIGTERM
        with interrupts.held():  # workers being started are ones the pool knows of
            results = pool.executor.map(_one, tasks)
        for done, result in enumerate(results, start=1):
            for key, value in result.items():
                values.setdefault(key, []).append(value)
            if progress is not None:
                progress(done, len(tasks))
    rows = []
    for pattern in PATTERNS:
        sample = np.array([v for v in values[pattern.key] if not math.isnan(v)])
        mean, low, high = m.mean_ci(sample) if len(sample) else (math.nan,) * 3
        low, high = _within_range(low, high, pattern.unit)
        if pattern.bounds is not None:
            low, high = max(low, pattern.bounds[0]), min(high, pattern.bounds[1])
        ok = len(sample) > 1 and pattern.test.passes(mean, low, high, quick)
        rows.append({"key": pattern.key, "pattern": pattern.name, "source": pattern.source,
                     "target": pattern.target, "test": pattern.test.describe(pattern.unit,
                                                                             quick),
                     "unit": pattern.unit, "mean": mean, "low": low, "high": high,
                     "n": len(sample), "passed": bool(ok)})
    return rows


def _within_range(low: float, high: float, unit: str) -> tuple[float, float]:
    """An interval cut to the values its unit can take (shares in [0, 1], counts and
    days not below 0): a t-interval on few replicates can reach past them."""
    if unit == "share":
        return max(low, 0.0), min(high, 1.0)
    if unit in ("count", "days"):
        return max(low, 0.0), high
    return low, high


def simulated(row: dict[str, object]) -> str:
    """The mean and 95% interval of a row, in its unit."""
    unit = str(row["unit"])
    return (f"{shown(row['mean'], unit)} ({shown(row['low'], unit)} to "
            f"{shown(row['high'], unit)})")


def markdown_table(rows: list[dict[str, object]], replicates: int, seconds: float,
                   command: str, first_seed: int = FIRST_SEED) -> str:
    """The validation table as Markdown, with how it was produced."""
    lines = [TITLE, "",
             f"Produced by `{command}` in {seconds:.0f} s ({replicates} replicates per "
             f"scenario, seeds {first_seed} to {first_seed + replicates - 1}; 95% "
             "t-intervals over replicates, cut to the range of their unit). Each row's "
             "test says what must hold: the bound of the 95% interval where the published "
             "pattern is a direction or a threshold the model should clear, the mean where "
             "it is a typical value.", "",
             "| pattern | source | target | test | simulated (95% CI) | n | result |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        lines.append(f"| {row['pattern']} | {row['source']} | {row['target']} | "
                     f"{row['test']} | {simulated(row)} | {row['n']} | "
                     f"{'pass' if row['passed'] else '**FAIL**'} |")
    return "\n".join(lines) + "\n"


def write_report(rows, path: Path, replicates: int, seconds: float, command: str,
                 first_seed: int = FIRST_SEED, overwrite: bool = False) -> Path:
    """Write the Markdown table whole, where `check_table_path` allows it."""
    write_output_file(path, markdown_table(rows, replicates, seconds, command, first_seed),
                      overwrite, earlier_table, "validate", "--write")
    return Path(path)


def timed_validate(**kwargs) -> tuple[list[dict[str, object]], float]:
    """`validate` and its wall time in seconds."""
    start = time.perf_counter()
    rows = validate(**kwargs)
    return rows, time.perf_counter() - start
