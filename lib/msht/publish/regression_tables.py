"""What notebook 03 shows of :mod:`msht.analysis.models`' regression: the disclosure control of
``regression.csv``, the display frame of the regression table, its note and column labels."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Final

import pandas as pd

from msht.analysis.stats import format_p
from msht.base import vocab
from msht.base.formats import fmt_count
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
        f"{vocab.variable_label(o)} (N = {fmt_count(n)}; "
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


#: ``regression.csv``'s counts of a model (the same on each of its rows): complete cases (``N``),
#: the outcome's population, the cases dropped for missing data, the cases with the rarer outcome.
MODEL_COUNTS: Final[tuple[str, ...]] = ("N", "n_population", "n_dropped_missing", "n_events")

#: How :mod:`msht.analysis.models` prints a model's counts in its ``note`` (pattern, the count it
#: prints): ``"k of N complete cases have it"`` (a level left out; k is 0 or N), ``"e events for t
#: terms"``, ``"N complete cases for p parameters"``. A hidden count's number is replaced by the mark.
NOTE_COUNTS: Final[tuple[tuple[str, str], ...]] = (
    (r"\b(\d[\d,]*) of (\d[\d,]*) complete cases have it", "N"),
    (r"\b(\d[\d,]*) events for \d", "n_events"),
    (r"\b(\d[\d,]*) complete cases for \d", "N"),
)


def _redact_note(note: object, hidden: Collection[str]) -> object:
    """A model's ``note`` with the numbers of its hidden counts (``hidden``: names of
    :data:`MODEL_COUNTS`) shown as ``"[c]"``: ``"0 of [c] complete cases have it"``, ``"[c] of [c]
    ..."`` (a level all complete cases have), ``"[c] events for 13 terms"``."""
    if not isinstance(note, str) or not note:
        return note
    out = note
    if "N" in hidden:
        out = re.sub(NOTE_COUNTS[0][0], lambda g: f"{'0' if g.group(1) == '0' else sdc.SECONDARY_MARK} of "
                     f"{sdc.SECONDARY_MARK} complete cases have it", out)
        out = re.sub(NOTE_COUNTS[2][0], lambda g: g.group(0).replace(g.group(1), sdc.SECONDARY_MARK, 1), out)
    if "n_events" in hidden:
        out = re.sub(NOTE_COUNTS[1][0], lambda g: g.group(0).replace(g.group(1), sdc.SECONDARY_MARK, 1), out)
    return out


def _hidden_model_counts(model: pd.Series, m: int, status_hidden: bool, forced: bool = False) -> dict[str, str]:
    """Which of a model's :data:`MODEL_COUNTS` are hidden, and why: a count from 1 to m-1
    (``small_count``); N when the release's audit chose it as a complementary suppression
    (``forced``, :func:`msht.publish.audit.complementary`: N with the association totals bounded
    a level's complete cases too tightly; ``secondary``); with N or the cases dropped hidden, both
    and the events (N = population - dropped, and the population is published as the outcome's
    total in ``associations.csv``; ``linked_total``); with the population hidden
    (:func:`msht.publish.association_tables.status_hidden`), all four (N and the events bound the
    population from below)."""
    values = {c: pd.to_numeric(model.get(c), errors="coerce") for c in MODEL_COUNTS}
    out = {c: "small_count" for c, v in values.items() if not pd.isna(v) and 1 <= v < m}
    if forced:
        out.setdefault("N", "secondary")
    linked = set(MODEL_COUNTS) if status_hidden else {"N", "n_dropped_missing", "n_events"} if \
        {"N", "n_dropped_missing"} & set(out) else set()
    for c in linked:
        out.setdefault(c, "linked_total")
    return out


def _blocks_with_hidden_cells(associations: pd.DataFrame | None) -> set[tuple[str, str]]:
    """(outcome, factor) of the protected association blocks with a hidden count or total."""
    if associations is None or "suppressed" not in associations.columns:
        return set()
    hit = associations["suppressed"].astype(bool) | associations["denominator_suppressed"].astype(bool)
    return {(str(o), str(f)) for o, f in zip(associations.loc[hit, "outcome"], associations.loc[hit, "factor"])}


def protect_regression(regression: pd.DataFrame, min_cell_count: int, status_hidden: Collection[str] = (),
                       associations: pd.DataFrame | None = None,
                       forced: Collection[sdc.Cell] = frozenset()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Disclosure control of ``regression.csv`` (:mod:`msht.publish.sdc`; nothing changes when
    ``min_cell_count`` is 0 or 1).

    Under SDC every ``n_level`` is hidden (with ``N`` and the other levels a term's count would
    give the reference level's back). A term's odds ratio, CI and p are withheld (``sdc_withheld``)
    when its level or the rest of its model (``N`` - ``n_level``) has from 1 to m-1 cases
    (``small_count``), and when the association block of its outcome and factor has a hidden
    count or total (``associations``: the protected ``associations.csv`` rows; ``test_withheld``):
    the adjusted odds ratio is a function of the same cases' cross-table, so a block whose
    unadjusted odds ratio and test are withheld has its adjusted one withheld too. A model's counts
    (:data:`MODEL_COUNTS`) are hidden as :func:`_hidden_model_counts` says (a count from 1 to
    m-1; N, the cases dropped and the events together; all four for the outcomes in
    ``status_hidden``, :func:`msht.publish.association_tables.status_hidden`; N of an outcome
    named by a ``forced`` cell ``("regression", outcome, factor, level, "N")``, chosen by the
    release's audit, :func:`msht.publish.sdc.forced_cells`), and so are their
    numbers in the model's ``note`` (:data:`NOTE_COUNTS`). Returns the frame (with marker columns
    ``sdc_withheld`` and ``n_level_suppressed``, dropped when the CSV is written) and its
    ``suppression.csv`` rows (``file`` ``regression``).
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
    blocks = _blocks_with_hidden_cells(associations)
    linked = term & pd.Series([(str(o), str(f)) in blocks for o, f in zip(out["outcome"], out["factor"])], index=out.index)
    for col in ("n_level", "adjusted_or", "ci_low", "ci_high", "p"):
        out[col] = out[col].astype(object)

    def base(idx) -> dict[str, object]:
        return {"file": "regression", "table": out.at[idx, "outcome"], "variable": out.at[idx, "factor"],
                "level": out.at[idx, "level"]}

    for idx in out.index[term]:
        reason = "small_count" if small[idx] else "secondary"
        rows.append({**base(idx), "column": "n_level", "reason": reason,
                     "display": sdc.SMALL_MARK.format(m=m) if reason == "small_count" and 1 <= n_level[idx] < m
                     else sdc.SECONDARY_MARK})
        out.at[idx, "n_level"] = pd.NA
        out.at[idx, "n_level_suppressed"] = True
        if small[idx] or linked[idx]:
            why = "small_count" if small[idx] else "test_withheld"
            for col in ("adjusted_or", "ci_low", "ci_high", "p"):
                rows.append({**base(idx), "column": col, "reason": why, "display": sdc.SECONDARY_MARK})
                out.at[idx, col] = pd.NA
            out.at[idx, "sdc_withheld"] = True
    for outcome, block in out.groupby("outcome", sort=False):
        pushed = any(c[0] == "regression" and c[1] == outcome and c[4] == "N" for c in forced)
        hidden = _hidden_model_counts(block.iloc[0], m, outcome in set(status_hidden), pushed)
        for col, reason in hidden.items():
            if col not in out.columns or pd.isna(pd.to_numeric(block.iloc[0][col], errors="coerce")):
                continue  # nothing published, nothing to hide
            out[col] = out[col].astype(object)
            display = sdc.SMALL_MARK.format(m=m) if reason == "small_count" else sdc.SECONDARY_MARK
            for idx in block.index:
                rows.append({**base(idx), "column": col, "reason": reason, "display": display})
                out.at[idx, col] = pd.NA
        if hidden and "note" in out.columns:
            out.loc[block.index, "note"] = [_redact_note(v, hidden) for v in block["note"]]
    return out, pd.DataFrame(rows, columns=list(sdc.SUPPRESSION_COLUMNS))
