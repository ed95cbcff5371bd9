"""Running scenarios: one run from a Scenario to a RunResult (time series, metrics,
provenance)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forumsim import __version__
from forumsim.metrics import top_share
from forumsim.model import Ecosystem
from forumsim.scenario import Scenario


@dataclass
class RunResult:
    """What one run produced: daily tables, end-of-run metrics and provenance."""

    scenario: Scenario
    ecosystem: pd.DataFrame
    forums: pd.DataFrame
    metrics: dict[str, float]
    contributions: np.ndarray  # posts + shares per registered person (participation)
    wall_seconds: float
    provenance: dict[str, object] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """The content of summary.json."""
        return {"scenario": self.scenario.name, "seed": self.scenario.seed,
                "days": self.scenario.days, "people": self.scenario.people,
                "version": __version__, "config_sha256": self.scenario.config_sha256(),
                "wall_seconds": round(self.wall_seconds, 3), "metrics": self.metrics}


def end_of_run_metrics(eco: Ecosystem) -> dict[str, float]:
    """Flat end-of-run figures: participation inequality, roles, fora, network size."""
    p = eco.people
    registered = p.registered()
    n = max(int(registered.sum()), 1)
    contributions = (p.posts + p.shares)[registered]
    roles = np.bincount(p.role[registered], minlength=5)
    daily = eco.datacollector.get_model_vars_dataframe()
    last30 = daily.tail(30)
    return {
        "registered_people": int(registered.sum()),
        "share_lurkers": float(roles[0] / n),
        "share_posting": float((contributions > 0).sum() / n),
        "share_sharing": float((p.shares[registered] > 0).sum() / n),
        "top1pct_post_share": top_share(contributions, 0.01),
        "share_vips": float(roles[2] / n),
        "share_staff": float((roles[3] + roles[4]) / n),
        "online_fora": int(sum(f.online for f in eco.fora)),
        "fora_ever": len(eco.fora),
        "fora_founded": eco.founded_count,
        "posts_total": int(daily["posts"].sum()),
        "shares_total": int(daily["shares"].sum()),
        "active_people_mean_last30": float(last30["active_people"].mean()),
        "ties": len(eco.ties),
    }


def run(scenario: Scenario, progress: Callable[[int], None] | None = None) -> RunResult:
    """Run a scenario to its horizon; `progress(day)` is called after each day."""
    start = time.perf_counter()
    eco = Ecosystem(scenario)
    for _ in range(scenario.days):
        eco.step()
        if progress is not None:
            progress(eco.day)
    registered = eco.people.registered()
    return RunResult(
        scenario=scenario,
        ecosystem=eco.datacollector.get_model_vars_dataframe().reset_index(drop=True),
        forums=eco.datacollector.get_table_dataframe("forums"),
        metrics=end_of_run_metrics(eco),
        contributions=(eco.people.posts + eco.people.shares)[registered],
        wall_seconds=time.perf_counter() - start,
    )
