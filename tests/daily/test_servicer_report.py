"""The servicer report: roll-forward reconciles, Chinese text in the PDF needs no system font."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import openpyxl

from absflow.reports.pdf import missing_glyphs
from absflow.reports.servicer import servicer_pdf, servicer_xlsx
from absflow.services.context import Context
from absflow.services.servicer_report import servicer_report
from absflow.services.simulate import simulate

DEAL_TEXT = (Path(__file__).resolve().parents[2] / "examples" / "deals" / "09_pyas_swhy_1.yaml").read_text("utf-8")


def test_report_sections_reconcile_and_render(ctx: Context) -> None:
    run = simulate(ctx, DEAL_TEXT, days=6, seed=11, loans=300)
    report = servicer_report(ctx, run.plan_code, run.first_day, run.last_day)  # type: ignore[arg-type]
    titles = [s.title for s in report.sections]
    for needle in ("回收款", "资产池余额变动", "逾期", "违约", "提前还款", "循环购买", "回购", "资金划转", "收益分配",
                   "触发事件", "资产池分布"):
        assert any(needle in t for t in titles), needle
    roll = next(s for s in report.sections if "资产池余额变动" in s.title)
    assert roll.rows[-1][1] == "0.00", roll.rows  # opening + bought − reductions − closing
    assert roll.rows[0][1] == "2000000000.00"
    buckets = next(s for s in report.sections if "逾期" in s.title)
    assert [r[0] for r in buckets.rows] == ["1-30", "31-60", "61-90", "90+"]
    triggers = dict(next(s for s in report.sections if "触发事件" in s.title).rows)
    assert {k for k in triggers if k.startswith("触发器")} == {  # every deal trigger with its day count
        "触发器 trigger originator_downgrade", "触发器 trigger ineligible_assets", "触发器 trigger idle_funds",
        "触发器 trigger defaults"}
    needed = {k: v.split("/")[1].split()[0] for k, v in triggers.items() if k.startswith("触发器")}
    assert needed == {"触发器 trigger originator_downgrade": "1", "触发器 trigger ineligible_assets": "1",
                      "触发器 trigger idle_funds": "5", "触发器 trigger defaults": "1"}  # k of each
    pdf = servicer_pdf(report)
    assert pdf.startswith(b"%PDF") and b"WenQuanYi" in pdf
    text = " ".join(" ".join(r) for s in report.sections for r in s.rows) + report.title
    assert missing_glyphs(text) == set()
    book = openpyxl.load_workbook(io.BytesIO(servicer_xlsx(report)))
    values = [c for row in book.active.iter_rows(values_only=True) for c in row if c is not None]
    assert report.title in values and "期末余额 closing balance" in values


def test_report_for_a_period_without_runs_is_not_found(ctx: Context) -> None:
    import pytest

    from absflow.domain.issues import NotFound

    run = simulate(ctx, DEAL_TEXT, days=1, seed=12, loans=200)
    with pytest.raises(NotFound):
        servicer_report(ctx, run.plan_code, date(2020, 1, 2), date(2020, 1, 31))
