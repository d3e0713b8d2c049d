"""Checking an offering and its bids; every problem is reported at once with its location.

Bids that pass become incremental ``Level``s in whole lots and integer basis points, the
form the book summary and the allocation work on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from absflow.bookbuilding.model import RATE_STEP, Bid, Convention, Offering, percent_text
from absflow.domain.issues import Issue, Location, ValidationFailed


@dataclass(frozen=True, slots=True)
class Level:
    """One incremental rate level in whole lots: what the allocation works on.

    ``seq``/``time`` come from the bid and decide ties at the margin (earlier first).
    """

    investor: str
    rate_bp: int
    lots: int
    seq: int
    time: datetime | None = None


def _wan(amount_yuan: Decimal) -> str:
    """Yuan → a 万元 figure for messages ('1,000,000' → '100')."""
    return format((amount_yuan / Decimal(10000)).normalize(), "f")


def _pct(rate: Decimal) -> str:
    return percent_text(rate) + "%"


def _where(bid: Bid, index: int, column: str) -> Location:
    return Location(row=bid.row, column=column, field_path=None if bid.row is not None else f"bids[{index}].{column}")


def validate_offering(offering: Offering) -> list[Issue]:
    """Problems with the offering terms themselves (size, lot, minimum, rate range, window)."""
    issues: list[Issue] = []

    def add(code: str, message: str, path: str, value: object) -> None:
        issues.append(Issue(code, message, Location(field_path=path), str(value)))

    lot = offering.lot_yuan
    if lot <= 0:
        add("lot_not_positive", "the lot must be a positive amount", "lot", lot)
    if offering.size_yuan <= 0:
        add("size_not_positive", "the offering size must be positive", "size", offering.size_yuan)
    elif lot > 0 and offering.size_yuan % lot != 0:
        add("size_not_lot_multiple", f"the size ({_wan(offering.size_yuan)}万) is not a whole number of lots "
            f"({_wan(lot)}万)", "size", offering.size_yuan)
    if offering.minimum_yuan <= 0:
        add("minimum_not_positive", "the minimum subscription must be positive", "minimum", offering.minimum_yuan)
    elif lot > 0 and offering.minimum_yuan % lot != 0:
        add("minimum_not_lot_multiple", f"the minimum subscription ({_wan(offering.minimum_yuan)}万) is not a "
            f"whole number of lots ({_wan(lot)}万)", "minimum", offering.minimum_yuan)
    for name, rate in (("rate_min", offering.rate_min), ("rate_max", offering.rate_max)):
        if rate < 0:
            add("rate_negative", f"{name} must not be negative", name, rate)
        elif rate % RATE_STEP != 0:
            add("rate_precision", f"{name} {rate * 100}% is finer than 0.01%", name, rate)
    if offering.rate_min > offering.rate_max:
        add("rate_range_invalid", f"rate_min {_pct(offering.rate_min)} is above rate_max {_pct(offering.rate_max)}",
            "rate_min", offering.rate_min)
    if offering.bid_open and offering.bid_close and offering.bid_open >= offering.bid_close:
        add("window_invalid", "the bid window closes before it opens", "bid_close", offering.bid_close.isoformat())
    if offering.max_levels is not None and offering.max_levels < 1:
        add("max_levels_invalid", "max_levels must be at least 1", "max_levels", offering.max_levels)
    if offering.cap_yuan is not None and offering.cap_yuan < offering.minimum_yuan:
        add("cap_below_minimum", "the per-investor cap is below the minimum subscription", "cap", offering.cap_yuan)
    if offering.holder_limit < 1:
        add("holder_limit_invalid", "the holder limit must be at least 1", "holder_limit", offering.holder_limit)
    return issues


def validate_bids(
    offering: Offering,
    bids: Sequence[Bid],
    *,
    is_qualified: Callable[[str], bool] | None = None,
) -> list[Issue]:
    """Every problem with ``bids`` under ``offering`` (the offering itself assumed valid).

    Checks each level: rate inside the range and to 0.01%, amount a positive whole number
    of lots and at least the minimum, time inside the window, investor qualified; and per
    investor: no rate twice, at most ``max_levels`` levels, cumulative amounts not falling
    as the rate rises, total demand within the cap.
    """
    issues: list[Issue] = []
    lot = offering.lot_yuan
    low, high = offering.rate_min, offering.rate_max
    range_text = f"{_pct(low)}–{_pct(high)}"
    # a book repeats few distinct rates, amounts and investors: check each once
    rate_problems: dict[Decimal, tuple[str, str, str] | None] = {}
    amount_problems: dict[Decimal, tuple[str, str, str] | None] = {}
    qualified: dict[str, bool] = {}

    def rate_problem(rate: Decimal) -> tuple[str, str, str] | None:
        if rate % RATE_STEP != 0:
            return "rate_precision", f"rate {rate * 100}% is quoted finer than 0.01%", str(rate * 100)
        if not low <= rate <= high:
            return "rate_out_of_range", f"rate {_pct(rate)} is outside the range {range_text}", percent_text(rate)
        return None

    def amount_problem(amount: Decimal) -> tuple[str, str, str] | None:
        if amount <= 0:
            return "amount_not_positive", "the amount must be positive", _wan(amount)
        if amount % lot != 0:
            return ("amount_not_lot_multiple", f"amount {_wan(amount)}万 is not a multiple of the lot ({_wan(lot)}万)",
                    _wan(amount))
        if amount < offering.minimum_yuan:
            return ("below_minimum", f"amount {_wan(amount)}万 is below the minimum subscription "
                    f"({_wan(offering.minimum_yuan)}万)", _wan(amount))
        return None

    by_investor: dict[str, list[tuple[int, Bid]]] = defaultdict(list)
    for index, bid in enumerate(bids):
        investor = bid.investor
        if not investor.strip():
            issues.append(Issue("investor_missing", "the bid names no investor", _where(bid, index, "investor"), ""))
        elif is_qualified is not None:
            ok = qualified.get(investor)
            if ok is None:
                ok = qualified[investor] = is_qualified(investor)
            if not ok:
                issues.append(Issue("unqualified_investor",
                                    f"investor {investor!r} is not a registered qualified investor",
                                    _where(bid, index, "investor"), investor))
        rate = bid.rate
        if rate in rate_problems:
            problem = rate_problems[rate]
        else:
            problem = rate_problems[rate] = rate_problem(rate)
        if problem is not None:
            issues.append(Issue(problem[0], problem[1], _where(bid, index, "rate"), problem[2]))
        amount = bid.amount_yuan
        if amount in amount_problems:
            problem = amount_problems[amount]
        else:
            problem = amount_problems[amount] = amount_problem(amount)
        if problem is not None:
            issues.append(Issue(problem[0], problem[1], _where(bid, index, "amount"), problem[2]))
        if bid.time is not None:
            if offering.bid_open is not None and bid.time < offering.bid_open:
                issues.append(Issue("before_window", f"bid time {bid.time.isoformat()} is before the window opens "
                                    f"({offering.bid_open.isoformat()})", _where(bid, index, "time"),
                                    bid.time.isoformat()))
            if offering.bid_close is not None and bid.time >= offering.bid_close:
                issues.append(Issue("after_window", f"bid time {bid.time.isoformat()} is after the window closed "
                                    f"({offering.bid_close.isoformat()})", _where(bid, index, "time"),
                                    bid.time.isoformat()))
        by_investor[investor].append((index, bid))
    for investor, entries in by_investor.items():
        issues.extend(_investor_issues(offering, investor, entries))
    return issues


def _investor_issues(offering: Offering, investor: str, entries: list[tuple[int, Bid]]) -> list[Issue]:
    issues: list[Issue] = []
    first_at_rate: dict[Decimal, Bid] = {}
    for index, bid in entries:
        earlier = first_at_rate.get(bid.rate)
        if earlier is not None:
            where = f"line {earlier.row}" if earlier.row is not None else "an earlier bid"
            issues.append(Issue("duplicate_level",
                                f"investor {investor!r} already bid at {_pct(bid.rate)} ({where})",
                                _where(bid, index, "rate"), percent_text(bid.rate)))
        else:
            first_at_rate[bid.rate] = bid
    if offering.max_levels is not None and len(first_at_rate) > offering.max_levels:
        index, bid = entries[-1]
        issues.append(Issue("too_many_levels",
                            f"investor {investor!r} bid at {len(first_at_rate)} rate levels; at most "
                            f"{offering.max_levels} are allowed", _where(bid, index, "rate"),
                            str(len(first_at_rate))))
    cumulative = offering.convention is Convention.CUMULATIVE
    if not cumulative and offering.cap_yuan is None:
        return issues
    ordered = sorted(((bid.rate, index, bid) for index, bid in entries if first_at_rate.get(bid.rate) is bid),
                     key=lambda t: t[0])
    if cumulative:
        for (_, _, lower), (_, index, higher) in zip(ordered, ordered[1:], strict=False):
            if higher.amount_yuan < lower.amount_yuan:
                issues.append(Issue(
                    "cumulative_decreasing",
                    f"cumulative amount {_wan(higher.amount_yuan)}万 at {_pct(higher.rate)} is below "
                    f"{_wan(lower.amount_yuan)}万 at the lower rate {_pct(lower.rate)}; cumulative amounts may not "
                    "fall as the rate rises", _where(higher, index, "amount"), _wan(higher.amount_yuan)))
        demand = max((bid.amount_yuan for _, _, bid in ordered), default=Decimal(0))
    else:
        demand = sum((bid.amount_yuan for _, _, bid in ordered), Decimal(0))
    if offering.cap_yuan is not None and demand > offering.cap_yuan and ordered:
        _, index, bid = ordered[-1]
        issues.append(Issue("above_cap", f"investor {investor!r} demands {_wan(demand)}万 in all, above the cap of "
                            f"{_wan(offering.cap_yuan)}万 per investor", _where(bid, index, "amount"), _wan(demand)))
    return issues


def to_levels(offering: Offering, bids: Iterable[Bid]) -> list[Level]:
    """Valid bids → incremental levels in lots (cumulative amounts are differenced per investor).

    Precondition: the bids passed ``validate_bids``. A cumulative level that adds nothing
    (same amount as the level below) becomes a level of 0 lots.
    """
    lot = offering.lot_yuan
    rate_bp: dict[Decimal, int] = {}
    lots_of: dict[Decimal, int] = {}

    def bp(rate: Decimal) -> int:
        value = rate_bp.get(rate)
        if value is None:
            value = rate_bp[rate] = int(rate / RATE_STEP)
        return value

    def lots(amount: Decimal) -> int:
        value = lots_of.get(amount)
        if value is None:
            value = lots_of[amount] = int(amount / lot)
        return value

    if offering.convention is Convention.INCREMENTAL:
        return [Level(b.investor, bp(b.rate), lots(b.amount_yuan), b.seq, b.time) for b in bids]
    by_investor: dict[str, list[Bid]] = defaultdict(list)
    for bid in bids:
        by_investor[bid.investor].append(bid)
    levels: list[Level] = []
    for investor, own in by_investor.items():
        previous_lots = 0
        for bid in sorted(own, key=lambda b: b.rate):
            total_lots = lots(bid.amount_yuan)
            levels.append(Level(investor, bp(bid.rate), total_lots - previous_lots, bid.seq, bid.time))
            previous_lots = total_lots
    return levels


def check_book(
    offering: Offering,
    bids: Sequence[Bid],
    *,
    is_qualified: Callable[[str], bool] | None = None,
) -> list[Level]:
    """Validate the offering and every bid; raise ``ValidationFailed`` with all issues, else the levels."""
    issues = validate_offering(offering)
    if not issues:
        issues = validate_bids(offering, bids, is_qualified=is_qualified)
    if issues:
        raise ValidationFailed(issues)
    return to_levels(offering, bids)
