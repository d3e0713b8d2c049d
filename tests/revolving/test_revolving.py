"""Eligibility citing rules, mark-to-market classes, and the concentration-checked selection."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.revolving.helpers import table

from absflow.deal.model import Concentration, ConcentrationRule, Eligibility, EligibilityRule
from absflow.revolving import (
    AssetClass,
    Positions,
    check_eligibility,
    check_limits,
    classify,
    client_ratios,
    delivery_list,
    select_purchases,
)

CRITERIA = (
    Eligibility("E01", EligibilityRule.MIN_MAINTENANCE_RATIO, "1.50"),
    Eligibility("E02", EligibilityRule.MIN_FINANCING_RATE, "0.06"),
    Eligibility("E03", EligibilityRule.MAX_SINGLE_LOAN_PRINCIPAL, "10000000.00"),
    Eligibility("E04", EligibilityRule.TERM_INSIDE_PLAN, "true"),
    Eligibility("E05", EligibilityRule.NOT_OVERDUE, "true"),
    Eligibility("E06", EligibilityRule.NOT_IN_LIQUIDATION, "true"),
    Eligibility("E07", EligibilityRule.DENIED_VALUES, field="region", values=("R3",)),
    Eligibility("E08", EligibilityRule.MAX_EXTENSIONS, "2"),
)


def test_each_rejection_cites_its_rule() -> None:
    assets = table(
        ["A", "B", "C", "D", "E", "F", "G", "H", "I"],
        [0, 1, 2, 3, 4, 5, 6, 7, 8],
        [100_00, 100_00, 1_000_000_001, 100_00, 100_00, 100_00, 100_00, 100_00, 100_00],
        vocab_clients=9,
        regions=[0, 0, 0, 0, 0, 0, 3, 0, 0],
        rate=[0.08, 0.059, 0.08, 0.08, 0.08, 0.08, 0.08, 0.08, 0.06],
        ratio=[1.5, 2.0, 2.0, 1.49, 2.0, 2.0, 2.0, 2.0, np.nan],
        overdue=[0, 0, 0, 0, 3, 0, 0, 0, 0],
        liquidation=[False, False, False, False, False, True, False, False, False],
        extensions=[0, 0, 0, 0, 0, 0, 0, 3, 2],
    )
    result = check_eligibility(assets, CRITERIA, as_of=date(2025, 6, 30), plan_end=date(2026, 6, 30))
    reasons = [result.reasons(i) for i in range(len(assets))]
    assert reasons == [[], ["E02"], ["E03"], ["E01"], ["E05"], ["E06"], ["E07"], ["E08"], ["E01"]]
    assert result.eligible.tolist() == [True] + [False] * 8
    late = check_eligibility(assets, CRITERIA, as_of=date(2025, 6, 30), plan_end=date(2025, 6, 30))
    assert all("E04" in late.reasons(i) for i in range(len(assets)))
    assert result.failure_counts()["E01"] == 2


def test_maintenance_ratio_and_classes() -> None:
    # Client 0: 1000 shares at 10.00 + 500 cash against 5000 debt → 2.1; client 1: 100 × 12 / 1000 → 1.2.
    positions = Positions(np.array([0, 1]), np.array([0, 1]), np.array([1000.0, 100.0]))
    ratio = client_ratios(
        clients=3,
        positions=positions,
        close_price=np.array([10.0, 12.0]),
        cash_fen=np.array([500_00, 0, 0]),
        debt_fen=np.array([5000_00, 1000_00, 0]),
    )
    assert ratio[0] == 2.1 and abs(ratio[1] - 1.2) < 1e-12 and np.isnan(ratio[2])
    classes = classify(
        maintenance_ratio=np.array([2.1, 1.4, 1.2, 2.0, 2.0, 1.2]),
        warning_line=1.5,
        repurchase_line=1.3,
        failed_static=np.array([False, False, False, True, False, True]),
        non_performing=np.array([False, False, False, False, True, True]),
    )
    assert [AssetClass(c) for c in classes] == [
        AssetClass.NORMAL, AssetClass.WARNING, AssetClass.RISK, AssetClass.INELIGIBLE,
        AssetClass.NON_PERFORMING, AssetClass.NON_PERFORMING,
    ]


LIMITS = (
    Concentration("C01", ConcentrationRule.SINGLE_CLIENT_MAX_SHARE, Decimal("0.10")),
    Concentration("C02", ConcentrationRule.TOP_N_CLIENTS_MAX_SHARE, Decimal("0.35"), top_n=3),
    Concentration("C03", ConcentrationRule.SINGLE_GROUP_MAX_SHARE, Decimal("0.40"), field="region"),
    Concentration("C04", ConcentrationRule.SINGLE_LOAN_MAX_SHARE, Decimal("0.05")),
)


def test_selection_respects_client_cap_and_cash() -> None:
    pool = table([f"P{i}" for i in range(20)], list(range(20)), [50_000_00] * 20, vocab_clients=40,
                 regions=[i % 4 for i in range(20)])
    # Candidates: client 0 offers a lot; the cap (10% of the pool after purchase) binds.
    cands = table([f"N{i}" for i in range(10)], [0] * 5 + list(range(20, 25)), [40_000_00] * 10, vocab_clients=40,
                  regions=[i % 4 for i in range(10)])
    eligible = np.ones(10, np.bool_)
    selection = select_purchases(cands, pool, eligible=eligible, price_fen=cands.principal_fen, cash_fen=300_000_00,
                                 limits=LIMITS)
    assert selection.price_fen <= 300_000_00
    assert selection.breaches_after == ()
    chosen_clients = cands.client[selection.chosen]
    # Pool 1,000,000 + bought; client 0 already has 50,000 → at most one more 40,000 contract.
    assert int((chosen_clients == 0).sum()) == 1
    assert selection.principal_fen == 240_000_00  # 6 × 40,000 bought (one for client 0, five new clients)
    lines = delivery_list("P1", date(2025, 1, 2), [cands.code[i] for i in selection.chosen],
                          [f"C{c}" for c in chosen_clients], cands.principal_fen[selection.chosen].tolist(),
                          [0] * len(selection.chosen), cands.principal_fen[selection.chosen].tolist())
    assert lines.price_fen == selection.price_fen and len(lines.digest()) == 64


def test_selection_is_deterministic_and_buys_nothing_without_cash() -> None:
    pool = table(["P0", "P1"], [0, 1], [1_000_00, 1_000_00], vocab_clients=5)
    cands = table(["X", "Y"], [2, 3], [10_00, 10_00], vocab_clients=5)
    none = select_purchases(cands, pool, eligible=np.ones(2, np.bool_), price_fen=cands.principal_fen, cash_fen=0,
                            limits=())
    assert none.chosen.size == 0
    a = select_purchases(cands, pool, eligible=np.ones(2, np.bool_), price_fen=cands.principal_fen, cash_fen=15_00,
                         limits=())
    b = select_purchases(cands, pool, eligible=np.ones(2, np.bool_), price_fen=cands.principal_fen, cash_fen=15_00,
                         limits=())
    assert a.chosen.tolist() == b.chosen.tolist() == [0]  # equal keys → code order: X first


@st.composite
def scenario(draw: st.DrawFn) -> tuple:  # type: ignore[type-arg]
    clients = draw(st.integers(3, 25))
    n_pool = draw(st.integers(0, 30))
    n_cand = draw(st.integers(0, 60))
    pool_clients = draw(st.lists(st.integers(0, clients - 1), min_size=n_pool, max_size=n_pool))
    pool_amounts = draw(st.lists(st.integers(1, 10_000), min_size=n_pool, max_size=n_pool))
    pool_regions = draw(st.lists(st.integers(0, 3), min_size=n_pool, max_size=n_pool))
    cand_clients = draw(st.lists(st.integers(0, clients - 1), min_size=n_cand, max_size=n_cand))
    cand_amounts = draw(st.lists(st.integers(1, 10_000), min_size=n_cand, max_size=n_cand))
    cand_regions = draw(st.lists(st.integers(0, 3), min_size=n_cand, max_size=n_cand))
    eligible = draw(st.lists(st.booleans(), min_size=n_cand, max_size=n_cand))
    ratios = draw(st.lists(st.sampled_from([1.6, 2.0, 3.5]), min_size=n_cand, max_size=n_cand))
    cash = draw(st.integers(0, 200_000))
    shares = draw(st.tuples(st.sampled_from(["0.05", "0.1", "0.3", "1"]), st.sampled_from(["0.2", "0.5", "0.9"]),
                            st.sampled_from(["0.3", "0.6", "1"]), st.sampled_from(["0.02", "0.1", "1"])))
    top_n = draw(st.integers(1, 5))
    return (clients, pool_clients, pool_amounts, pool_regions, cand_clients, cand_amounts, cand_regions, eligible,
            ratios, cash, shares, top_n)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_property_limits_hold_after_every_purchase(case: tuple) -> None:  # type: ignore[type-arg]
    (clients, pool_clients, pool_amounts, pool_regions, cand_clients, cand_amounts, cand_regions, eligible,
     ratios, cash, shares, top_n) = case
    pool = table([f"P{i}" for i in range(len(pool_clients))], pool_clients, pool_amounts, vocab_clients=clients,
                 regions=pool_regions)
    cands = table([f"N{i:03d}" for i in range(len(cand_clients))], cand_clients, cand_amounts,
                  vocab_clients=clients, regions=cand_regions, ratio=ratios)
    limits = (
        Concentration("C01", ConcentrationRule.SINGLE_CLIENT_MAX_SHARE, Decimal(shares[0])),
        Concentration("C02", ConcentrationRule.TOP_N_CLIENTS_MAX_SHARE, Decimal(shares[1]), top_n=top_n),
        Concentration("C03", ConcentrationRule.SINGLE_GROUP_MAX_SHARE, Decimal(shares[2]), field="region"),
        Concentration("C04", ConcentrationRule.SINGLE_LOAN_MAX_SHARE, Decimal(shares[3])),
    )
    mask = np.array(eligible, np.bool_)
    selection = select_purchases(cands, pool, eligible=mask, price_fen=cands.principal_fen, cash_fen=cash,
                                 limits=limits)
    chosen = selection.chosen.tolist()
    assert len(set(chosen)) == len(chosen), "an asset bought twice"
    assert all(eligible[i] for i in chosen), "an ineligible asset bought"
    assert selection.price_fen <= cash
    # Recompute the pool after purchase independently and check every limit.
    after = table(
        [f"P{i}" for i in range(len(pool_clients))] + [cands.code[i] for i in chosen],
        pool_clients + [cand_clients[i] for i in chosen],
        pool_amounts + [cand_amounts[i] for i in chosen],
        vocab_clients=clients,
        regions=pool_regions + [cand_regions[i] for i in chosen],
    )
    before = check_limits(pool, limits)
    breaches = check_limits(after, limits)
    assert list(selection.breaches_after) == breaches  # the pool plus the purchase, counted without joining
    assert check_limits(pool, limits, added=cands.take(selection.chosen)) == breaches
    if not before:
        assert breaches == [], breaches
    else:
        # A pool already out of limits is never made worse.
        previous = {(b.rule_id, b.key): b.exposure_fen for b in before}
        assert all(b.exposure_fen <= previous.get((b.rule_id, b.key), -1) for b in breaches), (before, breaches)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 5_000), max_size=40), st.lists(st.booleans(), min_size=40, max_size=40),
       st.integers(0, 50_000))
def test_property_without_limits_leftover_cash_buys_nothing_more(amounts: list[int], eligible: list[bool],
                                                                  cash: int) -> None:
    n = len(amounts)
    cands = table([f"N{i:03d}" for i in range(n)], list(range(n)), amounts, vocab_clients=max(n, 1))
    pool = table([], [], [], vocab_clients=max(n, 1))
    mask = np.array(eligible[:n], np.bool_)
    selection = select_purchases(cands, pool, eligible=mask, price_fen=cands.principal_fen, cash_fen=cash, limits=())
    chosen = set(selection.chosen.tolist())
    left = cash - selection.price_fen
    assert left >= 0
    assert all(amounts[i] > left for i in range(n) if mask[i] and i not in chosen)


@given(st.lists(st.tuples(st.text(), st.text(), st.integers(-(10**15), 10**15), st.integers(0, 10**9),
                          st.integers(0, 10**15)), max_size=12), st.text())
@settings(max_examples=200)
def test_delivery_canonical_bytes_is_sorted_json(rows: list[tuple[str, str, int, int, int]], plan: str) -> None:
    """The directly written delivery list equals ``json.dumps`` of its dict form (sorted keys, compact)."""
    import json

    from absflow.domain.money import format_yuan

    lines = delivery_list(plan, date(2025, 1, 2), *([r[i] for r in rows] for i in range(5)))
    body = {"plan_code": plan, "business_date": "2025-01-02",
            "lines": [x.as_dict() for x in sorted(lines.lines, key=lambda x: x.asset_code)],
            "total_principal": format_yuan(lines.principal_fen), "total_price": format_yuan(lines.price_fen)}
    assert lines.canonical_bytes() == json.dumps(body, sort_keys=True, ensure_ascii=False,
                                                 separators=(",", ":")).encode("utf-8")


@settings(max_examples=80, deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(0, 6), st.integers(-(2**56), 2**56)), max_size=40),
       small=st.booleans())
def test_group_totals_are_exact_on_either_path(pairs: list[tuple[int, int]], small: bool) -> None:
    """Sums per code equal Python's integers, by float64 bincount (amounts small enough) or
    integer np.add.at (large ones); a code beyond the groups is an error on both paths."""
    from absflow.revolving.table import group_totals

    if small:
        pairs = [(code, amount % 10**12) for code, amount in pairs]
    expected = [0] * 7
    for code, amount in pairs:
        expected[code] += amount
    codes = np.array([c for c, _ in pairs], np.int64)
    amounts = np.array([a for _, a in pairs], np.int64)
    assert group_totals(codes, amounts, 7).tolist() == expected
    if pairs:
        with pytest.raises(IndexError):
            group_totals(codes, amounts, int(codes.max()))
