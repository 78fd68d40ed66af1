"""The results contract's names and columns: one entry per results file (``<name>.csv``).

The stages build their results frames with these columns (:mod:`msht.analysis.associate`,
:mod:`msht.analysis.models`) and :func:`msht.publish.results.write_csv` writes them in this order;
what each column means is documented in :mod:`msht.publish.results`. Later work adds files, never
changes a file's columns.
"""

from __future__ import annotations

from typing import Final

CONTRACT: Final[dict[str, tuple[str, ...]]] = {
    "descriptives": ("table", "variable", "level", "n", "denominator", "pct"),
    "associations": ("outcome", "factor", "level", "n", "denominator", "pct", "statistic", "df", "p", "test"),
    "exclusions": ("step", "rule", "entity", "rows_in", "excluded", "rows_out"),
    "association_tests": (
        "outcome", "factor", "unit", "N", "test_seed", "chi2_seed", "df", "p_seed", "min_expected",
        "n_cells_expected_below_5", "fisher_p", "test_chosen", "p_chosen", "effect_size_name", "effect_size",
        "odds_ratio", "or_contrast", "or_ci_low", "or_ci_high", "q_bh", "significant_seed", "significant_bh", "note",
    ),
    "association_residuals": ("outcome", "factor", "level", "n", "denominator", "expected_n", "adjusted_residual"),
    "association_vs_published": (
        "outcome", "factor", "level", "n_published", "N_published", "pct_published", "n_run", "N_run", "pct_run",
        "pct_diff", "chi2_published", "chi2_run", "p_published", "p_run", "significant_published",
        "significant_run", "verdict_agrees",
    ),
    "seed_disagreements": (
        "source", "outcome", "factor", "level", "kind", "printed", "reference", "reference_source", "message",
    ),
    "regression": (
        "outcome", "factor", "level", "reference", "n_level", "adjusted_or", "ci_low", "ci_high", "p",
        "N", "n_population", "n_dropped_missing", "n_events", "converged", "note",
    ),
    "suppression": ("file", "table", "variable", "level", "column", "reason", "display"),
    "forces_pooled": (
        "outcome", "factor", "level", "reference", "unit", "n_strata", "n", "mh_or", "ci_low", "ci_high",
        "cmh_statistic", "cmh_df", "cmh_p", "homogeneity_test", "homogeneity_statistic", "homogeneity_df",
        "homogeneity_p", "method", "note",
    ),
    "forces_odds_ratios": (
        "force", "outcome", "factor", "level", "reference", "n", "a", "b", "c", "d", "odds_ratio", "ci_low",
        "ci_high", "note",
    ),
    "forces_funnel": (
        "force", "outcome", "n", "events", "rate", "overall_rate", "lower_95", "upper_95", "lower_998", "upper_998",
        "position",
    ),
    # A run of several forces (issue 19; notebook 05): the forces and their sizes, each force's
    # exclusions and each force's Appendix 4, with a leading force column.
    "forces": ("force", "offender_extract", "case_entries", "cases", "victims", "case_offender_pairs"),
    "forces_exclusions": ("force", "step", "rule", "entity", "rows_in", "excluded", "rows_out"),
    "forces_appendix4": ("force", "outcome", "factor", "level", "n", "denominator", "pct", "statistic", "df", "p", "test"),
}
