"""The deal runner on the 14 seed-001 deals: books balance, triggers act, scenarios parse."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from absflow.calendar import default_calendar
from absflow.cashflow.runner import RatingStep, Scenario, parse_scenario, run_deal
from absflow.deal import parse_deal_text
from absflow.deal.model import DealStatus
from absflow.domain.issues import ValidationFailed

DEALS = sorted((Path(__file__).resolve().parents[2] / "examples" / "deals").glob("*.yaml"))


def _deal(name: str):  # type: ignore[no-untyped-def]
    path = next(p for p in DEALS if p.name.startswith(name))
    return parse_deal_text(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", DEALS, ids=lambda p: p.stem)
def test_every_seed_deal_runs_and_pays_its_seniors_in_the_base_case(path: Path) -> None:
    deal = parse_deal_text(path.read_text(encoding="utf-8"))
    run = run_deal(deal, default_calendar(), Scenario(cdr=0.005, severity=0.3, originator_rating=(
        RatingStep(date(2000, 1, 1), "AAA"),)))
    for r in run.periods:
        assert r.cash_in_fen == r.cash_out_fen + sum(r.accounts_end_fen.values()) - sum(r.accounts_begin_fen.values())
    for t in deal.tranches:
        paid = sum(f[2] for f in run.tranche_cashflows(t.id))
        assert paid + run.tranche_loss_fen(t.id) - run.periods[-1].tranches[t.id].interest_unpaid_fen \
            == int(t.size * 100)
        if t.tranche_class.value == "senior":
            assert run.tranche_loss_fen(t.id) == 0


def test_originator_downgrade_stops_revolving() -> None:
    deal = _deal("06_")
    base = run_deal(deal, default_calendar(), Scenario())
    assert [r.status for r in base.periods][:3] == [DealStatus.REVOLVING] * 3
    downgraded = Scenario(originator_rating=(RatingStep(date(2000, 1, 1), "AAA"), RatingStep(date(2018, 1, 1), "A")))
    run = run_deal(deal, default_calendar(), downgraded)
    statuses = [r.status for r in run.periods]
    assert statuses[0] is DealStatus.REVOLVING  # payment 2017-10-20: still AAA
    assert statuses[1] is DealStatus.AMORTIZING  # 2018-04-20: rated A, worse than AA → stop, amortize
    assert not run.periods[2].revolving_allowed and run.periods[2].purchases_fen == 0
    assert [t.active for t in run.periods[3].triggers if t.trigger_id == "originator_downgrade"] == [True]


def test_a_deal_without_end_of_term_repurchase_runs_into_extension_periods() -> None:
    deal = _deal("04_")
    run = run_deal(deal, default_calendar(), Scenario())
    assert any(r.period.is_extension for r in run.periods)
    assert run.tranche_loss_fen("A") == 0
    with_repurchase = run_deal(_deal("03_"), default_calendar(), Scenario())
    assert not any(r.period.is_extension for r in with_repurchase.periods)
    assert with_repurchase.periods[-1].pool.repurchase_fen > 0


def test_higher_defaults_cost_the_subordinate_first() -> None:
    deal = _deal("03_")
    base = run_deal(deal, default_calendar(), Scenario(cdr=0.0))
    stressed = run_deal(deal, default_calendar(), Scenario(cdr=0.05, severity=0.6))

    def sub_total(run):  # type: ignore[no-untyped-def]
        return sum(f[2] + f[3] for f in run.tranche_cashflows("B"))

    assert sub_total(stressed) < sub_total(base)
    assert stressed.tranche_loss_fen("A") == 0


def test_scenario_file_problems_have_paths() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_scenario({"cdr": 2, "severity": "lots", "colour": "red"})
    paths = {i.location.field_path for i in info.value.issues}
    assert paths == {"cdr", "severity", "colour"}
    scenario = parse_scenario({"originator_rating": [{"on_or_after": "2018-01-01", "rating": "AA-"}]})
    assert scenario.rating_on(date(2017, 12, 31)) is None
    assert scenario.rating_on(date(2018, 1, 1)) == "AA-"


def test_amortizing_rep_lines_run_on_the_loan_level_projection() -> None:
    pytest.importorskip("absflow.cashflow.projection", reason="needs the loan-level projection")
    from absflow.deal import parse_deal

    deal = parse_deal({
        "name": "static level-pay pool",
        "dates": {"cutoff": "2025-12-31", "establishment": "2026-01-15", "first_payment": "2026-02-15",
                  "payment_frequency": "monthly", "expected_maturity": "2028-12-15",
                  "legal_maturity": "2030-12-15"},
        "pool": {"source": "rep_lines", "rep_lines": [
            {"id": "r", "balance": "100000.00", "rate": "0.095", "term_months": 36,
             "amortization": "level_payment"}]},
        "tranches": [
            {"id": "A", "class": "senior", "size": "90000.00", "coupon": {"kind": "fixed", "rate": "0.04"},
             "principal": "pass_through"},
            {"id": "B", "class": "subordinate", "size": "10000.00", "principal": "sequential"}],
        "accounts": [{"id": "collection", "kind": "collection"}],
        "waterfalls": {"amortizing": [
            {"action": "pay_interest", "tranches": ["A"]}, {"action": "pay_principal", "tranches": ["A"]},
            {"action": "pay_principal", "tranches": ["B"]}, {"action": "pay_residual", "tranches": ["B"]}]},
    })
    run = run_deal(deal, default_calendar(), Scenario())
    first = run.periods[0]
    # 100,000.00 at 9.5% over 36 months pays 3,203.29 a month: 791.67 interest + 2,411.63 principal (January)
    assert first.pool.interest_fen == 79_167 and first.pool.principal_fen == 241_163
    assert first.period.end == date(2026, 2, 24)  # SSE closed 15–23 February 2026 (Spring Festival)
    # A: 90,000.00 × 4% × 40/365 = 394.52 interest; the rest of the 3,203.30 collected goes to A's principal
    assert first.tranches["A"].interest_paid_fen == 39_452
    assert first.tranches["A"].principal_paid_fen == 79_167 + 241_163 - 39_452
    assert sum(r.pool.principal_fen for r in run.periods) == 10_000_000
    assert run.tranche_loss_fen("A") == 0 and run.tranche_loss_fen("B") == 0
