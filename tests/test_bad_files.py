"""Every malformed or invalid file stops early and clearly: one message naming the file,
the field, the bad value and what is allowed; exit code 2; no traceback; nothing written.

Each file in tests/data/bad/ says what its message must contain in `# expect:` lines.
Files named scenario_* go through `forumsim run` (and `describe`), sweep_* through
`forumsim sweep`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forumsim.ui.cli import app

BAD = Path(__file__).parent / "data" / "bad"
FILES = sorted(BAD.glob("*.yaml"))
runner = CliRunner()


def expectations(path: Path) -> list[str]:
    return re.findall(r"^# expect: (.+)$", path.read_text(errors="replace"), re.MULTILINE)


def one_line(text: str) -> str:
    return " ".join(text.split())


def command(path: Path, out: Path) -> list[str]:
    if path.name.startswith("sweep_"):
        return ["sweep", str(path), "--out", str(out), "--executor", "inline", "-q"]
    return ["run", str(path), "--out", str(out), "--quiet"]


def test_the_corpus_is_large_and_every_file_says_what_to_expect():
    assert len(FILES) >= 30
    assert all(expectations(path) for path in FILES), [p.name for p in FILES
                                                      if not expectations(p)]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_bad_file_gives_one_clear_message_and_exit_2(path, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, command(path, out))
    message = one_line(result.output)
    assert result.exit_code == 2, message
    assert not isinstance(result.exception, Exception) or isinstance(result.exception,
                                                                     SystemExit), message
    assert "Traceback" not in result.output
    assert message.startswith("error: ") and str(path) in message
    for expected in expectations(path):
        assert one_line(expected) in message, f"{expected!r} not in {message!r}"
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", [p for p in FILES if p.name.startswith("scenario_")],
                         ids=lambda p: p.stem)
def test_describe_refuses_a_bad_scenario_the_same_way(path):
    result = runner.invoke(app, ["describe", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    for expected in expectations(path):
        assert one_line(expected) in one_line(result.output)


@pytest.mark.parametrize("name", ["sweep_unknown_parameter.yaml", "scenario_not_yaml.yaml"])
def test_the_installed_command_prints_no_traceback(name, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    path = BAD / name
    done = subprocess.run([sys.executable, "-m", "forumsim.ui.cli", *command(path, tmp_path / "o")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert one_line(done.stderr).startswith(f"error: {path}")
    assert not (tmp_path / "o").exists()


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


def test_an_unreachable_scheduler_is_reported_cleanly(tmp_path):
    tiny = Path(__file__).parent / "data" / "tiny_sweep.yaml"
    result = runner.invoke(app, ["sweep", str(tiny), "--out", str(tmp_path / "o"),
                                 "--scheduler", "tcp://127.0.0.1:9", "-q"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in one_line(result.output)
