"""A small revolving plan whose numbers can be computed by hand, and a pure day-by-day driver.

Pool: ten loans of 100,000.00 yuan (1,000,000.00 = the tranches' capital, so the plan starts
with no cash). Senior A 900,000.00 at 3.65% ACT/365F, paid monthly; subordinate B 100,000.00.
One fee: 3,650.00 yuan a year (10.00 a day). Payment dates: the 1st of each month, rolled
forward on the SSE calendar (2024-04-01, 2024-05-06, …); interim window: 3 working days.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from absflow.calendar import default_calendar
from absflow.deal import parse_deal_text
from absflow.deal.model import Deal
from absflow.revolving.daily import POOL_COLUMNS, DayContext, DayResult, OpenRepurchase, PlanState, opening_state
from absflow.revolving.daily import run_day as step_day

CAL = default_calendar()
ESTABLISHMENT = date(2024, 3, 1)

DEAL_TEMPLATE = """
schema_version: 1
name: 小型循环测试计划
asset_type: margin_loan
dates:
  cutoff: 2024-02-29
  establishment: 2024-03-01
  first_payment: 2024-04-01
  payment_frequency: monthly
  payment_day: 1
  expected_maturity: 2024-07-01
  legal_maturity: 2025-07-01
  calendar: SSE
  business_day_convention: following
  day_count: ACT/365F
pool:
  source: rep_lines
  initial_balance: "1000000.00"
  rep_lines:
    - {id: loans, balance: "1000000.00", rate: "0.072", term_months: 6, amortization: revolving,
       payment_rate_monthly: "0.30"}
tranches:
  - {id: A, class: senior, size: "900000.00", coupon: {kind: fixed, rate: "0.0365"},
     interest: {frequency: monthly}, principal: pass_through}
  - {id: B, class: subordinate, size: "100000.00", coupon: {kind: none}, principal: sequential}
accounts:
  - {id: collection, kind: collection}
fees:
  - {id: trustee, kind: fixed, amount: "3650.00"}
periods:
  initial_status: revolving
  revolving: {end: "2024-05-31", interim_amortization_working_days: 3}
waterfalls:
  revolving:
    - {action: pay_fee, fees: [trustee]}
    - {action: pay_interest, tranches: [A], support: [{liquidity: ls}, {guarantor: sp}]}
    - {action: repay_liquidity, facility: ls}
    - {action: buy_assets}
  amortizing:
    - {action: pay_fee, fees: [trustee]}
    - {action: pay_interest, tranches: [A], support: [{liquidity: ls}, {guarantor: sp}]}
    - {action: repay_liquidity, facility: ls}
    - {action: pay_principal, tranches: [A]}
    - {action: pay_principal, tranches: [B]}
    - {action: pay_residual, tranches: [B]}
  accelerated:
    - {action: pay_fee, fees: [trustee]}
    - {action: pay_interest, tranches: [A], support: [{liquidity: ls}, {guarantor: sp}]}
    - {action: pay_principal, tranches: [A]}
    - {action: repay_liquidity, facility: ls}
    - {action: pay_principal, tranches: [B]}
    - {action: pay_residual, tranches: [B]}
triggers: TRIGGERS
credit_enhancement:
  liquidity_support:
    - {id: ls, provider: 原始权益人, tranches: [A], cover_interest: true, cap: "1500.00"}
  shortfall_payment:
    - {id: sp, provider: 差额支付承诺人, tranches: [A], cover_interest: true, cover_principal: true, cap: "1000.00"}
revolving:
  purchase_mode: principal_and_interest_buy_principal
"""


def small_deal(triggers: str = "[]") -> Deal:
    return parse_deal_text(DEAL_TEMPLATE.replace("TRIGGERS", triggers))


def initial_pool() -> pl.DataFrame:
    rows = [{
        "asset_id": f"L{i:02d}", "obligor_id": f"C{i:02d}", "balance_fen": 10_000_000, "accrued_interest_fen": 0,
        "rate": 0.072, "start_date": date(2024, 2, 1), "maturity_date": date(2024, 12, 31), "extension_count": 0,
        "maintenance_ratio": 3.0, "status": "performing", "region": "上海", "industry": "金融", "branch": "B1",
        "cutoff_date": ESTABLISHMENT, "acquired_on": ESTABLISHMENT,
    } for i in range(1, 11)]
    return pl.DataFrame(rows, schema=POOL_COLUMNS)


def collections(rows: Mapping[str, tuple[int, int]]) -> pl.DataFrame:
    """Collections file: contract → (principal fen, interest fen)."""
    return pl.DataFrame({
        "contract_id": list(rows), "principal_fen": [p for p, _ in rows.values()],
        "interest_fen": [i for _, i in rows.values()], "fees_fen": [0] * len(rows),
    }, schema={"contract_id": pl.String, "principal_fen": pl.Int64, "interest_fen": pl.Int64, "fees_fen": pl.Int64})


def candidates(rows: Mapping[str, int], day: date) -> pl.DataFrame:
    """Backup pool: contract → principal fen (client = contract, eligible under this deal)."""
    n = len(rows)
    return pl.DataFrame({
        "contract_id": list(rows), "client_id": [f"K{c}" for c in rows],
        "principal_outstanding_fen": list(rows.values()),
        "financing_rate": [0.072] * n, "start_date": [day] * n, "due_date": [date(2024, 12, 31)] * n,
        "extension_count": [0] * n, "accrued_interest_fen": [0] * n, "maintenance_ratio": [3.0] * n,
        "status": ["performing"] * n, "region": ["上海"] * n, "industry": ["金融"] * n, "branch": ["B1"] * n,
    })


def indicators(values: Mapping[str, str]) -> pl.DataFrame:
    return pl.DataFrame({"name": list(values), "value": list(values.values())})


class Driver:
    """Runs days in order through the pure step, applying each result like the service does."""

    def __init__(self, deal: Deal) -> None:
        self.ctx = DayContext.build("SMALL", deal, CAL)
        self.pool = initial_pool()
        self.day = CAL.next_trading_day(ESTABLISHMENT)
        self.state: PlanState = opening_state(self.ctx, self.pool, self.day)
        self.open: dict[str, OpenRepurchase] = {}
        self.results: dict[date, DayResult] = {}

    def run(self, inputs: Mapping[str, pl.DataFrame] | None = None) -> DayResult:
        day = self.day
        result = step_day(self.ctx, day, self.pool, dict(inputs or {}), self.state, list(self.open.values()))
        if result.pool_updates.height:
            self.pool = self.pool.update(result.pool_updates, on="asset_id", how="left")
        self.pool = self.pool.filter(~pl.col("asset_id").is_in([a for a, _ in result.removals]))
        self.pool = pl.concat([self.pool, result.purchases.select(self.pool.columns)])
        for item in [*result.repurchase_updates, *result.new_repurchases]:
            self.open[item.asset_id] = item
        self.open = {k: v for k, v in self.open.items() if v.settled_on is None}
        self.state = result.state
        self.results[day] = result
        self.day = CAL.next_trading_day(day)
        return result

    def run_until(self, last: date, inputs_by_day: Mapping[date, Mapping[str, pl.DataFrame]] | None = None) -> None:
        """Run every day up to and including ``last`` (inputs by day, empty otherwise)."""
        while self.day <= last:
            self.run((inputs_by_day or {}).get(self.day))

    def balance(self, account: str) -> int:
        return self.state.balances.get(account, 0)


