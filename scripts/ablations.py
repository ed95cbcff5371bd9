"""Does every mechanism act at its defaults? One-parameter ablations, paired over seeds.

For each behavioural parameter, the default ecosystem (or, for the mechanisms of a
shock, the default takedown: the largest forum seized on day 365, publicized, 30% of its
data seized) is run with the parameter at its default and at an ablated value (the
mechanism off, or halved where it is a scale), on the same seeds. Every draw is
addressed by (seed, purpose, day, person), so the paired difference is the mechanism's
effect. The table gives, per parameter, the outcome its mechanism is meant to move,
the predicted direction, the mean paired difference (ablated - default) with its
standard error, and whether it moved beyond 2 SE the predicted way; and the other
outcomes that moved beyond 2 SE.

A parameter whose ablation moves nothing at the defaults is dormant: it is listed with
the condition under which it acts, and tests/test_mechanisms.py shows it acting then.

    python scripts/ablations.py [--seeds 400:406] [--workers 2] [--write docs/ablations.md]
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from forumsim import Ecosystem, embedded_scenario
from forumsim.experiment import runner
from forumsim.world.agents import State
from forumsim.world.forum import Address, Rank

SHOCK_DAY = 365
TAKEDOWN = {"type": "takedown", "day": SHOCK_DAY, "target": "largest", "publicized": True,
            "data_seized": 0.3}


@dataclass(frozen=True)
class Ablation:
    parameter: str
    value: object  # the ablated value
    scenario: str  # "baseline" or "takedown"
    outcome: str
    direction: int  # +1: the ablation raises the outcome, -1: lowers it, 0: either way
    dormant: str = ""  # the condition under which a dormant mechanism acts


# Conditions that wake two mechanisms each.
RUN_DRY = "a forum whose sharers are gone (its material below 30% of what is usual)"
STAFF_LOST = "a forum that has lost much of its staff (its staff arrested)"

ABLATIONS = [
    # activity and population
    Ablation("activity_median_per_day", 0.025, "baseline", "active", -1),
    Ablation("activity_sigma", 0.6, "baseline", "top1pct_share", -1),
    Ablation("novelty_boost", 0.0, "baseline", "active", -1),
    Ablation("novelty_days", 30.0, "baseline", "active", -1),
    Ablation("home_loyalty", 0.5, "baseline", "largest_share", -1),
    Ablation("join_other_prob_per_visit", 0.0, "baseline", "memberships_per_person", -1),
    Ablation("initial_registered_share", 0.175, "baseline", "active", -1),
    Ablation("entry_rate_per_day", 0.0002, "baseline", "active", -1),
    Ablation("link_find_prob", 1.0, "takedown", "newcomers_after", +1,
             "several listed fora offline at once (one of four or five costs under 1%)"),
    Ablation("career_days_mean", 400.0, "baseline", "in_ecosystem_end", -1),
    Ablation("return_prob_per_day", 0.0, "baseline", "registered", +1),
    # Its purpose is the recovery: growth after the dip draws newcomers. (The first table
    # measured it on newcomers_after, which moved the right way within 1.2 SE on 6 seeds.)
    Ablation("visibility_growth_weight", 0.0, "takedown", "loss", +1),
    # participation
    Ablation("communicator_share", 0.02, "baseline", "posts", -1),
    Ablation("post_prob_per_visit", 0.15, "baseline", "posts", -1),
    Ablation("sharer_share", 0.05, "baseline", "shares", -1),
    Ablation("share_prob_per_visit", 0.075, "baseline", "shares", -1),
    Ablation("reply_share", 0.0, "baseline", "tied_share", -1),
    Ablation("private_exchange_prob", 0.0, "baseline", "in_ecosystem_end", -1),
    Ablation("tie_half_life_days", 90.0, "baseline", "in_ecosystem_end", -1),
    Ablation("thanks_per_share", 0.0, "baseline", "vips", -1),
    Ablation("rule_breaker_share", 0.0, "baseline", "bans", -1),
    Ablation("rule_break_prob_per_post", 0.0, "baseline", "bans", -1),
    # status and governance
    Ablation("vip_contributions", 36, "baseline", "vips", -1),
    Ablation("vip_thanks", 80, "baseline", "vips", -1),
    Ablation("moderator_min_tenure_days", 0, "baseline", "new_fora_staff_days", +1),
    Ablation("members_per_moderator", 300, "baseline", "moderators", -1,
             "a forum with more posting members than its moderators look after (150 each), "
             "as in larger ecosystems"),
    Ablation("moderator_capacity_per_day", 1, "baseline", "restricted_full_share", -1,
             "more applications and reports a day than the staff can handle (a bot wave)"),
    Ablation("warnings_before_ban", 100, "baseline", "bans", -1),
    Ablation("application_accept_prob", 0.0, "baseline", "restricted_full_share", -1),
    Ablation("invite_prob_per_visit", 0.0, "baseline", "closed_members", -1),
    Ablation("vetting_per_admin_per_week", 0.0, "baseline", "closed_members", -1),
    Ablation("member_invite_factor", 0.0, "baseline", "closed_members", -1),
    Ablation("cross_promotion_prob", 0.0, "baseline", "memberships_per_person", -1),
    Ablation("tighten_backlog_days", 10_000, "baseline", "restricted_fora", -1,
             "a staff backlog for two weeks (a bot wave or a flood of rule-breakers)"),
    # fora coming and going
    Ablation("outage_rate_per_day", 0.0, "baseline", "failed_visits", -1),
    Ablation("outage_days_mean", 1.0, "baseline", "failed_visits", -1),
    Ablation("founding_rate_per_day", 0.0, "baseline", "fora_founded", -1),
    Ablation("new_forum_appeal", 0.0, "baseline", "new_fora_members", -1),
    Ablation("founder_min_skill", 1.0, "baseline", "fora_founded", -1),
    Ablation("new_forum_access", {"open": 1.0, "restricted": 0.0, "closed": 0.0}, "baseline",
             "restricted_fora", -1),
    # relocation and reactions to enforcement
    Ablation("contact_weight", 0.0, "takedown", "went_to_contacts", -1),
    Ablation("displaced_desist_prob", 0.0, "takedown", "lasting_loss", -1,
             "displaced people who find no forum they may join (the others closed to them)"),
    Ablation("successor_prob", 0.0, "takedown", "successor_fora", -1),
    Ablation("successor_delay_days", 42.0, "takedown", "successor_members_90d", -1),
    Ablation("successor_stricter_prob", 0.0, "takedown", "successor_open", +1),
    Ablation("threat_days", 1.0, "takedown", "ties_after", +1),
    Ablation("threat_new_tie_factor", 1.0, "takedown", "ties_after", +1),
    Ablation("deterrence_activity_drop", 0.0, "takedown", "loss", -1),
    Ablation("deterrence_desist_prob", 0.0, "takedown", "loss", -1),
    Ablation("poor_opsec_threshold", 0.0, "takedown", "arrested", -1),
    Ablation("hiding_effect", 0.0, "takedown", "arrested", +1,
             "identification after earlier enforcement news made admins hide activity"),
    Ablation("undercover_detection_prob_per_day", 0.0, "takedown", "active", 0,
             "an infiltration"),
    Ablation("rehoming_window_days", 15, "takedown", "displaced", -1),
    Ablation("deterrence_days", 7.0, "takedown", "loss", -1),
    # content and community
    Ablation("pull_weight", 0.0, "takedown", "lasting_loss", -1),
    Ablation("material_days", 15.0, "baseline", "active", -1),
    # Slower to get used to more: the destinations' gain in material pulls for longer.
    Ablation("expectation_days", 365.0, "takedown", "lasting_loss", -1),
    Ablation("vip_material_weight", 1.0, "baseline", "active", 0,
             "VIPs lost (arrested or leaving): their share of the material falls more"),
    Ablation("community_weight", 0.0, "baseline", "posts", -1),
    Ablation("restricted_pull_share", 1.0, "baseline", "restricted_activity", +1),
    Ablation("report_pull_penalty", 0.0, "baseline", "active", 0,
             "a staff backlog of reports (a bot wave)"),
    Ablation("drift_prob", 0.0, "baseline", "home_at_best", -1),
    Ablation("dry_pull", 0.0, "baseline", "dry_left", -1, RUN_DRY),
    Ablation("dry_leave_prob_per_visit", 0.0, "baseline", "dry_left", -1, RUN_DRY),
    # status, ties and loyalty
    Ablation("thanks_share_boost", 0.0, "baseline", "shares", -1),
    Ablation("thanks_scale", 100.0, "baseline", "shares", -1),
    Ablation("vip_share_boost", 0.0, "baseline", "shares", -1),
    Ablation("status_retention", 0.0, "baseline", "vips", -1),
    Ablation("tie_retention", 0.0, "baseline", "in_ecosystem_end", -1),
    Ablation("thanks_tie_prob", 0.0, "baseline", "tied_share", -1),
    # governance with consequences
    Ablation("understaffed_outage_factor", 0.0, "baseline", "failed_visits", -1, STAFF_LOST),
    Ablation("understaffed_closure_per_day", 0.0, "baseline", "closed_fora", -1, STAFF_LOST),
    Ablation("handover_min_thanks", 10**9, "baseline", "closed_fora", +1,
             "a forum that loses all its staff"),
    # coordinated relocation
    Ablation("announcement_weight", 0.0, "takedown", "top_destination_share", -1),
    Ablation("herding_weight", 0.0, "takedown", "top_destination_share", -1),
    # Hearing of the last day's moves only follows the latest crowd: either way.
    Ablation("herding_days", 1, "takedown", "top_destination_share", 0),
]


def baseline_outcomes(eco: Ecosystem) -> dict[str, float]:
    """What the default ecosystem's run shows, after its burn-in."""
    p, table = eco.people, eco.memberships.table
    daily = eco.datacollector.get_model_vars_dataframe()
    forums = eco.datacollector.get_table_dataframe("forums")
    burn = eco.config.burn_in_days
    registered = p.registered()
    inside = p.state == State.ACTIVE
    last = forums[forums["day"] > eco.config.days - 365]
    by_forum = last.groupby("forum")["active_members"].sum()
    restricted = [f for f in eco.fora if f.access.name == "restricted"]
    rows = np.flatnonzero(np.isin(table.forum, [f.id for f in restricted]))
    current = rows[eco.memberships.row_of[table.person[rows], table.forum[rows]] == rows]
    closed = [f for f in eco.fora if f.access.name == "closed"]
    n = len(eco.fora)
    several = inside & (np.count_nonzero(eco.memberships.row_of[:, :n] >= 0, axis=1) > 1)
    offer = np.where(eco.memberships.row_of[several, :n] >= 0, eco.offer[:n], -np.inf)
    return {
        "active": float(daily["active_people"].iloc[burn:].mean()),
        "posts": float(daily["posts"].sum()), "shares": float(daily["shares"].sum()),
        "registered": float(registered.sum()), "in_ecosystem_end": float(inside.sum()),
        "top1pct_share": runner.m.top_share((p.posts + p.shares)[registered], 0.01),
        "tied_share": float((eco.ties.degree()[inside] > 0).mean()),
        "vips": float(np.count_nonzero(inside & (p.role == Rank.VIP))),
        "moderators": float(sum(len(f.moderators) for f in eco.fora)),
        "bans": float(np.count_nonzero(eco.known == Address.BANNED)),
        "restricted_full_share": float(table.full_access[current].mean()) if len(current)
        else math.nan,
        "restricted_activity": float(last[last["forum"].isin([f.name for f in restricted])]
                                     ["active_members"].sum()),
        "closed_members": float(sum(f.members for f in closed)),
        "memberships_per_person": float(sum(f.registered for f in eco.fora) / registered.sum()),
        "largest_share": float(by_forum.max() / by_forum.sum()),
        "failed_visits": float(daily["failed_visits"].sum()),
        "fora_founded": float(eco.founded_count),
        "new_fora_members": float(sum(f.members for f in eco.fora if f.founded > 0)),
        "new_fora_staff_days": float(forums[~forums["forum"].isin(
            [f.name for f in eco.fora if f.founded == 0])]["staff"].sum()),
        "restricted_visits_per_member": _visits_per_member(
            last[last["forum"].isin([f.name for f in restricted if f.founded == 0])]),
        "restricted_fora": float(sum(f.access.name == "restricted" for f in eco.fora)),
        "closed_fora": float(sum(f.status == "closed" for f in eco.fora)),
        "dry_left": float(np.count_nonzero(p.state == State.DESISTED)),
        "home_at_best": float((p.home[several] == np.argmax(offer, axis=1)).mean()),
        "vip_home_visits": _vip_home_share(eco),
    }


def _visits_per_member(rows) -> float:
    """Daily visits per member over the rows of the forums table."""
    return float(rows["active_members"].sum() / max(rows["members"].sum(), 1))


def _vip_home_share(eco: Ecosystem) -> float:
    """Share of the material credited on VIPs' and staff's home fora (what status loyalty
    concentrates), over the run: contributions of VIP+ memberships at their home."""
    table, p = eco.memberships.table, eco.people
    rows = np.flatnonzero(table.rank >= Rank.VIP)
    if not len(rows):
        return math.nan
    home = p.home[table.person[rows]] == table.forum[rows]
    total = table.contributions[rows].sum()
    return float(table.contributions[rows][home].sum() / total) if total else math.nan


def takedown_outcomes(seed: int, behaviour: dict) -> dict[str, float]:
    """The default takedown's record against its counterfactual, and what follows it."""
    scenario = embedded_scenario().overridden(seed=seed, interventions=[TAKEDOWN],
                                              **behaviour)
    eco = Ecosystem(scenario).run(SHOCK_DAY - 1)
    calm = eco.fork([])
    eco.run(scenario.days - eco.day)
    calm.run(scenario.days - calm.day)
    start = time.perf_counter()
    result, counterfactual = runner._result(eco, start), runner._result(calm, start)
    record = runner.intervention_record(result, counterfactual, 0)
    event = eco.events[0]
    rehomed = event.rehomed
    hits = []
    for person, forum in rehomed.items():
        contacts = eco.ties.neighbours(person)
        if len(contacts):
            hits.append(bool((eco.memberships.row_of[contacts, forum] >= 0).any()))
    successors = [f for f in eco.fora if f.name in event.successors]
    daily, calm_daily = result.ecosystem, counterfactual.ecosystem
    after = slice(SHOCK_DAY - 1, SHOCK_DAY + 89)
    recovery = record["days_to_recovery"]
    return {
        "loss": record["loss"], "peak_loss": record["peak_loss"],
        "lasting_loss": record["lasting_loss"],
        "days_to_recovery": float(scenario.days - SHOCK_DAY if recovery is None else recovery),
        "rehomed_30d": record["rehomed_30d"] or 0.0,
        "top_destination_share": record["top_destination_share"] or math.nan,
        "successor_fora": float(record["successor_fora"]),
        "successor_members": float(sum(f.members for f in successors)),
        "successor_members_90d": float(result.forums[
            result.forums["forum"].isin(event.successors)
            & (result.forums["day"] == SHOCK_DAY + 90)]["members"].sum()),
        "successor_open": float(sum(f.access.name == "open" for f in successors)),
        "arrested": float(record["arrested"]), "displaced": float(record["displaced"]),
        "went_to_contacts": float(np.mean(hits)) if hits else math.nan,
        "ties_after": float(daily["ties"].iloc[after].iloc[-1] - daily["ties"].iloc[after]
                            .iloc[0]),
        "newcomers_after": float(daily["registrations"].iloc[after].sum()
                                 - calm_daily["registrations"].iloc[after].sum()),
        "active": float(daily["active_people"].iloc[SHOCK_DAY:].mean()),
    }


def job(task: tuple[str, str | None, object, int]) -> tuple[str, str | None, int, dict]:
    scenario, parameter, value, seed = task
    behaviour = {} if parameter is None else {f"behaviour.{parameter}": value}
    if scenario == "baseline":
        eco = Ecosystem(embedded_scenario().overridden(seed=seed, **behaviour)).run()
        return scenario, parameter, seed, baseline_outcomes(eco)
    return scenario, parameter, seed, takedown_outcomes(seed, behaviour)


def paired(ablated: list[float], default: list[float]) -> tuple[float, float]:
    diff = np.array(ablated, dtype=float) - np.array(default, dtype=float)
    diff = diff[~np.isnan(diff)]
    if len(diff) < 2:
        return math.nan, math.nan
    return float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(len(diff)))


def shown(x: float) -> str:
    if math.isnan(x):
        return "n/a"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="400:406", help="START:STOP")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", help="comma-separated parameters (default: all)")
    parser.add_argument("--write", help="write the table as Markdown here")
    args = parser.parse_args()
    start, stop = (int(x) for x in args.seeds.split(":"))
    seeds = list(range(start, stop))
    ablations = [a for a in ABLATIONS
                 if args.only is None or a.parameter in args.only.split(",")]
    scenarios = sorted({a.scenario for a in ablations})
    tasks = [(s, None, None, seed) for s in scenarios for seed in seeds]
    tasks += [(a.scenario, a.parameter, a.value, seed) for a in ablations for seed in seeds]
    began = time.perf_counter()
    values: dict[tuple[str, str | None], dict[int, dict]] = {}
    with ProcessPoolExecutor(args.workers) as pool:
        for done, (scenario, parameter, seed, outcomes) in enumerate(
                pool.map(job, tasks), start=1):
            values.setdefault((scenario, parameter), {})[seed] = outcomes
            if done % 20 == 0:
                print(f"{done} of {len(tasks)} runs ({time.perf_counter() - began:.0f} s)",
                      flush=True)
    rows = []
    for a in ablations:
        default, ablated = values[(a.scenario, None)], values[(a.scenario, a.parameter)]
        effects = {name: paired([ablated[s][name] for s in seeds],
                                [default[s][name] for s in seeds]) for name in default[seeds[0]]}
        mean, se = effects[a.outcome]
        moved = abs(mean) if a.direction == 0 else a.direction * mean
        acts = not math.isnan(mean) and moved > max(2 * se, 1e-12)
        others = [f"{name} {'+' if m > 0 else '−'}" for name, (m, e) in effects.items()
                  if name != a.outcome and not math.isnan(m) and abs(m) > max(2 * e, 1e-12)]
        base = np.mean([default[s][a.outcome] for s in seeds])
        rows.append((a, base, mean, se, acts, others))
    minutes = (time.perf_counter() - began) / 60
    lines = [
        "| parameter | ablated to | scenario | outcome | default's mean | effect ± SE | "
        "acts? | other outcomes moved beyond 2 SE |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for a, base, mean, se, acts, others in rows:
        verdict = ("yes" if acts else f"dormant: {a.dormant}" if a.dormant else "**no**")
        sign = {1: "+", -1: "−", 0: "±"}[a.direction]
        lines.append(f"| `{a.parameter}` | {a.value} | {a.scenario} | {a.outcome} ({sign}) | "
                     f"{shown(base)} | {shown(mean)} ± {shown(se)} | {verdict} | "
                     f"{', '.join(others) or '–'} |")
    table = "\n".join(lines)
    print(table)
    acting = sum(r[4] for r in rows)
    print(f"\n{acting} of {len(rows)} act at their defaults; {len(tasks)} runs on seeds "
          f"{start} to {stop - 1}, {minutes:.0f} min")
    if args.write:
        with open(args.write, "w") as out:
            out.write(_document(table, acting, len(rows), start, stop, minutes))


def _document(table: str, acting: int, total: int, start: int, stop: int,
              minutes: float) -> str:
    return f"""# Every mechanism at its defaults: one-parameter ablations

Produced by `python scripts/ablations.py --seeds {start}:{stop} --write docs/ablations.md`
({stop - start} seeds, {minutes:.0f} min on 2 cores). Each parameter of the behaviour is set
to the value in the second column (its mechanism off, or halved or doubled where it is a
scale) in the default ecosystem (`baseline`: outcomes after its 180-day burn-in) or, for
the mechanisms of a shock, in the default takedown (`takedown`: the largest forum seized
on day 365, publicized, 30% of its data seized, against its counterfactual), on the same
seeds as the defaults. Because every draw is addressed by (seed, purpose, day, person),
the paired difference (ablated − default) is the mechanism's effect; its standard error is
over the seeds. The outcome is the one the mechanism is meant to move, with the direction
the ablation should move it (+ up, − down); "acts" means it moved that way by more than
two standard errors (± : either way). A dormant mechanism acts only under the condition
named, and `tests/test_mechanisms.py` shows it acting then. The last column lists the
other outcomes that moved by more than two standard errors, with the direction of the
move.

{acting} of {total} parameters act at their defaults.

{table}

Outcomes (baseline, after the burn-in unless said): `active`, mean daily active people;
`posts`, `shares`, totals; `registered`, people ever registered; `in_ecosystem_end`,
people in the ecosystem at the end; `top1pct_share`, share of posts and shares by the
most active 1%; `tied_share`, share of people in the ecosystem with a tie; `vips`,
people of class VIP at the end; `moderators`, at the end; `bans`, people banned from a
forum; `restricted_full_share`, memberships of restricted fora with full access;
`restricted_activity`, visits to restricted fora in the last year;
`restricted_visits_per_member`, daily visits per member of the day-0 restricted fora in the
last year; `closed_members`,
members of closed fora at the end; `memberships_per_person`; `largest_share`, the
largest forum's share of visits in the last year; `failed_visits`, visits to fora that
were down; `fora_founded`; `new_fora_members`, members of fora founded during the run;
`new_fora_staff_days`, their staff summed over days;
`restricted_fora`, `closed_fora` (shut down) at the end; `dry_left`, people who desisted
(by the end); `home_at_best`, share of people with several fora whose home has the most
to offer; `vip_home_visits`, share of VIPs' contributions made at home. Takedown: `loss`,
`peak_loss`, `lasting_loss`, `days_to_recovery` (the days left when never), `rehomed_30d`,
`top_destination_share`, `successor_fora`, `successor_members` (at the end),
`successor_members_90d` (90 days after the seizure), `successor_open`,
`arrested`, `displaced`, `went_to_contacts` (share of the rehomed with a contact who went
where one was), `ties_after` (ties formed in the 90 days after), `newcomers_after`
(registrations in the 90 days after, against the counterfactual's), `active`.
"""


if __name__ == "__main__":
    main()
