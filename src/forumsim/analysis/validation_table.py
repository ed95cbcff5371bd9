"""Where `forumsim validate --write` may write its table: checked before the validation
runs, and light to import, so that a refused --write answers at once."""

from __future__ import annotations

from pathlib import Path

from forumsim.experiment.files import read_bytes
from forumsim.experiment.folders import check_output_file

TITLE = "# Validation against published patterns"


def earlier_table(path: Path) -> bool:
    """Whether `path` (a regular file) holds a table written by `forumsim validate`."""
    try:
        head = read_bytes(path, 4096).decode("utf-8", errors="replace")
    except (OSError, ValueError):
        return False
    return head.startswith(f"{TITLE}\n\nProduced by `forumsim validate")


def check_table_path(path: Path, overwrite: bool = False) -> None:
    """Refuse, before the validation runs, a `--write` path that may not be written (see
    `folders.check_output_file`): only a new file, or a table this command wrote earlier
    with `overwrite`."""
    check_output_file(path, overwrite, earlier_table, "validate", "--write")
