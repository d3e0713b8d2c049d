"""Hand-computed waterfall cases: every number is written here, in fen (1 yuan = 100 fen).

Periods are quarters on 30/360 so each accrual fraction is exactly 0.25.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from absflow.cashflow.periods import Period
from absflow.cashflow.waterfall import PoolPeriod, WaterfallEngine
from absflow.deal import parse_deal
from absflow.deal.model import DealStatus

QUARTERS = [date(2026, 1, 15), date(2026, 4, 15), date(2026, 7, 15), date(2026, 10, 15)]


def periods(ids: tuple[str, ...] = ("A", "B")) -> list[Period]:
    out = []
    for i in range(3):
        out.append(Period(index=i + 1, start=QUARTERS[i], end=QUARTERS[i + 1], unadjusted_end=QUARTERS[i + 1],
                          window_start=None, revolving_until=None, is_final=i == 2,
                          interest_payable=frozenset(ids), in_revolving_period=False))
    return out


def deal_doc(waterfalls: dict[str, Any], **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "hand case",
        "dates": {"cutoff": "2026-01-14", "establishment": "2026-01-15", "first_payment": "2026-04-15",
                  "payment_frequency": "quarterly", "expected_maturity": "2026-10-15",
                  "legal_maturity": "2027-10-15", "day_count": "30/360", "calendar": "weekdays"},
        "pool": {"source": "rep_lines", "initial_balance": "1000000.00",
                 "rep_lines": [{"id": "r", "balance": "1000000.00", "rate": "0.08", "term_months": 12}]},
        "tranches": [
            {"id": "A", "class": "senior", "size": "800000.00", "coupon": {"kind": "fixed", "rate": "0.04"},
             "principal": extra.pop("a_principal", "pass_through")},
            {"id": "B", "class": "subordinate", "size": "200000.00", "coupon": {"kind": "fixed", "rate": "0.06"},
             "principal": extra.pop("b_principal", "pass_through")},
        ],
        "accounts": [{"id": "collection", "kind": "collection"}],
        "waterfalls": waterfalls,
    }
    doc.update(extra)
    return doc


def pool(interest_fen: int, principal_fen: int, **kw: Any) -> PoolPeriod:
    return PoolPeriod(begin_balance_fen=kw.pop("begin", 100_000_000), interest_fen=interest_fen,
                      principal_fen=principal_fen, end_balance_fen=kw.pop("end", 90_000_000), **kw)


@pytest.mark.parametrize(("mode", "a_principal", "b_principal"), [
    ("sequential", 10_400_001, 0),
    ("pro_rata", 8_320_001, 2_080_000),
])
def test_sequential_versus_pro_rata(mode: str, a_principal: int, b_principal: int) -> None:
    kind = "pro_rata" if mode == "pro_rata" else "pass_through"
    deal = parse_deal(deal_doc({"amortizing": [
        {"action": "pay_interest", "tranches": ["A", "B"]},
        {"action": "pay_principal", "tranches": ["A", "B"], "mode": mode},
    ]}, a_principal=kind, b_principal=kind))
    engine = WaterfallEngine(deal, periods())
    # interest A = 800,000.00 × 4% × 0.25 = 8,000.00; B = 200,000.00 × 6% × 0.25 = 3,000.00
    # cash = 15,000.01 interest + 100,000.00 principal = 115,000.01 → 104,000.01 left for principal
    r = engine.step(pool(1_500_001, 10_000_000))
    assert r.tranches["A"].interest_paid_fen == 800_000
    assert r.tranches["B"].interest_paid_fen == 300_000
    # pro rata 80:20 of 10,400,001 fen: 8,320,000.8 → 8,320,001 (largest remainder), 2,080,000.2 → 2,080,000
    assert r.tranches["A"].principal_paid_fen == a_principal
    assert r.tranches["B"].principal_paid_fen == b_principal
    assert r.tranches["A"].end_balance_fen == 80_000_000 - a_principal
    assert r.accounts_end_fen["collection"] == 0
    assert r.cash_in_fen == 11_500_001 and r.cash_out_fen == 11_500_001


def test_trigger_flips_to_accelerated_mid_life_and_stays() -> None:
    deal = parse_deal(deal_doc(
        {"amortizing": [{"action": "pay_interest", "tranches": ["A", "B"]},
                        {"action": "pay_principal", "tranches": ["A", "B"], "mode": "pro_rata"}],
         "accelerated": [{"action": "pay_interest", "tranches": ["A"]},
                         {"action": "pay_principal", "tranches": ["A", "B"], "mode": "sequential"},
                         {"action": "pay_interest", "tranches": ["B"]}]},
        a_principal="pro_rata", b_principal="pro_rata",
        triggers=[{"id": "dq", "metric": "delinquency_rate", "comparison": "gt", "threshold": "0.02",
                   "effects": [{"kind": "change_status", "status": "accelerated"}]}],
    ))
    engine = WaterfallEngine(deal, periods())
    # period 1: 10,000.00 delinquent of a 1,000,000.00 pool = 1% → not breached, pro rata
    r1 = engine.step(pool(1_100_000, 5_000_000, delinquent_fen=1_000_000, end=100_000_000))
    assert r1.status is DealStatus.AMORTIZING and not r1.triggers[0].breached
    assert (r1.tranches["A"].principal_paid_fen, r1.tranches["B"].principal_paid_fen) == (4_000_000, 1_000_000)
    # period 2: 30,000.00 delinquent → 3% > 2% → accelerated: A interest, then all principal to A
    # A balance 760,000.00 → interest 7,600.00; B balance 190,000.00 → interest 2,850.00
    r2 = engine.step(pool(1_100_000, 5_000_000, delinquent_fen=3_000_000, end=100_000_000))
    assert r2.status is DealStatus.ACCELERATED and r2.triggers[0].breached
    assert r2.triggers[0].value == "0.03"
    assert r2.tranches["A"].interest_paid_fen == 760_000
    assert r2.tranches["A"].principal_paid_fen == 5_340_000  # 11,000.00 + 50,000.00 − 7,600.00 = 53,400.00
    assert r2.tranches["B"].principal_paid_fen == 0
    assert r2.tranches["B"].interest_paid_fen == 0  # nothing left: B's 2,850.00 is carried
    assert r2.tranches["B"].interest_unpaid_fen == 285_000
    # period 3: delinquency back to 0%, but the trigger is not curable → still accelerated
    r3 = engine.step(pool(100, 0, delinquent_fen=0, end=100_000_000))
    assert r3.status is DealStatus.ACCELERATED and not r3.triggers[0].breached and r3.triggers[0].active


def test_liquidity_draw_and_its_repayment() -> None:
    deal = parse_deal(deal_doc(
        {"amortizing": [{"action": "pay_interest", "tranches": ["A"], "support": [{"liquidity": "ls"}]},
                        {"action": "repay_liquidity", "facility": "ls"},
                        {"action": "pay_principal", "tranches": ["A"]},
                        {"action": "pay_principal", "tranches": ["B"]},
                        {"action": "pay_residual", "tranches": ["B"]}]},
        a_principal="bullet", b_principal="sequential",
        tranches=None,
        credit_enhancement={"liquidity_support": [{"id": "ls", "provider": "originator", "tranches": ["A"]}]},
    ) | {"tranches": [
        {"id": "A", "class": "senior", "size": "800000.00", "coupon": {"kind": "fixed", "rate": "0.04"},
         "principal": "bullet"},
        {"id": "B", "class": "subordinate", "size": "200000.00", "principal": "sequential"},
    ]})
    engine = WaterfallEngine(deal, periods(("A",)))
    # period 1: 5,000.00 collected, A's interest is 8,000.00 → 3,000.00 drawn, nothing to repay
    r1 = engine.step(pool(500_000, 0))
    assert r1.liquidity_drawn_fen == {"ls": 300_000}
    assert r1.tranches["A"].interest_paid_fen == 800_000
    assert r1.liquidity_outstanding_fen == {"ls": 300_000}
    assert r1.cash_in_fen == 800_000 and r1.cash_out_fen == 800_000
    # period 2: 20,000.00 collected → 8,000.00 interest, 3,000.00 repaid, 9,000.00 stays (A is a bullet, B waits)
    r2 = engine.step(pool(2_000_000, 0))
    assert r2.liquidity_drawn_fen == {}
    assert r2.liquidity_repaid_fen == {"ls": 300_000}
    assert r2.liquidity_outstanding_fen == {"ls": 0}
    assert r2.tranches["A"].principal_paid_fen == 0 and r2.tranches["B"].principal_paid_fen == 0
    assert r2.accounts_end_fen == {"collection": 900_000}
    # period 3 (final): 1,000,000.00 principal + 9,000.00 kept + 8,000.00 interest
    r3 = engine.step(pool(800_000, 100_000_000))
    assert r3.tranches["A"].principal_paid_fen == 80_000_000
    assert r3.tranches["B"].principal_paid_fen == 20_000_000
    assert r3.tranches["B"].residual_paid_fen == 900_000
    assert r3.accounts_end_fen == {"collection": 0}


def test_shortfall_payment_capped_leaves_a_loss() -> None:
    doc = deal_doc(
        {"amortizing": [{"action": "pay_interest", "tranches": ["A"], "support": [{"guarantor": "sp"}]},
                        {"action": "pay_principal", "tranches": ["A"], "support": [{"guarantor": "sp"}]},
                        {"action": "pay_principal", "tranches": ["B"]}]},
        credit_enhancement={"shortfall_payment": [{"id": "sp", "provider": "originator", "tranches": ["A"],
                                                   "cap": "100000.00"}]},
    )
    doc["tranches"][0]["principal"] = "bullet"
    doc["tranches"][1]["principal"] = "sequential"
    deal = parse_deal(doc)
    engine = WaterfallEngine(deal, periods(("A",)))
    engine.step(pool(800_000, 0))  # A interest 8,000.00 paid from collections
    engine.step(pool(800_000, 0))
    # final: 700,000.00 collected; A needs 8,000.00 interest + 800,000.00 principal
    r3 = engine.step(pool(0, 70_000_000))
    assert r3.tranches["A"].interest_paid_fen == 800_000
    # principal: 692,000.00 available, 108,000.00 short, the guarantor pays its cap of 100,000.00
    assert r3.shortfall_paid_fen == {"sp": 10_000_000}
    assert r3.tranches["A"].principal_paid_fen == 79_200_000
    assert r3.tranches["A"].end_balance_fen == 800_000  # 8,000.00 loss
    assert r3.tranches["B"].principal_paid_fen == 0
    assert r3.cash_in_fen == 80_000_000 == r3.cash_out_fen


def test_revolving_purchases_and_capped_subordinate_return() -> None:
    doc = deal_doc(
        {"revolving": [{"action": "pay_interest", "tranches": ["A"]},
                       {"action": "pay_residual", "tranches": ["B"], "limit": {"kind": "annual_return",
                                                                              "rate": "0.10"}},
                       {"action": "buy_assets"}],
         "amortizing": [{"action": "pay_interest", "tranches": ["A"]},
                        {"action": "pay_principal", "tranches": ["A"]},
                        {"action": "pay_principal", "tranches": ["B"]},
                        {"action": "pay_residual", "tranches": ["B"]}]},
        periods={"initial_status": "revolving", "revolving": {"end": "2026-07-15"}},
    )
    doc["tranches"][1]["coupon"] = {"kind": "none"}
    doc["tranches"][1]["principal"] = "sequential"
    deal = parse_deal(doc)
    ps = periods(("A",))
    ps = [Period(p.index, p.start, p.end, p.unadjusted_end, p.end if i < 2 else None,
                 p.end if i < 2 else None, p.is_final, p.interest_payable, i < 2) for i, p in enumerate(ps)]
    engine = WaterfallEngine(deal, ps)
    assert engine.revolving_allowed(ps[0])
    # period 1: 150,000.00 collected; 120,000.00 bought during the quarter; at the payment date
    # A interest 8,000.00, B at most 200,000.00 × 10% × 0.25 = 5,000.00, the rest 17,000.00 buys assets
    r1 = engine.step(pool(1_500_000, 13_500_000, purchases_fen=12_000_000))
    assert r1.status is DealStatus.REVOLVING
    assert r1.tranches["A"].interest_paid_fen == 800_000
    assert r1.tranches["B"].residual_paid_fen == 500_000
    assert r1.purchases_fen == 12_000_000 + 1_700_000
    assert r1.accounts_end_fen == {"collection": 0}
    # period 2 ends on the revolving end date: still revolving
    r2 = engine.step(pool(1_000_000, 0, purchases_fen=0))
    assert r2.status is DealStatus.REVOLVING and r2.purchases_fen == 0  # 10,000 − 8,000 − 2,000 = 0 left
    assert r2.tranches["B"].residual_paid_fen == 200_000
    # period 3: past the revolving end → amortizing, no purchases allowed
    assert not engine.revolving_allowed(ps[2])
    r3 = engine.step(pool(800_000, 100_000_000))
    assert r3.status is DealStatus.AMORTIZING and r3.purchases_fen == 0
    assert r3.tranches["A"].principal_paid_fen == 80_000_000
    assert r3.tranches["B"].principal_paid_fen == 20_000_000


def test_reserve_top_up_release_and_a_curable_waterfall_switch() -> None:
    doc = deal_doc(
        {"amortizing": [{"action": "pay_interest", "tranches": ["A", "B"]},
                        {"action": "top_up_reserve", "account": "reserve"},
                        {"action": "pay_principal", "tranches": ["A"]},
                        {"action": "pay_principal", "tranches": ["B"]}],
         "turbo": [{"action": "pay_interest", "tranches": ["A"]},
                   {"action": "pay_principal", "tranches": ["A", "B"], "mode": "sequential"}]},
        b_principal="sequential",
        triggers=[{"id": "low_factor", "metric": "pool_factor", "comparison": "lt", "threshold": "0.5",
                   "curable": True, "effects": [{"kind": "switch_waterfall", "waterfall": "turbo"}]}],
    )
    doc["accounts"].append({"id": "reserve", "kind": "reserve",
                            "target": {"kind": "percent_of_tranches", "rate": "0.01", "tranches": ["A"]}})
    deal = parse_deal(doc)
    engine = WaterfallEngine(deal, periods())
    # period 1: 422,000.00 in; interest 8,000.00 (A) + 3,000.00 (B); reserve filled to 1% of A's
    # 800,000.00 = 8,000.00; A (pass-through) takes the remaining 403,000.00
    r1 = engine.step(pool(1_100_000, 41_100_000, end=60_000_000))
    assert r1.waterfall == "amortizing" and not r1.triggers[0].breached  # pool factor 0.60
    assert (r1.tranches["A"].interest_paid_fen, r1.tranches["B"].interest_paid_fen) == (800_000, 300_000)
    assert r1.accounts_end_fen == {"collection": 0, "reserve": 800_000}
    assert r1.tranches["A"].principal_paid_fen == 40_300_000
    # period 2: pool factor 0.40 < 0.5 → the turbo waterfall while it lasts: A's interest on 397,000.00
    # is 3,970.00, the other 16,030.00 repays A; B's 3,000.00 is carried; the reserve is left alone
    r2 = engine.step(pool(2_000_000, 0, end=40_000_000))
    assert r2.waterfall == "turbo" and r2.triggers[0].breached
    assert r2.tranches["A"].interest_paid_fen == 397_000
    assert r2.tranches["A"].principal_paid_fen == 1_603_000
    assert r2.tranches["B"].interest_paid_fen == 0 and r2.tranches["B"].interest_unpaid_fen == 300_000
    assert r2.accounts_end_fen == {"collection": 0, "reserve": 800_000}
    # period 3 (final): factor 0.60 → cured, the status waterfall again. A: 380,970.00 → interest
    # 3,809.70; B: 3,000.00 carried + 3,000.00; the reserve target falls to 3,809.70, releasing 4,190.30;
    # A takes 40,000.00 − 3,809.70 − 6,000.00 + 4,190.30 = 34,380.60 of its 380,970.00 due
    r3 = engine.step(pool(4_000_000, 0, end=60_000_000))
    assert r3.waterfall == "amortizing" and not r3.triggers[0].active
    assert r3.tranches["A"].interest_paid_fen == 380_970
    assert r3.tranches["B"].interest_paid_fen == 600_000
    assert [(x.kind, x.amount_fen) for x in r3.lines if x.kind == "release_reserve"] == [("release_reserve",
                                                                                         419_030)]
    assert r3.tranches["A"].principal_paid_fen == 3_438_060
    assert r3.tranches["A"].end_balance_fen == 38_097_000 - 3_438_060
    assert r3.accounts_end_fen == {"collection": 0, "reserve": 380_970}
