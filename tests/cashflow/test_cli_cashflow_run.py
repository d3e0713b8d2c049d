"""`absflow cashflow run`: workbook, JSON and CSV outputs; a bad deal exits 2 and runs nothing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import openpyxl
import yaml
from typer.testing import CliRunner

from absflow.cli.main import app

DEALS = Path(__file__).resolve().parents[2] / "examples" / "deals"



def test_run_writes_the_workbook(cli: CliRunner, tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: stress\ncdr: 0.02\nseverity: 0.4\noriginator_rating: AAA\n", encoding="utf-8")
    out = tmp_path / "run.xlsx"
    result = cli.invoke(app, ["cashflow", "run", str(DEALS / "03_qilu_dfzq_1.yaml"), "--scenario", str(scenario),
                                 "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["scenario"] == "stress" and body["periods"] == 3
    assert [r["tranche"] for r in body["summary"]] == ["A", "B"]
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Summary", "Pool", "Tranche A", "Tranche B", "Accounts", "Fees", "Triggers"]
    a = book["Tranche A"]
    header = [c.value for c in a[1]]
    assert header[:4] == ["period", "payment_date", "begin_balance", "interest_due"]
    assert a.cell(row=2, column=3).value == 950_000_000.0
    # 2% CDR breaches the 1% cumulative-default trigger in the first period: accelerated, A repaid from then on
    assert book["Pool"].cell(row=2, column=4).value == "accelerated"
    summary = book["Summary"]
    columns = [c.value for c in summary[1]]
    assert {"tranche", "interest_paid", "principal_paid", "unpaid_at_end"} <= set(columns)
    if importlib.util.find_spec("absflow.cashflow.pricing") is not None:
        assert {"yield", "wal_years", "modified_duration", "principal_window", "xirr"} <= set(columns)
        assert summary.cell(row=2, column=columns.index("principal_window") + 1).value.startswith("2016-12-01 → ")


def test_run_json_and_csv(cli: CliRunner, tmp_path: Path) -> None:
    for suffix in (".json", ".csv"):
        out = tmp_path / f"run{suffix}"
        result = cli.invoke(app, ["cashflow", "run", str(DEALS / "05_zhongtou_dgzq_1.yaml"), "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 0
    data = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert set(data["tranches"]) == {"A", "B", "C"}
    assert data["pool"][0]["begin_balance"] == "1500000000.00"


def test_bad_deal_exits_2_with_paths(cli: CliRunner, tmp_path: Path) -> None:
    data = yaml.safe_load((DEALS / "03_qilu_dfzq_1.yaml").read_text(encoding="utf-8"))
    data["tranches"][0]["size"] = "-1"
    data["waterfalls"]["revolving"][2]["support"] = [{"liquidity": "nobody"}]
    data["dates"]["legal_maturity"] = "2015-01-01"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "never.xlsx"
    result = cli.invoke(app, ["cashflow", "run", str(bad), "--out", str(out), "--json"])
    assert result.exit_code == 2
    fields = {e["field"] for e in json.loads(result.stdout)["errors"]}
    assert {"tranches[0].size", "waterfalls.revolving[2].support[0].liquidity", "dates.legal_maturity"} <= fields
    assert not out.exists()


def test_run_a_plans_current_deal(cli: CliRunner) -> None:
    code = json.loads(cli.invoke(app, ["deal", "create", "--name", "x", "--asset-type", "margin_loan",
                                          "--json"]).stdout)["code"]
    missing = cli.invoke(app, ["cashflow", "run", "--plan", code, "--json"])
    assert missing.exit_code == 2 and json.loads(missing.stdout)["error"] == "not_found"
    assert cli.invoke(app, ["deal", "attach", code, str(DEALS / "09_pyas_swhy_1.yaml")]).exit_code == 0
    result = cli.invoke(app, ["cashflow", "run", "--plan", code, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deal"] == "浦银安盛资管-申万宏源证券融出资金债权1号资产支持专项计划"


def test_bad_scenario_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("cdr: -1\nspeed: fast\n", encoding="utf-8")
    result = cli.invoke(app, ["cashflow", "run", str(DEALS / "03_qilu_dfzq_1.yaml"), "--scenario", str(scenario),
                                 "--json"])
    assert result.exit_code == 2
    assert {e["field"] for e in json.loads(result.stdout)["errors"]} == {"cdr", "speed"}
