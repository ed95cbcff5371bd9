"""Every malformed or invalid file stops early and clearly: one line naming the file, the
field, the bad value and what is allowed; exit code 2; no traceback; nothing written.

Each file (or folder) in tests/data/bad/ says what its message must contain in `# expect:`
lines and what it must not in `# refuse:` lines; a file that cannot hold readable lines
(UTF-16, a folder) has them in `<name>.expect` beside it. Files named scenario_* go through
`forumsim run` (and `describe`), sweep_* through `forumsim sweep`, each in its own process,
as a user would run them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forumsim.ui.cli import app

BAD = Path(__file__).parent / "data" / "bad"
FILES = sorted(p for p in BAD.iterdir() if p.name.startswith(("scenario_", "sweep_"))
               and not p.name.endswith(".expect"))
SRC = str(Path(__file__).parents[1] / "src")
runner = CliRunner()


def _lines(path: Path, kind: str) -> list[str]:
    notes = path.with_name(path.name + ".expect")
    text = (notes if notes.exists() else path).read_text(errors="replace")
    return re.findall(rf"^# {kind}: (.+)$", text, re.MULTILINE)


def expectations(path: Path) -> list[str]:
    return _lines(path, "expect")


def one_line(text: str) -> str:
    return " ".join(text.split())


def command(path: Path, out: Path) -> list[str]:
    if path.name.startswith("sweep_"):
        return ["sweep", str(path), "--out", str(out), "--executor", "inline", "-q"]
    return ["run", str(path), "--out", str(out), "--quiet"]


def _through_the_command(path: Path, folder: Path) -> tuple[subprocess.CompletedProcess, list]:
    """`forumsim` run on one bad file in a fresh process, in an empty working folder; what
    it printed and what the folder holds afterwards."""
    folder.mkdir()
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "80"}
    done = subprocess.run([sys.executable, "-m", "forumsim.ui.cli",
                           *command(path, folder / "out")], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)
    return done, sorted(folder.rglob("*"))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Every file of the corpus through the command, a few processes at a time."""
    root = tmp_path_factory.mktemp("bad")
    with ThreadPoolExecutor(4) as pool:
        done = pool.map(lambda p: _through_the_command(p, root / p.name), FILES)
        return dict(zip(FILES, done, strict=True))


def test_the_corpus_is_large_and_every_file_says_what_to_expect():
    assert len(FILES) >= 100
    assert all(expectations(path) for path in FILES), [p.name for p in FILES
                                                      if not expectations(p)]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name.removesuffix(".yaml"))
def test_bad_file_gives_one_clear_line_and_exit_2_writing_nothing(path, outcomes):
    done, left = outcomes[path]
    message = done.stderr.rstrip("\n")
    assert done.returncode == 2, done.stderr + done.stdout
    assert done.stdout == "" and "Traceback" not in done.stderr
    assert "\n" not in message, "more than one line"
    assert all(c.isprintable() for c in message), "raw control characters"
    assert len(message) < 700
    assert message.startswith(f"error: {path}")
    for expected in expectations(path):
        assert one_line(expected) in message, f"{expected!r} not in {message!r}"
    for refused in _lines(path, "refuse"):
        assert refused not in message
    assert left == [], "something was written"


@pytest.mark.parametrize("path", [p for p in FILES if p.name.startswith("scenario_")],
                         ids=lambda p: p.name.removesuffix(".yaml"))
def test_describe_refuses_a_bad_scenario_the_same_way(path):
    result = runner.invoke(app, ["describe", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    for expected in expectations(path):
        assert one_line(expected) in one_line(result.output)


def test_resuming_into_a_folder_of_another_sweep_is_refused_cleanly(tmp_path):
    tiny = Path(__file__).parent / "data" / "tiny_sweep.yaml"
    out = tmp_path / "out"
    assert runner.invoke(app, ["sweep", str(tiny), "--out", str(out), "--executor", "inline",
                               "-q"]).exit_code == 0
    other = tmp_path / "other.yaml"
    other.write_text(tiny.read_text().replace("seed: 2024", "seed: 2025"))
    before = sorted(p.name for p in out.rglob("*"))
    result = runner.invoke(app, ["sweep", str(other), "--out", str(out), "--resume", "-q"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "holds results of a different sweep" in one_line(result.output)
    assert sorted(p.name for p in out.rglob("*")) == before
