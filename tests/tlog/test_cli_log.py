"""`absflow keys`, `absflow log …` and the offline `absflow verify`, end to end on a SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from absflow.cli import common
from absflow.cli.main import app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ABSFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ABSFLOW_LOG_KEY", str(tmp_path / "log.key"))
    common.context.cache_clear()
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, (args, result.output, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result

    ok = run("keys", "generate", "--name", "absflow.test/log", "--out", str(tmp_path / "log"))
    assert "log.pub" in ok.stdout
    yield tmp_path, run
    common.context.cache_clear()


def make_plan(run) -> str:
    out = run("deal", "create", "--name", "日志测试计划", "--asset-type", "margin_loan", "--json")
    code = json.loads(out.stdout)["code"]
    run("deal", "advance", code, "--to", "filed")
    return code


def test_proof_checkpoint_consistency_and_verify(env) -> None:
    tmp, run = env
    pub = str(tmp / "log.pub")
    code = make_plan(run)
    run("log", "checkpoint", "--out", str(tmp / "cp1.json"))
    make_plan(run)
    run("log", "proof", code, "--entry", "1", "--out", str(tmp / "proof.json"))
    out = run("verify", str(tmp / "proof.json"), "--key", pub)
    assert "entry 1 (plan.status_changed" in out.stdout and "verified" in out.stdout
    run("verify", str(tmp / "cp1.json"), "--key", pub)
    run("log", "consistency", "--from", "2", "--out", str(tmp / "cons.json"))
    out = run("verify", str(tmp / "cons.json"), "--key", pub, "--json")
    body = json.loads(out.stdout)
    assert body["ok"] and any("extends the log at size 2" in p for p in body["proven"])
    # an entry of another plan is refused
    run("log", "proof", "ABS-1999-0001", "--entry", "1", code=2)
    run("log", "consistency", "--from", "3", code=2)


def bad(run, tmp: Path, bundle: object, *keys: str, expect: str) -> None:
    path = tmp / "bad.json"
    path.write_text(bundle if isinstance(bundle, str) else json.dumps(bundle), encoding="utf-8")
    out = run("verify", str(path), *[a for k in keys for a in ("--key", k)], code=1)
    assert expect in " ".join(out.output.split()), out.output
    assert "Traceback" not in out.output


def test_verify_failures_are_clear_and_exit_1(env) -> None:
    tmp, run = env
    pub = str(tmp / "log.pub")
    code = make_plan(run)
    make_plan(run)
    run("log", "proof", code, "--entry", "1", "--out", str(tmp / "proof.json"))
    good = json.loads((tmp / "proof.json").read_text(encoding="utf-8"))
    run("keys", "generate", "--name", "absflow.test/log", "--out", str(tmp / "other"))

    bad(run, tmp, "{not json", pub, expect="not valid JSON")
    bad(run, tmp, good, str(tmp / "other.pub"), expect="no signature from a known key")
    bad(run, tmp, good, str(tmp / "missing.pub"), expect="cannot read key file")
    bad(run, tmp, good, str(tmp / "proof.json"), expect="not a verifier key")
    truncated = json.loads(json.dumps(good))
    truncated["entries"][0]["proof"] = truncated["entries"][0]["proof"][:-1]
    bad(run, tmp, truncated, pub, expect="inclusion proof does not lead to the root")
    future = json.loads(json.dumps(good))
    future["entries"][0]["body"] = future["entries"][0]["body"].replace('"v":1', '"v":2')
    bad(run, tmp, future, pub, expect="unknown entry version 2")
    edited = json.loads(json.dumps(good))
    edited["entries"][0]["body"] = edited["entries"][0]["body"].replace("filed", "issued")
    bad(run, tmp, edited, pub, expect="entry 1: the inclusion proof does not lead")
    forged_note = json.loads(json.dumps(good))
    lines = forged_note["checkpoints"][0].split("\n")
    lines[1] = str(int(lines[1]) + 1)
    forged_note["checkpoints"][0] = "\n".join(lines)
    bad(run, tmp, forged_note, pub, expect="does not verify")
    bad(run, tmp, {"format": "x"}, pub, expect="unknown bundle format")
    bad(run, tmp, [], pub, expect="a bundle is a JSON object")
    no_proof = json.loads(json.dumps(good))
    no_proof["entries"][0]["proof"] = "abc"
    bad(run, tmp, no_proof, pub, expect="a proof is a list")
    no_key = run("verify", str(tmp / "proof.json"), code=1)
    assert "--key" in no_key.output


def test_audit_and_witness_cosigning(env) -> None:
    tmp, run = env
    pub = str(tmp / "log.pub")
    make_plan(run)
    run("log", "checkpoint", "--out", str(tmp / "cp.json"))
    run("keys", "generate", "--name", "custodian.example/witness", "--witness", "--out", str(tmp / "w"))
    state = str(tmp / "w-state.json")
    out = run("log", "cosign", "--witness-key", str(tmp / "w.key"), "--state", state, "--log-key", pub)
    assert "cosigned checkpoint" in out.stdout
    make_plan(run)
    run("log", "checkpoint")
    run("log", "cosign", "--witness-key", str(tmp / "w.key"), "--state", state, "--log-key", pub)
    run("log", "checkpoint", "--out", str(tmp / "cp2.json"))
    out = run("verify", str(tmp / "cp2.json"), "--key", pub, "--key", str(tmp / "w.pub"))
    assert "cosigned by custodian.example/witness" in out.stdout
    # a witness whose state says the log had another history refuses (a fork)
    forked = json.loads(Path(state).read_text(encoding="utf-8"))
    forked["root"] = "00" * 32
    Path(state).write_text(json.dumps(forked), encoding="utf-8")
    out = run("log", "cosign", "--witness-key", str(tmp / "w.key"), "--state", state, "--log-key", pub, code=2)
    assert "fork" in " ".join(out.output.split())
    out = run("log", "audit", "--key", pub)
    assert "log intact" in out.stdout
    with sqlite3.connect(tmp / "cli.db") as conn:
        conn.execute("UPDATE log_entries SET plan_code = 'ABS-2026-9999' WHERE idx = 2")
    out = run("log", "audit", "--key", pub, code=1)
    assert "first bad entry: 2" in " ".join(out.output.split())


def test_offline_witness_round_trip_and_attach(env) -> None:
    tmp, run = env
    pub = str(tmp / "log.pub")
    make_plan(run)
    run("log", "checkpoint", "--out", str(tmp / "cp1.json"))
    run("keys", "generate", "--name", "rating.example/witness", "--witness", "--out", str(tmp / "w"))
    witness = ("--log-key", pub, "--key", str(tmp / "w.key"), "--state", str(tmp / "w-state.json"))
    run("witness", "cosign", str(tmp / "cp1.json"), *witness, "--out", str(tmp / "signed1.txt"))
    out = run("log", "attach-cosignature", str(tmp / "signed1.txt"), "--witness", str(tmp / "w.pub"))
    assert "now carries the cosignature" in out.stdout
    size = json.loads((tmp / "w-state.json").read_text(encoding="utf-8"))["size"]
    make_plan(run)
    run("log", "consistency", "--from", str(size), "--out", str(tmp / "cons.json"))
    run("witness", "cosign", str(tmp / "cons.json"), *witness, "--out", str(tmp / "signed2.txt"))
    run("log", "attach-cosignature", str(tmp / "signed2.txt"), "--witness", str(tmp / "w.pub"))
    run("log", "attach-cosignature", str(tmp / "signed2.txt"), "--witness", str(tmp / "w.pub"))  # idempotent
    run("log", "checkpoint", "--out", str(tmp / "cp2.json"))
    note = json.loads((tmp / "cp2.json").read_text(encoding="utf-8"))["checkpoints"][0]
    assert note.count("— rating.example/witness ") == 1
    out = run("verify", str(tmp / "cp2.json"), "--key", pub, "--key", str(tmp / "w.pub"))
    assert "cosigned by rating.example/witness" in out.stdout
    # a note without a valid cosignature of the given witness is refused, nothing attached
    out = run("log", "attach-cosignature", str(tmp / "signed2.txt"), "--witness", pub, code=2)
    assert "no cosignature that verifies" in " ".join(out.output.split())
    (tmp / "junk.txt").write_text("not a note", encoding="utf-8")
    out = run("log", "attach-cosignature", str(tmp / "junk.txt"), "--witness", str(tmp / "w.pub"), code=2)
    assert "not a cosigned checkpoint" in " ".join(out.output.split())
    out = run("log", "audit", "--key", pub)
    assert "log intact" in out.stdout


def test_record_and_pool_proof_errors_exit_without_traceback(env) -> None:
    tmp, run = env
    code = make_plan(run)
    out = run("log", "record-proof", code, "--batch", "7", "--record", "M1", code=2)
    assert "has no tape batch 7" in " ".join(out.output.split())
    out = run("log", "pool-proof", code, "--asset", "M1", code=2)
    assert "no logged pool change of asset 'M1'" in " ".join(out.output.split())
