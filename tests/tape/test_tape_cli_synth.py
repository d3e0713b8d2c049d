"""The tape and synth commands (exit codes, exact JSON), and the synthetic data's promises."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from absflow.cli import common
from absflow.cli.main import app
from absflow.services.synth import shipped_mapping, synthesize, write_synthetic
from absflow.tape import synth
from absflow.tape.schema import TapeKind
from absflow.tape.validate import check_tape

runner = CliRunner()
MAPPINGS = Path(__file__).resolve().parents[2] / "examples" / "mappings"


def test_validate_json_is_exactly_the_documented_shape(tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    result = runner.invoke(app, ["synth", "margin-loans", "--n", "300", "--seed", "3", "--out", str(out),
                                 "--headers", "zh"])
    assert result.exit_code == 0, result.output
    ok = runner.invoke(app, ["tape", "validate", str(out), "--mapping", str(MAPPINGS / "margin_loan_zh.yaml"),
                             "--json"])
    assert ok.exit_code == 0
    assert json.loads(ok.stdout) == {"valid": True, "rows": 300, "errors": []}
    lines = out.read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5].replace(",正常,", ",良好,")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = runner.invoke(app, ["tape", "validate", str(out), "--mapping", str(MAPPINGS / "margin_loan_zh.yaml"),
                              "--json"])
    assert bad.exit_code == 2
    body = json.loads(bad.stdout)
    assert set(body) == {"valid", "rows", "errors"} and body["valid"] is False and body["rows"] == 300
    assert body["errors"] == [{"row": 6, "column": "合约状态", "value": "良好", "code": "unknown_value",
                               "message": body["errors"][0]["message"]}]


def test_validate_with_bad_mapping_exits_2(tmp_path: Path) -> None:
    mapping = tmp_path / "bad.yaml"
    mapping.write_text("asset_type: margin_loan\ncolumns:\n  contract: 合约编号\n", encoding="utf-8")
    tape = tmp_path / "t.csv"
    tape.write_text("a\n1\n", encoding="utf-8")
    result = runner.invoke(app, ["tape", "validate", str(tape), "--mapping", str(mapping), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["errors"][0]["code"] == "unknown_field"


def test_import_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ABSFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    common.context.cache_clear()
    try:
        code = json.loads(runner.invoke(app, ["deal", "create", "--name", "x", "--asset-type", "margin_loan",
                                              "--json"]).stdout)["code"]
        tape = tmp_path / "m.csv"
        write_synthetic(TapeKind.MARGIN_LOAN, 200, 5, tape, headers="zh")
        args = ["tape", "import", code, str(tape), "--mapping", str(MAPPINGS / "margin_loan_zh.yaml"),
                "--cutoff", "2026-06-30", "--json"]
        first = runner.invoke(app, args)
        assert first.exit_code == 0, first.output
        body = json.loads(first.stdout)
        assert (body["valid"], body["rows"], body["errors"], body["already_imported"]) == (True, 200, [], False)
        again = json.loads(runner.invoke(app, args).stdout)
        assert again["already_imported"] is True and again["batch_id"] == body["batch_id"]
        bad = runner.invoke(app, [*args[:2], "ABS-2099-9999", *args[3:]])
        assert bad.exit_code == 2
    finally:
        common.context.cache_clear()


def test_synthesis_is_deterministic_per_seed() -> None:
    a = synthesize(TapeKind.MARGIN_LOAN, 500, 11)
    assert a.equals(synthesize(TapeKind.MARGIN_LOAN, 500, 11))
    assert not a.equals(synthesize(TapeKind.MARGIN_LOAN, 500, 12))
    c = synthesize(TapeKind.CONSUMER_LOAN, 500, 11)
    assert c.equals(synthesize(TapeKind.CONSUMER_LOAN, 500, 11))


def test_margin_distribution_promises() -> None:
    frame = synth.margin_loans(50_000, 1, date(2026, 6, 30))
    ratio = frame.get_column("maintenance_ratio")
    in_band = ((ratio >= 1.8) & (ratio <= 4.0)).mean()
    below_150 = (ratio < 1.5).mean()
    assert in_band is not None and in_band > 0.75  # mostly 180–400%
    assert below_150 is not None and 0.02 < below_150 < 0.10  # a tail below the warning line
    rate = frame.get_column("financing_rate")
    assert rate.min() >= 0.06 and rate.max() <= 0.09  # type: ignore[operator]
    shares = frame.get_column("region").value_counts(normalize=True).sort("proportion", descending=True)
    assert shares.row(0)[0] == "广东" and shares.get_column("proportion").head(5).sum() > 0.45
    principal = frame.get_column("principal_outstanding")
    assert 50_000 < principal.median() < 70_000  # type: ignore[operator]
    # the ratio is consistent with the components, so the tape validates
    assert (frame.get_column("start_date") <= date(2026, 6, 30)).all()


def test_synthetic_tapes_validate_through_the_shipped_mappings(tmp_path: Path) -> None:
    for kind, name in ((TapeKind.MARGIN_LOAN, "margin_loan_zh"), (TapeKind.CONSUMER_LOAN, "consumer_loan_zh"),
                       (TapeKind.LOAN_PERFORMANCE, "loan_performance_zh")):
        path = tmp_path / f"{kind.value}.csv"
        write_synthetic(kind, 2_000, 9, path, headers="zh")
        report = check_tape(path, shipped_mapping(name), cutoff=date(2026, 6, 30))
        assert report.valid, (kind, report.issues[:5])
    gbk = tmp_path / "gbk.csv"
    write_synthetic(TapeKind.MARGIN_LOAN, 100, 9, gbk, headers="zh", encoding="gbk")
    assert "合约编号" in gbk.read_bytes().decode("gbk")


def test_performance_history_balances_roll_forward() -> None:
    history = synth.performance_history(3_000, 4, date(2026, 6, 30))
    ordered = history.sort("loan_id", "period")
    end = (pl.col("begin_balance") - pl.col("scheduled_principal") - pl.col("prepaid_principal")
           - pl.col("defaulted_amount"))
    checked = ordered.with_columns(end.alias("end"), pl.col("begin_balance").shift(-1).over("loan_id").alias("next"))
    assert (checked.get_column("end") >= -0.005).all()
    gaps = checked.filter(pl.col("next").is_not_null() & ((pl.col("end") - pl.col("next")).abs() > 0.011))
    assert gaps.height == 0
    assert set(history.get_column("status").unique()) >= {"performing", "delinquent", "defaulted", "prepaid"}
