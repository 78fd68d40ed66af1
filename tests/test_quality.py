import pandas as pd

from msht import clean, flow, quality
from msht.ingest import SOURCE_ROW


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
