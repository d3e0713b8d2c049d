"""A deal's pool from a tape file (checked by the tape checker, no database) or from a plan's imported tape."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from tests.cashflow.static_deal import CUTOFF, static_deal_text
from typer.testing import CliRunner

from absflow.calendar import default_calendar
from absflow.cashflow.runner import Scenario, run_deal
from absflow.cli import common
from absflow.cli.main import app
from absflow.deal import parse_deal_text
from absflow.domain.issues import ValidationFailed
from absflow.services import dealrun, deals, plans, tapes
from absflow.services.context import Context
from absflow.services.projection import loans_from_frame
from absflow.tape.mapping import default_mapping
from absflow.tape.schema import TapeKind
from absflow.tape.synth import consumer_loans, to_zh

SIZES = ("1500000.00", "300000.00")  # the 300 loans of _loans() hold about 1.93 million yuan
MAPPINGS = Path(__file__).resolve().parents[2] / "examples" / "mappings"



def _loans() -> pl.DataFrame:
    return consumer_loans(300, 11, CUTOFF)


def _write(frame: pl.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.write_csv(path)
    elif path.suffix == ".parquet":
        frame.write_parquet(path)
    else:
        frame.write_excel(path, worksheet="tape")
    return path


def _tape_deal(folder: Path, tape: str, mapping: str) -> Path:
    pool = f"""  source: tape_file
  tape_file: {tape}
  tape_mapping: {mapping}"""
    path = folder / "deal.yaml"
    path.write_text(static_deal_text(pool, *SIZES), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_tape_file_pool_runs_the_deal(cli: CliRunner, tmp_path: Path, suffix: str) -> None:
    frame = _loans()
    _write(frame, tmp_path / f"tape{suffix}")
    deal_path = _tape_deal(tmp_path, f"tape{suffix}", "consumer_loan")
    result = cli.invoke(app, ["cashflow", "run", str(deal_path), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["periods"] == 23 and [r["tranche"] for r in body["summary"]] == ["A", "B"]
    run = dealrun.run_deal_file(common.context(), deal_path)
    # the pool is the tape: its balance to the fen is the first period's begin balance
    tape_fen = round(float(frame["current_balance"].sum()) * 100)
    assert abs(run.periods[0].pool.begin_balance_fen - tape_fen) <= 1
    # the same numbers as the loans read directly from the tape's canonical frame
    mapping = default_mapping(TapeKind.CONSUMER_LOAN)
    loans = loans_from_frame(tapes.tape_pool_frame(tmp_path / f"tape{suffix}", mapping, CUTOFF))
    direct = run_deal(parse_deal_text(deal_path.read_text(encoding="utf-8")), default_calendar(), Scenario(),
                      loans=loans)
    assert [p.tranches["A"].principal_paid_fen for p in direct.periods] == [
        p.tranches["A"].principal_paid_fen for p in run.periods]


def test_tape_file_with_a_mapping_relative_to_the_deal(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "zh.yaml").write_text((MAPPINGS / "consumer_loan_zh.yaml").read_text(encoding="utf-8"),
                                               encoding="utf-8")
    _write(to_zh(TapeKind.CONSUMER_LOAN, _loans()), tmp_path / "zh.csv")
    deal_path = _tape_deal(tmp_path, "zh.csv", "maps/zh.yaml")
    result = cli.invoke(app, ["cashflow", "price", str(deal_path), "--json"])
    assert result.exit_code == 0, result.output
    assert [t["tranche"] for t in json.loads(result.stdout)["tranches"]] == ["A", "B"]


def test_bad_tape_names_row_column_and_path_and_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    frame = _loans().with_columns(
        pl.when(pl.int_range(pl.len()) == 4).then(-5.0).otherwise(pl.col("current_balance")).alias("current_balance"),
        pl.when(pl.int_range(pl.len()) == 9).then(pl.lit("soon")).otherwise(
            pl.col("origination_date").cast(pl.String)).alias("origination_date"),
    )
    _write(frame, tmp_path / "bad.csv")
    deal_path = _tape_deal(tmp_path, "bad.csv", "consumer_loan")
    result = cli.invoke(app, ["cashflow", "run", str(deal_path), "--json"])
    assert result.exit_code == 2, result.output
    errors = json.loads(result.stdout)["errors"]
    where = {(e["row"], e["column"]) for e in errors}
    assert (6, "current_balance") in where  # data row 5 is line 6 (the header is line 1)
    assert (11, "origination_date") in where
    assert all(e["field"].startswith("pool.tape_file") for e in errors)


def test_missing_tape_or_mapping(cli: CliRunner, tmp_path: Path) -> None:
    deal_path = _tape_deal(tmp_path, "nowhere.csv", "no_such_kind")
    result = cli.invoke(app, ["cashflow", "run", str(deal_path), "--json"])
    assert result.exit_code == 2
    errors = {e["field"]: e["code"] for e in json.loads(result.stdout)["errors"]}
    assert errors == {"pool.tape_file": "tape_not_found", "pool.tape_mapping": "mapping_not_found"}
    no_mapping = tmp_path / "d2.yaml"
    no_mapping.write_text(static_deal_text("  source: tape_file\n  tape_file: t.csv", *SIZES), encoding="utf-8")
    result = cli.invoke(app, ["cashflow", "run", str(no_mapping), "--json"])
    assert result.exit_code == 2
    assert [e["field"] for e in json.loads(result.stdout)["errors"]] == ["pool.tape_mapping"]


def _plan_with_tape(ctx: Context, folder: Path) -> str:
    plan = plans.create_plan(ctx, name="消费贷 1号", asset_type="consumer_loan")
    tapes.import_tape(ctx, plan.code, _write(_loans(), folder / "pool.csv"), default_mapping(TapeKind.CONSUMER_LOAN),
                      CUTOFF)
    return plan.code


def test_plan_pool_through_the_service(ctx: Context, tmp_path: Path) -> None:
    code = _plan_with_tape(ctx, tmp_path)
    text = static_deal_text(f"  source: plan\n  plan_code: {code}", *SIZES)
    deals.attach_deal(ctx, code, text)
    run = dealrun.run_plan_deal(ctx, code)
    from_file = _tape_deal(tmp_path, "pool.csv", "consumer_loan")
    expected = dealrun.run_deal_file(ctx, from_file)
    # the imported tape and the same file read directly give the same deal cash flows
    assert [(p.tranches["A"].principal_paid_fen, p.tranches["B"].residual_paid_fen) for p in run.periods] == [
        (p.tranches["A"].principal_paid_fen, p.tranches["B"].residual_paid_fen) for p in expected.periods]
    with pytest.raises(ValidationFailed):
        dealrun.run_deal_file(ctx, _tape_deal(tmp_path, "missing.csv", "consumer_loan"))


def test_plan_pool_through_the_cli(cli: CliRunner, tmp_path: Path) -> None:
    ctx = common.context()
    code = _plan_with_tape(ctx, tmp_path)
    deal_file = tmp_path / "plan-deal.yaml"
    deal_file.write_text(static_deal_text(f"  source: plan\n  plan_code: {code}", *SIZES), encoding="utf-8")
    by_file = cli.invoke(app, ["cashflow", "run", str(deal_file), "--json"])
    assert by_file.exit_code == 0, by_file.output
    deals.attach_deal(ctx, code, deal_file.read_text(encoding="utf-8"))
    by_plan = cli.invoke(app, ["cashflow", "run", "--plan", code, "--json"])
    assert by_plan.exit_code == 0, by_plan.output
    assert json.loads(by_plan.stdout)["summary"] == json.loads(by_file.stdout)["summary"]
    assert json.loads(by_plan.stdout)["periods"] == 23
    unknown = deal_file.with_name("unknown.yaml")
    unknown.write_text(static_deal_text("  source: plan\n  plan_code: ABS-2099-9999", *SIZES), encoding="utf-8")
    missing = cli.invoke(app, ["cashflow", "run", str(unknown), "--json"])
    assert missing.exit_code != 0
