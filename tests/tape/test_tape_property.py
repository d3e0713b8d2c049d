"""Property: one error injected anywhere rejects the whole tape, and the report names that row."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from absflow.tape.mapping import default_mapping
from absflow.tape.validate import check_tape

HEADER = ("contract_id,client_id,principal_outstanding,financing_rate,start_date,due_date,status,"
          "securities_market_value")
MARGIN = default_mapping("margin_loan")

# (what is injected, expected code): each edit breaks exactly one rule of one row
INJECTIONS = {
    "non_numeric": "not_a_number",
    "negative": "negative",
    "bad_date": "bad_date",
    "unknown_status": "unknown_value",
    "due_before_start": "due_before_start",
    "empty_required": "missing_value",
    "duplicate_id": "duplicate_id",
    "rate_percent": "rate_out_of_range",
}


def _row(i: int, balance: int) -> list[str]:
    return [f"M{i}", f"C{i % 5}", f"{balance}.25", "0.0835", "2026-01-05", "2026-07-05", "performing", "900000"]


def _inject(rows: list[list[str]], index: int, kind: str) -> None:
    row = rows[index]
    if kind == "non_numeric":
        row[2] = "12a"
    elif kind == "negative":
        row[2] = "-" + row[2]
    elif kind == "bad_date":
        row[4] = "2026.01.05"
    elif kind == "unknown_status":
        row[6] = "正常"
    elif kind == "due_before_start":
        row[5] = "2025-12-31"
    elif kind == "empty_required":
        row[1] = ""
    elif kind == "duplicate_id":
        row[0] = rows[index - 1][0]
    elif kind == "rate_percent":
        row[3] = "8.35"


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(min_value=2, max_value=40), kind=st.sampled_from(sorted(INJECTIONS)),
       balances=st.lists(st.integers(min_value=0, max_value=10**9), min_size=40, max_size=40),
       batch_bytes=st.sampled_from([64, 300, 1 << 20]))
def test_one_injected_error_rejects_the_tape_and_names_its_row(
        data: st.DataObject, n: int, kind: str, balances: list[int], batch_bytes: int) -> None:
    rows = [_row(i, balances[i]) for i in range(n)]
    index = data.draw(st.integers(min_value=1 if kind == "duplicate_id" else 0, max_value=n - 1))
    _inject(rows, index, kind)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tape.csv"
        path.write_text("\n".join([HEADER, *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")
        report = check_tape(path, MARGIN, batch_bytes=batch_bytes)
    assert not report.valid
    assert report.rows == n
    assert {(i.location.row, i.code) for i in report.issues} == {(index + 2, INJECTIONS[kind])}
