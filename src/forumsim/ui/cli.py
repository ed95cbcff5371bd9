"""The `forumsim` command."""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
import time
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from forumsim.experiment.files import load_scenario
from forumsim.version import __version__
from forumsim.world.scenario import Scenario, ScenarioError, embedded_scenario

if TYPE_CHECKING:  # imported for real only by the commands that need them (start-up time)
    from forumsim.experiment.executors import SweepOutcome, Tally
    from forumsim.experiment.plan import Plan

err = Console(stderr=True)
out = Console()


# Click's base of command-line mistakes, whichever click typer uses (its own copy, lately).
CommandLineError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class OneLineErrors(TyperGroup):
    """The `forumsim` command: a mistake on the command line (an unknown option, a value out
    of range) is one line on stderr and exit code 2, like every other error; typer would
    draw it in a box."""

    def main(self, *args: object, standalone_mode: bool = True, **kwargs: object) -> object:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except CommandLineError as error:
            if type(error).__name__ == "NoArgsIsHelpError":  # a bare command: its help
                error.show()
                sys.exit(error.exit_code)
            context = getattr(error, "ctx", None)
            hint = f" (see {context.command_path} --help)" if context is not None else ""
            err.print(f"[bold red]error:[/] {escape(printable(error.format_message()))}{hint}",
                      highlight=False, soft_wrap=True)
            sys.exit(error.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    help="Agent-based simulation of darkweb forum ecosystems (no content: people, fora and "
         "posts are numbers).",
    no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False,
    # Click's own help: it rewraps each paragraph to the terminal and gives option help
    # the width left of a short option column (rich's table squeezes it to a sliver).
    rich_markup_mode=None,
    cls=OneLineErrors,
)


def printable(text: str) -> str:
    """`text` with control and other invisible characters written as escapes (\\x1b, \\n),
    so a file's contents can never move the cursor, clear the screen or break the line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _shown_path(path: str | Path) -> str:
    """A path as the output shows it: control characters escaped, no rich markup."""
    return escape(printable(str(path)))


def _fail(message: str, code: int = 2) -> None:
    """Bad input: one clear line on stderr and exit code 2 (or `code`), no traceback."""
    err.print(f"[bold red]error:[/] {escape(printable(message))}", highlight=False,
              soft_wrap=True)
    raise typer.Exit(code=code)


@contextlib.contextmanager
def _stoppable(unfinished: str) -> Iterator[None]:
    """Ctrl-C or SIGTERM inside: whatever was half-written is removed on the way out, and
    the command ends with one line saying so (`unfinished`: what became of the work) and
    the shell's code for the signal (130, 143)."""
    from forumsim.experiment.interrupts import Interrupted, handled

    try:
        with handled():
            yield
    except Interrupted as stop:
        done = (f"the output was complete and is in {stop.written}" if stop.written
                else unfinished)
        err.print(f"[bold red]interrupted[/] ({stop.name}): {escape(printable(done))}.",
                  highlight=False, soft_wrap=True)
        raise typer.Exit(stop.exit_code) from None


def _say_kept(written) -> None:
    """Say where what the user put in the way of an output, while it was written, went."""
    if written.kept is not None:
        err.print(f"note: what appeared in {_shown_path(written.folder)} while forumsim "
                  f"wrote it, where its own files go, was moved to "
                  f"{_shown_path(written.kept)}.", highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"forumsim {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """forumsim: what-if experiments on darkweb forum ecosystems."""


def resolve_scenario(file: str | None, people: int | None = None, fora: int | None = None,
                     days: int | None = None, seed: int | None = None,
                     start_from: Path | None = None) -> Scenario:
    """The scenario of FILE (or the embedded default) with command-line overrides applied."""
    scenario = embedded_scenario() if file is None else load_scenario(file)
    if start_from is not None:
        scenario = scenario.overridden(source="command line",
                                       start_from=str(start_from.absolute()))
    if scenario.start_from is not None and (people is not None or fora is not None):
        option = "--people" if people is not None else "--fora"
        raise ScenarioError(f"command line: {option} does not go with start_from "
                            f"({scenario.start_from}): the table gives the fora and the "
                            "population size.")
    if fora is not None:
        scenario = scenario.with_fora(fora)
    return scenario.overridden(source="command line", people=people, days=days, seed=seed)


@app.command()
def run(
    file: Annotated[str | None, typer.Argument(
        help="Scenario YAML file, or an embedded scenario name (default, small, large). "
             "Without it, the embedded default scenario runs.")] = None,
    people: Annotated[int | None, typer.Option(min=10, help="Number of people.")] = None,
    fora: Annotated[int | None, typer.Option(min=1, max=60,
                                            help="Number of fora at day 0.")] = None,
    days: Annotated[int | None, typer.Option(min=1, help="Days to simulate.")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed.")] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Output folder: new, empty, or an earlier run's.",
        show_default="results/<scenario name>")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace the results of an earlier run "
                         "in the output folder (never a folder forumsim did not write).")]
    = False,
    figures: Annotated[bool, typer.Option(help="Write figures as PNG.")] = True,
    export_posts: Annotated[bool, typer.Option(
        "--export-posts", help="Also write the simulated community as posts.parquet, "
        "members.parquet and events.parquet (the format `forumsim data` reads).")] = False,
    start_from: Annotated[Path | None, typer.Option(
        "--start-from", help="Build day 0 from an observed community: a posts table (.csv "
        "or .parquet) or a folder holding posts and members tables, such as a run folder "
        "written with --export-posts. Its fora, members, ranks and reply ties replace "
        "the scenario's fora, and the population size follows from it (docs/data.md); "
        "not with --people or --fora.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run one scenario; write summary.json, ecosystem.parquet, forums.parquet and figures
    (with --export-posts, also the community's posts, members and events tables)."""
    try:
        scenario = resolve_scenario(file, people, fora, days, seed, start_from)
    except ScenarioError as error:
        _fail(str(error))
    if scenario.start_from is not None:  # read and check the table before writing anything
        from forumsim.experiment.forum_data import DataError
        from forumsim.experiment.start_from import started

        try:
            scenario, _ = started(scenario, source=file or "command line")
        except (DataError, ScenarioError) as error:
            _fail(str(error))
    from forumsim.experiment.resources import NotEnoughMemoryError, check_memory
    from forumsim.experiment.store import StoreError, check_run_folder

    target = out_dir or Path("results") / scenario.name
    try:
        check_memory([scenario], workers=1, what=file or "the default scenario")
        check_run_folder(target, overwrite)
    except (NotEnoughMemoryError, StoreError) as error:
        _fail(str(error))
    from forumsim.analysis.report import run_figures
    from forumsim.experiment.runner import run as run_scenario
    from forumsim.experiment.store import write_run

    prepare_kernels(quiet)
    runs = "" if not scenario.interventions else " + counterfactual"
    with _stoppable(f"nothing was written to {target}"):
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      TaskProgressColumn(), TimeRemainingColumn(), console=err,
                      disable=quiet) as bar:
            task = bar.add_task(f"{scenario.name}: {scenario.people:,} people, "
                                f"{scenario.days} days{runs}", total=1.0)
            result = run_scenario(scenario, export_posts=export_posts,
                                  progress=lambda done: bar.update(task, completed=done))
        try:
            written = write_run(result, target, run_figures if figures else None,
                                overwrite=overwrite)
        except StoreError as error:  # the folder changed while the run ran
            _fail(str(error))
        except OSError as error:  # e.g. the disk filled up meanwhile; nothing was left behind
            _fail(f"--out {target}: cannot write the results: {error.strerror or error}; "
                  "nothing was written.", code=1)
    _print_summary(result.summary(), target)
    _say_kept(written)


def prepare_kernels(quiet: bool = False) -> None:
    """Compile the model's kernels, or load them from the disk cache: the first run after
    installing compiles them (some seconds) and says so while it does."""
    from forumsim.world import kernels

    with err.status("Compiling the model's kernels (once after installing; cached on disk "
                    "for later runs)...", spinner="dots") if not quiet else \
            contextlib.nullcontext():
        seconds = kernels.prepare()
    if seconds > 1.0 and not quiet:
        err.print(f"Compiled the model's kernels in {seconds:.0f} s; later runs load them "
                  "from the cache.")


class ExecutorKind(StrEnum):
    process = "process"
    dask_local = "dask-local"
    inline = "inline"


@app.command()
def sweep(
    file: Annotated[str, typer.Argument(help="Sweep YAML file.")],
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes.",
                                                show_default="the number of CPUs")] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Results folder.", show_default="results/<sweep name>")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the sweep in the results folder: "
                                              "finished runs are kept, not run again.")] = False,
    retry_failed: Annotated[bool, typer.Option(help="With --resume, run failed runs "
                                                    "again.")] = False,
    executor: Annotated[ExecutorKind, typer.Option(help="process: a local process pool; "
                        "dask-local: a Dask LocalCluster; inline: in this process, one run "
                        "at a time (for debugging).")] = ExecutorKind.process,
    scheduler: Annotated[str | None, typer.Option(help="Run on an existing Dask cluster, "
                         "e.g. tcp://10.0.0.5:8786.")] = None,
    runs_per_part: Annotated[int | None, typer.Option(
        min=1, help="Runs written per Parquet part.",
        show_default="up to 50, fewer for small sweeps")] = None,
    seed: Annotated[int | None, typer.Option(
        min=0, max=2**63 - 1, help="Root seed instead of the file's: the same sweep on "
                                   "seeds of your choice (use another --out).",
        show_default="the file's seed")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run every run of a sweep file (resumable); write manifest.json, runs/, series/ and
    summary.parquet into the results folder."""
    from forumsim.experiment.plan import load_sweep
    from forumsim.experiment.sweep import SweepError

    if scheduler is not None and executor != ExecutorKind.process:
        _fail("--scheduler runs the sweep on an existing Dask cluster; leave out --executor.")
    try:
        plan = load_sweep(file, seed=seed)
    except (ScenarioError, SweepError) as error:
        _fail(str(error))
    # Only a valid sweep file gets as far as the heavy imports.
    from forumsim.experiment.executors import BrokenPoolError, SweepSetupError, run_sweep
    from forumsim.experiment.interrupts import handled
    from forumsim.experiment.resources import NotEnoughMemoryError
    from forumsim.experiment.store import StoreError

    target = out_dir or Path("results") / plan.name
    start = time.monotonic()
    resume_command = (f"forumsim sweep {file} --out {target}"
                      + (f" --seed {seed}" if seed is not None else "") + " --resume")
    try:  # Ctrl-C and SIGTERM (a batch system's time limit) end the sweep cleanly
        with handled(), _sweep_progress(plan, quiet) as update:
            outcome = run_sweep(plan, target, sweep_file=file, resume=resume,
                                executor=executor.value, workers=workers, scheduler=scheduler,
                                retry_failed=retry_failed, runs_per_part=runs_per_part,
                                progress=update)
    except (StoreError, SweepSetupError, SweepError, NotEnoughMemoryError) as error:
        _fail(str(error))
    except BrokenPoolError as error:
        _fail(f"{error}; the sweep stopped, and its finished runs are kept. Continue with: "
              f"{resume_command}", code=1)
    except OSError as error:  # e.g. the disk filled up while the sweep ran
        _fail(f"--out {target}: cannot write the results: {error.strerror or error}. The "
              f"runs written so far are kept; once there is room, continue with: "
              f"{resume_command}", code=1)
    raise typer.Exit(_report_sweep(outcome, file, target, time.monotonic() - start))


@contextlib.contextmanager
def _sweep_progress(plan: Plan, quiet: bool) -> Iterator[Callable[[Tally], None]]:
    """The progress bar of a sweep, shown from its first report on (once the sweep has
    started: a sweep refused before that ends in its one line alone)."""
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("[red]{task.fields[failed]}[/] failed"),
               TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
    bar = Progress(*columns, console=err, disable=quiet)
    task = bar.add_task(f"sweep {plan.name}", total=len(plan.runs), failed=0, rate="")
    start = time.monotonic()

    def update(tally: Tally) -> None:
        bar.start()  # nothing once it runs
        elapsed = time.monotonic() - start
        rate = f"{tally.done / elapsed * 60:,.1f} runs/min" if tally.done else ""
        bar.update(task, completed=tally.earlier + tally.done, failed=tally.failed,
                   rate=rate)

    try:
        yield update
    finally:
        bar.stop()


def _report_sweep(outcome: SweepOutcome, file: str, target: Path, seconds: float) -> int:
    """Print what the session did and the failed runs; the exit code."""
    tally, store = outcome.tally, outcome.store
    finished = len(store.finished())
    out.print(f"{tally.done:,} runs done in {seconds:,.1f} s ({tally.failed:,} failed); "
              f"{finished:,} of {tally.planned:,} planned runs are in "
              f"[bold]{_shown_path(target)}/[/]")
    if tally.failures:
        table = Table(title="failed runs (recorded in summary.parquet with status 'failed')")
        for column in ("run", "seed", "parameters", "error"):
            table.add_column(column, overflow="fold")
        for row in tally.failures[:20]:
            parameters = ", ".join(f"{k}={row[k]}" for k in store.manifest["parameters"])
            table.add_row(str(row["run_id"]), str(row["seed"]), parameters, str(row["error"]))
        out.print(table)
        if len(tally.failures) > 20:
            out.print(f"... and {len(tally.failures) - 20} more.")
    if outcome.interrupted is not None:
        err.print(f"interrupted: the {finished:,} finished runs are kept. Continue with\n"
                  f"  forumsim sweep {_shown_path(file)} --out {_shown_path(target)} --resume",
                  highlight=False)
        return 128 + outcome.interrupted
    if finished:
        out.print(f"next, the report of the finished runs:\n  forumsim report {target}",
                  highlight=False, soft_wrap=True)  # one line, to copy whole
    return 1 if tally.failures else 0


@app.command()
def report(
    folder: Annotated[Path, typer.Argument(help="Results folder of a sweep.")],
    reference: Annotated[str | None, typer.Option(
        help="Policy every other is contrasted with.",
        show_default="the sweep file's reference, or its first policy")] = None,
    all_pairs: Annotated[bool, typer.Option(help="Contrast every pair of policies.")] = False,
    goal: Annotated[list[str] | None, typer.Option(
        help="A goal, OUTCOME>=X or OUTCOME<=X (repeatable): the share of scenarios in "
             "which each policy meets it, and where it fails (PRIM).")] = None,
) -> None:
    """Write report.md and report.html (with figures/) for a sweep: outcomes with 95%
    bootstrap intervals, paired effects of interventions, key-player curves, sensitivity;
    for policies x uncertainties (ranges, or a calibration's posterior), paired contrasts,
    each policy's chance of being best, robustness and regret, goals and discovery."""
    from forumsim.analysis.sweep_report import ReportError, parse_goal, write_report

    try:
        goals = [parse_goal(g) for g in goal or []]
        with _stoppable(f"the report in {folder} was not finished (its figures written so "
                        "far are whole; report.md and report.html are as they were)"):
            paths = write_report(folder, reference=reference, all_pairs=all_pairs, goals=goals)
    except ReportError as error:
        _fail(str(error))
    except OSError as error:  # e.g. a full disk
        _fail(f"{folder}: cannot write the report: {error.strerror or error}.", code=1)
    out.print(f"report written: [bold]{paths[0]}[/], [bold]{paths[1]}[/] "
              f"({len(paths) - 2} figures in {folder / 'figures'}/)")


@app.command()
def discover(
    folder: Annotated[Path, typer.Argument(help="Results folder of a sweep.")],
    outcome: Annotated[str, typer.Option(help="The outcome (a column of summary.parquet), "
                                              "e.g. policy_lasting_loss.")],
    below: Annotated[float | None, typer.Option(help="Runs of interest: the outcome is "
                                                     "below this.")] = None,
    above: Annotated[float | None, typer.Option(help="Runs of interest: the outcome is "
                                                     "above this.")] = None,
    policy: Annotated[str | None, typer.Option(help="Only the runs of this policy.")] = None,
    min_coverage: Annotated[float, typer.Option(min=0.05, max=1.0, help="The chosen box "
                            "holds at least this share of the runs of interest.")] = 0.5,
) -> None:
    """Scenario discovery with PRIM (EMA Workbench): the box of uncertain conditions in
    which the outcome falls below or above a threshold; prints the coverage-density
    trade-off, the chosen box and the feature scores."""
    if (below is None) == (above is None):
        _fail("give exactly one of --below X or --above X.")
    from forumsim.analysis.discovery import DiscoveryError, cases_of
    from forumsim.analysis.discovery import discover as find_box
    from forumsim.analysis.sweep_report import ReportError, load_results

    try:
        results = load_results(folder)
    except ReportError as error:
        _fail(str(error))
    runs = results.ok
    if outcome not in runs:
        known = [c for c in runs.columns if c not in ("run_id", "point", "replicate", "seed",
                                                      "status", "error")]
        close = difflib.get_close_matches(outcome, known, n=3)
        _fail(f"--outcome {outcome!r}: no such column in {folder}/summary.parquet"
              + (f" (closest: {', '.join(close)})" if close else "") + ".")
    if policy is not None:
        if policy not in results.policies:
            _fail(f"--policy {policy!r}: not a policy of this sweep ("
                  f"{', '.join(results.policies) or 'it has no policies'}).")
        runs = runs[runs["policy"] == policy]
    names = results.manifest.get("uncertainties") or [
        n for n in results.manifest["parameters"] if n != "policy"]
    names = [n for n in names if runs[n].nunique() > 1]
    side = f"below {below:g}" if below is not None else f"above {above:g}"
    try:
        found = find_box(runs[names], cases_of(runs[outcome], below, above),
                         seed=results.sweep.seed % 2**32, min_coverage=min_coverage)
    except DiscoveryError as error:
        _fail(f"{folder}: {outcome} {side}: {error}.")
    _print_discovery(found, outcome, side, policy)


def _print_discovery(found: object, outcome: str, side: str, policy: str | None) -> None:
    from forumsim.analysis.labels import parameter

    which = f" under policy '{policy}'" if policy else ""
    out.print(f"[bold]{outcome} {side}{which}[/]: {found.cases} of {found.runs} runs")
    trade = Table(title="PRIM peeling trajectory (coverage-density trade-off)")
    for column in ("box", "coverage", "density", "mass", "restricted", ""):
        trade.add_column(column, justify="right")
    t = found.tradeoff
    step = max(1, len(t) // 15)  # about 15 rows, the chosen box always among them
    for i in sorted({*range(0, len(t), step), len(t) - 1, found.chosen}):
        row = t.iloc[i]
        trade.add_row(str(i), f"{row['coverage']:.2f}", f"{row['density']:.2f}",
                      f"{row['mass']:.2f}", str(int(row["res_dim"])),
                      "[bold]<- chosen[/]" if i == found.chosen else "")
    out.print(trade)
    box = found.box
    limits = Table(title=f"chosen box {found.chosen}: coverage {box['coverage']:.0%}, density "
                         f"{box['density']:.0%}, {int(box['n'])} runs")
    for column in ("condition", "in the box", "in all runs"):
        limits.add_column(column)
    for _, row in found.limits.iterrows():
        limits.add_row(parameter(row["condition"]), row["box"], row["in all runs"])
    if found.limits.empty:
        limits.add_row("(none)", "the whole space", "")
    out.print(limits)
    scores = Table(title="feature scores (extra trees)")
    scores.add_column("condition")
    scores.add_column("score", justify="right")
    for name, value in found.scores.items():
        scores.add_row(parameter(name), f"{value:.3f}")
    out.print(scores)


class ExportFormat(StrEnum):
    csv = "csv"


@app.command()
def export(
    folder: Annotated[Path, typer.Argument(help="Results folder of a sweep.")],
    format: Annotated[ExportFormat, typer.Option(help="File format.")] = ExportFormat.csv,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Folder for the exported files: new, empty, or an earlier export's.",
        show_default="DIR/csv")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an earlier export in --out "
                         "(never a folder forumsim did not write).")] = False,
) -> None:
    """Write a sweep's runs table and daily series as CSV in the long layout of NetLogo's
    BehaviorSpace (run, parameters, day, measures), with export.json, the sweep's
    metadata."""
    from forumsim.experiment.export import export_csv
    from forumsim.experiment.store import StoreError

    target = out_dir or folder / "csv"
    with _stoppable(f"nothing was written to {target}"):
        try:
            written = export_csv(folder, target, overwrite=overwrite)
        except StoreError as error:
            _fail(str(error))
        except OSError as error:  # e.g. a full disk; nothing was left behind
            _fail(f"--out {target}: cannot write the export: {error.strerror or error}; "
                  "nothing was written.", code=1)
    out.print(f"exported to [bold]{_shown_path(target)}/[/]: "
              + ", ".join(p.name for p in written.files))
    _say_kept(written)


@app.command()
def describe(
    file: Annotated[str | None, typer.Argument(
        help="Scenario or sweep YAML file, or an embedded scenario name.",
        show_default="the embedded default scenario")] = None,
) -> None:
    """Print the fully resolved scenario (every parameter, with its meaning and unit); for
    a sweep, its design and parameter space, then its base scenario."""
    from forumsim.experiment.plan import load_sweep
    from forumsim.experiment.sweep import SweepError, read_yaml

    try:
        is_sweep = (file is not None and Path(file).is_file()
                    and isinstance(data := read_yaml(Path(file)), dict) and "base" in data)
        if is_sweep:
            plan = load_sweep(file)
            out.print(describe_sweep(plan), highlight=False, soft_wrap=True, markup=False)
            return
        scenario = embedded_scenario() if file is None else load_scenario(file)
    except (ScenarioError, SweepError) as error:
        _fail(str(error))
    out.print(describe_scenario(scenario), highlight=False, soft_wrap=True, markup=False)


def describe_scenario(model: BaseModel, indent: int = 0) -> str:
    """A model as YAML that loads back to it, each field commented with its description."""
    lines = []
    pad = "  " * indent
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        note = f"  # {info.description}" if info.description else ""
        if isinstance(value, BaseModel):
            lines += [f"{pad}{name}:{note}", describe_scenario(value, indent + 1)]
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            lines.append(f"{pad}{name}:{note}")
            lines += [f"{pad}  - {_flow(item.model_dump(mode='json'))}" for item in value]
        else:
            lines.append(f"{pad}{name}: {_flow(value)}{note}")
    return "\n".join(lines)


def _flow(value: object) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6)
    return text.removesuffix("\n...\n").strip()


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def describe_sweep(plan: Plan) -> str:
    """A sweep's design, parameter space and plan size, then its resolved base scenario;
    for policies x uncertainties, the cross of the two."""
    sweep = plan.sweep
    if sweep.policies:
        size = (f"{_count(len(sweep.policies), 'policy').replace('policys', 'policies')} x "
                f"{_count(sweep.scenarios_count(), 'scenario')} x "
                f"{_count(sweep.replicates, 'replicate')} = {_count(len(plan.runs), 'run')}")
        seeds = (", common random numbers across policies"
                 + (" and scenarios" if sweep.common_seeds else ""))
    else:
        size = (f"{_count(len(plan.points), 'point')} x "
                f"{_count(sweep.replicates, 'replicate')} = {_count(len(plan.runs), 'run')}")
        seeds = ", common seeds across points" if sweep.common_seeds else ""
    design = "posterior draws" if sweep.posterior else f"design {sweep.design}"
    lines = [f"# sweep {plan.name}: {design}, {size}; root seed {sweep.seed}{seeds}"]
    if sweep.description:
        lines.append(f"# {sweep.description.strip()}")
    if sweep.policies:
        reference = sweep.reference or next(iter(sweep.policies))
        lines.append(f"# policies (levers; each runs on every scenario; reference "
                     f"'{reference}'):")
        for name, fields in sweep.levers().items():
            shown = (_flow(fields["interventions"]) if list(fields) == ["interventions"]
                     else _flow(fields))
            label = sweep.policy_label(name)
            lines.append(f"#   {name}{f' ({label!r})' if label != name else ''}: {shown}")
    if plan.posterior is not None:
        drawn = plan.posterior
        lines.append(f"# uncertainties: {_count(len(drawn.values), 'joint draw')} (the "
                     f"scenarios) from generation {drawn.generation} of the posterior "
                     f"{drawn.file} ({_count(drawn.population, 'particle')}, drawn by "
                     f"weight), of: {', '.join(drawn.names)}")
    else:
        kind = "uncertainties (sampled into scenarios)" if sweep.uncertainties else "parameters"
        lines.append(f"# {kind}:")
    for name, space in sweep.space.items():
        variants = getattr(space, "variants", None)
        if variants is not None:  # named alternatives: say what each one is
            lines.append(f"#   {name}: {_count(len(variants), 'variant')}:")
            lines += [f"#     {label}: {_flow(value)}" for label, value in variants.items()]
            continue
        shown = (f"{len(space.levels())} values: "
                 + ", ".join(str(label) for label, _ in space.levels())
                 if hasattr(space, "levels") else _flow(space.model_dump(mode="json")))
        lines.append(f"#   {name}: {shown}")
    for outcome, goal in sweep.goals.items():
        lines.append(f"# goal: {outcome} {goal}")
    lines.append(f"# base scenario '{sweep.base}'" + (" with fixed: " + _flow(sweep.fixed)
                                                      if sweep.fixed else "") + ":")
    return "\n".join([*lines, describe_scenario(plan.base)])


@app.command()
def validate(
    quick: Annotated[bool, typer.Option("--quick", help="3 replicates per scenario instead "
                                                      "of 10, each pattern tested on its "
                                                      "mean (a third of the time).")]
    = False,
    replicates: Annotated[int | None, typer.Option(min=2, max=1000, help="Replicates per "
                                                   "scenario (overrides --quick; fewer "
                                                   "than 5 test means, as --quick does).",
                                                   show_default="10")] = None,
    workers: Annotated[int, typer.Option(min=1, max=256, help="Worker processes.")] = 2,
    seeds: Annotated[int, typer.Option(min=0, max=2**62, help="First seed of the replicates "
                                       "(seeds START, START + 1, ...): check the model on "
                                       "seeds of your choice.", metavar="START",
                                       show_default="5000, the validation seeds")] = 5000,
    write: Annotated[Path | None, typer.Option(help="Also write the table as Markdown to "
                                                    "this file, e.g. docs/validation.md.",
                                               show_default="write nothing")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a table written earlier by this "
                         "command (never a file it did not write).")] = False,
) -> None:
    """Check the model against published patterns over replicates of the default scenario,
    a takedown of its largest forum (plain, and publicized with arrests from its seized
    data) and 20 arrests by betweenness, and print the table;
    exit 0 only if all pass. Each pattern's source is given in the table: participation
    (van der Bruggen et al. 2022; da Cunha et al. 2020), forum sizes and lifetimes
    (da Cunha et al. 2020; Fonhof et al. 2019; van der Bruggen & Blokland 2020),
    displacement and recovery after closures (ElBahrawy et al. 2020; Van Buskirk et al.
    2017; Soska & Christin 2015; Collier et al. 2019; Vu et al. 2024, 2025) and key
    players (Bright et al. 2017; Borgatti 2006). The full run (10 replicates, interval
    tests) takes about 10 minutes on 2 cores."""
    from forumsim.analysis.validation_table import check_table_path
    from forumsim.experiment.folders import StoreError

    if write is not None:
        try:  # before anything heavy, so that a refused --write answers at once
            check_table_path(write, overwrite)
        except StoreError as error:
            _fail(str(error))
    from forumsim.analysis.validate import (
        KINDS,
        QUICK_REPLICATES,
        simulated,
        timed_validate,
        write_report,
    )

    n = replicates or (QUICK_REPLICATES if quick else 10)
    command = "forumsim validate" + (f" --replicates {n}" if replicates else
                                     " --quick" if quick else "")
    if seeds != 5000:
        command += f" --seeds {seeds}"
    if write is not None:
        command += f" --write {write}"
    with _stoppable("nothing was written"), Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
            TimeRemainingColumn(), console=err) as bar:
        task = bar.add_task(f"validation: {n} replicates x {len(KINDS)} scenarios",
                            total=len(KINDS) * n)
        rows, seconds = timed_validate(
            replicates=n, workers=workers, first_seed=seeds,
            progress=lambda done, total: bar.update(task, completed=done))
    table = Table(title=f"Validation against published patterns ({n} replicates, seeds "
                        f"{seeds} to {seeds + n - 1}, {seconds:.0f} s)")
    for column in ("pattern", "source", "target", "test", "simulated (95% CI)", "result"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["pattern"], row["source"], row["target"], row["test"],
                      simulated(row), "[green]pass[/]" if row["passed"] else "[bold red]FAIL[/]")
    out.print(table)
    passed = sum(row["passed"] for row in rows)
    where = ""
    if write is not None:
        try:
            write_report(rows, write, n, seconds, command, seeds, overwrite)
        except StoreError as error:
            _fail(str(error))
        except OSError as error:  # e.g. the disk filled up meanwhile
            _fail(f"--write {write}: cannot be written: {error.strerror or error}; nothing "
                  "was written.", code=1)
        where = f"; table written to {write}"
    out.print(f"{passed} of {len(rows)} patterns pass{where}")
    raise typer.Exit(0 if passed == len(rows) else 1)


data_app = typer.Typer(
    help="A community's posts table (CSV or Parquet, the format `run --export-posts` "
         "writes; see docs/data.md): check it, or summarise it into targets.",
    short_help="Check a community's posts table, or summarise it into targets.",
    no_args_is_help=True, rich_markup_mode=None)
app.add_typer(data_app, name="data")
TablePaths = Annotated[list[Path], typer.Argument(
    help="Posts, members and events tables (.csv or .parquet), or folders holding them "
         "(e.g. a run folder written with --export-posts).")]


def _load_community(paths: list[Path]):
    """The checked tables of `paths`; bad tables stop the command with one line."""
    from forumsim.experiment.forum_data import DataError, load_community

    try:
        return load_community(paths)
    except DataError as error:
        _fail(str(error))


@data_app.command()
def check(paths: TablePaths) -> None:
    """Check posts, members and events tables and print what they hold; a table that
    cannot be used is named with its row and column (exit 2)."""
    community = _load_community(paths)
    posts = community.posts
    rows = [("posts", f"{len(posts):,}", "posts"),
            ("authors", f"{posts['author'].nunique():,}", "people"),
            ("fora", f"{posts['forum'].nunique():,}", "fora"),
            ("threads", f"{posts['thread'].nunique():,}", "threads"),
            ("replies", f"{int((posts['parent'] >= 0).sum()):,}", "posts"),
            ("first post", str(posts["time"].iloc[0]) if len(posts) else "-", "UTC"),
            ("last post", str(posts["time"].iloc[-1]) if len(posts) else "-", "UTC")]
    if community.members is not None:
        rows.append(("memberships", f"{len(community.members):,}", "rows"))
    if community.events is not None:
        rows.append(("events", f"{len(community.events):,}", "events"))
    out.print(_figures_table(f"{len(community.sources)} tables: all usable", rows))


@data_app.command()
def summarize(
    paths: TablePaths,
    out_file: Annotated[Path, typer.Option(
        "--out", help="Targets file to write (JSON).")] = Path("targets.json"),
    overwrite: Annotated[bool, typer.Option(help="Replace targets written earlier by this "
                         "command (never a file it did not write).")] = False,
) -> None:
    """Compute the statistics a researcher may share (posts per author, monthly activity
    and retention, threads and reply depth, the reply network, fora, takedowns) and write
    them to a targets file; no post, author or thread leaves, only aggregates."""
    from forumsim.experiment.folders import StoreError
    from forumsim.experiment.targets import check_targets_path, write_targets

    try:  # before the work, so a refused --out costs nothing
        check_targets_path(out_file, overwrite)
    except StoreError as error:
        _fail(str(error))
    with _stoppable(f"nothing was written to {out_file}"):
        community = _load_community(paths)
        from forumsim.experiment.targets import statistic_unit
        from forumsim.experiment.targets import summarize as summarize_community

        targets = summarize_community(community)
        try:
            write_targets(targets, out_file, overwrite)
        except StoreError as error:
            _fail(str(error))
        except OSError as error:  # e.g. the disk filled up meanwhile
            _fail(f"--out {out_file}: cannot be written: {error.strerror or error}; nothing "
                  "was written.", code=1)
    rows = [(name, _shown_statistic(value), statistic_unit(name)) for name, value in
            targets["statistics"].items()]
    counts = targets["counts"]
    out.print(_figures_table(f"{counts['posts']:,} posts by {counts['authors']:,} authors on "
                             f"{counts['fora']:,} fora, {counts['months']} months", rows))
    out.print(f"targets written to [bold]{_shown_path(out_file)}[/]")


@app.command()
def calibrate(
    file: Annotated[str, typer.Argument(help="Calibration YAML file (see "
                                             "docs/calibration.md).")],
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Calibration folder: new, empty, or an earlier calibration's (with "
        "--resume).", show_default="results/<calibration name>")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=256, help="Worker processes.",
                                                show_default="1")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Run the simulations on an existing "
                         "Dask cluster, e.g. tcp://10.0.0.5:8786 (instead of --workers).")]
    = None,
    resume: Annotated[bool, typer.Option(help="Continue the calibration in --out from its "
                                              "history, up to the file's generations (on a "
                                              "finished one: rewrite its report).")]
    = False,
) -> None:
    """Fit a scenario's parameters to a community's statistics by ABC-SMC (pyabc); write
    posterior.parquet, the pyabc history, calibrated.yaml (a scenario at the posterior
    median), predictive.parquet and check.json (the statistics of posterior draws against
    the targets) and report.html."""
    from forumsim.experiment.calibration import (
        CalibrationError,
        CalibrationFolderError,
        check_folder,
        load_calibration,
    )

    if workers is not None and scheduler is not None:
        _fail("--workers and --scheduler exclude each other: --workers runs local processes, "
              "--scheduler the workers of a Dask cluster. Give one.")
    workers = workers or 1
    try:
        problem = load_calibration(file)
    except CalibrationError as error:
        _fail(str(error))
    target = out_dir or Path("results") / problem.name
    from forumsim.experiment.folders import StoreError, check_writable
    from forumsim.experiment.resources import NotEnoughMemoryError, check_memory

    try:
        check_folder(target, problem, resume)
        check_writable(target, target, CALIBRATION_ROOM)
        if scheduler is None:
            check_memory(problem.extremes(), workers, file)
    except (CalibrationFolderError, StoreError, NotEnoughMemoryError) as error:
        _fail(str(error))
    from forumsim.experiment.executors import SchedulerUnreachableError
    from forumsim.experiment.inference import calibrate
    where = f"the Dask cluster at {scheduler}" if scheduler else f"{workers} workers"

    def started() -> None:
        err.print(f"calibrating {len(problem.calibration.parameters)} parameters of "
                  f"'{problem.base.name}' to {len(problem.calibration.fit)} statistics "
                  f"({problem.calibration.population} particles, up to "
                  f"{problem.calibration.generations} generations, {where})",
                  highlight=False)

    def line(generation) -> None:
        err.print(f"generation {generation.index}: epsilon {generation.epsilon:.4g}, "
                  f"acceptance {generation.acceptance:.1%}, {generation.simulations:,} "
                  f"simulations so far ({generation.seconds:.0f} s)", highlight=False)

    resume_command = f"forumsim calibrate {file} --out {target} --resume"
    with _stoppable("the generations finished so far are kept; continue with: "
                    + resume_command):
        try:
            done = calibrate(problem, target, workers=workers, resume=resume, progress=line,
                             scheduler=scheduler, started=started)
        except (CalibrationFolderError, SchedulerUnreachableError, StoreError,
                NotEnoughMemoryError) as error:
            _fail(str(error))
        except OSError as error:  # a full or read-only disk while it ran
            _fail(f"--out {target}: cannot write the calibration: {error.strerror or error}. "
                  "The generations finished so far are kept; once it can be written, "
                  f"continue with: {resume_command}", code=1)
        if not done:
            err.print(f"the calibration already has its {problem.calibration.generations} "
                      "generations; raise 'generations' in the file to continue it.",
                      highlight=False)
        if not (target / "posterior.parquet").exists():
            _fail(f"--out {target}: no generation was completed, so there is no posterior to "
                  "report.", code=1)
        from forumsim.analysis.calibration_report import predictive, write_report

        draws = problem.calibration.predictive
        if draws:
            err.print(f"posterior predictive check: {draws} simulations at posterior draws",
                      highlight=False)
        try:
            report = write_report(problem, target, predictive(
                problem, target, workers=workers, scheduler=scheduler))
        except OSError as error:
            _fail(f"--out {target}: cannot write the report: {error.strerror or error}; the "
                  f"posterior is kept. Once it can be written: {resume_command}", code=1)
    _print_check(target)
    out.print(f"report written to [bold]{_shown_path(report)}[/]", highlight=False)


CALIBRATION_ROOM = 64 << 20  # bytes free a calibration needs (its history and report)


def _print_check(target: Path) -> None:
    import json

    check = json.loads((target / "check.json").read_text())
    source = check.get("source", "accepted simulations")
    table = Table(title=f"posterior predictive check: {source} of generation "
                        f"{check['generation']}, 90% intervals")
    for column in ("statistic", "role", "target", "median", "interval", "inside"):
        table.add_column(column)
    for name, row in check["statistics"].items():
        interval = ("-" if row["low"] is None
                    else f"{_shown_statistic(row['low'])} to {_shown_statistic(row['high'])}")
        table.add_row(name, row["role"], _shown_statistic(row["target"]),
                      _shown_statistic(row["median"]), interval,
                      {True: "yes", False: "[bold red]no[/]", None: "-"}[row["inside"]])
    out.print(table)
    out.print(f"results written to [bold]{_shown_path(target)}/[/]; the calibrated "
              f"scenario runs with:\n  forumsim run {_shown_path(target / 'calibrated.yaml')}",
              highlight=False, soft_wrap=True)


def _shown_statistic(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


@app.command()
def demo(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8765,
    host: Annotated[str, typer.Option(help="Address to bind; keep 127.0.0.1 unless the "
                                           "page must be reachable from other machines.")]
    = "127.0.0.1",
    max_sessions: Annotated[int, typer.Option(min=1, max=1000, help="Browser tabs served at "
                            "once (each runs its own ecosystem); the next visitor is told "
                            "the page is full.")] = 40,
) -> None:
    """Start the interactive teaching page and print its address."""
    if os.environ.get("PYTHONMALLOC") != "malloc":
        # Python's own allocator keeps the memory of a closed tab's models in arenas that
        # other objects still use; the system's gives it back (ui/sessions.py). It is
        # chosen as Python starts: start again with it.
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]],
                  {**os.environ, "PYTHONMALLOC": "malloc"})
    from forumsim.ui.app import serve

    serve(host=host, port=port, max_sessions=max_sessions)


UNITS = {
    "registered_people": "people", "online_fora": "fora", "fora_ever": "fora",
    "fora_founded": "fora", "posts_total": "posts", "shares_total": "shares",
    "active_people_mean_last30": "people per day", "arrested": "people", "ties": "ties",
    "network_fragmentation": "Borgatti's F, 0 to 1",
    "network_fragmentation_counterfactual": "Borgatti's F, 0 to 1",
    "loss": "share of the counterfactual", "lasting_loss": "share of the counterfactual",
    "loss_random": "share of the counterfactual", "days_to_recovery": "days",
    "triangle": "person-days", "displaced": "people", "successor_fora": "fora",
    "kpd": "ratio of losses",
}


def _unit(key: str) -> str:
    """The unit of an end-of-run figure (shares are shown in percent)."""
    if key in UNITS:
        return UNITS[key]
    if key.startswith(("share_", "top1pct", "rehomed", "top_dest", "network_giant")):
        return "share"
    return ""


def _shown(key: str, value: object) -> str:
    if value is None:
        return "-"
    unit = _unit(key)
    if unit == "share" or unit.startswith("share of"):  # not "shares", a count
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _figures_table(title: str, rows: list[tuple[str, str, str]]) -> Table:
    table = Table(min_width=64, title=title)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    for row in rows:
        table.add_row(*row)
    return table


def _print_summary(summary: dict, target: Path) -> None:
    metrics = summary["metrics"]
    title = (f"forumsim run: {summary['scenario']} (seed {summary['seed']}, "
             f"{summary['days']} days, {summary['people']:,} people)")
    rows = [(key, _shown(key, value), _unit(key)) for key, value in metrics.items()
            if key not in ("interventions", "policy")]
    rows.append(("wall time", f"{summary['wall_seconds']:.1f}", "s"))
    out.print(_figures_table(title, rows))
    records = metrics.get("interventions", [])
    for record in records + ([metrics["policy"]] if len(records) > 1 else []):
        rows = [(key, _shown(key, value), _unit(key)) for key, value in record.items()
                if key not in ("type", "day", "target", "destinations", "counterfactual")]
        against = ("the same run without any shock" if record is metrics.get("policy") else
                   "the same run without this shock" if len(records) > 1 else
                   "the counterfactual")
        out.print(_figures_table(f"{record['type']} on day {record['day']} "
                                 f"({record['target']}), against {against}", rows))
    out.print(f"results written to [bold]{_shown_path(target)}/[/]")


if __name__ == "__main__":
    app()
