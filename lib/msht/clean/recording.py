"""What the data-quality report and ``msht check`` both read off the extracts: the coded fields
and their coding functions, the recording problems the cleaning counts, and completeness.

Defined once here, in the cleaning stage, so that the report (:mod:`msht.publish.quality`) and
the check (:mod:`msht.clean.check`) agree on every field, code and problem name.
"""

from __future__ import annotations

import pandas as pd

from msht.clean import rules as clean
from msht.ingest import coding
from msht.ingest.extracts import SOURCE_ROW

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

def _exploitation_codes(s: pd.Series) -> pd.Series:
    """The exploitation types a raw exploitation field names, joined by ``"; "`` in the vocab's
    order (``<NA>`` when blank)."""
    flags = coding.code_exploitation_types(s, as_codes=True)
    named = flags.apply(lambda row: "; ".join(t for t, v in row.items() if v == "yes"), axis=1)
    return named.where(named != "", pd.NA).astype(object)


#: How each field a params file's ``values:`` may map (the dictionary's ``codes:``) codes a raw
#: value: extract -> field -> function (raw Series -> the code, several joined by ``"; "``).
#: Nationality gives its countries, the referring agency internal/external (with no force
#: names: a mapping's spelling ``Police`` is internal whatever the force), the rest as
#: :data:`CODED_FIELDS`.
MAPPED_FIELDS = {
    "cases": {
        **CODED_FIELDS["cases"],
        "referring_agency": lambda s: coding.code_referring_agency(s, ()),
        "exploitation_type": _exploitation_codes,
    },
    "victims": {**CODED_FIELDS["victims"], "nationality": lambda s: coding.code_nationality(s)["countries"]},
    "police_records": dict(CODED_FIELDS["police_records"]),
    "offenders": {**CODED_FIELDS["offenders"], "nationality": lambda s: coding.code_nationality(s)["countries"]},
}

#: Coded fields where ``unknown`` is also the code of recognised values, so that a value coded
#: ``unknown`` is not necessarily unrecognised: the police outcome (study 2.3: every outcome but
#: 15, 16, no crime and ongoing is ``unknown``, by design).
UNKNOWN_BY_DESIGN = {("cases", "offence_outcome")}

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
