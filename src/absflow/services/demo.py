"""The demo: a plan modelled on 浦银安盛资管-申万宏源证券融出资金债权1号 (seed 001 appendix).

Later steps (tape import, pool analytics, daily simulation, serving the app) join here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from absflow.domain.plan import AssetType, Party, PartyRole, PlanStatus
from absflow.reports.pool_tables import STRAT_COLUMNS, strat_rows, summary_rows
from absflow.services import book_demo
from absflow.services import plans as plan_service
from absflow.services import pool as pool_service
from absflow.services import synth as synth_service
from absflow.services import users as user_service
from absflow.services.context import Context
from absflow.services.demo_deal import attach_and_run_demo_deal
from absflow.services.tlog_demo import log_demo_table

DEMO_PLAN_NAME = "浦银安盛资管-申万宏源证券融出资金债权1号资产支持专项计划"
DEMO_PARTIES = (
    Party(PartyRole.PLAN_MANAGER, "浦银安盛资产管理有限公司"),
    Party(PartyRole.ORIGINATOR, "申万宏源证券有限公司"),
    Party(PartyRole.SERVICER, "申万宏源证券有限公司"),
    Party(PartyRole.CUSTODIAN, "示例托管银行"),
    Party(PartyRole.RATING_AGENCY, "示例评级机构"),
)

Table = tuple[str, Sequence[str], Sequence[Sequence[Any]]]


@dataclass
class DemoResult:
    plan_code: str
    tables: list[Table] = field(default_factory=list)
    #: (username, role, password) of the demo users, one per role
    users: list[tuple[str, Any, str]] = field(default_factory=list)


def run_demo(ctx: Context, progress: Callable[[str], None] = lambda _m: None) -> DemoResult:
    """Create the demo plan and walk it to issuance. Each run makes a new plan (codes never repeat)."""
    progress(f"creating plan {DEMO_PLAN_NAME}")
    plan = plan_service.create_plan(
        ctx, name=DEMO_PLAN_NAME, asset_type=AssetType.MARGIN_LOAN, parties=DEMO_PARTIES
    )
    for status in (PlanStatus.FILED, PlanStatus.APPROVED, PlanStatus.ISSUING):
        plan = plan_service.advance_plan(ctx, plan.code, status)
    result = DemoResult(plan_code=plan.code)
    result.tables.append(
        (
            f"{plan.code} {plan.name}",
            ["field", "value"],
            [("status", f"{plan.status.value} {plan.status.label_zh}"),
             *[(p.role.value, p.name) for p in plan.parties]],
        )
    )
    imported, tape_table = synth_service.import_demo_tape(ctx, plan.code, progress=progress)
    result.tables.append(tape_table)
    result.tables.extend(pool_tables(ctx, plan.code, progress=progress))
    result.tables.extend(book_demo.book_tables(ctx, plan.code, progress=progress))
    result.tables.extend(daily_simulation_tables(ctx, progress=progress))
    result.tables.append(log_demo_table(ctx, plan.code, imported.batch_id, progress=progress))
    progress("adding one demo user per role")
    result.users = user_service.ensure_demo_users(ctx, plan.code)
    result.tables.append(
        ("Demo users 演示用户 (passwords are new on every run)", ["user", "role", "password"],
         [(name, f"{role.value} {role.label_zh}", password) for name, role, password in result.users])
    )
    result.tables.extend(attach_and_run_demo_deal(ctx, plan.code, progress))
    return result


#: Stratifications the demo prints after the tape import.
DEMO_STRAT_FIELDS = ("balance", "maintenance_ratio", "region", "rate")


def pool_tables(ctx: Context, plan_code: str, progress: Callable[[str], None] = lambda _m: None) -> list[Table]:
    """The imported pool's summary and the DEMO_STRAT_FIELDS stratifications, as tables."""
    progress("pool analytics: summary and stratifications")
    summary = pool_service.summary(ctx, plan_code)
    tables: list[Table] = [(f"Pool summary 资产池概况 ({plan_code})", ["figure", "value"], summary_rows(summary))]
    for strat in pool_service.strats(ctx, plan_code, DEMO_STRAT_FIELDS):
        tables.append((f"Stratification by {strat.field} 分层统计", STRAT_COLUMNS, strat_rows(strat)))
    return tables


#: The seed-001 deal the demo's plan is modelled on (examples/deals, from the deal area).
DEMO_DEAL_FILE = "09_pyas_swhy_1.yaml"
DEMO_SIMULATION_DAYS = 20


def daily_simulation_tables(ctx: Context, progress: Callable[[str], None] = lambda _m: None,
                            days: int = DEMO_SIMULATION_DAYS) -> list[Table]:
    """A short ``absflow simulate`` of the seed-001 deal: daily runs, purchases, repurchases."""
    from pathlib import Path

    import absflow
    from absflow.services.simulate import simulate

    path = Path(absflow.__file__).resolve().parents[2] / "examples" / "deals" / DEMO_DEAL_FILE
    if not path.is_file():
        progress(f"daily simulation skipped: {path} not found (run the demo from the source tree)")
        return []
    progress(f"daily operations: simulating {days} trading days of {DEMO_DEAL_FILE} (seed 1, 2,000 loans)")
    report = simulate(ctx, path.read_text(encoding="utf-8"), days=days, seed=1, loans=2_000)
    data = report.as_dict()
    rows = [
        ("plan", report.plan_code), ("days run", f"{report.days_run} ({data['first_day']} … {data['last_day']})"),
        ("status", report.final_status), ("fund utilization (mean)", report.utilization_mean),
        ("bought (yuan)", report.purchased_total),
        ("days by purchase state", ", ".join(f"{k} {v}" for k, v in sorted(report.purchase_states.items()))),
        ("repurchase instructions", str(report.repurchases)),
        ("trigger hits", "; ".join(report.trigger_hits[:3]) or "none"),
        ("next", f"absflow revolve show {report.plan_code} {data['last_day']} · absflow report servicer "
                 f"{report.plan_code} --from {data['first_day']} --to {data['last_day']} --out report.pdf"),
    ]
    return [(f"Daily operations 日常运营 (simulated, {report.seconds:.1f} s)", ["figure", "value"], rows)]
