"""What a forum offers its members, and so how strongly it pulls them back: fresh
material (recent shares, VIP material counting more) and an orderly place (unhandled
reports put people off). A person's community (replies they received lately) adds to
their own wish to come back.

Two measures of what a forum offers. Its *pull*, which sets how often its members come
back, is its fresh material against what its members have come to expect of it,
smoothed for small fora:

    pull(f) = (material(f) + K) / (usual(f) + K)
              / (1 + report_pull_penalty · waiting reports / daily visits)

with material(f) the forum's shares summed with an exponential decay over
`material_days`, usual(f) that sum followed over `expectation_days` (what its members
are used to), and K the material of PRIOR_VISITS visits at the ecosystem's own material
per visit, so a small forum's first shares do not swing its pull. Material is not used
up by being viewed: people who join a forum do not thin what it offers the others, but a
forum that loses its sharers pulls less until its members get used to less. A forum
with nothing fresh has pull near 0, one as good as usual 1.

Its *offer*, which decides which of their fora people visit and where they make their
home, compares fora with each other: its fresh material per visit against the
ecosystem's (`expected`, followed over `expectation_days`), smoothed the same way,

    offer(f) = (material(f) + K) / (visits(f) + PRIOR_VISITS) / expected
               / (1 + report_pull_penalty · waiting reports / daily visits),

with visits(f) its visits summed like its material: a forum with as much material for
fewer visitors has more to offer each of them.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

PRIOR_VISITS = 20.0  # a forum's first shares are weighed against the material of 20 visits


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
        # Someone whose home forum is gone has none: they look for one as often as ever.
        gone = eco.gone()
        has_home = (home >= 0) & ~gone[np.maximum(home, 0)]
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
        forum.usual_material += (forum.material - forum.usual_material) / b.expectation_days
        forum.visit_load = forum.visit_load * keep + len(forum.visitors)
        material += forum.material
        visits += forum.visit_load
    if visits > 0:
        eco.expected_material += ((material / visits - eco.expected_material)
                                  / b.expectation_days)
    eco.pull, eco.offer = pulls(eco)


def settle(eco: mesa.Model) -> None:
    """Day 0: give each forum the record of fresh material and visits its members would
    have built up (their visits home and shares at their usual rates), as what they are
    used to, so established fora start as they are and not from nothing."""
    p = eco.people
    keep = math.exp(-1.0 / eco.behaviour.material_days)
    registered = np.flatnonzero((p.state != 0) & (p.home >= 0))
    homes = p.home[registered]
    n = len(eco.fora)
    visits = np.bincount(homes, weights=p.activity[registered], minlength=n)
    shares = np.bincount(homes, weights=p.activity[registered] * p.share[registered],
                         minlength=n)
    for forum in eco.fora:
        forum.material = forum.usual_material = float(shares[forum.id]) / (1.0 - keep)
        forum.visit_load = float(visits[forum.id]) / (1.0 - keep)


def pulls(eco: mesa.Model) -> tuple[np.ndarray, np.ndarray]:
    """Today's pull and offer of every forum (0 for a forum that is not online)."""
    b = eco.behaviour
    expected = max(eco.expected_material, 1e-9)
    prior = PRIOR_VISITS * expected
    daily = 1.0 - math.exp(-1.0 / b.material_days)  # share of the decayed sum that is today's
    pull, offer = np.zeros(len(eco.fora)), np.zeros(len(eco.fora))
    for forum in eco.fora:
        if not forum.online:
            continue
        waiting = len(forum.reports) / max(forum.visit_load * daily, 1.0)
        disorder = 1.0 + b.report_pull_penalty * waiting
        pull[forum.id] = (forum.material + prior) / (forum.usual_material + prior) / disorder
        offer[forum.id] = ((forum.material + prior) / (forum.visit_load + PRIOR_VISITS)
                           / expected / disorder)
    return pull, offer
