"""Hand-computed golden figures on an eight-loan pool: summary, stratifications, concentration.

Every expected number below was worked out by hand from the table (exact fractions,
shown in the comments) and written here; floats are compared to 1e-12 relative.
"""

from decimal import Decimal

import polars as pl
import pytest

from absflow.domain.issues import ValidationFailed
from absflow.pool import concentration, stratify, summarize

REL = 1e-12

# id, obligor, balance (fen), rate, remaining term (m), seasoning (m), region, industry, maintenance ratio
LOANS = [
    ("L1", "C1", 1_000_000, 0.05, 3, 1, "上海", "制造业", 2.00),
    ("L2", "C1", 3_000_000, 0.06, 6, 2, "上海", "制造业", 1.40),   # below warning 1.50
    ("L3", "C2", 5_000_000, 0.07, 12, 4, "北京", "金融业", 3.10),
    ("L4", "C3", 500_000, 0.08, 1, 0, "北京", "金融业", 1.20),     # below both lines
    ("L5", "C4", 10_000_000, 0.05, 24, 6, "广东", "批发零售", 1.55),
    ("L6", "C5", 250_050, 0.10, 2, 3, "广东", "批发零售", 4.50),
    ("L7", "C5", 249_950, 0.09, 4, 5, "上海", "制造业", 1.50),     # exactly at warning: not below
    ("L8", "C6", 1, 0.12, 36, 10, "四川", "信息技术", 1.30),        # exactly at liquidation: below warning only
]
# total balance = 10,000 + 30,000 + 50,000 + 5,000 + 100,000 + 2,500.50 + 2,499.50 + 0.01 = 200,000.01 yuan
TOTAL_FEN = 20_000_001


def pool_frame() -> pl.DataFrame:
    cols = list(zip(*LOANS, strict=True))
    return pl.DataFrame({
        "asset_id": cols[0], "obligor_id": cols[1],
        "balance_fen": pl.Series(cols[2], dtype=pl.Int64), "rate": cols[3],
        "remaining_term_months": pl.Series(cols[4], dtype=pl.Int32),
        "seasoning_months": pl.Series(cols[5], dtype=pl.Int32),
        "region": cols[6], "industry": cols[7], "status": ["performing"] * 8,
        "maintenance_ratio": cols[8],
    })


def test_summary_by_hand() -> None:
    s = summarize(pool_frame())
    assert s.count == 8
    assert s.total_balance == Decimal("200000.01")
    assert s.min_balance == Decimal("0.01")
    assert s.max_balance == Decimal("100000.00")
    # 200,000.01 / 8 = 25,000.00125 → 25,000.00 (half-even to the fen)
    assert s.avg_balance == Decimal("25000.00")
    # Σ balance·rate = 500 + 1,800 + 3,500 + 400 + 5,000 + 250.05 + 224.955 + 0.0012 = 11,675.0062
    assert s.wa_rate == pytest.approx(11_675.0062 / 200_000.01, rel=REL)
    assert s.wa_rate == pytest.approx(0.058375028081248594, rel=REL)
    # Σ balance·term = 30,000 + 180,000 + 600,000 + 5,000 + 2,400,000 + 5,001 + 9,998 + 0.36 = 3,229,999.36
    assert s.wa_remaining_term_months == pytest.approx(3_229_999.36 / 200_000.01, rel=REL)
    # Σ balance·seasoning = 10,000 + 60,000 + 200,000 + 0 + 600,000 + 7,501.5 + 12,497.5 + 0.1 = 889,999.1
    assert s.wa_seasoning_months == pytest.approx(889_999.1 / 200_000.01, rel=REL)
    m = s.margin
    assert m is not None
    assert (m.warning_line, m.liquidation_line) == (1.50, 1.30)
    # Σ balance·ratio = 20,000 + 42,000 + 155,000 + 6,000 + 155,000 + 11,252.25 + 3,749.25 + 0.013 = 393,001.513
    assert m.wa_maintenance_ratio == pytest.approx(393_001.513 / 200_000.01, rel=REL)
    # below 1.50: L2, L4, L8 → 3 of 8; 30,000 + 5,000 + 0.01 = 35,000.01 yuan
    assert m.pct_count_below_warning == 0.375
    assert m.pct_balance_below_warning == pytest.approx(35_000.01 / 200_000.01, rel=REL)
    # below 1.30: L4 only
    assert m.pct_count_below_liquidation == 0.125
    assert m.pct_balance_below_liquidation == pytest.approx(5_000 / 200_000.01, rel=REL)


def test_summary_json_has_exactly_the_published_keys() -> None:
    body = summarize(pool_frame(), warning_line=1.6, liquidation_line=1.4).as_dict()
    assert list(body) == [
        "count", "total_balance", "wa_rate", "wa_remaining_term_months", "wa_seasoning_months",
        "min_balance", "max_balance", "avg_balance",
        "warning_line", "liquidation_line", "wa_maintenance_ratio",
        "pct_balance_below_warning", "pct_count_below_warning",
        "pct_balance_below_liquidation", "pct_count_below_liquidation",
    ]
    assert body["total_balance"] == "200000.01" and body["avg_balance"] == "25000.00"
    # lines are parameters: below 1.60 now also takes L5 (1.55) and L7 (1.50) → 5 of 8
    assert body["pct_count_below_warning"] == 0.625
    # below 1.40: L4 (1.20) and L8 (1.30)
    assert body["pct_count_below_liquidation"] == 0.25


def test_summary_without_margin_columns_has_no_margin_keys() -> None:
    body = summarize(pool_frame().drop("maintenance_ratio")).as_dict()
    assert "wa_maintenance_ratio" not in body and len(body) == 8
    no_ratios = pool_frame().with_columns(pl.lit(None, dtype=pl.Float64).alias("maintenance_ratio"))
    assert summarize(no_ratios).margin is None


def rows(strat) -> list[tuple]:
    return [(r.bucket, r.count, r.balance_fen) for r in strat.rows]


def test_strat_by_balance_with_edges_in_yuan() -> None:
    s = stratify(pool_frame(), "balance", ["5000", "20000", "60000"])
    assert rows(s) == [
        ("< 5000", 3, 500_001),          # L6 2,500.50 + L7 2,499.50 + L8 0.01
        ("[5000, 20000)", 2, 1_500_000),  # L4 5,000 (edge belongs to the upper bucket) + L1 10,000
        ("[20000, 60000)", 2, 8_000_000),  # L2 + L3
        (">= 60000", 1, 10_000_000),      # L5
    ]
    first, second, third, fourth = s.rows
    assert first.balance == Decimal("5000.01")
    assert first.pct_count == 3 / 8
    assert first.pct_balance == pytest.approx(5_000.01 / 200_000.01, rel=REL)
    # (250.05 + 224.955 + 0.0012) / 5,000.01
    assert first.wa_rate == pytest.approx(475.0062 / 5_000.01, rel=REL)
    # (5,001 + 9,998 + 0.36) / 5,000.01
    assert first.wa_remaining_term_months == pytest.approx(14_999.36 / 5_000.01, rel=REL)
    # (5,000·0.08 + 10,000·0.05) / 15,000 = 900 / 15,000
    assert second.wa_rate == pytest.approx(0.06, rel=REL)
    assert second.wa_remaining_term_months == pytest.approx(35_000 / 15_000, rel=REL)
    assert third.wa_rate == pytest.approx(5_300 / 80_000, rel=REL)
    assert third.wa_remaining_term_months == pytest.approx(9.75, rel=REL)
    assert fourth.pct_balance == pytest.approx(100_000 / 200_000.01, rel=REL)
    assert s.total.count == 8 and s.total.balance_fen == TOTAL_FEN and s.total.bucket == "total"


def test_strat_total_row_matches_the_summary() -> None:
    frame = pool_frame()
    summary = summarize(frame)
    for by in ("balance", "rate", "region", "maintenance_ratio", "remaining_term_months"):
        total = stratify(frame, by).total
        assert (total.count, total.balance_fen, total.pct_count, total.pct_balance) == (8, TOTAL_FEN, 1.0, 1.0)
        assert total.wa_rate == summary.wa_rate
        assert total.wa_remaining_term_months == summary.wa_remaining_term_months


def test_strat_by_region_one_row_per_value_largest_first() -> None:
    s = stratify(pool_frame(), "region")
    assert rows(s) == [
        ("广东", 2, 10_250_050),  # L5 + L6
        ("北京", 2, 5_500_000),   # L3 + L4
        ("上海", 3, 4_249_950),   # L1 + L2 + L7
        ("四川", 1, 1),           # L8
    ]
    # 北京: (3,500 + 400) / 55,000; terms (600,000 + 5,000) / 55,000 = 11
    assert s.rows[1].wa_rate == pytest.approx(3_900 / 55_000, rel=REL)
    assert s.rows[1].wa_remaining_term_months == pytest.approx(11.0, rel=REL)
    assert s.edges is None


def test_strat_by_rate_default_edges() -> None:
    s = stratify(pool_frame(), "rate")
    # range 0.05–0.12 → (0.12 − 0.05) / 8 = 0.00875 → step 0.01, edges 0.05 … 0.13
    assert s.edges == tuple(Decimal(f"0.{n:02d}") for n in range(5, 14))
    assert rows(s) == [
        ("[0.05, 0.06)", 2, 11_000_000),  # L1 + L5
        ("[0.06, 0.07)", 1, 3_000_000),
        ("[0.07, 0.08)", 1, 5_000_000),
        ("[0.08, 0.09)", 1, 500_000),
        ("[0.09, 0.10)", 1, 249_950),
        ("[0.10, 0.11)", 1, 250_050),
        ("[0.11, 0.12)", 0, 0),           # empty inner buckets are listed
        ("[0.12, 0.13)", 1, 1),
    ]
    assert s.rows[6].wa_rate is None and s.rows[6].pct_balance == 0.0


def test_strat_by_remaining_term_default_month_steps() -> None:
    s = stratify(pool_frame(), "remaining_term_months")
    # range 1–36 → 35 / 8 = 4.375 → 6-month steps from 0
    assert s.edges == tuple(Decimal(m) for m in (0, 6, 12, 18, 24, 30, 36, 42))
    assert rows(s) == [
        ("[0, 6)", 4, 2_000_000),  # L1, L4, L6, L7
        ("[6, 12)", 1, 3_000_000),
        ("[12, 18)", 1, 5_000_000),
        ("[18, 24)", 0, 0),
        ("[24, 30)", 1, 10_000_000),
        ("[30, 36)", 0, 0),
        ("[36, 42)", 1, 1),
    ]
    # (500 + 400 + 250.05 + 224.955) / 20,000
    assert s.rows[0].wa_rate == pytest.approx(1_375.005 / 20_000, rel=REL)


def test_strat_by_maintenance_ratio_default_lines() -> None:
    s = stratify(pool_frame(), "maintenance_ratio")
    assert rows(s) == [
        ("< 1.30", 1, 500_000),             # L4
        ("[1.30, 1.50)", 2, 3_000_001),     # L2 1.40, L8 1.30
        ("[1.50, 1.80)", 2, 10_249_950),    # L5 1.55, L7 1.50
        ("[1.80, 2.00)", 0, 0),
        ("[2.00, 2.50)", 1, 1_000_000),     # L1
        ("[2.50, 3.00)", 0, 0),
        ("[3.00, 4.00)", 1, 5_000_000),     # L3
        (">= 4.00", 1, 250_050),            # L6
    ]


def test_strat_by_balance_default_edges_fall_back_to_decades() -> None:
    s = stratify(pool_frame(), "balance")
    # 0.01 … 100,000 yuan: the 1-2-5 series would need 21 buckets (> 12), so decades
    assert s.edges == tuple(Decimal(x) for x in ("0.01", "0.1", "1", "10", "100", "1000", "10000", "100000",
                                                 "1000000"))
    assert [(r.bucket, r.count) for r in s.rows if r.count] == [
        ("[0.01, 0.1)", 1), ("[1000, 10000)", 3), ("[10000, 100000)", 3), ("[100000, 1000000)", 1)]


def test_strat_unknown_field_lists_valid_fields() -> None:
    with pytest.raises(ValidationFailed) as info:
        stratify(pool_frame(), "colour")
    issue = info.value.issues[0]
    assert issue.code == "unknown_field"
    for name in ("balance", "rate", "remaining_term_months", "region", "maintenance_ratio"):
        assert name in issue.message
    assert "asset_id" not in issue.message


def test_strat_bad_edges_reports_every_problem() -> None:
    with pytest.raises(ValidationFailed) as info:
        stratify(pool_frame(), "balance", ["1000", "abc", "x"])
    assert [i.code for i in info.value.issues] == ["bad_edge", "bad_edge"]
    with pytest.raises(ValidationFailed) as info:
        stratify(pool_frame(), "rate", ["0.05", "0.05"])
    assert info.value.issues[0].code == "edges_not_increasing"
    with pytest.raises(ValidationFailed) as info:
        stratify(pool_frame(), "region", ["1"])
    assert info.value.issues[0].code == "edges_for_category"


def test_missing_values_form_their_own_bucket() -> None:
    frame = pool_frame().with_columns(
        pl.when(pl.col("asset_id") == "L3").then(None).otherwise(pl.col("maintenance_ratio"))
        .alias("maintenance_ratio"),
        pl.when(pl.col("asset_id") == "L1").then(None).otherwise(pl.col("region")).alias("region"),
    )
    ratio = stratify(frame, "maintenance_ratio")
    assert (ratio.rows[-1].bucket, ratio.rows[-1].count, ratio.rows[-1].balance_fen) == ("(missing)", 1, 5_000_000)
    region = stratify(frame, "region")
    assert (region.rows[-1].bucket, region.rows[-1].balance_fen) == ("(missing)", 1_000_000)
    # the WA maintenance ratio leaves the asset without a ratio out of numerator and weight
    s = summarize(frame)
    assert s.margin is not None
    assert s.margin.wa_maintenance_ratio == pytest.approx((393_001.513 - 155_000) / 150_000.01, rel=REL)


def test_concentration_by_hand() -> None:
    c = concentration(pool_frame(), top_n=3)
    # obligors: C4 100,000; C2 50,000; C1 40,000; C3 5,000; C5 5,000 (2,500.50 + 2,499.50); C6 0.01
    assert c.obligor_count == 6
    assert [(s.key, s.count, s.balance_fen) for s in c.top_obligors] == [
        ("C4", 1, 10_000_000), ("C2", 1, 5_000_000), ("C1", 2, 4_000_000)]
    assert c.top_obligors_share == pytest.approx(190_000 / 200_000.01, rel=REL)
    assert c.largest_obligor_share == pytest.approx(100_000 / 200_000.01, rel=REL)
    # HHI = (100,000² + 50,000² + 40,000² + 5,000² + 5,000² + 0.01²) / 200,000.01²
    #     = 14,150,000,000.0001 / 40,000,004,000.0001
    assert c.hhi == pytest.approx(0.35374996462500513, rel=1e-12)
    assert c.effective_obligors == pytest.approx(1 / 0.35374996462500513, rel=1e-12)
    assert [(s.key, s.balance_fen) for s in c.top_by_dimension["region"]] == [
        ("广东", 10_250_050), ("北京", 5_500_000), ("上海", 4_249_950)]
    assert [(s.key, s.count) for s in c.top_by_dimension["industry"]] == [
        ("批发零售", 2), ("金融业", 2), ("制造业", 3)]
    body = c.as_dict()
    assert body["top_obligors"][0] == {"key": "C4", "count": 1, "balance": "100000.00",
                                       "pct_balance": c.largest_obligor_share}
    assert "top_regions" in body and "top_industries" in body


def test_concentration_ties_rank_by_key() -> None:
    c = concentration(pool_frame(), top_n=5)
    # C3 and C5 both hold exactly 5,000.00: the smaller key ranks first
    assert [s.key for s in c.top_obligors][3:] == ["C3", "C5"]
