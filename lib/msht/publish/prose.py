"""Computed prose: every number a reader sees in a sentence comes from a results frame.

Each function takes tidy results (the same frames written to the results CSVs) and returns
Markdown. Directions ("most", "higher amongst") are chosen by the data, not typed. This module
holds what every notebook says (the synthetic-data banner, the disclosure-control sentence), the
cleaning and calibration paragraphs, and :func:`untraced_numbers`, which checks that a text's
numbers are results; section 3's prose is in :mod:`msht.publish.prose_section3`, section 4's and
Appendix 4's in :mod:`msht.publish.prose_associations`.
"""

from __future__ import annotations

import re
from typing import Final

import pandas as pd

from msht.config import Params

SYNTHETIC_NOTE = (
    "**Synthetic data.** These figures come from the project's synthetic twin, generated to "
    "resemble the published report; they describe no real person or case."
)


def banner(params: Params) -> str:
    """A Markdown call-out saying the figures are synthetic (empty for real extracts)."""
    if not params.synthetic:
        return f"Data: {params.force_name}, {params.period_start} to {params.period_end}."
    return f"> {SYNTHETIC_NOTE}"


def disclosure_text(params: Params) -> str:
    """The disclosure-control sentence for a notebook's text (with a paragraph break before it),
    or "" when the rule is off (:func:`msht.publish.sdc.disclosure_note`)."""
    from msht.publish import sdc

    note = sdc.disclosure_note(params.min_cell_count)
    return f"\n\n{note}" if note else ""


def cleaning_summary(exclusions: pd.DataFrame, marks: dict[tuple[str, str], str] | None = None) -> str:
    """One paragraph: case entries read, excluded per rule, and analysed. A count hidden by
    disclosure control (:func:`msht.publish.quality.protect_exclusions`) is given by its mark
    (``marks``: (entity, rule) -> mark) and named whatever its value, so that leaving a rule out
    does not say its count is 0."""
    cases = exclusions[exclusions["entity"] == "cases"]
    read = int(cases["rows_in"].iloc[0])
    kept = int(cases["rows_out"].iloc[-1])
    marks = marks or {}
    parts = [f"{marks.get(('cases', r.rule), '[c]')} {r.description.lower()}" if pd.isna(r.excluded)
             else f"{int(r.excluded):,} {r.description.lower()}" for r in cases.itertuples()
             if pd.isna(r.excluded) or r.excluded]
    detail = "; ".join(parts) if parts else "none"
    return (
        f"The case file held {read:,} entries. The section 2.5 rules excluded {read - kept:,} of them "
        f"({detail}), leaving **{kept:,} MSHT cases** for analysis."
    )


def calibration_text(table: pd.DataFrame, synthetic: bool) -> str:
    """One paragraph on the calibration (synthetic twin) or reproduction (real extracts) check."""
    targets = table[table["target"]]
    within = int(targets["within_tolerance"].sum())
    tests = targets[targets["measure"] == "chi2"]
    tests_ok = int(tests["within_tolerance"].sum())
    conflicts = int((~table["target"]).sum())
    what = "The synthetic twin was calibrated to" if synthetic else "This run was compared with"
    return (
        f"{what} {len(targets):,} published figures; {within:,} of them are reproduced within tolerance. "
        f"Of the {len(tests):,} chi-square tests of Appendix 4, {tests_ok:,} come back within 0.1 of the printed "
        f"statistic with the same verdict. {conflicts:,} further published figures contradict Appendix 4's "
        "denominators and are shown for reference only."
        + ("" if synthetic else " Differences on real extracts may reflect a different period, force or recording practice.")
    )


# --- tracing prose numbers to results -----------------------------------------------------------

#: References to parts of the report ("Appendix 1", "section 3.2", "Tables 2-4"): not results.
_REFERENCE_RE: Final[re.Pattern[str]] = re.compile(
    r"\b(?:appendix|appendices|table|tables|figure|figures|section|sections)\s+\d+(?:\.\d+)?"
    r"(?:\s*(?:–|-|and|,)\s*\d+(?:\.\d+)?)*",
    re.IGNORECASE,
)


#: The study's p-value thresholds ("p<0.001", "p<0.01", "p<0.05"): conventions, not results.
_P_THRESHOLD_RE: Final[re.Pattern[str]] = re.compile(r"p\s*<\s*0\.(?:001|01|05)\b")


#: A number as prose prints it: "1,234", "17.2", "8" (not digits inside words such as "MS1").
_NUMBER_RE: Final[re.Pattern[str]] = re.compile(r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])")


def untraced_numbers(text: str, rows: pd.DataFrame) -> list[str]:
    """The numbers in ``text`` that are not a value of ``rows``' ``n``, ``denominator`` or ``pct``.

    Thousands separators are ignored; a number printed with ``k`` decimals matches a value that
    rounds to it (within half a unit of the last printed digit); a whole number must match
    exactly. References to parts of the report ("Appendix 1", "section 3.2") and the p-value
    thresholds ("p<0.001") are not results and are skipped.
    """
    values = pd.concat([pd.to_numeric(rows[c], errors="coerce") for c in ("n", "denominator", "pct")]).dropna()
    values = values.astype(float).to_numpy()
    cleaned = _P_THRESHOLD_RE.sub(" ", _REFERENCE_RE.sub(" ", text))
    missing = []
    for token in _NUMBER_RE.findall(cleaned):
        number = float(token.replace(",", ""))
        decimals = len(token.split(".")[1]) if "." in token else 0
        tolerance = 0.5 * 10**-decimals + 1e-9 if decimals else 1e-9
        if not (abs(values - number) <= tolerance).any():
            missing.append(token)
    return missing
