"""The results contract: tidy CSVs with stable, documented columns (names and columns in
:data:`msht.base.contract.CONTRACT`), and the one writer of results files.

Every table a reader sees is also written here, in the run's ``results_dir``. Later work adds
rows, or new files, never changes a file's columns. Codes in ``variable``/``factor``/``level``
come from :mod:`msht.base.vocab`.

================================  ===================================================================================
file                              columns
================================  ===================================================================================
``descriptives.csv``              table, variable, level, n, denominator, pct
``associations.csv``              outcome, factor, level, n, denominator, pct, statistic, df, p, test
``exclusions.csv``                step, rule, entity, rows_in, excluded, rows_out
``association_tests.csv``         see below (one row per test)
``association_residuals.csv``     outcome, factor, level, n, denominator, expected_n, adjusted_residual
``association_vs_published.csv``  see below
``seed_disagreements.csv``        source, outcome, factor, level, kind, printed, reference, reference_source, message
``regression.csv``                see below
``suppression.csv``               file, table, variable, level, column, reason, display (release runs only)
``forces_pooled.csv``             see below (several-force runs only)
``forces_odds_ratios.csv``        see below (several-force runs only)
``forces_funnel.csv``             see below (several-force runs only)
================================  ===================================================================================

Names: in code, "published" (or "study") means the published study this toolkit reproduces and
"seed" means only a random-number seed. The ``_seed`` suffix of the columns ``test_seed``,
``chi2_seed``, ``p_seed`` and ``significant_seed`` and the file name ``seed_disagreements.csv``
predate that rule: there ``seed`` means "as in the published study" (its test convention, its
tables). They are kept unchanged for compatibility, since the file and column names are this
contract; the code names the concept "study" (e.g. :attr:`msht.analysis.stats.AssociationResult.chi2_study`
is written to ``chi2_seed``).

``pct`` is ``100 * n / denominator`` rounded to one decimal, as printed. ``denominator`` is the
number of units with a known value; an ``unknown`` level row carries the missing count in ``n``
and leaves ``denominator`` and ``pct`` empty. In ``associations.csv`` the test columns repeat on
each level row of a factor.

Association results (notebook 03)
---------------------------------
``associations.csv`` holds the study's Appendix 4: per outcome × factor level, ``n`` units with the
outcome's positive level (``positive`` engagement, offered ``yes``, accepted ``yes``) of the
``denominator`` units of that level in the test, and the study-convention test (``test``: "Yates
chi-square" for two levels, "Pearson chi-square" for three). Rows with ``factor`` and ``level``
``overall`` are Appendix 4's "Overall % (n)" (empty test columns). A test that could not be computed
has ``test`` "not computable" and empty ``statistic``, ``df`` and ``p``. Units: cases, except the
offender factors, counted on case-offender pairs.

``association_tests.csv``: one row per outcome × factor test.

* ``unit``: "cases" or "case-offender pairs"; ``N``: units in the test.
* ``test_seed``, ``chi2_seed``, ``df``, ``p_seed``: the study-convention test (as in ``associations.csv``).
* ``min_expected``: smallest expected count; ``n_cells_expected_below_5``: cells with an expected count < 5.
* ``fisher_p``: Fisher's exact p where an expected count is below 5 (exact for 2×2; seeded Monte Carlo
  for larger tables), else empty.
* ``test_chosen``, ``p_chosen``: Fisher's test where it was run, else the study's test; "not computable"
  (with the reason in ``note``) for a degenerate table.
* ``effect_size_name``, ``effect_size``: signed phi for 2×2 tables (positive when the factor's first
  level has the higher share of the positive outcome), Cramér's V for larger ones.
* ``odds_ratio``, ``or_ci_low``, ``or_ci_high``: 2×2 only: odds of the positive outcome in the first
  level of ``or_contrast`` ("male vs female", level codes) over the second, with its 95% Wald CI
  (Haldane-Anscombe +0.5 when a cell is zero, said in ``note``).
* ``q_bh``: Benjamini-Hochberg q-value of ``p_chosen`` across all computable tests of the file.
* ``significant_seed``: ``p_seed < alpha``; ``significant_bh``: ``q_bh < alpha`` (empty if not computable).
* ``note``: small expected counts, Fisher method, zero cells, or why the test was not computable.

``association_residuals.csv``: per level of each computable test with more than two levels, ``n``
of ``denominator`` with the positive outcome, the ``expected_n`` under independence and the
``adjusted_residual`` (standardized, for the positive outcome; |value| > 1.96 marks a level that
differs at 5%).

``association_vs_published.csv``: per outcome × factor level of Appendix 4 (and per outcome
overall), the published ``n_published``, ``N_published`` (denominator rebuilt from the printed %
and n), ``pct_published``, ``chi2_published`` and ``p_published`` (as printed, text) against this
run's ``n_run``, ``N_run``, ``pct_run``, ``chi2_run``, ``p_run``; ``pct_diff`` = ``pct_run`` -
``pct_published``; ``significant_published`` (p rebuilt from the printed counts < alpha),
``significant_run``, ``verdict_agrees``.

``seed_disagreements.csv``: where the study's Tables 2-4 disagree with its Appendix 4, and Appendix
4's statistics with its own counts (independent of the run): ``source`` (the table printing the
value), ``outcome``, ``factor``, ``level``, ``kind`` (chi2_misprint, p_misprint, labels_swapped,
value, direction, p_label, missing, extra), ``printed``, ``reference`` (what ``reference_source``
gives), ``message``.

``regression.csv`` (exploratory): per outcome, a logistic regression on complete cases; one row per
term: ``factor``, ``level`` against ``reference``, ``n_level`` (complete cases at the level),
``adjusted_or`` with ``ci_low``/``ci_high`` (95%, cluster-robust by victim) and ``p``; repeated per
row: ``N`` (complete cases), ``n_population``, ``n_dropped_missing``, ``n_events`` (cases with the
rarer outcome), ``converged`` and ``note`` (terms left out and why). A model that could not be
estimated has one row with empty term columns, ``converged`` false and the reason in ``note``.

Forces compared (several-force runs, issue 19; :mod:`msht.analysis.stratified`)
-----------------------------------------------------------------------------
Each Appendix 4 test is stratified by force: counted within each force (same units and populations
as ``association_tests.csv``) and pooled across forces. A *comparison* is a factor level against its
``reference``: the first level against the second for two levels, each other level against the
first (``17_and_under``) for the three-level age factors.

``forces_pooled.csv``: one row per outcome × factor comparison.

* ``outcome``, ``factor``, ``level``, ``reference``, ``unit`` ("cases" or "case-offender pairs").
* ``n_strata``: forces pooled (units in both compared levels and both outcome levels); ``n``: their units.
* ``mh_or``, ``ci_low``, ``ci_high``: Mantel-Haenszel odds ratio of the outcome's positive level in
  ``level`` over ``reference``, pooled across forces, with its 95% CI (Robins-Breslow-Greenland); 0 or
  inf when no force has a·d > 0 or b·c > 0 (then the CI is empty, said in ``note``).
* ``cmh_statistic``, ``cmh_df``, ``cmh_p``: the Cochran-Mantel-Haenszel test of no association within
  forces: for two-level factors on the comparison's 2×2×K table (1 df, continuity-corrected as R's
  ``mantelhaen.test``); for three-level factors the generalized CMH (general association) of the whole
  factor (2 df), the same on each of its rows.
* ``homogeneity_test``: "Breslow-Day (Tarone)", "none: one force" or "not computable";
  ``homogeneity_statistic``, ``homogeneity_df`` (forces - 1), ``homogeneity_p``: the Breslow-Day test
  with Tarone's correction that the forces' odds ratios of the comparison are equal.
* ``method``: "CMH (2x2xK)" or "generalized CMH (general association)".
* ``note``: forces left out (and why), what was not computable, and a warning when the homogeneity
  p is below ``alpha`` (the pooled odds ratio then averages unequal effects).

``forces_odds_ratios.csv``: per force and comparison, ``n`` units, the cells ``a`` (level, outcome
positive), ``b`` (level, negative), ``c`` (reference, positive), ``d`` (reference, negative), and
``odds_ratio`` = a·d / (b·c) with its 95% Wald CI ``ci_low``, ``ci_high`` (0.5 added to every cell
where one is zero, said in ``note``; empty where the force has no units in a compared level or an
outcome level, "not computable" in ``note``). A force that sent no offender extract has zero cells
on the offender factors and on ``recorded_offender`` (unknown for its cases).

``forces_funnel.csv``: per outcome and force, ``n`` cases with the outcome recorded (its compared
levels), ``events`` with its positive level, ``rate`` = events / n, ``overall_rate`` (all forces'
events over their cases), the exact binomial control limits around the overall rate at ``n``
(``lower_95``, ``upper_95``, ``lower_998``, ``upper_998``; Spiegelhalter 2005) and ``position``:
"within 95%", "between 95% and 99.8%", "outside 99.8%" or "no cases".

Under disclosure control (:mod:`msht.publish.forces_figures`) hidden cells, the odds ratios computed
from them, pooled statistics that would give them back, and funnel events and rates are written empty,
with their rows in ``suppression.csv`` (files ``forces_odds_ratios``, ``forces_pooled``, ``forces_funnel``).

Disclosure control (``min_cell_count`` > 1, e.g. ``params/release.yaml``)
---------------------------------------------------------------------------
Columns never change: a value hidden by :mod:`msht.publish.sdc` is written **empty**, and
``suppression.csv`` lists one row per hidden value: ``file`` (``completeness``, ``spellings``,
``descriptives``, ``associations``, ``association_tests``, ``association_residuals``,
``association_vs_published`` or ``regression``), ``table`` (the descriptives table, the outcome,
or the extract), ``variable`` (variable, factor or field), ``level`` (for ``spellings``:
``"<code>: <raw value>"``), ``column`` (the hidden column), ``reason`` (see ``msht.publish.sdc.REASONS``; also
``test_withheld`` for the derived files) and ``display`` (what the report shows: ``"<5"``,
``"[c]"``). An empty value without a row there is an ordinary missing value.
There is one ``suppression.csv`` per run: notebook 01 writes the rows of the data-quality tables
(``completeness``, ``spellings``), notebook 02 rewrites it as those followed by its
``descriptives`` rows, and notebook 03 rewrites the file as those rows (re-read, any other rows
dropped) followed by its own
(associations, then the derived files, then regression), so the file is the same whatever ran
before. With ``min_cell_count`` 0 or 1 (the default) nothing is hidden and ``suppression.csv``
is not written, so the default run's results are those of a run without the SDC step.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Final

import pandas as pd

from msht.base.contract import CONTRACT

class ResultsContractError(ValueError):
    """A results frame does not have its contract's columns."""


def conform(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Return ``frame`` restricted to, and ordered by, the contract columns of ``name``."""
    if name not in CONTRACT:
        return frame
    cols = list(CONTRACT[name])
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ResultsContractError(f"results '{name}' lacks contract columns {missing}")
    return frame[cols]


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS: Final[tuple[str, ...]] = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def neutralise_formula(value: object) -> object:
    """Prefix ``'`` to a text value a spreadsheet would run as a formula (``=cmd|' /C calc'!A0``,
    ``+``, ``-``, ``@``, tab, carriage return), as OWASP recommends. Numbers written as text
    (``-1.5``) and a lone ``-`` are left alone; non-text values are returned as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) and value != "-" and not _NUMBER.match(value):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Apply :func:`neutralise_formula` to every text column (raw values echoed in results, such
    as ``spellings.csv``'s ``raw_value``, come from the police extracts: untrusted input)."""
    text_cols = [c for c in frame.columns if frame[c].dtype == object or isinstance(frame[c].dtype, pd.StringDtype)]
    if not text_cols:
        return frame
    out = frame.copy()
    for col in text_cols:
        out[col] = out[col].map(neutralise_formula, na_action="ignore")
    return out


def write_csv(frame: pd.DataFrame, name: str, results_dir: Path) -> Path:
    """Write results ``name`` atomically (temporary file, then rename) as ``<results_dir>/<name>.csv``.

    Floats are written with 6 significant digits so that two runs on the same input give
    byte-identical files. Text that a spreadsheet would run as a formula is neutralised
    (:func:`neutralise_formulas`).
    """
    results_dir.mkdir(parents=True, exist_ok=True)
    out = neutralise_formulas(conform(frame, name))
    target = results_dir / f"{name}.csv"
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".csv", dir=results_dir)
    os.close(fd)
    try:
        out.to_csv(tmp, index=False, float_format="%.6g", lineterminator="\n")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def read_csv(name: str, results_dir: Path) -> pd.DataFrame:
    """Read results ``name`` back (level codes stay text)."""
    return pd.read_csv(results_dir / f"{name}.csv", dtype={"level": str, "variable": str, "factor": str})


#: The ``file`` values of ``suppression.csv`` that notebook 01 writes (the data-quality tables,
#: :func:`msht.publish.quality.protect_completeness`, ``protect_spellings``, ``protect_problems`` and
#: ``protect_exclusions``); notebooks 02 and 03 keep them.
#: In a run of several forces, notebook 05 runs before 02 and 03 and writes the ``suppression.csv``
#: rows of the forces' files (:data:`FORCES_FILES`), which 02 and 03 keep in the same way.
FORCES_FILES: Final[tuple[str, ...]] = (
    "forces_exclusions", "forces_completeness", "forces_spellings", "forces_problems", "forces_appendix4",
    "forces_odds_ratios", "forces_pooled", "forces_funnel",
)
QUALITY_FILES: Final[tuple[str, ...]] = ("completeness", "spellings", "problems", "exclusions", *FORCES_FILES)
#: Folder under a run's ``processed_dir`` that holds the unprotected values of its protected
#: results files (release runs only; see :func:`write_unprotected`).
UNPROTECTED_DIR: Final[str] = "unprotected"


def write_unprotected(frame: pd.DataFrame, name: str, processed_dir: Path, min_cell_count: int) -> Path | None:
    """Under disclosure control, keep the unprotected values of results file ``name`` with the
    run's clean row-level tables (``<processed_dir>/unprotected/<name>.csv``, git-ignored, never
    published), for the data owner and for :mod:`msht.publish.audit`, which bounds each hidden count of
    the release and checks it against its true value. Nothing is written when
    ``min_cell_count`` is 0 or 1 (returns None)."""
    if int(min_cell_count) <= 1:
        return None
    return write_csv(frame, name, Path(processed_dir) / UNPROTECTED_DIR)


def write_suppression(rows: pd.DataFrame, results_dir: Path, min_cell_count: int, *,
                      keep_files: tuple[str, ...] = ()) -> Path | None:
    """Write ``suppression.csv`` (see the module docstring) when disclosure control is on.

    ``rows`` are this notebook's rows; ``keep_files`` names the ``file`` values of an existing
    ``suppression.csv`` to keep before them (notebook 03 keeps notebook 02's ``descriptives``
    rows); any other existing rows are dropped, so a rerun gives the same file. Nothing is written
    when ``min_cell_count`` is 0 or 1 (returns None).
    """
    if int(min_cell_count) <= 1:
        return None
    parts = []
    target = results_dir / "suppression.csv"
    if keep_files and target.exists():
        old = pd.read_csv(target, dtype=str, keep_default_na=False)
        parts.append(old[old["file"].isin(keep_files)])
    parts.append(rows.astype(object))
    frame = pd.concat(parts, ignore_index=True) if parts else rows
    return write_csv(frame, "suppression", results_dir)
