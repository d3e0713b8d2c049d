"""Meaning checks on a deal: every problem at once, each with its path in the document."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

from absflow.deal import model as m
from absflow.domain.issues import Issue, Location

#: Actions that move money out of the plan's accounts to someone (a waterfall needs one).
PAYING_ACTIONS = frozenset({
    m.ActionKind.PAY_TAX, m.ActionKind.PAY_FEE, m.ActionKind.PAY_INTEREST, m.ActionKind.PAY_PRINCIPAL,
    m.ActionKind.PAY_RESIDUAL, m.ActionKind.BUY_ASSETS, m.ActionKind.REPAY_LIQUIDITY,
})


class _Issues:
    def __init__(self) -> None:
        self.items: list[Issue] = []

    def add(self, path: str, code: str, message: str, value: object = None) -> None:
        self.items.append(Issue(code, message, Location(field_path=path), None if value is None else str(value)))


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _unique(out: _Issues, section: str, ids: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for i, ident in enumerate(ids):
        if not ident.strip():
            out.add(f"{section}[{i}].id", "required", f"a {what} needs an id")
        elif ident in seen:
            out.add(f"{section}[{i}].id", "duplicate_id", f"{what} id {ident!r} is used twice", ident)
        seen.add(ident)


def _non_negative(out: _Issues, path: str, value: Decimal | None, what: str) -> None:
    if value is not None and value < 0:
        out.add(path, "negative", f"{what} must not be negative", value)


def _check_dates(out: _Issues, deal: m.Deal) -> None:
    d = deal.dates
    order = [
        ("dates.cutoff", d.cutoff), ("dates.establishment", d.establishment),
        ("dates.first_payment", d.first_payment),
    ]
    if d.expected_maturity is not None:
        order.append(("dates.expected_maturity", d.expected_maturity))
    order.append(("dates.legal_maturity", d.legal_maturity))
    for (name_a, a), (name_b, b) in zip(order, order[1:], strict=False):
        strict = name_a != "dates.cutoff"
        if (strict and b <= a) or (not strict and b < a):
            out.add(name_b, "dates_out_of_order",
                    f"{name_b.split('.')[1]} ({b}) must be {'after' if strict else 'on or after'} "
                    f"{name_a.split('.')[1]} ({a})", b)
    if d.payment_day is not None and not 1 <= d.payment_day <= 31:
        out.add("dates.payment_day", "out_of_range", "payment_day is a day of the month, 1 to 31", d.payment_day)
    if d.calendar not in {"SSE", "SZSE", "CN", "weekdays"}:
        out.add("dates.calendar", "unknown_calendar", "calendar is one of SSE, SZSE, CN, weekdays", d.calendar)


def _check_pool(out: _Issues, deal: m.Deal) -> None:
    p = deal.pool
    if p.source is m.PoolSource.PLAN and not p.plan_code:
        out.add("pool.plan_code", "required", "pool source 'plan' needs plan_code")
    if p.source is m.PoolSource.TAPE_FILE and not p.tape_file:
        out.add("pool.tape_file", "required", "pool source 'tape_file' needs tape_file")
    if p.source is m.PoolSource.TAPE_FILE and not p.tape_mapping:
        out.add("pool.tape_mapping", "required", "pool source 'tape_file' needs tape_mapping (a mapping file, or "
                "the asset type when the headers are the canonical field names)")
    if p.source is m.PoolSource.REP_LINES and not p.rep_lines:
        out.add("pool.rep_lines", "required", "pool source 'rep_lines' needs at least one rep line")
    if p.initial_balance is not None and p.initial_balance <= 0:
        out.add("pool.initial_balance", "not_positive", "initial pool balance must be positive", p.initial_balance)
    _unique(out, "pool.rep_lines", [r.id for r in p.rep_lines], "rep line")
    for i, r in enumerate(p.rep_lines):
        base = f"pool.rep_lines[{i}]"
        if r.balance <= 0:
            out.add(f"{base}.balance", "not_positive", "rep line balance must be positive", r.balance)
        _non_negative(out, f"{base}.rate", r.rate, "rate")
        if r.term_months <= 0:
            out.add(f"{base}.term_months", "not_positive", "term must be at least one month", r.term_months)
        if r.remaining_term_months is not None and not 0 < r.remaining_term_months <= r.term_months:
            out.add(f"{base}.remaining_term_months", "out_of_range",
                    "remaining term must be between 1 and the original term", r.remaining_term_months)
        if r.amortization is m.Amortization.REVOLVING:
            if r.payment_rate_monthly is None:
                out.add(f"{base}.payment_rate_monthly", "required", "a revolving rep line needs payment_rate_monthly")
            elif not 0 < r.payment_rate_monthly <= 1:
                out.add(f"{base}.payment_rate_monthly", "out_of_range", "payment rate is a fraction in (0, 1]",
                        r.payment_rate_monthly)


def _check_tranches(out: _Issues, deal: m.Deal, tranche_ids: set[str]) -> None:
    if not deal.tranches:
        out.add("tranches", "required", "a deal needs at least one tranche")
    _unique(out, "tranches", [t.id for t in deal.tranches], "tranche")
    for i, t in enumerate(deal.tranches):
        base = f"tranches[{i}]"
        if t.size <= 0:
            out.add(f"{base}.size", "not_positive" if t.size == 0 else "negative",
                    "tranche size must be positive", t.size)
        c = t.coupon
        if c.kind is m.CouponKind.FIXED:
            if c.rate is None:
                out.add(f"{base}.coupon.rate", "required", "a fixed coupon needs rate")
            _non_negative(out, f"{base}.coupon.rate", c.rate, "coupon rate")
        if c.kind is m.CouponKind.FLOATING:
            if c.index not in {"LPR1Y", "LPR5Y"}:
                out.add(f"{base}.coupon.index", "unknown_index", "floating coupons float on LPR1Y or LPR5Y", c.index)
            if c.margin is None:
                out.add(f"{base}.coupon.margin", "required", "a floating coupon needs margin")
        if c.floor is not None and c.cap is not None and c.floor > c.cap:
            out.add(f"{base}.coupon.floor", "floor_above_cap", "coupon floor is above the cap", c.floor)
        if t.principal_type is m.PrincipalType.TARGET_BALANCE and not t.target_balances:
            out.add(f"{base}.target_balances", "required", "principal type target_balance needs target_balances")
        for j, step in enumerate(t.target_balances):
            _non_negative(out, f"{base}.target_balances[{j}].balance", step.balance, "target balance")
        if t.issue_price <= 0:
            out.add(f"{base}.issue_price", "not_positive", "issue price per 100 face must be positive", t.issue_price)


def _check_accounts(out: _Issues, deal: m.Deal, tranche_ids: set[str]) -> None:
    _unique(out, "accounts", [a.id for a in deal.accounts], "account")
    if not any(a.kind is m.AccountKind.COLLECTION for a in deal.accounts):
        out.add("accounts", "required", "a deal needs a collection account (where pool cash lands)")
    for i, a in enumerate(deal.accounts):
        base = f"accounts[{i}]"
        _non_negative(out, f"{base}.initial_balance", a.initial_balance, "initial balance")
        if a.kind is m.AccountKind.RESERVE and a.target is None:
            out.add(f"{base}.target", "required", "a reserve account needs a target formula")
        if a.target is None:
            continue
        tg = a.target
        if tg.kind is m.ReserveTargetKind.FIXED and tg.amount is None:
            out.add(f"{base}.target.amount", "required", "a fixed target needs amount")
        if tg.kind is not m.ReserveTargetKind.FIXED and tg.rate is None:
            out.add(f"{base}.target.rate", "required", f"target {tg.kind.value} needs rate")
        _non_negative(out, f"{base}.target.amount", tg.amount, "target amount")
        _non_negative(out, f"{base}.target.rate", tg.rate, "target rate")
        for j, ref in enumerate(tg.tranches):
            if ref not in tranche_ids:
                out.add(f"{base}.target.tranches[{j}]", "unknown_tranche", f"no tranche {ref!r}", ref)


def _check_fees(out: _Issues, deal: m.Deal, tranche_ids: set[str]) -> None:
    _unique(out, "fees", [f.id for f in deal.fees], "fee")
    for i, f in enumerate(deal.fees):
        base = f"fees[{i}]"
        if f.kind in (m.FeeKind.FIXED, m.FeeKind.ONE_OFF) and f.amount is None:
            out.add(f"{base}.amount", "required", f"a {f.kind.value} fee needs amount")
        if f.kind is m.FeeKind.PERCENT_OF_BALANCE and f.rate is None:
            out.add(f"{base}.rate", "required", "a percent_of_balance fee needs rate")
        _non_negative(out, f"{base}.amount", f.amount, "fee amount")
        _non_negative(out, f"{base}.rate", f.rate, "fee rate")
        for j, ref in enumerate(f.tranches):
            if ref not in tranche_ids:
                out.add(f"{base}.tranches[{j}]", "unknown_tranche", f"no tranche {ref!r}", ref)
    if deal.tax is not None and not 0 <= deal.tax.rate < 1:
        out.add("tax.rate", "out_of_range", "tax rate is a fraction in [0, 1)", deal.tax.rate)


def _check_periods(out: _Issues, deal: m.Deal) -> None:
    p = deal.periods
    d = deal.dates
    if p.initial_status is m.DealStatus.REVOLVING and p.revolving is None:
        out.add("periods.revolving", "required", "a deal that starts revolving needs periods.revolving")
    if p.revolving is not None:
        rv = p.revolving
        if not d.establishment < rv.end <= d.legal_maturity:
            out.add("periods.revolving.end", "dates_out_of_order",
                    "the revolving period must end after establishment and by the legal maturity", rv.end)
        if rv.interim_amortization_working_days < 0:
            out.add("periods.revolving.interim_amortization_working_days", "negative",
                    "interim amortization window must not be negative", rv.interim_amortization_working_days)
    fa = p.final_amortization
    if fa is not None:
        if fa.start is not None and not d.establishment < fa.start <= d.legal_maturity:
            out.add("periods.final_amortization.start", "dates_out_of_order",
                    "final amortization must start after establishment and by the legal maturity", fa.start)
        for name in ("length_working_days", "length_months"):
            value = getattr(fa, name)
            if value is not None and value <= 0:
                out.add(f"periods.final_amortization.{name}", "not_positive", f"{name} must be positive", value)


def _check_waterfalls(out: _Issues, deal: m.Deal, ids: Mapping[str, set[str]]) -> None:
    tranche_ids, account_ids = ids["tranches"], ids["accounts"]
    fee_ids, liquidity_ids, guarantor_ids = ids["fees"], ids["liquidity"], ids["guarantor"]
    if deal.periods.initial_status not in deal.waterfalls:
        out.add("waterfalls", "missing_waterfall",
                f"no waterfall for the initial status {deal.periods.initial_status.value!r}")
    if deal.periods.revolving is not None and m.DealStatus.AMORTIZING not in deal.waterfalls:
        out.add("waterfalls", "missing_waterfall", "a revolving deal needs an 'amortizing' waterfall for after it")
    all_waterfalls = {**{k.value: v for k, v in deal.waterfalls.items()}, **deal.extra_waterfalls}
    principal_paid: set[str] = set()
    for key, wf in all_waterfalls.items():
        base = f"waterfalls.{key}"
        if not any(a.kind in PAYING_ACTIONS for a in wf.actions):
            out.add(base, "pays_nothing", f"waterfall {key!r} pays nothing (no pay_…, buy_assets or repay action)")
        for i, a in enumerate(wf.actions):
            ap = f"{base}[{i}]"
            for name in ("source", "to", "account"):
                ref = getattr(a, name)
                if ref is not None and ref not in account_ids:
                    out.add(f"{ap}.{name}", "unknown_account", f"no account {ref!r}", ref)
            for j, ref in enumerate(a.tranches):
                if ref not in tranche_ids:
                    out.add(f"{ap}.tranches[{j}]", "unknown_tranche", f"no tranche {ref!r}", ref)
            for j, ref in enumerate(a.fees):
                if ref not in fee_ids:
                    out.add(f"{ap}.fees[{j}]", "unknown_fee", f"no fee {ref!r}", ref)
            if a.kind in (m.ActionKind.PAY_INTEREST, m.ActionKind.PAY_PRINCIPAL, m.ActionKind.PAY_RESIDUAL) \
                    and not a.tranches:
                out.add(f"{ap}.tranches", "required", f"{a.kind.value} needs tranches")
            if a.kind is m.ActionKind.PAY_RESIDUAL and len(a.tranches) > 1 and a.mode is m.SplitMode.TO_TARGET:
                out.add(f"{ap}.mode", "invalid_mode", "pay_residual is sequential or pro_rata")
            if a.kind is m.ActionKind.PAY_FEE and not a.fees:
                out.add(f"{ap}.fees", "required", "pay_fee needs fees")
            if a.kind is m.ActionKind.TRANSFER and a.to is None:
                out.add(f"{ap}.to", "required", "transfer needs to")
            if a.kind is m.ActionKind.TRANSFER and a.limit is None:
                out.add(f"{ap}.limit", "required", "transfer needs a limit (amount or percent_of_available)")
            if a.kind is m.ActionKind.TOP_UP_RESERVE:
                if a.account is None:
                    out.add(f"{ap}.account", "required", "top_up_reserve needs account")
                elif a.account in account_ids and deal.account(a.account).target is None:
                    out.add(f"{ap}.account", "no_target", f"account {a.account!r} has no target formula", a.account)
            if a.kind in (m.ActionKind.DRAW_LIQUIDITY, m.ActionKind.REPAY_LIQUIDITY) \
                    and a.facility not in liquidity_ids:
                out.add(f"{ap}.facility", "unknown_facility",
                        f"no liquidity support {a.facility!r} in credit_enhancement", a.facility)
            if a.kind is m.ActionKind.CALL_SHORTFALL and a.facility not in guarantor_ids:
                out.add(f"{ap}.facility", "unknown_facility",
                        f"no shortfall payment {a.facility!r} in credit_enhancement", a.facility)
            if a.kind is m.ActionKind.PAY_PRINCIPAL and a.mode is m.SplitMode.TO_TARGET:
                for j, ref in enumerate(a.tranches):
                    if ref in tranche_ids and not deal.tranche(ref).target_balances:
                        out.add(f"{ap}.tranches[{j}]", "no_target",
                                f"tranche {ref!r} has no target_balances for mode to_target", ref)
            if a.kind in (m.ActionKind.PAY_PRINCIPAL, m.ActionKind.PAY_RESIDUAL):
                principal_paid.update(a.tranches)
            if a.limit is not None:
                lim = a.limit
                if lim.kind is m.LimitKind.AMOUNT and lim.amount is None:
                    out.add(f"{ap}.limit.amount", "required", "an amount limit needs amount")
                if lim.kind in (m.LimitKind.PERCENT_OF_AVAILABLE, m.LimitKind.ANNUAL_RETURN) and lim.rate is None:
                    out.add(f"{ap}.limit.rate", "required", f"a {lim.kind.value} limit needs rate")
                _non_negative(out, f"{ap}.limit.amount", lim.amount, "limit amount")
                _non_negative(out, f"{ap}.limit.rate", lim.rate, "limit rate")
            for j, s in enumerate(a.support):
                known = {m.SupportKind.ACCOUNT: account_ids, m.SupportKind.LIQUIDITY: liquidity_ids,
                         m.SupportKind.GUARANTOR: guarantor_ids}[s.kind]
                if s.ref not in known:
                    code = "unknown_account" if s.kind is m.SupportKind.ACCOUNT else "unknown_facility"
                    out.add(f"{ap}.support[{j}].{s.kind.value if s.kind is not m.SupportKind.ACCOUNT else 'account'}",
                            code, f"no {s.kind.value} {s.ref!r}", s.ref)
    for i, t in enumerate(deal.tranches):
        if t.id not in principal_paid:
            out.add(f"tranches[{i}]", "never_repaid", f"no waterfall pays principal (or residual) to {t.id!r}", t.id)


def _check_threshold_value(out: _Issues, path: str, metric: m.Metric, text: str | None) -> None:
    if text is None:
        return
    if metric is m.Metric.ORIGINATOR_RATING:
        if m.rating_rank(text) is None:
            out.add(path, "unknown_rating", f"not a rating on the scale {', '.join(m.RATING_SCALE)}", text)
    elif _decimal(text) is None:
        out.add(path, "not_a_number", "threshold must be a number (fractions for rates)", text)


#: Why revolving cannot pause on the fund idle rate (a curable stop, or a pause rule).
_IDLE_PAUSE = ("revolving cannot pause on the fund idle rate: while purchases are paused the cash cannot be spent, so "
               "the rate never comes back under the threshold (and cash held by a pause is not idle, so it is not "
               "measured). Make it a credit event instead: curable: false with stop_revolving, and consecutive_days "
               "for 'above y for k days'")


def _check_triggers(out: _Issues, deal: m.Deal, metric_errors: Mapping[str, str]) -> None:
    _unique(out, "triggers", [t.id for t in deal.triggers], "trigger")
    waterfall_ids = {k.value for k in deal.waterfalls} | set(deal.extra_waterfalls)
    for path, name in metric_errors.items():
        out.add(path, "unknown_metric", f"unknown metric {name!r}; one of: {', '.join(x.value for x in m.Metric)}",
                name)
    for i, t in enumerate(deal.triggers):
        base = f"triggers[{i}]"
        if f"{base}.metric" in metric_errors:
            continue
        th = t.threshold
        if th.constant is None and not th.steps:
            out.add(f"{base}.threshold", "required", "a threshold needs value or steps")
        if th.constant is not None and th.steps:
            out.add(f"{base}.threshold", "ambiguous", "give value or steps, not both")
        _check_threshold_value(out, f"{base}.threshold.value", t.metric, th.constant)
        for j, step in enumerate(th.steps):
            _check_threshold_value(out, f"{base}.threshold.steps[{j}].value", t.metric, step.value)
            if j and step.on_or_after <= th.steps[j - 1].on_or_after:
                out.add(f"{base}.threshold.steps[{j}].on_or_after", "dates_out_of_order",
                        "threshold steps must be in increasing date order", step.on_or_after)
        if not t.effects:
            out.add(f"{base}.effects", "required", "a trigger needs at least one effect")
        for j, e in enumerate(t.effects):
            if e.kind is m.EffectKind.CHANGE_STATUS:
                if e.status is None:
                    out.add(f"{base}.effects[{j}].status", "required", "change_status needs status")
                elif e.status not in deal.waterfalls:
                    out.add(f"{base}.effects[{j}].status", "missing_waterfall",
                            f"no waterfall for status {e.status.value!r}", e.status.value)
            if e.kind is m.EffectKind.SWITCH_WATERFALL and e.waterfall not in waterfall_ids:
                out.add(f"{base}.effects[{j}].waterfall", "unknown_waterfall", f"no waterfall {e.waterfall!r}",
                        e.waterfall)


def _check_credit_enhancement(out: _Issues, deal: m.Deal, tranche_ids: set[str]) -> None:
    ce = deal.credit_enhancement
    ids = [x.id for x in ce.liquidity_support] + [x.id for x in ce.shortfall_payment]
    counts = Counter(ids)
    sections: tuple[tuple[str, tuple[m.LiquiditySupport | m.ShortfallPayment, ...]], ...] = (
        ("liquidity_support", ce.liquidity_support), ("shortfall_payment", ce.shortfall_payment))
    for section, items in sections:
        for i, x in enumerate(items):
            base = f"credit_enhancement.{section}[{i}]"
            if counts[x.id] > 1:
                out.add(f"{base}.id", "duplicate_id", f"facility id {x.id!r} is used twice", x.id)
            if not x.tranches:
                out.add(f"{base}.tranches", "required", "name the tranches supported")
            for j, ref in enumerate(x.tranches):
                if ref not in tranche_ids:
                    out.add(f"{base}.tranches[{j}]", "unknown_tranche", f"no tranche {ref!r}", ref)
            _non_negative(out, f"{base}.cap", x.cap, "cap")
    for i, r in enumerate(ce.repurchase):
        if r.kind is m.RepurchaseKind.RISK and r.maintenance_ratio_below is None:
            out.add(f"credit_enhancement.repurchase[{i}].maintenance_ratio_below", "required",
                    "risk-asset repurchase needs maintenance_ratio_below")


_BOOL_RULES = {m.EligibilityRule.TERM_INSIDE_PLAN, m.EligibilityRule.NOT_OVERDUE,
               m.EligibilityRule.NOT_IN_LIQUIDATION, m.EligibilityRule.NOT_EXTENDED}
_LIST_RULES = {m.EligibilityRule.ALLOWED_VALUES, m.EligibilityRule.DENIED_VALUES}


def _check_revolving(out: _Issues, deal: m.Deal, metric_errors: Mapping[str, str]) -> None:
    rv = deal.revolving
    if rv is None:
        return
    if deal.periods.revolving is None:
        out.add("revolving", "no_revolving_period", "a revolving section needs periods.revolving")
    rule_ids = [e.id for e in rv.eligibility] + [c.id for c in rv.concentration] + \
        [x.id for x in rv.pause_when] + [x.id for x in rv.stop_when]
    counts = Counter(rule_ids)
    for i, e in enumerate(rv.eligibility):
        base = f"revolving.eligibility[{i}]"
        if counts[e.id] > 1:
            out.add(f"{base}.id", "duplicate_id", f"rule id {e.id!r} is used twice", e.id)
        if e.rule in _BOOL_RULES:
            if e.value not in (None, "true", "false"):
                out.add(f"{base}.value", "not_a_boolean", "this rule takes true or false", e.value)
        elif e.rule in _LIST_RULES:
            if not e.field:
                out.add(f"{base}.field", "required", f"{e.rule.value} needs field")
            if not e.values:
                out.add(f"{base}.values", "required", f"{e.rule.value} needs values")
        else:
            number = _decimal(e.value)
            if number is None:
                out.add(f"{base}.value", "not_a_number", f"{e.rule.value} needs a numeric value", e.value)
            elif number < 0:
                out.add(f"{base}.value", "negative", "value must not be negative", e.value)
    for i, c in enumerate(rv.concentration):
        base = f"revolving.concentration[{i}]"
        if counts[c.id] > 1:
            out.add(f"{base}.id", "duplicate_id", f"rule id {c.id!r} is used twice", c.id)
        if not 0 < c.max_share <= 1:
            out.add(f"{base}.max_share", "out_of_range", "max_share is a fraction in (0, 1]", c.max_share)
        if c.rule is m.ConcentrationRule.TOP_N_CLIENTS_MAX_SHARE and (c.top_n is None or c.top_n <= 0):
            out.add(f"{base}.top_n", "required", "top_n_clients_max_share needs a positive top_n", c.top_n)
        if c.rule is m.ConcentrationRule.SINGLE_GROUP_MAX_SHARE and not c.field:
            out.add(f"{base}.field", "required", "single_group_max_share needs field (region, industry, …)")
    lines = rv.maintenance_lines
    for name in ("warning", "liquidation", "repurchase"):
        value = getattr(lines, name)
        if value is not None and value <= 0:
            out.add(f"revolving.maintenance_lines.{name}", "not_positive", "a maintenance line must be positive",
                    value)
    if lines.warning is not None and lines.liquidation is not None and lines.warning <= lines.liquidation:
        out.add("revolving.maintenance_lines.warning", "out_of_order", "the warning line must be above liquidation",
                lines.warning)
    for key in ("pause_when", "stop_when"):
        for i, x in enumerate(getattr(rv, key)):
            base = f"revolving.{key}[{i}]"
            if counts[x.id] > 1:
                out.add(f"{base}.id", "duplicate_id", f"rule id {x.id!r} is used twice", x.id)
            if f"{base}.metric" not in metric_errors:
                _check_threshold_value(out, f"{base}.value", x.metric, x.value)
    _non_negative(out, "revolving.min_purchase_amount", rv.min_purchase_amount, "minimum purchase")


def attach_issues(deal: m.Deal) -> list[Issue]:
    """Problems a document must not have to be attached from now on, beyond :func:`validate_deal`.

    Rules added after documents could already be stored: a version attached before a rule
    existed still loads (``parse_document(…, stored=True)``), so an upgrade never makes a
    plan's deal unreadable; attaching a new version applies them. Today: revolving cannot
    pause on the fund idle rate (:data:`_IDLE_PAUSE`)."""
    out = _Issues()
    for i, t in enumerate(deal.triggers):
        if t.curable and t.metric is m.Metric.FUND_IDLE_RATE and any(
                e.kind is m.EffectKind.STOP_REVOLVING for e in t.effects):
            out.add(f"triggers[{i}].curable", "pause_never_ends", _IDLE_PAUSE, "true")
    for i, x in enumerate(deal.revolving.pause_when if deal.revolving else ()):
        if x.metric is m.Metric.FUND_IDLE_RATE:
            out.add(f"revolving.pause_when[{i}].metric", "pause_never_ends", _IDLE_PAUSE, x.metric.value)
    return out.items


def validate_deal(deal: m.Deal, *, metric_names: Mapping[str, str] | None = None) -> list[Issue]:
    """Every meaning problem of ``deal``; empty when it can run.

    ``metric_names`` maps document paths to metric names the document gave that are not
    known metrics (the edge keeps them as text so all problems are reported together).
    """
    out = _Issues()
    metric_errors = dict(metric_names or {})
    ids = {
        "tranches": {t.id for t in deal.tranches},
        "accounts": {a.id for a in deal.accounts},
        "fees": {f.id for f in deal.fees},
        "liquidity": {x.id for x in deal.credit_enhancement.liquidity_support},
        "guarantor": {x.id for x in deal.credit_enhancement.shortfall_payment},
    }
    _check_dates(out, deal)
    _check_pool(out, deal)
    _check_tranches(out, deal, ids["tranches"])
    _check_accounts(out, deal, ids["tranches"])
    _check_fees(out, deal, ids["tranches"])
    _check_periods(out, deal)
    _check_waterfalls(out, deal, ids)
    _check_triggers(out, deal, {k: v for k, v in metric_errors.items() if k.startswith("triggers")})
    _check_credit_enhancement(out, deal, ids["tranches"])
    _check_revolving(out, deal, metric_errors)
    for path, name in metric_errors.items():
        if path.startswith("revolving."):
            out.add(path, "unknown_metric",
                    f"unknown metric {name!r}; one of: {', '.join(x.value for x in m.Metric)}", name)
    return out.items
