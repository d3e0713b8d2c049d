"""Background jobs: queued, run under the submitter's permissions, progress and errors kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.testclient import TestClient
from tests.web.conftest import World, bearer

from absflow.access import Role
from absflow.domain.issues import Issue, Location, ValidationFailed
from absflow.services import jobs as job_service
from absflow.services.access import as_principal
from absflow.services.context import Context
from absflow.services.users import resolve_api_key


def _count_bytes(ctx: Context, params: Mapping[str, Any], blob: bytes | None,
                 progress: job_service.Progress) -> Mapping[str, Any]:
    progress(50, "half way")
    if params.get("fail"):
        raise ValidationFailed([Issue("bad", "row 3 is bad", Location(row=3, column="金额"), "x")])
    return {"bytes": len(blob or b""), "actor": getattr(ctx.actor, "username", None)}


def test_job_runs_as_submitter_and_reports_progress_and_issues(client: TestClient, world: World) -> None:
    job_service.register("test.count", "edit", _count_bytes)
    principal = resolve_api_key(world.ctx, world.tokens[Role.ORIGINATOR])
    assert principal is not None
    acting = as_principal(world.ctx, principal)
    ok = job_service.submit(acting, "test.count", world.plan_a, {}, b"12345")
    bad = job_service.submit(acting, "test.count", world.plan_a, {"fail": True})
    h = bearer(world, Role.ORIGINATOR)
    assert client.get(f"/api/v1/jobs/{ok.id}", headers=h).json()["status"] == "queued"
    assert job_service.run_pending(world.ctx) == 2
    done = client.get(f"/api/v1/jobs/{ok.id}", headers=h).json()
    assert done["status"] == "done" and done["progress"] == 100
    assert done["result"] == {"bytes": 5, "actor": "originator"}
    failed = client.get(f"/api/v1/jobs/{bad.id}", headers=h).json()
    assert failed["status"] == "failed"
    assert failed["result"]["errors"][0] == {"row": 3, "column": "金额", "field": None, "value": "x", "code": "bad",
                                             "message": "row 3 is bad"}
    # someone without a grant on the plan does not even learn the job exists
    assert client.get(f"/api/v1/jobs/{ok.id}", headers=bearer(world, Role.INVESTOR)).status_code == 200
    other = job_service.submit(world.ctx, "test.count", world.plan_b, {})
    assert client.get(f"/api/v1/jobs/{other.id}", headers=h).status_code == 404


def test_submit_needs_the_kinds_action(world: World) -> None:
    job_service.register("test.count", "edit", _count_bytes)
    principal = resolve_api_key(world.ctx, world.tokens[Role.INVESTOR])
    assert principal is not None
    try:
        job_service.submit(as_principal(world.ctx, principal), "test.count", world.plan_a, {})
    except Exception as exc:  # PermissionDenied
        assert getattr(exc, "status", None) == 403
    else:
        raise AssertionError("an investor may not start an edit job")


def test_every_job_kind_has_a_name_in_both_languages(client: TestClient) -> None:
    """The pages show a job's kind by name (任务 #3 · 资产清单导入), never the raw key."""
    from absflow.web.i18n import translate

    assert {"tape.validate", "tape.import", "cashflow.run", "cashflow.grid", "daily.run", "simulate"} <= set(
        job_service.KINDS)  # the server registered them at start
    for kind in job_service.KINDS:
        if kind.startswith("test."):
            continue  # kinds this test module registers for itself
        zh, en = translate(kind, "zh"), translate(kind, "en")
        assert kind not in (zh, en) and zh != en, kind
