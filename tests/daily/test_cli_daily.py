"""`absflow daily load/run`, `revolve show`, `report servicer`, `simulate` on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from absflow.cli import common
from absflow.cli.main import app

DEAL = Path(__file__).resolve().parents[2] / "examples" / "deals" / "09_pyas_swhy_1.yaml"


@pytest.fixture
def runner(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ABSFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ABSFLOW_LOG_KEY", str(tmp_path / "log.key"))
    common.context.cache_clear()
    yield CliRunner()
    common.context.cache_clear()


def test_simulate_load_run_show_and_report(runner: CliRunner, tmp_path: Path) -> None:
    out = runner.invoke(app, ["simulate", str(DEAL), "--days", "3", "--seed", "4", "--loans", "300", "--json"])
    assert out.exit_code == 0, out.output
    sim = json.loads(out.stdout)
    code, last = sim["plan_code"], sim["last_day"]
    assert sim["days_run"] == 3
    shown = json.loads(runner.invoke(app, ["revolve", "show", code, last, "--json"]).stdout)
    assert shown["verification"]["ok"] is True
    # A bad collections file: exit 2, every problem with its row, nothing stored.
    bad = tmp_path / "collections_bad.csv"
    bad.write_text("contract_id,principal,interest,fees\nNOPE,1.00,0,0\nNOPE2,-1,0,0\n", encoding="utf-8")
    failed = runner.invoke(app, ["daily", "load", code, "2017-08-30", str(bad), "--json"])
    assert failed.exit_code == 2, failed.output
    errors = json.loads(failed.stdout or failed.stderr)
    assert "negative" in json.dumps(errors)
    # The next day with an empty indicators file, then run it (and it is idempotent).
    good = tmp_path / "indicators_day.csv"
    pl.DataFrame({"name": ["originator_rating"], "value": ["AA+"]}).write_csv(good)
    loaded = runner.invoke(app, ["daily", "load", code, "2017-08-30", str(good), "--json"])
    assert loaded.exit_code == 0, loaded.output
    ran = runner.invoke(app, ["daily", "run", code, "--through", "2017-08-30", "--json"])
    assert ran.exit_code == 0, ran.output
    assert [r["business_date"] for r in json.loads(ran.stdout)] == ["2017-08-30"]
    again = json.loads(runner.invoke(app, ["daily", "run", code, "2017-08-30", "--json"]).stdout)
    assert again[0]["already_done"] is True
    pdf = tmp_path / "report.pdf"
    report = runner.invoke(app, ["report", "servicer", code, "--from", sim["first_day"], "--to", "2017-08-30",
                                 "--out", str(pdf)])
    assert report.exit_code == 0, report.output
    assert pdf.read_bytes().startswith(b"%PDF")
