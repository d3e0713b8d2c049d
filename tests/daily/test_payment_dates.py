"""Payment dates run the deal's waterfall through the cash-flow engine; numbers by hand.

The small plan (tests/daily/small_plan.py): senior A 900,000.00 at 3.65% ACT/365F paid
monthly, fee 3,650.00 a year. First period 2024-03-01 → 2024-04-01 (31 days):
A interest 900,000 × 0.0365 × 31/365 = 2,790.00; fee 3,650 × 31/365 = 310.00.
Second period 2024-04-01 → 2024-05-06 (35 days): A 3,150.00; fee 350.00.
Liquidity support ls covers A's interest up to 1,500.00 outstanding; the shortfall payment
sp covers A up to 1,000.00 in total. Revolving waterfall: fee, A interest (ls, then sp),
repay ls, buy assets (the cash stays in custody for the purchases of the next days).
"""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import text
from tests.daily.small_plan import DEAL_TEMPLATE, Driver, candidates, collections, indicators, small_deal

from absflow.deal import parse_deal_text
from absflow.revolving.ledger import trial_balance
from absflow.services.context import Context
from absflow.services.tlog import entry_bundle

P1, P2 = date(2024, 4, 1), date(2024, 5, 6)


def _interest(fen: int) -> dict[str, object]:
    return {"collections": collections({"L02": (0, fen)})}


def _to_payment(plan: Driver, payment: date, interest_fen: int) -> object:
    plan.run_until(payment - date.resolution)
    assert plan.day == payment
    return plan.run(_interest(interest_fen))  # type: ignore[arg-type]


def _dist(result: object, tranche: str) -> tuple[int, ...]:
    d = next(x for x in result.distributions if x.tranche_id == tranche)  # type: ignore[attr-defined]
    return (d.interest_due_fen, d.interest_paid_fen, d.principal_paid_fen, d.liquidity_drawn_fen,
            d.shortfall_paid_fen, d.residual_paid_fen)


def _balanced(plan: Driver, result: object) -> None:
    assert trial_balance(plan.state.balances) == 0
    for entry in result.entries:  # type: ignore[attr-defined]
        assert sum(amount for _, amount in entry.lines) == 0
    assert plan.balance("cash:collection") == 0 and plan.balance("cash:reserve") >= 0


def test_normal_payment_date() -> None:
    plan = Driver(small_deal())
    result = _to_payment(plan, P1, 400_000)  # 4,000.00 of interest collected on the day
    assert result.payment.waterfall == "revolving"  # type: ignore[attr-defined]
    assert _dist(result, "A") == (279_000, 279_000, 0, 0, 0, 0)
    assert plan.balance("expense:fee:trustee") == 31_000
    assert plan.balance("distribution:interest:A") == 279_000
    # 4,000 − 310 − 2,790 = 900.00 left: kept in custody for purchases (interest ledger: no principal came in)
    assert plan.balance("cash:custody_interest") == 90_000 and plan.balance("cash:custody_principal") == 0
    assert plan.state.interest_unpaid_fen == {"A": 0, "B": 0} and plan.state.fee_unpaid_fen == {"trustee": 0}
    assert plan.state.tranche_balance_fen == {"A": 90_000_000, "B": 10_000_000}
    assert [(x.step, x.kind, x.target, x.amount_fen) for x in result.payment.lines] == [  # type: ignore[attr-defined]
        (1, "pay_fee", "trustee", 31_000), (2, "pay_interest", "A", 279_000), (4, "buy_assets", "pool", 90_000)]
    _balanced(plan, result)


def test_liquidity_draw_and_its_repayment() -> None:
    plan = Driver(small_deal())
    first = _to_payment(plan, P1, 200_000)  # 2,000.00: fee 310.00, A gets 1,690.00 + 1,100.00 drawn
    assert _dist(first, "A") == (279_000, 279_000, 0, 110_000, 0, 0)
    assert plan.balance("liability:liquidity_support:ls") == -110_000
    assert any(("cash:originator_support", 110_000) in e.lines for e in first.entries)  # through the support account
    assert plan.balance("cash:custody_interest") == 0 and plan.balance("cash:originator_support") == 0
    _balanced(plan, first)
    second = _to_payment(plan, P2, 600_000)  # 6,000.00: fee 350, A 3,150, repay 1,100, 1,400 left
    assert _dist(second, "A") == (315_000, 315_000, 0, 0, 0, 0)
    assert second.payment.liquidity_repaid_fen == {"ls": 110_000}  # type: ignore[attr-defined]
    assert plan.balance("liability:liquidity_support:ls") == 0
    assert plan.balance("expense:fee:trustee") == 31_000 + 35_000
    assert plan.balance("cash:custody_interest") == 140_000
    _balanced(plan, second)


def test_shortfall_payment_up_to_its_cap() -> None:
    plan = Driver(small_deal())
    first = _to_payment(plan, P1, 50_000)  # 500.00: fee 310, 190 for A; ls 1,500 (cap); sp 1,000 (cap)
    assert _dist(first, "A") == (279_000, 269_000, 0, 150_000, 100_000, 0)
    assert plan.state.interest_unpaid_fen["A"] == 10_000  # 100.00 carried to the next date
    assert plan.balance("equity:shortfall_payment:sp") == -100_000
    assert plan.balance("liability:liquidity_support:ls") == -150_000
    _balanced(plan, first)
    second = _to_payment(plan, P2, 0)  # nothing collected, both supports exhausted
    assert _dist(second, "A") == (325_000, 0, 0, 0, 0, 0)  # 100.00 carried + 3,150.00
    assert plan.state.interest_unpaid_fen["A"] == 325_000 and plan.state.fee_unpaid_fen == {"trustee": 35_000}
    assert plan.balance("equity:shortfall_payment:sp") == -100_000
    _balanced(plan, second)


def test_no_purchase_inside_the_interim_window() -> None:
    plan = Driver(small_deal())
    plan.run_until(date(2024, 3, 25))
    before = plan.run({"collections": collections({"L01": (10_000_000, 0)}),  # 03-26: L01 repaid (100,000.00)
                       "candidates": candidates({"N1": 4_000_000}, date(2024, 3, 26))})
    # reserve 2,790 + 310 = 3,100.00 first; 96,900.00 available; N1 (40,000.00) bought
    assert (before.purchase_state, before.available_fen, before.delivery.price_fen) == ("purchased", 9_690_000,
                                                                                        4_000_000)
    window = plan.run({"candidates": candidates({"N2": 3_000_000}, date(2024, 3, 27))})  # 3 working days before
    assert (window.purchase_state, window.available_fen, window.purchases.height) == ("window", 5_690_000, 0)
    plan.run_until(date(2024, 3, 29))
    payment = plan.run({"candidates": candidates({"N3": 1_000_000}, P1)})
    assert (payment.purchase_state, payment.purchases.height) == ("window", 0)
    # 56,900 + 3,100 reserve: fee 310, A 2,790; 56,900.00 bought back into custody principal
    assert _dist(payment, "A") == (279_000, 279_000, 0, 0, 0, 0)
    assert plan.balance("cash:custody_principal") == 5_690_000 and plan.balance("cash:custody_interest") == 0
    after = plan.run({"candidates": candidates({"N4": 5_000_000}, date(2024, 4, 2))})
    assert (after.purchase_state, after.delivery.price_fen) == ("purchased", 5_000_000)


STOP_ON_RATING = """
  - {id: downgrade, metric: originator_rating, comparison: lt, threshold: AA,
     effects: [{kind: stop_revolving}, {kind: change_status, status: STATUS}]}
"""


def test_amortizing_waterfall_pays_principal() -> None:
    plan = Driver(small_deal(STOP_ON_RATING.replace("STATUS", "amortizing")))
    plan.run_until(date(2024, 3, 25))
    stopped = plan.run({"indicators": indicators({"originator_rating": "A"}),
                        "collections": collections({"L01": (10_000_000, 0)})})
    assert stopped.status == "amortizing"
    result = _to_payment(plan, P1, 400_000)
    # 100,000 + 4,000 = 104,000.00: fee 310, A interest 2,790, A principal (pass-through) 100,900.00
    assert result.payment.waterfall == "amortizing"  # type: ignore[attr-defined]
    assert _dist(result, "A") == (279_000, 279_000, 10_090_000, 0, 0, 0)
    assert plan.state.tranche_balance_fen == {"A": 79_910_000, "B": 10_000_000}
    assert plan.balance("cash:custody_principal") + plan.balance("cash:custody_interest") == 0
    _balanced(plan, result)


def test_accelerated_status_runs_the_accelerated_waterfall() -> None:
    plan = Driver(small_deal(STOP_ON_RATING.replace("STATUS", "accelerated")))
    plan.run({"indicators": indicators({"originator_rating": "BBB"})})
    assert plan.state.status == "accelerated"
    result = _to_payment(plan, P1, 400_000)
    assert result.payment.waterfall == "accelerated"  # type: ignore[attr-defined]
    assert _dist(result, "A") == (279_000, 279_000, 90_000, 0, 0, 0)  # 4,000 − 310 − 2,790 = 900.00 of principal
    _balanced(plan, result)


def test_service_stores_and_logs_the_waterfall_in_the_days_transaction(ctx: Context) -> None:
    """Through the real service (synthetic servicer files): the payment date's distributions are
    stored, logged with every movement of the waterfall, and agree with the day's postings."""
    from absflow.services.simulate import simulate

    code = simulate(ctx, DEAL_TEMPLATE.replace("TRIGGERS", "[]"), days=21, seed=2, loans=10).plan_code
    with ctx.engine.connect() as conn:
        plan_id = conn.execute(text("SELECT id FROM plans WHERE code = :c"), {"c": code}).scalar_one()
        rows = conn.execute(text(
            "SELECT tranche_id, interest_due_fen, interest_paid_fen, principal_paid_fen, liquidity_drawn_fen, "
            "shortfall_paid_fen, residual_paid_fen FROM daily_distributions WHERE plan_id = :p AND payment_date = :d"),
            {"p": plan_id, "d": P1}).all()
        postings = dict(conn.execute(text(
            "SELECT account, SUM(amount_fen) FROM daily_postings WHERE plan_id = :p AND business_date = :d "
            "GROUP BY account"), {"p": plan_id, "d": P1}).all())
        day_sum = conn.execute(text("SELECT SUM(amount_fen) FROM daily_postings WHERE plan_id = :p"),
                               {"p": plan_id}).scalar_one()
        log_index = conn.execute(text("SELECT log_index FROM daily_days WHERE plan_id = :p AND business_date = :d"),
                                 {"p": plan_id, "d": P1}).scalar_one()
    assert [tuple(r) for r in rows] == [("A", 279_000, 279_000, 0, int(-postings.get(
        "liability:liquidity_support:ls", 0)), 0, 0)]
    assert postings["distribution:interest:A"] == 279_000 and postings["expense:fee:trustee"] == 31_000
    assert int(day_sum) == 0
    body = json.loads(entry_bundle(ctx, code, log_index)["entries"][0]["body"])
    payload = body["payload"]
    assert payload["distributions"][0]["interest_paid"] == "2790.00"
    assert payload["waterfall"]["waterfall"] == "revolving"
    lines = payload["waterfall"]["lines"]
    assert lines[0] == {"step": 1, "action": "pay_fee", "target": "trustee", "amount": "310.00"}
    assert {"step": 2, "action": "pay_interest", "target": "A", "amount": "2790.00"} in lines


def test_final_amortization_start_stops_purchases_before_the_revolving_end() -> None:
    text = DEAL_TEMPLATE.replace("TRIGGERS", "[]").replace(
        '  revolving: {end: "2024-05-31", interim_amortization_working_days: 3}',
        '  revolving: {end: "2024-05-31", interim_amortization_working_days: 3}\n'
        '  final_amortization: {start: 2024-05-20}')
    plan = Driver(parse_deal_text(text))
    assert plan.ctx.revolving_end == date(2024, 5, 19)
    plan.run_until(date(2024, 5, 16))
    last = plan.run({"collections": collections({"L03": (10_000_000, 0)}),
                     "candidates": candidates({"N1": 1_000_000}, date(2024, 5, 17))})
    assert last.purchase_state == "purchased"
    final = plan.run({"candidates": candidates({"N2": 1_000_000}, date(2024, 5, 20))})
    assert (final.status, final.purchase_state, final.purchases.height) == ("amortizing", "final_amortization", 0)


def test_support_from_a_funded_reserve_account_comes_before_liquidity() -> None:
    text = DEAL_TEMPLATE.replace("TRIGGERS", "[]").replace(
        "  - {id: collection, kind: collection}",
        "  - {id: collection, kind: collection}\n"
        '  - {id: reserve, kind: reserve, initial_balance: "5000.00", target: {kind: fixed, amount: "5000.00"}}',
    ).replace("support: [{liquidity: ls}, {guarantor: sp}]}\n    - {action: repay_liquidity, facility: ls}\n"
              "    - {action: buy_assets}",
              "support: [{account: reserve}, {liquidity: ls}]}\n    - {action: repay_liquidity, facility: ls}\n"
              "    - {action: buy_assets}", 1)
    plan = Driver(parse_deal_text(text))
    assert plan.balance("cash:account:reserve") == 500_000  # funded at establishment
    assert plan.balance("equity:overcollateral") == -500_000  # pool = capital: the reserve came on top
    result = _to_payment(plan, P1, 200_000)  # 2,000: fee 310; A 1,690 + 1,100 from the reserve account
    assert _dist(result, "A") == (279_000, 279_000, 0, 0, 0, 0)
    assert plan.balance("cash:account:reserve") == 390_000
    assert plan.balance("liability:liquidity_support:ls") == 0
    _balanced(plan, result)


def test_switch_waterfall_trigger_holds_for_good_once_hit() -> None:
    text = DEAL_TEMPLATE.replace("TRIGGERS", """
  - {id: trap, metric: originator_rating, comparison: lt, threshold: AA,
     effects: [{kind: switch_waterfall, waterfall: turbo}]}
""").replace("  accelerated:\n", """  turbo:
    - {action: pay_fee, fees: [trustee]}
    - {action: pay_interest, tranches: [A], support: [{liquidity: ls}, {guarantor: sp}]}
    - {action: pay_principal, tranches: [A]}
  accelerated:
""", 1)
    plan = Driver(parse_deal_text(text))
    plan.run({"indicators": indicators({"originator_rating": "A"})})  # hit once, not curable
    plan.run({"indicators": indicators({"originator_rating": "AA"})})  # recovered: the switch stays
    assert plan.state.triggers_hit == ("trap",) and plan.state.status == "revolving"
    result = _to_payment(plan, P1, 400_000)
    assert result.payment.waterfall == "turbo"  # type: ignore[attr-defined]
    # 4,000 − 310 − 2,790 = 900.00 repays A instead of buying assets
    assert _dist(result, "A") == (279_000, 279_000, 90_000, 0, 0, 0)
    _balanced(plan, result)
