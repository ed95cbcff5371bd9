"""Running a sweep's plan on any `concurrent.futures.Executor`: a local process pool, a
Dask cluster (`client.get_executor()`), or in this process. One code path for all; each
run's result depends only on its scenario and seed, so every executor gives the same rows.
"""

from __future__ import annotations

import contextlib
import ctypes
import difflib
import hashlib
import json
import multiprocessing
import os
import platform
import signal
import socket
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from forumsim.experiment import interrupts, runner
from forumsim.experiment.folders import check_writable, claimed
from forumsim.experiment.plan import Plan, PlannedRun
from forumsim.experiment.resources import check_memory, check_workers_memory
from forumsim.experiment.store import LOCK, SweepStore
from forumsim.experiment.sweep import SweepError
from forumsim.world.scenario import Scenario

EXECUTORS = ("process", "dask-local", "inline")


@dataclass(frozen=True)
class RunTask:
    """What a worker needs for one run (picklable)."""

    run: PlannedRun
    scenario: Scenario
    keep_series: bool


@dataclass
class RunOutcome:
    """One finished run: its results row, and its daily series (or None)."""

    row: dict[str, object]
    series: pd.DataFrame | None


def run_task(task: RunTask) -> RunOutcome:
    """The worker: one run, its metrics flattened to a row. A run that raises becomes a
    row with status 'failed' and the error, so one bad run never stops a sweep."""
    start = time.perf_counter()
    head = {"run_id": task.run.run_id, "point": task.run.point,
            "replicate": task.run.replicate, "seed": task.run.seed}
    _mark_running(task.run.run_id)
    try:
        result = runner.run(task.scenario)
    except Exception as error:
        row = {**head, "status": "failed", "error": _one_line(error), **task.run.parameters,
               **_execution(start)}
        return RunOutcome(row, None)
    finally:
        _mark_running(-1)
    row = {**head, "status": "ok", "error": None, **task.run.parameters,
           **metrics_row(result), **_execution(start)}
    return RunOutcome(row, daily_series(result, task.run.run_id) if task.keep_series else None)


def _execution(start: float) -> dict[str, object]:
    return {"wall_seconds": time.perf_counter() - start,
            "worker": f"{socket.gethostname()}:{os.getpid()}"}


def _one_line(error: BaseException) -> str:
    frame = traceback.extract_tb(error.__traceback__)[-1:]
    where = f" (at {os.path.basename(frame[0].filename)}:{frame[0].lineno})" if frame else ""
    return f"{type(error).__name__}: {error}{where}"


def metrics_row(result: runner.RunResult) -> dict[str, object]:
    """End-of-run metrics as flat columns; intervention i's record as `iv{i}_...` columns,
    with its spec (and, for arrests, strategy and k) so rows can be grouped by them; the
    record of all shocks together as `policy_...` columns."""
    metrics = dict(result.metrics)
    records = metrics.pop("interventions", [])
    whole = metrics.pop("policy", {})
    row = {key: _plain(value) for key, value in metrics.items()}
    row.update((f"policy_{key}", _plain(value)) for key, value in whole.items())
    for i, (spec, record) in enumerate(zip(result.scenario.interventions, records, strict=True)):
        record = {**record}
        for key in runner.RANDOM_ARREST_KEYS:  # only targeted arrests have them
            record.setdefault(key, None)
        for key, value in record.items():
            row[f"iv{i}_{key}"] = _plain(value)
        row[f"iv{i}_spec"] = json.dumps(spec.model_dump(mode="json"), sort_keys=True)
        row[f"iv{i}_strategy"] = getattr(spec, "strategy", None)
        row[f"iv{i}_k"] = getattr(spec, "k", None)
        row[f"iv{i}_share"] = getattr(spec, "share", None)
    return row


def metric_names(interventions: int) -> list[str]:
    """The metric columns of a run with `interventions` interventions, read off a tiny
    probe run (so they always match what the runner reports)."""
    base, record, whole = _metric_parts()
    return (base + [f"iv{i}_{key}" for i in range(interventions) for key in record]
            + ([f"policy_{key}" for key in whole] if interventions else []))


def _metric_parts() -> tuple[list[str], list[str], list[str]]:
    """The end-of-run metric names, a shock's record's and all the shocks' record's."""
    probe = Scenario.model_validate({
        "name": "probe", "days": 4, "people": 50, "fora": [{"name": "A", "access": "open"}],
        "interventions": [{"type": "arrests", "day": 2, "strategy": "degree", "k": 1}]})
    names = list(metrics_row(runner.run(probe)))
    parts = {prefix: [n.removeprefix(prefix) for n in names if n.startswith(prefix)]
             for prefix in ("iv0_", "policy_")}
    base = [n for n in names if not n.startswith(("iv0_", "policy_"))]
    return base, parts["iv0_"], parts["policy_"]


def check_outcomes(plan: Plan) -> None:
    """Refuse a sweep whose `outcomes` names a metric no run reports."""
    if not plan.sweep.outcomes:
        return
    known = metric_names(plan.most_interventions)
    for i, name in enumerate(plan.sweep.outcomes):
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f" (closest: {', '.join(close)})" if close else ""
            base, record, whole = _metric_parts()  # the records once, not per intervention
            only = [key for key in record if key not in whole]
            records = ("" if not plan.most_interventions else
                       "; and each shock's record as iv0_NAME (iv1_NAME, ...) and all the "
                       "shocks together as policy_NAME, where NAME is one of: "
                       f"{', '.join(whole)} (and for iv0_... only: {', '.join(only)})")
            raise SweepError(f"{plan.source}: field 'outcomes.{i}' has value {json.dumps(name)}, "
                             f"but it must be a metric of the runs{hint}; the metrics are: "
                             f"{', '.join(base)}{records}.")


def _plain(value: object) -> object:
    """A value Parquet stores as one scalar column: numpy scalars as Python, mappings and
    lists (e.g. where the displaced went) as JSON text."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=_plain)
    return value


def daily_series(result: runner.RunResult, run_id: int) -> pd.DataFrame:
    """The run's daily ecosystem table (as floats) with the counterfactual's activity."""
    frame = result.ecosystem.astype("float64")
    frame["day"] = result.ecosystem["day"].astype("int64")
    counterfactual = result.counterfactual
    frame["active_people_counterfactual"] = (
        counterfactual["active_people"].to_numpy(dtype="float64") if counterfactual is not None
        else np.nan)
    frame.insert(0, "run_id", np.int64(run_id))
    return frame


# --- a whole sweep ----------------------------------------------------------------------


class SweepSetupError(ValueError):
    """The sweep cannot start as asked (e.g. no Dask scheduler at the address)."""


@dataclass
class SweepOutcome:
    """Where the results are, what this session did, and the signal that interrupted it
    (None if none did)."""

    store: SweepStore
    tally: Tally
    interrupted: int | None = None


DEPENDENCIES = ("numpy", "pandas", "pyarrow", "mesa", "networkx", "scipy", "SALib", "pydantic",
                "PyYAML", "dask", "distributed")


def manifest(plan: Plan, sweep_file: str | Path | None) -> dict:
    """manifest.json of a new sweep: what was planned, from which file, with what software."""
    from importlib.metadata import PackageNotFoundError, version

    from forumsim.version import __version__

    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    text = Path(sweep_file).read_bytes() if sweep_file and Path(sweep_file).is_file() else b""
    return {
        "sweep": plan.name, "description": plan.sweep.description.strip(),
        "question": header_comment(text.decode(errors="replace")),
        "sweep_file": str(sweep_file) if sweep_file else None,
        "sweep_file_sha256": hashlib.sha256(text).hexdigest() if text else None,
        "plan_sha256": plan.sha256(), "spec": plan.sweep.model_dump(mode="json"),
        "base_scenario": plan.base.model_dump(mode="json"),
        "parameters": plan_columns(plan), "design": plan.sweep.design,
        "uncertainties": plan.uncertain, "policies": list(plan.sweep.policies),
        "posterior": plan.posterior.record() if plan.posterior else None,
        "scenarios": plan.sweep.scenarios_count(),
        "points": len(plan.points), "replicates": plan.sweep.replicates,
        "planned_runs": len(plan.runs),
        "forumsim": __version__, "python": platform.python_version(),
        "platform": platform.platform(), "dependencies": {n: installed(n) for n in DEPENDENCIES},
        "started": _now(), "ended": None, "sessions": [],
    }


def plan_columns(plan: Plan) -> list[str]:
    """The results columns that say what varied: the parameters, or the uncertainties and
    the policy."""
    if plan.sweep.policies:
        return [*plan.uncertain, "policy"]
    return list(plan.sweep.parameters)


def header_comment(text: str) -> str:
    """The comment block at the top of a file, as one paragraph (an experiment's question)."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(line for line in lines if line)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_sweep(plan: Plan, out: str | Path, *, sweep_file: str | Path | None = None,
              resume: bool = False, executor: str = "process", workers: int | None = None,
              scheduler: str | None = None, retry_failed: bool = False,
              runs_per_part: int | None = None,
              progress: Callable[[Tally], None] | None = None) -> SweepOutcome:
    """Run (or, with `resume`, continue) a planned sweep into folder `out`; write
    summary.parquet at the end, also after an interrupt (from the runs finished so far).

    Everything that can be checked is checked before anything is written: the folder,
    its room, the memory the runs need (on a Dask cluster, in each worker); the folder is
    then locked against a second writer, and nothing is left on disk if the executor
    cannot start."""
    check_outcomes(plan)
    if sweep_file is None and Path(plan.source).is_file():
        sweep_file = plan.source
    folder = Path(out)
    planned = manifest(plan, sweep_file)
    SweepStore.check(folder, planned, resume)
    if scheduler is None:
        at_once = 1 if executor == "inline" else min(workers or os.cpu_count() or 1,
                                                     len(plan.runs))
        check_memory([plan.largest or plan.base], at_once, plan.source)
    check_writable(folder, folder, sweep_room(plan))
    store, interrupted = None, None
    tally = Tally(len(plan.runs), 0)
    with claimed(folder, LOCK, "sweep"):
        try:
            with open_pool(executor, workers, scheduler) as pool:
                if pool.workers is not None:  # a Dask cluster: each worker's own memory
                    check_workers_memory([plan.largest or plan.base], pool.workers(),
                                         plan.source)
                store = SweepStore.open(folder, planned, resume)
                session = {"started": _now(), "ended": None, "status": "running", "runs": 0,
                           "failed": 0, "executor": pool.label}
                store.update_manifest(sessions=[*store.manifest.get("sessions", []), session])
                execute(plan, store, pool, tally, retry_failed=retry_failed,
                        runs_per_part=runs_per_part, progress=progress)
        except SweepInterrupted as stop:
            interrupted = stop.signum
        finally:
            if store is not None:
                complete = len(store.finished()) == len(plan.runs)
                session.update(ended=_now(), runs=tally.done, failed=tally.failed,
                               status="finished" if complete
                               else "interrupted" if interrupted is not None
                               else "stopped")
                store.update_manifest(sessions=store.manifest["sessions"],
                                      ended=_now() if complete else None)
                store.write_summary()
    return SweepOutcome(store, tally, interrupted)


def sweep_room(plan: Plan) -> int:
    """Bytes of disk a sweep's results need, generously: a row per run and, if kept, its
    daily series (compressed Parquet takes far less than this)."""
    days = max(plan.largest.days if plan.largest else 0, plan.base.days)
    per_run = 2048 + (days * 100 if plan.sweep.keep_series else 0)
    return (16 << 20) + len(plan.runs) * per_run


# --- the loop ---------------------------------------------------------------------------


class SweepInterrupted(Exception):  # noqa: N818 - it is what happened, not an error
    """Ctrl-C (or SIGTERM) stopped the sweep; finished runs were kept. `signum` is the
    signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class BrokenPoolError(RuntimeError):
    """The process pool died (a worker was killed, e.g. out of memory); the message names
    the run it was running."""


@dataclass
class Tally:
    """Progress of a sweep: planned runs, finished before this session, done and failed now."""

    planned: int
    earlier: int
    done: int = 0
    failed: int = 0
    failures: list[dict] = field(default_factory=list)


def execute(plan: Plan, store: SweepStore, pool: Pool, tally: Tally, *,
            retry_failed: bool = False, runs_per_part: int | None = None,
            flush_seconds: float = 60.0, progress: Callable[[Tally], None] | None = None) -> None:
    """Run every planned run not yet in `store` on `pool`, writing finished runs in batches
    of `runs_per_part` (or after `flush_seconds`) and counting them in `tally`. Ctrl-C
    writes what is done, then raises SweepInterrupted."""
    finished = store.finished(failed_too=not retry_failed)
    todo = iter([run for run in plan.runs if run.run_id not in finished])
    tally.earlier = len(finished)
    per_part = runs_per_part or max(1, min(50, len(plan.runs) // (4 * pool.capacity())))
    pending: dict[Future, PlannedRun] = {}
    batch: list[RunOutcome] = []
    last_write = time.monotonic()

    def write() -> None:
        nonlocal batch, last_write
        while batch:
            part, batch = batch[:per_part], batch[per_part:]
            store.write_part([o.row for o in part],
                             [o.series for o in part if o.series is not None])
        last_write = time.monotonic()

    if progress is not None:
        progress(tally)  # the sweep has started
    try:
        _fill(pending, todo, plan, pool)
        while pending:
            done, _ = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            for future in done:
                run = pending.pop(future)
                outcome = _outcome(future, run)
                batch.append(outcome)
                tally.done += 1
                if outcome.row["status"] != "ok":
                    tally.failed += 1
                    tally.failures.append(outcome.row)
            if len(batch) >= per_part or time.monotonic() - last_write > flush_seconds:
                write()
            _fill(pending, todo, plan, pool)
            if progress is not None:
                progress(tally)
        write()
    except KeyboardInterrupt as stop:
        for future in pending:  # keep runs that finished meanwhile
            if future.done() and not future.cancelled() and future.exception() is None:
                batch.append(future.result())
                tally.done += 1
            else:
                future.cancel()
        write()
        raise SweepInterrupted(getattr(stop, "signum", signal.SIGINT)) from None
    except BrokenPoolError:
        write()
        raise


def _fill(pending: dict, todo: Iterator[PlannedRun], plan: Plan, pool: Pool) -> None:
    """Keep about two runs per worker in flight: enough to keep them busy, few enough that
    stopping loses little and memory stays flat on sweeps of any size."""
    while len(pending) < 2 * pool.capacity():
        run = next(todo, None)
        if run is None:
            return
        task = RunTask(run, plan.scenario(run), plan.sweep.keep_series)
        with interrupts.held():  # a worker being started is one the pool knows of
            pending[pool.executor.submit(run_task, task)] = run


def _outcome(future: Future, run: PlannedRun) -> RunOutcome:
    """The worker's outcome; a failure outside the run itself (e.g. a Dask worker killed
    while running it) is recorded against the run, except a broken local pool."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise BrokenPoolError(pool_death(run)) from None
    except Exception as error:
        row = {"run_id": run.run_id, "point": run.point, "replicate": run.replicate,
               "seed": run.seed, "status": "failed", "error": _one_line(error),
               **run.parameters, "wall_seconds": None, "worker": None}
        return RunOutcome(row, None)


# --- executors --------------------------------------------------------------------------


class InlineExecutor(Executor):
    """Runs each task in this process when it is submitted (for debugging and tests)."""

    def submit(self, fn: Callable, /, *args: object, **kwargs: object) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:
            future.set_exception(error)
        return future


@dataclass
class Pool:
    """An executor, a description for the user, how many runs it can run at once, and
    for a Dask cluster the scheduler's description of each worker (memory, threads)."""

    executor: Executor
    label: str
    capacity: Callable[[], int]
    workers: Callable[[], dict[str, dict]] | None = None


# --- the workers of a local process pool -------------------------------------------------

# In a worker: the shared table of (pid, run id) slots and this worker's slot, so that the
# sweep can say which run a worker that died was running.
_SLOTS: tuple | None = None
PR_SET_PDEATHSIG = 1  # prctl(2)


def die_with_parent() -> None:
    """Have the kernel kill this process the moment its parent dies (Linux's parent-death
    signal), so that no worker outlives a command that was killed; its unfinished work is
    done again on --resume. A worker whose parent died before it asked exits at once.
    Elsewhere than on Linux, nothing."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


def _start_worker(slots: object, taken: object) -> None:
    """Initializer of each pool worker: ignore Ctrl-C (the sweep handles it), die with the
    pool's process, and take a slot to report its run in."""
    global _SLOTS
    # Ctrl-C reaches the whole process group; only the sweep itself should react to it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()  # the forkserver, which dies with the sweep (pool_server.py)
    with taken.get_lock():
        index = taken.value
        taken.value += 1
    if 2 * index + 1 < len(slots):
        slots[2 * index] = os.getpid()
        slots[2 * index + 1] = -1
        _SLOTS = (slots, index)


_FORKING_WORKERS = {"on": False}


def _forked_worker() -> None:
    if _FORKING_WORKERS["on"]:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the command
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the command's clean stop
        die_with_parent()


os.register_at_fork(after_in_child=_forked_worker)


@contextlib.contextmanager
def forked_workers_die_with_us() -> Iterator[None]:
    """Processes forked from this one meanwhile (the workers of pyabc's multicore sampler)
    ignore Ctrl-C, which the command handles, and die with this process if it is killed."""
    _FORKING_WORKERS["on"] = True
    try:
        yield
    finally:
        _FORKING_WORKERS["on"] = False


def _mark_running(run_id: int) -> None:
    if _SLOTS is not None:
        slots, index = _SLOTS
        slots[2 * index + 1] = run_id


_POOLS: list[tuple[list, object]] = []  # live local pools: (their processes, their slots)


def pool_death(run: PlannedRun) -> str:
    """What broke a local process pool: which worker died, how, and the run it was running
    (else the run whose result was lost)."""
    for processes, slots in _POOLS:
        for process in processes:
            code = process.exitcode
            if code is None or code == -signal.SIGTERM:
                continue  # alive, or ended by the pool once another worker had died
            running = {slots[i]: slots[i + 1] for i in range(0, len(slots), 2)}
            lost = running.get(process.pid, -1)
            how = (f"was killed by {signal.Signals(-code).name}" if code < 0
                   else f"exited with code {code}")
            what = f"run {lost}" if lost >= 0 else f"run {run.run_id}'s batch"
            return (f"worker process {process.pid} {how} (out of memory?) while running "
                    f"{what}")
    return f"a worker process died (out of memory?) while running run {run.run_id}"


@contextlib.contextmanager
def open_pool(kind: str = "process", workers: int | None = None,
              scheduler: str | None = None) -> Iterator[Pool]:
    """The executor to run a sweep on: `process` (a local process pool, the default),
    `dask-local` (a Dask LocalCluster), `inline`, or, given `scheduler`, an existing Dask
    cluster. Shut down on exit; on an error or interrupt, running work is abandoned."""
    workers = workers or os.cpu_count() or 1
    if scheduler is not None:
        with _dask_pool(scheduler=scheduler) as pool:
            yield pool
    elif kind == "dask-local":
        with _dask_pool(workers=workers) as pool:
            yield pool
    elif kind == "inline":
        yield Pool(InlineExecutor(), "this process", lambda: 1)
    else:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["forumsim.experiment.pool_server"])
        slots = context.Array("q", 2 * workers, lock=False)
        taken = context.Value("i", 0)
        executor = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker,
            initargs=(slots, taken))
        processes: list = []
        _POOLS.append((processes, slots))

        def capacity() -> int:
            # Note the workers started so far, to tell later which one died.
            known = {p.pid for p in processes}
            processes.extend(p for p in list((executor._processes or {}).values())
                             if p.pid not in known)
            return workers

        try:
            yield Pool(executor, f"a local process pool of {workers}", capacity)
        except BaseException:
            _abandon(executor)
            raise
        finally:
            _POOLS.remove((processes, slots))
        executor.shutdown(wait=True)


def _abandon(executor: ProcessPoolExecutor) -> None:
    """Stop a process pool now: cancel queued runs and end the workers running others
    (Python 3.14 has `terminate_workers()` for this)."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


class SchedulerUnreachableError(SweepSetupError):
    """The Dask scheduler given cannot be reached; the message says what to check."""


def connect(stack: contextlib.ExitStack, scheduler: str):
    """A client of the Dask cluster at `scheduler`, closed with `stack`; raises
    SchedulerUnreachableError (one line) if there is none."""
    from distributed import Client

    try:
        return stack.enter_context(Client(scheduler, timeout="20s"))
    except (OSError, TimeoutError, ValueError, TypeError, ImportError) as error:
        # TypeError, ImportError: tls:// without Dask's TLS settings, ucx:// without UCX
        reason = " ".join(str(error).split()) or type(error).__name__
        raise SchedulerUnreachableError(
            f"cannot reach the Dask scheduler at {scheduler}: {reason}. Is it running, and is "
            "the address tcp://HOST:PORT (or tls:// with Dask's TLS settings)?") from None


@contextlib.contextmanager
def _dask_pool(scheduler: str | None = None, workers: int = 1) -> Iterator[Pool]:
    import logging

    import dask
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if scheduler is None:
            # Dask's sampling profiler takes the GIL every 10 ms: about 10% of a run's time
            # in this pure-Python model. The workers inherit this setting.
            stack.enter_context(dask.config.set({"distributed.worker.profile.enabled": False}))
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))
            label = f"a Dask LocalCluster of {workers}"
        else:
            client = connect(stack, scheduler)
            label = f"the Dask cluster at {scheduler}"

        def capacity() -> int:
            return max(1, sum(client.nthreads().values()))

        yield Pool(client.get_executor(pure=False), label, capacity,
                   lambda: client.scheduler_info()["workers"])
