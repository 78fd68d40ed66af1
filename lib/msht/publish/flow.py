"""A CONSORT-style flow diagram of the exclusions (matplotlib), drawn from ``exclusions.csv``."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

#: Entities drawn, left to right, with their display names.
COLUMNS = {
    "cases": "MSHT case entries",
    "victim_records": "Victim records",
    "police_records": "Police-record entries",
    "offenders": "Offender records",
}


def flow_boxes(exclusions: pd.DataFrame, marks: dict[tuple[str, str], str] | None = None) -> pd.DataFrame:
    """The boxes the diagram draws: per entity, the rows read, each exclusion step that removed
    rows, and the rows analysed (one tidy frame, unit-tested).

    Under disclosure control (:func:`msht.publish.quality.protect_exclusions`) a hidden ``excluded``
    count is empty; its box is drawn with its mark (``marks``: (entity, rule) -> ``"<5"`` or
    ``"[c]"``; ``"[c]"`` if not given) whatever the count, so that a box's absence does not say
    the hidden count is 0. ``n`` is then text for that box."""
    rows = []
    marks = marks or {}
    for entity in COLUMNS:
        block = exclusions[exclusions["entity"] == entity]
        if block.empty:
            continue
        rows.append({"entity": entity, "kind": "read", "rule": "", "n": int(block["rows_in"].iloc[0])})
        for r in block.itertuples():
            if pd.isna(r.excluded):
                rows.append({"entity": entity, "kind": "excluded", "rule": r.rule,
                             "n": marks.get((entity, r.rule), "[c]")})
            elif r.excluded:
                rows.append({"entity": entity, "kind": "excluded", "rule": r.rule, "n": int(r.excluded)})
        rows.append({"entity": entity, "kind": "analysed", "rule": "", "n": int(block["rows_out"].iloc[-1])})
    return pd.DataFrame(rows, columns=["entity", "kind", "rule", "n"])


#: Entities per row of the diagram: two rows of two keep its type legible on an A4 page.
PER_ROW = 2


def flow_diagram(exclusions: pd.DataFrame, descriptions: dict[tuple[str, str], str] | None = None,
                 marks: dict[tuple[str, str], str] | None = None) -> Figure:
    """Draw the flow: per entity a main line from rows read to rows analysed, with each
    exclusion step as a box to its right; entities in rows of :data:`PER_ROW`. ``descriptions``
    maps (entity, rule) to a label; ``marks`` the disclosure-control marks of hidden counts
    (:func:`flow_boxes`)."""
    boxes = flow_boxes(exclusions, marks)
    descriptions = descriptions or {}
    entities = [e for e in COLUMNS if e in set(boxes["entity"])]
    counts = [int((boxes["entity"] == e).sum()) for e in entities]
    columns = min(max(len(entities), 1), PER_ROW)
    # Each row of entities is as tall as its longest column of boxes, plus a gap.
    bands = [max(counts[k:k + PER_ROW]) + 0.4 for k in range(0, len(counts), PER_ROW)] or [1.0]
    tops = [-sum(bands[:r]) for r in range(len(bands))]
    fig, ax = plt.subplots(figsize=(4.3 * columns, 0.75 * sum(bands)))
    ax.set_xlim(0, columns)
    ax.set_ylim(-sum(bands) + 0.6, 0.6)
    ax.axis("off")
    box = {"boxstyle": "round,pad=0.35", "edgecolor": "#475569", "linewidth": 0.8}
    for i, entity in enumerate(entities):
        block = boxes[boxes["entity"] == entity].reset_index(drop=True)
        column, top = i % PER_ROW, tops[i // PER_ROW]
        main_x, side_x = column + 0.22, column + 0.66
        last_y = len(block) - 1
        ax.annotate("", xy=(main_x, top - last_y + 0.2), xytext=(main_x, top - 0.2),
                    arrowprops={"arrowstyle": "->", "color": "#475569", "linewidth": 0.8})
        for j, b in block.iterrows():
            y = top - j
            if b["kind"] == "read":
                ax.text(main_x, y, f"{COLUMNS[entity]}\nread: {b['n']:,}", ha="center", va="center", fontsize=9,
                        bbox={**box, "facecolor": "#dbeafe"})
            elif b["kind"] == "analysed":
                ax.text(main_x, y, f"Analysed\n{b['n']:,}", ha="center", va="center", fontsize=9,
                        bbox={**box, "facecolor": "#bbf7d0"})
            else:
                label = descriptions.get((entity, b["rule"]), b["rule"].replace("_", " "))
                ax.annotate("", xy=(side_x - 0.22, y), xytext=(main_x, y),
                            arrowprops={"arrowstyle": "->", "color": "#475569", "linewidth": 0.8})
                n = b["n"] if isinstance(b["n"], str) else f"{b['n']:,}"
                ax.text(side_x, y, f"Excluded: {n}\n" + textwrap.fill(label, 30), ha="center", va="center",
                        fontsize=8, bbox={**box, "facecolor": "#fee2e2"})
    fig.tight_layout()
    return fig


#: Longest rule description :func:`flow_by_force` prints; a longer one is given by the rule's name
#: (the exclusions table beside the diagram has every description).
FORCE_LABEL_WIDTH = 32


def flow_by_force(exclusions: pd.DataFrame, descriptions: dict[tuple[str, str], str] | None = None,
                  marks: dict[str, dict[tuple[str, str], str]] | None = None,
                  not_sent: dict[str, tuple[str, ...]] | None = None) -> Figure:
    """The flow of a run of several forces: one panel per force (a row each, params order) and
    entity (a column each), giving the rows read, each exclusion step that removed rows, and the
    rows analysed. ``exclusions``: ``forces_exclusions`` rows (a ``force`` column, categorical in
    params order, then the columns of ``exclusions.csv``); ``descriptions``: (entity, rule) ->
    label (one longer than :data:`FORCE_LABEL_WIDTH` is replaced by the rule's name); ``marks``: force -> (entity, rule) -> the mark of each count hidden by disclosure
    control (:func:`flow_boxes`); ``not_sent``: force -> the entities of the extracts it does not
    send (drawn as "not sent")."""
    descriptions, marks, not_sent = descriptions or {}, marks or {}, not_sent or {}
    force_col = exclusions["force"]
    forces = list(force_col.cat.categories) if hasattr(force_col, "cat") else list(dict.fromkeys(force_col))
    panels = {force: flow_boxes(exclusions[force_col == force], marks.get(force)) for force in forces}
    lines = {force: max([int((b["entity"] == e).sum()) for e in COLUMNS] + [1]) for force, b in panels.items()}
    heights = [0.13 * (lines[f] + 2) for f in forces] or [1.0]
    fig, axes = plt.subplots(len(forces) or 1, len(COLUMNS), figsize=(2.6 * len(COLUMNS), sum(heights) + 0.4),
                             squeeze=False, gridspec_kw={"height_ratios": heights})
    for r, force in enumerate(forces):
        boxes = panels[force]
        for c, (entity, title) in enumerate(COLUMNS.items()):
            ax = axes[r][c]
            ax.axis("off")
            if r == 0:
                ax.set_title(title, fontsize=9, fontweight="bold")
            if c == 0:
                ax.text(-0.04, 0.5, force, rotation=90, ha="right", va="center", fontsize=9, fontweight="bold",
                        transform=ax.transAxes)
            block = boxes[boxes["entity"] == entity]
            text = []
            for b in block.itertuples() if entity not in not_sent.get(force, ()) else ():
                n = b.n if isinstance(b.n, str) else f"{b.n:,}"
                if b.kind == "read":
                    text.append(f"Read: {n}")
                elif b.kind == "analysed":
                    text.append(f"Analysed: {n}")
                else:
                    label = descriptions.get((entity, b.rule), "")
                    label = label if 0 < len(label) <= FORCE_LABEL_WIDTH else b.rule.replace("_", " ")
                    text.append(f"  excluded {n}: {label}")
            ax.text(0.0, 0.95, "\n".join(text) or "Not sent", ha="left", va="top", fontsize=7.5,
                    transform=ax.transAxes, family="DejaVu Sans",
                    bbox={"boxstyle": "round,pad=0.4", "edgecolor": "#475569", "linewidth": 0.6,
                          "facecolor": "#f1f5f9" if text else "#fef9c3"})
    fig.tight_layout()
    return fig
