"""A small amortizing (static-pool) consumer-loan deal for tests: two tranches, monthly, 2027–2028."""

from __future__ import annotations

from datetime import date

CUTOFF = date(2026, 12, 31)


def static_deal_text(pool: str, senior: str = "80000.00", subordinate: str = "20000.00") -> str:
    """The deal document (YAML) with ``pool`` (a YAML block, indented two spaces) as its pool section."""
    return f"""
schema_version: 1
name: test static consumer-loan deal
asset_type: consumer_loan
dates:
  cutoff: {CUTOFF.isoformat()}
  establishment: 2027-01-15
  first_payment: 2027-02-26
  payment_frequency: monthly
  payment_day: 26
  expected_maturity: 2028-12-26
  legal_maturity: 2028-12-27
  calendar: SSE
  business_day_convention: following
  day_count: ACT/365F
pool:
{pool}
tranches:
  - {{id: A, class: senior, size: "{senior}", coupon: {{kind: fixed, rate: "0.04"}}, principal: pass_through}}
  - {{id: B, class: subordinate, size: "{subordinate}", coupon: {{kind: none}}, principal: sequential}}
accounts:
  - {{id: collection, kind: collection}}
periods:
  initial_status: amortizing
waterfalls:
  amortizing:
    - {{action: pay_interest, tranches: [A]}}
    - {{action: pay_principal, tranches: [A]}}
    - {{action: pay_principal, tranches: [B]}}
    - {{action: pay_residual, tranches: [B]}}
"""


REP_LINE_POOL = """  source: rep_lines
  initial_balance: "100000.00"
  rep_lines:
    - {id: r1, balance: "100000.00", rate: "0.12", term_months: 24, amortization: level_payment}"""
