"""Double-entry postings for a plan's cash and pool: every entry sums to zero fen.

Accounts (debit-positive balances for assets and cash):

- ``cash:collection`` 收款账户 — where the servicer's collections land, swept daily;
- ``cash:custody_principal`` / ``cash:custody_interest`` 托管账户 (principal and interest ledgers);
- ``cash:reserve`` 预留 — reserved for the coming coupon and fees;
- ``cash:originator_support`` — the originator's liquidity support (流动性支持) on its way to the
  plan on a payment date;
- ``cash:account:<id>`` — the deal's accounts other than the collection account;
- ``asset:pool`` — outstanding principal of pool assets; ``asset:purchased_interest`` — interest
  bought with assets (本息买本息);
- ``income:interest``, ``income:fees`` — collected from clients (credit balances);
- ``liability:liquidity_support:<facility>`` — draws to repay; ``equity:shortfall_payment:<facility>`` — 差额支付;
- ``equity:tranche:<id>`` — investors' capital; ``expense:fee:<id>``, ``expense:tax`` — paid by the waterfall;
- ``distribution:interest|principal|residual:<id>`` — paid to investors (absflow.revolving.payment).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CASH_ACCOUNTS = (
    "cash:collection",
    "cash:custody_principal",
    "cash:custody_interest",
    "cash:reserve",
    "cash:originator_support",
)


class UnbalancedEntry(ValueError):
    """An entry whose lines do not sum to zero — a programming error, never user input."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One journal entry: ``lines`` of (account, amount fen; debit > 0, credit < 0) summing to 0."""

    memo: str
    lines: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        if sum(amount for _, amount in self.lines) != 0:
            raise UnbalancedEntry(f"{self.memo}: lines sum to {sum(a for _, a in self.lines)} fen")


def transfer(memo: str, debit: str, credit: str, amount_fen: int) -> Entry | None:
    """Move ``amount_fen`` from ``credit`` to ``debit``; None when the amount is zero."""
    if amount_fen == 0:
        return None
    return Entry(memo, ((debit, amount_fen), (credit, -amount_fen)))


class Ledger:
    """Running balances plus the entries of the current day."""

    def __init__(self, balances: Mapping[str, int] | None = None) -> None:
        self.balances: dict[str, int] = defaultdict(int, balances or {})
        self.entries: list[Entry] = []

    def post(self, entry: Entry | None) -> None:
        if entry is None:
            return
        for account, amount in entry.lines:
            self.balances[account] += amount
        self.entries.append(entry)

    def copy(self) -> Ledger:
        """An independent ledger with the same balances and entries."""
        twin = Ledger(self.balances)
        twin.entries = list(self.entries)
        return twin

    def move(self, memo: str, debit: str, credit: str, amount_fen: int) -> None:
        self.post(transfer(memo, debit, credit, amount_fen))

    def balance(self, account: str) -> int:
        return self.balances.get(account, 0)

    def cash_fen(self) -> int:
        """All cash of the plan: every ``cash:`` account (the deal's own accounts included)."""
        return sum(v for a, v in self.balances.items() if a.startswith("cash:"))

    def snapshot(self) -> dict[str, int]:
        return {k: v for k, v in sorted(self.balances.items()) if v != 0}


def trial_balance(balances: Mapping[str, int]) -> int:
    """Sum of all balances; zero for any ledger built from balanced entries."""
    return sum(balances.values())


def totals_by_account(entries: Iterable[Entry]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for entry in entries:
        for account, amount in entry.lines:
            out[account] += amount
    return dict(out)
