"""The data-quality report (seed recommendation 1): completeness, spellings, problems found.

Three tidy results files:

* ``completeness.csv`` - ``extract, field, rows, missing, pct_complete``: a value is missing when
  blank or written as a missing marker (``N/K``, ``Not known``, ``Unknown``... see
  :data:`msht.coding.MISSING_MARKERS`).
* ``spellings.csv`` - ``extract, field, code, raw_value, n``: which raw spellings were mapped to
  each code, unknown codes included (an unrecognised value is never dropped: it is coded
  ``unknown`` and counted here). Spellings seen fewer than ``min_count`` times are pooled as
  ``(N other spellings)`` so that no rare free-text value, which could identify a person, leaves
  the pipeline. Invisible characters are shown escaped (``Female<U+200B>``,
  :func:`msht.plaintext.show_invisible`), so that two spellings that look alike can be told apart.
* ``problems.csv`` - ``extract, problem, n``: duplicates, conflicts, updates entered as new rows
  and unmatched IDs found by the cleaning, read off its row statuses.
"""

from __future__ import annotations

import pandas as pd

from msht import clean, coding
from msht.ingest import SOURCE_ROW
from msht.plaintext import show_invisible

#: Coded fields whose raw spellings are reported: extract -> field -> coding function.
CODED_FIELDS = {
    "cases": {
        "referral_form": coding.code_referral_form,
        "exploitation_location": coding.code_location,
        "county_lines": coding.code_yes_no,
        "offence_outcome": coding.code_engagement,
        "support_offered": coding.code_yes_no,
        "support_accepted": coding.code_yes_no,
    },
    "victims": {"sex": coding.code_sex, "nationality": lambda s: coding.code_nationality(s)["region"]},
    "police_records": {"role": clean.code_role},
    "offenders": {
        "sex": coding.code_sex,
        "ethnicity": lambda s: coding.code_ethnicity(s)["group5"],
        "nationality": lambda s: coding.code_nationality(s)["region"],
    },
}

#: Row statuses that are recording problems, with the name the report gives them.
PROBLEMS = {
    "no_victim_id": "missing victim ID",
    "conflicting": "same victim and date, conflicting sociodemographics",
    "duplicate": "duplicate entry",
    "update_superseded": "update entered as a new row",
    "not_in_case_file": "person ID not in the MSHT case file",
    "occurrence_not_in_case_file": "victim record on an occurrence not in the case file",
    "duplicate_record": "record repeated",
    "unmatched_offender": "offender occurrence number matches no case",
}


def completeness(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per extract and field: rows, missing values (blank or a missing marker), % complete."""
    rows = []
    for extract, frame in frames.items():
        for field in frame.columns:
            if field == SOURCE_ROW:
                continue
            missing = int(coding.normalise_text(frame[field]).isna().sum())
            n = len(frame)
            rows.append({"extract": extract, "field": field, "rows": n, "missing": missing,
                         "pct_complete": round(100 * (n - missing) / n, 1) if n else float("nan")})
    return pd.DataFrame(rows)


def spellings(frames: dict[str, pd.DataFrame], min_count: int = 5) -> pd.DataFrame:
    """Raw spellings mapped to each code, rare spellings pooled (see module docstring)."""
    parts = []
    for extract, fields in CODED_FIELDS.items():
        frame = frames.get(extract)
        if frame is None:
            continue
        for field, coder in fields.items():
            raw = frame[field]
            report = coding.mapping_report(raw, coder(raw), field)
            report["raw_value"] = report["raw_value"].map(show_invisible, na_action="ignore").fillna("(blank)")
            rare = report["n"] < min_count
            pooled = (
                report[rare].groupby("code", as_index=False)
                .agg(n=("n", "sum"), k=("n", "size"))
                .assign(raw_value=lambda d: "(" + d["k"].astype(str) + " other spellings)", field=field)
                .drop(columns="k")
            )
            kept = [f for f in (report[~rare], pooled) if len(f)]
            if not kept:  # a header-only extract: no spelling to report
                continue
            block = pd.concat(kept, ignore_index=True).assign(extract=extract)
            parts.append(block)
    columns = ["extract", "field", "code", "raw_value", "n"]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    return out[["extract", "field", "code", "raw_value", "n"]].sort_values(
        ["extract", "field", "code", "n"], ascending=[True, True, True, False], kind="stable"
    ).reset_index(drop=True)


def problems(status: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Counts of recording problems the cleaning found, per extract."""
    rows = []
    for extract, st in status.items():
        counts = st["status"].value_counts()
        for code, name in PROBLEMS.items():
            if int(counts.get(code, 0)):
                rows.append({"extract": extract, "problem": name, "n": int(counts[code])})
    return pd.DataFrame(rows, columns=["extract", "problem", "n"])
