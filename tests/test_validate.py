"""Validation: the pattern measurements behave, and the table reports failures as such."""

from __future__ import annotations

import math

import pytest

from forumsim.analysis import validate as v


@pytest.fixture(scope="module")
def takedown():
    return v.takedown_values(1000, people=6000)


def test_displaced_go_mostly_to_coexisting_large_fora(takedown):
    assert takedown["to_coexisting"] > 0.8
    assert takedown["size_preference"] > 0


def test_the_most_active_displaced_rehome_most(takedown):
    assert takedown["active_migrate_more"] > 0.2


def test_main_destination_sees_a_registration_surge(takedown):
    assert takedown["registration_surge"] > 1.5


def test_baseline_values_cover_the_participation_patterns():
    values = v.baseline_values(1000, people=4000)
    assert 0 < values["share_posting"] < 0.2
    assert values["share_lurkers"] > 0.8
    assert values["largest_forum_members"] > 0
    keys = {p.key for p in v.PATTERNS}
    assert set(values) <= keys


def test_a_failing_pattern_is_reported_as_failing(tmp_path):
    rows = [{"pattern": "p", "source": "s", "target": "> 1", "mean": 0.5, "low": 0.4,
             "high": 0.6, "n": 3, "passed": False},
            {"pattern": "q", "source": "s", "target": "> 0", "mean": math.nan,
             "low": math.nan, "high": math.nan, "n": 0, "passed": False}]
    path = v.write_report(rows, tmp_path / "validation.md", 3, 1.0, "forumsim validate")
    text = path.read_text()
    assert text.count("**FAIL**") == 2 and "n/a" in text
    assert "`forumsim validate`" in text


# Documented in docs/validation.md and docs/calibration.md: fora founded during a run
# peak early in fewer than half of the cases, although new_forum_appeal was added for it.
KNOWN_FAILURES = {"early_peak"}


@pytest.mark.slow
def test_every_published_pattern_passes_except_the_documented_failure():
    rows = v.validate(replicates=10, workers=2)
    failing = {row["key"] for row in rows if not row["passed"]}
    assert failing <= KNOWN_FAILURES, [r for r in rows if r["key"] in failing]
