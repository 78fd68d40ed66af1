"""The check page (``check.html``): readable by a data owner, one self-contained file."""

from __future__ import annotations

import re
import shutil

import pandas as pd

from msht.clean import check
from msht.ingest import extracts as ingest

PERIOD = ("1900-01-01", "2100-12-31")
WORDS = ["police"]


def _problems(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["severity", "extract", "code"])
    frame["problem"] = frame["code"]
    return frame


def test_the_summary_counts_problems_by_extract_and_by_rule():
    problems = _problems([("warning", "cases", "no_victim_id"), ("warning", "cases", "no_victim_id"),
                          ("error", "victims", "not_a_date"), ("warning", "victims", "not_in_case_file"),
                          ("warning", "police_records", "not_in_case_file")])
    by_extract, by_rule = check.summary_tables(problems)
    assert by_extract.values.tolist() == [["cases", 0, 2], ["victims", 1, 1], ["police_records", 0, 1],
                                          ["offenders", 0, 0]]
    assert by_rule[["severity", "extract", "rule", "problems"]].values.tolist() == [
        ["error", "victims", "not_a_date", 1], ["warning", "cases", "no_victim_id", 2],
        ["warning", "victims", "not_in_case_file", 1], ["warning", "police_records", "not_in_case_file", 1]]
    what = dict(zip(by_rule["extract"] + "." + by_rule["rule"], by_rule["what"]))
    assert what["victims.not_in_case_file"] == "Victim ID not in the MSHT case file"
    assert what["police_records.not_in_case_file"] == "Person ID not in the MSHT case file"
    assert what["victims.not_a_date"] == "a date that is not one"


def _damaged(src, dst):
    shutil.copytree(src, dst)
    victims = pd.read_csv(dst / "victims.csv", dtype=str, keep_default_na=False, encoding="cp1252")
    victims.loc[0, "date_of_birth"] = "31/02/1990<b>"
    victims.loc[1, "sex"] = "Zorg"
    victims.to_csv(dst / "victims.csv", index=False, encoding="cp1252")


def test_the_page_has_a_summary_then_counted_sections_and_is_self_contained(small_raw, tmp_path):
    _damaged(small_raw[0], tmp_path / "raw")
    result = check.check(tmp_path / "raw", period=PERIOD, force_words=WORDS)
    page = check.render_html(result, "Extract check: test")
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert [h.split(" <small>")[0] for h in headings] == [
        "Summary", "Errors: the run stops on these", "Warnings: the run counts and handles these",
        "Values no vocabulary recognises", "Completeness per field", "Mapping applied"]
    assert f"<small>({result.n_errors:,})</small>" in headings[1] and f"({result.n_warnings:,})" in headings[2]
    assert result.n_errors == 1 and 'class="verdict stop"' in page
    summary = page.split('<section id="errors">')[0]
    assert "<h3>By extract</h3>" in summary and "<h3>By rule</h3>" in summary and "not_a_date" in summary
    assert re.search(r"<h3>victims \(\d+\)</h3>", page)  # problems grouped by extract, with counts
    assert "31/02/1990&lt;b&gt;" in page and "<b>" not in page  # raw values escaped
    assert "Zorg" in page.split('id="unrecognised"')[1]
    assert not re.search(r"<script|<link|src=|https?://", page, re.IGNORECASE)  # no script, no external resource


def test_the_page_and_csvs_are_written_only_into_the_folder_given(small_raw, tmp_path):
    result = check.check(small_raw[0], period=PERIOD, force_words=WORDS)
    out = tmp_path / "processed" / "check"
    check.write_check(result, out, "t")
    assert sorted(p.name for p in out.iterdir()) == ["check.html", "completeness.csv", "mapping.csv", "problems.csv",
                                                      "unrecognised.csv"]
    assert 'class="verdict go"' in (out / "check.html").read_text(encoding="utf-8")
    assert ingest.EXTRACTS == tuple(pd.read_csv(out / "completeness.csv")["extract"].drop_duplicates())
