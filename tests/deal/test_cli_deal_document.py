"""`absflow deal schema | validate | attach | document` end to end on a SQLite file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from absflow.cli import common
from absflow.cli.main import app

DEAL = Path(__file__).resolve().parents[2] / "examples" / "deals" / "03_qilu_dfzq_1.yaml"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("ABSFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    common.context.cache_clear()
    yield CliRunner()
    common.context.cache_clear()


def test_schema_is_json_schema(runner: CliRunner) -> None:
    out = runner.invoke(app, ["deal", "schema"])
    assert out.exit_code == 0, out.output
    schema = json.loads(out.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "waterfalls" in schema["required"]


def test_bad_document_exits_2_with_every_path(runner: CliRunner, tmp_path: Path) -> None:
    data = yaml.safe_load(DEAL.read_text(encoding="utf-8"))
    data["tranches"][1]["size"] = "-1"
    data["triggers"][0]["metric"] = "weather"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = runner.invoke(app, ["deal", "validate", str(bad), "--json"])
    assert out.exit_code == 2
    fields = {e["field"]: e["code"] for e in json.loads(out.stdout)["errors"]}
    assert fields["tranches[1].size"] == "negative"
    assert fields["triggers[0].metric"] == "unknown_metric"


def test_attach_versions_and_show(runner: CliRunner) -> None:
    code = json.loads(runner.invoke(app, ["deal", "create", "--name", "齐鲁-东方1号", "--asset-type", "margin_loan",
                                          "--json"]).stdout)["code"]
    first = runner.invoke(app, ["deal", "attach", code, str(DEAL), "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["version"] == 1
    again = runner.invoke(app, ["deal", "attach", code, str(DEAL), "--json"])
    assert json.loads(again.stdout)["version"] == 1  # same document: nothing new
    shown = json.loads(runner.invoke(app, ["deal", "document", code, "--json"]).stdout)
    assert shown["document"]["tranches"][0]["size"] == "950000000.00"
