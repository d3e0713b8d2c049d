"""Payment dates of daily operations: the deal's waterfall, run by the cash-flow engine.

On a payment date the day's cash (custody principal and interest ledgers and the coupon
reserve) moves to the collection account; :class:`absflow.cashflow.waterfall.WaterfallEngine`
runs the deal's waterfall for the plan's status over the period that ends today, restored
from the plan's books (tranche balances, unpaid interest and fees, liquidity drawn and not
repaid, shortfall payments called so far, the deal's other accounts); every movement the
engine makes becomes a balanced posting, and what is left goes back to custody.

Ledger accounts (see :mod:`absflow.revolving.ledger`): the deal's collection account is
``cash:collection``, any other deal account ``cash:account:<id>``; ``expense:fee:<id>``,
``expense:tax``; ``distribution:interest|principal|residual:<tranche>``;
``liability:liquidity_support:<facility>`` (drawn, not yet repaid);
``equity:shortfall_payment:<facility>`` (差额支付 received, cumulative). Liquidity support
passes through the originator support account ``cash:originator_support`` (流动性支持).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from absflow.cashflow.periods import Period
from absflow.cashflow.waterfall import ActionLine, PeriodResult, PoolPeriod, WaterfallEngine
from absflow.deal import model as m
from absflow.domain.daycount import accrual_fraction
from absflow.domain.money import largest_remainder
from absflow.revolving.ledger import Entry, Ledger

COLLECTION = "cash:collection"
CUSTODY_PRINCIPAL = "cash:custody_principal"
CUSTODY_INTEREST = "cash:custody_interest"
RESERVE = "cash:reserve"
ORIGINATOR_SUPPORT = "cash:originator_support"
#: Cash that joins the collection account on a payment date, in this order.
PAYMENT_SOURCES = (CUSTODY_PRINCIPAL, CUSTODY_INTEREST, RESERVE, ORIGINATOR_SUPPORT)


@dataclass(frozen=True)
class Distribution:
    """What one tranche received on a payment date, and the support drawn for it (fen)."""

    payment_date: date
    tranche_id: str
    interest_due_fen: int
    interest_paid_fen: int
    principal_paid_fen: int
    liquidity_drawn_fen: int
    shortfall_paid_fen: int
    residual_paid_fen: int = 0


@dataclass(frozen=True)
class WaterfallBooks:
    """What the waterfall carries from one payment date to the next (part of the plan state)."""

    tranche_balance_fen: dict[str, int]
    interest_unpaid_fen: dict[str, int]
    fee_unpaid_fen: dict[str, int]
    one_off_fees_paid: tuple[str, ...] = ()


@dataclass(frozen=True)
class Payment:
    """The outcome of one payment date."""

    status: m.DealStatus
    waterfall: str
    distributions: list[Distribution]
    books: WaterfallBooks
    lines: list[ActionLine]
    fees_paid_fen: dict[str, int]
    tax_paid_fen: int
    liquidity_repaid_fen: dict[str, int]


def account_name(deal: m.Deal, account_id: str) -> str:
    """The ledger account of a deal account."""
    return COLLECTION if account_id == deal.collection_account else f"cash:account:{account_id}"


def liquidity_account(facility: str) -> str:
    return f"liability:liquidity_support:{facility}"


def shortfall_account(facility: str) -> str:
    return f"equity:shortfall_payment:{facility}"


def coupon_rates(deal: m.Deal) -> dict[str, Decimal]:
    """Each tranche's coupon rate as the engine computes it (fixed, or index + margin within floor/cap)."""
    engine = WaterfallEngine(deal, ())
    return {t.id: engine.coupon_rate(t) for t in deal.tranches}


def coming_interest_fen(deal: m.Deal, period: Period, books: WaterfallBooks, rates: Mapping[str, Decimal],
                        tranche_ids: tuple[str, ...]) -> dict[str, int]:
    """Interest the waterfall will find due on ``period``'s payment date for ``tranche_ids``: unpaid
    interest carried plus this period's accrual by the tranche's day count (0 if not payable then)."""
    out: dict[str, int] = {}
    for tranche in deal.tranches:
        if tranche.id not in tranche_ids or tranche.id not in period.interest_payable:
            continue
        fraction = accrual_fraction(period.start, period.end, tranche.interest.day_count or deal.dates.day_count)
        accrued = Decimal(books.tranche_balance_fen.get(tranche.id, 0)) * rates.get(tranche.id, Decimal(0)) * fraction
        out[tranche.id] = books.interest_unpaid_fen.get(tranche.id, 0) + int(
            accrued.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    return out


def pay(deal: m.Deal, period: Period, ledger: Ledger, books: WaterfallBooks, status: m.DealStatus, *,
        pool_fen: int, period_interest_fen: int, waterfall_id: str | None = None) -> Payment:
    """Run the deal's waterfall for ``status`` (or ``waterfall_id``, switched to by a trigger) on
    ``period``'s payment date, posting every movement.

    ``pool_fen``: the pool's outstanding principal today (the base of pool-percentage fees and
    reserve targets); ``period_interest_fen``: pool interest collected in the period (the base
    of tax). Raises ``ValueError`` when the deal has no waterfall for ``status``.
    """
    if status not in deal.waterfalls:
        raise ValueError(f"the deal has no waterfall for status {status.value!r} (waterfalls.{status.value})")
    day = period.end
    gathered = {source: max(0, ledger.balance(source)) for source in PAYMENT_SOURCES}
    total = sum(gathered.values())
    _post(ledger, "payment date: custody and reserve to the collection account",
          [(COLLECTION, total), *((source, -amount) for source, amount in gathered.items())])

    # The engine, restored from the plan's books; the daily run has decided the status already.
    waterfalls = dict(deal.waterfalls)
    if waterfall_id is not None:
        waterfalls[status] = deal.waterfall_by_id(waterfall_id)
    engine_deal = replace(deal, triggers=(), waterfalls=waterfalls,
                          periods=replace(deal.periods, initial_status=status))
    engine = WaterfallEngine(engine_deal, [period])
    collection = deal.collection_account
    engine.balances = {a.id: 0 if a.id == collection else ledger.balance(account_name(deal, a.id))
                       for a in deal.accounts}
    engine.balances.setdefault(collection, 0)
    engine.tranche_balance = {t.id: books.tranche_balance_fen.get(t.id, 0) for t in deal.tranches}
    engine.interest_unpaid = {t.id: books.interest_unpaid_fen.get(t.id, 0) for t in deal.tranches}
    engine.fee_unpaid = {f.id: books.fee_unpaid_fen.get(f.id, 0) for f in deal.fees}
    engine.one_off_done = set(books.one_off_fees_paid)
    engine.liquidity_outstanding = {x.id: -ledger.balance(liquidity_account(x.id))
                                    for x in deal.credit_enhancement.liquidity_support}
    engine.shortfall_called = {x.id: -ledger.balance(shortfall_account(x.id))
                               for x in deal.credit_enhancement.shortfall_payment}
    interest = min(max(0, period_interest_fen), total)
    result = engine.step(PoolPeriod(begin_balance_fen=pool_fen, interest_fen=interest, principal_fen=total - interest,
                                    end_balance_fen=pool_fen))
    if result.status is not status:  # pragma: no cover - the engine has no triggers here
        raise AssertionError(f"waterfall ran for {result.status.value}, not {status.value}")

    waterfall = engine_deal.waterfalls[result.status]
    back_principal = gathered[CUSTODY_PRINCIPAL]
    for line in result.lines:
        action = waterfall.actions[line.step - 1]
        source = account_name(deal, action.source or collection)
        debit, credit = _line_accounts(deal, line, action, source)
        if line.kind == "buy_assets":  # kept for the revolving purchases of the coming days
            to_principal = min(line.amount_fen, back_principal)
            back_principal -= to_principal
            _post(ledger, "waterfall: kept for revolving purchases", [
                (CUSTODY_PRINCIPAL, to_principal), (CUSTODY_INTEREST, line.amount_fen - to_principal),
                (source, -line.amount_fen)])
            continue
        memo = f"waterfall step {line.step}: {line.kind} {line.target}"
        if line.kind == "draw_liquidity":  # the originator pays into its support account, which pays the plan
            ledger.move(memo, ORIGINATOR_SUPPORT, credit, line.amount_fen)
            credit = ORIGINATOR_SUPPORT
        ledger.move(memo, debit, credit, line.amount_fen)
    for account_id, fen in result.accounts_end_fen.items():
        if ledger.balance(account_name(deal, account_id)) != fen:
            raise AssertionError(f"payment {day}: ledger {account_name(deal, account_id)} "
                                 f"{ledger.balance(account_name(deal, account_id))} ≠ engine {fen} fen")
    left = ledger.balance(COLLECTION)
    to_principal = min(left, back_principal)
    _post(ledger, "payment date: what is left back to custody", [
        (CUSTODY_PRINCIPAL, to_principal), (CUSTODY_INTEREST, left - to_principal), (COLLECTION, -left)])

    return Payment(
        status=result.status, waterfall=result.waterfall, distributions=_distributions(deal, day, result, waterfall),
        books=WaterfallBooks(dict(engine.tranche_balance), dict(engine.interest_unpaid), dict(engine.fee_unpaid),
                             tuple(sorted(engine.one_off_done))),
        lines=list(result.lines), fees_paid_fen={k: v.paid_fen for k, v in result.fees.items() if v.paid_fen},
        tax_paid_fen=result.tax_paid_fen, liquidity_repaid_fen=dict(result.liquidity_repaid_fen),
    )


def _line_accounts(deal: m.Deal, line: ActionLine, action: m.Action, source: str) -> tuple[str, str]:
    """(debit, credit) of one engine movement."""
    kind, target = line.kind, line.target
    simple = {
        "pay_tax": ("expense:tax", source),
        "pay_fee": (f"expense:fee:{target}", source),
        "pay_interest": (f"distribution:interest:{target}", source),
        "pay_principal": (f"distribution:principal:{target}", source),
        "pay_residual": (f"distribution:residual:{target}", source),
        "transfer": (account_name(deal, target), source),
        "top_up_reserve": (account_name(deal, target), source),
        "release_reserve": (source, account_name(deal, target)),
        "support_account": (source, account_name(deal, target)),
        "draw_liquidity": (source, liquidity_account(target)),
        "shortfall_payment": (source, shortfall_account(target)),
        "repay_liquidity": (liquidity_account(target), source),
        "buy_assets": ("", source),
    }
    if kind not in simple:  # pragma: no cover - a new engine movement must be mapped here first
        raise AssertionError(f"unmapped waterfall movement {kind!r} ({action.kind.value})")
    return simple[kind]


def _distributions(deal: m.Deal, day: date, result: PeriodResult, waterfall: m.Waterfall) -> list[Distribution]:
    """Per tranche: interest due and paid, principal, residual, and the support drawn for it. A draw
    serves the tranches of the action that drew it (and of the facility), split by largest
    remainder on what each was due."""
    drawn: dict[str, int] = {}
    called: dict[str, int] = {}
    covered = {x.id: x.tranches for x in deal.credit_enhancement.liquidity_support}
    covered.update({x.id: x.tranches for x in deal.credit_enhancement.shortfall_payment})
    for line in result.lines:
        if line.kind not in ("draw_liquidity", "shortfall_payment"):
            continue
        action = waterfall.actions[line.step - 1]
        ids = [t for t in (action.tranches or covered[line.target]) if t in covered[line.target]] \
            or list(covered[line.target])
        weights = [max(1, result.tranches[t].interest_due_fen + result.tranches[t].principal_paid_fen) for t in ids]
        target = drawn if line.kind == "draw_liquidity" else called
        for tranche_id, part in zip(ids, largest_remainder(line.amount_fen, weights), strict=True):
            target[tranche_id] = target.get(tranche_id, 0) + part
    out = []
    for tranche in deal.tranches:
        flow = result.tranches[tranche.id]
        amounts = (flow.interest_due_fen, flow.interest_paid_fen, flow.principal_paid_fen,
                   drawn.get(tranche.id, 0), called.get(tranche.id, 0), flow.residual_paid_fen)
        if any(amounts) or tranche.id in result.period.interest_payable:
            out.append(Distribution(day, tranche.id, *amounts))
    return out


def _post(ledger: Ledger, memo: str, lines: list[tuple[str, int]]) -> None:
    kept = tuple((account, amount) for account, amount in lines if amount)
    if kept:
        ledger.post(Entry(memo, kept))
