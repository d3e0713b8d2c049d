"""`absflow daily …`, `absflow revolve show`, `absflow simulate`: daily operations of revolving plans."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from absflow.cli.common import context
from absflow.cli.lazy import service
from absflow.cli.output import console, print_json, table, user_errors
from absflow.domain.issues import Issue, Location, ValidationFailed

if TYPE_CHECKING:  # the real modules, for the type checker; at run time imported on first use
    from absflow.services import daily as daily_service
else:
    daily_service = service("daily")

app = typer.Typer(help="Daily operations (日常运营): load servicer files, run business days.", no_args_is_help=True)
revolve_app = typer.Typer(help="Revolving purchases (循环购买): show a day's delivery list.", no_args_is_help=True)


def _date(text: str, name: str = "DATE") -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            [Issue("bad_date", f"{name} must be YYYY-MM-DD", Location(field_path=name), text)]
        ) from None


@app.command("load")
def load(
    code: str = typer.Argument(..., help="Plan code"),
    day: str = typer.Argument(..., help="Business date YYYY-MM-DD"),
    files: list[Path] = typer.Argument(..., help="collections*.csv, candidates*.csv, positions*.csv, prices*.csv, "
                                       "accounts*.csv, extensions*.csv, liquidations*.csv, indicators*.csv, "
                                       "repurchase_receipts*.csv (CSV, XLSX or Parquet)"),
    mapping: Path | None = typer.Option(None, "--mapping", help="Column mapping (YAML) for the candidates file"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Validate the day's servicer files together and store them (all problems at once; nothing stored on error)."""
    with user_errors(as_json):
        result = daily_service.load_inputs(context(), code, _date(day), files, mapping=mapping)
    if as_json:
        print_json({"plan_code": code, "business_date": day, "files": result.files, "log_index": result.log_index})
        return
    table(f"{code} {day}: loaded", ["kind", "file", "rows", "sha256"],
          [(f["kind"], f["file"], f["rows"], f["sha256"][:16]) for f in result.files])


@app.command("run")
def run(
    code: str = typer.Argument(..., help="Plan code"),
    day: str | None = typer.Argument(None, help="Business date YYYY-MM-DD (or use --through)"),
    through: str | None = typer.Option(None, "--through", help="Run every pending trading day up to this date"),
    allow_empty: bool = typer.Option(False, "--allow-empty", help="Run days that have no loaded files"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Run one business day (idempotent), or every pending day through a date."""
    with user_errors(as_json):
        if (day is None) == (through is None):
            raise ValidationFailed([Issue("usage", "give either DATE or --through DATE", Location())])
        if through is not None:
            runs = daily_service.run_through(context(), code, _date(through, "--through"), allow_empty=allow_empty)
        else:
            runs = [daily_service.run_day(context(), code, _date(day or ""), allow_empty=allow_empty)]
    if as_json:
        print_json([{
            "business_date": r.business_date.isoformat(), "status": r.status, "purchase_state": r.purchase_state,
            "already_done": r.already_done, "log_index": r.log_index, "checkpoint": r.checkpoint,
            "summary": r.summary,
        } for r in runs])
        return
    table(f"{code}: daily runs", ["date", "status", "purchase", "pool", "cash", "bought", "repurchase", "notes"], [
        (r.business_date.isoformat(), r.status, r.purchase_state + (" (already run)" if r.already_done else ""),
         r.summary["pool_balance"], r.summary["cash"], r.summary["purchased"]["price"],
         r.summary.get("repurchases_instructed", 0), "; ".join(r.notes)[:80]) for r in runs])
    if runs and runs[-1].checkpoint:
        console.print(f"log checkpoint: {runs[-1].checkpoint}")


@revolve_app.command("show")
def show(
    code: str = typer.Argument(..., help="Plan code"),
    day: str = typer.Argument(..., help="Business date YYYY-MM-DD"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A day's revolving purchase: delivery list (交割清单), repurchase instructions, re-verification."""
    with user_errors(as_json):
        data = daily_service.show_day(context(), code, _date(day))
    if as_json:
        print_json(data)
        return
    summary = data["summary"]
    table(f"{code} {day}", ["field", "value"], [
        ("status", summary["status"]), ("purchase", summary["purchase_state"]),
        ("cash available", summary["available"]), ("pool balance", summary["pool_balance"]),
        ("fund idle rate", summary["metrics"]["fund_idle_rate"]),
        ("bought", f"{summary['purchased']['count']} assets, {summary['purchased']['price']}"),
        ("delivery sha256", data["delivery_list"]["sha256"]),
        ("re-verified", "ok" if data["verification"]["ok"] else f"FAILED {data['verification']}"),
    ])
    lines = data["delivery_list"]["lines"]
    table("交割清单 delivery list", ["asset", "client", "principal", "interest", "price"],
          [(x["asset_code"], x["client_id"], x["principal"], x["accrued_interest"], x["price"]) for x in lines[:50]]
          + ([("…", f"{len(lines) - 50} more", "", "", "")] if len(lines) > 50 else []))
    if data["repurchase_instructions"]:
        table("回购指令 repurchase instructions", ["asset", "reason", "due", "amount", "received"],
              [(r["asset_id"], r["reason"], r["due_on"], r["amount"], r["received"])
               for r in data["repurchase_instructions"]])


def simulate(
    deal_file: Path = typer.Argument(..., help="Deal document (YAML/JSON) with a revolving section"),
    days: int = typer.Option(60, "--days", help="Trading days to run"),
    seed: int = typer.Option(1, "--seed", help="Random seed (same seed, same days)"),
    loans: int | None = typer.Option(None, "--loans", help="Initial pool size (default: balance / 300,000)"),
    market: list[str] = typer.Option([], "--market", help="A synthetic-market parameter NAME=VALUE, e.g. "
                                     "volatility_annual=0.6 or jump_intensity_annual=12 (repeatable; docs/DAILY.md)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Drive a revolving margin-loan plan through its life on synthetic daily data."""
    from absflow.services.simulate import simulate as run_simulation

    def progress(run: daily_service.DayRun) -> None:
        if not as_json and (run.purchase_state != "purchased" or run.summary.get("distributions") or run.notes):
            console.print(f"{run.business_date} {run.status:10} {run.purchase_state:18} pool "
                          f"{run.summary['pool_balance']:>18} cash {run.summary['cash']:>16} "
                          f"{'; '.join(run.notes)[:60]}")

    with user_errors(as_json):
        try:
            text = deal_file.read_text(encoding="utf-8")
        except OSError as error:
            raise ValidationFailed([Issue("unreadable_file", str(error), Location(field_path=str(deal_file)))]) \
                from None
        changes = {}
        for item in market:
            name, sep, value = item.partition("=")
            if not sep:
                raise ValidationFailed([Issue("bad_option", "--market takes NAME=VALUE", Location(field_path="market"),
                                              item)])
            changes[name.strip()] = value.strip()
        report = run_simulation(context(), text, days=days, seed=seed, loans=loans, progress=progress,
                                market=changes)
    data = report.as_dict()
    if as_json:
        print_json(data)
        return
    table(f"simulation {report.plan_code} (seed {seed})", ["field", "value"], [
        ("days run", f"{report.days_run} ({data['first_day']} … {data['last_day']})"),
        ("final status", report.final_status), ("fund utilization (mean, purchase days)", report.utilization_mean),
        ("bought in total", report.purchased_total),
        ("days by purchase state", ", ".join(f"{k} {v}" for k, v in sorted(report.purchase_states.items()))),
        ("repurchase instructions", report.repurchases), ("seconds", f"{report.seconds:.1f}"),
    ])
    if report.trigger_hits:
        table("trigger hits", ["event"], [(h,) for h in report.trigger_hits])
    if report.distributions:
        table("distributions", ["date", "tranche", "interest due", "interest", "principal", "residual", "liquidity",
                                "shortfall"],
              [(d["date"], d["tranche"], d["interest_due"], d["interest_paid"], d["principal_paid"],
                d["residual_paid"], d["liquidity_drawn"], d["shortfall_paid"]) for d in report.distributions])
