"""Headline: payment notices for 200 investors ≤ 10 s (issue 6, Performance).

A closed, allocated book of 200 investors on a fresh SQLite file; timed: the service call
that builds every notice from the stored allocation and writes one PDF (Chinese text, the
shipped font subset-embedded) and one XLSX per investor plus the register workbook, then
logs their hashes — 401 files.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import machine, timed  # noqa: E402

from absflow.bookbuilding import Offering  # noqa: E402
from absflow.bookbuilding.investor import credit_code_check_char  # noqa: E402
from absflow.domain.plan import Party, PartyRole  # noqa: E402
from absflow.services import bookbuilding as book  # noqa: E402
from absflow.services import plans as plan_service  # noqa: E402
from absflow.services.context import open_context  # noqa: E402

TARGET_S = 10.0
INVESTORS = 200
WAN = Decimal(10000)


def build(db: Path) -> tuple[object, str, list[datetime]]:
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    now = [start + timedelta(minutes=5)]
    ctx = open_context(f"sqlite:///{db}")
    ctx = type(ctx)(engine=ctx.engine, clock=lambda: now[0])
    plan = plan_service.create_plan(ctx, name="基准测试融出资金债权资产支持专项计划", asset_type="margin_loan",
                                    parties=[Party(PartyRole.PLAN_MANAGER, "基准资产管理有限公司")])
    names = [f"基准投资者{n:03d}号基金管理有限公司" for n in range(INVESTORS)]
    for n, name in enumerate(names):
        first = f"91310000MA1B{n:05d}"
        book.register_investor(ctx, name=name, investor_type="fund", qualified=True,
                               credit_code=first + credit_code_check_char(first))
    book.create_offering(
        ctx, plan.code, tranche_id="A", security_name="基准优A", security_code="139001", term_months=18,
        terms=Offering(size_yuan=sum(1000 + 100 * (n % 7) for n in range(INVESTORS)) * WAN,
                       rate_min=Decimal("0.02"), rate_max=Decimal("0.04"),
                       bid_open=start, bid_close=start + timedelta(hours=6)),
        payment_deadline=start + timedelta(days=2), payee_name="基准资产管理有限公司", payee_bank="示例银行",
        payee_account="31001234567890",
    )
    book.submit_bids(ctx, plan.code, "A", [
        book.BidInput(name, Decimal(250 + n % 50) / 10000, (1000 + 100 * (n % 7)) * WAN)
        for n, name in enumerate(names)
    ])
    now[0] = start + timedelta(hours=7)
    record = book.run_allocation(ctx, plan.code, "A")
    assert record.holder_count == INVESTORS, record.holder_count
    return ctx, plan.code, now


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ctx, plan_code, _ = build(Path(tmp) / "bench.db")
        out = Path(tmp) / "notices"
        issued = timed(f"payment notices for {INVESTORS} investors (PDF + XLSX each, via the service)",
                       lambda: book.issue_notices(ctx, plan_code, "A", out), target_s=TARGET_S)  # type: ignore[arg-type]
        pdfs = sorted(out.glob("*.pdf"))
        assert len(pdfs) == INVESTORS and len(issued.files) == 2 * INVESTORS + 1
        size = sum(p.stat().st_size for p in pdfs) / len(pdfs) / 1024
        print(f"{len(issued.files)} files; mean PDF {size:.0f} KiB")
        start = time.process_time()
        book.issue_notices(ctx, plan_code, "A", Path(tmp) / "again")  # type: ignore[arg-type]
        print(f"same, process CPU time: {time.process_time() - start:.2f} s")
    print(machine())


if __name__ == "__main__":
    main()
