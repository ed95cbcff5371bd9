"""Calibration by ABC-SMC (approximate Bayesian computation with sequential Monte Carlo,
pyabc; Toni et al. 2009; Schälte et al. 2022): simulate communities from the priors,
keep those whose statistics come close to the targets, and narrow the tolerance from
generation to generation.

A calibration folder holds history.db (pyabc's history, from which `--resume`
continues), posterior.parquet (every generation's particles and weights),
calibrated.yaml (the base scenario at the posterior median, a scenario `forumsim run`
accepts), check.json (the held-out statistics against their posterior predictive
intervals), calibration.json (what the folder was made from) and random_state.json
(numpy's global generator, from which pyabc draws its particles, as each generation was
stored: a resumed calibration continues exactly where an uninterrupted one would). One
calibration writes a folder at a time (a lock file). pyabc takes seconds to import: it is
imported only here, and only when a calibration runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from forumsim.experiment.calibration import (
    LOCK,
    MARKER,
    RUN_TAKEDOWN,
    CalibrationFolderError,
    Problem,
    check_folder,
    is_run_statistic,
)
from forumsim.experiment.executors import connect, forked_workers_die_with_us
from forumsim.experiment.folders import claimed
from forumsim.experiment.forum_data import exported_community
from forumsim.experiment.resources import check_workers_memory
from forumsim.experiment.runner import RunResult, rehoming, simulate
from forumsim.experiment.targets import summarize
from forumsim.version import __version__

HISTORY = "history.db"
GENERATIONS = "generations.json"  # epsilon and simulations per generation
RANDOM_STATE = "random_state.json"  # numpy's global generator as each generation was stored


@dataclass
class Generation:
    """What one generation of ABC-SMC did, for the progress line."""

    index: int
    epsilon: float
    acceptance: float
    simulations: int
    seconds: float


def statistics(problem: Problem, parameters: dict[str, float],
               seed: int | None = None) -> dict[str, float]:
    """Simulate the base scenario at `parameters` (with `seed`, by default the particle's
    own, and the calibration's further replicates) and summarise each export: the mean
    over replicates of each statistic the targets have (NaN where no replicate defines
    it)."""
    seed = problem.seed_of(parameters) if seed is None else seed
    runs = [_summarised(problem, parameters, s) for s in problem.replicate_seeds(seed)]
    means = {}
    for name in problem.targets:
        defined = [run[name] for run in runs if math.isfinite(run[name])]
        means[name] = sum(defined) / len(defined) if defined else math.nan
    return means


def _summarised(problem: Problem, parameters: dict[str, float], seed: int) -> dict[str, float]:
    """One simulation's statistics: of its posts as `forumsim data summarize` computes
    them, and of the run itself (`run_...`, see `run_statistics`)."""
    of_posts = [name for name in problem.targets if not is_run_statistic(name)]
    result = simulate(problem.scenario(parameters, seed=seed), export_posts=bool(of_posts))
    values: dict[str, object] = run_statistics(
        result, [name for name in problem.targets if is_run_statistic(name)])
    if of_posts and len(result.community["posts"]["post_id"]):
        values.update(summarize(exported_community(result.community))["statistics"])
    return {name: math.nan if values.get(name) is None else float(values[name])
            for name in problem.targets}


def run_statistics(result: RunResult, names: list[str]) -> dict[str, float | None]:
    """Statistics of a simulated run that no posts table gives: `run_<figure>` is the
    end-of-run figure of `summary.json` (e.g. `run_share_sharing`, the share of registered
    people who shared material), and `run_takedown_<k>_rehomed_share` and
    `..._rehomed_top_destination_share` are, for the k-th takedown, the share of its
    displaced people who rehomed within the rehoming window and the share of those who
    went to the most chosen forum (as in the run's intervention metrics, without the
    counterfactual, which they do not need)."""
    values: dict[str, float | None] = {}
    takedowns = sorted({e.index for e in result.events if e.type == "takedown"})
    for name in names:
        match = RUN_TAKEDOWN.fullmatch(name)
        if match is None:
            values[name] = result.metrics[name.removeprefix("run_")]
            continue
        k, figure = int(match.group(1)), match.group(2)
        if not 1 <= k <= len(takedowns):
            values[name] = None
            continue
        displaced, _, rehomed = rehoming([e for e in result.events
                                          if e.index == takedowns[k - 1]])
        if figure == "rehomed_share":
            values[name] = len(rehomed) / len(displaced) if len(displaced) else None
        else:
            values[name] = (max(Counter(rehomed.values()).values()) / len(rehomed)
                            if rehomed else None)
    return values


def calibrate(problem: Problem, out: Path, workers: int = 1, resume: bool = False,
              progress: Callable[[Generation], None] | None = None,
              scheduler: str | None = None,
              started: Callable[[], None] | None = None) -> list[Generation]:
    """Run (or, with `resume`, continue) the calibration into `out`, up to its number of
    generations, on `workers` local processes or the Dask cluster at `scheduler`; write
    the results after each generation. Holds the folder's lock throughout: a second
    calibration into it is refused (StoreError); `started` is called once it holds it."""
    from sqlalchemy.exc import OperationalError  # pyabc's history is a SQLite database

    check_folder(out, problem, resume)
    with claimed(out, LOCK, "calibrate"), contextlib.ExitStack() as stack:
        check_folder(out, problem, resume)  # again: nobody else can change it now
        sampler = _sampler(problem, workers, scheduler, stack)
        if started is not None:
            started()
        try:
            return _calibrate(problem, out, sampler, resume, progress)
        except OperationalError as error:  # e.g. a full disk: the history cannot be written
            raise OSError(f"{HISTORY}: {error.orig}") from None


def _sampler(problem: Problem, workers: int, scheduler: str | None,
             stack: contextlib.ExitStack):
    """pyabc's sampler: one process, a local process pool, or a Dask cluster's workers."""
    import pyabc  # seconds to import: only when calibrating

    if scheduler is not None:
        client = connect(stack, scheduler)
        check_workers_memory(problem.extremes(), client.scheduler_info()["workers"],
                             problem.source)
        return pyabc.sampler.DaskDistributedSampler(dask_client=client)
    if workers == 1:
        return pyabc.sampler.SingleCoreSampler()
    stack.enter_context(forked_workers_die_with_us())
    return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=workers)


def _calibrate(problem: Problem, out: Path, sampler, resume: bool,
               progress: Callable[[Generation], None] | None) -> list[Generation]:
    import pyabc

    logging.getLogger("ABC").setLevel(logging.WARNING)
    out.mkdir(parents=True, exist_ok=True)
    calibration = problem.calibration
    priors = pyabc.Distribution(**{
        name: (pyabc.RV("uniform", low, high - low) if prior.kind == "uniform"
               else pyabc.RV("loguniform", low, high))
        for name, prior in calibration.parameters.items()
        for low, high in [prior.bounds]})
    # pyabc draws particles with numpy's global generator: seed it for a repeatable run.
    np.random.seed(calibration.seed)
    abc = pyabc.ABCSMC(lambda parameters: statistics(problem, dict(parameters)), priors,
                       lambda x, x0: problem.distance(x), population_size=calibration.population,
                       sampler=sampler)
    database = f"sqlite:///{(out / HISTORY).resolve()}"
    observed = {name: problem.targets[name] for name in problem.targets}
    if resume:
        try:
            abc.load(database, 1)
        except ValueError:  # stopped before pyabc recorded the run: nothing to continue
            (out / HISTORY).unlink(missing_ok=True)
            abc.new(database, observed)
    else:
        write_json({"forumsim": __version__, "kind": "calibration", "name": problem.name,
                    "source": problem.source, "identity": problem.identity()}, out / MARKER)
        abc.new(database, observed)
    remaining = calibration.generations - abc.history.n_populations
    if resume and remaining > 0:
        _restore_random_state(abc.history, out)
    _keep_random_state(abc.history, out)
    done: list[Generation] = []
    run_generation = abc.run_generation
    started = time.perf_counter()

    def generation_and_results(t: int) -> dict:
        """One generation, then the results so far and the progress line."""
        outcome = run_generation(t=t)
        if not outcome["successful"]:  # e.g. no particle accepted: nothing new to write
            return outcome
        nonlocal started
        history = abc.history
        last = history.get_all_populations().iloc[-1]
        generation = Generation(index=int(last["t"]), epsilon=float(last["epsilon"]),
                                acceptance=float(outcome["acceptance_rate"]),
                                simulations=int(history.total_nr_simulations),
                                seconds=time.perf_counter() - started)
        started = time.perf_counter()
        done.append(generation)
        write_results(problem, history, out)
        if progress is not None:
            progress(generation)
        return outcome

    abc.run_generation = generation_and_results  # pyabc's run() calls it per generation
    if remaining > 0:
        abc.run(max_nr_populations=remaining, minimum_epsilon=calibration.minimum_epsilon)
    return done


def _keep_random_state(history, out: Path) -> None:
    """Record numpy's global generator, from which pyabc draws (with one worker), each
    time a generation is stored, just before it is: a resume from that generation starts
    from the same state as the uninterrupted calibration's next generation did."""
    path = out / RANDOM_STATE
    states = _random_states(path)
    append = history.append_population

    def append_population(t: int, *args, **kwargs):
        kind, keys, position, has_gauss, gauss = np.random.get_state()
        states[str(t)] = [kind, keys.tolist(), position, has_gauss, gauss]
        write_json(states, path)
        return append(t, *args, **kwargs)

    history.append_population = append_population


def _random_states(path: Path) -> dict:
    try:
        states = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return states if isinstance(states, dict) else {}


def _restore_random_state(history, out: Path) -> None:
    """Set numpy's global generator to where the uninterrupted calibration had it after
    its last stored generation; refuse a history that cannot be continued exactly."""
    populations = history.get_all_populations()
    generations = populations.loc[populations["t"] >= 0, "t"]
    doubled = generations[generations.duplicated()]
    if len(doubled):
        raise CalibrationFolderError(
            f"--out {out}: its history holds two populations for generation "
            f"{int(doubled.iloc[0])} (two calibrations wrote into it at once), so its posterior "
            "is a mixture; it cannot be resumed. Start the calibration again in a new --out.")
    if history.max_t < 0:  # stopped before its first generation was stored: from the start
        return
    state = _random_states(out / RANDOM_STATE).get(str(history.max_t))
    if not isinstance(state, list) or len(state) != 5:
        raise CalibrationFolderError(
            f"--out {out}: holds no record of the random state after generation "
            f"{history.max_t} ({RANDOM_STATE}; calibrations written by forumsim before it kept "
            "one lack it), so a resumed calibration would not be the one an uninterrupted run "
            "gives. Its results stay as they are; to run more generations, start again in a "
            "new --out.")
    kind, keys, position, has_gauss, gauss = state
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), position, has_gauss, gauss))


def write_results(problem: Problem, history, out: Path) -> None:
    """posterior.parquet, calibrated.yaml, generations.json and check.json (the last
    generation's accepted simulations against the targets) from the history so far."""
    frames = []
    for t in range(history.max_t + 1):
        particles, weights = history.get_distribution(m=0, t=t)
        frames.append(particles.reset_index(drop=True).assign(generation=t, weight=weights))
    posterior = pd.concat(frames, ignore_index=True)
    posterior = posterior[["generation", "weight",
                           *problem.calibration.parameters]]
    write_atomically(out / "posterior.parquet",
                     lambda path: posterior.to_parquet(path, index=False))
    last = posterior[posterior["generation"] == history.max_t]
    median = {name: weighted_quantile(last[name].to_numpy(), last["weight"].to_numpy(), 0.5)
              for name in problem.calibration.parameters}
    scenario = problem.scenario(median)
    # Said from the scenario itself: the base's description may speak of other days or
    # people than the calibration's fixed values.
    scenario = scenario.model_copy(update={
        "name": f"{problem.name}-calibrated",
        "description": f"Scenario {problem.calibration.base} with {scenario.people:,} people "
                       f"and {len(scenario.fora)} fora over {scenario.days} days, its "
                       f"parameters {', '.join(problem.calibration.parameters)} at the "
                       f"posterior median of generation {history.max_t} of forumsim "
                       f"calibrate {problem.source}."})
    text = yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)
    write_atomically(out / "calibrated.yaml", lambda path: path.write_text(text))
    populations = history.get_all_populations()
    write_json({"generations": [
        {"generation": int(row.t), "epsilon": float(row.epsilon),
         "particles": int(row.particles), "simulations": int(row.samples)}
        for row in populations[populations["t"] >= 0].itertuples()]}, out / GENERATIONS)
    weights, simulated = history.get_weighted_sum_stats(t=history.max_t)
    check = {"generation": history.max_t, "interval": 0.9, "source": "accepted simulations",
             "statistics": {}}
    for name in [*problem.calibration.fit, *problem.calibration.hold_out]:
        values = np.array([s[name] for s in simulated], dtype=float)
        known = np.isfinite(values)
        low, mid, high = (weighted_quantile(values[known], np.asarray(weights)[known], q)
                          if known.any() else None for q in (0.05, 0.5, 0.95))
        target = problem.targets[name]
        check["statistics"][name] = {
            "role": "fitted" if name in problem.calibration.fit else "held out",
            "target": target, "median": mid, "low": low, "high": high,
            "inside": None if low is None else bool(low <= target <= high)}
    write_json(check, out / "check.json")


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The q-quantile of `values` under `weights` (the smallest value whose cumulative
    weight reaches q)."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(np.asarray(weights, dtype=float)[order])
    at = np.searchsorted(cumulative, q * cumulative[-1])
    return float(np.asarray(values)[order][min(at, len(values) - 1)])


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write `path` through a temporary file renamed into place (never half a file)."""
    staging = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        write(staging)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def write_json(data: dict, path: Path) -> None:
    """Write `data` as indented JSON, atomically."""
    write_atomically(path, lambda p: p.write_text(json.dumps(data, indent=2) + "\n"))
