"""Cost of starting from an observed community (`start_from`): reading and checking a
large posts table, digesting it, and building day 0 from it.

Writes a synthetic posts table the size of the forum studied by van der Bruggen and
Blokland (2021, over 400,000 posts): authors with heavy-tailed activity (Zipf-like
weights), fora of unequal size, about half the posts replies to an earlier post of the
same forum, over four years; with `--members`, also a members table listing the posters
and `--lurkers` times as many lurkers. Then times `forum_data.load_community` (read and
check), `start_from.observe` (read, check and digest) and `Ecosystem` (day 0), beside
the default scenario's day 0 for as many people.

    python benchmarks/start_from.py [--posts 400000] [--authors 20000] [--fora 5]
                                    [--members] [--format csv|parquet]

Target (issue 13): a 400,000-post table loads and builds day 0 in seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forumsim.experiment import start_from
from forumsim.experiment.forum_data import load_community
from forumsim.world.model import Ecosystem
from forumsim.world.scenario import embedded_scenario


def synthetic(posts: int, authors: int, fora: int, seed: int = 1) -> pd.DataFrame:
    """A posts table of the issue's format with a plausible shape (not real data)."""
    rng = np.random.default_rng(seed)
    weight = 1.0 / np.arange(1, authors + 1) ** 1.1
    author = rng.choice(authors, size=posts, p=weight / weight.sum())
    home = rng.choice(fora, size=authors, p=np.arange(fora, 0, -1) / (fora * (fora + 1) / 2))
    forum = np.where(rng.random(posts) < 0.9, home[author], rng.integers(fora, size=posts))
    seconds = np.sort(rng.integers(0, 4 * 365 * 86_400, posts))
    times = np.datetime64("2010-01-01T00:00:00", "s") + seconds.astype("timedelta64[s]")
    post_id = np.arange(posts)
    # A reply answers one of the 500 latest posts of its forum.
    reply_to = np.full(posts, -1)
    for f in range(fora):
        here = np.flatnonzero(forum == f)
        back = rng.integers(1, 500, len(here))
        pick = np.arange(len(here)) - back
        reply = (pick >= 0) & (rng.random(len(here)) < 0.5)
        reply_to[here[reply]] = here[pick[reply]]
    thread = post_id.copy()
    for i in np.flatnonzero(reply_to >= 0):  # a reply joins its parent's thread
        thread[i] = thread[reply_to[i]]
    return pd.DataFrame({
        "post_id": post_id, "thread_id": thread, "forum": np.char.add("Forum ", (
            forum + 1).astype(str)), "author": np.char.add("u", author.astype(str)),
        "timestamp": pd.to_datetime(times).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "reply_to": pd.Series(reply_to, dtype="Int64").where(reply_to >= 0)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=400_000)
    parser.add_argument("--authors", type=int, default=20_000)
    parser.add_argument("--fora", type=int, default=5)
    parser.add_argument("--members", action="store_true",
                        help="also write a members table (posters plus lurkers)")
    parser.add_argument("--lurkers", type=float, default=9.0,
                        help="lurkers per poster in the members table")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    args = parser.parse_args()
    table = synthetic(args.posts, args.authors, args.fora)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        frames = {"posts": table}
        if args.members:
            seen = table[["author", "forum"]].drop_duplicates()
            extra = int(args.lurkers * len(seen))
            rng = np.random.default_rng(2)
            lurkers = pd.DataFrame({"author": np.char.add("l", np.arange(extra).astype(str)),
                                    "forum": rng.choice(seen["forum"].unique(), extra)})
            frames["members"] = pd.concat([seen, lurkers]).assign(registered="", rank="")
        for name, frame in frames.items():
            path = folder / f"{name}.{args.format}"
            if args.format == "csv":
                frame.to_csv(path, index=False)
            else:
                frame.astype({"timestamp": str} if name == "posts" else {}).to_parquet(path)
        began = time.perf_counter()
        community = load_community([folder])
        read = time.perf_counter() - began
        began = time.perf_counter()
        observed = start_from.observe(folder)
        digest = time.perf_counter() - began  # reads and checks again: not cached yet
        scenario, start = start_from.started(
            embedded_scenario().overridden(start_from=str(folder)))
        began = time.perf_counter()
        eco = Ecosystem(scenario, start)
        build = time.perf_counter() - began
        del eco
        began = time.perf_counter()
        Ecosystem(embedded_scenario().overridden(people=scenario.people))
        plain = time.perf_counter() - began
        print(f"{len(community.posts):,} posts by {len(observed.authors):,} people on "
              f"{len(observed.fora)} fora ({args.format}"
              f"{', with a members table' if args.members else ''}): "
              f"read and check {read:.2f} s; read, check and digest {digest:.2f} s; "
              f"day 0 of {scenario.people:,} people, {start.people:,} registered, "
              f"{len(start.tie_a):,} ties: {build:.2f} s (the default scenario's day 0 "
              f"for as many people: {plain:.2f} s)")


if __name__ == "__main__":
    main()
