"""The pure day step on synthetic data: ledger balanced, pool reconciles, cash conserved, limits hold."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from absflow.calendar import default_calendar
from absflow.deal import parse_deal_text
from absflow.revolving.daily import DayContext, opening_state, run_day
from absflow.revolving.daypool import DayPool, RowIndex
from absflow.revolving.ledger import trial_balance
from absflow.revolving.synthetic import MarketConfig, SyntheticMarket

DEAL_FILE = Path(__file__).resolve().parents[2] / "examples" / "deals" / "09_pyas_swhy_1.yaml"
DEAL = parse_deal_text(DEAL_FILE.read_text(encoding="utf-8"))
CAL = default_calendar()
CTX = DayContext.build("T1", DEAL, CAL)


def _apply(pool: pl.DataFrame, result) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    if result.pool_updates.height:
        pool = pool.update(result.pool_updates, on="asset_id", how="left")
    pool = pool.filter(~pl.col("asset_id").is_in([a for a, _ in result.removals]))
    return pl.concat([pool, result.purchases])


def simulate(seed: int, days: int, start_index: int = 0):  # type: ignore[no-untyped-def]
    market = SyntheticMarket(MarketConfig(clients=3000, candidates_per_day=300, mean_loan_yuan=400_000), seed=seed)
    pool = market.initial_pool(4000, DEAL.dates.establishment)
    first = CAL.next_trading_day(DEAL.dates.establishment)
    all_days = CAL.trading_days(first, DEAL.dates.expected_maturity)  # type: ignore[arg-type]
    state = opening_state(CTX, pool, first)
    open_items: dict[str, object] = {}
    ever_owned: set[str] = set(pool.get_column("asset_id").to_list())
    for i, day in enumerate(all_days[start_index : start_index + days]):
        due = [(r.asset_id, r.amount_fen - r.received_fen) for r in open_items.values()  # type: ignore[attr-defined]
               if r.due_on <= day]  # type: ignore[attr-defined]
        nxt = all_days[start_index + i + 1]
        inputs = market.day_inputs(day, pool, nxt, due)
        before_pool = pool
        result = run_day(CTX, day, pool, inputs, state, list(open_items.values()))  # type: ignore[arg-type]
        yield day, before_pool, state, result
        pool = _apply(pool, result)
        bought = result.purchases.get_column("asset_id").to_list()
        assert not (set(bought) & ever_owned), "an asset bought twice"
        ever_owned.update(bought)
        for item in [*result.repurchase_updates, *result.new_repurchases]:
            open_items[item.asset_id] = item
        open_items = {k: v for k, v in open_items.items() if v.settled_on is None}  # type: ignore[attr-defined]
        state = result.state
        assert state.balances.get("asset:pool", 0) == int(pool.get_column("balance_fen").sum()), day


def _expenses(balances: dict[str, int]) -> int:
    return sum(v for k, v in balances.items() if k.startswith(("expense:fee:", "expense:tax")))


def _cash(balances: dict[str, int]) -> int:
    return sum(v for a, v in balances.items() if a.startswith("cash:"))


@settings(max_examples=4, deadline=None)
@given(st.integers(0, 10_000))
def test_days_balance_reconcile_and_conserve_cash(seed: int) -> None:
    _check_days(simulate(seed, 12))


@settings(max_examples=3, deadline=None)
@given(st.integers(0, 10_000))
def test_cash_is_conserved_through_a_payment_date(seed: int) -> None:
    first = CAL.next_trading_day(DEAL.dates.establishment)
    index = len(CAL.trading_days(first, CTX.payment_dates[0])) - 3
    days = list(simulate(seed, 5, start_index=index))
    assert any(result.payment is not None for *_, result in days)
    _check_days(days)


def _check_days(days) -> None:  # type: ignore[no-untyped-def]
    for day, _before_pool, before, result in days:
        after = result.state
        assert trial_balance(after.balances) == 0
        for entry in result.entries:
            assert sum(amount for _, amount in entry.lines) == 0
        inflow = sum(e.principal_fen + e.interest_fen + e.fee_fen for e in result.events
                     if e.kind in ("collection", "liquidation", "repurchase_received"))
        inflow += sum(d.liquidity_drawn_fen + d.shortfall_paid_fen for d in result.distributions)
        outflow = result.delivery.price_fen + sum(d.interest_paid_fen + d.principal_paid_fen + d.residual_paid_fen
                                                  for d in result.distributions)
        outflow += sum(result.payment.liquidity_repaid_fen.values()) if result.payment else 0
        outflow += _expenses(after.balances) - _expenses(before.balances)
        assert _cash(after.balances) - _cash(before.balances) == inflow - outflow, day
        # Limits hold after every purchase; a limit already broken before is never made worse.
        if result.selection is not None:
            before_keys = {(b.rule_id, b.key): b.exposure_fen for b in result.selection.breaches_before}
            for breach in result.selection.breaches_after:
                assert breach.exposure_fen <= before_keys.get((breach.rule_id, breach.key), -1), breach


def test_purchase_respects_limits_and_delivery_list_totals() -> None:
    seen_purchase = False
    for _day, _pool, _state, result in simulate(7, 6):
        if result.purchases.height:
            seen_purchase = True
            assert result.delivery.price_fen == result.selection.price_fen  # type: ignore[union-attr]
            assert len(result.delivery.lines) == result.purchases.height
            if not result.selection.breaches_before:  # type: ignore[union-attr]
                assert result.selection.breaches_after == ()  # type: ignore[union-attr]
    assert seen_purchase


def test_interim_window_blocks_purchases_before_payment_date() -> None:
    payment = CTX.payment_dates[0]
    window_start = CAL.working_days_before(payment, 23)
    start = CAL.trading_days(CAL.next_trading_day(DEAL.dates.establishment), window_start)
    index = len(start) - 3
    states = [(day, r.purchase_state) for day, _p, _s, r in simulate(3, 6, start_index=index)]
    assert any(s == "window" for d, s in states if d >= window_start)
    assert all(s != "purchased" for d, s in states if d >= window_start)


def _decoded(pool: DayPool) -> dict[str, list[str]]:
    return {name: [pool.vocab.texts[name][c] for c in codes.tolist()] for name, codes in pool.codes.items()}


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), start=st.integers(0, 40))
def test_carried_pool_equals_a_rebuild_every_day(seed: int, start: int) -> None:
    """Days run on the carried DayPool (codes, vocabulary and rows updated in place of a rebuild)
    give the same results as days run on the plain frame, and the carried end-of-day pool equals
    the frame with the day's updates, removals and purchases applied, encoded from scratch."""
    for _day, before, _state, result in simulate(seed, 8, start):
        after = result.pool_after
        assert after is not None
        assert after.frame.equals(_apply(before, result))
        rebuilt = DayPool.of(after.frame)
        assert _decoded(after) == _decoded(rebuilt)
        assert after.ids.tolist() == rebuilt.ids.tolist()
        assert all(after.vocab.texts[n] == sorted(after.vocab.texts[n]) for n in after.codes)


def test_carried_pool_gives_identical_day_results() -> None:
    """The same days, once with the frame and once with the carried DayPool: identical results."""
    market = SyntheticMarket(MarketConfig(clients=3000, candidates_per_day=300, mean_loan_yuan=400_000), seed=11)
    pool = market.initial_pool(4000, DEAL.dates.establishment)
    first = CAL.next_trading_day(DEAL.dates.establishment)
    days = CAL.trading_days(first, DEAL.dates.expected_maturity)[:10]  # type: ignore[arg-type]
    state = opening_state(CTX, pool, first)
    carried = DayPool.of(pool)
    open_items: dict[str, object] = {}
    for i, day in enumerate(days):
        due = [(r.asset_id, r.amount_fen - r.received_fen) for r in open_items.values()  # type: ignore[attr-defined]
               if r.due_on <= day]  # type: ignore[attr-defined]
        inputs = market.day_inputs(day, pool, days[i + 1] if i + 1 < len(days) else CAL.next_trading_day(day), due)
        plain = run_day(CTX, day, pool, inputs, state, list(open_items.values()))  # type: ignore[arg-type]
        fast = run_day(CTX, day, carried, inputs, state, list(open_items.values()))  # type: ignore[arg-type]
        for name in ("status", "purchase_state", "reasons", "removals", "events", "entries", "new_repurchases",
                     "repurchase_updates", "state", "metrics", "available_fen", "rejections", "class_balances_fen",
                     "delinquency_fen", "triggers"):
            assert getattr(plain, name) == getattr(fast, name), (day, name)
        assert plain.pool_updates.equals(fast.pool_updates) and plain.purchases.equals(fast.purchases)
        assert plain.delivery.digest() == fast.delivery.digest()
        assert plain.pool_after is not None and fast.pool_after is not None
        assert plain.pool_after.frame.equals(fast.pool_after.frame)
        assert _decoded(plain.pool_after) == _decoded(fast.pool_after)
        carried_rows = fast.pool_after.row_of
        assert {a: carried_rows[a] for a in carried_rows} == dict(RowIndex.of(fast.pool_after.ids.tolist()))
        pool, carried, state = plain.pool_after.frame, fast.pool_after, plain.state
        for item in [*plain.repurchase_updates, *plain.new_repurchases]:
            open_items[item.asset_id] = item
        open_items = {k: v for k, v in open_items.items() if v.settled_on is None}  # type: ignore[attr-defined]


@given(old=st.sets(st.text(max_size=4), max_size=30),
       batches=st.lists(st.lists(st.text(max_size=4), max_size=20), max_size=5))
def test_vocabulary_extension_keeps_text_order_and_remaps_codes(old: set[str], batches: list[list[str]]) -> None:
    from absflow.revolving.daypool import Vocabulary

    vocab = Vocabulary.of_sorted({"client": sorted(old)})
    vocab.series("client")  # kept, then carried through each extension (not rebuilt from the texts)
    seen = set(old)
    for new in batches:
        grown, remaps = vocab.extended({"client": new})
        seen |= set(new)
        assert grown.texts["client"] == sorted(seen)
        assert grown.series("client").to_list() == sorted(seen)
        remap = remaps.get("client")
        for code, text in enumerate(vocab.texts["client"]):
            assert grown.texts["client"][code if remap is None else int(remap[code])] == text
        every = grown.texts["client"]
        assert grown.codes("client", every).tolist() == list(range(len(every)))
        assert grown.codes("client", new).tolist() == [every.index(t) for t in new]
        vocab = grown


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.tuples(st.lists(st.booleans(), max_size=12), st.integers(0, 5)), max_size=12))
@example(steps=[([True] * 8, 0)])  # every asset gone: an empty pool answers -1 for any id
def test_row_index_carried_equals_a_fresh_one(steps: list[tuple[list[bool], int]]) -> None:
    """Removing rows and appending ids day after day (with and without the fresh rebuild)."""
    import numpy as np

    for slack in (0, 1024):
        ids = [f"a{i}" for i in range(8)]
        index = RowIndex.of(ids)
        serial = 8
        for drops, new in steps:
            kept = np.array([not (drops[i] if i < len(drops) else False) for i in range(len(ids))], np.bool_)
            added = [f"a{serial + k}" for k in range(new)]
            serial += new
            after = [a for a, k in zip(ids, kept, strict=True) if k] + added
            RowIndex.SLACK = slack
            previous, previous_ids = index, ids
            try:
                index = index.after(kept, [a for a, k in zip(ids, kept, strict=True) if not k], added,
                                    np.asarray(after, dtype=object))
            finally:
                RowIndex.SLACK = 1024
            ids = after
            assert {a: index[a] for a in index} == {a: i for i, a in enumerate(ids)}
            # the day before's index, used again (its day did not commit), still answers for its pool
            assert {a: previous[a] for a in previous} == {a: i for i, a in enumerate(previous_ids)}
            assert index.rows([*ids, "gone"]).tolist() == [*range(len(ids)), -1]


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_a_settled_day_changes_every_row_the_day_changes(seed: int) -> None:
    """The settlement holds all of the day's changes to existing rows (what the service writes
    while ``finish_day`` runs): the end-of-day pool's kept rows are the start rows with exactly the
    settlement's updates, the removals are the settlement's, ``run_day`` gives the same, and
    finishing a settlement again gives the same result (finish_day changes nothing it is given)."""
    from absflow.revolving.daily import finish_day, settle_day

    market = SyntheticMarket(MarketConfig(clients=3000, candidates_per_day=300, mean_loan_yuan=400_000), seed=seed)
    pool = market.initial_pool(4000, DEAL.dates.establishment)
    days = CAL.trading_days(CAL.next_trading_day(DEAL.dates.establishment), DEAL.dates.expected_maturity)  # type: ignore[arg-type]
    state = opening_state(CTX, pool, days[0])
    owned = set(pool.get_column("asset_id").to_list())
    for day, next_day in zip(days[:4], days[1:5], strict=True):
        inputs = market.day_inputs(day, pool, next_day, [])
        settled = settle_day(CTX, day, pool, inputs, state, [])
        first = finish_day(settled, owned_elsewhere=owned)
        again = finish_day(settled, owned_elsewhere=owned)
        whole = run_day(CTX, day, pool, inputs, state, [], owned_elsewhere=owned)
        for other in (again, whole):
            assert other.state == first.state and other.entries == first.entries and other.events == first.events
            assert other.purchases.equals(first.purchases) and other.removals == first.removals
        assert first.pool_updates is settled.pool_updates and first.removals == settled.removals
        assert first.events[:len(settled.events)] == settled.events
        assert first.pool_updates.height > 0, "a day with collections changes rows"
        gone = [a for a, _ in settled.removals]
        kept_before = pool.filter(~pl.col("asset_id").is_in(gone))
        expected = kept_before.update(settled.pool_updates, on="asset_id", how="left")
        assert first.pool_after is not None
        after = first.pool_after.frame.filter(pl.col("asset_id").is_in(kept_before.get_column("asset_id").implode()))
        assert after.select(expected.columns).equals(expected), day
        pool, state = first.pool_after.frame, first.state
        owned.update(first.purchases.get_column("asset_id").to_list())


def test_repurchase_receipts_settle_part_pay_and_ignore_closed_instructions() -> None:
    """Receipts against open instructions, worked out column by column: paid in full → settled
    and the asset leaves (its balance written off when collections ran ahead of the price); paid
    in part → still open with what came in; a receipt for a settled instruction or for no
    instruction changes nothing; two receipts of one asset count as one payment."""
    from datetime import timedelta

    from absflow.revolving.daily import OpenRepurchase, settle_day

    market = SyntheticMarket(MarketConfig(clients=300, candidates_per_day=30, mean_loan_yuan=400_000), seed=7)
    pool = market.initial_pool(50, DEAL.dates.establishment)
    day = CAL.next_trading_day(DEAL.dates.establishment)
    state = opening_state(CTX, pool, day)
    ids = sorted(pool.get_column("asset_id").to_list())[:5]
    balance = dict(zip(pool.get_column("asset_id").to_list(), pool.get_column("balance_fen").to_list(), strict=True))
    due = day + timedelta(days=5)
    full, part, closed, ahead, stray = ids
    open_items = [
        OpenRepurchase(full, "risk", day, due, balance[full], 700),
        OpenRepurchase(part, "ineligible", day, due, balance[part], 0, received_fen=100),
        OpenRepurchase(closed, "risk", day, due, balance[closed], 0, received_fen=balance[closed], settled_on=day),
        OpenRepurchase(ahead, "risk", day, due, balance[ahead] - 300, 0),  # priced below the balance
    ]
    receipts = pl.DataFrame({"contract_id": [full, part, closed, ahead, stray, full],
                             "amount_fen": [balance[full], 1_000, 5, balance[ahead] - 300, 9, 700]})
    inputs = {"repurchase_receipts": receipts}
    settled = settle_day(CTX, day, pool, inputs, state, open_items)
    updated = settled.updated_repurchases
    assert list(updated) == sorted([full, part, ahead])
    assert updated[full].received_fen == balance[full] + 700 and updated[full].settled_on == day
    assert updated[part].received_fen == 1_100 and updated[part].settled_on is None
    assert updated[ahead].settled_on == day
    assert dict(settled.removals) == {full: "repurchased:risk", ahead: "repurchased:risk"}
    received = {e.asset_id: (e.principal_fen, e.interest_fen) for e in settled.events
                if e.kind == "repurchase_received"}
    # Principal up to the balance, the rest interest; the balance of the asset that stays goes down.
    assert received == {full: (balance[full], 700), part: (1_000, 0), ahead: (balance[ahead] - 300, 0)}
    assert settled.ledger.balance("cash:custody_principal") - state.balances.get("cash:custody_principal", 0) \
        == balance[full] + 1_000 + balance[ahead] - 300
    assert settled.ledger.balance("expense:repurchase_discount") == 300  # the rest of the balance written off
    after = settled.pool_updates.filter(pl.col("asset_id") == part).get_column("balance_fen").to_list()
    assert after == [balance[part] - 1_000]
    assert sum(settled.ledger.balances.values()) == 0
