"""Section 4: factor × outcome tests in the seed's convention, as tidy result rows.

Units of analysis: victim and case factors are tested on cases (a victim's attributes repeat
on each of their cases); offender factors on case-offender pairs, because Appendix 4's
offender denominators exceed the number of cases with an offender.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from msht import stats, vocab
from msht.describe import pct

#: The compared levels of each outcome (positive level first) and who is in its population.
OUTCOME_LEVELS: dict[str, tuple[str, str]] = {
    "engagement": ("positive", "negative"),  # excludes ongoing, no crime and unknown (seed footnote 19)
    "offered": ("yes", "no"),  # all cases with a recorded offer status
    "accepted": ("yes", "no"),  # cases offered support (seed footnote 20)
}

#: Factors measured on offenders: tested on case-offender pairs.
OFFENDER_FACTORS = frozenset({"offender_sex", "offender_age3", "offender_ethnicity2", "offender_uk_national"})


def unit_frame(factor: str, cases: pd.DataFrame, offenders: pd.DataFrame) -> pd.DataFrame:
    """The frame a factor is tested on: offender pairs for offender factors, cases otherwise."""
    return offenders if factor in OFFENDER_FACTORS else cases


def run_test(outcome: str, factor: str, cases: pd.DataFrame, offenders: pd.DataFrame) -> stats.AssociationResult:
    """Test ``factor`` × ``outcome`` in the seed's convention (see :func:`msht.stats.association_test`)."""
    frame = unit_frame(factor, cases, offenders)
    return stats.test_factor(frame, factor, outcome, vocab.levels(factor), list(OUTCOME_LEVELS[outcome]))


def association_rows(result: stats.AssociationResult, outcome: str, factor: str) -> pd.DataFrame:
    """Rows of ``associations.csv`` for one test: per factor level, the count and share with the
    outcome's positive level, and the seed-convention statistic, df, p and test name."""
    seed_test = "Yates chi-square" if result.is_2x2 else "Pearson chi-square"
    rows = []
    for i, level in enumerate(result.row_labels):
        n = int(result.table[i, 0])
        denominator = int(result.table[i].sum())
        rows.append(
            {"outcome": outcome, "factor": factor, "level": level, "n": n, "denominator": denominator,
             "pct": pct(n, denominator), "statistic": result.chi2_seed, "df": result.df, "p": result.p_seed,
             "test": seed_test}
        )
    return pd.DataFrame(rows)


def run_all(cases: pd.DataFrame, offenders: pd.DataFrame, pairs: Iterable[tuple[str, str]]) -> tuple[pd.DataFrame, dict[tuple[str, str], stats.AssociationResult]]:
    """Run each (outcome, factor) test; return the tidy rows and the result objects."""
    results = {(o, f): run_test(o, f, cases, offenders) for o, f in pairs}
    rows = pd.concat([association_rows(r, o, f) for (o, f), r in results.items()], ignore_index=True)
    return rows, results
