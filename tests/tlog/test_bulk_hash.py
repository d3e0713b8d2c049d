"""Bulk SHA-256 (absflow.services.bulk_hash): the compiled backend loads where libcrypto 3 is,
agrees with hashlib on every input shape, and the tape import's root does not depend on it."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sqlalchemy import text
from tests.tape.pool_rows import remove_held

from absflow.services import bulk_hash, plans, tapes
from absflow.services.context import Context
from absflow.services.synth import shipped_mapping, write_synthetic
from absflow.services.tape_records import record_texts
from absflow.tape.schema import TapeKind
from absflow.tlog.hashing import leaf_hash
from absflow.tlog.merkle import root


def test_the_compiled_backend_loads_where_libcrypto_3_is() -> None:
    if bulk_hash._libcrypto_path() is None:
        pytest.skip("no libcrypto in this process")
    assert bulk_hash.backend(bulk_hash.COMPILED_FROM) == "compiled", bulk_hash.fallback_reason
    assert bulk_hash.releases_gil(bulk_hash.COMPILED_FROM) and not bulk_hash.releases_gil(10)


def test_leaves_of_strings_slices_and_chunks() -> None:
    texts = ["", "a", "营业部", "x" * 5000, "\x00\x01", *[f"record {i}" for i in range(100)]]
    expected = [leaf_hash(t.encode("utf-8")) for t in texts]
    series = pl.concat([pl.Series("s", texts[:3]), pl.Series("s", texts[3:])], rechunk=False)
    for using in ("compiled", "hashlib"):
        assert bulk_hash.as_list(bulk_hash.leaf_hashes(series, using=using)) == expected
        assert bulk_hash.as_list(bulk_hash.leaf_hashes(series.slice(2, 50), using=using)) == expected[2:52]
        assert bulk_hash.leaf_hashes(series.slice(0, 0), using=using).shape == (0, 32)
    assert bulk_hash.tree_root(np.empty((0, 32), dtype=np.uint8)) == hashlib.sha256(b"").digest()
    with pytest.raises(ValueError, match="null"):
        bulk_hash.leaf_hashes(pl.Series("s", ["a", None]))
    with pytest.raises(ValueError, match=r"\(n, 32\)"):
        bulk_hash.tree_root(np.zeros((3, 31), dtype=np.uint8))


def test_large_inputs_use_the_compiled_loops_and_agree() -> None:
    n = bulk_hash.COMPILED_FROM + 3
    values = pl.Series("v", [f"{{\"id\":{i}}}" for i in range(n)])
    fast = bulk_hash.leaf_hashes(values)
    assert np.array_equal(fast, bulk_hash.leaf_hashes(values, using="hashlib"))
    assert bulk_hash.tree_root(fast) == root(bulk_hash.as_list(fast))


def test_import_root_is_the_same_whichever_backend_hashes(ctx: Context, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A tape hashed batch by batch in a worker thread beside the write (compiled) logs the root
    that the one-record definition gives, as when every batch is hashed in line (hashlib)."""
    cutoff = date(2026, 6, 30)
    path = tmp_path / "tape.csv"
    write_synthetic(TapeKind.MARGIN_LOAN, 3_000, 5, path, cutoff=cutoff, headers="zh", id_prefix="BH")
    mapping = shipped_mapping("margin_loan_zh")
    roots = []
    for threshold in (100, 10**9):  # compiled in a worker thread / hashlib in line
        monkeypatch.setattr(bulk_hash, "COMPILED_FROM", threshold)
        code = plans.create_plan(ctx, name=f"bulk {threshold}", asset_type="margin_loan").code
        result = tapes.import_tape(ctx, code, path, mapping, cutoff, batch_bytes=100_000)  # several batches
        with ctx.engine.begin() as conn:
            roots.append(conn.execute(text("SELECT merkle_root FROM tape_batches WHERE id = :b"),
                                      {"b": result.batch_id}).scalar_one())
            # the next plan imports the same assets: these leave this plan's pool
            remove_held(conn, "pool_asset_id IN (SELECT id FROM pool_assets WHERE batch_id = :b)",
                        {"b": result.batch_id}, cutoff)
    report = tapes.validate_tape(path, mapping, cutoff=cutoff, keep_frame=True)
    assert report.frame is not None and report.frame.height == 3_000
    rows = tapes.asset_frame(TapeKind.MARGIN_LOAN, report.frame)
    texts = record_texts(rows, "margin_loan", tapes.POOL_DTYPES)
    assert roots[0] == roots[1] == root([leaf_hash(t.encode("utf-8")) for t in texts]).hex()


def test_a_loaded_compiled_backend_hashes_a_days_pool_changes_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once loaded (a tape import), the compiled hashing also takes the daily lists of pool
    changes, below COMPILED_FROM; their root is the one hashlib gives."""
    from absflow.services import pool_changes

    frame = pl.DataFrame({"asset_id": [f"C{i:05d}" for i in range(3_000)], "change": ["added", "removed"] * 1_500,
                          "amount_fen": list(range(3_000)), "reason": ["revolving_purchase", "repaid"] * 1_500})
    ordered = pool_changes.ordered_frame(frame)
    monkeypatch.setattr(bulk_hash, "_backend", None)
    assert not bulk_hash.compiled_loaded()
    inline = pool_changes.change_payload(ordered, "daily.run")
    monkeypatch.undo()
    if bulk_hash._libcrypto_path() is None:
        pytest.skip("no libcrypto in this process")
    bulk_hash.backend(bulk_hash.COMPILED_FROM)  # loads it
    assert bulk_hash.compiled_loaded()
    assert pool_changes.change_payload(ordered, "daily.run") == inline
    assert inline["root"] == root([leaf_hash(b) for b in pool_changes.leaf_data(ordered).cast(pl.Binary)]).hex()
