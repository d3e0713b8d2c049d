"""Log explorer API: a plan's entries and an inclusion proof that checks against the signed checkpoint."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import World, bearer

from absflow.access import Role
from absflow.tlog.hashing import leaf_hash
from absflow.tlog.merkle import verify_inclusion


@pytest.fixture(autouse=True)
def log_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ABSFLOW_LOG_KEY", str(tmp_path / "log.key"))


def test_plan_entries_and_a_proof_that_verifies(client: TestClient, world: World) -> None:
    h = bearer(world, Role.INVESTOR)
    listed = client.get(f"/api/v1/plans/{world.plan_a}/log", headers=h).json()
    assert listed["total"] >= 2 and {e["entry_type"] for e in listed["entries"]} >= {"plan.created", "access.granted"}
    entry = listed["entries"][-1]
    bundle = client.get(f"/api/v1/plans/{world.plan_a}/log/{entry['index']}/proof", headers=h)
    assert bundle.status_code == 200, bundle.text
    body = bundle.json()
    note_lines = body["checkpoints"][0].split("\n")
    size, root = int(note_lines[1]), base64.b64decode(note_lines[2])
    e = body["entries"][0]
    assert verify_inclusion(leaf_hash(e["body"].encode()), e["index"], size, [bytes.fromhex(p) for p in e["proof"]],
                            root)
    # another plan's entries and proofs are not there for this investor
    assert client.get(f"/api/v1/plans/{world.plan_b}/log", headers=h).status_code == 404
    other = client.get("/api/v1/plans/ABS-2026-0002/log", headers=bearer(world, Role.REGULATOR)).json()
    assert client.get(f"/api/v1/plans/{world.plan_b}/log/{other['entries'][0]['index']}/proof",
                      headers=h).status_code == 404


def test_internal_control_may_view_but_not_download_proofs(client: TestClient, world: World) -> None:
    h = bearer(world, Role.INTERNAL_CONTROL)
    listed = client.get(f"/api/v1/plans/{world.plan_a}/log", headers=h).json()
    r = client.get(f"/api/v1/plans/{world.plan_a}/log/{listed['entries'][0]['index']}/proof", headers=h)
    assert r.status_code == 403
    assert client.get("/api/v1/log/head", headers=h).json()["size"] > 0


def test_attach_cosignature_and_proof_exports_over_the_api(client: TestClient, world: World, tmp_path: Path) -> None:
    from absflow.tlog.checkpoint import Checkpoint
    from absflow.tlog.note import SIG_COSIGNATURE_V1, SignerKey, add_signature, cosign, parse_note

    admin = bearer(world, Role.ADMIN)
    made = client.post("/api/v1/log/checkpoints", headers=admin)
    assert made.status_code == 201, made.text
    note = made.json()["note"]
    witness = SignerKey.from_seed("auditor.test/witness", bytes(range(32)), SIG_COSIGNATURE_V1)
    text, _ = parse_note(note)
    cosigned = add_signature(note, cosign(Checkpoint.parse(text).text(), witness, 1_700_000_000))
    r = client.post("/api/v1/log/checkpoints/cosignatures", headers=admin,
                    json={"note": cosigned, "witness_keys": [witness.verifier().encode()]})
    assert r.status_code == 200, r.text
    assert "— auditor.test/witness " in r.json()["note"]
    other = SignerKey.from_seed("other.test/witness", bytes(range(1, 33)), SIG_COSIGNATURE_V1)
    r = client.post("/api/v1/log/checkpoints/cosignatures", headers=admin,
                    json={"note": cosigned, "witness_keys": [other.verifier().encode()]})
    assert r.status_code == 422 and "no cosignature that verifies" in r.text
    r = client.get(f"/api/v1/plans/{world.plan_a}/pool/assets/NOPE/log-proof", headers=admin)
    assert r.status_code == 404 and "no logged pool change" in r.text
    r = client.get(f"/api/v1/plans/{world.plan_a}/tapes/999/records/X/proof", headers=admin)
    assert r.status_code == 404
