"""A witness cosigns on its own machine from bundle files: no database anywhere in these tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from absflow.cli.main import app
from absflow.tlog.bundle import BUNDLE_FORMAT
from absflow.tlog.checkpoint import Checkpoint
from absflow.tlog.hashing import leaf_hash
from absflow.tlog.merkle import consistency_proof, root
from absflow.tlog.note import SIG_COSIGNATURE_V1, SignerKey, open_note, sign_note

LOG = SignerKey.from_seed("absflow.test/log", bytes(range(32)))
OTHER_LOG = SignerKey.from_seed("absflow.test/log", bytes(range(1, 33)))
WITNESS = SignerKey.from_seed("regulator.test/witness", bytes(range(2, 34)), SIG_COSIGNATURE_V1)
HONEST = [leaf_hash(f"entry {i}".encode()) for i in range(20)]
FORKED = HONEST[:2] + [leaf_hash(b"rewritten entry 2")] + HONEST[3:]


def note(leaves: list[bytes], size: int, signer: SignerKey = LOG) -> str:
    return sign_note(Checkpoint("absflow.test/log", size, root(leaves[:size])).text(), [signer])


def bundle(tmp: Path, name: str, leaves: list[bytes], new: int, old: int | None = None, **extra: object) -> Path:
    data: dict[str, object] = {"format": BUNDLE_FORMAT, "checkpoints": [note(leaves, new)]}
    if old is not None:
        data["checkpoints"] = [note(leaves, old), note(leaves, new)]
        data["consistency"] = [{"from": 0, "to": 1,
                                "proof": [p.hex() for p in consistency_proof(old, leaves[:new])]}]
    data.update(extra)
    path = tmp / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def witness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    # no database: a database URL that cannot be opened would make any database use fail
    monkeypatch.setenv("ABSFLOW_DATABASE_URL", f"sqlite:///{tmp_path}/missing-dir/none.db")
    (tmp_path / "log.pub").write_text(LOG.verifier().encode() + "\n", encoding="ascii")
    (tmp_path / "w.key").write_text(WITNESS.encode() + "\n", encoding="ascii")
    runner = CliRunner()

    def cosign(path: Path, *, code: int = 0, key: str = "w.key", log_key: str = "log.pub") -> str:
        result = runner.invoke(app, ["witness", "cosign", str(path), "--log-key", str(tmp_path / log_key),
                                     "--key", str(tmp_path / key), "--state", str(tmp_path / "state.json"),
                                     "--out", str(tmp_path / "cosigned.txt")])
        assert result.exit_code == code, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        return result.output

    return tmp_path, cosign


def state(tmp: Path) -> dict[str, object]:
    return json.loads((tmp / "state.json").read_text(encoding="utf-8"))


def test_cosigns_first_then_only_consistent_extensions(witness) -> None:  # type: ignore[no-untyped-def]
    tmp, cosign = witness
    out = cosign(bundle(tmp, "b4.json", HONEST, 4))
    assert "first cosignature" in out and state(tmp)["size"] == 4
    cosigned = (tmp / "cosigned.txt").read_text(encoding="utf-8")
    verified = open_note(cosigned, [LOG.verifier(), WITNESS.verifier()]).verified
    assert set(verified) == {"absflow.test/log", "regulator.test/witness"} and verified["regulator.test/witness"] > 0
    out = cosign(bundle(tmp, "b9.json", HONEST, 9, old=4))
    assert "consistent with size 4" in out and state(tmp) == {
        "origin": "absflow.test/log", "size": 9, "root": root(HONEST[:9]).hex()}
    # the same checkpoint again is fine (no proof needed between equal sizes with equal roots)
    cosign(bundle(tmp, "b9again.json", HONEST, 9))
    assert not (tmp / "absflow-log.key").exists() and not (tmp / "missing-dir").exists()


def test_refuses_a_fork_a_rollback_and_a_missing_proof(witness) -> None:  # type: ignore[no-untyped-def]
    tmp, cosign = witness
    cosign(bundle(tmp, "b9.json", HONEST, 9))
    before = (tmp / "state.json").read_bytes()
    (tmp / "cosigned.txt").unlink()
    # a log that rewrote entry 2 and kept growing: its proof from 9 is internally valid but not from our root
    out = cosign(bundle(tmp, "fork.json", FORKED, 14, old=9), code=1)
    assert "refused: fork" in out and "size 14" in out and "size 9" in out
    out = cosign(bundle(tmp, "fork9.json", FORKED, 9), code=1)
    assert "refused: fork" in out
    out = cosign(bundle(tmp, "rollback.json", HONEST, 5), code=1)
    assert "refused: rollback" in out
    out = cosign(bundle(tmp, "noproof.json", HONEST, 14), code=1)
    assert "no consistency proof from size 9" in out and "absflow log consistency --from 9" in out
    truncated = json.loads(bundle(tmp, "t.json", HONEST, 14, old=9).read_text(encoding="utf-8"))
    truncated["consistency"][0]["proof"] = truncated["consistency"][0]["proof"][:-1]
    (tmp / "t.json").write_text(json.dumps(truncated), encoding="utf-8")
    assert "refused: fork" in cosign(tmp / "t.json", code=1)
    assert (tmp / "state.json").read_bytes() == before and not (tmp / "cosigned.txt").exists()


def test_bad_inputs_are_named_without_traceback(witness) -> None:  # type: ignore[no-untyped-def]
    tmp, cosign = witness
    other = tmp / "other.json"
    other.write_text(json.dumps({"format": BUNDLE_FORMAT, "checkpoints": [note(HONEST, 3, OTHER_LOG)]}), "utf-8")
    assert "refused: not a valid checkpoint of this log" in cosign(other, code=1)
    (tmp / "bad.json").write_text("{not json", encoding="utf-8")
    assert "is not valid JSON" in cosign(tmp / "bad.json", code=1)
    assert "cannot read bundle" in cosign(tmp / "absent.json", code=1)
    (tmp / "log.key").write_text(LOG.encode() + "\n", encoding="ascii")
    assert "is not a witness key" in cosign(bundle(tmp, "b.json", HONEST, 3), key="log.key", code=1)
    assert "not a verifier key" in cosign(bundle(tmp, "b.json", HONEST, 3), log_key="w.key", code=1)
    (tmp / "state.json").write_text("{}", encoding="utf-8")
    assert "witness state" in cosign(bundle(tmp, "b.json", HONEST, 3), code=1)
    digest = hashlib.sha256((tmp / "state.json").read_bytes()).hexdigest()
    assert digest == hashlib.sha256(b"{}").hexdigest()
