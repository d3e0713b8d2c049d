"""The demo's bookbuilding step: twelve investors bid for the senior tranche, the book
closes, the allocation is made final (coupon, holder register, log entry)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from absflow.bookbuilding.files import multiple_text, wan_text
from absflow.bookbuilding.investor import credit_code_check_char
from absflow.bookbuilding.model import Offering, percent_text
from absflow.services import bookbuilding as book
from absflow.services.context import Context

Table = tuple[str, Sequence[str], Sequence[Sequence[Any]]]
WAN = Decimal(10000)

#: (name, type, levels as (rate %, amount 万元)) — incremental bids for a 190,000万 senior tranche.
DEMO_BIDS: tuple[tuple[str, str, tuple[tuple[str, int], ...]], ...] = (
    ("示例银行股份有限公司", "bank", (("4.80", 30_000), ("4.95", 20_000))),
    ("示例理财有限责任公司", "bank_wealth", (("4.85", 25_000), ("5.00", 15_000))),
    ("示例基金管理有限公司", "fund", (("4.90", 20_000), ("5.05", 10_000))),
    ("示例证券股份有限公司", "securities", (("4.95", 15_000),)),
    ("示例人寿保险股份有限公司", "insurance", (("4.90", 20_000), ("5.00", 20_000))),
    ("示例信托有限责任公司", "trust", (("5.00", 12_000), ("5.20", 8_000))),
    ("示例资本管理有限公司", "private_fund", (("5.10", 10_000),)),
    ("示例农村商业银行股份有限公司", "bank", (("4.85", 15_000), ("5.00", 10_000))),
    ("示例保险资产管理有限公司", "insurance", (("5.00", 18_000),)),
    ("示例期货有限公司", "other", (("5.15", 6_000),)),
    ("示例城市商业银行股份有限公司", "bank", (("4.95", 12_000), ("5.05", 8_000))),
    ("示例财富管理有限公司", "fund", (("5.25", 5_000),)),
)


def demo_credit_code(n: int) -> str:
    first = f"91310000MA1D{n:05d}"
    return first + credit_code_check_char(first)


def book_tables(ctx: Context, plan_code: str, progress: Callable[[str], None] = lambda _m: None) -> list[Table]:
    """Run the senior tranche's book of the demo plan end to end and return what to show."""
    progress("bookbuilding: investors, offering of the senior tranche, bids")
    for n, (name, kind, _levels) in enumerate(DEMO_BIDS):
        book.register_investor(ctx, name=name, investor_type=kind, qualified=True, credit_code=demo_credit_code(n),
                               contacts=[book.Contact("投资经理", "021-00000000")])
    now = ctx.now()
    close = now + timedelta(seconds=2)
    book.create_offering(
        ctx, plan_code, tranche_id="A", security_name="申万融出1优A", security_code="139001", term_months=18,
        terms=Offering(size_yuan=190_000 * WAN, rate_min=Decimal("0.0450"), rate_max=Decimal("0.0550"),
                       bid_open=now - timedelta(seconds=2), bid_close=close, max_levels=3),
        payment_deadline=close + timedelta(days=2), payee_name="浦银安盛资产管理有限公司（专项计划募集专户）",
        payee_bank="示例托管银行上海分行", payee_account="31001234567890",
    )
    book.submit_bids(ctx, plan_code, "A", [
        book.BidInput(name, Decimal(rate) / 100, amount * WAN) for name, _kind, levels in DEMO_BIDS
        for rate, amount in levels
    ])
    forecast = book.forecast(ctx, plan_code, "A")
    summary = book.preview_allocation(ctx, plan_code, "A").summary
    wait = (close - ctx.now()).total_seconds()
    if wait > 0:
        progress(f"bookbuilding: waiting {wait:.1f} s for the book to close")
        time.sleep(wait + 0.05)
    progress("bookbuilding: final allocation (coupon, holder register, log entry)")
    record = book.run_allocation(ctx, plan_code, "A")
    return [
        (f"Book 标位汇总 {plan_code} A (万元)", ["rate %", "amount", "cumulative", "bids"],
         [(percent_text(lv.rate), wan_text(lv.amount_yuan), wan_text(lv.cumulative_yuan), lv.bid_count)
          for lv in summary.levels]),
        ("Issuance result 发行结果", ["figure", "value"], [
            ("marginal rate = coupon 边际利率/票面利率", f"{percent_text(record.marginal_rate)}%"
             if record.marginal_rate is not None else "-"),
            (f"forecast at {float(forecast.progress):.0%} of the window 边际价格预测",
             f"{percent_text(forecast.rate)}% [{percent_text(forecast.low)}%, {percent_text(forecast.high)}%]"),
            ("total multiple 全场倍数", record.total_multiple),
            ("marginal multiple 边际倍数", record.marginal_multiple or "-"),
            ("allocated 万元", wan_text(record.allocated_total_yuan)),
            ("holders 持有人", record.holder_count),
            ("valid bids 有效申购", f"{record.valid_bid_count} ({multiple_text(summary.total_multiple)}×)"),
        ]),
        ("Allocation 中标分配 (万元)", ["investor", "bid", "allocated"],
         [(name, wan_text(bid), wan_text(got)) for name, bid, got in record.allocations]),
    ]
