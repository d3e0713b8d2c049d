"""The worked example of issue 6 with every number, the rules one by one, and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from absflow.bookbuilding import Bid, Convention, Offering, allocate, check_book, summarize, to_levels
from absflow.bookbuilding.files import allocation_document, multiple_text
from absflow.domain.issues import ValidationFailed

WAN = Decimal(10000)


def wan(x: int | str) -> Decimal:
    return Decimal(x) * WAN


def offering(size_wan: int = 100_000, convention: Convention = Convention.INCREMENTAL, **kw: object) -> Offering:
    return Offering(size_yuan=wan(size_wan), rate_min=Decimal("0.0200"), rate_max=Decimal("0.0350"),
                    convention=convention, **kw)  # type: ignore[arg-type]


def bids(*rows: tuple[str, str, int]) -> list[Bid]:
    return [Bid(investor=i, rate=Decimal(r) / 100, amount_yuan=wan(a), seq=n, row=n + 2)
            for n, (i, r, a) in enumerate(rows)]


WORKED = [("A", "2.60", 20_000), ("A", "2.70", 10_000), ("B", "2.65", 30_000), ("C", "2.70", 40_000),
          ("C", "2.80", 20_000), ("D", "2.70", 20_000), ("E", "2.75", 30_000)]


def test_worked_example_every_number() -> None:
    off = offering()
    book = bids(*WORKED)
    levels = check_book(off, book)
    result = allocate(off, levels)
    s = result.summary
    # cumulative 20,000 → 50,000 → 120,000 at 2.70%
    assert [(str(lv.rate), lv.amount_yuan / WAN, lv.cumulative_yuan / WAN) for lv in s.levels] == [
        ("0.0260", 20_000, 20_000), ("0.0265", 30_000, 50_000), ("0.0270", 70_000, 120_000),
        ("0.0275", 30_000, 150_000), ("0.0280", 20_000, 170_000),
    ]
    assert result.marginal_rate == Decimal("0.0270")
    assert s.total_demand_yuan == wan(170_000)
    assert s.total_multiple == Decimal("1.7")
    assert s.marginal_multiple == Decimal("1.4")  # 70,000 / 50,000
    assert result.left_for_margin_yuan == wan(50_000) and result.demand_at_margin_yuan == wan(70_000)
    assert s.highest_rate == Decimal("0.0280") and s.lowest_rate == Decimal("0.0260")
    assert s.valid_bid_count == 7 and s.investor_count == 5
    got = {a.investor: a.allocated_yuan / WAN for a in result.by_investor}
    assert got == {"A": 27_100, "B": 30_000, "C": 28_600, "D": 14_300}  # E: 0, not listed
    at_margin = {lv.investor: lv.allocated_yuan / WAN for lv in result.levels if lv.at_margin}
    # floors A 7,100, C 28,500, D 14,200 leave two lots: D (.857) and C (.714) get one each
    assert at_margin == {"A": 7_100, "C": 28_600, "D": 14_300}
    assert result.allocated_total_yuan == wan(100_000) and result.shortfall_yuan == 0
    assert not result.undersubscribed and not result.holder_limit_exceeded
    assert allocation_document(result) == {
        "marginal_rate": "2.70", "total_demand": "170000", "total_multiple": "1.70", "marginal_multiple": "1.40",
        "allocated_total": "100000",
        "allocations": [{"investor": "A", "allocated": "27100"}, {"investor": "B", "allocated": "30000"},
                        {"investor": "C", "allocated": "28600"}, {"investor": "D", "allocated": "14300"}],
        "undersubscribed": False,
    }


def test_worked_example_in_cumulative_convention_gives_the_same_result() -> None:
    cumulative = [("A", "2.60", 20_000), ("A", "2.70", 30_000), ("B", "2.65", 30_000), ("C", "2.70", 40_000),
                  ("C", "2.80", 60_000), ("D", "2.70", 20_000), ("E", "2.75", 30_000)]
    off = offering(convention=Convention.CUMULATIVE)
    result = allocate(off, check_book(off, bids(*cumulative)))
    assert {a.investor: a.allocated_yuan / WAN for a in result.by_investor} == {
        "A": 27_100, "B": 30_000, "C": 28_600, "D": 14_300}
    assert multiple_text(result.summary.total_multiple) == "1.70"


def test_ties_at_the_margin_go_to_the_earlier_bid() -> None:
    # three equal bids of 1 lot each share 2 lots: equal remainders, the first two in time win
    off = offering(size_wan=300)
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    book = [
        Bid("X", Decimal("0.0250"), wan(100), seq=1, time=t0),
        Bid("Late", Decimal("0.0300"), wan(100), seq=2, time=t0 + timedelta(minutes=5)),
        Bid("Early", Decimal("0.0300"), wan(100), seq=3, time=t0 + timedelta(minutes=1)),
        Bid("Middle", Decimal("0.0300"), wan(100), seq=4, time=t0 + timedelta(minutes=2)),
    ]
    result = allocate(off, check_book(off, book))
    assert {a.investor for a in result.by_investor} == {"X", "Early", "Middle"}
    # without times the earlier row (seq) wins
    untimed = [Bid(b.investor, b.rate, b.amount_yuan, b.seq) for b in book]
    result = allocate(off, check_book(off, untimed))
    assert {a.investor for a in result.by_investor} == {"X", "Late", "Early"}


def test_undersubscribed_book_fills_everyone_and_reports_the_shortfall() -> None:
    off = offering(size_wan=100_000)
    result = allocate(off, check_book(off, bids(("A", "2.60", 20_000), ("B", "3.10", 30_000))))
    assert result.undersubscribed
    assert result.marginal_rate == Decimal("0.0310")  # the highest bid rate
    assert result.allocated_total_yuan == wan(50_000) and result.shortfall_yuan == wan(50_000)
    assert result.summary.marginal_multiple is None
    doc = allocation_document(result)
    assert doc["marginal_multiple"] is None and doc["undersubscribed"] is True and doc["total_multiple"] == "0.50"


def test_exactly_covered_book_has_marginal_multiple_one() -> None:
    off = offering(size_wan=500)
    result = allocate(off, check_book(off, bids(("A", "2.60", 200), ("B", "2.70", 300), ("C", "2.80", 100))))
    assert result.marginal_rate == Decimal("0.0270")
    assert result.summary.marginal_multiple == 1
    assert {a.investor: a.allocated_yuan / WAN for a in result.by_investor} == {"A": 200, "B": 300}


def test_empty_book() -> None:
    off = offering()
    result = allocate(off, [])
    assert result.marginal_rate is None and result.undersubscribed and result.allocated_total_yuan == 0
    assert summarize(off, []).total_multiple == 0


def test_holder_limit_is_flagged() -> None:
    off = offering(size_wan=300 * 100, holder_limit=200)
    book = bids(*[(f"I{n:03d}", "2.70", 100) for n in range(300)])
    result = allocate(off, check_book(off, book))
    assert result.allocated_total_yuan == wan(30_000)
    assert result.holder_count == 300 and result.holder_limit_exceeded
    assert [f.code for f in result.flags()] == ["holder_limit_exceeded"]


def _codes(exc: pytest.ExceptionInfo[ValidationFailed]) -> list[tuple[int | None, str]]:
    return [(i.location.row, i.code) for i in exc.value.issues]


def test_every_bid_error_is_reported_at_once() -> None:
    t_open = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    off = offering(bid_open=t_open, bid_close=t_open + timedelta(hours=6), max_levels=2,
                   cap_yuan=wan(50_000), convention=Convention.CUMULATIVE)
    rows = [
        Bid("A", Decimal("0.0360"), wan(100), seq=1, row=2),  # above the range
        Bid("B", Decimal("0.0270"), wan(150), seq=2, row=3),  # not a lot multiple
        Bid("C", Decimal("0.02705"), wan(100), seq=3, row=4),  # finer than 0.01%
        Bid("D", Decimal("0.0270"), wan(100), seq=4, time=t_open + timedelta(hours=7), row=5),  # late
        Bid("E", Decimal("0.0270"), wan(100), seq=5, row=6),  # unqualified
        Bid("F", Decimal("0.0270"), wan(200), seq=6, row=7),
        Bid("F", Decimal("0.0270"), wan(300), seq=7, row=8),  # duplicate level
        Bid("G", Decimal("0.0260"), wan(500), seq=8, row=9),
        Bid("G", Decimal("0.0280"), wan(300), seq=9, row=10),  # cumulative falling
        Bid("H", Decimal("0.0260"), wan(100), seq=10, row=11),
        Bid("H", Decimal("0.0270"), wan(200), seq=11, row=12),
        Bid("H", Decimal("0.0280"), wan(300), seq=12, row=13),  # three levels > 2
        Bid("J", Decimal("0.0260"), wan(60_000), seq=13, row=14),  # above the cap
        Bid("K", Decimal("0.0260"), wan(0), seq=14, row=15),  # not positive
    ]
    with pytest.raises(ValidationFailed) as exc:
        check_book(off, rows, is_qualified=lambda name: name != "E")
    assert sorted(_codes(exc), key=lambda t: (t[0] or 0, t[1])) == [
        (2, "rate_out_of_range"), (3, "amount_not_lot_multiple"), (4, "rate_precision"), (5, "after_window"),
        (6, "unqualified_investor"), (8, "duplicate_level"), (10, "cumulative_decreasing"),
        (13, "too_many_levels"), (14, "above_cap"), (15, "amount_not_positive"),
    ]


def test_below_minimum_and_offering_errors() -> None:
    off = offering(minimum_yuan=wan(500))
    with pytest.raises(ValidationFailed) as exc:
        check_book(off, bids(("A", "2.70", 200)))
    assert _codes(exc) == [(2, "below_minimum")]
    bad = Offering(size_yuan=wan(150), rate_min=Decimal("0.03"), rate_max=Decimal("0.02"))
    with pytest.raises(ValidationFailed) as exc:
        check_book(bad, [])
    assert {i.code for i in exc.value.issues} == {"size_not_lot_multiple", "rate_range_invalid"}


# -- properties ------------------------------------------------------------------------

rates = st.integers(min_value=200, max_value=350)
level_st = st.tuples(st.integers(min_value=0, max_value=25), rates, st.integers(min_value=1, max_value=60))


@st.composite
def books(draw: st.DrawFn) -> tuple[Offering, list[Bid]]:
    raw = draw(st.lists(level_st, max_size=60))
    size_lots = draw(st.integers(min_value=1, max_value=800))
    seen: set[tuple[int, int]] = set()
    out: list[Bid] = []
    for n, (inv, bp, lots) in enumerate(raw):
        if (inv, bp) in seen:
            continue
        seen.add((inv, bp))
        out.append(Bid(f"I{inv:02d}", Decimal(bp) / 10000, lots * wan(100), seq=n))
    return offering(size_wan=size_lots * 100), out


@settings(max_examples=300, deadline=None)
@given(books())
def test_allocation_properties(case: tuple[Offering, list[Bid]]) -> None:
    off, book = case
    levels = check_book(off, book)
    result = allocate(off, levels)
    demand = sum((b.amount_yuan for b in book), Decimal(0))
    # total allocated = min(size, demand), in whole lots
    assert result.allocated_total_yuan == min(off.size_yuan, demand)
    assert all(lv.allocated_yuan % off.lot_yuan == 0 for lv in result.levels)
    assert result.undersubscribed == (demand < off.size_yuan)
    for lv in result.levels:
        assert 0 <= lv.allocated_yuan <= lv.bid_yuan  # nobody gets more than it bid
        if result.marginal_rate is not None and lv.rate < result.marginal_rate:
            assert lv.allocated_yuan == lv.bid_yuan  # strictly below the margin: filled in full
        if result.marginal_rate is not None and lv.rate > result.marginal_rate:
            assert lv.allocated_yuan == 0
    if not result.undersubscribed:
        assert result.marginal_rate is not None
        cum_below = sum((b.amount_yuan for b in book if b.rate < result.marginal_rate), Decimal(0))
        assert cum_below < off.size_yuan <= cum_below + result.demand_at_margin_yuan
    # deterministic: same input, same output; and independent of the order bids are listed in
    assert allocate(off, levels) == result
    shuffled = check_book(off, list(reversed(book)))
    assert allocate(off, shuffled).by_investor == result.by_investor


@settings(max_examples=150, deadline=None)
@given(books())
def test_cumulative_equals_incremental(case: tuple[Offering, list[Bid]]) -> None:
    off, book = case
    # the same demand written cumulatively gives the same allocation
    running: dict[str, Decimal] = {}
    cumulative = []
    for b in sorted(book, key=lambda b: (b.investor, b.rate)):
        running[b.investor] = running.get(b.investor, Decimal(0)) + b.amount_yuan
        cumulative.append(Bid(b.investor, b.rate, running[b.investor], b.seq))
    cum_off = Offering(**{**{f: getattr(off, f) for f in Offering.__slots__}, "convention": Convention.CUMULATIVE})
    a = allocate(off, to_levels(off, book))
    b = allocate(cum_off, check_book(cum_off, cumulative))
    assert a.by_investor == b.by_investor and a.marginal_rate == b.marginal_rate
