"""Deal cash-flow runs as background jobs: the plan's current deal, a scenario, per-tranche results
and the workbook (`absflow cashflow run` writes the same one)."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from absflow.domain.issues import NotFound
from absflow.reports.deal_run import run_json, write_workbook
from absflow.services import dealrun, deals, jobs
from absflow.services.context import Context

RUN = "cashflow.run"


def submit_run(ctx: Context, plan_code: str, scenario_text: str | None = None) -> jobs.Job:
    """Queue a run of the plan's current deal (needs view; NotFound when no deal is attached)."""
    ctx.require("view", plan_code)
    version = deals.current_deal_version(ctx, plan_code)
    return jobs.submit(ctx, RUN, plan_code, {"plan_code": plan_code, "deal_version": version.version,
                                             "scenario": scenario_text or ""})


def current_deal_or_none(ctx: Context, plan_code: str) -> deals.DealVersion | None:
    """The plan's current deal version, None when none is attached."""
    try:
        return deals.current_deal_version(ctx, plan_code)
    except NotFound:
        ctx.require("view", plan_code)  # an unknown plan still answers NotFound
        return None


def _run(ctx: Context, params: Mapping[str, Any], _blob: bytes | None, progress: jobs.Progress
         ) -> Mapping[str, Any]:
    code = params["plan_code"]
    with tempfile.TemporaryDirectory(prefix="absflow-cf-") as folder:
        scenario_path = None
        if params.get("scenario"):
            scenario_path = Path(folder) / "scenario.yaml"
            scenario_path.write_text(params["scenario"], encoding="utf-8")
        run = dealrun.run_plan_deal(ctx, code, scenario_path,
                                    progress=lambda done, total: progress(int(90 * done / max(total, 1)),
                                                                          f"period {done}/{total}"))
        progress(92, "writing the workbook")
        workbook = Path(folder) / "run.xlsx"
        write_workbook(run, workbook)
        body = run_json(run)
        body[jobs.OUTPUT_KEY] = (f"{code}-cashflows.xlsx", workbook.read_bytes())
        return body


def register() -> None:
    jobs.register(RUN, "view", _run)
