"""What notebook 03 shows of :mod:`msht.analysis.models`' regression: the disclosure control of
``regression.csv``, the display frame of the regression table, its note and column labels."""

from __future__ import annotations

from collections.abc import Collection

from typing import Final

import pandas as pd

from msht.analysis.stats import format_p
from msht.base import vocab
from msht.publish import sdc
from msht.publish.association_tables import factor_name

#: Source note and column labels of the regression table.
REGRESSION_NOTE: Final[str] = (
    "Exploratory. Adjusted odds ratio of the outcome (positive engagement, offered, accepted) at the level against "
    "the reference level, holding the other factors fixed; 95% CI and p from cluster-robust (by victim) standard "
    "errors. Complete cases only. n: complete cases at the level."
)


REGRESSION_LABELS: Final[dict[str, str]] = {
    "factor": "Factor", "n_level": "n", "aor": "Adjusted OR (95% CI)", "p": "p",
}


def regression_display(regression: pd.DataFrame) -> pd.DataFrame:
    """The regression table: per outcome (group, with N and cases dropped) each term (level vs
    reference), its factor, n, adjusted OR (95% CI) and p; a model not estimated shows its reason."""
    groups = [
        f"{vocab.variable_label(o)} (N = {int(n):,}; "
        + (f"{int(d):,} dropped for missing data)" if not pd.isna(d) else "cases dropped withheld)")
        for o, n, d in zip(regression["outcome"], regression["N"], regression["n_dropped_missing"], strict=True)
    ]
    withheld = regression["sdc_withheld"].astype(bool) if "sdc_withheld" in regression.columns else \
        pd.Series(False, index=regression.index)
    estimated = regression["adjusted_or"].notna() | withheld
    factor = [factor_name(f) if ok else "" for f, ok in zip(regression["factor"], estimated, strict=True)]
    term = [
        f"{vocab.finding_label(f, lv)} (vs {vocab.finding_label(f, ref)})" if ok else "Model not estimated"
        for f, lv, ref, ok in zip(regression["factor"], regression["level"], regression["reference"], estimated,
                                  strict=True)
    ]
    aor = [
        "[c]" if w else f"{o:.2f} ({lo:.2f}-{hi:.2f})" if ok else str(note).split(";")[0]
        for o, lo, hi, ok, note, w in zip(regression["adjusted_or"], regression["ci_low"], regression["ci_high"],
                                          estimated, regression["note"], withheld, strict=True)
    ]
    return pd.DataFrame({
        "group": groups,
        "term": term,
        "factor": factor,
        "n_level": ["[c]" if w else "" if pd.isna(v) else f"{int(v):,}"
                    for v, w in zip(regression["n_level"], regression.get("n_level_suppressed", withheld), strict=True)],
        "aor": aor,
        "p": ["[c]" if w else format_p(float(p)) if ok else ""
              for p, ok, w in zip(regression["p"], estimated, withheld, strict=True)],
    })


def protect_regression(regression: pd.DataFrame, min_cell_count: int,
                       status_hidden: Collection[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Disclosure control of ``regression.csv`` (:mod:`msht.publish.sdc`; nothing changes when
    ``min_cell_count`` is 0 or 1).

    Under SDC every ``n_level`` is hidden (with ``N`` and the other levels a term's count would
    give the reference level's back), and a term whose level or the rest of its model (``N`` -
    ``n_level``) has from 1 to m-1 cases has its odds ratio, CI and p withheld too. Returns the
    frame (with marker columns ``sdc_withheld`` and ``n_level_suppressed``, dropped when the CSV
    is written) and its ``suppression.csv`` rows (``file`` ``regression``). For the outcomes in
    ``status_hidden`` (:func:`msht.publish.association_tables.status_hidden`) the population
    (cases with the outcome recorded) and the cases dropped are hidden too (``linked_total``).
    """
    m = int(min_cell_count)
    out = regression.copy()
    out["sdc_withheld"] = False
    out["n_level_suppressed"] = False
    rows: list[dict[str, object]] = []
    if m <= 1:
        return out, pd.DataFrame(rows, columns=list(sdc.SUPPRESSION_COLUMNS))
    term = out["n_level"].notna()
    n_level = pd.to_numeric(out["n_level"], errors="coerce")
    rest = pd.to_numeric(out["N"], errors="coerce") - n_level
    small = term & (n_level.between(1, m - 1) | rest.between(1, m - 1))
    for col in ("n_level", "adjusted_or", "ci_low", "ci_high", "p"):
        out[col] = out[col].astype(object)
    for idx in out.index[term]:
        base = {"file": "regression", "table": out.at[idx, "outcome"], "variable": out.at[idx, "factor"],
                "level": out.at[idx, "level"]}
        reason = "small_count" if small[idx] else "secondary"
        rows.append({**base, "column": "n_level", "reason": reason,
                     "display": sdc.SMALL_MARK.format(m=m) if reason == "small_count" and 1 <= n_level[idx] < m
                     else sdc.SECONDARY_MARK})
        out.at[idx, "n_level"] = pd.NA
        out.at[idx, "n_level_suppressed"] = True
        if small[idx]:
            for col in ("adjusted_or", "ci_low", "ci_high", "p"):
                rows.append({**base, "column": col, "reason": "small_count", "display": sdc.SECONDARY_MARK})
                out.at[idx, col] = pd.NA
            out.at[idx, "sdc_withheld"] = True
    linked = out.index[out["outcome"].isin(list(status_hidden))]
    for col in ("n_population", "n_dropped_missing") if len(linked) else ():
        out[col] = out[col].astype(object)
        for idx in linked:
            rows.append({"file": "regression", "table": out.at[idx, "outcome"], "variable": out.at[idx, "factor"],
                         "level": out.at[idx, "level"], "column": col, "reason": "linked_total",
                         "display": sdc.SECONDARY_MARK})
            out.at[idx, col] = pd.NA
    return out, pd.DataFrame(rows, columns=list(sdc.SUPPRESSION_COLUMNS))
