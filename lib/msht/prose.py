"""Computed prose: every number a reader sees in a sentence comes from a results frame.

Each function takes tidy results (the same frames written to the results CSVs) and returns
Markdown. Directions ("most", "higher amongst") are chosen by the data, not typed.
"""

from __future__ import annotations

import pandas as pd

from msht import stats, vocab
from msht.config import Params
from msht.describe import fmt_pct_n

SYNTHETIC_NOTE = (
    "**Synthetic data.** These figures come from the project's synthetic twin, generated to "
    "resemble the published report; they describe no real person or case."
)


def banner(params: Params) -> str:
    """A Markdown call-out saying the figures are synthetic (empty for real extracts)."""
    if not params.synthetic:
        return f"Data: {params.force_name}, {params.period_start} to {params.period_end}."
    return f"> {SYNTHETIC_NOTE}"


def _row(frame: pd.DataFrame, **where: str) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for key, value in where.items():
        mask &= frame[key].astype(str) == value
    hits = frame[mask]
    if len(hits) != 1:
        raise KeyError(f"expected one results row for {where}, found {len(hits)}")
    return hits.iloc[0]


def cleaning_summary(exclusions: pd.DataFrame) -> str:
    """One paragraph: case entries read, excluded per rule, and analysed."""
    cases = exclusions[exclusions["entity"] == "cases"]
    read = int(cases["rows_in"].iloc[0])
    kept = int(cases["rows_out"].iloc[-1])
    parts = [f"{int(r.excluded):,} {r.description.lower()}" for r in cases.itertuples() if r.excluded]
    detail = "; ".join(parts) if parts else "none"
    return (
        f"The case file held {read:,} entries. The section 2.5 rules excluded {read - kept:,} of them "
        f"({detail}), leaving **{kept:,} MSHT cases** for analysis."
    )


def victims_overview(desc: pd.DataFrame) -> str:
    """Section 3.1's opening: cases, victims, one vs several instances, sex and nationality."""
    cases = _row(desc, table="section3_1", variable="cases", level="all")
    one = _row(desc, table="section3_1", variable="victim_case_count", level="one")
    several = _row(desc, table="section3_1", variable="victim_case_count", level="several")
    sex = desc[(desc["table"] == "appendix1") & (desc["variable"] == "victim_sex") & (desc["level"] != "unknown")]
    top_sex = sex.sort_values("n", ascending=False).iloc[0]
    share = "most" if top_sex["pct"] > 50 else "the largest group"
    return (
        f"From the {int(cases['n']):,} MSHT police-recorded cases analysed, {int(one['denominator']):,} individuals "
        f"were identified as victims. Of those, {fmt_pct_n(int(one['n']), int(one['denominator']))} had one instance "
        f"of MSHT victimisation and {fmt_pct_n(int(several['n']), int(several['denominator']))} had more than one. "
        f"As Appendix 1 shows, {share} victims were {vocab.label('victim_sex', top_sex['level']).lower()} "
        f"({fmt_pct_n(int(top_sex['n']), int(top_sex['denominator']))})."
    )


def association_sentence(rows: pd.DataFrame, outcome: str, factor: str, alpha: float) -> str:
    """One sentence on one test: the shares per level, the test, and whether p < alpha."""
    block = rows[(rows["outcome"] == outcome) & (rows["factor"] == factor)]
    first = block.iloc[0]
    shares = "; ".join(
        f"{vocab.label(factor, r.level).lower()}: {fmt_pct_n(int(r.n), int(r.denominator))}" for r in block.itertuples()
    )
    verdict = "was" if first["p"] < alpha else "was not"
    return (
        f"The share of cases {vocab.variable_label(outcome).lower()} by {vocab.variable_label(factor).lower()} "
        f"({shares}) {verdict} significantly different at α = {alpha:g} "
        f"({first['test']}, χ² = {first['statistic']:.3f}, df = {int(first['df'])}, {stats.p_threshold_label(float(first['p']))})."
    )
