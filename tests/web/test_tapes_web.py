"""Tape uploads through the API and the pages: type and size checks, the report row by row, import."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.web.conftest import World, bearer
from tests.web.test_pages import csrf_of, login

from absflow.access import Role
from absflow.services import jobs as job_service

HEADER = ("contract_id,client_id,principal_outstanding,financing_rate,start_date,due_date,status,"
          "securities_market_value,cash_balance,region")
GOOD = ["M1,C1,100000.50,0.0835,2026-01-05,2026-07-05,performing,250000,1000,广东",
        "M2,C2,50000,0.08,2026-02-05,2026-08-05,performing,170000,0,上海"]
BAD_ROW = "M3,C3,-80000,0.07,2026-03-01,2026-09-01,performing,300000,500,浙江"


def tape(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def test_api_validate_reports_the_bad_row_and_import_writes_a_batch(client: TestClient, world: World) -> None:
    h = bearer(world, Role.ORIGINATOR)
    r = client.post(f"/api/v1/plans/{world.plan_a}/tapes/validate", headers=h,
                    files={"file": ("tape.csv", tape(*GOOD, BAD_ROW), "text/csv")})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    job_service.run_pending(world.ctx)
    job = client.get(f"/api/v1/jobs/{job_id}", headers=h).json()
    assert job["status"] == "done" and job["result"]["valid"] is False
    assert [e["row"] for e in job["result"]["errors"]] == [4]  # header is row 1
    r = client.post(f"/api/v1/plans/{world.plan_a}/tapes/import", headers=h, data={"cutoff": "2026-03-31"},
                    files={"file": ("tape.csv", tape(*GOOD), "text/csv")})
    assert r.status_code == 202
    job_service.run_pending(world.ctx)
    job = client.get(f"/api/v1/jobs/{r.json()['id']}", headers=h).json()
    assert job["status"] == "done" and job["result"]["rows"] == 2, job
    batches = client.get(f"/api/v1/plans/{world.plan_a}/tapes", headers=h).json()
    assert [b["rows"] for b in batches] == [2]


def test_uploads_are_type_checked_and_investors_cannot_import(client: TestClient, world: World) -> None:
    h = bearer(world, Role.ORIGINATOR)
    r = client.post(f"/api/v1/plans/{world.plan_a}/tapes/validate", headers=h,
                    files={"file": ("tape.xlsx", b"not a zip", "application/octet-stream")})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "wrong_content"
    r = client.post(f"/api/v1/plans/{world.plan_a}/tapes/validate", headers=h,
                    files={"file": ("tape.exe", b"MZ", "application/octet-stream")})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unsupported_type"
    r = client.post(f"/api/v1/plans/{world.plan_a}/tapes/import", headers=bearer(world, Role.INVESTOR),
                    data={"cutoff": "2026-03-31"}, files={"file": ("tape.csv", tape(*GOOD), "text/csv")})
    assert r.status_code == 403
    r = client.post(f"/api/v1/plans/{world.plan_b}/tapes/validate", headers=h,
                    files={"file": ("tape.csv", tape(*GOOD), "text/csv")})
    assert r.status_code == 404


def test_oversized_upload_is_refused(client: TestClient, world: World) -> None:
    client.app.state.settings = type(client.app.state.settings)(secret_key="s", run_worker=False,
                                                                 max_upload_bytes=1024)
    r = client.post(f"/api/v1/plans/{world.plan_a}/tapes/validate", headers=bearer(world, Role.ORIGINATOR),
                    files={"file": ("tape.csv", b"a,b\n" * 1000, "text/csv")})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "too_large"
    r = client.post(f"/api/v1/plans/{world.plan_a}/tapes/validate", headers=bearer(world, Role.ORIGINATOR),
                    files={"file": ("tape.csv", b"a,b\n" * 600_000, "text/csv")})
    assert r.status_code == 413


def test_chunked_upload_without_length_is_cut_off(client: TestClient, world: World) -> None:
    """No Content-Length to check up front: the body is counted as it arrives and refused at the limit."""
    client.app.state.settings = type(client.app.state.settings)(secret_key="s", run_worker=False,
                                                                 max_upload_bytes=1024)
    def body():  # type: ignore[no-untyped-def]
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="t.csv"\r\n\r\n'
        for _ in range(60):
            yield b"a,b\n" * 25_000
        yield b"\r\n--b--\r\n"

    for url in (f"/api/v1/plans/{world.plan_a}/tapes/validate", f"/plans/{world.plan_a}/tape"):
        r = client.post(url, content=body(), headers={**bearer(world, Role.ORIGINATOR),
                                                      "Content-Type": "multipart/form-data; boundary=b"})
        assert r.status_code == 413 and r.json()["code"] == "too_large"
        assert r.headers["x-content-type-options"] == "nosniff"


def test_page_upload_shows_the_report_row_by_row(client: TestClient, world: World) -> None:
    login(client, "originator")
    page = client.get(f"/plans/{world.plan_a}/tape")
    assert page.status_code == 200
    r = client.post(f"/plans/{world.plan_a}/tape", data={"csrf_token": csrf_of(page.text), "mode": "validate"},
                    files={"file": ("tape.csv", tape(*GOOD, BAD_ROW), "text/csv")}, follow_redirects=False)
    assert r.status_code == 303
    job_url = r.headers["location"]
    assert "data-job-url" in client.get(job_url).text  # still queued: the page polls
    job_service.run_pending(world.ctx)
    report = client.get(job_url).text
    rows = re.findall(r'<tr class="bad"><td class="num">(\d+)</td>', report)
    assert rows == ["4"] and "-80000" in report
