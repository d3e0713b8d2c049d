"""Concentration limits and the revolving purchase selection.

Limits are shares of the pool's outstanding principal AFTER the purchase, checked in exact
integer fen: ``exposure ≤ floor(max_share × pool)``.

Selection (docs/revolving.md has the full argument):

1. Candidates are ranked by the documented tie-break: maintenance ratio (to 4 decimals)
   descending, financing rate descending, principal descending, asset code ascending.
2. For a denominator guess ``P = pool + T`` the per-client, per-group and per-loan
   allowances are computed; the top-N limit becomes a per-client level ``L``, the largest
   with Σ top-N of ``max(e_c, min(L, e_c + a_c))`` ≤ ``t·P`` (``e`` existing exposure,
   ``a`` what the client's eligible candidates could add).
3. Fill rounds: drop candidates that alone exceed a remaining allowance or the remaining
   cash; keep the prefix (in rank order) that fits every client, group and the cash;
   repeat with what is left (at least one asset is added per round while any fits).
4. The result is verified in exact integers at the actual pool after purchase. Because
   shares fall when the pool grows, a result that passes is final. Otherwise ``T`` is
   lowered to what was bought and the fill repeats; after a few tries ``T = 0`` (limits
   at today's pool, which always verifies when today's pool complies).

Deterministic: the same inputs give the same selection (no randomness, stable sorts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from absflow.deal.model import Concentration, ConcentrationRule
from absflow.revolving.table import AssetTable, BoolArray, Int64Array, group_totals

MAX_FILL_ROUNDS = 50
MAX_DENOMINATOR_TRIES = 4


@dataclass(frozen=True)
class Breach:
    """A limit that does not hold: ``exposure_fen`` above ``cap_fen`` (``key``: client/group/asset)."""

    rule_id: str
    key: str
    exposure_fen: int
    cap_fen: int

    def as_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule_id,
            "key": self.key,
            "exposure_fen": str(self.exposure_fen),
            "cap_fen": str(self.cap_fen),
        }


@dataclass(frozen=True)
class Selection:
    """What to buy: positions into the candidate table, in rank order, and the checks done."""

    chosen: npt.NDArray[np.intp]
    principal_fen: int
    price_fen: int
    cash_fen: int
    pool_before_fen: int
    breaches_before: tuple[Breach, ...]
    breaches_after: tuple[Breach, ...]
    denominator_tries: int
    fill_rounds: int
    notes: tuple[str, ...] = field(default=())

    @property
    def utilization(self) -> float:
        """Share of the cash available that was spent (1.0 when there was no cash)."""
        return 1.0 if self.cash_fen <= 0 else self.price_fen / self.cash_fen


def _cap(share: Fraction, pool_fen: int) -> int:
    return (share.numerator * pool_fen) // share.denominator


def _share(limit: Concentration) -> Fraction:
    return Fraction(str(limit.max_share))


def _codes_for(table: AssetTable, limit: Concentration) -> tuple[Int64Array, int]:
    name = limit.field or ""
    if name not in table.groups:
        raise ValueError(f"{limit.id}: group field {name!r} is not in the data (have: {', '.join(table.groups)})")
    return table.groups[name], len(table.vocab.get(name, ())) or int(table.groups[name].max(initial=-1)) + 1


def _client_count(*tables: AssetTable) -> int:
    size = 0
    for table in tables:
        size = max(size, len(table.vocab.get("client", ())), int(table.client.max(initial=-1)) + 1)
    return size


def _top_n_sum(exposures: Int64Array, n: int) -> int:
    if exposures.size <= n:
        return int(exposures.sum())
    return int(np.partition(exposures, exposures.size - n)[exposures.size - n :].sum())


def check_limits(pool: AssetTable, limits: Sequence[Concentration], added: AssetTable | None = None) -> list[Breach]:
    """Every concentration limit that ``pool`` (outstanding principal) breaks, exactly;
    ``added``: rows counted after ``pool``'s as if appended (a purchase), without building the
    joined table (it shares the vocabularies; the breaches are those of the joined table)."""
    parts = (pool,) if added is None else (pool, added)
    total = sum(int(part.principal_fen.sum()) for part in parts)
    breaches: list[Breach] = []
    clients = _client_count(*parts)
    vocab_client = parts[-1].vocab.get("client", ()) or pool.vocab.get("client", ())
    by_client = _totals([(part.client, part.principal_fen) for part in parts], clients)
    for limit in limits:
        cap = _cap(_share(limit), total)
        if limit.rule is ConcentrationRule.SINGLE_CLIENT_MAX_SHARE:
            for code in map(int, np.flatnonzero(by_client > cap)):
                key = vocab_client[code] if code < len(vocab_client) else str(code)
                breaches.append(Breach(limit.id, key, int(by_client[code]), cap))
        elif limit.rule is ConcentrationRule.TOP_N_CLIENTS_MAX_SHARE:
            top = _top_n_sum(by_client, int(limit.top_n or 1))
            if top > cap:
                breaches.append(Breach(limit.id, f"top {limit.top_n}", top, cap))
        elif limit.rule is ConcentrationRule.SINGLE_GROUP_MAX_SHARE:
            sized = [_codes_for(part, limit) for part in parts]
            size = max(size for _, size in sized)
            totals = _totals([(codes, part.principal_fen) for (codes, _), part in zip(sized, parts, strict=True)], size)
            names = parts[-1].vocab.get(limit.field or "", ()) or pool.vocab.get(limit.field or "", ())
            for code in map(int, np.flatnonzero(totals > cap)):
                breaches.append(
                    Breach(limit.id, names[code] if code < len(names) else str(code), int(totals[code]), cap)
                )
        elif limit.rule is ConcentrationRule.SINGLE_LOAN_MAX_SHARE:
            for part in parts:
                for position in np.flatnonzero(part.principal_fen > cap):
                    breaches.append(Breach(limit.id, part.code[int(position)], int(part.principal_fen[position]), cap))
    return breaches


def _totals(parts: Sequence[tuple[Int64Array, Int64Array]], size: int) -> Int64Array:
    """Amount per code over several (codes, amounts) parts."""
    totals = group_totals(*parts[0], size)
    for codes, amounts in parts[1:]:
        totals += group_totals(codes, amounts, size)
    return totals


def rank_order(candidates: AssetTable) -> npt.NDArray[np.intp]:
    """Positions of ``candidates`` in selection order (the documented tie-break)."""
    ratio = np.nan_to_num(candidates.maintenance_ratio, nan=-1.0, posinf=1e9)
    ratio_key = np.round(ratio * 10_000).astype(np.int64)
    rate_key = np.round(candidates.rate * 1_000_000).astype(np.int64)
    # np.lexsort: last key is primary.
    return np.lexsort((candidates.code_rank, -candidates.principal_fen, -rate_key, -ratio_key)).astype(np.intp)


def _grouped_prefix(keys: Int64Array, amounts: Int64Array, allowance: Int64Array) -> BoolArray:
    """Mask of the rank-order prefix per key whose running total stays within ``allowance[key]``."""
    if keys.size == 0:
        return np.zeros(0, np.bool_)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    running = np.cumsum(amounts[order])
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    offset = np.repeat(running[starts] - amounts[order][starts], np.diff(np.r_[starts, keys.size]))
    within = (running - offset) <= allowance[sorted_keys]
    keep = np.empty(keys.size, np.bool_)
    keep[order] = within
    return keep


def select_purchases(
    candidates: AssetTable,
    pool: AssetTable,
    *,
    eligible: BoolArray,
    price_fen: Int64Array,
    cash_fen: int,
    limits: Sequence[Concentration],
    min_purchase_fen: int = 0,
) -> Selection:
    """Choose candidates to buy with at most ``cash_fen`` so every limit holds afterwards.

    ``eligible``: candidates passing every criterion and not owned by any plan. ``price_fen``:
    what the plan pays per candidate (principal, or principal + accrued interest in
    本息买本息). ``pool`` and ``candidates`` share the client/group vocabularies.
    """
    pool_before = int(pool.principal_fen.sum())
    breaches_before = tuple(check_limits(pool, limits))
    order = rank_order(candidates)
    order = order[eligible[order] & (price_fen[order] > 0)]
    clients = _client_count(pool, candidates)
    client_exposure = group_totals(pool.client, pool.principal_fen, clients)
    potential = group_totals(candidates.client[order], candidates.principal_fen[order], clients)
    group_limits = [lim for lim in limits if lim.rule is ConcentrationRule.SINGLE_GROUP_MAX_SHARE]
    group_exposure = []
    for limit in group_limits:
        codes, size = _codes_for(pool, limit)
        cand_codes, cand_size = _codes_for(candidates, limit)
        group_exposure.append(group_totals(codes, pool.principal_fen, max(size, cand_size)))
    target = min(int(candidates.principal_fen[order].sum()), max(cash_fen, 0))
    notes: list[str] = []
    tries = 0
    while True:
        tries += 1
        denominator = pool_before + target
        chosen, rounds = _fill(
            candidates,
            order,
            price_fen,
            cash_fen,
            limits,
            group_limits,
            group_exposure,
            client_exposure,
            potential,
            denominator,
        )
        bought = int(candidates.principal_fen[chosen].sum())
        breaches_after = tuple(check_limits(pool, limits, added=candidates.take(chosen)))
        new_breaches = _worse(breaches_before, breaches_after)
        if not new_breaches:
            break
        if tries >= MAX_DENOMINATOR_TRIES or target == 0:
            if target == 0:  # pragma: no cover - limits at today's pool always verify
                raise AssertionError(f"selection breaks limits at today's pool: {new_breaches}")
            notes.append("fell back to limits measured on today's pool")
            target = 0
        else:
            target = bought
    price_total = int(price_fen[chosen].sum())
    if min_purchase_fen and 0 < price_total < min_purchase_fen:
        notes.append(f"purchase below the minimum amount {min_purchase_fen} fen: nothing bought")
        chosen = chosen[:0]
        price_total = 0
        breaches_after = breaches_before
    return Selection(
        chosen=chosen,
        principal_fen=int(candidates.principal_fen[chosen].sum()),
        price_fen=price_total,
        cash_fen=max(cash_fen, 0),
        pool_before_fen=pool_before,
        breaches_before=breaches_before,
        breaches_after=breaches_after,
        denominator_tries=tries,
        fill_rounds=rounds,
        notes=tuple(notes),
    )


def _worse(before: Sequence[Breach], after: Sequence[Breach]) -> list[Breach]:
    """Breaches after the purchase that are new, or larger in exposure than before."""
    previous = {(b.rule_id, b.key): b.exposure_fen for b in before}
    return [b for b in after if b.exposure_fen > previous.get((b.rule_id, b.key), -1)]


def _fill(
    candidates: AssetTable,
    order: npt.NDArray[np.intp],
    price_fen: Int64Array,
    cash_fen: int,
    limits: Sequence[Concentration],
    group_limits: Sequence[Concentration],
    group_exposure: Sequence[Int64Array],
    client_exposure: Int64Array,
    potential: Int64Array,
    denominator: int,
) -> tuple[npt.NDArray[np.intp], int]:
    big = np.iinfo(np.int64).max // 4
    client_cap = big
    loan_cap = big
    top_limits = []
    for limit in limits:
        if limit.rule is ConcentrationRule.SINGLE_CLIENT_MAX_SHARE:
            client_cap = min(client_cap, _cap(_share(limit), denominator))
        elif limit.rule is ConcentrationRule.SINGLE_LOAN_MAX_SHARE:
            loan_cap = min(loan_cap, _cap(_share(limit), denominator))
        elif limit.rule is ConcentrationRule.TOP_N_CLIENTS_MAX_SHARE:
            top_limits.append(limit)
    level = client_cap
    for limit in top_limits:
        level = min(
            level,
            _top_n_level(
                client_exposure, potential, int(limit.top_n or 1), _cap(_share(limit), denominator), client_cap
            ),
        )
    client_allow = np.maximum(0, np.minimum(level, big) - client_exposure)
    group_allow = [
        np.maximum(0, _cap(_share(limit), denominator) - exposure)
        for limit, exposure in zip(group_limits, group_exposure, strict=True)
    ]
    group_codes = [candidates.groups[limit.field or ""] for limit in group_limits]
    live = order[candidates.principal_fen[order] <= loan_cap]
    remaining_cash = max(cash_fen, 0)
    chosen_parts: list[npt.NDArray[np.intp]] = []
    rounds = 0
    while live.size and rounds < MAX_FILL_ROUNDS:
        rounds += 1
        principal = candidates.principal_fen[live]
        client = candidates.client[live]
        fits = (principal <= client_allow[client]) & (price_fen[live] <= remaining_cash)
        for codes, allow in zip(group_codes, group_allow, strict=True):
            fits &= principal <= allow[codes[live]]
        live = live[fits]
        if not live.size:
            break
        keep = _grouped_prefix(candidates.client[live], candidates.principal_fen[live], client_allow)
        step = live[keep]
        for codes, allow in zip(group_codes, group_allow, strict=True):
            step = step[_grouped_prefix(codes[step], candidates.principal_fen[step], allow)]
        step = step[np.cumsum(price_fen[step]) <= remaining_cash]
        if not step.size:  # pragma: no cover - the first live candidate always fits
            break
        chosen_parts.append(step)
        amounts = candidates.principal_fen[step]
        np.subtract.at(client_allow, candidates.client[step], amounts)
        for codes, allow in zip(group_codes, group_allow, strict=True):
            np.subtract.at(allow, codes[step], amounts)
        remaining_cash -= int(price_fen[step].sum())
        taken = np.zeros(candidates.principal_fen.shape[0], np.bool_)
        taken[step] = True
        live = live[~taken[live]]
    if not chosen_parts:
        return np.zeros(0, np.intp), rounds
    chosen = np.concatenate(chosen_parts)
    # Report in rank order.
    rank = np.empty(candidates.principal_fen.shape[0], np.int64)
    rank[order] = np.arange(order.size)
    return chosen[np.argsort(rank[chosen], kind="stable")].astype(np.intp), rounds


def _top_n_level(exposure: Int64Array, potential: Int64Array, n: int, cap: int, upper: int) -> int:
    """Largest per-client exposure level L (≤ ``upper``) keeping the top-``n`` sum within ``cap``.

    Clients already above L buy nothing; others reach at most L. When today's pool already
    breaks the limit, L is the n-th largest existing exposure: purchases then leave the
    top-n sum unchanged while the pool grows.
    """

    def top_sum(level: int) -> int:
        reach = np.maximum(exposure, np.minimum(level, exposure + potential))
        return _top_n_sum(reach, n)

    if top_sum(upper) <= cap:
        return upper
    if top_sum(0) > cap:
        existing = np.sort(exposure)[::-1]
        return int(existing[n - 1]) if existing.size >= n else 0
    low, high = 0, upper  # top_sum(low) <= cap < top_sum(high)
    while high - low > 1:
        middle = (low + high) // 2
        if top_sum(middle) <= cap:
            low = middle
        else:
            high = middle
    return low
