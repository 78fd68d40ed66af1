import pandas as pd

from msht.clean import rules as clean
from msht.publish import flow, quality
from msht.ingest.extracts import SOURCE_ROW


def test_completeness_counts_markers_as_missing():
    frame = pd.DataFrame({SOURCE_ROW: [2, 3, 4, 5], "sex": ["M", "N/K", " ", "Unknown"]})
    out = quality.completeness({"victims": frame})
    assert out.to_dict("records") == [{"extract": "victims", "field": "sex", "rows": 4, "missing": 3, "pct_complete": 25.0}]


def test_spellings_pool_rare_values_and_keep_unknown_codes():
    raw = ["M"] * 6 + ["Male"] * 5 + ["mle"] * 1 + ["F"] * 2
    frame = pd.DataFrame({SOURCE_ROW: range(len(raw)), "sex": raw, "nationality": ["UK"] * len(raw)})
    out = quality.spellings({"victims": frame}, min_count=5)
    sex = out[out["field"] == "sex"].set_index(["code", "raw_value"])["n"]
    assert sex[("male", "M")] == 6 and sex[("male", "Male")] == 5
    assert sex[("unknown", "(1 other spellings)")] == 1  # unrecognised: counted, not dropped
    assert sex[("female", "(1 other spellings)")] == 2
    assert int(sex.sum()) == len(raw)
    assert "mle" not in set(out["raw_value"])


def test_problems_read_from_statuses():
    status = {"cases": pd.DataFrame({"status": ["analysed", "duplicate", "duplicate", "no_victim_id"]})}
    out = quality.problems(status)
    assert dict(zip(out["problem"], out["n"])) == {"missing victim ID": 1, "duplicate entry": 2}


def test_flow_boxes_follow_the_exclusions():
    ex = pd.DataFrame(
        [
            {"step": 1, "rule": "no_victim_id", "entity": "cases", "rows_in": 10, "excluded": 2, "rows_out": 8},
            {"step": 2, "rule": "outside_period", "entity": "cases", "rows_in": 8, "excluded": 0, "rows_out": 8},
            {"step": 10, "rule": "unmatched_offender", "entity": "offenders", "rows_in": 5, "excluded": 1, "rows_out": 4},
        ]
    )
    boxes = flow.flow_boxes(ex)
    assert boxes[boxes["entity"] == "cases"][["kind", "n"]].values.tolist() == [["read", 10], ["excluded", 2], ["analysed", 8]]
    assert boxes[boxes["entity"] == "offenders"]["n"].tolist() == [5, 1, 4]
    fig = flow.flow_diagram(ex, {(e, r): d for _, r, e, d in clean.RULES})
    assert sum(t.get_bbox_patch() is not None for t in fig.axes[0].texts) == 6


def _default(name: str) -> pd.DataFrame:
    from pathlib import Path

    return pd.read_csv(Path(__file__).resolve().parents[1] / "results" / "default" / f"{name}.csv",
                       keep_default_na=False, na_values=[""])


def test_completeness_hides_small_missing_counts_under_sdc():
    """Issue 15 item 2: completeness.csv published 2 cases with referral type missing (with
    Appendix 2 and Appendix 4's denominators it gave back the hidden referral-type unknown)."""
    frame = _default("completeness")
    protected, supp = quality.protect_completeness(frame, 5)
    row = protected[(protected["extract"] == "cases") & (protected["field"] == "referral_form")].iloc[0]
    assert int(frame.loc[row.name, "missing"]) == 2
    assert pd.isna(row["missing"]) and pd.isna(row["pct_complete"])
    present = protected["rows"] - protected["missing"]
    assert not protected["missing"].dropna().between(1, 4).any()
    assert not present.dropna().between(1, 4).any()
    assert set(supp["file"]) == {"completeness"}
    shown = quality.shown(protected, supp, "completeness")
    assert shown.loc[row.name, "missing"] == "<5"
    unchanged, none = quality.protect_completeness(frame, 0)
    assert unchanged is frame and none.empty


def test_spellings_hide_small_counts_so_that_totals_do_not_give_them_back():
    """Issue 15 item 2: spellings.csv published counts of 2 and 4; each field's spellings add up
    to the extract's rows, so a lone hidden count would come back by subtraction."""
    frame = _default("spellings")
    protected, supp = quality.protect_spellings(frame, 5)
    assert not protected["n"].dropna().between(1, 4).any()
    for _, blk in protected.groupby(["extract", "field"]):
        hidden = blk["n"].isna().sum()
        assert hidden != 1, "one hidden count in a block with a public total comes back by subtraction"
    assert len(supp) == protected["n"].isna().sum()
    assert frame["n"].between(1, 4).any()
    unchanged, none = quality.protect_spellings(frame, 0)
    assert unchanged is frame and none.empty
