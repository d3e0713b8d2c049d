"""`absflow book …`: issuance bookbuilding (发行簿记). Thin: parse → call → print."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from absflow.bookbuilding.allocation import Allocation
from absflow.bookbuilding.files import (
    allocate_files,
    allocation_document,
    multiple_text,
    parse_time,
    read_bids_csv,
    wan_text,
)
from absflow.bookbuilding.model import Convention, Offering, percent_text
from absflow.cli.common import context
from absflow.cli.lazy import service
from absflow.cli.output import console, print_json, table, user_errors
from absflow.domain.issues import Issue, Location, ValidationFailed
from absflow.domain.money import MoneyError, to_decimal

if TYPE_CHECKING:  # the real modules, for the type checker; at run time imported on first use
    from absflow.services import bookbuilding as bs
    from absflow.services import bookview
else:
    bs = service("bookbuilding")
    bookview = service("bookview")

app = typer.Typer(help="Issuance bookbuilding (发行簿记): investors, offerings, bids, allocation, notices.",
                  no_args_is_help=True)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed([Issue("unreadable_file", f"cannot read the {what} file {str(path)!r}: {exc}",
                                      Location(field_path=what))]) from None


def print_allocation(result: Allocation, title: str = "Book 标位汇总") -> None:
    """Book summary and allocation tables for people (amounts in 万元, rates in percent)."""
    s = result.summary
    table(title, ["rate %", "amount 万元", "cumulative 万元", "bids"],
          [(percent_text(lv.rate), wan_text(lv.amount_yuan), wan_text(lv.cumulative_yuan), lv.bid_count)
           for lv in s.levels])
    stats = [
        ("size 万元", wan_text(s.size_yuan)),
        ("valid bids", s.valid_bid_count),
        ("investors", s.investor_count),
        ("total demand 万元", wan_text(s.total_demand_yuan)),
        ("highest / lowest rate %", f"{percent_text(s.highest_rate) if s.highest_rate is not None else '-'} / "
                                    f"{percent_text(s.lowest_rate) if s.lowest_rate is not None else '-'}"),
        ("total multiple 全场倍数", multiple_text(s.total_multiple)),
        ("marginal rate 边际利率 %", percent_text(result.marginal_rate) if result.marginal_rate is not None else "-"),
        ("marginal multiple 边际倍数", multiple_text(s.marginal_multiple) if s.marginal_multiple is not None else "-"),
        ("allocated 万元", wan_text(result.allocated_total_yuan)),
        ("holders", f"{result.holder_count} (limit {result.holder_limit})"),
    ]
    if result.undersubscribed:
        stats.append(("undersubscribed: shortfall 万元", wan_text(result.shortfall_yuan)))
    table("Statistics", ["", ""], stats)
    table("Allocation 中标分配", ["investor", "bid 万元", "allocated 万元"],
          [(a.investor, wan_text(a.bid_yuan), wan_text(a.allocated_yuan)) for a in result.by_investor])
    for flag in result.flags():
        console.print(f"[bold yellow]warning:[/] {flag.message}")


@app.command("allocate")
def allocate(
    offering: Path = typer.Option(..., "--offering", help="OFFERING.yaml: size, lot (万元), rate_min, rate_max (%), "
                                  "convention"),
    bids: Path = typer.Option(..., "--bids", help="BIDS.csv: investor,rate,amount[,time] (rate %, amount 万元)"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (the stable contract)"),
) -> None:
    """Allocate a book given as files (no database): marginal rate, multiples, allocations.

    Invalid input exits 2 and lists every error with its CSV line (header = line 1).
    """
    with user_errors(as_json):
        result = allocate_files(_read_text(offering, "offering"), _read_text(bids, "bids"))
    if as_json:
        print_json(allocation_document(result))
    else:
        print_allocation(result)


# ---------------------------------------------------------------- the stored book

WAN = Decimal(10000)


def _number(text: str) -> Decimal:
    try:
        return to_decimal(text)
    except MoneyError as exc:
        raise typer.BadParameter(str(exc)) from None


def _wan(text: str) -> Decimal:
    return _number(text) * WAN


def _pct(text: str) -> Decimal:
    return _number(text.rstrip("%")) / 100


def _when(text: str, option: str) -> datetime:
    value = parse_time(text)
    if value is None:
        raise typer.BadParameter(f"{option}: not an ISO 8601 date-time: {text!r}")
    return value


def _contact(text: str) -> bs.Contact:
    parts = [p.strip() or None for p in text.split(",")]
    parts += [None] * (3 - len(parts))
    if not parts[0]:
        raise typer.BadParameter(f"--contact NAME[,PHONE[,EMAIL]], got {text!r}")
    return bs.Contact(str(parts[0]), parts[1], parts[2])


def _account(text: str) -> bs.ProductAccount:
    product, _, account = text.partition(",")
    if not product.strip():
        raise typer.BadParameter(f"--account PRODUCT[,SECURITIES_ACCOUNT], got {text!r}")
    return bs.ProductAccount(product.strip(), account.strip() or None)


@app.command("investor-add")
def investor_add(
    name: str = typer.Option(..., "--name"),
    investor_type: str = typer.Option(..., "--type", help="bank bank_wealth securities fund insurance trust "
                                      "private_fund other"),
    credit_code: str = typer.Option(..., "--credit-code", help="统一社会信用代码 (18 characters, checksum verified)"),
    qualified: bool = typer.Option(True, "--qualified/--not-qualified", help="合格投资者"),
    contact: list[str] = typer.Option([], "--contact", help="NAME[,PHONE[,EMAIL]], repeatable"),
    account: list[str] = typer.Option([], "--account", help="PRODUCT[,SECURITIES_ACCOUNT], repeatable"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Register an investor (客户信息)."""
    contacts, accounts = [_contact(c) for c in contact], [_account(a) for a in account]
    with user_errors(as_json):
        investor = bs.register_investor(context(), name=name, investor_type=investor_type, qualified=qualified,
                                        credit_code=credit_code, contacts=contacts, accounts=accounts)
    if as_json:
        print_json({"name": investor.name, "credit_code": investor.credit_code})
    else:
        console.print(f"registered {investor.name} ({investor.credit_code})")


@app.command("investors")
def investors(as_json: bool = typer.Option(False, "--json")) -> None:
    """Registered investors."""
    with user_errors(as_json):
        rows = bs.list_investors(context())
    if as_json:
        print_json({"investors": [{"name": i.name, "type": i.investor_type.value, "qualified": i.qualified,
                                   "credit_code": i.credit_code} for i in rows]})
        return
    table("Investors 投资者", ["name", "type", "qualified", "credit code", "contacts", "accounts"],
          [(i.name, i.investor_type.value, "yes" if i.qualified else "no", i.credit_code,
            "; ".join(c.name for c in i.contacts), "; ".join(a.product_name for a in i.accounts)) for i in rows])


@app.command("offering-create")
def offering_create(
    plan: str = typer.Argument(..., help="Plan code, e.g. ABS-2026-0001"),
    tranche: str = typer.Option(..., "--tranche", help="Tranche id in the deal document, e.g. A"),
    security_name: str = typer.Option(..., "--security-name", help="证券简称"),
    security_code: str | None = typer.Option(None, "--security-code", help="证券代码"),
    term_months: int | None = typer.Option(None, "--term-months"),
    size: str = typer.Option(..., "--size", help="万元"),
    lot: str = typer.Option("100", "--lot", help="万元 (default 100)"),
    minimum: str | None = typer.Option(None, "--minimum", help="万元 (default one lot)"),
    cap: str | None = typer.Option(None, "--cap", help="万元 per investor"),
    rate_min: str = typer.Option(..., "--rate-min", help="percent"),
    rate_max: str = typer.Option(..., "--rate-max", help="percent"),
    convention: str = typer.Option("incremental", "--convention", help="incremental | cumulative"),
    max_levels: int | None = typer.Option(None, "--max-levels"),
    holder_limit: int = typer.Option(200, "--holder-limit"),
    bid_open: str = typer.Option(..., "--bid-open", help="ISO 8601; naive = Beijing time"),
    bid_close: str = typer.Option(..., "--bid-close"),
    payment_deadline: str = typer.Option(..., "--payment-deadline"),
    payee_name: str = typer.Option(..., "--payee-name", help="收款账户名称"),
    payee_bank: str = typer.Option(..., "--payee-bank", help="开户行"),
    payee_account: str = typer.Option(..., "--payee-account", help="账号"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Open the book of a tranche (发行信息)."""
    with user_errors(as_json):
        try:
            kind = Convention(convention)
        except ValueError:
            raise typer.BadParameter("--convention: incremental or cumulative") from None
        terms = Offering(
            size_yuan=_wan(size), rate_min=_pct(rate_min), rate_max=_pct(rate_max), convention=kind,
            lot_yuan=_wan(lot), minimum_yuan=_wan(minimum if minimum is not None else lot),
            bid_open=_when(bid_open, "--bid-open"), bid_close=_when(bid_close, "--bid-close"),
            max_levels=max_levels, cap_yuan=_wan(cap) if cap is not None else None, holder_limit=holder_limit,
        )
        view = bs.create_offering(
            context(), plan, tranche_id=tranche, security_name=security_name, security_code=security_code,
            term_months=term_months, terms=terms, payment_deadline=_when(payment_deadline, "--payment-deadline"),
            payee_name=payee_name, payee_bank=payee_bank, payee_account=payee_account,
        )
    if as_json:
        print_json({"plan_code": view.plan_code, "tranche_id": view.tranche_id, "status": view.status})
    else:
        console.print(f"book open for {view.plan_code} tranche {view.tranche_id} ({view.security_name})")


@app.command("offerings")
def offerings(plan: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """The plan's offerings."""
    with user_errors(as_json):
        rows = bs.list_offerings(context(), plan)
    data = [{"tranche_id": o.tranche_id, "security_name": o.security_name, "security_code": o.security_code,
             "size": wan_text(o.terms.size_yuan), "rate_min": percent_text(o.terms.rate_min),
             "rate_max": percent_text(o.terms.rate_max), "convention": o.terms.convention.value,
             "bid_open": o.terms.bid_open, "bid_close": o.terms.bid_close, "status": o.status} for o in rows]
    if as_json:
        print_json({"offerings": data})
        return
    table(f"Offerings of {plan}", list(data[0]) if data else ["tranche_id"], [list(d.values()) for d in data])


@app.command("bid")
def bid(
    plan: str = typer.Argument(...),
    tranche: str = typer.Option(..., "--tranche"),
    investor: str = typer.Option(..., "--investor"),
    rate: str = typer.Option(..., "--rate", help="percent, e.g. 2.70"),
    amount: str = typer.Option(..., "--amount", help="万元"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Submit one rate level (申购) now."""
    with user_errors(as_json):
        view = bs.submit_bid(context(), plan, tranche, investor=investor, rate=_pct(rate), amount_yuan=_wan(amount))
    _print_bids([view], as_json)


@app.command("bids-import")
def bids_import(
    plan: str = typer.Argument(...),
    tranche: str = typer.Option(..., "--tranche"),
    bids_file: Path = typer.Option(..., "--bids", help="BIDS.csv: investor,rate,amount (time column ignored)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Submit every level of a CSV file now, all or nothing."""
    with user_errors(as_json):
        parsed, problems = read_bids_csv(_read_text(bids_file, "bids"))
        if problems:
            raise ValidationFailed(problems)
        views = bs.submit_bids(context(), plan, tranche,
                               [bs.BidInput(b.investor, b.rate, b.amount_yuan, b.row) for b in parsed])
    _print_bids(views, as_json)


@app.command("amend")
def amend(
    plan: str = typer.Argument(...),
    tranche: str = typer.Option(..., "--tranche"),
    bid_id: int = typer.Option(..., "--bid-id"),
    rate: str | None = typer.Option(None, "--rate", help="percent"),
    amount: str | None = typer.Option(None, "--amount", help="万元"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Amend an active bid level before the close (the old version stays in the history)."""
    with user_errors(as_json):
        view = bs.amend_bid(context(), plan, tranche, bid_id, rate=_pct(rate) if rate else None,
                            amount_yuan=_wan(amount) if amount else None)
    _print_bids([view], as_json)


@app.command("withdraw")
def withdraw(
    plan: str = typer.Argument(...),
    tranche: str = typer.Option(..., "--tranche"),
    bid_id: int = typer.Option(..., "--bid-id"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Withdraw an active bid level before the close."""
    with user_errors(as_json):
        view = bs.withdraw_bid(context(), plan, tranche, bid_id)
    _print_bids([view], as_json)


@app.command("history")
def history(
    plan: str = typer.Argument(...),
    tranche: str = typer.Option(..., "--tranche"),
    investor: str | None = typer.Option(None, "--investor"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Every version of every bid (submitted, amended, withdrawn), oldest first."""
    with user_errors(as_json):
        views = bs.bid_history(context(), plan, tranche, investor)
    _print_bids(views, as_json)


def _print_bids(views: list[bs.BidView], as_json: bool) -> None:
    data = [{"id": v.id, "investor": v.investor, "rate": percent_text(v.rate), "amount": wan_text(v.amount_yuan),
             "status": v.status, "submitted_at": v.submitted_at, "closed_at": v.closed_at, "replaces": v.replaces}
            for v in views]
    if as_json:
        print_json({"bids": data})
        return
    table("Bids 申购", ["id", "investor", "rate %", "amount 万元", "status", "submitted", "closed", "replaces"],
          [list(d.values()) for d in data])


@app.command("summary")
def summary(
    plan: str = typer.Argument(...),
    tranche: str = typer.Option(..., "--tranche"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """标位汇总 of the active bids, with the allocation they would get now (nothing stored)."""
    with user_errors(as_json):
        if as_json:
            print_json(bookview.preview_json(context(), plan, tranche))
            return
        result = bs.preview_allocation(context(), plan, tranche)
    print_allocation(result, f"Book of {plan} tranche {tranche} 标位汇总")


@app.command("finalize")
def finalize(
    plan: str = typer.Argument(...),
    tranche: str = typer.Option(..., "--tranche"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Allocate after the close and make it final: coupon, holder register, log entry (idempotent)."""
    with user_errors(as_json):
        record = bs.run_allocation(context(), plan, tranche)
    body = bs.allocation_json(record)
    if as_json:
        print_json(body)
        return
    table(f"Final allocation {plan} {tranche}", ["", ""],
          [(k, v) for k, v in body.items() if k != "allocations"])
    table("Allocation 中标分配 (元)", ["investor", "bid", "allocated"],
          [(a["investor"], a["bid"], a["allocated"]) for a in body["allocations"]])


@app.command("results")
def results(plan: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """Issuance results (coupon, face issued) and the holder register of the plan."""
    with user_errors(as_json):
        issued = bs.issuance_results(context(), plan)
        register = bs.holders(context(), plan)
    data = [{"tranche_id": r.tranche_id, "security_name": r.security_name, "security_code": r.security_code,
             "coupon": percent_text(r.coupon) if r.coupon is not None else None, "issued": str(r.issued_yuan),
             "size": str(r.size_yuan), "settled_at": r.settled_at} for r in issued]
    holders_data = [{"tranche_id": h.tranche_id, "investor": h.investor, "face": str(h.face_yuan)} for h in register]
    if as_json:
        print_json({"results": data, "holders": holders_data})
        return
    table(f"Issuance results {plan}", ["tranche", "security", "code", "coupon %", "issued 元", "size 元", "settled"],
          [list(d.values()) for d in data])
    table("Holders 持有人名册", ["tranche", "investor", "face 元"], [list(d.values()) for d in holders_data])


@app.command("notices")
def notices(
    plan: str = typer.Argument(...),
    tranche: str = typer.Option(..., "--tranche"),
    out: Path = typer.Option(..., "--out", help="Directory for the files"),
    fmt: list[str] = typer.Option(["pdf", "xlsx"], "--format", help="pdf and/or xlsx"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Write payment notices (配售确认及缴款通知书), one per investor, as PDF and XLSX."""
    with user_errors(as_json):
        issued = bs.issue_notices(context(), plan, tranche, out, fmt)
    if as_json:
        print_json({"directory": str(issued.directory), "files": [{"name": n, "sha256": h} for n, h in issued.files],
                    "missing_glyphs": issued.missing_glyphs})
        return
    table(f"Notices in {issued.directory}", ["file", "sha256"], issued.files)
    if issued.missing_glyphs:
        console.print(f"[bold yellow]warning:[/] the font cannot draw {''.join(issued.missing_glyphs)}")


@app.command("pay")
def pay(
    plan: str = typer.Argument(...),
    tranche: str = typer.Option(..., "--tranche"),
    investor: str = typer.Option(..., "--investor"),
    amount: str = typer.Option(..., "--amount", help="元 (yuan)"),
    reference: str = typer.Option(..., "--reference", help="bank reference; recording it twice is a no-op"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Record money received from an investor (缴款)."""
    with user_errors(as_json):
        status = bs.record_payment(context(), plan, tranche, investor=investor, amount_yuan=_number(amount),
                                   reference=reference)
    _print_payments([status], as_json)


@app.command("reconcile")
def reconcile(
    plan: str = typer.Argument(...),
    tranche: str = typer.Option(..., "--tranche"),
    reference: str = typer.Option(..., "--reference"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Mark a recorded payment as matched to the bank statement."""
    with user_errors(as_json):
        status = bs.reconcile_payment(context(), plan, tranche, reference)
    _print_payments([status], as_json)


@app.command("payments")
def payments(
    plan: str = typer.Argument(...),
    tranche: str = typer.Option(..., "--tranche"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Paid / partly paid / unpaid per investor, with reconciled amounts."""
    with user_errors(as_json):
        statuses = bs.payment_statuses(context(), plan, tranche)
    _print_payments(statuses, as_json)


def _print_payments(statuses: list[bs.PaymentStatus], as_json: bool) -> None:
    data = [{"investor": s.investor, "due": str(s.due_yuan), "paid": str(s.paid_yuan),
             "reconciled": str(s.reconciled_yuan), "outstanding": str(s.outstanding_yuan), "state": s.state.value}
            for s in statuses]
    if as_json:
        print_json({"payments": data})
        return
    table("Payments 缴款 (元)", ["investor", "due", "paid", "reconciled", "outstanding", "state"],
          [(*list(d.values())[:-1], f"{s.state.value} {s.state.label_zh}")
           for d, s in zip(data, statuses, strict=True)])


@app.command("forecast")
def forecast(
    plan: str = typer.Argument(...),
    tranche: str = typer.Option(..., "--tranche"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Marginal-rate forecast (边际价格预测) with a 90% interval, from the bids so far and comparable deals."""
    with user_errors(as_json):
        f = bs.forecast(context(), plan, tranche)
    body: dict[str, Any] = {
        "rate": percent_text(f.rate), "low": percent_text(f.low), "high": percent_text(f.high),
        "prior_rate": percent_text(f.prior_rate), "book_rate": percent_text(f.book_rate) if f.book_rate else None,
        "book_weight": str(f.book_weight), "progress": str(f.progress), "covered_now": f.covered_now,
        "current_marginal_rate": percent_text(f.current_marginal_rate) if f.current_marginal_rate else None,
        "comparables": [{"name": n, "weight": str(w)} for n, w in f.comparables[:5]],
    }
    if as_json:
        print_json(body)
        return
    table(f"Forecast marginal rate {plan} {tranche}", ["", ""],
          [(k, v) for k, v in body.items() if k != "comparables"])
    table("Heaviest comparables", ["deal", "weight"], [(c["name"], c["weight"]) for c in body["comparables"]])


@app.command("backtest")
def backtest(as_json: bool = typer.Option(False, "--json")) -> None:
    """Leave-one-out backtest of the forecast prior on the 14 comparable deals (seed 001 appendix)."""
    body = bookview.backtest_json()
    rows = body["deals"]
    if as_json:
        print_json(body)
        return
    table("Leave-one-out backtest (percent)", ["deal", "actual", "predicted", "low", "high"],
          [list(r.values()) for r in rows])
    console.print(f"MAE {body['mean_absolute_error']}%  RMSE {body['root_mean_square_error']}%  "
                  f"90% interval coverage {body['coverage']}")
