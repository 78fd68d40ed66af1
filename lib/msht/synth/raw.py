"""Turn a clean :class:`~msht.synth.model.Population` into messy police-style extracts.

The extracts carry the recording problems of the study's section 2.5, each injected at a
documented rate (:class:`ProblemRates`). Every injected problem is either a spelling problem
(no row is lost: the coding must undo it) or an *extra* or *stale* row whose removal by the
section 2.5 rules restores the clean population exactly. The writer returns, and writes to
``_truth/defects.csv``, the ground truth of which rows carry which defect, so the cleaning can be
tested against it.

Files written (CSV, as police systems export them):

* ``cases.csv`` - UTF-8 with BOM; ``victims.csv`` - Windows-1252; ``police_records.csv`` and
  ``offenders.csv`` - UTF-8.
* ``_truth/defects.csv`` and ``MANIFEST.json`` (labels the extracts as synthetic).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from msht.base import progress
from msht.synth.model import Population

#: The steps of :func:`write_extracts` shown by its progress bar.
WRITE_STEPS = ("cases", "victims", "police-record entries", "offenders", "files")

#: Ways the force's systems write a missing value.
MISSING_MARKERS = ("", "N/K", "Not known", "Unknown", "NK")
#: Ways the force's systems write a missing identifier (issue 14: all of them mean "no ID").
ID_MARKERS = ("NULL", "Not Stated", "N/K", "Unknown", "n/a", "-")
#: Ways a free-text field is left blank ("Unknown" in a free-text exploitation field means
#: *undefined* exploitation, a recorded category, so it is not used for "not recorded").
BLANK_MARKERS = ("", "N/A", "-")

SPELLINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "sex": {"male": ("Male", "M", "male", "MALE ", " m"), "female": ("Female", "F", "female", "FEMALE", " f ")},
    "yes_no": {"yes": ("Yes", "Y", "yes", "YES"), "no": ("No", "N", "no", " NO")},
    "referral_form": {
        "nrm": ("NRM", "nrm", "NRM ", "National Referral Mechanism", "NRM form"),
        "ms1": ("MS1", "ms1", "MS1 form", "MS1 (Duty to Notify)"),
    },
    "referring_agency": {
        "internal": ("Police", "police - response team", "Constabulary MSHT unit", "Force Intelligence Bureau", "Police (CID)"),
        "external": (
            "Salvation Army", "Home Office", "Local Authority Children's Services", "Immigration Enforcement",
            "Barnardo's", "NHS Trust", "UK Visas and Immigration", "Kalayaan", "Adult Social Care",
        ),
    },
    "exploitation_location": {
        "uk_only": ("UK", "uk", "United Kingdom", "UK only"),
        "overseas_only": ("Overseas", "overseas", "Abroad", "Overseas only"),
        "both": ("UK and overseas", "Both", "UK & Overseas"),
    },
    "engagement": {
        "positive": (
            "Suspect identified – evidential difficulties – victim supports action",
            "Suspect Identified - Evidential Difficulties - Victim supports action",
            "OUTCOME 15 - SUSPECT IDENTIFIED - EVIDENTIAL DIFFICULTIES - VICTIM SUPPORTS ACTION",
        ),
        "negative": (
            "Suspect identified – evidential difficulties – victim not supporting",
            "Suspect Identified - Evidential Difficulties - Victim not supporting",
            "Outcome 16 - Suspect identified - evidential difficulties - victim not supporting",
        ),
        "ongoing": ("Investigation ongoing", "Under investigation", "Investigation Ongoing"),
        "no_crime": ("No crime", "No Crime", "NO CRIME"),
        "unknown": (
            "Charged/Summonsed",
            "Investigation complete – no suspect identified",
            "Evidential difficulties – suspect not identified",
            "Action undertaken by another body/agency",
            "Further investigation not in the public interest",
            "Transferred to other force",
        ),
    },
    "role": {
        "victim": ("Victim", "VICTIM", "victim", "Aggrieved"),
        "perpetrator": ("Suspect", "Offender", "Perpetrator", "SUSPECT"),
        "other": ("Witness", "Reporting person", "Other", "Informant"),
    },
}

_EXPLOITATION_WORDS: dict[str, tuple[str, ...]] = {
    "criminal_exploitation": ("Criminal exploitation", "Criminal", "CCE", "Forced criminality"),
    "labour_exploitation": ("Labour exploitation", "Forced labour", "Labour"),
    "sexual_exploitation": ("Sexual exploitation", "Sexual", "CSE"),
    "domestic_servitude": ("Domestic servitude", "Domestic Servitude", "domestic servitude"),
    "other_exploitation": ("Other", "Organ harvesting", "Forced marriage", "Other exploitation"),
}
#: Words for undefined exploitation, used only when no other type is named.
_UNDEFINED_WORDS = ("Not specified", "Undefined", "Other")

#: A police ethnicity code (self-defined 18+1 or officer-defined IC) for each group, for the writer.
ETHNICITY_CODES: dict[str, tuple[str, ...]] = {
    "white": ("W1", "W2", "W9", "IC1", "IC2", "w1 "),
    "asian": ("A1", "A2", "A3", "A9", "IC4"),
    "black": ("B1", "B2", "B9", "IC3"),
    "mixed": ("M1", "M2", "M3", "M9"),
    "other": ("O9", "IC6"),
}

_NATIONALITY_ALIASES: dict[str, tuple[str, ...]] = {"United Kingdom": ("United Kingdom", "British", "UK", "UNITED KINGDOM")}


@dataclass(frozen=True)
class ProblemRates:
    """Rates at which the recording problems are injected (per case entry unless stated)."""

    missing_victim_id: float = 0.03  # extra case rows with a blank victim ID
    duplicate: float = 0.04  # extra copy of a case under a new occurrence number, entered later
    update: float = 0.03  # a stale earlier version of a case, under another occurrence number
    conflict: float = 0.01  # pairs of rows: same new person and date, conflicting sociodemographics
    victim_not_in_case_file: float = 0.02  # per victim: a person with victim and police records but no case
    unmatched_offender: float = 0.03  # per offender row: an extra offender row on an unknown occurrence
    missing_marker: float = 1.0  # share of missing values written as a marker rather than blank
    spelling_variants: bool = True  # write codes in several spellings, cases and spacing
    # Field kinds of issue 14, drawn from their own random stream (seed, 14) so that the rest of
    # the extracts, and every result, are those of the clean twin:
    id_marker: float = 0.5  # share of missing victim IDs written as a marker (NULL, N/K, ...)
    invisible: float = 0.03  # share of values given a format character (U+200B, U+FEFF, U+2060, U+00AD); UTF-8 files only
    official_spelling: float = 0.15  # share of nationalities written as in the UK government's list


def _spell(rng: np.random.Generator, codes: pd.Series, table: dict[str, tuple[str, ...]], vary: bool) -> np.ndarray:
    """Write each code as one of its spellings (the first if ``vary`` is false); NA -> missing marker."""
    out = np.empty(len(codes), dtype=object)
    values = codes.astype(object).where(codes.notna(), None).to_numpy()
    for code, spellings in table.items():
        mask = values == code
        k = int(mask.sum())
        if k:
            out[mask] = np.asarray(spellings, dtype=object)[rng.integers(0, len(spellings) if vary else 1, k)]
    isna = pd.isna(codes).to_numpy()
    out[isna] = np.asarray(MISSING_MARKERS, dtype=object)[rng.integers(0, len(MISSING_MARKERS), int(isna.sum()))]
    return out


def _int_text(values: pd.Series) -> np.ndarray:
    """Whole numbers as text ("16", not "16.0"); missing stays missing."""
    num = pd.to_numeric(pd.Series(values), errors="coerce")
    return np.where(num.notna(), num.fillna(0).astype("int64").astype(str), None).astype(object)


def _fmt_date(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.strftime("%d/%m/%Y")


def person_code(ids: np.ndarray | pd.Series, offset: int) -> np.ndarray:
    """Format integer IDs as police-style person IDs (``P`` + 7 digits)."""
    num = pd.Series(np.asarray(ids, dtype="int64") * 7 + offset, dtype="int64")
    return ("P" + num.astype(str).str.zfill(7)).to_numpy(dtype=object)


def occurrence_code(ids: np.ndarray | pd.Series, dates: pd.Series) -> np.ndarray:
    """Format integer case IDs as occurrence numbers (``MS/<year>/<6 digits>``)."""
    years = pd.Series(pd.to_datetime(pd.Series(dates)).dt.year.to_numpy()).astype(str)
    num = pd.Series(np.asarray(ids, dtype="int64") * 3 + 100, dtype="int64").astype(str).str.zfill(6)
    return ("MS/" + years + "/" + num).to_numpy(dtype=object)


def _minus_years(dates: pd.Series, years: np.ndarray) -> pd.Series:
    """``dates`` shifted back by whole ``years`` (29 February becomes 28 February when needed)."""
    y = dates.dt.year.to_numpy() - years
    m = dates.dt.month.to_numpy()
    d = dates.dt.day.to_numpy()
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    d = np.where((m == 2) & (d == 29) & ~leap, 28, d)
    return pd.Series(pd.to_datetime(pd.DataFrame({"year": y, "month": m, "day": d})).to_numpy(), index=dates.index)


def _dob_for(rng: np.random.Generator, age: pd.Series, first: pd.Series, last: pd.Series) -> pd.Series:
    """A date of birth giving completed age ``age`` on both ``first`` and ``last``; NaT if impossible."""
    out = pd.Series(pd.NaT, index=age.index, dtype="datetime64[ns]")
    ok = age.notna() & ((last - first).dt.days < 360)
    a = age[ok].astype(int).to_numpy()
    # dob in (last - (a+1) years, first - a years]; draw a day inside it
    upper = _minus_years(first[ok], a)
    lower = _minus_years(last[ok], a + 1) + pd.Timedelta(days=1)
    span = (upper - lower).dt.days.clip(lower=0)
    out[ok] = lower + pd.to_timedelta(np.floor(rng.random(len(span)) * (span.to_numpy() + 1)), unit="D")
    return out


def write_extracts(pop: Population, out_dir: Path, seed: int, rates: ProblemRates | None = None) -> pd.DataFrame:
    """Write the four raw extracts of ``pop`` to ``out_dir`` with recording problems injected.

    Returns the ground truth: one row per injected defective row, with columns
    ``extract, key, defect`` (``key`` is the occurrence number, ``occurrence|person`` or
    ``person|incident`` of the row).
    """
    with progress.steps("writing extracts", *WRITE_STEPS) as bar:
        return _write_extracts(pop, out_dir, seed, rates, bar)


def _write_extracts(pop: Population, out_dir: Path, seed: int, rates: ProblemRates | None,
                    bar: progress.Steps) -> pd.DataFrame:
    """:func:`write_extracts` under a progress bar: draw each extract's rows in turn from one
    generator (the order of the draws fixes the files), then write them."""
    pop.check()
    rates = rates or ProblemRates()
    rng = np.random.default_rng(seed)
    vary = rates.spelling_variants
    out_dir.mkdir(parents=True, exist_ok=True)
    bar.advance("cases")
    victims = pop.victims.set_index("victim_id", drop=False)
    cases, all_cases, conflict_b = _case_rows(pop, rng, rates)
    bar.advance("victims")
    vrec, orphan_ids = _victim_rows(rng, rates, victims, cases, all_cases, conflict_b)
    bar.advance("police-record entries")
    records = _police_record_rows(rng, victims, orphan_ids, vary)
    bar.advance("offenders")
    offenders = _offender_rows(rng, pop, cases, rates, vary)
    bar.advance("files")
    case_out, victim_out = _case_file(rng, all_cases, vary), _victim_file(rng, vrec, vary)
    # the field kinds go into the files only: the ground truth keeps the plain keys
    case_file, victim_file, offender_file = case_out.copy(), victim_out.copy(), offenders.copy()
    _field_kinds(np.random.default_rng([seed, 14]), rates, case_file, victim_file, offender_file)
    case_file.to_csv(out_dir / "cases.csv", index=False, encoding="utf-8-sig")
    victim_file.to_csv(out_dir / "victims.csv", index=False, encoding="cp1252", errors="replace")
    records.drop(columns="defect").to_csv(out_dir / "police_records.csv", index=False, encoding="utf-8")
    offender_file.drop(columns="defect").to_csv(out_dir / "offenders.csv", index=False, encoding="utf-8")
    truth = _ground_truth(all_cases, vrec, records, offenders)
    (out_dir / "_truth").mkdir(exist_ok=True)
    truth.to_csv(out_dir / "_truth" / "defects.csv", index=False)
    manifest = {
        "synthetic": True,
        "label": "SYNTHETIC DATA - generated by msht.synth; not police data",
        "seed": seed,
        "rates": asdict(rates),
        "rows": {"cases": len(case_out), "victims": len(victim_out), "police_records": len(records), "offenders": len(offenders)},
    }
    (out_dir / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return truth


#: Defect label of the persons with victim records but no MSHT case.
NOT_IN_CASE_FILE = "not_in_case_file"


class _OccurrenceNumbers:
    """New occurrence numbers for injected case rows, from case IDs above the population's."""

    def __init__(self, first_case_id: int) -> None:
        self.next_case_id = first_case_id

    def take(self, k: int, dates: pd.Series) -> np.ndarray:
        """``k`` new occurrence numbers for cases recorded on ``dates``."""
        ids = np.arange(self.next_case_id, self.next_case_id + k)
        self.next_case_id += k
        return occurrence_code(ids, dates)


def _case_rows(pop: Population, rng: np.random.Generator, rates: ProblemRates
               ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """The population's cases (by date, with occurrence and person codes and entry times), every
    case-extract row with the injected duplicates, superseded updates, rows without a victim ID
    and conflicting pairs (shuffled, ``defect`` column), and the occurrence numbers of the
    second row of each conflicting pair."""
    cases = pop.cases.sort_values(["date", "case_id"]).reset_index(drop=True)
    cases["occurrence_number"] = occurrence_code(cases["case_id"], cases["date"])
    cases["person_id"] = person_code(cases["victim_id"], 1_000_000)
    cases["entered_on"] = cases["date"] + pd.to_timedelta(rng.integers(0, 3 * 24 * 60, len(cases)), unit="min")
    numbers = _OccurrenceNumbers(int(pop.cases["case_id"].max()) + 1_000)
    n = len(cases)
    pick = rng.permutation(n)
    n_dup, n_upd, n_miss = (int(round(r * n)) for r in (rates.duplicate, rates.update, rates.missing_victim_id))
    # a stale version (outcome ongoing, no offer recorded) must differ from the final one
    updatable = ((cases["engagement"] != "ongoing") | cases["offered"].notna()).to_numpy()[pick]
    upd_src = pick[updatable][:n_upd]
    rest = pick[~np.isin(pick, upd_src)]
    dup_src, miss_src = rest[:n_dup], rest[n_dup : n_dup + n_miss]

    dups = cases.iloc[dup_src].copy()
    dups["occurrence_number"] = numbers.take(len(dups), dups["date"])
    dups["entered_on"] = dups["entered_on"] + pd.to_timedelta(rng.integers(60, 20 * 24 * 60, len(dups)), unit="min")
    dups["defect"] = "duplicate"

    stale = cases.iloc[upd_src].copy()
    stale["occurrence_number"] = numbers.take(len(stale), stale["date"])
    stale["entered_on"] = stale["entered_on"] - pd.to_timedelta(rng.integers(60, 2 * 24 * 60, len(stale)), unit="min")
    stale["engagement"] = "ongoing"
    stale["offered"] = pd.NA
    stale["accepted"] = pd.NA
    stale["defect"] = "update_superseded"

    missing = cases.iloc[miss_src].copy()
    missing["occurrence_number"] = numbers.take(len(missing), missing["date"])
    missing["person_id"] = pd.NA
    missing["defect"] = "no_victim_id"

    n_conf = int(round(rates.conflict * n))
    conf_a = cases.iloc[rng.integers(0, n, n_conf)].copy()
    conf_a["person_id"] = person_code(np.arange(1, n_conf + 1), 5_000_000)
    conf_b = conf_a.copy()
    conf_a["occurrence_number"] = numbers.take(n_conf, conf_a["date"])
    conf_b["occurrence_number"] = numbers.take(n_conf, conf_b["date"])
    conf_a["defect"] = conf_b["defect"] = "conflicting"

    clean = cases.assign(defect=pd.NA)
    all_cases = pd.concat([clean, dups, stale, missing, conf_a, conf_b], ignore_index=True)
    all_cases = all_cases.sample(frac=1.0, random_state=rng.integers(2**31)).reset_index(drop=True)
    return cases, all_cases, conf_b["occurrence_number"]


def _victim_rows(rng: np.random.Generator, rates: ProblemRates, victims: pd.DataFrame, cases: pd.DataFrame,
                 all_cases: pd.DataFrame, conflict_b: pd.Series) -> tuple[pd.DataFrame, np.ndarray]:
    """Victim-extract rows (codes, before spelling): one per case row with a victim ID (the
    second row of a conflicting pair with the other sex), a date of birth consistent with every
    case of the victim for most, and persons with victim records but no MSHT case (whose person
    IDs come second)."""
    with_victim = all_cases[all_cases["person_id"].notna()].copy()
    vict = victims.loc[with_victim["victim_id"]].reset_index(drop=True)
    vrec = pd.DataFrame(
        {
            "occurrence_number": with_victim["occurrence_number"].to_numpy(),
            "person_id": with_victim["person_id"].to_numpy(),
            "sex": vict["sex"].to_numpy(),
            "age": vict["age"].to_numpy(),
            "nationality": vict["nationality"].to_numpy(),
            "victim_id": with_victim["victim_id"].to_numpy(),
            "defect": with_victim["defect"].to_numpy(),
        }
    )
    is_b = vrec["occurrence_number"].isin(conflict_b)
    flip = {"male": "female", "female": "male"}
    vrec.loc[is_b, "sex"] = vrec.loc[is_b, "sex"].map(lambda s: flip.get(s, "male"))
    span = cases.groupby("victim_id")["date"].agg(["min", "max"])
    dob = _dob_for(rng, victims["age"], span["min"].reindex(victims.index), span["max"].reindex(victims.index))
    give_dob = pd.Series(rng.random(len(victims)) < 0.8, index=victims.index) & dob.notna()
    vrec["date_of_birth"] = np.where(give_dob.reindex(vrec["victim_id"]).to_numpy(), _fmt_date(dob.reindex(vrec["victim_id"])).to_numpy(), pd.NA)
    vrec["age"] = np.where(pd.isna(vrec["date_of_birth"]), _int_text(vrec["age"]), pd.NA)

    n_orphan = int(round(rates.victim_not_in_case_file * len(victims)))
    orphan_src = victims.iloc[rng.integers(0, len(victims), n_orphan)]
    orphans = pd.DataFrame(
        {
            "occurrence_number": occurrence_code(np.arange(900_000, 900_000 + n_orphan), pd.Series(pd.to_datetime(["2020-06-01"] * n_orphan))),
            "person_id": person_code(np.arange(1, n_orphan + 1), 7_000_000),
            "sex": orphan_src["sex"].to_numpy(),
            "age": _int_text(orphan_src["age"]),
            "nationality": orphan_src["nationality"].to_numpy(),
            "victim_id": -1,
            "date_of_birth": pd.NA,
            "defect": NOT_IN_CASE_FILE,
        }
    )
    return pd.concat([vrec, orphans], ignore_index=True), orphans["person_id"].to_numpy()


def _police_record_rows(rng: np.random.Generator, victims: pd.DataFrame, orphan_ids: np.ndarray, vary: bool
                        ) -> pd.DataFrame:
    """Police-record entries (person, incident, role, defect), shuffled: each victim's
    ``n_entries`` (none when NA), the first as victim, the next as perpetrator; three for each
    person of ``orphan_ids`` (victim records but no MSHT case)."""
    ent_people = pd.concat(
        [
            victims[["n_entries", "n_as_victim", "n_as_perpetrator"]].assign(
                person_id=person_code(victims["victim_id"], 1_000_000), defect=pd.NA
            ),
            pd.DataFrame(
                {"n_entries": 3, "n_as_victim": 1, "n_as_perpetrator": 1, "person_id": orphan_ids, "defect": NOT_IN_CASE_FILE}
            ),
        ],
        ignore_index=True,
    )
    for col in ("n_entries", "n_as_victim", "n_as_perpetrator"):
        ent_people[col] = pd.to_numeric(ent_people[col]).fillna(0).astype("int64")
    reps = ent_people["n_entries"].to_numpy()
    person = np.repeat(ent_people["person_id"].to_numpy(), reps)
    k = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)  # position within each person
    nv = np.repeat(ent_people["n_as_victim"].to_numpy(), reps)
    npp = np.repeat(ent_people["n_as_perpetrator"].to_numpy(), reps)
    role = np.where(k < nv, "victim", np.where(k < nv + npp, "perpetrator", "other"))
    return pd.DataFrame(
        {
            "person_id": person,
            "incident_reference": ("INC" + pd.Series(rng.permutation(len(person))).astype(str).str.zfill(8)).to_numpy(dtype=object),
            "role": _spell(rng, pd.Series(role, dtype=object), SPELLINGS["role"], vary),
            "defect": np.repeat(ent_people["defect"].to_numpy(), reps),
        }
    ).sample(frac=1.0, random_state=rng.integers(2**31))


def _offender_rows(rng: np.random.Generator, pop: Population, cases: pd.DataFrame, rates: ProblemRates, vary: bool
                   ) -> pd.DataFrame:
    """Offender-extract rows as written (spelled), with a ``defect`` column: every
    case-offender pair, plus copies on occurrence numbers that match no case."""
    off = pop.offenders.merge(cases[["case_id", "occurrence_number", "date"]], on="case_id", how="left")
    off["defect"] = pd.NA
    n_unm = int(round(rates.unmatched_offender * len(off)))
    if n_unm:
        unm = off.iloc[rng.integers(0, len(off), n_unm)].copy()
        unm["occurrence_number"] = occurrence_code(np.arange(950_000, 950_000 + n_unm), unm["date"])
        unm["defect"] = "unmatched_offender"
        off = pd.concat([off, unm], ignore_index=True)
    return pd.DataFrame(
        {
            "occurrence_number": off["occurrence_number"].to_numpy(),
            "offender_person_id": person_code(off["offender_id"], 3_000_000),
            "sex": _spell(rng, off["sex"], SPELLINGS["sex"], vary),
            "age": _int_text(off["age"]),
            "nationality": _nationality_text(rng, off["nationality"], vary),
            "ethnicity": _spell(rng, off["ethnicity_group5"], ETHNICITY_CODES, vary),
            "defect": off["defect"].to_numpy(),
        }
    )


def _case_file(rng: np.random.Generator, all_cases: pd.DataFrame, vary: bool) -> pd.DataFrame:
    """The case extract's columns as written (police spellings), one row per case row."""
    return pd.DataFrame(
        {
            "occurrence_number": all_cases["occurrence_number"],
            "recorded_date": _fmt_date(all_cases["date"]),
            "entered_on": pd.to_datetime(all_cases["entered_on"]).dt.strftime("%d/%m/%Y %H:%M"),
            "victim_person_id": all_cases["person_id"],
            "referral_form": _spell(rng, all_cases["referral_form"], SPELLINGS["referral_form"], vary),
            "referring_agency": _spell(rng, all_cases["referring_agency"], SPELLINGS["referring_agency"], vary),
            "exploitation_type": _exploitation_text(rng, all_cases, vary),
            "exploitation_location": _spell(rng, all_cases["exploitation_location"], SPELLINGS["exploitation_location"], vary),
            "county_lines": _spell(rng, all_cases["county_lines"], SPELLINGS["yes_no"], vary),
            "offence_outcome": _spell(rng, all_cases["engagement"], SPELLINGS["engagement"], vary),
            "support_offered": _spell(rng, all_cases["offered"], SPELLINGS["yes_no"], vary),
            "support_accepted": _spell(rng, all_cases["accepted"], SPELLINGS["yes_no"], vary),
        }
    )


def _victim_file(rng: np.random.Generator, vrec: pd.DataFrame, vary: bool) -> pd.DataFrame:
    """The victim extract's columns as written (police spellings), one row per victim row."""
    return pd.DataFrame(
        {
            "occurrence_number": vrec["occurrence_number"],
            "person_id": vrec["person_id"],
            "sex": _spell(rng, vrec["sex"], SPELLINGS["sex"], vary),
            "date_of_birth": vrec["date_of_birth"],
            "age": vrec["age"],
            "nationality": _nationality_text(rng, vrec["nationality"], vary),
        }
    )


def _ground_truth(all_cases: pd.DataFrame, vrec: pd.DataFrame, records: pd.DataFrame, offenders: pd.DataFrame
                  ) -> pd.DataFrame:
    """One row per injected defective row (``extract, key, defect``), sorted."""
    return pd.concat(
        [
            pd.DataFrame({"extract": "cases", "key": all_cases["occurrence_number"], "defect": all_cases["defect"]}),
            pd.DataFrame({"extract": "victims", "key": vrec["occurrence_number"] + "|" + vrec["person_id"], "defect": vrec["defect"]}),
            pd.DataFrame({"extract": "police_records", "key": records["person_id"] + "|" + records["incident_reference"], "defect": records["defect"]}),
            pd.DataFrame({"extract": "offenders", "key": offenders["occurrence_number"] + "|" + offenders["offender_person_id"], "defect": offenders["defect"]}),
        ],
        ignore_index=True,
    ).dropna(subset=["defect"]).sort_values(["extract", "key"]).reset_index(drop=True)


#: Format characters the twin hides in values (issue 14): zero-width space, BOM, word joiner.
INVISIBLE = ("\u200b", "\ufeff", "\u2060")
#: The soft hyphen, hidden inside a word (``Viet\u00adnam``).
SOFT_HYPHEN = "\u00ad"


def _official_spellings() -> dict[str, tuple[str, ...]]:
    """Canonical country -> its spellings in the UK government's list of nationalities
    (``msht/data/govuk_nationalities.csv``), ASCII only (victims.csv is Windows-1252)."""
    from msht.ingest import coding

    table = coding._read_data_csv("govuk_nationalities.csv")
    table = table[table["nationality"].map(str.isascii)]
    return {c: tuple(sorted(g["nationality"])) for c, g in table.groupby("country")}


def _hide(rng: np.random.Generator, values: pd.Series, share: float) -> pd.Series:
    """Give a ``share`` of the non-blank values a format character: at the end, at the start, or
    (the soft hyphen) inside the value."""
    out = values.astype(object).copy()
    text = out.astype(str)
    pick = (rng.random(len(out)) < share) & out.notna().to_numpy() & (text.str.len() > 1).to_numpy()
    idx = np.flatnonzero(pick)
    if not len(idx):
        return out
    how = rng.integers(0, 4, len(idx))
    chars = np.asarray(INVISIBLE, dtype=object)[rng.integers(0, len(INVISIBLE), len(idx))]
    for k, i in enumerate(idx):
        v = text.iloc[i]
        if how[k] == 0:
            out.iloc[i] = v + chars[k]
        elif how[k] == 1:
            out.iloc[i] = chars[k] + v
        elif how[k] == 2:
            out.iloc[i] = v[:1] + chars[k] + v[1:] if not v[:2].strip().isdigit() else v + chars[k]
        else:
            mid = len(v) // 2
            out.iloc[i] = v[:mid] + SOFT_HYPHEN + v[mid:] if v[mid - 1 : mid + 1].isalpha() else v + chars[k]
    return out


def _field_kinds(rng: np.random.Generator, rates: ProblemRates, cases: pd.DataFrame, victims: pd.DataFrame,
                 offenders: pd.DataFrame) -> None:
    """Inject the field kinds of issue 14 in place, none of which may change a result: missing
    victim IDs written as markers (``NULL``, ``N/K``...), format characters hidden in coded
    values and identifiers of the UTF-8 files, and nationalities written as in the UK
    government's list (``Cymro``, ``Citizen of Bosnia and Herzegovina``)."""
    blank_id = cases["victim_person_id"].isna().to_numpy()
    write = blank_id & (rng.random(len(cases)) < rates.id_marker)
    cases.loc[write, "victim_person_id"] = np.asarray(ID_MARKERS, dtype=object)[rng.integers(0, len(ID_MARKERS), int(write.sum()))]
    for col in ("offence_outcome", "county_lines", "support_offered", "referral_form"):
        cases[col] = _hide(rng, cases[col], rates.invisible)
    for col in ("sex", "nationality", "ethnicity"):
        offenders[col] = _hide(rng, offenders[col], rates.invisible)
    offenders["occurrence_number"] = _hide(rng, offenders["occurrence_number"], rates.invisible)
    official = _official_spellings()
    for frame in (victims, offenders):
        nat = frame["nationality"].astype(object)
        single = nat.isin(list(official)).to_numpy() & (rng.random(len(nat)) < rates.official_spelling)
        idx = np.flatnonzero(single)
        draws = rng.random(len(idx))
        for k, i in enumerate(idx):
            choices = official[nat.iloc[i]]
            frame.iloc[i, frame.columns.get_loc("nationality")] = choices[int(draws[k] * len(choices))]


def _nationality_text(rng: np.random.Generator, values: pd.Series, vary: bool) -> np.ndarray:
    """Write canonical nationality names as a police system might (aliases, case, separators)."""
    text = pd.Series(values.astype(object).to_numpy(), dtype=object)
    isna = text.isna().to_numpy()
    out = text.copy()
    out[isna] = np.asarray(MISSING_MARKERS, dtype=object)[rng.integers(0, len(MISSING_MARKERS), int(isna.sum()))]
    if not vary:
        return out.to_numpy(dtype=object)
    known = pd.Series(text[~isna].astype(str).to_numpy(), index=np.flatnonzero(~isna))
    for canonical, aliases in _NATIONALITY_ALIASES.items():
        pick = rng.integers(0, len(aliases), len(known))
        for k, alias in enumerate(aliases):
            rows = pick == k
            known[rows] = known[rows].str.replace(canonical, alias, regex=False)
    seps = ("; ", " / ", "/", ", ")
    pick = rng.integers(0, len(seps), len(known))
    for k, sep in enumerate(seps):
        rows = pick == k
        known[rows] = known[rows].str.replace("; ", sep, regex=False)
    upper = rng.random(len(known)) < 0.1
    known[upper] = known[upper].str.upper()
    out[known.index] = known.to_numpy()
    return out.to_numpy(dtype=object)


def _exploitation_text(rng: np.random.Generator, cases: pd.DataFrame, vary: bool) -> np.ndarray:
    """Write the five exploitation indicators as one free-text field (several types possible).

    A case whose only type is *other* may be written as undefined ("Not specified"); a case with
    no type at all is left blank (not recorded).
    """
    n = len(cases)
    flags = {t: cases[t].to_numpy(dtype=bool) for t in _EXPLOITATION_WORDS}
    only_other = flags["other_exploitation"] & ~np.any([flags[t] for t in _EXPLOITATION_WORDS if t != "other_exploitation"], axis=0)
    seps = np.asarray(["; ", " / ", ", ", " & "], dtype=object)
    sep = pd.Series(seps[rng.integers(0, len(seps), n) if vary else np.zeros(n, dtype=int)], dtype=object)
    out = pd.Series([""] * n, dtype=object)
    for t, words in _EXPLOITATION_WORDS.items():
        choice = np.asarray(words, dtype=object)[rng.integers(0, len(words), n) if vary else np.zeros(n, dtype=int)]
        if t == "other_exploitation":
            undefined = np.asarray(_UNDEFINED_WORDS, dtype=object)[rng.integers(0, len(_UNDEFINED_WORDS), n) if vary else np.zeros(n, dtype=int)]
            choice = np.where(only_other, undefined, choice)
        word = pd.Series(choice, dtype=object)
        has = pd.Series(flags[t])
        joined = out.where(out == "", out + sep) + word
        out = out.where(~has, joined)
    blank = np.asarray(BLANK_MARKERS, dtype=object)[rng.integers(0, len(BLANK_MARKERS), n) if vary else np.zeros(n, dtype=int)]
    out = out.where(out != "", pd.Series(blank, dtype=object))
    return out.to_numpy(dtype=object)
