"""Results on disk: summary.json, Parquet tables and figures, written atomically.

A run's folder is first written under a temporary name beside the target and renamed
into place at the end, so an interrupted or failed write never leaves a half-written
results folder behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from forumsim.runner import RunResult


def write_table(frame, path: Path) -> None:
    """Write a pandas DataFrame as a Parquet file (without the pandas index)."""
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


def write_run(result: RunResult, out: Path,
              figures: Callable[[RunResult, Path], list[Path]] | None = None) -> Path:
    """Write summary.json, ecosystem.parquet, forums.parquet (and figures) into `out`."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (staging / "summary.json").write_text(json.dumps(result.summary(), indent=2) + "\n")
        write_table(result.ecosystem, staging / "ecosystem.parquet")
        write_table(result.forums, staging / "forums.parquet")
        if figures is not None:
            (staging / "figures").mkdir()
            figures(result, staging / "figures")
        _replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _replace_dir(new: Path, target: Path) -> None:
    """Move `new` to `target`, replacing an older results folder there."""
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
        new.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        new.rename(target)
