"""Pool analytics on tapes imported through the tape service (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from absflow import pool
from absflow.cli import common
from absflow.cli.main import app
from absflow.services import plans, tapes
from absflow.services import pool as pool_service
from absflow.services.context import Context
from absflow.tape.mapping import default_mapping

CUTOFF = date(2026, 3, 31)
REL = 1e-12
MARGIN_TAPE = (
    "contract_id,client_id,principal_outstanding,financing_rate,start_date,due_date,status,"
    "securities_market_value,cash_balance,region\n"
    "M1,C1,100000,0.08,2026-01-05,2026-07-05,performing,250000,0,广东\n"   # ratio 2.50
    "M2,C1,50000,0.07,2026-02-05,2026-08-05,warning,70000,0,上海\n"        # ratio 1.40
    "M3,C2,80000,0.09,2026-03-01,2026-09-01,performing,96000,0,浙江\n"     # ratio 1.20
    "M4,C3,20000.01,0.085,2025-12-20,2026-06-20,performing,60000,0,广东\n"  # ratio 60,000 / 20,000.01
)


def _margin_plan(ctx: Context, tmp_path: Path) -> str:
    code = plans.create_plan(ctx, name="融出资金债权测试", asset_type="margin_loan").code
    path = tmp_path / "margin.csv"
    path.write_text(MARGIN_TAPE, encoding="utf-8")
    tapes.import_tape(ctx, code, path, default_mapping("margin_loan"), CUTOFF)
    return code


def test_margin_summary_and_strats_on_an_imported_tape(ctx: Context, tmp_path: Path) -> None:
    code = _margin_plan(ctx, tmp_path)
    s = pool_service.summary(ctx, code)
    assert s.count == 4
    assert s.total_balance == Decimal("250000.01")
    assert (s.min_balance, s.max_balance) == (Decimal("20000.01"), Decimal("100000.00"))
    assert s.avg_balance == Decimal("62500.00")  # 62,500.0025 → half-even to the fen
    # (8,000 + 3,500 + 7,200 + 1,700.00085) / 250,000.01
    assert s.wa_rate == pytest.approx(20_400.00085 / 250_000.01, rel=REL)
    assert s.margin is not None
    # (250,000 + 70,000 + 96,000 + 60,000) / 250,000.01
    assert s.margin.wa_maintenance_ratio == pytest.approx(476_000 / 250_000.01, rel=1e-9)
    assert s.margin.pct_count_below_warning == 0.5  # M2, M3
    assert s.margin.pct_balance_below_warning == pytest.approx(130_000 / 250_000.01, rel=REL)
    assert s.margin.pct_count_below_liquidation == 0.25  # M3
    names = [f.name for f in pool_service.fields(ctx, code)]
    assert {"balance", "rate", "maintenance_ratio", "region", "remaining_term_months"} <= set(names)
    assert not {"id", "batch_id", "source_row", "asset_id", "obligor_id", "contract_id", "client_id"} & set(names)
    ratio = pool_service.strat(ctx, code, "maintenance_ratio")
    assert [(r.bucket, r.count) for r in ratio.rows if r.count] == [
        ("< 1.30", 1), ("[1.30, 1.50)", 1), ("[2.50, 3.00)", 2)]
    region = pool_service.strat(ctx, code, "region")
    assert [(r.bucket, r.balance) for r in region.rows] == [
        ("广东", Decimal("120000.01")), ("浙江", Decimal("80000.00")), ("上海", Decimal("50000.00"))]
    # the service's figures are the pure core's over the loaded frame
    frame = tapes.load_pool_frame(ctx, code)
    assert pool.summarize(frame) == s
    c = pool_service.concentration(ctx, code, top_n=2)
    assert [(o.key, o.balance_fen) for o in c.top_obligors] == [("C1", 15_000_000), ("C2", 8_000_000)]


def test_vintage_and_rolls_on_an_imported_history(ctx: Context, tmp_path: Path) -> None:
    code = plans.create_plan(ctx, name="消费贷测试", asset_type="consumer_loan").code
    loans = tmp_path / "loans.csv"
    loans.write_text(
        "loan_id,obligor_id,original_principal,current_balance,interest_rate,origination_date,"
        "original_term_months,status\n"
        "L1,B1,12000,9000,0.18,2025-10-15,12,performing\n"
        "L2,B2,8000,7000,0.12,2025-10-20,12,performing\n",
        encoding="utf-8")
    tapes.import_tape(ctx, code, loans, default_mapping("consumer_loan"), CUTOFF)
    history = tmp_path / "perf.csv"
    history.write_text(
        "loan_id,period,begin_balance,scheduled_principal,prepaid_principal,defaulted_amount,recovery,"
        "days_past_due,status\n"
        "L1,2025-11-30,12000,1000,0,0,0,0,performing\n"
        "L1,2025-12-31,11000,1000,1000,0,0,0,performing\n"
        "L2,2025-11-30,8000,0,0,0,0,20,delinquent\n"
        "L2,2025-12-31,8000,0,0,4000,1000,95,defaulted\n",
        encoding="utf-8")
    tapes.import_tape(ctx, code, history, default_mapping("loan_performance"), CUTOFF)
    curves = pool_service.vintage(ctx, code)
    october = date(2025, 10, 1)
    assert curves.vintages == [october]
    # original 12,000 + 8,000 = 20,000; December: 1,000 prepaid, 4,000 defaulted, 1,000 recovered
    assert curves.curve(october, "months_on_book") == [0, 1, 2]
    assert curves.curve(october, "cum_prepayment_rate") == pytest.approx([0.0, 0.0, 0.05], rel=REL)
    assert curves.curve(october, "cum_default_rate") == pytest.approx([0.0, 0.0, 0.2], rel=REL)
    assert curves.curve(october, "cum_loss_rate") == pytest.approx([0.0, 0.0, 0.15], rel=REL)
    r = pool_service.rolls(ctx, code)
    assert r.transitions == 2
    assert r.count[0][0] == 1   # L1 current → current
    assert r.count[1][5] == 1   # L2 1-30 → default
    assert r.balance_fen[1][5] == 800_000  # L2's November end balance


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("ABSFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    common.context.cache_clear()
    yield CliRunner()
    common.context.cache_clear()


def test_cli_summary_after_tape_import(runner: CliRunner, tmp_path: Path) -> None:
    code = _margin_plan(common.context(), tmp_path)
    body = json.loads(runner.invoke(app, ["pool", "summary", code, "--json"]).stdout)
    assert body["total_balance"] == "250000.01" and body["count"] == 4
    assert body["pct_count_below_warning"] == 0.5
    out = runner.invoke(app, ["pool", "strat", code, "--by", "balance", "--edges", "50000,100000", "--json"])
    assert [(r["bucket"], r["count"], r["balance"]) for r in json.loads(out.stdout)["rows"]] == [
        ("< 50000", 1, "20000.01"), ("[50000, 100000)", 2, "130000.00"), (">= 100000", 1, "100000.00")]


def test_summary_lines_come_from_the_deal_document(ctx: Context, tmp_path: Path) -> None:
    from absflow.services import deals

    code = _margin_plan(ctx, tmp_path)
    assert pool_service.maintenance_lines(ctx, code) == (1.50, 1.30)  # no deal attached: the common lines
    example = Path(__file__).resolve().parents[2] / "examples" / "deals" / "09_pyas_swhy_1.yaml"
    text = example.read_text(encoding="utf-8")
    line = 'maintenance_lines: {warning: "1.50", liquidation: "1.30", repurchase: "1.30"}'
    assert line in text
    deals.attach_deal(ctx, code, text.replace(line, 'maintenance_lines: {warning: "1.45", liquidation: "1.25", '
                                                    'repurchase: "1.25"}'))
    assert pool_service.maintenance_lines(ctx, code) == (1.45, 1.25)
    s = pool_service.summary(ctx, code)
    assert s.margin is not None and (s.margin.warning_line, s.margin.liquidation_line) == (1.45, 1.25)
    assert s.margin.pct_count_below_warning == 0.5      # M2 1.40, M3 1.20
    assert s.margin.pct_count_below_liquidation == 0.25  # M3
    from absflow.services import poolview

    poolview.clear_cache()
    assert poolview.overview(ctx, code).summary == s.as_dict()  # the web page shows the plan's lines too
    given = pool_service.summary(ctx, code, warning_line=1.3)
    assert given.margin is not None and given.margin.warning_line == 1.3 and given.margin.liquidation_line == 1.25
    assert given.margin.pct_count_below_warning == 0.25
