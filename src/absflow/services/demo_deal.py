"""Demo step: attach the seed-001 deal document to the demo plan and run its waterfall."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from absflow.domain.money import format_yuan
from absflow.services import dealrun
from absflow.services import deals as deal_service
from absflow.services.context import Context

#: The demo plan is modelled on this deal (seed 001 appendix row 9).
DEMO_DEAL = Path(__file__).resolve().parents[3] / "examples" / "deals" / "09_pyas_swhy_1.yaml"


def attach_and_run_demo_deal(
    ctx: Context, plan_code: str, progress: Callable[[str], None] = lambda _m: None
) -> list[tuple[str, Sequence[str], Sequence[Sequence[Any]]]]:
    """Attach the deal document (version 1, logged), run the base case, return tables to print."""
    if not DEMO_DEAL.exists():  # an installed package without the repository's examples/
        progress(f"skipping the deal run: {DEMO_DEAL} not found")
        return []
    progress("attaching the deal document and running its waterfall")
    version = deal_service.attach_deal(ctx, plan_code, DEMO_DEAL.read_text(encoding="utf-8"))
    run = dealrun.run_plan_deal(ctx, plan_code)
    metrics = {m["tranche"]: m for m in dealrun.run_metrics(ctx, run)}
    rows = []
    for t in run.deal.tranches:
        flows = run.tranche_cashflows(t.id)
        x = metrics.get(t.id, {})
        rows.append((
            t.id, t.tranche_class.value, format_yuan(int(t.size * 100)), format_yuan(sum(f[1] + f[3] for f in flows)),
            format_yuan(sum(f[2] for f in flows)), format_yuan(run.tranche_loss_fen(t.id)),
            f"{x['yield']:.4%}" if x else "", f"{x['wal_years']:.3f}" if x else "",
        ))
    statuses = " → ".join(dict.fromkeys(r.status.value for r in run.periods))
    return [(
        f"Deal v{version.version}: {len(run.periods)} payment dates, {statuses} (base case, no defaults)",
        ["tranche", "class", "size", "interest+income", "principal", "unpaid", "yield @ issue", "WAL (y)"],
        rows,
    )]
