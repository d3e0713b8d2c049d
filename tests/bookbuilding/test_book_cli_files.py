"""`absflow book allocate --offering OFFERING.yaml --bids BIDS.csv --json`: the stable file contract."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from absflow.cli.main import app

OFFERING = "size: 100000\nlot: 100\nrate_min: 2.00\nrate_max: 3.50\nconvention: incremental\n"
BIDS = "investor,rate,amount\nA,2.60,20000\nA,2.70,10000\nB,2.65,30000\nC,2.70,40000\nC,2.80,20000\n" \
       "D,2.70,20000\nE,2.75,30000\n"


def _run(tmp_path: Path, offering: str, bids: str) -> tuple[int, str]:
    (tmp_path / "o.yaml").write_text(offering, encoding="utf-8")
    (tmp_path / "b.csv").write_text(bids, encoding="utf-8")
    result = CliRunner().invoke(app, ["book", "allocate", "--offering", str(tmp_path / "o.yaml"),
                                      "--bids", str(tmp_path / "b.csv"), "--json"])
    return result.exit_code, result.stdout


def test_worked_example_through_the_command(tmp_path: Path) -> None:
    code, out = _run(tmp_path, OFFERING, BIDS)
    assert code == 0
    assert json.loads(out) == {
        "marginal_rate": "2.70", "total_demand": "170000", "total_multiple": "1.70", "marginal_multiple": "1.40",
        "allocated_total": "100000",
        "allocations": [{"investor": "A", "allocated": "27100"}, {"investor": "B", "allocated": "30000"},
                        {"investor": "C", "allocated": "28600"}, {"investor": "D", "allocated": "14300"}],
        "undersubscribed": False,
    }


def test_undersubscribed_with_times_and_bom(tmp_path: Path) -> None:
    bids = "\ufeffinvestor,rate,amount,time\n甲基金,2.60,300,2026-03-02T09:10:00\n乙银行,2.90,200,2026-03-02T09:20:00\n"
    code, out = _run(tmp_path, OFFERING.replace("100000", "1000"), bids)
    assert code == 0
    doc = json.loads(out)
    assert doc["undersubscribed"] is True and doc["marginal_rate"] == "2.90" and doc["marginal_multiple"] is None
    assert doc["allocated_total"] == "500" and doc["total_multiple"] == "0.50"
    assert doc["allocations"] == [
        {"investor": "乙银行", "allocated": "200"}, {"investor": "甲基金", "allocated": "300"}]


def test_every_error_with_its_csv_line(tmp_path: Path) -> None:
    bids = "investor,rate,amount\nA,2.60,20050\nA,x,10000\nB,3.65,30000\n,2.70,100\nA,2.60,100\nC,2.70,50\n"
    code, out = _run(tmp_path, OFFERING, bids)
    assert code == 2
    errors = [(e["row"], e["code"]) for e in json.loads(out)["errors"]]
    assert errors == [(2, "amount_not_lot_multiple"), (3, "not_a_number"), (4, "rate_out_of_range"),
                      (5, "investor_missing"), (6, "duplicate_level"), (7, "amount_not_lot_multiple")]


def test_bad_offering_and_missing_columns(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "size: lots\nrate_min: 3\nconvention: dutch\n", "investor,amount\nA,100\n")
    assert code == 2
    errors = {(e["field"] or e["column"], e["code"]) for e in json.loads(out)["errors"]}
    assert errors == {("size", "not_a_number"), ("rate_max", "required"), ("convention", "unknown_convention"),
                      ("rate", "missing_column")}
