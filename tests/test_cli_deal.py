"""The CLI end to end in a subprocess-free runner, on a SQLite file."""

import json

import pytest
from typer.testing import CliRunner

from absflow.cli import common
from absflow.cli.main import app


@pytest.fixture
def runner(tmp_path, monkeypatch) -> CliRunner:
    monkeypatch.setenv("ABSFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    common.context.cache_clear()
    yield CliRunner()
    common.context.cache_clear()


def test_create_list_show_advance(runner: CliRunner) -> None:
    out = runner.invoke(app, ["deal", "create", "--name", "测试计划", "--asset-type", "margin_loan", "--json"])
    assert out.exit_code == 0, out.output
    code = json.loads(out.stdout)["code"]
    assert code.startswith("ABS-")
    listing = json.loads(runner.invoke(app, ["deal", "list", "--json"]).stdout)
    assert [p["code"] for p in listing["plans"]] == [code]
    bad = runner.invoke(app, ["deal", "advance", code, "--to", "revolving"])
    assert bad.exit_code == 2
    assert "cannot move" in bad.stderr
    ok = runner.invoke(app, ["deal", "advance", code, "--to", "filed", "--json"])
    assert json.loads(ok.stdout)["status"] == "filed"
    shown = json.loads(runner.invoke(app, ["deal", "show", code, "--json"]).stdout)
    assert [h["to"] for h in shown["history"]] == ["initiated", "filed"]


def test_unknown_asset_type_exits_2_with_json_errors(runner: CliRunner) -> None:
    out = runner.invoke(app, ["deal", "create", "--name", "x", "--asset-type", "bonds", "--json"])
    assert out.exit_code == 2
    body = json.loads(out.stdout)
    assert body["errors"][0]["code"] == "unknown_asset_type"
