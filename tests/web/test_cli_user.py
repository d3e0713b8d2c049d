"""`absflow user …` on the command line: add, grant, list, disable, keys; serve and demo wiring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from absflow.cli import common
from absflow.cli.main import app
from absflow.services import users as user_service

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ABSFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setattr(user_service, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    common.context.cache_clear()
    yield
    common.context.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_user_lifecycle_on_the_command_line(cli_db: None) -> None:
    code, out = run("deal", "create", "--name", "测试计划", "--asset-type", "lease", "--json")
    assert code == 0
    plan = json.loads(out)["code"]
    assert run("user", "add", "wang", "--role", "investor", "--password", "long enough")[0] == 0
    code, out = run("user", "add", "wang", "--role", "investor", "--password", "long enough", "--json")
    assert code == 2 and json.loads(out)["error"] == "conflict"
    code, out = run("user", "add", "X!", "--role", "pilot", "--password", "short", "--json")
    assert code == 2 and {e["field"] for e in json.loads(out)["errors"]} == {"username", "role", "password"}
    assert run("user", "grant", "wang", plan)[0] == 0
    code, out = run("user", "list", "--json")
    users = json.loads(out)["users"]
    assert users[0]["grants"] == {plan: ["download", "view"]}
    code, out = run("user", "key-add", "wang", "--name", "laptop", "--json")
    token = json.loads(out)["token"]
    assert token.startswith("abf_") and user_service.resolve_api_key(common.context(), token) is not None
    assert run("user", "disable", "wang")[0] == 0
    assert user_service.resolve_api_key(common.context(), token) is None
    code, out = run("user", "list", "--json")
    assert json.loads(out)["users"][0]["active"] is False


def test_demo_without_serving_prints_one_user_per_role(cli_db: None) -> None:
    code, out = run("demo", "--no-serve")
    assert code == 0, out
    for name in ("demo-plan-manager", "demo-investor", "demo-regulator", "demo-admin"):
        assert name in out


def test_demo_then_serves_the_app_in_this_process(cli_db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make demo` = `absflow demo --serve`: after the demo, the web app is served on one process
    (the demo's own work stubbed here: the test above runs it)."""
    from types import SimpleNamespace

    import uvicorn

    from absflow.services import demo as demo_service

    served: list[dict[str, object]] = []
    monkeypatch.setattr(demo_service, "run_demo", lambda ctx, progress: SimpleNamespace(tables=[], plan_code="P"))
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append({"app": app, **options}))
    code, out = run("demo", "--serve", "--port", "8123")
    assert code == 0, out
    assert len(served) == 1 and served[0]["port"] == 8123 and served[0]["host"] == "127.0.0.1"
    assert callable(served[0]["app"])  # the app object itself: one process, no worker processes


def test_link_an_investor_user_on_the_command_line(cli_db: None) -> None:
    from tests.services.test_bookbuilding_service import code as credit_code

    assert run("book", "investor-add", "--name", "甲基金", "--type", "fund", "--credit-code", credit_code(3))[0] == 0
    assert run("user", "add", "jia", "--role", "investor", "--password", "long enough")[0] == 0
    assert run("user", "add", "pm", "--role", "plan_manager", "--password", "long enough")[0] == 0
    code, out = run("user", "link-investor", "jia", "甲基金", "--json")
    assert code == 0 and json.loads(out)["investor"] == "甲基金"
    code, out = run("user", "link-investor", "pm", "甲基金", "--json")
    assert code == 2 and json.loads(out)["errors"][0]["code"] == "not_an_investor"
    code, out = run("user", "link-investor", "jia", "乙银行", "--json")
    assert code != 0 and json.loads(out)["error"] == "not_found"
    code, out = run("user", "link-investor", "jia", "--json")
    assert code == 0 and json.loads(out)["investor"] is None
