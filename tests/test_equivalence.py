"""The compiled engine is the same model as the one before it: the distributions of the
key outputs over 20 seeds cannot be told apart from those recorded on the engine before
its loops were compiled (tests/data/equivalence_reference.json, scripts/equivalence.py)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ks_2samp, mannwhitneyu

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_key_outputs_are_distributed_as_before():
    sys.path.insert(0, str(ROOT / "scripts"))
    from equivalence import OUTPUTS, collect

    reference = json.loads((ROOT / "tests" / "data" / "equivalence_reference.json").read_text())
    now = collect(range(*reference["seeds"]))
    # Seven outputs: Bonferroni, so one of them by chance fails the whole test 1% of the time.
    alpha = 0.01 / len(OUTPUTS)
    for name in OUTPUTS:
        before = np.array(reference["outputs"][name], dtype=float)
        after = np.array(now[name], dtype=float)
        before, after = before[~np.isnan(before)], after[~np.isnan(after)]
        assert len(after) >= 0.8 * len(before), name
        if np.array_equal(np.sort(before), np.sort(after)):
            continue  # the same numbers: nothing to test
        assert ks_2samp(before, after).pvalue > alpha, name
        assert mannwhitneyu(before, after).pvalue > alpha, name
        assert math.isclose(np.mean(after), np.mean(before), rel_tol=0.5, abs_tol=0.05), name
