"""What the report calls each outcome and parameter: a human label with its unit, the
range the value can take (for intervals), and which way is better for enforcement (for
regret)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

INF = math.inf
SHARE = (0.0, 1.0)
COUNT = (0.0, INF)


@dataclass(frozen=True)
class Outcome:
    """An outcome as the report shows it."""

    label: str
    unit: str
    bounds: tuple[float, float] = (-INF, INF)
    better: str | None = None  # "higher" or "lower" for enforcement; None: no aim

    @property
    def title(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label


OUTCOMES = {
    "active_people_mean_last30": Outcome("active people per day, last 30 days", "people",
                                         COUNT, "lower"),
    "registered_people": Outcome("people ever registered", "people", COUNT),
    "share_lurkers": Outcome("lurkers", "share of registered", SHARE),
    "share_posting": Outcome("ever posted or shared", "share of registered", SHARE),
    "share_sharing": Outcome("ever shared", "share of registered", SHARE),
    "top1pct_post_share": Outcome("posts by the top 1%", "share of posts", SHARE),
    "share_vips": Outcome("VIPs", "share of registered", SHARE),
    "share_staff": Outcome("staff", "share of registered", SHARE),
    "online_fora": Outcome("fora online at the end", "fora", COUNT, "lower"),
    "fora_ever": Outcome("fora that ever existed", "fora", COUNT),
    "fora_founded": Outcome("fora founded", "fora", COUNT),
    "posts_total": Outcome("posts", "posts", COUNT),
    "shares_total": Outcome("shares", "shares", COUNT),
    "arrested": Outcome("people arrested", "people", COUNT),
    "ties": Outcome("ties formed", "ties", COUNT),
    "network_giant_share": Outcome("largest tie component", "share of people with a tie",
                                   SHARE, "lower"),
    "network_fragmentation": Outcome("network fragmentation", "Borgatti's F, 0 to 1", SHARE,
                                     "higher"),
}
RECORD = {  # an intervention's record against its counterfactual (iv{i}_...)
    "loss": Outcome("activity lost over the effect window", "share of counterfactual activity",
                    (-INF, 1.0), "higher"),
    "peak_loss": Outcome("loss at the deepest point", "share of counterfactual activity",
                         SHARE, "higher"),
    "lasting_loss": Outcome("lasting loss, last 30 days", "share of counterfactual activity",
                            (-INF, 1.0), "higher"),
    "triangle": Outcome("activity lost", "person-days", COUNT, "higher"),
    "days_to_recovery": Outcome("days to recovery", "days, runs that recovered", COUNT),
    "arrested": Outcome("people arrested", "people", COUNT),
    "displaced": Outcome("people displaced", "people", COUNT),
    "rehomed_30d": Outcome("displaced active elsewhere within 30 days", "share", SHARE,
                           "lower"),
    "top_destination_share": Outcome("rehomed who went to the top destination", "share",
                                     SHARE),
    "successor_fora": Outcome("successor fora", "fora", COUNT, "lower"),
    "loss_random": Outcome("loss from as many random arrests (mean of the draws)",
                           "share of counterfactual activity", (-INF, 1.0)),
    "loss_random_low": Outcome("loss from random arrests, 95% interval's low end",
                               "share of counterfactual activity", (-INF, 1.0)),
    "loss_random_high": Outcome("loss from random arrests, 95% interval's high end",
                                "share of counterfactual activity", (-INF, 1.0)),
    "kpd": Outcome("key-player dependence", "loss / loss of random arrests", (-INF, INF)),
    "kpd_low": Outcome("key-player dependence, 95% interval's low end",
                       "loss / loss of random arrests", (-INF, INF)),
    "kpd_high": Outcome("key-player dependence, 95% interval's high end",
                        "loss / loss of random arrests", (-INF, INF)),
    "random_draws": Outcome("draws of random arrests", "draws", COUNT),
    "network_giant_share_counterfactual": Outcome(
        "largest tie component without the shocks", "share", SHARE),
    "network_fragmentation_counterfactual": Outcome(
        "network fragmentation without the shocks", "Borgatti's F", SHARE),
}
_RECORD_NAME = re.compile(r"^iv(\d+)_(.+)$")
WHOLE = "policy_"  # the record of all of a run's shocks together, against none of them
UNIT_SUFFIXES = {"_per_day": "per day", "_per_visit": "per visit", "_days": "days",
                 "_prob": "probability"}


def outcome(name: str, interventions: int = 1) -> Outcome:
    """The outcome of a results column; an intervention's record is named after it when
    there are several (`interventions` > 1); `policy_...`, all shocks together, says
    'whole effect'."""
    if name in OUTCOMES:
        return OUTCOMES[name]
    if name.startswith(WHOLE) and name.removeprefix(WHOLE) in RECORD:
        found = RECORD[name.removeprefix(WHOLE)]
        return Outcome(f"{found.label}, whole effect", found.unit, found.bounds, found.better)
    match = _RECORD_NAME.match(name)
    if match and match[2] in RECORD:
        found = RECORD[match[2]]
        if interventions > 1:
            return Outcome(f"{found.label}, intervention {int(match[1]) + 1}", found.unit,
                           found.bounds, found.better)
        return found
    return Outcome(name.replace("_", " "), "")


def title(name: str, interventions: int = 1) -> str:
    """An outcome's label with its unit, for headers and axes."""
    return outcome(name, interventions).title


def parameter(path: str) -> str:
    """A parameter's label from its dotted path: behaviour.home_loyalty -> 'home loyalty';
    units from the name's suffix: successor_delay_days -> 'successor delay (days)'."""
    parts = path.split(".")
    last = parts[-1]
    shown = last.replace("_", " ")
    for suffix, unit in UNIT_SUFFIXES.items():
        if last.endswith(suffix) and last != suffix[1:]:
            shown = f"{last.removesuffix(suffix).replace('_', ' ')} ({unit})"
            break
    if parts[0] == "interventions" and len(parts) > 2 and parts[1].isdigit():
        shown += f" of intervention {int(parts[1]) + 1}"
    return shown
