"""The clean population a synthetic twin is made from, and its column contract.

A :class:`Population` is what the analysis tables *should* come out as once the raw extracts
are cleaned. :mod:`msht.synth.raw` turns it into messy police-style extracts.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

#: Columns of each frame of a population, in order.
VICTIM_COLUMNS = ("victim_id", "sex", "age", "nationality", "n_entries", "n_as_victim", "n_as_perpetrator")
CASE_COLUMNS = (
    "case_id", "victim_id", "date", "referral_form", "referring_agency",
    "criminal_exploitation", "labour_exploitation", "sexual_exploitation", "domestic_servitude",
    "other_exploitation", "exploitation_location", "county_lines", "engagement", "offered", "accepted",
    "recorded_offender",
)
OFFENDER_COLUMNS = ("case_id", "offender_id", "sex", "age", "ethnicity_group5", "nationality")


@dataclass
class Population:
    """A clean synthetic population: victims, their cases, and case-offender pairs."""

    victims: pd.DataFrame
    cases: pd.DataFrame
    offenders: pd.DataFrame

    def check(self) -> None:
        """Raise ``ValueError`` if a frame lacks a contract column or breaks a key rule."""
        for name, cols in (("victims", VICTIM_COLUMNS), ("cases", CASE_COLUMNS), ("offenders", OFFENDER_COLUMNS)):
            missing = [c for c in cols if c not in getattr(self, name).columns]
            if missing:
                raise ValueError(f"population.{name} lacks columns {missing}")
        if self.victims["victim_id"].duplicated().any():
            raise ValueError("population.victims has duplicate victim_id")
        if self.cases["case_id"].duplicated().any():
            raise ValueError("population.cases has duplicate case_id")
        if self.cases.duplicated(["victim_id", "date"]).any():
            raise ValueError("population.cases has two cases of one victim on one date")
        if not self.cases["victim_id"].isin(self.victims["victim_id"]).all():
            raise ValueError("population.cases refers to unknown victims")
        if not self.offenders["case_id"].isin(self.cases["case_id"]).all():
            raise ValueError("population.offenders refers to unknown cases")
