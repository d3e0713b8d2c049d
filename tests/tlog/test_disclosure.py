"""Selective disclosure: salted per-field commitments, investor disclosures, the masked tape."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from absflow.services import tlog as tlog_service
from absflow.services.context import Context
from absflow.tlog import inclusion_proof, root
from absflow.tlog.bundle import BundleError, verify_bundle
from absflow.tlog.disclosure import (
    DisclosureError,
    commit_record,
    derive_salt,
    disclose,
    masked_pool_summary,
    verify_disclosure,
)
from absflow.tlog.note import SignerKey

SECRET = bytes(range(32))
SIGNER = SignerKey.from_seed("absflow.test/log", bytes(range(32)))
REGIONS = ["广东", "上海", "浙江"]


def loan(i: int) -> dict[str, object]:
    return {
        "loan_id": f"L{i:05d}",
        "obligor_id": f"ID-3101{i:08d}",
        "balance": Decimal(10_000 + 137 * i) / 100,
        "rate": Decimal("0.0595") + Decimal(i % 7) / 1000,
        "region": REGIONS[i % 3],
        "status": "current" if i % 5 else "overdue_1_30",
        "origination_date": date(2025, 1 + i % 12, 1),
        "original_term_months": 12,
    }


def tape(n: int) -> tuple[list[dict[str, object]], list[bytes]]:
    records = [loan(i) for i in range(n)]
    return records, [commit_record(r, SECRET, str(r["loan_id"])).leaf_hash for r in records]


def test_salts_are_per_field_and_128_bit() -> None:
    salts = {derive_salt(SECRET, "L1", f) for f in ("balance", "rate", "region", "status")}
    salts |= {derive_salt(SECRET, "L2", "balance"), derive_salt(bytes(32), "L1", "balance")}
    assert len(salts) == 6 and all(len(s) == 16 for s in salts)


def test_a_disclosure_verifies_and_reveals_only_chosen_fields() -> None:
    records, leaves = tape(10)
    d = disclose(records[3], secret=SECRET, record_key="L00003", index=3, size=10, proof=inclusion_proof(3, leaves))
    values = verify_disclosure(json.loads(json.dumps(d)), root(leaves), 10)
    assert values == {"balance": "104.11", "rate": "0.0625", "region": "广东", "status": "current"}
    text = json.dumps(d, ensure_ascii=False)
    assert "ID-3101" not in text and "L00003" not in text  # identity and id stay hidden
    assert set(d["hidden"]) == {"loan_id", "obligor_id", "origination_date", "original_term_months"}
    with pytest.raises(DisclosureError, match="borrower identity"):
        disclose(records[3], secret=SECRET, record_key="L00003", index=3, size=10, proof=[],
                 reveal=["balance", "obligor_id"])


def corrupt(d: dict, path: tuple, value: object) -> dict:
    d = json.loads(json.dumps(d))
    target = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return d


def test_a_changed_value_salt_hash_or_proof_is_rejected() -> None:
    records, leaves = tape(10)
    r = root(leaves)
    d = disclose(records[3], secret=SECRET, record_key="L00003", index=3, size=10, proof=inclusion_proof(3, leaves))
    salt = d["revealed"]["rate"]["salt"]
    hidden = d["hidden"]["obligor_id"]
    for changed in (
        corrupt(d, ("revealed", "balance", "value"), "1000000.00"),
        corrupt(d, ("revealed", "rate", "salt"), ("0" if salt[0] != "0" else "1") + salt[1:]),
        corrupt(d, ("hidden", "obligor_id"), ("0" if hidden[0] != "0" else "1") + hidden[1:]),
        corrupt(d, ("proof",), d["proof"][:-1]),
        corrupt(d, ("proof",), list(reversed(d["proof"]))),
        corrupt(d, ("index",), 4),
        corrupt(d, ("size",), 11),
        corrupt(d, ("revealed", "rate", "salt"), "zz"),
        corrupt(d, ("hidden",), {}),
        corrupt(d, ("revealed",), "x"),
    ):
        with pytest.raises(DisclosureError):
            verify_disclosure(changed, r, 10)
    with pytest.raises(DisclosureError):
        verify_disclosure(d, leaves[0], 10)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.data())
def test_any_record_any_field_subset_verifies(n: int, data: st.DataObject) -> None:
    records, leaves = tape(n)
    i = data.draw(st.integers(0, n - 1))
    fields = data.draw(st.lists(st.sampled_from(["balance", "rate", "region", "status", "origination_date"]),
                                unique=True))
    d = disclose(records[i], secret=SECRET, record_key=str(records[i]["loan_id"]), index=i, size=n,
                 proof=inclusion_proof(i, leaves), reveal=fields)
    assert set(verify_disclosure(d, root(leaves), n)) == set(fields)


def test_committed_tape_masked_export_and_offline_check(ctx: Context) -> None:
    ctx.extras["log_signer"] = SIGNER
    records, _ = tape(25)
    first = tlog_service.commit_records(ctx, "ABS-2026-0001", "batch-1", records)
    again = tlog_service.commit_records(ctx, "ABS-2026-0001", "batch-1", records)
    assert again == first
    bundle = tlog_service.disclosure_bundle(ctx, "ABS-2026-0001", "batch-1", records)
    report = verify_bundle(json.loads(json.dumps(bundle)), [SIGNER.verifier()])
    assert len(report.disclosed) == 25
    assert any("pool figures recomputed from it match the published ones (count, total_balance, wa_rate, by_region, "
               "by_status)" in line for line in report.proven)
    published = report.entries[first.log_index]["payload"]["summary"]
    assert published == masked_pool_summary([{k: str(r[k]) for k in ("balance", "rate", "region", "status")}
                                            for r in records])
    assert published["count"] == 25 and Decimal(published["total_balance"]) == sum(r["balance"] for r in records)
    # a masked row whose balance was edited fails on its own proof
    bad = json.loads(json.dumps(bundle))
    bad["disclosures"][4]["revealed"]["balance"]["value"] = "1.00"
    with pytest.raises(BundleError, match="disclosure 4"):
        verify_bundle(bad, [SIGNER.verifier()])
    # one investor's selection
    one = tlog_service.disclosure_bundle(ctx, "ABS-2026-0001", "batch-1", records, record_keys=["L00007"],
                                         fields=["balance", "status"])
    report = verify_bundle(one, [SIGNER.verifier()])
    assert report.disclosed[0]["fields"] == {"balance": str(records[7]["balance"]), "status": "current"}


def test_changed_records_conflict_with_the_commitment(ctx: Context) -> None:
    ctx.extras["log_signer"] = SIGNER
    records, _ = tape(5)
    tlog_service.commit_records(ctx, "ABS-2026-0001", "batch-1", records)
    records[2]["balance"] = Decimal("1.00")
    from absflow.domain.issues import Conflict

    with pytest.raises(Conflict):
        tlog_service.commit_records(ctx, "ABS-2026-0001", "batch-1", records)
    with pytest.raises(Conflict):
        tlog_service.disclosure_bundle(ctx, "ABS-2026-0001", "batch-1", records)


def test_imported_tape_commit_and_masked_export_through_the_cli(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from absflow.cli import common
    from absflow.cli.main import app
    from absflow.services import synth as synth_service
    from absflow.services.context import open_context

    monkeypatch.setenv("ABSFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ABSFLOW_LOG_KEY", str(tmp_path / "log.key"))
    common.context.cache_clear()
    runner = CliRunner()
    ctx = open_context()
    from absflow.services import plans as plan_service

    plan = plan_service.create_plan(ctx, name="披露测试计划", asset_type="margin_loan")
    imported, _ = synth_service.import_demo_tape(ctx, plan.code, rows=60)
    out = runner.invoke(app, ["log", "commit-tape", plan.code, "--batch", str(imported.batch_id), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["records"] == 60
    masked = tmp_path / "masked.json"
    out = runner.invoke(app, ["log", "disclose", plan.code, "--batch", str(imported.batch_id), "--out", str(masked)])
    assert out.exit_code == 0, out.output
    text = masked.read_text(encoding="utf-8")
    # obligor field hashes only: no asset id (they start "SW<plan digits>-") and no obligor value
    asset_prefix = "SW" + plan.code.removeprefix("ABS-").replace("-", "") + "-"
    assert "obligor" in text and asset_prefix not in text
    out = runner.invoke(app, ["verify", str(masked), "--key", str(tmp_path / "log.pub")])
    assert out.exit_code == 0, out.output
    assert "all 60 records disclosed; pool figures recomputed from it match the published ones" in out.stdout
    # the figures an investor recomputes from the masked tape equal the pool summary absflow publishes
    from absflow.services import pool as pool_service
    from absflow.tlog.bundle import verify_bundle
    from absflow.tlog.disclosure import masked_pool_summary
    from absflow.tlog.note import VerifierKey

    report = verify_bundle(json.loads(text), [VerifierKey.parse((tmp_path / "log.pub").read_text())])
    recomputed = masked_pool_summary([d["fields"] for d in report.disclosed])
    published = pool_service.summary(ctx, plan.code)
    assert recomputed["count"] == published.count == 60
    assert Decimal(recomputed["total_balance"]) == published.total_balance
    assert published.wa_rate is not None
    assert abs(Decimal(recomputed["wa_rate"]) - Decimal(repr(published.wa_rate))) < Decimal("1e-8")
    refused = runner.invoke(app, ["log", "disclose", plan.code, "--batch", str(imported.batch_id),
                                  "--field", "obligor_id"])
    assert refused.exit_code == 2 and "borrower identity" in refused.output
    common.context.cache_clear()
