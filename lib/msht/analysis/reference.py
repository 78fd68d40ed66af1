"""The study's published Appendix 4 numbers, and the integer tables they imply.

Appendix 4 prints, for each outcome × factor level, the percentage of the level with a
positive outcome and its count ``n`` ("38.1 (117)"), then one χ² and p per outcome ×
factor. The level denominators ``N`` are not printed; :func:`implied_tables` recovers
them: ``N`` is an integer for which ``100 * n / N`` rounds to the printed percentage.
Where several ``N`` fit, the combination of level denominators is chosen on the
study-convention test (Yates chi-square for 2 levels, Pearson for 3), in this order:

1. its χ² prints (3 decimals) as the published χ²;
2. its p prints (3 decimals or "<0.001") as the published p;
3. its χ² is closest to the published χ² (then: smallest denominators).

Rule 2 matters once. For offered × domestic servitude, the "no" denominator closest in
χ² (2143, χ² 0.00201) gives p 0.964; ``N = 2145`` (χ² 0.00238) prints as both the
published χ² 0.002 and p 0.961, and gives the four exploitation-type factors one
common denominator total (2233 cases), as it should.

A synthetic-data generator can calibrate to the resulting ``n``/``N`` targets.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from msht.base import vocab
from msht.analysis.stats import association_test, format_p, p_threshold_label

__all__ = [
    "DISAGREEMENT_COLUMNS",
    "KNOWN_MISPRINTS",
    "OUTCOME_TEST_LEVELS",
    "OVERALL",
    "candidate_denominators",
    "contingency_table",
    "implied_tables",
    "load_published",
    "load_published_findings",
    "published_disagreements",
]

#: Value of ``factor`` and ``level`` in the rows transcribing "Overall % (n)".
OVERALL: Final[str] = "overall"

#: Outcome levels compared in Appendix 4, positive level first (table column order).
OUTCOME_TEST_LEVELS: Final[dict[str, tuple[str, str]]] = {
    "engagement": ("positive", "negative"),
    "offered": ("yes", "no"),
    "accepted": ("yes", "no"),
}

#: Printed χ² values that the printed counts do not reproduce, with what they give.
KNOWN_MISPRINTS: Final[dict[tuple[str, str], str]] = {
    ("engagement", "county_lines"): (
        "printed chi2 0.686, but the counts give Yates chi2 0.676, whose p (0.411) is "
        "the printed p: the chi2 digits are a typo"
    ),
}

_PUBLISHED_CSV: Final[str] = "appendix4_published.csv"
_FINDINGS_CSV: Final[str] = "tables2_4_published.csv"

#: Columns of :func:`published_disagreements`.
DISAGREEMENT_COLUMNS: Final[tuple[str, ...]] = (
    "source", "outcome", "factor", "level", "kind", "printed", "reference", "reference_source", "message",
)


def load_published() -> pd.DataFrame:
    """Load the transcription of the study's Appendix 4.

    Returns:
        Columns ``outcome, factor, level, pct, n, chi2, p_printed``; ``p_printed`` is
        text exactly as printed (e.g. ``"<0.001"``), ``chi2`` is NaN on ``overall`` rows.
    """
    source = resources.files("msht").joinpath("data", _PUBLISHED_CSV)
    with source.open("r", encoding="utf-8") as fh:
        df = pd.read_csv(
            fh,
            dtype={"outcome": str, "factor": str, "level": str, "p_printed": str},
            keep_default_na=False,
            na_values={"chi2": [""], "p_printed": [""]},
        )
    df["pct"] = df["pct"].astype(float)
    df["n"] = df["n"].astype(int)
    df["chi2"] = pd.to_numeric(df["chi2"])
    return df


def candidate_denominators(n: int, pct: float) -> list[int]:
    """All integers ``N >= n`` for which ``100 * n / N`` rounds to ``pct`` (1 decimal).

    The test is exact (rational arithmetic): ``|100 n / N - pct| <= 0.05``, so a value
    lying exactly half-way counts whichever tie-breaking rule the authors' software used.

    Args:
        n: Count with the outcome.
        pct: Printed percentage, one decimal.

    Returns:
        Candidate denominators in increasing order (possibly empty).

    Raises:
        ValueError: If ``pct`` rounds to 0.0 (the denominator is then not determined).
    """
    target = Fraction(str(pct))
    half = Fraction(1, 20)
    if target <= half:
        raise ValueError(f"cannot derive a denominator from pct={pct}")
    low = max(n, 1, math.floor(100 * n / (target + half)))
    high = math.ceil(100 * n / (target - half))
    return [big_n for big_n in range(low, high + 1) if abs(Fraction(100 * n, big_n) - target) <= half]


def _score(counts: npt.NDArray[np.int64], chi2_printed: float, p_printed: str) -> tuple[bool, bool, float]:
    """Sort key of a candidate table: fails printed χ², fails printed p, |Δχ²|."""
    if (counts.sum(axis=0) == 0).any() or (counts.sum(axis=1) == 0).any():
        return (True, True, math.inf)
    res = stats.chi2_contingency(counts, correction=True)
    statistic, p = float(res.statistic), float(res.pvalue)
    return (
        f"{statistic:.3f}" != f"{chi2_printed:.3f}",
        format_p(p) != p_printed,
        abs(statistic - chi2_printed),
    )


def _table(ns: tuple[int, ...], big_ns: tuple[int, ...]) -> npt.NDArray[np.int64]:
    return np.array([[n, big_n - n] for n, big_n in zip(ns, big_ns, strict=True)], dtype=np.int64)


def _overall_rows(outcome: str, grp: pd.DataFrame) -> list[dict[str, object]]:
    """Rows for "Overall % (n)": no χ² to match, so take the N nearest ``100 n / pct``."""
    rows: list[dict[str, object]] = []
    for level, n, pct in zip(grp["level"], grp["n"], grp["pct"], strict=True):
        cands = candidate_denominators(int(n), float(pct))
        big_n = min(cands, key=lambda c: (abs(c - 100 * n / pct), c))
        rows.append(
            {"outcome": outcome, "factor": OVERALL, "level": level, "n": int(n), "N": big_n,
             "pct_printed": float(pct), "chi2_printed": math.nan, "chi2_rebuilt": math.nan,
             "p_printed": None, "p_rebuilt": math.nan, "n_fitting_N": len(cands),
             "n_tables_matching": 0}
        )
    return rows


def _test_rows(outcome: str, factor: str, grp: pd.DataFrame) -> list[dict[str, object]]:
    """Rows of one printed test: pick the level denominators, re-run the test."""
    levels = [str(v) for v in grp["level"]]
    ns = tuple(int(v) for v in grp["n"])
    pcts = tuple(float(v) for v in grp["pct"])
    candidates = [candidate_denominators(n, pct) for n, pct in zip(ns, pcts, strict=True)]
    for level, n, pct, cands in zip(levels, ns, pcts, candidates, strict=True):
        if not cands:
            raise ValueError(f"no denominator fits {outcome} × {factor} = {level}: {pct} ({n})")
    chi2_printed = float(grp["chi2"].iloc[0])
    p_printed = str(grp["p_printed"].iloc[0])
    scored = [
        (_score(_table(ns, big_ns), chi2_printed, p_printed), big_ns)
        for big_ns in itertools.product(*candidates)
    ]
    # min() keeps the first of equal scores, i.e. the smallest denominators.
    best = min(scored, key=lambda item: item[0])[1]
    n_matching = sum(1 for score, _ in scored if not (score[0] or score[1]))
    result = association_test(
        _table(ns, best),
        levels,
        list(OUTCOME_TEST_LEVELS[outcome]),
        fisher_when_expected_below=0.0,
        factor=factor,
        outcome=outcome,
    )
    return [
        {"outcome": outcome, "factor": factor, "level": level, "n": n, "N": big_n,
         "pct_printed": pct, "chi2_printed": chi2_printed, "chi2_rebuilt": result.chi2_study,
         "p_printed": p_printed, "p_rebuilt": result.p_study, "n_fitting_N": len(cands),
         "n_tables_matching": n_matching}
        for level, n, pct, big_n, cands in zip(levels, ns, pcts, best, candidates, strict=True)
    ]


@cache
def _implied_tables_cached() -> pd.DataFrame:
    rows: list[dict[str, object]] = []
    for (outcome, factor), grp in load_published().groupby(["outcome", "factor"], sort=False):
        if factor == OVERALL:
            rows += _overall_rows(str(outcome), grp)
        else:
            rows += _test_rows(str(outcome), str(factor), grp)
    int_columns = {"n": "int64", "N": "int64", "n_fitting_N": "int64", "n_tables_matching": "int64"}
    return pd.DataFrame(rows).astype(int_columns)


def implied_tables() -> pd.DataFrame:
    """Rebuild every Appendix 4 level's denominator and re-run its test.

    Returns:
        One row per (outcome, factor, level), in the order of the published CSV, with
        columns ``outcome, factor, level, n, N, pct_printed, chi2_printed,
        chi2_rebuilt, p_printed, p_rebuilt, n_fitting_N, n_tables_matching``: ``N`` is the implied
        denominator (cases of that level in the test) and ``N - n`` the negative-outcome
        count; ``chi2_rebuilt``/``p_rebuilt`` are the study-convention test on the
        rebuilt table (Yates for 2 levels, Pearson for 3; same value on every level row
        of a test); ``n_fitting_N`` counts the denominators compatible with the printed
        percentage (1 = unambiguous); ``n_tables_matching`` counts the combinations of
        level denominators of the test that reproduce both the printed χ² and p (0 when
        none does, as for the known misprint). On ``overall`` rows no χ² is printed,
        ``N`` is the candidate nearest ``100 n / pct`` and ``n_tables_matching`` is 0.
    """
    return _implied_tables_cached().copy()


def contingency_table(
    implied: pd.DataFrame, outcome: str, factor: str
) -> tuple[npt.NDArray[np.int64], list[str], list[str]]:
    """Return one rebuilt table from :func:`implied_tables` output.

    Args:
        implied: The frame returned by :func:`implied_tables`.
        outcome: Outcome code.
        factor: Factor code.

    Returns:
        ``(counts, factor_levels, outcome_levels)``; ``counts[i] = [n_i, N_i - n_i]``.

    Raises:
        KeyError: If the outcome × factor pair is not in ``implied``.
    """
    sub = implied[(implied["outcome"] == outcome) & (implied["factor"] == factor)]
    if sub.empty:
        raise KeyError(f"no implied table for {outcome} × {factor}")
    ns = tuple(int(v) for v in sub["n"])
    big_ns = tuple(int(v) for v in sub["N"])
    return _table(ns, big_ns), list(sub["level"]), list(OUTCOME_TEST_LEVELS[outcome])


# --- Tables 2-4 against Appendix 4 --------------------------------------------------------------


def load_published_findings() -> pd.DataFrame:
    """Load the transcription of the study's Tables 2-4 (``data/tables2_4_published.csv``).

    Returns:
        One row per printed level cell: ``table`` ("Table 2" ...), ``outcome``, ``factor``,
        ``heading`` (the printed row heading, without its p label), ``heading_level`` (the level
        the heading says has the higher share), ``p_label`` (as printed, e.g. ``"p<0.01"``),
        ``level``, ``label_printed``, ``pct`` and ``n`` (as printed).
    """
    source = resources.files("msht").joinpath("data", _FINDINGS_CSV)
    with source.open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype=str, keep_default_na=False)
    df["pct"] = df["pct"].astype(float)
    df["n"] = df["n"].astype(int)
    return df


def _cell(pct: float, n: int) -> str:
    return f"{pct:.1f}% (n={n})"


def _disagreement(source: str, outcome: str, factor: str, level: str, kind: str, printed: str,
                  reference: str, reference_source: str, message: str) -> dict[str, str]:
    return dict(zip(DISAGREEMENT_COLUMNS,
                    (source, outcome, factor, level, kind, printed, reference, reference_source, message),
                    strict=True))


def _subject(outcome: str, factor: str) -> str:
    return f"{vocab.variable_label(factor).lower()} × {vocab.variable_label(outcome).lower()}"


def _appendix_misprints() -> list[dict[str, str]]:
    """Appendix 4 tests whose printed χ² or p the printed counts do not reproduce."""
    tests = implied_tables().query("factor != @OVERALL").drop_duplicates(["outcome", "factor"])
    rows = []
    for t in tests.itertuples():
        chi2_ok = f"{t.chi2_printed:.3f}" == f"{t.chi2_rebuilt:.3f}"
        p_ok = format_p(t.p_rebuilt) == t.p_printed
        subject = _subject(t.outcome, t.factor)
        if not chi2_ok:
            p_note = "matches the printed p" if p_ok else f"against the printed p = {t.p_printed}"
            rows.append(_disagreement(
                "Appendix 4", t.outcome, t.factor, "", "chi2_misprint", f"{t.chi2_printed:.3f}",
                f"{t.chi2_rebuilt:.3f}", "Appendix 4 counts",
                f"Appendix 4 prints χ² = {t.chi2_printed:.3f} for {subject}, but its own counts give "
                f"χ² = {t.chi2_rebuilt:.3f}, whose p ({format_p(t.p_rebuilt)}) {p_note}.",
            ))
        elif not p_ok:
            rows.append(_disagreement(
                "Appendix 4", t.outcome, t.factor, "", "p_misprint", t.p_printed, format_p(t.p_rebuilt),
                "Appendix 4 counts",
                f"Appendix 4 prints p = {t.p_printed} for {subject}, but its counts give p = {format_p(t.p_rebuilt)}.",
            ))
    return rows


def _block_disagreements(block: pd.DataFrame, appendix: pd.DataFrame, p_rebuilt: float) -> list[dict[str, str]]:
    """Compare one printed Tables 2-4 row (all its level cells) with Appendix 4."""
    first = block.iloc[0]
    table, outcome, factor = str(first["table"]), str(first["outcome"]), str(first["factor"])
    app = appendix.set_index("level")
    printed = {str(r.level): (float(r.pct), int(r.n)) for r in block.itertuples()}
    published = {lv: (float(app.at[lv, "pct"]), int(app.at[lv, "n"])) for lv in printed}
    subject = _subject(outcome, factor)
    rows: list[dict[str, str]] = []
    levels = list(printed)
    swapped = (
        len(levels) == 2
        and printed[levels[0]] == published[levels[1]]
        and printed[levels[1]] == published[levels[0]]
        and printed[levels[0]] != published[levels[0]]
    )
    if swapped:
        a, b = levels
        label_a, label_b = (str(v) for v in block["label_printed"].iloc[:2])
        printed_top = max(printed, key=lambda lv: printed[lv][0])
        follows = table if printed_top == first["heading_level"] else "Appendix 4"
        rows.append(_disagreement(
            table, outcome, factor, f"{a};{b}", "labels_swapped",
            f"{label_a} {_cell(*printed[a])}; {label_b} {_cell(*printed[b])}",
            f"{vocab.label(factor, a)} {_cell(*published[a])}; {vocab.label(factor, b)} {_cell(*published[b])}",
            "Appendix 4",
            f"{table} and Appendix 4 attach the two shares of {subject} to opposite levels: {table} gives "
            f"'{label_a}' {_cell(*printed[a])}, Appendix 4 gives '{vocab.label(factor, a)}' {_cell(*published[a])}. "
            f"{table}'s heading ('{first['heading']}') agrees with {follows}; one of the two tables is mislabelled.",
        ))
    else:
        for r in block.itertuples():
            lv = str(r.level)
            if printed[lv] == published[lv]:
                continue
            what = [name for name, i in (("%", 0), ("n", 1)) if printed[lv][i] != published[lv][i]]
            rows.append(_disagreement(
                table, outcome, factor, lv, "value", _cell(*printed[lv]), _cell(*published[lv]), "Appendix 4",
                f"{table} prints '{r.label_printed}' ({subject}) as {_cell(*printed[lv])}; Appendix 4 gives "
                f"{_cell(*published[lv])} ({' and '.join(what)} {'differ' if len(what) > 1 else 'differs'}).",
            ))
        top = max(published, key=lambda lv: published[lv][0])
        if top != first["heading_level"]:
            rows.append(_disagreement(
                table, outcome, factor, str(first["heading_level"]), "direction", str(first["heading"]),
                vocab.label(factor, top), "Appendix 4",
                f"{table}'s heading '{first['heading']}' contradicts Appendix 4, where '{vocab.label(factor, top)}' "
                f"has the highest share of {subject}.",
            ))
    label = p_threshold_label(p_rebuilt)
    if label != first["p_label"]:
        rows.append(_disagreement(
            table, outcome, factor, "", "p_label", str(first["p_label"]), label, "Appendix 4",
            f"{table} heads {subject} '{first['p_label']}', but Appendix 4's p is {p_rebuilt:.4f} "
            f"(printed {format_p(p_rebuilt)}), i.e. {label}.",
        ))
    return rows


def published_disagreements(alpha: float = 0.05) -> pd.DataFrame:
    """Every place where the study's Tables 2-4 disagree with its Appendix 4, and Appendix 4's misprints.

    Compares the transcriptions of Tables 2-4 (:func:`load_published_findings`) and Appendix 4
    (:func:`load_published`, with the p-values rebuilt by :func:`implied_tables`):

    * ``chi2_misprint`` / ``p_misprint``: an Appendix 4 χ² or p its own counts do not reproduce;
    * ``labels_swapped``: a two-level row whose two cells carry each other's Appendix 4 values;
    * ``value``: a level cell whose % or n differs from Appendix 4;
    * ``direction``: a heading naming a level that does not have the highest share in Appendix 4;
    * ``p_label``: a heading threshold (``p<0.001`` ...) that Appendix 4's p does not support;
    * ``missing`` / ``extra``: a factor significant at ``alpha`` in Appendix 4 but not listed, or
      listed but not significant.

    Args:
        alpha: Significance level Tables 2-4 are checked against (the study's is 0.05).

    Returns:
        Columns :data:`DISAGREEMENT_COLUMNS`; ``message`` is a plain sentence built from the values.
    """
    findings = load_published_findings()
    published = load_published()
    implied = implied_tables()
    tests = implied[implied["factor"] != OVERALL].drop_duplicates(["outcome", "factor"]).set_index(["outcome", "factor"])
    rows = _appendix_misprints()
    for (outcome, factor), block in findings.groupby(["outcome", "factor"], sort=False):
        appendix = published[(published["outcome"] == outcome) & (published["factor"] == factor)]
        rows += _block_disagreements(block, appendix, float(tests.at[(outcome, factor), "p_rebuilt"]))
    listed = set(zip(findings["outcome"], findings["factor"], strict=True))
    table_of = dict(zip(findings["outcome"], findings["table"], strict=False))
    for (outcome, factor), t in tests.iterrows():
        significant = float(t["p_rebuilt"]) < alpha
        subject = _subject(str(outcome), str(factor))
        table = table_of.get(str(outcome), "Tables 2-4")
        if significant and (outcome, factor) not in listed:
            rows.append(_disagreement(
                table, str(outcome), str(factor), "", "missing", "not listed", format_p(float(t["p_rebuilt"])),
                "Appendix 4", f"{table} does not list {subject}, although Appendix 4's p is {format_p(float(t['p_rebuilt']))}.",
            ))
        if not significant and (outcome, factor) in listed:
            rows.append(_disagreement(
                table, str(outcome), str(factor), "", "extra", "listed", format_p(float(t["p_rebuilt"])), "Appendix 4",
                f"{table} lists {subject}, although Appendix 4's p is {format_p(float(t['p_rebuilt']))}.",
            ))
    return pd.DataFrame(rows, columns=list(DISAGREEMENT_COLUMNS))
