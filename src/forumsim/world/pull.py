"""What a forum offers its members, and so how strongly it pulls them back: fresh
material (recent shares, VIP material counting more) and an orderly place (unhandled
reports put people off). A person's community (replies they received lately) adds to
their own wish to come back.

The pull of forum f is its fresh material per visit against what people have come to
expect, smoothed for small fora:

    pull(f) = (material(f) + K · expected) / (visits(f) + K) / expected
              / (1 + report_pull_penalty · waiting reports / daily visits)

with material and visits summed with an exponential decay over `material_days`, K =
PRIOR_VISITS, and `expected` the ecosystem's own material per visit, followed slowly
(over EXPECTATION_DAYS), so a lasting loss of material keeps pulling activity down for
months before people get used to less. A forum with nothing fresh has pull 0, an
average one 1.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

PRIOR_VISITS = 20.0  # a forum's first visits count as average until its own record builds up
EXPECTATION_DAYS = 365.0  # days over which people get used to more or less material


def appeal(pull: np.ndarray) -> np.ndarray:
    """The visit-chance factor of a pull: 0 with nothing fresh, 1 at an average forum,
    saturating at 2."""
    return 2.0 * pull / (1.0 + pull)


def visit_factor(eco: mesa.Model, people: np.ndarray) -> np.ndarray:
    """How much each person's chance to visit today is raised or lowered by what their
    home forum offers them (reduced without full access) and by the replies they got."""
    b = eco.behaviour
    p = eco.people
    factor = community_factor(eco, people)
    if b.pull_weight > 0:
        home = p.home[people]
        offered = np.ones(len(people))
        has_home = home >= 0
        homes = home[has_home]
        rows = eco.memberships.row_of[people[has_home], homes]
        full = np.where(rows >= 0, eco.memberships.table.full_access[np.maximum(rows, 0)], True)
        offered[has_home] = appeal(eco.pull[homes]) * np.where(full, 1.0,
                                                                b.restricted_pull_share)
        factor *= 1.0 - b.pull_weight + b.pull_weight * offered
    return factor


def community_factor(eco: mesa.Model, people: np.ndarray) -> np.ndarray:
    """The part of `visit_factor` due to replies received lately; it only fades until
    the next reply."""
    b = eco.behaviour
    if b.community_weight == 0:
        return np.ones(len(people))
    return 1.0 + b.community_weight * (1.0 - np.exp(-eco.people.replies_now(
        people, eco.day, b.material_days)))


def largest_offer_factor(eco: mesa.Model) -> float:
    """The largest value today of the part of `visit_factor` due to what a home forum
    offers (people without a home get 1), to bound everyone's chance to visit today."""
    b = eco.behaviour
    best = float(appeal(eco.pull).max()) if len(eco.pull) else 1.0
    return 1.0 - b.pull_weight + b.pull_weight * max(best, 1.0)


def update(eco: mesa.Model) -> None:
    """End of the day: fold today's material and visits into each forum's record, follow
    the ecosystem's material per visit, and set tomorrow's pull of every forum."""
    b = eco.behaviour
    keep = math.exp(-1.0 / b.material_days)
    material = visits = 0.0
    for forum in eco.fora:
        forum.material = forum.material * keep + forum.material_today
        forum.visit_load = forum.visit_load * keep + len(forum.visitors)
        material += forum.material
        visits += forum.visit_load
    if visits > 0:
        eco.expected_material += (material / visits - eco.expected_material) / EXPECTATION_DAYS
    eco.pull = pulls(eco)


def pulls(eco: mesa.Model) -> np.ndarray:
    """Today's pull of every forum (0 for a forum that is not online)."""
    b = eco.behaviour
    expected = max(eco.expected_material, 1e-9)
    daily = 1.0 - math.exp(-1.0 / b.material_days)  # share of the decayed sum that is today's
    pull = np.zeros(len(eco.fora))
    for forum in eco.fora:
        if not forum.online:
            continue
        fresh = (forum.material + PRIOR_VISITS * expected) / (forum.visit_load + PRIOR_VISITS)
        waiting = len(forum.reports) / max(forum.visit_load * daily, 1.0)
        pull[forum.id] = fresh / expected / (1.0 + b.report_pull_penalty * waiting)
    return pull
