"""What keeps a takedown's gap open: the gap between a run with the seizure of the
largest forum and the same run without it, split day by day by whose activity it is.

Because every draw is addressed by (seed, purpose, day, person), a person's activity in
the two runs differs only where the shock changed something for them, so the gap can
be split by person. Each person falls in one group, fixed on the day of the seizure:

- arrested: arrested by the shock (from seized data);
- displaced, no other forum: displaced by the seizure, and on that day without another
  forum to visit in the run with the shock (they must find one first);
- displaced, another forum: displaced, and on that day already a member of another
  forum (they move there at once, and act there less, or more);
- others: registered elsewhere before the shock, never on the seized forum lately;
- newcomers: not yet registered on the day of the shock (newcomers who did not come,
  or came later, or came instead).

Each group's share of the gap on day t is sum over its people of (active without the
shock - active with it) / (active without the shock), 7-day means. The groups add up
to the gap.

    python scripts/gap_decomposition.py [--seeds 300:306] [--days 120]
        [--publicized --data-seized 0.3] [--figure docs/img/gap_decomposition.png]
        [--json out.json]

Prints the mean over seeds, per group, of its share of the gap at the first-week
peak, after two weeks, one, three and six months, and the whole gap's.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from forumsim import Ecosystem, embedded_scenario
from forumsim.world.agents import State

SHOCK_DAY = 365
GROUPS = ("arrested", "displaced, no other forum", "displaced, another forum", "others",
          "newcomers")
CHECKPOINTS = {"peak, days 1-7": None, "day 14": 14, "day 30": 30, "day 90": 90,
               "day 180": 180, "day 300": 300, "day 365": 364}


def active_sets(eco: Ecosystem, days: int, people: int) -> np.ndarray:
    """Step `eco` `days` days; who visited a forum on each (days x people)."""
    rows = np.zeros((days, people), dtype=bool)
    for day in range(days):
        eco.step()
        for forum in eco.fora:
            rows[day, forum.visitors] = True
    return rows


def groups_of(eco: Ecosystem) -> np.ndarray:
    """Each person's group (index into GROUPS) after the shock's day in `eco`."""
    event = eco.events[-1]
    p = eco.people
    group = np.full(p.n, GROUPS.index("others"))
    group[p.state == State.OUTSIDE] = GROUPS.index("newcomers")
    displaced = np.setdiff1d(event.displaced, event.arrested_people)
    n_fora = len(eco.fora)
    rows = eco.memberships.row_of[displaced, :n_fora]
    gone = np.array([f.gone for f in eco.fora])
    placed = ((rows >= 0) & ~gone).any(axis=1) & (p.state[displaced] == State.ACTIVE)
    group[displaced[placed]] = GROUPS.index("displaced, another forum")
    group[displaced[~placed]] = GROUPS.index("displaced, no other forum")
    group[event.arrested_people] = GROUPS.index("arrested")
    return group


def smoothed(x: np.ndarray) -> np.ndarray:
    """7-day trailing means along the first axis."""
    cumulative = np.concatenate([np.zeros((1, *x.shape[1:])), np.cumsum(x, axis=0)])
    days = np.arange(1, len(x) + 1)
    low = np.maximum(days - 7, 0)
    return (cumulative[days] - cumulative[low]) / (days - low).reshape(-1, *[1] * (x.ndim - 1))


def decompose(seed: int, days: int, publicized: bool, data_seized: float) -> np.ndarray:
    """(days x groups) shares of the counterfactual's activity that each group lacks in
    the run with the seizure, 7-day means, from the day of the seizure on. The week
    before is included for the smoothing and cut off."""
    shock = {"type": "takedown", "day": SHOCK_DAY, "target": "largest",
             "publicized": publicized, "data_seized": data_seized}
    scenario = embedded_scenario().overridden(seed=seed, interventions=[shock])
    shocked = Ecosystem(scenario).run(SHOCK_DAY - 8)
    calm = shocked.fork([])
    before = active_sets(shocked, 7, scenario.people)
    calm_before = active_sets(calm, 7, scenario.people)
    shocked.step()
    group = groups_of(shocked)
    first = np.zeros((1, scenario.people), dtype=bool)
    for forum in shocked.fora:
        first[0, forum.visitors] = True
    with_shock = np.vstack([before, first, active_sets(shocked, days - 1, scenario.people)])
    without = np.vstack([calm_before, active_sets(calm, days, scenario.people)])
    lacking = np.stack([(without[:, group == g].sum(axis=1) - with_shock[:, group == g]
                         .sum(axis=1)) for g in range(len(GROUPS))], axis=1).astype(float)
    total = without.sum(axis=1).astype(float)
    share = smoothed(lacking) / smoothed(total)[:, None]
    return share[7:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="300:306", help="START:STOP")
    parser.add_argument("--days", type=int, default=365, help="days after the seizure")
    parser.add_argument("--publicized", action="store_true")
    parser.add_argument("--data-seized", type=float, default=0.0)
    parser.add_argument("--figure", help="write the figure (PNG) here")
    parser.add_argument("--json", help="write the daily shares per seed here")
    args = parser.parse_args()
    start, stop = (int(x) for x in args.seeds.split(":"))
    began = time.perf_counter()
    shares = np.stack([decompose(seed, args.days, args.publicized, args.data_seized)
                       for seed in range(start, stop)])  # seeds x days x groups
    mean = shares.mean(axis=0)
    gap = shares.sum(axis=2)
    peak_day = int(np.argmax(gap.mean(axis=0)[:7]))
    print(f"seizure of the largest forum on day {SHOCK_DAY}, publicized {args.publicized}, "
          f"data seized {args.data_seized}; seeds {start} to {stop - 1}; share of the "
          f"counterfactual's activity (7-day means), mean over seeds\n")
    header = f"{'':26s}" + "".join(f"{name:>16s}" for name in CHECKPOINTS)
    print(header)
    for g, name in enumerate((*GROUPS, "gap")):
        cells = []
        for day in CHECKPOINTS.values():
            at = peak_day if day is None else min(day, args.days - 1)
            value = gap.mean(axis=0)[at] if name == "gap" else mean[at, g]
            cells.append(f"{value:16.3f}")
        print(f"{name:26s}" + "".join(cells))
    print(f"\nwall {time.perf_counter() - began:.0f} s")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"groups": GROUPS, "shares": shares.tolist()}, out)
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4.5), constrained_layout=True)
        days = np.arange(args.days)
        for g, name in enumerate(GROUPS):
            ax.plot(days, mean[:, g], lw=1.3, label=name)
        ax.plot(days, gap.mean(axis=0), color="black", lw=2, label="gap (the sum)")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel("days after the seizure")
        ax.set_ylabel("share of the counterfactual's activity")
        kind = "publicized, data seized" if args.publicized or args.data_seized else "pure"
        ax.set_title(f"Whose activity the gap is: seizure of the largest forum ({kind}), "
                     f"mean of {stop - start} seeds", fontsize=10)
        ax.legend(loc="upper right", fontsize=8)
        fig.savefig(args.figure, dpi=110)


if __name__ == "__main__":
    main()
