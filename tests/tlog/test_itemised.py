"""Itemised lists in the log: a tape's loan records (``tape.imported`` records_root) and the
assets added to or removed from a pool (``pool.changed``), proven and checked offline."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from absflow.domain.issues import Conflict, NotFound
from absflow.services import plans, pool_changes, record_proofs, tapes
from absflow.services.context import Context
from absflow.services.tape_records import record_leaves, record_texts
from absflow.tape.mapping import default_mapping
from absflow.tlog.bundle import BundleError, verify_bundle
from absflow.tlog.entry import CanonicalError
from absflow.tlog.hashing import leaf_hash
from absflow.tlog.itemised import (
    PoolChange,
    ordered_changes,
    pool_change_bytes,
    pool_change_payload,
    rate_text,
    record_bytes,
)
from absflow.tlog.merkle import root
from absflow.tlog.note import SignerKey

SIGNER = SignerKey.from_seed("absflow.test/log", bytes(range(32)))
KEYS = [SIGNER.verifier()]
CUTOFF = date(2026, 3, 31)
MARGIN = default_mapping("margin_loan")
ROWS = [
    "M1,C1,100000.50,0.0835,2026-01-05,2026-07-05,performing,250000,1000,广东",
    "M2,C1,50000,0.08,2026-02-05,2026-08-05,warning,70000,0,上海",
    "M3,C2,80000,0.00000007,2026-03-01,2026-09-01,performing,300000,500,浙江",
]
HEADER = ("contract_id,client_id,principal_outstanding,financing_rate,start_date,due_date,status,"
          "securities_market_value,cash_balance,region")
DTYPES = {"id": pl.String(), "n": pl.Int64(), "day": pl.Date(), "rate": pl.Float64(), "name": pl.String()}


# --- the fast column-wise leaves equal the definition --------------------------------------------

@settings(max_examples=60)
@given(st.lists(st.tuples(
    st.text(min_size=1, max_size=12), st.none() | st.integers(-2**62, 2**62), st.none() | st.dates(),
    st.none() | st.floats(allow_nan=False, allow_infinity=False, min_value=-1e20, max_value=1e20),
    st.none() | st.text(max_size=20)), min_size=1, max_size=20))
def test_column_wise_record_bytes_equal_the_definition(rows: list[tuple[object, ...]]) -> None:
    frame = pl.DataFrame(rows, schema={"id": pl.String, "n": pl.Int64, "day": pl.Date, "rate": pl.Float64,
                                       "name": pl.String}, orient="row")
    expected = [record_bytes("kind_x", {"id": r[0], "n": r[1], "day": r[2], "rate": rate_text(r[3]),  # type: ignore[arg-type]
                                        "name": r[4]}) for r in rows]
    assert [t.encode("utf-8") for t in record_texts(frame, "kind_x", DTYPES)] == expected
    assert record_leaves(frame, "kind_x", DTYPES) == [leaf_hash(b) for b in expected]


def test_rate_text_is_positional_and_round_trips() -> None:
    assert rate_text(0.0835) == "0.0835"
    assert rate_text(7e-08) == "0.00000007"
    assert rate_text(5.0) == "5.0"
    assert float(rate_text(0.1 + 0.2) or "") == 0.1 + 0.2


def test_pool_change_payload_counts_and_roots() -> None:
    changes = [PoolChange("A", "added", 100, "revolving_purchase"), PoolChange("B", "removed", 250, "repaid")]
    payload = pool_change_payload(changes, "daily.run")
    assert payload["count"] == 2 and payload["added"] == {"count": 1, "amount_fen": 100}
    assert payload["removed"] == {"count": 1, "amount_fen": 250}
    assert payload["root"] == root([leaf_hash(
        b'{"amount_fen":100,"asset_id":"A","change":"added","reason":"revolving_purchase","v":1}'),
        leaf_hash(b'{"amount_fen":250,"asset_id":"B","change":"removed","reason":"repaid","v":1}')]).hex()


# --- tape records ----------------------------------------------------------------------------------

def _import(ctx: Context, tmp_path: Path) -> tuple[str, tapes.ImportResult, Path]:
    ctx.extras["log_signer"] = SIGNER
    code = plans.create_plan(ctx, name="记录证明", asset_type="margin_loan").code
    path = tmp_path / "tape.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    return code, tapes.import_tape(ctx, code, path, MARGIN, CUTOFF), path


def test_import_logs_the_records_root_and_a_record_proves_offline(ctx: Context, tmp_path: Path) -> None:
    code, result, _ = _import(ctx, tmp_path)
    with ctx.engine.connect() as conn:
        body, merkle = conn.execute(text(
            "SELECT e.body, b.merkle_root FROM log_entries e JOIN tape_batches b ON b.log_index = e.idx "
            "WHERE b.id = :b"), {"b": result.batch_id}).one()
    payload = json.loads(bytes(body))["payload"]
    assert payload["records_root"] == merkle and len(merkle) == 64
    bundle = record_proofs.record_bundle(ctx, code, result.batch_id, "M3")
    report = verify_bundle(bundle, KEYS)
    item = bundle["items"][0]
    record = json.loads(item["body"])
    # a third party rebuilds the leaf from the documented layout
    assert record["asset_id"] == "M3" and record["balance_fen"] == 8_000_000 and record["rate"] == "0.00000007"
    assert record["kind"] == "margin_loan" and record["start_date"] == "2026-03-01" and item["index"] == 2
    assert any(line.startswith("item: record 2 of 3 of tape batch") for line in report.proven)
    edited = copy.deepcopy(bundle)
    edited["items"][0]["body"] = item["body"].replace("8000000", "8000001")
    with pytest.raises(BundleError, match="item 0: the proof does not lead to the records root"):
        verify_bundle(edited, KEYS)
    with pytest.raises(NotFound, match="no record 'M9'"):
        record_proofs.record_bundle(ctx, code, result.batch_id, "M9")


def test_changed_rows_need_the_imported_file(ctx: Context, tmp_path: Path) -> None:
    code, result, path = _import(ctx, tmp_path)
    with ctx.engine.begin() as conn:
        conn.execute(text("UPDATE pool_assets SET balance_fen = 1 WHERE asset_id = 'M1'"))
    with pytest.raises(Conflict, match="changed since the import.*--tape"):
        record_proofs.record_bundle(ctx, code, result.batch_id, "M2")
    bundle = record_proofs.record_bundle(ctx, code, result.batch_id, "M1", tape=path)
    verify_bundle(bundle, KEYS)
    assert json.loads(bundle["items"][0]["body"])["balance_fen"] == 10_000_050
    other = tmp_path / "other.csv"
    other.write_text("\n".join([HEADER, *ROWS[:2]]) + "\n", encoding="utf-8")
    with pytest.raises(Exception, match="SHA-256"):
        record_proofs.record_bundle(ctx, code, result.batch_id, "M1", tape=other)


def test_daily_runs_leave_a_tapes_records_provable_from_the_database(ctx: Context) -> None:
    """Daily runs change and remove imported assets; their pool rows stay as imported (the
    changing values and the removal live beside them, migration tape_0006), so a changed and a
    removed asset's records still prove from the stored rows, no file needed."""
    from absflow.services.simulate import simulate

    ctx.extras["log_signer"] = SIGNER
    deal = (Path(__file__).resolve().parents[2] / "examples" / "deals" / "09_pyas_swhy_1.yaml").read_text("utf-8")
    code = simulate(ctx, deal, days=3, seed=5, loans=300).plan_code
    with ctx.engine.connect() as conn:
        batch_id = conn.execute(text("SELECT b.id FROM tape_batches b JOIN plans p ON p.id = b.plan_id "
                                     "WHERE p.code = :c"), {"c": code}).scalar_one()
        removed = conn.execute(text(
            "SELECT r.asset_id FROM pool_asset_removals r JOIN pool_assets a ON a.id = r.pool_asset_id "
            "WHERE a.batch_id = :b ORDER BY r.asset_id LIMIT 1"), {"b": batch_id}).scalar_one()
        changed = conn.execute(text(
            "SELECT s.asset_id FROM pool_asset_states s JOIN pool_assets a ON a.id = s.pool_asset_id "
            "WHERE a.batch_id = :b AND s.balance_fen <> a.balance_fen ORDER BY s.asset_id LIMIT 1"),
            {"b": batch_id}).scalar_one()
    for asset_id in (removed, changed):
        report = verify_bundle(record_proofs.record_bundle(ctx, code, batch_id, asset_id), KEYS)
        assert any(line.startswith("item: record") for line in report.proven), asset_id


# --- pool changes ------------------------------------------------------------------------------------

def test_pool_changes_are_logged_itemised_and_prove_offline(ctx: Context) -> None:
    ctx.extras["log_signer"] = SIGNER
    code = plans.create_plan(ctx, name="池变动", asset_type="margin_loan").code
    from absflow.store.db import transaction

    changes = [PoolChange("X2", "removed", 5_000, "repaid"), PoolChange("X1", "added", 12_345, "revolving_purchase"),
               PoolChange("X3", "removed", 700, "repurchased:ineligible")]
    with transaction(ctx.engine) as session:
        index = pool_changes.log_pool_changes(session, plan_code=code, business_date=date(2026, 4, 1),
                                              recorded_at=ctx.now(), changes=changes, source="daily.run")
        assert pool_changes.log_pool_changes(session, plan_code=code, business_date=date(2026, 4, 1),
                                             recorded_at=ctx.now(), changes=[], source="daily.run") is None
    assert index is not None
    assert [c.asset_id for c in pool_changes.logged_list(ctx, index)] == ["X1", "X2", "X3"]
    bundle = pool_changes.pool_change_bundle(ctx, code, "X3")
    report = verify_bundle(bundle, KEYS)
    assert any("asset X3 was removed from the pool of plan" in line and "on 2026-04-01" in line
               and "amount 700 fen, reason repurchased:ineligible" in line for line in report.proven)
    forged = copy.deepcopy(bundle)
    forged["items"][0]["body"] = forged["items"][0]["body"].replace('"amount_fen":700', '"amount_fen":7000')
    with pytest.raises(BundleError, match="does not lead to the pool_changes root"):
        verify_bundle(forged, KEYS)
    forged = copy.deepcopy(bundle)
    forged["items"][0]["list"] = "records"
    with pytest.raises(BundleError, match="carries no list 'records'"):
        verify_bundle(forged, KEYS)
    with pytest.raises(NotFound, match="no logged pool change of asset 'X9'"):
        pool_changes.pool_change_bundle(ctx, code, "X9")


def test_daily_runs_log_each_days_purchases_and_removals(ctx: Context) -> None:
    from absflow.services.simulate import simulate

    ctx.extras["log_signer"] = SIGNER
    deal = (Path(__file__).resolve().parents[2] / "examples" / "deals" / "09_pyas_swhy_1.yaml").read_text("utf-8")
    code = simulate(ctx, deal, days=4, seed=5, loans=300).plan_code
    with ctx.engine.connect() as conn:
        entries = [(idx, json.loads(bytes(body))) for idx, body in conn.execute(text(
            "SELECT idx, body FROM log_entries WHERE plan_code = :c AND entry_type = 'pool.changed' ORDER BY idx"),
            {"c": code})]
        acquired = dict(conn.execute(text(
            "SELECT asset_id, acquired_on FROM pool_assets a JOIN plans p ON p.id = a.plan_id "
            "WHERE p.code = :c AND batch_id IS NULL"), {"c": code}).all())
        removed = dict(conn.execute(text(
            "SELECT asset_id, removed_on FROM pool_asset_removals r JOIN plans p ON p.id = r.plan_id "
            "WHERE p.code = :c"), {"c": code}).all())
    assert entries and acquired
    logged = {(item.asset_id, item.change, entry["business_date"])
              for idx, entry in entries for item in pool_changes.logged_list(ctx, idx)}
    assert logged == ({(a, "added", str(d)[:10]) for a, d in acquired.items()}
                      | {(a, "removed", str(d)[:10]) for a, d in removed.items()})
    purchased = sorted(acquired)[0]
    report = verify_bundle(pool_changes.pool_change_bundle(ctx, code, purchased), KEYS)
    assert any(f"asset {purchased} was added to the pool" in line and "revolving_purchase" in line
               for line in report.proven)
    # The daily runs' items are found through the assets' pool rows, none through the asset index.
    with ctx.engine.connect() as conn:
        flags = conn.execute(text("SELECT via_pool_rows, COUNT(*) FROM pool_change_items WHERE plan_code = :c "
                                  "GROUP BY via_pool_rows"), {"c": code}).all()
    assert [(bool(flag), count) for flag, count in flags] == [(True, len(logged))]
    gone = sorted(removed)[0]  # an asset of the imported pool that left: its removal proven
    bundle = pool_changes.pool_change_bundle(ctx, code, gone)
    assert [item["entry"] for item in bundle["items"]] == [idx for idx, entry in entries
                                                          if entry["business_date"] == str(removed[gone])[:10]]
    assert any(f"asset {gone} was removed from the pool" in line for line in verify_bundle(bundle, KEYS).proven)
    both = sorted(set(acquired) & set(removed))  # bought and left within the days run: both items
    for asset_id in both[:1]:
        changes = [json.loads(item["body"])["change"] for item in
                   pool_changes.pool_change_bundle(ctx, code, asset_id)["items"]]
        assert changes == ["added", "removed"]


def test_an_asset_found_through_its_pool_rows_and_the_index_gets_every_item(ctx: Context) -> None:
    """A list logged by another caller (not a daily run) is found through the asset index, beside
    the daily run's items of the same asset found through its pool rows: one bundle holds both."""
    from absflow.services.simulate import simulate
    from absflow.store.db import transaction

    ctx.extras["log_signer"] = SIGNER
    deal = (Path(__file__).resolve().parents[2] / "examples" / "deals" / "09_pyas_swhy_1.yaml").read_text("utf-8")
    code = simulate(ctx, deal, days=2, seed=5, loans=300).plan_code
    with ctx.engine.connect() as conn:
        asset_id, removed_on = conn.execute(text(
            "SELECT asset_id, removed_on FROM pool_asset_removals r JOIN plans p ON p.id = r.plan_id "
            "WHERE p.code = :c ORDER BY asset_id LIMIT 1"), {"c": code}).one()
    with transaction(ctx.engine) as session:
        other = pool_changes.log_pool_changes(session, plan_code=code, business_date=date(2026, 4, 1),
                                              recorded_at=ctx.now(), source="correction",
                                              changes=[PoolChange(asset_id, "added", 1, "correction")])
    bundle = pool_changes.pool_change_bundle(ctx, code, asset_id)
    assert len(bundle["items"]) == 2 and bundle["items"][-1]["entry"] == other
    report = verify_bundle(bundle, KEYS)
    assert any(f"asset {asset_id} was removed from the pool" in line and f"on {str(removed_on)[:10]}" in line
               for line in report.proven)


@given(st.text(), st.sampled_from(["added", "removed"]), st.integers(-(10**18), 10**18), st.text())
@settings(max_examples=300)
def test_pool_change_bytes_is_canonical_json(asset_id: str, change: str, amount: int, reason: str) -> None:
    """The directly written leaf data equals canonical JSON of the item, byte for byte."""
    from absflow.tlog.entry import canonical_json
    from absflow.tlog.itemised import PoolChange, pool_change_bytes

    item = PoolChange(asset_id, change, amount, reason)
    assert pool_change_bytes(item) == canonical_json({**item.as_json(), "v": 1})


_TEXTS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_TEXTS, st.sampled_from(["added", "removed"]), st.integers(-10**15, 10**15), _TEXTS),
                max_size=40))
def test_the_frame_path_gives_the_same_payload_and_leaves(items: list[tuple[str, str, int, str]]) -> None:
    """The daily run's frame path (polars text, bulk hashing) equals the per-item definition,
    escapes, non-ASCII text, negative amounts and ties included."""
    changes = [PoolChange(asset, change, amount, reason) for asset, change, amount, reason in items]
    ordered = pool_changes.ordered_frame(pool_changes.changes_frame(changes))
    expected = ordered_changes(changes)
    assert pool_changes.leaf_data(ordered).to_list() == [pool_change_bytes(c).decode() for c in expected]
    payload = pool_changes.change_payload(ordered, "daily.run")
    assert payload == pool_change_payload(expected, "daily.run")


def test_the_frame_path_refuses_an_unknown_change_kind() -> None:
    frame = pool_changes.changes_frame([PoolChange("A", "moved", 1, "x")])
    with pytest.raises(CanonicalError, match="change must be one of"):
        pool_changes.ordered_frame(frame)


def test_daily_changes_take_removed_balances_from_the_start_of_day_pool() -> None:
    pool = pl.DataFrame({"asset_id": ["P1", "P2", "P3"], "balance_fen": [100, 200, 300]})
    purchases = pl.DataFrame({"asset_id": ["N1"], "balance_fen": [50]})
    frame = pool_changes.daily_pool_changes(pool, purchases, [("P3", "repaid"), ("GONE", "repurchased")])
    assert frame.rows() == [(50, "N1", "added", pool_changes.PURCHASE_REASON), (300, "P3", "removed", "repaid"),
                            (0, "GONE", "removed", "repurchased")]
