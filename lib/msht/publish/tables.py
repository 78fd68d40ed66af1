"""Publication tables with great_tables, with fixed HTML ids so that outputs are reproducible."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from great_tables import GT, loc, style
from IPython.display import HTML


def show(gt: GT, *, note: str = "") -> HTML:
    """Display a table as HTML only, with ``note`` (the disclosure-control sentence,
    :func:`msht.publish.sdc.disclosure_note`) as a last source note when it is not empty.

    A bare ``GT`` object's plain-text repr lists sets in hash order, which changes from run to
    run and would make nbval fail; its HTML (with a fixed id) is stable.
    """
    if note:
        gt = gt.tab_source_note(note)
    return HTML(gt.as_raw_html())


def percent_table(display: pd.DataFrame, *, table_id: str, title: str, source_note: str | None = None,
                  value_label: str = "% (n)") -> GT:
    """A two-column "characteristic | % (n)" table grouped by variable, in the study's layout.

    ``display`` has columns ``group, characteristic, value`` (see :func:`msht.publish.descriptive_tables.display_table`).
    ``table_id`` fixes the HTML id (great_tables draws a random one otherwise).
    """
    gt = (
        GT(display, rowname_col="characteristic", groupname_col="group", id=table_id)
        .tab_header(title=title)
        .cols_label(value=value_label)
        .cols_align(align="right", columns="value")
        .tab_style(style=style.text(weight="bold"), locations=loc.row_groups())
        .tab_options(table_font_size="14px", row_group_font_weight="bold")
    )
    if source_note:
        gt = gt.tab_source_note(source_note)
    return gt


def add_notes(gt: GT, notes: Sequence[str]) -> GT:
    """Add each of ``notes`` under the table as a source note, in order."""
    for note in notes:
        if note:
            gt = gt.tab_source_note(note)
    return gt


def by_column_table(display: pd.DataFrame, headers: dict[str, tuple[str, str]], *, table_id: str, title: str,
                    subtitle: str | None = None) -> GT:
    """A "% (n)" table with one column per subgroup (Table 1's layout), grouped by variable.

    ``display`` has columns ``group, characteristic`` and one column per subgroup (see
    :func:`msht.publish.descriptive_tables.table1_display`); ``headers`` maps each subgroup column to
    ``(name, subtitle)``, shown as a bold name over a second line.
    """
    from html import escape

    from great_tables import html

    columns = [c for c in display.columns if c not in ("group", "characteristic")]
    labels = {c: html(f"<strong>{escape(headers[c][0])}</strong><br>{escape(headers[c][1])}") for c in columns}
    return (
        GT(display, rowname_col="characteristic", groupname_col="group", id=table_id)
        .tab_header(title=title, subtitle=subtitle)
        .cols_label(**labels)
        .cols_align(align="right", columns=columns)
        .tab_style(style=style.text(weight="bold"), locations=loc.row_groups())
        .tab_options(table_font_size="13px", row_group_font_weight="bold")
    )


def plain_table(frame: pd.DataFrame, *, table_id: str, title: str, source_note: str | None = None,
                labels: dict[str, str] | None = None, rowname_col: str | None = None,
                groupname_col: str | None = None) -> GT:
    """A simple publication table of ``frame`` with a title, column labels and a source note."""
    gt = GT(frame, id=table_id, rowname_col=rowname_col, groupname_col=groupname_col).tab_header(title=title)
    if labels:
        gt = gt.cols_label(**labels)
    if source_note:
        gt = gt.tab_source_note(source_note)
    return gt.tab_options(table_font_size="14px")


def exclusions_table(exclusions: pd.DataFrame, *, table_id: str) -> GT:
    """The exclusion flow: per extract, each rule's rows in, rows excluded and rows out (a column
    holding disclosure-control marks, :func:`msht.publish.quality.shown`, is printed as it is)."""
    frame = exclusions.assign(entity=exclusions["entity"].str.replace("_", " ").str.capitalize())
    frame = frame[["entity", "step", "description", "rows_in", "excluded", "rows_out"]]
    return (
        GT(frame, groupname_col="entity", id=table_id)
        .tab_header(title="Exclusions by the section 2.5 rules")
        .cols_label(step="Step", description="Rule", rows_in="Rows in", excluded="Excluded", rows_out="Rows out")
        .fmt_integer(columns=[c for c in ("rows_in", "excluded", "rows_out") if pd.api.types.is_numeric_dtype(frame[c])])
        .tab_options(table_font_size="14px", row_group_font_weight="bold")
    )


def appendix4_table(display: pd.DataFrame, *, table_id: str, title: str, source_note: str | None = None) -> GT:
    """One Appendix 4 block in the study's layout (see :func:`msht.publish.association_tables.appendix4_display`):
    per factor its levels' "% (n)" per outcome column, then the χ² and p rows."""
    from msht.base import vocab

    outcomes = [c for c in display.columns if c not in ("group", "row")]
    gt = (
        GT(display, rowname_col="row", groupname_col="group", id=table_id)
        .tab_header(title=title)
        .cols_label(**{o: vocab.variable_label(o) for o in outcomes})
        .cols_align(align="right", columns=outcomes)
        .tab_style(style=style.text(style="italic"), locations=loc.stub(rows=display.index[display["row"].isin(["χ²", "p"])].tolist()))
        .tab_options(table_font_size="14px", row_group_font_weight="bold")
    )
    if source_note:
        gt = gt.tab_source_note(source_note)
    return gt


def findings_table(display: pd.DataFrame, *, table_id: str, title: str, stub_label: str,
                   source_note: str | None = None) -> GT:
    """Tables 2-4's layout (see :func:`msht.publish.association_tables.findings_display`): under ``stub_label``
    ("The prevalence of ... was higher amongst:"), one row per factor with its level cells."""
    gt = (
        GT(display, rowname_col="heading", id=table_id)
        .tab_header(title=title)
        .tab_stubhead(label=stub_label)
        .cols_label(level_1="", level_2="", level_3="", check="BH q-value")
        .tab_style(style=style.text(weight="bold"), locations=loc.stub())
        .tab_options(table_font_size="14px")
    )
    if source_note:
        gt = gt.tab_source_note(source_note)
    return gt
