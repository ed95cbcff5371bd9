"""Is a faster engine the very same engine? Digests of everything a run produces, to
compare byte for byte with another version of the package (put its `src` first on the
path): the collected daily series, the forums table, the post log, the membership
table, the ties and the people's running state, and `run`'s tables and metrics.

    PYTHONPATH=<a version>/src python scripts/identical.py --write before.json
    PYTHONPATH=src python scripts/identical.py --compare before.json

By default the embedded default scenario on seeds 1 to 5, and the same with a
publicized takedown of the largest forum on day 200 (displaced people, herding and
caution: the paths a shock-free run never takes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from forumsim import embedded_scenario
from forumsim.experiment.runner import run
from forumsim.world.model import Ecosystem
from forumsim.world.posts import PostLog

TAKEDOWN = {"type": "takedown", "day": 200, "target": "largest", "publicized": True}


def digest(value) -> str:
    """A SHA-256 of a table, an array or anything JSON can write."""
    h = hashlib.sha256()
    if isinstance(value, pd.DataFrame):
        h.update(pd.util.hash_pandas_object(value, index=True).values.tobytes())
        h.update(repr(list(value.columns)).encode())
    elif isinstance(value, np.ndarray):
        h.update(str(value.dtype).encode())
        h.update(np.ascontiguousarray(value).tobytes()
                 if value.dtype != object else repr(value.tolist()).encode())
    else:
        h.update(json.dumps(value, sort_keys=True, default=str).encode())
    return h.hexdigest()


def state_digests(eco: Ecosystem) -> dict[str, str]:
    """Digests of the model's collected rows and state after its run."""
    out = {"series": digest(eco.datacollector.get_model_vars_dataframe()),
           "forums": digest(eco.datacollector.get_table_dataframe("forums"))}
    for name in eco.post_log.posts._columns:
        out[f"posts.{name}"] = digest(getattr(eco.post_log.posts, name))
    for name in eco.memberships.table._columns:
        out[f"memberships.{name}"] = digest(getattr(eco.memberships.table, name))
    for name in eco.ties.edges._columns:
        out[f"ties.{name}"] = digest(getattr(eco.ties.edges, name))
    for name in ("state", "role", "home", "entered", "posts", "shares", "thanks",
                 "downloaded", "replies", "replied_on", "p_max"):
        out[f"people.{name}"] = digest(getattr(eco.people, name))
    out["known"] = digest(eco.known)
    return out


def one(case: tuple[str, int]) -> dict[str, str]:
    """All digests of one case (scenario kind, seed)."""
    kind, seed = case
    scenario = embedded_scenario().overridden(seed=seed)
    if kind == "takedown":
        scenario = scenario.overridden(interventions=[TAKEDOWN])
    eco = Ecosystem(scenario)
    eco.post_log = PostLog()
    eco.run()
    out = state_digests(eco)
    result = run(scenario, export_posts=True)
    out["run.ecosystem"] = digest(result.ecosystem)
    out["run.forums"] = digest(result.forums)
    out["run.metrics"] = digest(result.metrics)
    if result.counterfactual is not None:
        out["run.counterfactual"] = digest(result.counterfactual)
    for table, columns in (result.community or {}).items():
        for name, column in columns.items():
            out[f"run.community.{table}.{name}"] = digest(np.asarray(column))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="1:6", help="START:STOP")
    parser.add_argument("--kinds", default="default,takedown")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", help="write the digests as JSON here")
    parser.add_argument("--compare", help="compare with the digests in this JSON file")
    args = parser.parse_args()
    start, stop = (int(s) for s in args.seeds.split(":"))
    cases = [(kind, seed) for kind in args.kinds.split(",") for seed in range(start, stop)]
    with ProcessPoolExecutor(args.workers) as pool:
        found = {f"{kind}/{seed}": d for (kind, seed), d in zip(cases, pool.map(one, cases),
                                                                strict=True)}
    if args.write:
        with open(args.write, "w") as file:
            json.dump(found, file, indent=1, sort_keys=True)
    if args.compare:
        with open(args.compare) as file:
            before = json.load(file)
        differing = [f"{case}: {name}" for case, digests in found.items()
                     for name, value in digests.items()
                     if before.get(case, {}).get(name) != value]
        print(f"{len(found)} cases, {sum(map(len, found.values()))} digests compared: "
              f"{len(differing)} differ")
        for line in differing:
            print("  " + line)
        sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
