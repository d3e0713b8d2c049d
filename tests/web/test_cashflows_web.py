"""Cash flows through the API and pages: attach a deal, run it as a job, per-tranche results, workbook."""

from __future__ import annotations

import io
import re
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from tests.web.conftest import World, bearer
from tests.web.test_pages import csrf_of, login

from absflow.access import Role
from absflow.services import jobs as job_service

DEAL = Path(__file__).resolve().parents[2] / "examples" / "deals" / "09_pyas_swhy_1.yaml"


def test_attach_run_and_download(client: TestClient, world: World) -> None:
    manager, investor, ic = (bearer(world, r) for r in (Role.PLAN_MANAGER, Role.INVESTOR, Role.INTERNAL_CONTROL))
    text = DEAL.read_text(encoding="utf-8")
    assert client.get(f"/api/v1/plans/{world.plan_a}/deal", headers=manager).status_code == 404
    assert client.put(f"/api/v1/plans/{world.plan_a}/deal", content=text.encode(), headers=investor).status_code == 403
    r = client.put(f"/api/v1/plans/{world.plan_a}/deal", content=text.encode(),
                   headers={**manager, "Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert [t["id"] for t in r.json()["tranches"]] == ["A", "B"]
    bad = client.put(f"/api/v1/plans/{world.plan_a}/deal", content=b"tranches: 3\n",
                     headers={**manager, "Content-Type": "text/plain"})
    assert bad.status_code == 422 and len(bad.json()["errors"]) >= 1
    job = client.post(f"/api/v1/plans/{world.plan_a}/cashflow-runs", json={}, headers=investor)
    assert job.status_code == 202
    job_service.run_pending(world.ctx)
    done = client.get(f"/api/v1/jobs/{job.json()['id']}", headers=investor).json()
    assert done["status"] == "done", done
    summary = {r["tranche"]: r for r in done["result"]["summary"]}
    assert summary["A"]["principal_paid"] == "1900000000.00" and summary["A"]["unpaid_at_end"] == "0.00"
    out = client.get(f"/api/v1/jobs/{job.json()['id']}/output", headers=investor)
    assert out.status_code == 200 and out.content[:2] == b"PK"
    assert len(load_workbook(io.BytesIO(out.content)).sheetnames) >= 2
    # viewing is not downloading
    assert client.get(f"/api/v1/jobs/{job.json()['id']}/output", headers=ic).status_code == 403
    # the run's page shows each tranche with a chart and the Excel link
    login(client, "investor")
    page = client.get(f"/plans/{world.plan_a}/jobs/{job.json()['id']}").text
    assert 'id="tranche-summary"' in page and page.count('data-chart=') == 2 and "download-xlsx" in page


def test_run_from_the_page(client: TestClient, world: World) -> None:
    client.put(f"/api/v1/plans/{world.plan_a}/deal", content=DEAL.read_bytes(),
               headers={**bearer(world, Role.PLAN_MANAGER), "Content-Type": "text/plain"})
    login(client, "plan-manager")
    page = client.get(f"/plans/{world.plan_a}/cashflows")
    assert page.status_code == 200 and "run-cashflows" in page.text
    r = client.post(f"/plans/{world.plan_a}/cashflows", data={"csrf_token": csrf_of(page.text),
                                                             "scenario": "cdr: 0.05\nseverity: 0.4\n"},
                    follow_redirects=False)
    assert r.status_code == 303 and re.search(r"/jobs/\d+$", r.headers["location"])
