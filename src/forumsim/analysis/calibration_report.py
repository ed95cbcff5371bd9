"""The report of a calibration: report.html in the calibration folder, self-contained
(figures embedded as PNG), with the marginal and pairwise posteriors of the last
generation, a table of posterior medians and 90% credible intervals, how the posterior
narrowed over the generations, and a posterior predictive check.

The predictive check simulates the model again at draws from the posterior, each with a
fresh seed (the seed of its ABC simulation would only repeat the simulation that got the
particle accepted), and says for each fitted and held-out statistic whether the target
lies within the draws' 90% interval. The draws go to predictive.parquet; check.json is
rewritten from them.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False  # names from users' tables drawn as written
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from forumsim.experiment.calibration import Problem  # noqa: E402
from forumsim.experiment.inference import (  # noqa: E402
    GENERATIONS,
    statistics,
    weighted_quantile,
    write_atomically,
    write_json,
)
from forumsim.experiment.targets import statistic_unit  # noqa: E402

PREDICTIVE = "predictive.parquet"
REPORT = "report.html"
INTERVAL = (0.05, 0.5, 0.95)  # the 90% interval and the median
POSTERIOR = "#1f77b4"
TARGET = "#d62728"


def posterior_of(out: Path, problem: Problem) -> pd.DataFrame:
    """The last generation's particles and weights (weights summing to 1)."""
    posterior = pd.read_parquet(out / "posterior.parquet")
    last = posterior[posterior["generation"] == posterior["generation"].max()]
    return last.reset_index(drop=True)


def predictive_seed(problem: Problem, generation: int, draw: int) -> int:
    """The seed of one predictive draw: from the root seed, the generation and the draw's
    position, never that of the particle's own ABC simulation."""
    key = json.dumps(["predictive", problem.calibration.seed, generation, draw])
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") >> 1


def predictive(problem: Problem, out: Path, workers: int = 1, scheduler: str | None = None,
               progress: Callable[[int, int], None] | None = None) -> pd.DataFrame | None:
    """Simulate the model at `predictive` draws from the last generation (by weight) and
    write predictive.parquet; draws already there for this generation are reused. None if
    the file asks for no draws."""
    wanted = problem.calibration.predictive
    if wanted == 0:
        return None
    last = posterior_of(out, problem)
    generation = int(last["generation"].iloc[0])
    names = list(problem.calibration.parameters)
    path = out / PREDICTIVE
    if path.exists():
        kept = pd.read_parquet(path)
        if len(kept) == wanted and (kept["generation"] == generation).all():
            return kept
    rng = np.random.default_rng([problem.calibration.seed, generation])
    chosen = rng.choice(len(last), size=wanted, replace=True,
                        p=last["weight"].to_numpy() / last["weight"].sum())
    draws = [({name: float(last[name].iloc[i]) for name in names},
              predictive_seed(problem, generation, k)) for k, i in enumerate(chosen)]
    results = _simulate_all(problem, draws, workers, scheduler, progress)
    frame = pd.DataFrame([{"draw": k, "generation": generation, "seed": seed, **values,
                           **results[k]} for k, (values, seed) in enumerate(draws)])
    write_atomically(path, lambda p: frame.to_parquet(p, index=False))
    return frame


def _simulate_all(problem: Problem, draws: list[tuple[dict, int]], workers: int,
                  scheduler: str | None,
                  progress: Callable[[int, int], None] | None) -> list[dict]:
    if workers == 1 and scheduler is None:
        results = []
        for values, seed in draws:
            results.append(statistics(problem, values, seed))
            if progress is not None:
                progress(len(results), len(draws))
        return results
    from concurrent.futures import as_completed

    from forumsim.experiment import interrupts
    from forumsim.experiment.executors import open_pool

    with open_pool("process", workers=workers, scheduler=scheduler) as pool:
        with interrupts.held():  # workers being started are ones the pool knows of
            futures: dict[Future, int] = {
                pool.executor.submit(statistics, problem, values, seed): k
                for k, (values, seed) in enumerate(draws)}
        results: list[dict | None] = [None] * len(draws)
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            if progress is not None:
                progress(done, len(draws))
    return results


def predictive_check(problem: Problem, draws: pd.DataFrame) -> dict:
    """check.json's content from the predictive draws: per statistic its target, the
    draws' median and 90% interval, and whether the target lies inside."""
    check = {"generation": int(draws["generation"].iloc[0]), "interval": 0.9,
             "source": f"{len(draws)} posterior predictive draws", "statistics": {}}
    for name in problem.targets:
        values = draws[name].to_numpy(dtype=float)
        known = values[np.isfinite(values)]
        low, mid, high = (float(np.quantile(known, q)) if len(known) else None
                          for q in INTERVAL)
        target = problem.targets[name]
        check["statistics"][name] = {
            "role": "fitted" if name in problem.calibration.fit else "held out",
            "target": target, "median": mid, "low": low, "high": high,
            "inside": None if low is None else bool(low <= target <= high),
            "undefined_draws": int(len(values) - len(known))}
    return check


def write_report(problem: Problem, out: Path, draws: pd.DataFrame | None) -> Path:
    """report.html (and, with draws, check.json from them) in the calibration folder."""
    out = Path(out)
    last = posterior_of(out, problem)
    generations = json.loads((out / GENERATIONS).read_text())["generations"] \
        if (out / GENERATIONS).exists() else []
    everything = pd.read_parquet(out / "posterior.parquet")
    names = list(problem.calibration.parameters)
    blocks: list[tuple] = [("h1", f"Calibration report: {problem.name}"), ("p", _intro(
        problem, last, generations))]
    blocks += [("h2", "Posterior"),
               ("p", "Each fitted scenario parameter (a field of the scenario, by its dotted "
                     "path: what the model is told) with its prior, the posterior median and "
                     "90% credible interval (5% to 95%) of the last generation. 'Narrowed "
                     "to': the width of that interval over the width of the prior's central "
                     "90% (on a log scale for log-uniform priors): near 1, the targets say "
                     "little about the parameter; the smaller, the more they pin it down."),
               ("table", _posterior_table(problem, last)),
               ("fig", _marginals(problem, last), "Marginal posteriors of the last generation: "
                "weighted histogram of the particles, a weighted kernel density (line), the "
                "flat prior (dashed; the plot spans the prior's range), the median (solid) "
                "and the 90% credible interval (shaded). Log-uniform priors are drawn on a "
                "log axis.")]
    if len(names) > 1:
        blocks.append(("fig", _pairs(problem, last), "Pairwise posteriors: each particle of "
                       "the last generation (area by weight) and weighted density contours; "
                       "the axes span the priors' ranges."))
    blocks.append(("fig", _narrowing(problem, everything), "The posterior over the "
                   "generations: weighted median and 90% interval of each parameter; the "
                   "grey band is the prior's range."))
    blocks.append(("h2", "Posterior predictive check"))
    if draws is None:
        blocks.append(("p", "No predictive draws were asked for (predictive: 0 in the "
                       "calibration file)."))
    else:
        check = predictive_check(problem, draws)
        write_json(check, out / "check.json")
        inside = [row["inside"] for row in check["statistics"].values()]
        blocks += [("p", f"The model was run again at {len(draws)} draws from the last "
                    "generation's posterior (by weight), each with a seed of its own, and "
                    "summarised like the targets. A target outside the draws' 90% interval "
                    "is a statistic the calibrated model does not reproduce; for held-out "
                    "statistics that is a finding about the model. The statistics are "
                    "computed from posts tables, the data's and the model's export alike "
                    "(forumsim data summarize; docs/data.md): a statistic may share a word "
                    "with a parameter (reply_share, the share of posts with a reply_to, and "
                    "behaviour.reply_share, the share of the model's posts that answer "
                    "someone) and still differ from it. "
                    f"{sum(v is True for v in inside)} of {len(inside)} targets lie inside."),
                   ("table", _check_table(check)),
                   ("fig", _predictive_figure(problem, draws, check), "Each statistic's "
                    "predictive draws (dots), their 90% interval (bar) and median (tick), "
                    "as errors from the target (red line at 0) in units of the statistic's "
                    "scale in the distance (its tolerance, or the target's size).")]
    text = _html(blocks, problem.name)
    write_atomically(out / REPORT, lambda p: p.write_text(text, encoding="utf-8"))
    return out / REPORT


def _intro(problem: Problem, last: pd.DataFrame, generations: list[dict]) -> str:
    calibration = problem.calibration
    text = (f"{len(calibration.parameters)} parameters of the scenario "
            f"'{problem.base.name}' ({problem.base.people:,} people, {problem.base.days} "
            f"days) fitted by ABC-SMC to {len(calibration.fit)} statistics "
            f"({', '.join(calibration.fit)}) from {problem.source}; held out: "
            f"{', '.join(calibration.hold_out) or 'none'}. Generation "
            f"{int(last['generation'].iloc[0])} holds {len(last)} particles "
            f"(effective sample size {_ess(last['weight'].to_numpy()):.0f}).")
    if generations:
        epsilons = ", ".join(f"{g['epsilon']:.3g}" for g in generations)
        total = sum(g["simulations"] for g in generations)
        text += (f" Epsilon by generation: {epsilons}; {total:,} simulations in all.")
    return text


def _ess(weights: np.ndarray) -> float:
    return float(weights.sum() ** 2 / (weights ** 2).sum())


def _scale(problem: Problem, name: str) -> tuple[Callable, float, float]:
    prior = problem.calibration.parameters[name]
    low, high = prior.bounds
    if prior.kind == "uniform":
        return (lambda x: np.asarray(x, dtype=float)), low, high
    return np.log10, math.log10(low), math.log10(high)


def _summary(values: np.ndarray, weights: np.ndarray) -> tuple[float, float, float]:
    low, mid, high = (weighted_quantile(values, weights, q) for q in INTERVAL)
    return low, mid, high


def _posterior_table(problem: Problem, last: pd.DataFrame) -> pd.DataFrame:
    rows = []
    weights = last["weight"].to_numpy()
    for name, prior in problem.calibration.parameters.items():
        low, mid, high = _summary(last[name].to_numpy(dtype=float), weights)
        scale, lo, hi = _scale(problem, name)
        width = float((scale(high) - scale(low)) / (0.9 * (hi - lo)))
        rows.append({"scenario parameter": name,
                     "prior": f"{prior.kind.replace('_', '-')} {_n(prior.bounds[0])} to "
                              f"{_n(prior.bounds[1])}",
                     "median": _n(mid), "5%": _n(low), "95%": _n(high),
                     "narrowed to": f"{width:.2f}"})
    return pd.DataFrame(rows)


def _check_table(check: dict) -> pd.DataFrame:
    rows = []
    for name, row in check["statistics"].items():
        rows.append({"statistic of the posts": name, "unit": statistic_unit(name),
                     "role": row["role"], "target": _n(row["target"]),
                     "median": _n(row["median"]), "5%": _n(row["low"]),
                     "95%": _n(row["high"]),
                     "target inside": {True: "yes", False: "NO", None: "-"}[row["inside"]]})
    return pd.DataFrame(rows)


def _n(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.4g}"


def _grid(count: int, columns: int = 3, size: float = 3.4) -> tuple[plt.Figure, list]:
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * 0.8 * rows),
                             squeeze=False)
    flat = list(axes.flat)
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def _marginals(problem: Problem, last: pd.DataFrame) -> bytes:
    from scipy.stats import gaussian_kde

    weights = last["weight"].to_numpy()
    names = list(problem.calibration.parameters)
    fig, axes = _grid(len(names))
    bins = 20
    for ax, name in zip(axes, names, strict=True):
        scale, lo, hi = _scale(problem, name)
        values = last[name].to_numpy(dtype=float)
        x = scale(values)
        edges = np.linspace(lo, hi, bins + 1)
        share, _ = np.histogram(x, bins=edges, weights=weights / weights.sum())
        ax.bar(edges[:-1], share, width=np.diff(edges), align="edge", color=POSTERIOR,
               alpha=0.35, edgecolor="white", label="posterior")
        if len(np.unique(x)) > 2:
            kde = gaussian_kde(x, weights=weights)
            grid = np.linspace(lo, hi, 200)
            ax.plot(grid, kde(grid) * (hi - lo) / bins, color=POSTERIOR)
        ax.axhline(1 / bins, color="grey", linestyle="--", linewidth=1, label="prior")
        low, mid, high = (scale(v) for v in _summary(values, weights))
        ax.axvspan(low, high, color=POSTERIOR, alpha=0.12, label="90% interval")
        ax.axvline(mid, color="black", linewidth=1.3, label="median")
        ax.set_xlim(lo, hi)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("weight per bin", fontsize=8)
        _log_ticks(ax, problem, name, "x")
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncols=len(labels), fontsize=8, frameon=False)
    return _png(fig)


def _log_ticks(ax: plt.Axes, problem: Problem, name: str, axis: str) -> None:
    """Label a log10 axis in the parameter's own units."""
    if problem.calibration.parameters[name].kind == "uniform":
        return
    low, high = problem.calibration.parameters[name].bounds
    ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(low)),
                                          math.ceil(math.log10(high)) + 1)
             for m in (1, 2, 5) if low <= m * 10.0 ** e <= high]
    if len(ticks) < 3:  # a narrow range: its bounds and middle
        ticks = sorted({low, high, math.sqrt(low * high), *ticks})
    labels = [f"{t:.3g}" for t in ticks]
    ticks = np.log10(ticks)
    if axis == "x":
        ax.set_xticks(ticks, labels)
    else:
        ax.set_yticks(ticks, labels)


def _pairs(problem: Problem, last: pd.DataFrame) -> bytes:
    from scipy.stats import gaussian_kde

    names = list(problem.calibration.parameters)
    count = len(names) - 1
    weights = last["weight"].to_numpy()
    fig, axes = plt.subplots(count, count, figsize=(2.9 * count + 0.6, 2.6 * count + 0.4),
                             squeeze=False)
    for i in range(count):
        for j in range(count):
            ax = axes[i][j]
            if j > i:
                ax.set_visible(False)
                continue
            xname, yname = names[j], names[i + 1]
            xscale, xlo, xhi = _scale(problem, xname)
            yscale, ylo, yhi = _scale(problem, yname)
            x, y = xscale(last[xname].to_numpy(float)), yscale(last[yname].to_numpy(float))
            ax.scatter(x, y, s=8 + 400 * weights / weights.max() / math.sqrt(len(x)),
                       color=POSTERIOR, alpha=0.45, linewidths=0)
            _contours(ax, gaussian_kde, x, y, weights, (xlo, xhi), (ylo, yhi))
            ax.set_xlim(xlo, xhi)
            ax.set_ylim(ylo, yhi)
            _log_ticks(ax, problem, xname, "x")
            _log_ticks(ax, problem, yname, "y")
            ax.tick_params(labelsize=7)
            if i == count - 1:
                ax.set_xlabel(xname, fontsize=8)
            if j == 0:
                ax.set_ylabel(yname, fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _contours(ax: plt.Axes, kde_of: Callable, x: np.ndarray, y: np.ndarray,
              weights: np.ndarray, xs: tuple, ys: tuple) -> None:
    """Weighted density contours, where the particles are spread enough to estimate one."""
    if len(x) < 10 or len(np.unique(x)) < 3 or len(np.unique(y)) < 3:
        return
    try:
        kde = kde_of(np.vstack([x, y]), weights=weights)
    except np.linalg.LinAlgError:  # particles on a line: no 2-D density
        return
    gx, gy = np.meshgrid(np.linspace(*xs, 60), np.linspace(*ys, 60))
    density = kde(np.vstack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    ax.contour(gx, gy, density, levels=4, colors="black", linewidths=0.6, alpha=0.7)


def _narrowing(problem: Problem, posterior: pd.DataFrame) -> bytes:
    names = list(problem.calibration.parameters)
    fig, axes = _grid(len(names), size=3.0)
    for ax, name in zip(axes, names, strict=True):
        scale, lo, hi = _scale(problem, name)
        rows = []
        for t, group in posterior.groupby("generation"):
            rows.append((t, *(scale(v) for v in _summary(group[name].to_numpy(float),
                                                         group["weight"].to_numpy()))))
        t, low, mid, high = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
        ax.axhspan(lo, hi, color="grey", alpha=0.12)
        ax.fill_between(t, low, high, color=POSTERIOR, alpha=0.3)
        ax.plot(t, mid, color=POSTERIOR, marker="o", markersize=3)
        ax.set_ylim(lo - 0.03 * (hi - lo), hi + 0.03 * (hi - lo))
        ax.set_xticks(t.astype(int))
        ax.set_xlabel("generation", fontsize=8)
        ax.set_title(name, fontsize=9)
        _log_ticks(ax, problem, name, "y")
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _png(fig)


def _predictive_figure(problem: Problem, draws: pd.DataFrame, check: dict) -> bytes:
    names = list(check["statistics"])
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(names) + 1.2))
    rng = np.random.default_rng(0)  # jitter only
    for row, name in enumerate(names):
        scale, target = problem.scales[name], problem.targets[name]
        values = draws[name].to_numpy(dtype=float)
        errors = (values[np.isfinite(values)] - target) / scale
        y = len(names) - 1 - row
        ax.scatter(errors, y + rng.uniform(-0.18, 0.18, len(errors)), s=9, color=POSTERIOR,
                   alpha=0.5, linewidths=0)
        if len(errors):
            low, mid, high = np.quantile(errors, INTERVAL)
            inside = check["statistics"][name]["inside"]
            ax.plot([low, high], [y, y], color="black" if inside else TARGET, linewidth=2.5,
                    solid_capstyle="butt")
            ax.plot([mid, mid], [y - 0.25, y + 0.25], color="black", linewidth=1.2)
    ax.axvline(0, color=TARGET, linewidth=1.2)
    ax.set_yticks(range(len(names)),
                  [f"{n} ({check['statistics'][n]['role']})" for n in reversed(names)],
                  fontsize=8)
    ax.set_xlabel("(simulated - target) / scale", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    return _png(fig)


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _html(blocks: list[tuple], title: str) -> str:
    body = []
    for kind, *content in blocks:
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{html.escape(content[0])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{html.escape(content[0])}</p>")
        elif kind == "table":
            frame = content[0]
            head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
                           + "</tr>" for row in frame.itertuples(index=False))
            body.append(f"<table><tr>{head}</tr>{rows}</table>")
        elif kind == "fig":
            png, caption = content
            data = base64.b64encode(png).decode()
            body.append(f'<figure><img src="data:image/png;base64,{data}" '
                        f'alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}'
                        "</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
             "line-height:1.45}table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
             "td,th{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left}"
             "th{background:#f4f4f4;font-weight:600}img{max-width:100%}"
             "figcaption{font-style:italic;color:#444}")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Calibration report: {html.escape(title)}</title><style>{style}</style>"
            "</head><body>\n" + "\n".join(body) + "\n</body></html>\n")
