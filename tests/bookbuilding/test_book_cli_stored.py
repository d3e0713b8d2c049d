"""The stored-book commands end to end on a SQLite file (the real clock: the window spans now)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from absflow.bookbuilding.investor import credit_code_check_char
from absflow.cli import common
from absflow.cli.main import app


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("ABSFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    common.context.cache_clear()
    yield CliRunner()
    common.context.cache_clear()


def _ok(runner: CliRunner, *args: str) -> dict:
    out = runner.invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def test_stored_book_commands(runner: CliRunner, tmp_path: Path) -> None:
    plan = _ok(runner, "deal", "create", "--name", "命令行测试计划", "--asset-type", "margin_loan")["code"]
    for n, name in enumerate(["A", "B", "C", "D", "E"]):
        first = f"91310000MA1C{n:05d}"
        _ok(runner, "book", "investor-add", "--name", name, "--type", "fund",
            "--credit-code", first + credit_code_check_char(first), "--contact", "李四,13900000000")
    bad = runner.invoke(app, ["book", "investor-add", "--name", "X", "--type", "fund", "--credit-code",
                              "91310000MA1C000000", "--json"])
    assert bad.exit_code == 2 and json.loads(bad.stdout)["errors"][0]["code"] == "credit_code_checksum"
    now = datetime.now(UTC)
    _ok(runner, "book", "offering-create", plan, "--tranche", "A", "--security-name", "测试优A", "--size", "100000",
        "--rate-min", "2", "--rate-max", "3.5", "--bid-open", (now - timedelta(hours=1)).isoformat(),
        "--bid-close", (now + timedelta(hours=1)).isoformat(),
        "--payment-deadline", (now + timedelta(days=2)).isoformat(),
        "--payee-name", "募集专户", "--payee-bank", "示例银行", "--payee-account", "123")
    bids = tmp_path / "bids.csv"
    bids.write_text("investor,rate,amount\nA,2.60,20000\nA,2.70,10000\nB,2.65,30000\nC,2.70,40000\n"
                    "C,2.80,20000\nD,2.70,20000\nE,2.75,30000\n", encoding="utf-8")
    imported = _ok(runner, "book", "bids-import", plan, "--tranche", "A", "--bids", str(bids))["bids"]
    assert len(imported) == 7
    summary = _ok(runner, "book", "summary", plan, "--tranche", "A")
    figures = (summary["marginal_rate"], summary["total_multiple"], summary["marginal_multiple"])
    assert figures == ("2.70", "1.70", "1.40")
    assert [a["allocated"] for a in summary["allocations"]] == ["27100", "30000", "28600", "14300"]
    e_bid = next(b["id"] for b in imported if b["investor"] == "E")
    amended = _ok(runner, "book", "amend", plan, "--tranche", "A", "--bid-id", str(e_bid), "--rate", "2.60")["bids"][0]
    _ok(runner, "book", "withdraw", plan, "--tranche", "A", "--bid-id", str(amended["id"]))
    history = _ok(runner, "book", "history", plan, "--tranche", "A", "--investor", "E")["bids"]
    assert [h["status"] for h in history] == ["amended", "withdrawn"]
    forecast = _ok(runner, "book", "forecast", plan, "--tranche", "A")
    assert forecast["covered_now"] is True and float(forecast["high"]) <= 2.70
    early = runner.invoke(app, ["book", "finalize", plan, "--tranche", "A", "--json"])
    assert early.exit_code == 2 and json.loads(early.stdout)["error"] == "conflict"
    assert _ok(runner, "book", "backtest")["coverage"] == "1.000"
