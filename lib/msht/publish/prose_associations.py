"""Computed prose of section 4 and Appendix 4 (notebook 03): the associations, the published
study's internal disagreements, the comparison with it, the regression, Tables 2-4's leads and
notes, and the key findings.

Each function takes results frames after disclosure control (``associations.csv``,
``association_tests.csv``, ``association_vs_published.csv``, ``regression.csv``...) and returns
Markdown; directions are chosen by the data. Private helpers carry the ``_a4`` prefix.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from msht.analysis import stats
from msht.analysis.associate import OVERALL, findings
from msht.base import vocab
from msht.base.formats import fmt_count, fmt_row, fmt_total
from msht.publish.association_tables import factor_name, findings_display

#: At most this many tests are named in a sentence; the rest are counted.
MAX_LISTED = 8


def _a4_subject(outcome: str, factor: str) -> str:
    return f"{factor_name(factor).lower()} × {vocab.variable_label(outcome).lower()}"


def _a4_join(items: list[str]) -> str:
    """``"a, b and c"``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _a4_count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def associations_text(tests: pd.DataFrame, alpha: float) -> str:
    """Section 4's summary paragraph, from ``association_tests.csv`` rows.

    Says how many tests were run and computed, how many were significant in the study's
    convention per outcome and after the Benjamini-Hochberg correction, where Fisher's test
    replaced the chi-square (and whether it changed the verdict), the largest effect size, and
    which tests could not be computed, with the reason.
    """
    withheld = int(tests["test_chosen"].isna().sum())
    done = tests[tests["test_chosen"].notna() & (tests["test_chosen"] != "not computable")]
    failed = tests[tests["test_chosen"] == "not computable"]
    sig = done[done["significant_seed"].fillna(False).astype(bool)]
    per_outcome = [f"{_a4_count(int((sig['outcome'] == o).sum()), 'factor')} for {vocab.variable_label(o).lower()}"
                   for o in vocab.OUTCOMES if o in set(tests["outcome"])]
    fisher = done[done["test_chosen"] == "Fisher exact"]
    changed = int(((fisher["p_seed"] < alpha) != (fisher["p_chosen"] < alpha)).sum())
    n_bh = int(done["significant_bh"].fillna(False).astype(bool).sum())
    parts = [
        f"{_a4_count(len(tests), 'association test')} were run ({_a4_count(tests['outcome'].nunique(), 'outcome')} × "
        f"{_a4_count(tests['factor'].nunique(), 'factor')}); {len(done):,} could be computed"
        + (f" and are published; {_a4_count(withheld, 'test')} {'is' if withheld == 1 else 'are'} withheld by "
           "disclosure control." if withheld else "."),
        f"In the seed's convention (Yates chi-square for two levels, Pearson for three), "
        f"{_a4_count(len(sig), 'test')}{' of those published' if withheld else ''} had p < {alpha:g}: "
        f"{_a4_join(per_outcome)} (Tables 2-4).",
        f"{_a4_count(len(fisher), 'table')} had an expected count below 5, so Fisher's exact test was used for "
        f"{'it' if len(fisher) == 1 else 'them'}; "
        + ("it did not change any verdict" if changed == 0 else f"it changed the verdict for {changed:,}")
        + f" at α = {alpha:g}."
        if len(fisher) else "No table had an expected count below 5, so the chi-square approximation holds for all.",
        _a4_bh_sentence(tests, len(done), n_bh, alpha, withheld),
    ]
    if len(done) and not withheld:  # no superlative chosen among the published tests only
        top = done.loc[done["effect_size"].abs().idxmax()]
        parts.append(
            f"The strongest association was {_a4_subject(top['outcome'], top['factor'])} "
            f"({top['effect_size_name']} = {top['effect_size']:.3f}); by convention, 0.1 is a small effect and 0.3 a "
            f"medium one."
        )
    text = " ".join(parts)
    if len(failed):
        text += "\n\n" + _a4_not_computable(failed)
    return text


def _a4_bh_sentence(tests: pd.DataFrame, n_done: int, n_bh: int, alpha: float, withheld: int) -> str:
    """The Benjamini-Hochberg sentence; with tests withheld, BH ran over the published ones
    (:func:`msht.publish.association_tables.published_qvalues`), whose number it gives."""
    if not withheld:
        return (f"The seed made no correction for running {n_done:,} tests: after the Benjamini-Hochberg correction "
                f"across all of them, {_a4_count(n_bh, 'test')} remain significant (q < {alpha:g}).")
    return (f"The seed made no correction for multiple tests: after the Benjamini-Hochberg correction across the "
            f"{_a4_count(int(tests['q_bh'].notna().sum()), 'published test')}, {_a4_count(n_bh, 'test')} remain "
            f"significant (q < {alpha:g}).")


def _a4_not_computable(failed: pd.DataFrame) -> str:
    """Group the tests that could not be computed by outcome and reason."""
    reason = failed["note"].str.split(": ", n=1).str[-1]
    items = []
    for (outcome, why), block in failed.assign(reason=reason).groupby(["outcome", "reason"], sort=False):
        names = _a4_join([factor_name(f).lower() for f in block["factor"]])
        items.append(f"{vocab.variable_label(outcome).lower()} by {names} ({why})")
    return "Not computable, reported with empty statistics: " + "; ".join(items) + "."


def published_disagreements_text(disagreements: pd.DataFrame) -> str:
    """The study's internal disagreements (``msht.analysis.reference.published_disagreements``) as a bullet list."""
    if disagreements.empty:
        return "The seed's Tables 2-4 agree with its Appendix 4 throughout, and Appendix 4 reproduces from its counts."
    head = (
        f"**The seed's own tables.** Its Tables 2-4 were checked against its Appendix 4, and Appendix 4's statistics "
        f"against its own counts; {_a4_count(len(disagreements), 'disagreement')} found. "
        f"The tables of this report are generated "
        f"from the run's results, so they cannot repeat these:"
    )
    return head + "\n\n" + "\n".join(f"* {m}" for m in disagreements["message"])


def vs_published_text(comparison: pd.DataFrame, alpha: float, synthetic: bool, forces: int = 0) -> str:
    """This run's Appendix 4 against the published one (``association_vs_published.csv``);
    ``forces``: the number of forces of a run of several forces (0 for one force), whose combined
    cases are context for the published force's, not a check of a twin's calibration."""
    tests = comparison[comparison["factor"] != "overall"].drop_duplicates(["outcome", "factor"])
    judged = tests[tests["verdict_agrees"].notna()]
    differ = judged[~judged["verdict_agrees"].astype(bool)]
    levels = comparison[comparison["pct_diff"].notna()]
    lead = (
        f"**This run against the published figures.** These are the combined cases of {forces:,} forces, which "
        "differ from the published force in size, in whom they meet and in how they offer support, so the "
        "comparison below is context, not a check; the forces are compared with each other in the "
        "forces' own section."
        if forces > 1 else
        "**This run against the published figures.** The synthetic twin is generated to resemble the published "
        "report, so the comparison below is a check of that calibration."
        if synthetic else
        "**This run against the published figures.** These data are not the seed's, so the comparison below is "
        "context (another force or period), not a check."
    )
    parts = [lead]
    if len(judged):
        parts.append(f"The verdict at α = {alpha:g} (p < α or not) agrees for {len(judged) - len(differ):,} of "
                     f"{len(judged):,} tests.")
    if len(differ):
        items = [f"{_a4_subject(r.outcome, r.factor)} (published p {r.p_published}, this run "
                 f"{stats.format_p(float(r.p_run))})" for r in differ.head(MAX_LISTED).itertuples()]
        more = f"; and {len(differ) - MAX_LISTED:,} more (see the table)" if len(differ) > MAX_LISTED else ""
        parts.append("It differs for " + "; ".join(items) + more + ".")
    if len(levels):
        worst = levels.loc[levels["pct_diff"].abs().idxmax()]
        level = "overall" if worst["factor"] == "overall" else vocab.finding_label(worst["factor"], worst["level"])
        parts.append(
            f"The largest difference in a level's share is {abs(float(worst['pct_diff'])):.1f} percentage points "
            f"({level}, {vocab.variable_label(worst['outcome']).lower()}: published {worst['pct_published']:.1f}%, "
            f"this run {worst['pct_run']:.1f}%)."
        )
    return " ".join(parts)


def disagreements_text(disagreements: pd.DataFrame, comparison: pd.DataFrame, alpha: float, synthetic: bool,
                       forces: int = 0) -> str:
    """Where the results differ from the study's printed tables: the study's own inconsistencies
    (:func:`published_disagreements_text`), then this run against the published figures
    (``forces``: as :func:`vs_published_text`)."""
    return (published_disagreements_text(disagreements) + "\n\n"
            + vs_published_text(comparison, alpha, synthetic, forces))


def regression_text(regression: pd.DataFrame, county_lines_known_pct: float, alpha: float,
                    factors: Iterable[str] | None = None) -> str:
    """The exploratory regression section's paragraph, from ``regression.csv``.

    Names the ``factors`` (default: those in ``regression``), the left-out ones and why (county
    lines' known share is computed), and
    per outcome N, cases dropped for missing data, events and any note; then the terms with
    p < alpha as a list by outcome.
    """
    factors = list(factors) if factors is not None else list(dict.fromkeys(regression["factor"].dropna()))
    names = _a4_join([factor_name(f).lower() for f in factors]) if factors else "no factor"
    parts = [
        "**Exploratory analysis, not in the seed.** For each outcome, a logistic regression adjusts each factor for "
        f"the others: {names}. It uses complete cases only; standard errors are cluster-robust by victim, since a "
        "victim may have several cases. Its p-values are not corrected for multiple testing.",
        f"County lines involvement is left out: it is recorded for only {county_lines_known_pct:.1f}% of cases, and "
        "complete cases would drop the rest. Offender factors are left out too: they describe case-offender pairs, "
        "not cases.",
    ]
    bullets = []
    for m in regression.drop_duplicates("outcome").itertuples():
        of = (f" of {fmt_count(m.n_population)} ({fmt_count(m.n_dropped_missing)} dropped for missing data)"
              if not pd.isna(m.n_population) else " (the population and the cases dropped are withheld by disclosure "
              "control)")
        line = (f"* {vocab.variable_label(m.outcome)}: N = {fmt_count(m.N)} complete cases{of}, {fmt_count(m.n_events)} "
                "with the rarer outcome.")
        if m.note:
            line += f" Note: {m.note}."
        bullets.append(line)
    sig = regression[regression["p"] < alpha]
    if len(sig):
        lines = [f"Adjusted odds ratios with p < {alpha:g}, by outcome:", ""]
        for outcome, block in sig.groupby("outcome", sort=False):
            lines.append(f"* {vocab.variable_label(outcome)}:")
            lines += [f"    * {vocab.finding_label(r.factor, r.level)} vs {vocab.finding_label(r.factor, r.reference)}: "
                      f"adjusted OR {r.adjusted_or:.2f} (95% CI {r.ci_low:.2f}-{r.ci_high:.2f})"
                      for r in block.itertuples()]
        closing = "\n".join(lines)
    else:
        closing = f"No adjusted odds ratio had p < {alpha:g}."
    return " ".join(parts) + "\n\n" + "\n".join(bullets) + "\n\n" + closing


def findings_lead(outcome: str) -> str:
    """Tables 2-4's lead: "The prevalence of being offered support was higher amongst:"."""
    return f"The prevalence of {vocab.OUTCOME_PHRASES[outcome]} was higher amongst:"


def findings_note(tests: pd.DataFrame, outcome: str, alpha: float) -> str:
    """Tables 2-4's source note: how many of the outcome's factors were significant, tested how."""
    sub = tests[tests["outcome"] == outcome]
    withheld = int(sub["test_chosen"].isna().sum())
    done = sub[sub["test_chosen"].notna() & (sub["test_chosen"] != "not computable")]
    n_sig = int(done["significant_seed"].fillna(False).astype(bool).sum())
    n_bh = int(done["significant_bh"].fillna(False).astype(bool).sum())
    published = " published" if tests["test_chosen"].isna().any() else ""
    text = (f"{n_sig:,} of the {len(done):,} factors tested had p < {alpha:g} in the seed's convention "
            f"(Yates chi-square for two levels, Pearson for three); {n_bh:,} had a Benjamini-Hochberg "
            f"q < {alpha:g} across {'all ' if not published else 'the '}{tests['q_bh'].notna().sum():,}{published} "
            "tests.")
    if withheld:
        text += f" {withheld:,} {'is' if withheld == 1 else 'are'} withheld by disclosure control."
    failed = len(sub) - len(done) - withheld
    if failed:
        text += f" {failed:,} could not be computed."
    return text


#: The order of the outcomes in the key findings: that of Tables 2-4.
KEY_FINDING_OUTCOMES: tuple[str, ...] = ("offered", "accepted", "engagement")


def key_findings(rows: pd.DataFrame, tests: pd.DataFrame, alpha: float) -> str:
    """The executive summary's key findings as a short numbered Markdown list, like the study's.

    ``rows`` and ``tests`` are ``associations.csv`` and ``association_tests.csv`` (after
    disclosure control). Item 1 gives the rates of the three outcomes from Appendix 4's overall
    rows, each with its denominator; then one item per outcome, in the order of Tables 2-4, lists
    as bullets the factors significantly associated with it in the study's convention
    (``p_seed < alpha``), each as Tables 2-4 head it (the level with the higher share and the p
    band), marked when it does not survive the Benjamini-Hochberg correction; or says that
    none was.
    """
    overall = rows[rows["factor"] == OVERALL].set_index("outcome")
    rates = []
    if {"offered", "accepted"} <= set(overall.index):
        offered, accepted = overall.loc["offered"], overall.loc["accepted"]
        rates.append(f"The victim was offered support services in {fmt_row(offered)} of the "
                     f"{fmt_total(offered['denominator'])} cases with an offer status recorded, and accepted the "
                     f"offer in {fmt_row(accepted)} of the {fmt_total(accepted['denominator'])} cases in which it "
                     "was made.")
    if "engagement" in overall.index:
        engagement = overall.loc["engagement"]
        rates.append(f"Where an offender was identified, engagement with the police was positive in "
                     f"{fmt_row(engagement)} of the {fmt_total(engagement['denominator'])} cases in which the "
                     "recorded outcome showed it as positive or negative.")
    items = [" ".join(rates)] if rates else []
    for outcome in KEY_FINDING_OUTCOMES:
        found = findings(rows, tests, outcome, alpha)
        withheld = int((tests["outcome"].eq(outcome) & tests["test_chosen"].isna()).sum())
        if found.empty:
            items.append(f"No factor was significantly associated with {vocab.OUTCOME_PHRASES[outcome]} "
                         f"(p < {alpha:g})." if not withheld else
                         f"No published test found a factor significantly associated with "
                         f"{vocab.OUTCOME_PHRASES[outcome]} (p < {alpha:g}); {_a4_count(withheld, 'test')} "
                         f"{'is' if withheld == 1 else 'are'} withheld by disclosure control.")
            continue
        display = findings_display(found, alpha)
        q = found.drop_duplicates("factor")["q_bh"].astype(float).tolist()
        bullets = [h if qv < alpha else f"{h}; not significant after correcting for multiple tests"
                   for h, qv in zip(display["heading"], q, strict=True)]
        items.append(findings_lead(outcome) + "".join(f"\n    - {b}" for b in bullets))
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, start=1))
