"""The servicer report (资产服务报告) of a revolving plan for a period, from the stored daily runs.

Data only (sections of labelled rows); absflow.reports.servicer renders XLSX and PDF.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import select

from absflow.domain.issues import NotFound, ValidationFailed
from absflow.domain.money import format_yuan
from absflow.pool import stratify
from absflow.services.context import Context
from absflow.services.plans import load_plan_row
from absflow.services.tapes import load_pool_frame, read_query
from absflow.store.daily import DailyDayRow, DailyDistributionRow, DailyPlanStateRow, DailyRepurchaseRow
from absflow.store.db import read_transaction

Row = tuple[str, ...]


@dataclass
class Section:
    title: str
    columns: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)


@dataclass
class ServicerReport:
    plan_code: str
    plan_name: str
    first: date
    last: date
    sections: list[Section]

    @property
    def title(self) -> str:
        return f"{self.plan_name} 资产服务报告 ({self.first} 至 {self.last})"

    def as_dict(self) -> dict[str, Any]:
        return {"plan_code": self.plan_code, "first": self.first.isoformat(), "last": self.last.isoformat(),
                "sections": [{"title": s.title, "columns": list(s.columns), "rows": [list(r) for r in s.rows]}
                             for s in self.sections]}


def _pct(numerator: int, denominator: int) -> str:
    return f"{Decimal(numerator * 100) / Decimal(denominator):.4f}%" if denominator else "—"


def servicer_report(ctx: Context, plan_code: str, first: date, last: date) -> ServicerReport:
    """Collect the report's sections for business days ``first``..``last`` (both run)."""
    ctx.require("download", plan_code)
    if last < first:
        raise ValidationFailed([], "the period ends before it starts")
    with read_transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code)
        days = list(session.execute(select(DailyDayRow).where(
            DailyDayRow.plan_id == plan.id, DailyDayRow.business_date >= first,
            DailyDayRow.business_date <= last).order_by(DailyDayRow.business_date)).scalars())
        if not days:
            raise NotFound(f"{plan_code} has no daily runs between {first} and {last}")
        before = session.execute(select(DailyDayRow).where(
            DailyDayRow.plan_id == plan.id, DailyDayRow.business_date < first)
            .order_by(DailyDayRow.business_date.desc()).limit(1)).scalar_one_or_none()
        state = session.get(DailyPlanStateRow, plan.id)
        events = read_query(
            session,
            "SELECT business_date, kind, COUNT(*) AS n, SUM(principal_fen) AS principal, SUM(interest_fen) AS "
            "interest, SUM(fee_fen) AS fees FROM daily_asset_events WHERE plan_id = :plan_id AND business_date "
            ">= :first AND business_date <= :last GROUP BY business_date, kind",
            {"plan_id": plan.id, "first": first, "last": last},
            {"business_date": pl.Date(), "kind": pl.String(), "n": pl.Int64(), "principal": pl.Int64(),
             "interest": pl.Int64(), "fees": pl.Int64()},
        )
        postings = read_query(
            session,
            "SELECT account, SUM(amount_fen) AS amount FROM daily_postings WHERE plan_id = :plan_id AND "
            "business_date >= :first AND business_date <= :last GROUP BY account",
            {"plan_id": plan.id, "first": first, "last": last}, {"account": pl.String(), "amount": pl.Int64()},
        )
        repurchases = list(session.execute(select(DailyRepurchaseRow).where(
            DailyRepurchaseRow.plan_id == plan.id, DailyRepurchaseRow.instructed_on <= last)).scalars())
        distributions = list(session.execute(select(DailyDistributionRow).where(
            DailyDistributionRow.plan_id == plan.id, DailyDistributionRow.payment_date >= first,
            DailyDistributionRow.payment_date <= last).order_by(DailyDistributionRow.payment_date)).scalars())
        plan_name = plan.name
        initial_fen = state.initial_pool_fen if state else 0
    summaries = [json.loads(d.result_json) for d in days]
    by_kind = events.group_by("kind").agg(pl.col("n").sum(), pl.col("principal").sum(), pl.col("interest").sum(),
                                          pl.col("fees").sum())
    kinds = {r["kind"]: r for r in by_kind.iter_rows(named=True)}

    def total(kind: str, column: str) -> int:
        return int((kinds.get(kind) or {}).get(column) or 0)

    sections: list[Section] = []
    opening = before.pool_balance_fen if before else initial_fen
    closing = days[-1].pool_balance_fen
    collected_p, collected_i, collected_f = total("collection", "principal"), total("collection", "interest"), \
        total("collection", "fees")
    liquidated_p, liquidated_i = total("liquidation", "principal"), total("liquidation", "interest")
    repurchased_p, repurchased_i = total("repurchase_received", "principal"), total("repurchase_received", "interest")
    bought = sum(d.purchased_principal_fen for d in days)
    sections.append(Section("一、回收款 Collections", ("项目 item", "金额 amount (元)", "笔数 count"), [
        ("本金回收 principal collected", format_yuan(collected_p), str(total("collection", "n"))),
        ("利息回收 interest collected", format_yuan(collected_i), ""),
        ("费用回收 fees collected", format_yuan(collected_f), ""),
        ("强制平仓回收 liquidation recoveries", format_yuan(liquidated_p + liquidated_i),
         str(total("liquidation", "n"))),
        ("回购款 repurchase prices received", format_yuan(repurchased_p + repurchased_i),
         str(total("repurchase_received", "n"))),
        ("合计 total", format_yuan(collected_p + collected_i + collected_f + liquidated_p + liquidated_i
                                   + repurchased_p + repurchased_i), ""),
    ]))
    write_off = int(postings.filter(pl.col("account") == "expense:repurchase_discount").get_column("amount").sum()
                    or 0)
    check = opening + bought - collected_p - liquidated_p - repurchased_p - write_off - closing
    sections.append(Section("二、资产池余额变动 Pool roll-forward", ("项目 item", "金额 amount (元)"), [
        ("期初余额 opening balance", format_yuan(opening)),
        ("加：循环购买 revolving purchases", format_yuan(bought)),
        ("减：本金回收 principal collected", format_yuan(collected_p)),
        ("减：平仓回收本金 liquidation principal", format_yuan(liquidated_p)),
        ("减：回购本金 repurchased principal", format_yuan(repurchased_p)),
        ("减：核销 written off", format_yuan(write_off)),
        ("期末余额 closing balance", format_yuan(closing)),
        ("差异 difference (must be 0.00)", format_yuan(check)),
    ]))
    last_summary = summaries[-1]
    delinquency = last_summary.get("delinquency", {})
    sections.append(Section("三、逾期情况 Delinquency at period end", ("逾期天数 days past due", "余额 balance (元)",
                                                                  "占比 share"), [
        (bucket, delinquency.get(bucket, "0.00"), _pct(int(Decimal(delinquency.get(bucket, "0")) * 100), closing))
        for bucket in ("1-30", "31-60", "61-90", "90+")
    ]))
    cdr = last_summary["metrics"].get("cumulative_default_rate", "0")
    sections.append(Section("四、违约与强制平仓 Defaults and forced liquidations", ("项目 item", "值 value"), [
        ("强制平仓事件 liquidation events", str(total("liquidation", "n"))),
        ("平仓回收金额 recovered", format_yuan(liquidated_p + liquidated_i)),
        ("不良资产余额（期末）non-performing balance", last_summary.get("class_balances", {}).get("non_performing",
                                                                                             "0.00")),
        ("累计违约率 cumulative default rate", f"{Decimal(cdr) * 100:.4f}%"),
    ]))
    # CPR: daily single-day prepayment rates compounded, annualized over the period's days.
    survival = Decimal(1)
    pool_start = opening
    daily_principal = events.filter(pl.col("kind") == "collection").group_by("business_date").agg(
        pl.col("principal").sum())
    principal_by_day = dict(zip(daily_principal.get_column("business_date"), daily_principal.get_column("principal"),
                                strict=True))
    for day_row in days:
        paid = int(principal_by_day.get(day_row.business_date, 0) or 0)
        if pool_start > 0:
            survival *= 1 - Decimal(paid) / Decimal(pool_start)
        pool_start = day_row.pool_balance_fen
    span = max((last - first).days + 1, 1)
    cpr = (1 - survival ** (Decimal(365) / Decimal(span))) if survival > 0 else Decimal(1)
    sections.append(Section("五、提前还款 Prepayment", ("项目 item", "值 value"), [
        ("期间本金回收率 period principal repayment rate", f"{(1 - survival) * 100:.4f}%"),
        ("年化提前还款率 CPR (annualized)", f"{cpr * 100:.4f}%"),
    ]))
    purchase_days = [d for d in days if d.purchased_count]
    sections.append(Section("六、循环购买 Revolving purchases", ("项目 item", "值 value"), [
        ("购买天数 days with purchases", f"{len(purchase_days)} / {len(days)}"),
        ("购买笔数 contracts bought", str(sum(d.purchased_count for d in days))),
        ("购买本金 principal bought", format_yuan(bought)),
        ("支付价款 price paid", format_yuan(sum(d.purchased_price_fen for d in days))),
        ("平均资金利用率 mean fund utilization", _mean_utilization(summaries)),
    ]))
    in_period = [r for r in repurchases if first <= r.instructed_on <= last]
    by_reason: dict[str, list[DailyRepurchaseRow]] = {}
    for r in in_period:
        by_reason.setdefault(r.reason, []).append(r)
    rows: list[Row] = [(reason, str(len(items)), format_yuan(sum(i.principal_fen + i.interest_fen for i in items)),
                        format_yuan(sum(i.received_fen for i in items)))
                       for reason, items in sorted(by_reason.items())]
    outstanding = [r for r in repurchases if r.settled_on is None or r.settled_on > last]
    rows.append(("期末未结 outstanding at period end", str(len(outstanding)),
                 format_yuan(sum(r.principal_fen + r.interest_fen - r.received_fen for r in outstanding)), ""))
    sections.append(Section("七、回购 Repurchases",
                            ("原因 reason", "笔数 count", "回购价 price (元)", "已收 received (元)"), rows))
    flows = {r["account"]: int(r["amount"] or 0) for r in postings.iter_rows(named=True)}
    sections.append(Section("八、资金划转 Transfers", ("账户 account", "期间净额 net movement (元)"), [
        (account, format_yuan(amount)) for account, amount in sorted(flows.items())
        if account.startswith(("cash:", "distribution:", "expense:", "liability:", "equity:shortfall"))
    ]))
    sections.append(Section("九、收益分配 Distributions", ("兑付日 date", "档 tranche", "应付利息 interest due",
                                                       "实付利息 interest paid", "本金 principal",
                                                       "剩余收益 residual", "流动性支持 liquidity",
                                                       "差额支付 shortfall"), [
        (d.payment_date.isoformat(), d.tranche_id, format_yuan(d.interest_due_fen), format_yuan(d.interest_paid_fen),
         format_yuan(d.principal_paid_fen), format_yuan(d.residual_paid_fen), format_yuan(d.liquidity_drawn_fen),
         format_yuan(d.shortfall_paid_fen))
        for d in distributions
    ]))
    paused = [f"{d.business_date}: {d.purchase_state}" for d in days if d.purchase_state in ("paused", "stopped")]
    sections.append(Section("十、触发事件 Trigger status", ("项目 item", "值 value"), [
        ("期末状态 status at period end", days[-1].status),
        ("停止循环原因 stop reason", (state.stop_reason if state else None) or "—"),
        ("暂停/停止天数 days paused or stopped", str(len(paused))),
        ("不合格资产率 ineligible asset rate", _rate(last_summary, "ineligible_asset_rate")),
        ("资金闲置率 fund idle rate", _rate(last_summary, "fund_idle_rate")),
        *((f"触发器 trigger {trigger_id}", f"{t['days']}/{t['needed']} 天 days in a row"
           + ("，已触发 hit" if t["hit"] == "true" else ""))
          for trigger_id, t in sorted(last_summary.get("triggers", {}).items())),
    ]))
    pool = load_pool_frame(ctx, plan_code, as_of=last)
    for by, title in (("region", "地区 region"), ("industry", "行业 industry"), ("balance_fen", "余额 balance"),
                      ("maintenance_ratio", "维持担保比例 maintenance ratio")):
        try:
            strat = stratify(pool, by)
        except ValidationFailed:
            continue
        sections.append(Section(f"十一、资产池分布 Stratification by {title}", ("分层 bucket", "笔数 count",
                                                                        "余额 balance (元)", "余额占比 share"), [
            (r.bucket, str(r.count), str(r.balance), f"{r.pct_balance * 100:.2f}%")
            for r in (*strat.rows, strat.total)
        ]))
    return ServicerReport(plan_code, plan_name, first, last, sections)


def _rate(summary: dict[str, Any], name: str) -> str:
    return f"{Decimal(summary['metrics'].get(name, '0')) * 100:.4f}%"


def _mean_utilization(summaries: list[dict[str, Any]]) -> str:
    values = [Decimal(s["metrics"]["fund_utilization"]) for s in summaries
              if s["purchase_state"] == "purchased" and s["metrics"].get("fund_utilization")]
    return f"{sum(values) / len(values) * 100:.2f}%" if values else "—"
