"""Uncertainties from a calibration's posterior: `uncertainties: {posterior: PATH, draws:
N}` in a sweep file. N joint draws from the last generation of the posterior.parquet that
`forumsim calibrate` writes: whole particles, chosen by weight (with replacement, as
importance resampling does), so that what the calibration learnt about how the
parameters go together is kept. The draws come from the sweep's root seed: the same sweep
file gives the same draws.

The file is read once, when the sweep is planned; the draws are materialised in the plan,
so that no worker ever reads it. It is read as carefully as a sweep's other files: only
in the sweep file's folder tree, only a regular file of bounded size.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forumsim.experiment.files import inside, read_bytes
from forumsim.experiment.sweep import FIELD_PATH, Posterior, SweepError
from forumsim.world.scenario import ScenarioError, quoted

POSTERIOR = "posterior.parquet"  # as `inference.write_results` names it
MAX_POSTERIOR_BYTES = 256 << 20  # 100 generations of 100,000 particles fit easily
MAX_COLUMNS = 102  # generation, weight and at most 100 parameters
MAX_ROWS = 10_000_000  # 100 generations of 100,000 particles
BOOKKEEPING = ("generation", "weight")


@dataclass(frozen=True)
class PosteriorDraws:
    """The draws a sweep runs on: `values[i]` is draw i's parameter values, taken from
    particle `particles[i]` of the posterior's last generation."""

    file: Path  # the posterior.parquet read
    generation: int  # the last one, the draws' source
    population: int  # particles in it
    names: list[str]  # parameters: scenario field paths
    values: np.ndarray  # draws x parameters
    particles: np.ndarray  # each draw's particle (its row in the last generation)

    def rows(self) -> list[dict[str, float]]:
        """Each draw as {parameter: value}."""
        return [dict(zip(self.names, map(float, row), strict=True)) for row in self.values]

    def sha256(self) -> str:
        """Hash of the draws used (names and values, exactly): the sweep's identity holds it,
        so a sweep whose posterior changed is not resumed."""
        canonical = json.dumps({"parameters": self.names, "draws": self.values.tolist()})
        return hashlib.sha256(canonical.encode()).hexdigest()

    def record(self) -> dict:
        """What manifest.json keeps of the posterior."""
        return {"file": str(self.file), "generation": self.generation,
                "population": self.population, "draws": len(self.values),
                "parameters": self.names, "sha256": self.sha256()}


def read_draws(spec: Posterior, sweep_path: Path, seed: int) -> PosteriorDraws:
    """`spec.draws` joint draws from the posterior `spec.posterior` names (relative to the
    sweep file at `sweep_path`), drawn with the generator of `seed`; SweepError with one line
    naming the file and the field for anything that is not a usable posterior."""
    where = f"{sweep_path}: field 'uncertainties.posterior'"
    file = _posterior_file(spec.posterior, sweep_path, where)
    generations, weights, names, values = _last_generation(file, where)
    chosen = np.random.default_rng(seed).choice(len(weights), size=spec.draws, replace=True,
                                                p=weights / weights.sum())
    return PosteriorDraws(file, generations, len(weights), names, values[chosen], chosen)


def _posterior_file(given: str, sweep_path: Path, where: str) -> Path:
    """The posterior.parquet that `given` names: the file, or the one in a calibration
    folder; both must lie in the sweep file's folder tree (links followed)."""
    root = sweep_path.parent
    allowed = "a calibration folder (or its posterior.parquet) there or in a folder below it"
    try:
        path = inside(root / given, root, where, given, allowed)
        folder = path.is_dir()
        if folder:
            path = inside(path / POSTERIOR, root, where, f"{given}/{POSTERIOR}", allowed)
    except ScenarioError as error:
        raise SweepError(str(error)) from None
    if not path.exists():
        what = (f"the folder holds no {POSTERIOR}, so it is not a calibration folder of "
                "forumsim calibrate (or none of its generations has finished)" if folder
                else "no such calibration folder or posterior file")
        raise SweepError(f"{where} has value {quoted(given)}: {what} ({path}).")
    return path


def _last_generation(file: Path, where: str) -> tuple[int, np.ndarray, list[str], np.ndarray]:
    """The last generation of a posterior file: its number, its particles' weights, the
    parameter names and values (particles x parameters)."""
    import pyarrow as pa  # only for a sweep over a posterior
    import pyarrow.parquet as pq

    def refused(reason: str) -> SweepError:
        return SweepError(f"{where}: {file} is not a posterior of forumsim calibrate "
                          f"({reason}).")

    try:
        data = read_bytes(file, MAX_POSTERIOR_BYTES)
    except (FileNotFoundError, ValueError) as error:
        raise refused(str(error) or "it cannot be read") from None
    if len(data) > MAX_POSTERIOR_BYTES:
        raise refused(f"it is larger than {MAX_POSTERIOR_BYTES >> 20} MiB")
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        columns, rows = parquet.metadata.num_columns, parquet.metadata.num_rows
        fits = columns <= MAX_COLUMNS and rows <= MAX_ROWS
        table = parquet.read() if fits else None  # sizes first: never unpack a bomb
    except (pa.ArrowException, OSError, ValueError) as error:
        raise refused("not a Parquet file: " + " ".join(str(error).split())[:120]) from None
    if table is None:
        raise refused(f"it has {columns:,} columns and {rows:,} rows; a posterior has "
                      f"generation, weight and at most {MAX_COLUMNS - 2} parameters, and "
                      f"at most {MAX_ROWS:,} particles")
    doubled = {c for c in table.column_names if table.column_names.count(c) > 1}
    if doubled:
        raise refused(f"its column {quoted(min(doubled))} appears more than once")
    missing = [c for c in BOOKKEEPING if c not in table.column_names]
    if missing:
        raise refused(f"it has no '{missing[0]}' column")
    names = [c for c in table.column_names if c not in BOOKKEEPING]
    if not names:
        raise refused("it holds no parameter, only generation and weight")
    for name in names:
        if len(name) > 120 or not re.fullmatch(FIELD_PATH, name):
            raise refused(f"its column {quoted(name)} is not a scenario field by dotted "
                          "path, e.g. behaviour.home_loyalty")
    for name in table.column_names:
        kind = table.schema.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise refused(f"its column {quoted(name)} holds {kind}, not numbers")
        if table[name].null_count:
            raise refused(f"its column {quoted(name)} has missing values")
    generation = table["generation"].to_numpy()
    if not len(generation):
        raise refused("it holds no particles")
    last = generation == generation.max()
    weights = table["weight"].to_numpy().astype(float)[last]
    values = np.column_stack([table[n].to_numpy().astype(float)[last] for n in names])
    if not np.isfinite(values).all():
        raise refused("a parameter value of its last generation is not a finite number")
    if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise refused("the weights of its last generation are not non-negative numbers "
                      "with a positive sum")
    return int(generation.max()), weights, names, values
