"""Pool service and CLI on a real database (SQLite, and PostgreSQL when configured).

The pool frame loader is swapped for the golden eight-loan frame here; the import path
itself is covered by the tape tests and tests/pool/test_tape_roundtrip.py.
"""

import json

import polars as pl
import pytest
from test_pool_golden import pool_frame
from test_pool_performance import roll_history, vintage_history
from typer.testing import CliRunner

from absflow.cli import common
from absflow.cli.main import app
from absflow.domain.issues import NotFound, PermissionDenied, ValidationFailed
from absflow.services import plans as plan_service
from absflow.services import pool as pool_service


@pytest.fixture
def frames(monkeypatch: pytest.MonkeyPatch) -> dict[str, pl.DataFrame]:
    """Per plan code: the frame the loader hands out (missing code → empty frame)."""
    pools: dict[str, pl.DataFrame] = {}
    perfs: dict[str, pl.DataFrame] = {}
    empty = pool_frame().clear()
    monkeypatch.setitem(pool_service.LOADERS, "pool", lambda _ctx, code: pools.get(code, empty))
    monkeypatch.setitem(pool_service.LOADERS, "performance",
                        lambda _ctx, code: perfs.get(code, vintage_history().clear()))
    return {"pool": pools, "performance": perfs}  # type: ignore[return-value]


def test_service_summary_strat_concentration(ctx, frames) -> None:
    code = plan_service.create_plan(ctx, name="测试计划", asset_type="margin_loan").code
    frames["pool"][code] = pool_frame()
    s = pool_service.summary(ctx, code)
    assert s.as_dict()["total_balance"] == "200000.01"
    assert s.margin is not None and s.margin.pct_count_below_warning == 0.375
    strat = pool_service.strat(ctx, code, "balance", ["5000", "20000", "60000"])
    assert [r.count for r in strat.rows] == [3, 2, 2, 1]
    assert [x.field for x in pool_service.strats(ctx, code, ["region", "rate"])] == ["region", "rate"]
    assert pool_service.concentration(ctx, code, top_n=1).top_obligors[0].key == "C4"
    with pytest.raises(ValidationFailed):
        pool_service.strat(ctx, code, "colour")


def test_service_errors_unknown_plan_and_empty_pool(ctx, frames) -> None:
    with pytest.raises(NotFound):
        pool_service.summary(ctx, "ABS-2099-9999")
    code = plan_service.create_plan(ctx, name="空池", asset_type="consumer_loan").code
    with pytest.raises(NotFound) as info:
        pool_service.summary(ctx, code)
    assert info.value.code == "empty_pool"
    with pytest.raises(NotFound) as info:
        pool_service.vintage(ctx, code)
    assert info.value.code == "no_performance_history"


def test_service_asks_for_view_first(ctx, frames) -> None:
    code = plan_service.create_plan(ctx, name="测试计划", asset_type="margin_loan").code
    frames["pool"][code] = pool_frame()
    asked: list[tuple[str, str | None]] = []

    def deny(_ctx, action, plan_code):
        asked.append((action, plan_code))
        raise PermissionDenied(f"no {action} on {plan_code}")

    denied = ctx.as_actor("someone", deny)
    for call in (lambda: pool_service.summary(denied, code), lambda: pool_service.strat(denied, code, "rate"),
                 lambda: pool_service.concentration(denied, code), lambda: pool_service.rolls(denied, code)):
        with pytest.raises(PermissionDenied):
            call()
    assert asked == [("view", code)] * 4
    with pytest.raises(PermissionDenied):
        pool_service.strat_workbook(denied, code, "rate")
    assert asked[-1] == ("download", code)


def test_service_vintage_and_rolls(ctx, frames) -> None:
    code = plan_service.create_plan(ctx, name="消费贷", asset_type="consumer_loan").code
    frames["performance"][code] = vintage_history()
    assert pool_service.vintage(ctx, code).curve(pool_service.vintage(ctx, code).vintages[1], "cum_loss_rate") == [
        0.0, 0.375]
    frames["performance"][code] = roll_history()
    assert pool_service.rolls(ctx, code).transitions == 8


@pytest.fixture
def runner(tmp_path, monkeypatch, frames):
    monkeypatch.setenv("ABSFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    common.context.cache_clear()
    yield CliRunner()
    common.context.cache_clear()


def _plan(runner: CliRunner, frames) -> str:
    out = runner.invoke(app, ["deal", "create", "--name", "测试计划", "--asset-type", "margin_loan", "--json"])
    code = json.loads(out.stdout)["code"]
    frames["pool"][code] = pool_frame()
    frames["performance"][code] = vintage_history()
    return code


def test_cli_summary_json_keys_and_table(runner, frames) -> None:
    code = _plan(runner, frames)
    out = runner.invoke(app, ["pool", "summary", code, "--json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert list(body)[:8] == ["count", "total_balance", "wa_rate", "wa_remaining_term_months",
                              "wa_seasoning_months", "min_balance", "max_balance", "avg_balance"]
    assert body["total_balance"] == "200000.01" and body["min_balance"] == "0.01"
    assert body["pct_count_below_liquidation"] == 0.125
    table = runner.invoke(app, ["pool", "summary", code])
    assert table.exit_code == 0 and "200,000.01" in table.stdout


def test_cli_strat_json_xlsx_and_errors(runner, frames, tmp_path) -> None:
    code = _plan(runner, frames)
    out = runner.invoke(app, ["pool", "strat", code, "--by", "balance", "--edges", "5000,20000,60000", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)["rows"]
    assert [r["bucket"] for r in rows] == ["< 5000", "[5000, 20000)", "[20000, 60000)", ">= 60000"]
    assert set(rows[0]) == {"bucket", "count", "pct_count", "balance", "pct_balance", "wa_rate",
                            "wa_remaining_term_months"}
    assert rows[0]["balance"] == "5000.01" and rows[0]["pct_count"] == 0.375
    assert runner.invoke(app, ["pool", "strat", code, "--by", "region"]).exit_code == 0
    target = tmp_path / "strat.xlsx"
    out = runner.invoke(app, ["pool", "strat", code, "--by", "region", "--xlsx", str(target)])
    assert out.exit_code == 0, out.output
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_path(str(target)).get_sheet_by_name("region").to_python()
    assert sheet[2][:2] == ["bucket", "count"] and sheet[3][0] == "广东" and sheet[-1][0] == "total"
    bad = runner.invoke(app, ["pool", "strat", code, "--by", "colour", "--json"])
    assert bad.exit_code == 2
    err = json.loads(bad.stdout)
    assert err["errors"][0]["code"] == "unknown_field" and "colour" in err["message"]
    assert "maintenance_ratio" in err["errors"][0]["message"] and err["errors"][0]["value"] == "colour"
    bad_edges = runner.invoke(app, ["pool", "strat", code, "--by", "rate", "--edges", "0.05,abc"])
    assert bad_edges.exit_code == 2 and "abc" in bad_edges.stderr
    unknown = runner.invoke(app, ["pool", "summary", "ABS-2099-0001"])
    assert unknown.exit_code == 2 and "ABS-2099-0001" in unknown.stderr


def test_cli_empty_pool_exits_2(runner, frames) -> None:
    out = runner.invoke(app, ["deal", "create", "--name", "空池", "--asset-type", "consumer_loan", "--json"])
    code = json.loads(out.stdout)["code"]
    result = runner.invoke(app, ["pool", "summary", code, "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"] == "empty_pool"


def test_cli_concentration_vintage_rolls(runner, frames, tmp_path) -> None:
    code = _plan(runner, frames)
    conc = json.loads(runner.invoke(app, ["pool", "concentration", code, "--top", "2", "--json"]).stdout)
    assert [o["key"] for o in conc["top_obligors"]] == ["C4", "C2"] and conc["top_regions"][0]["key"] == "广东"
    assert runner.invoke(app, ["pool", "concentration", code]).exit_code == 0
    vint = json.loads(runner.invoke(app, ["pool", "vintage", code, "--json"]).stdout)
    assert vint["vintages"][0]["cum_default_rate"] == [0.0, 0.0, 0.125, 0.125]
    table = runner.invoke(app, ["pool", "vintage", code])
    assert table.exit_code == 0 and "12.50%" in table.stdout
    assert runner.invoke(app, ["pool", "vintage", code, "--xlsx", str(tmp_path / "v.xlsx")]).exit_code == 0
    frames["performance"][code] = roll_history()
    rolls = json.loads(runner.invoke(app, ["pool", "rolls", code, "--json"]).stdout)
    assert rolls["count"][0] == [1, 1, 0, 0, 0, 0, 1]
    assert runner.invoke(app, ["pool", "rolls", code]).exit_code == 0
