"""One test per bad-input rule: every problem is found, located (row, source column), and named."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from absflow.domain.issues import ValidationFailed
from absflow.services.tapes import validate_tape
from absflow.tape.mapping import default_mapping, load_mapping, parse_mapping
from absflow.tape.validate import check_tape

MARGIN = default_mapping("margin_loan")
MAPPINGS = Path(__file__).resolve().parents[2] / "examples" / "mappings"


def codes(report: object) -> list[tuple[int | None, str | None, str]]:
    return [(i.location.row, i.location.column, i.code) for i in report.issues]  # type: ignore[attr-defined]


def test_valid_tape_has_no_issues(margin_csv: Callable[..., Path]) -> None:
    report = check_tape(margin_csv(), MARGIN)
    assert report.valid and report.rows == 4 and report.issues == []


def test_missing_column(margin_csv: Callable[..., Path]) -> None:
    header = "contract_id,client_id,financing_rate,start_date,due_date,status,securities_market_value"
    rows = ["M1,C1,0.08,2026-01-05,2026-07-05,performing,250000"]
    report = check_tape(margin_csv(rows, header=header), MARGIN)
    assert codes(report) == [(1, "principal_outstanding", "missing_column")]
    assert "principal_outstanding" in report.issues[0].message and "'contract_id'" in report.issues[0].message


def test_mapped_column_missing_names_the_source_header(margin_csv: Callable[..., Path]) -> None:
    mapping = parse_mapping({"asset_type": "margin_loan", "columns": {"contract_id": "合约编号"}})
    report = check_tape(margin_csv(), mapping)
    assert codes(report) == [(1, "合约编号", "missing_column")]


def test_unknown_mapping_field_and_key() -> None:
    with pytest.raises(ValidationFailed) as failed:
        parse_mapping({"asset_type": "margin_loan", "columns": {"contract_idd": "合约编号"},
                       "units": {"financing_rate": "permille"}, "colums": {}})
    found = {(i.code, i.location.field_path) for i in failed.value.issues}
    assert found == {("unknown_field", "columns.contract_idd"), ("unknown_unit", "units.financing_rate"),
                     ("unknown_mapping_key", "colums")}


def test_wrong_encoding_names_the_row(margin_csv: Callable[..., Path]) -> None:
    rows = ["M1,C1,100,0.08,2026-01-05,2026-07-05,performing,250000,0,广东"]
    path = margin_csv(rows, encoding="gbk")  # GBK bytes, mapping says utf-8
    report = check_tape(path, MARGIN)
    assert codes(report) == [(2, None, "encoding")]
    assert "gbk" in report.issues[0].message.lower()


def test_non_numeric_amount(margin_csv: Callable[..., Path], margin_rows: list[str]) -> None:
    margin_rows[2] = margin_rows[2].replace("80000", "八万")
    report = check_tape(margin_csv(margin_rows), MARGIN)
    assert codes(report) == [(4, "principal_outstanding", "not_a_number")]
    assert report.issues[0].value == "八万"


def test_negative_balance(margin_csv: Callable[..., Path], margin_rows: list[str]) -> None:
    margin_rows[0] = margin_rows[0].replace("100000.50", "-100000.50")
    report = check_tape(margin_csv(margin_rows), MARGIN)
    assert codes(report) == [(2, "principal_outstanding", "negative")]
    assert report.issues[0].value == "-100000.50"


def test_due_date_before_start_date(margin_csv: Callable[..., Path], margin_rows: list[str]) -> None:
    margin_rows[1] = margin_rows[1].replace("2026-08-05", "2026-01-31")
    report = check_tape(margin_csv(margin_rows), MARGIN)
    assert codes(report) == [(3, "due_date", "due_before_start")]
    assert "2026-01-31" in report.issues[0].message and "2026-02-05" in report.issues[0].message


def test_duplicate_id_names_both_rows(margin_csv: Callable[..., Path], margin_rows: list[str]) -> None:
    margin_rows[3] = margin_rows[3].replace("M4", "M2")
    report = check_tape(margin_csv(margin_rows), MARGIN)
    assert codes(report) == [(5, "contract_id", "duplicate_id")]
    assert "row 3" in report.issues[0].message


def test_duplicate_id_across_streamed_batches(margin_csv: Callable[..., Path]) -> None:
    rows = [f"S{i},C1,1000,0.08,2026-01-05,2026-07-05,performing,5000,0,广东" for i in range(200)]
    rows.append(rows[0])
    report = check_tape(margin_csv(rows), MARGIN, batch_bytes=300)
    assert codes(report) == [(202, "contract_id", "duplicate_id")]
    assert report.rows == 201


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    report = check_tape(path, MARGIN)
    assert codes(report) == [(None, None, "empty_file")] and report.rows == 0


def test_header_only(margin_csv: Callable[..., Path]) -> None:
    report = check_tape(margin_csv([]), MARGIN)
    assert codes(report) == [(1, None, "no_rows")] and report.rows == 0


def test_unexpected_date_format(margin_csv: Callable[..., Path], margin_rows: list[str]) -> None:
    margin_rows[0] = margin_rows[0].replace("2026-01-05", "05.01.2026")
    report = check_tape(margin_csv(margin_rows), MARGIN)
    assert codes(report) == [(2, "start_date", "bad_date")]
    assert "%Y-%m-%d" in report.issues[0].message


def test_rate_in_percent_without_unit_is_caught(margin_csv: Callable[..., Path], margin_rows: list[str]) -> None:
    margin_rows[0] = margin_rows[0].replace("0.0835", "8.35")
    report = check_tape(margin_csv(margin_rows), MARGIN)
    assert codes(report) == [(2, "financing_rate", "rate_out_of_range")]
    assert "units.financing_rate: percent" in report.issues[0].message


def test_all_problems_at_once(margin_csv: Callable[..., Path], margin_rows: list[str]) -> None:
    margin_rows[0] = margin_rows[0].replace("100000.50", "abc").replace("performing", "正常")
    margin_rows[2] = margin_rows[2].replace("2026-09-01", "2026-02-01")
    report = check_tape(margin_csv(margin_rows), MARGIN)
    assert codes(report) == [(2, "principal_outstanding", "not_a_number"), (2, "status", "unknown_value"),
                             (4, "due_date", "due_before_start")]


def test_issue_list_is_capped_per_rule_with_a_count(margin_csv: Callable[..., Path]) -> None:
    rows = [f"S{i},C1,-1,0.08,2026-01-05,2026-07-05,performing,5000,0,广东" for i in range(30)]
    report = check_tape(margin_csv(rows), MARGIN, issue_limit=10)
    assert [i.code for i in report.issues].count("negative") == 10
    assert report.issues[-1].code == "more_issues" and report.issues[-1].value == "20"


def test_cutoff_rules_and_derivations(consumer_csv: Callable[..., Path]) -> None:
    report = check_tape(consumer_csv(), default_mapping("consumer_loan"), cutoff=date(2026, 2, 28), keep_frame=True)
    assert codes(report) == [(3, "origination_date", "starts_after_cutoff")]
    assert report.frame is not None
    first = report.frame.row(0, named=True)
    assert first["maturity_date"] == date(2026, 10, 15) and first["remaining_term_months"] == 8


def test_balance_above_principal(consumer_csv: Callable[..., Path]) -> None:
    rows = ["L1,B1,12000,12000.01,0.18,2025-10-15,12,performing,四川"]
    report = check_tape(consumer_csv(rows), default_mapping("consumer_loan"))
    assert codes(report) == [(2, "current_balance", "balance_exceeds_principal")]


def test_maintenance_ratio_given_must_match_components(margin_csv: Callable[..., Path]) -> None:
    header = ("contract_id,client_id,principal_outstanding,financing_rate,start_date,due_date,status,"
              "securities_market_value,maintenance_ratio")
    rows = ["M1,C1,100000,0.08,2026-01-05,2026-07-05,performing,250000,2.5",
            "M2,C1,100000,0.08,2026-01-05,2026-07-05,performing,250000,3.1"]
    report = check_tape(margin_csv(rows, header=header), MARGIN)
    assert codes(report) == [(3, "maintenance_ratio", "maintenance_ratio_mismatch")]
    assert "2.5000" in report.issues[0].message


# --- file formats ------------------------------------------------------------------------


def test_gbk_tape_with_the_issue_mapping_form(tmp_path: Path) -> None:
    """The exact YAML form of the issue: GBK, percent rate, "%b-%Y" month dates, status words."""
    path = tmp_path / "gbk.csv"
    text = ("借据编号,obligor_id,original_principal,剩余本金(元),年利率(%),放款月份,original_term_months,status\n"
            "JD001,B1,10000,8000,18.5,Mar-2025,24,正常\n"
            "JD002,B2,5000,5000,12,Jan-2026,12,逾期\n")
    path.write_bytes(text.encode("gbk"))
    report = validate_tape(path, MAPPINGS / "consumer_loan_gbk_example.yaml", keep_frame=True)
    assert report.valid, report.issues
    assert report.frame is not None
    frame = report.frame
    assert frame.get_column("origination_date").to_list() == [date(2025, 3, 1), date(2026, 1, 1)]
    assert frame.get_column("interest_rate").to_list() == pytest.approx([0.185, 0.12])
    assert frame.get_column("status").to_list() == ["performing", "delinquent"]
    assert frame.get_column("current_balance_fen").to_list() == [800_000, 500_000]


def test_wan_yuan_and_bps_units(margin_csv: Callable[..., Path]) -> None:
    mapping = parse_mapping({"asset_type": "margin_loan", "units": {
        "principal_outstanding": "wan_yuan", "securities_market_value": "wan_yuan", "financing_rate": "bps"}})
    rows = ["M1,C1,12.345678,835,2026-01-05,2026-07-05,performing,30,0,广东"]
    report = check_tape(margin_csv(rows), mapping, keep_frame=True)
    assert report.valid and report.frame is not None
    row = report.frame.row(0, named=True)
    assert row["principal_outstanding_fen"] == 12_345_678 and row["financing_rate"] == pytest.approx(0.0835)


def test_parquet_tape(tmp_path: Path) -> None:
    path = tmp_path / "tape.parquet"
    pl.DataFrame({
        "loan_id": ["L1", "L2"], "obligor_id": ["B1", "B2"], "original_principal": [1000.0, 2000.0],
        "current_balance": [900.0, -1.0], "interest_rate": [0.1, 0.12],
        "origination_date": [date(2025, 1, 5), date(2025, 2, 5)], "original_term_months": [12, 12],
        "status": ["performing", "performing"],
    }).write_parquet(path)
    report = check_tape(path, default_mapping("consumer_loan"))
    assert codes(report) == [(3, "current_balance", "negative")]


def _workbook(path: Path, rows: list[list[object]], merge: str | None = None) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "明细"
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    book.save(path)
    return path


XLSX_HEADER = ["contract_id", "client_id", "principal_outstanding", "financing_rate", "start_date", "due_date",
               "status", "securities_market_value"]


def test_xlsx_tape_rows_are_sheet_rows(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["明细表"], [], XLSX_HEADER,
        ["M1", "C1", 1000, 0.08, date(2026, 1, 5), date(2026, 7, 5), "performing", 3000],
        ["M2", "C1", "x", 0.08, date(2026, 1, 5), date(2026, 7, 5), "performing", 3000],
    ]
    # the title row is the first non-empty row, so it is taken as the header: put the header first
    report = check_tape(_workbook(tmp_path / "t.xlsx", rows[2:]), MARGIN)
    assert codes(report) == [(3, "principal_outstanding", "not_a_number")]


def test_xlsx_merged_header_cells(tmp_path: Path) -> None:
    rows: list[list[object]] = [XLSX_HEADER, ["M1", "C1", 1000, 0.08, date(2026, 1, 5), date(2026, 7, 5),
                                              "performing", 3000]]
    report = check_tape(_workbook(tmp_path / "m.xlsx", rows, merge="A1:B1"), MARGIN)
    merged = [i for i in report.issues if i.code == "xlsx_merged_cells"]
    assert [(i.location.row, i.location.column, i.value) for i in merged] == [(1, "contract_id", "A1:B1")]
    assert "header" in merged[0].message and not report.valid


def test_xlsx_formula_cells(tmp_path: Path) -> None:
    rows: list[list[object]] = [XLSX_HEADER, ["M1", "C1", "=1000*2", 0.08, date(2026, 1, 5), date(2026, 7, 5),
                                              "performing", 3000]]
    report = check_tape(_workbook(tmp_path / "f.xlsx", rows), MARGIN)
    assert codes(report)[0] == (2, "principal_outstanding", "xlsx_formula")
    assert report.issues[0].value == "=1000*2"


def test_shipped_mappings_load() -> None:
    for path in sorted(MAPPINGS.glob("*.yaml")):
        assert load_mapping(path).columns
