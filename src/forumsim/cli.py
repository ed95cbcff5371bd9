"""The `forumsim` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from forumsim import __version__
from forumsim.scenario import Scenario, ScenarioError, embedded_scenario, load_scenario

app = typer.Typer(
    help="Agent-based simulation of darkweb forum ecosystems (no content: people, fora and "
         "posts are numbers).",
    no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False,
)
err = Console(stderr=True)
out = Console()


def _fail(message: str) -> None:
    """Bad input: one clear paragraph on stderr and exit code 2, no traceback."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


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
                     days: int | None = None, seed: int | None = None) -> Scenario:
    """The scenario of FILE (or the embedded default) with command-line overrides applied."""
    scenario = embedded_scenario() if file is None else load_scenario(file)
    if fora is not None:
        scenario = scenario.with_fora(fora)
    return scenario.overridden(people=people, days=days, seed=seed)


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
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder "
                       "[default: results/<scenario name>].")] = None,
    figures: Annotated[bool, typer.Option(help="Write figures as PNG.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run one scenario; write summary.json, ecosystem.parquet, forums.parquet and figures."""
    try:
        scenario = resolve_scenario(file, people, fora, days, seed)
    except ScenarioError as error:
        _fail(str(error))
    from forumsim.report import run_figures
    from forumsim.runner import run as run_scenario
    from forumsim.store import write_run

    target = out_dir or Path("results") / scenario.name
    runs = "" if not scenario.interventions else " + counterfactual"
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TaskProgressColumn(), TimeRemainingColumn(), console=err,
                  disable=quiet) as bar:
        task = bar.add_task(f"{scenario.name}: {scenario.people:,} people, "
                            f"{scenario.days} days{runs}", total=1.0)
        result = run_scenario(scenario, progress=lambda done: bar.update(task, completed=done))
    write_run(result, target, run_figures if figures else None)
    _print_summary(result.summary(), target)


@app.command()
def demo(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8765,
    host: Annotated[str, typer.Option(help="Address to bind; keep 127.0.0.1 unless the "
                                           "page must be reachable from other machines.")]
    = "127.0.0.1",
) -> None:
    """Start the interactive teaching page and print its address."""
    from forumsim.app import serve

    serve(host=host, port=port)


def _shown(key: str, value: object) -> str:
    if value is None:
        return "-"
    if key.startswith(("share_", "top1pct", "loss", "lasting", "rehomed", "top_dest",
                       "network_giant")):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _print_summary(summary: dict, target: Path) -> None:
    metrics = summary["metrics"]
    title = (f"forumsim run: {summary['scenario']} (seed {summary['seed']}, "
             f"{summary['days']} days, {summary['people']:,} people)")
    table = Table(min_width=64, title=title)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if key != "interventions":
            table.add_row(key, _shown(key, value))
    table.add_row("wall time", f"{summary['wall_seconds']:.1f} s")
    out.print(table)
    for record in metrics.get("interventions", []):
        shock = Table(min_width=64, title=f"{record['type']} on day {record['day']} "
                                          f"({record['target']}), against the counterfactual")
        shock.add_column("figure")
        shock.add_column("value", justify="right")
        for key, value in record.items():
            if key not in ("type", "day", "target", "destinations"):
                shock.add_row(key, _shown(key, value))
        out.print(shock)
    out.print(f"results written to [bold]{target}/[/]")


if __name__ == "__main__":
    app()
