"""Synthetic tapes: realistic, documented distributions, deterministic per seed, vectorized numpy.

Every generator takes ``n``, ``seed`` and the ``cutoff`` date and returns a polars frame in
the *canonical* schema (money in yuan with two decimals, rates as fractions, ISO dates).
``to_zh`` re-labels a frame the way an originator would send it (Chinese headers, rates
and ratios in percent, dates as ``YYYYMMDD``, Chinese status words) — the shipped mappings
in ``examples/mappings/`` read it back. The distributions are documented in docs/TAPE.md.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from absflow.tape.schema import TapeKind

#: Province shares for brokerage clients: coastal provinces dominate, as in the large
#: brokers' account books (illustrative; sums to 1).
MARGIN_REGIONS: dict[str, float] = {
    "广东": 0.15, "浙江": 0.11, "江苏": 0.10, "上海": 0.09, "北京": 0.07, "山东": 0.06, "福建": 0.05,
    "四川": 0.05, "湖北": 0.04, "河南": 0.035, "湖南": 0.03, "安徽": 0.03, "新疆": 0.025, "辽宁": 0.02,
    "陕西": 0.02, "天津": 0.015, "重庆": 0.015, "江西": 0.012, "河北": 0.012, "广西": 0.01, "云南": 0.008,
    "山西": 0.008, "黑龙江": 0.006, "吉林": 0.005, "贵州": 0.005, "内蒙古": 0.004, "海南": 0.003, "甘肃": 0.003,
}
#: Consumer-loan borrowers: population-weighted with online-lending skew (illustrative).
CONSUMER_REGIONS: dict[str, float] = {
    "广东": 0.12, "河南": 0.07, "山东": 0.07, "四川": 0.065, "江苏": 0.065, "河北": 0.055, "湖南": 0.05,
    "浙江": 0.05, "安徽": 0.045, "湖北": 0.045, "广西": 0.04, "云南": 0.035, "江西": 0.035, "福建": 0.035,
    "辽宁": 0.03, "陕西": 0.03, "贵州": 0.028, "山西": 0.025, "重庆": 0.024, "黑龙江": 0.02, "北京": 0.018,
    "上海": 0.018, "吉林": 0.015, "甘肃": 0.015, "内蒙古": 0.013, "新疆": 0.012, "天津": 0.01, "海南": 0.006,
    "宁夏": 0.004, "青海": 0.003, "西藏": 0.001,
}
MARGIN_INDUSTRIES: dict[str, float] = {
    "个人投资者": 0.90, "制造业": 0.03, "金融业": 0.02, "信息技术": 0.02, "批发和零售业": 0.015, "房地产业": 0.01,
    "建筑业": 0.005,
}
CONSUMER_INDUSTRIES: dict[str, float] = {
    "制造业": 0.22, "批发和零售业": 0.18, "建筑业": 0.12, "住宿和餐饮业": 0.09, "交通运输": 0.08,
    "信息技术": 0.07, "教育": 0.05, "卫生": 0.05, "公共管理": 0.04, "金融业": 0.03, "其他服务业": 0.07,
}
GRADES: dict[str, float] = {"A": 0.35, "B": 0.35, "C": 0.22, "D": 0.08}
PURPOSES: dict[str, float] = {
    "日常消费": 0.45, "家电数码": 0.15, "装修": 0.12, "教育": 0.08,
    "旅游": 0.08, "医疗": 0.05, "婚庆": 0.04, "其他": 0.03,
}
#: Broker financing rates: most contracts at the published rate, the rest negotiated
#: (seed 001: brokers compete on rate; issued deals 2015–2017 had pool rates of about 6–9%).
LISTED_RATES: dict[float, float] = {0.0835: 0.45, 0.0860: 0.08, 0.0800: 0.10, 0.0760: 0.07}

MARGIN_ZH: dict[str, str] = {
    "contract_id": "合约编号", "client_id": "客户编号", "principal_outstanding": "融资余额(元)",
    "financing_rate": "融资利率(%)", "start_date": "融资日期", "due_date": "合约到期日", "extension_count": "展期次数",
    "accrued_interest": "应计利息(元)", "fees": "应付费用(元)", "cash_balance": "现金余额(元)",
    "securities_market_value": "证券市值(元)", "short_market_value": "融券市值(元)",
    "maintenance_ratio": "维持担保比例(%)", "status": "合约状态", "region": "客户所在地", "industry": "客户类型",
    "branch": "营业部",
}
CONSUMER_ZH: dict[str, str] = {
    "loan_id": "借据编号", "obligor_id": "借款人编号", "original_principal": "合同金额(元)",
    "current_balance": "剩余本金(元)", "interest_rate": "年利率(%)", "origination_date": "放款日期",
    "original_term_months": "期数(月)", "maturity_date": "到期日期", "amortization": "还款方式", "status": "贷款状态",
    "days_past_due": "逾期天数", "region": "省份", "industry": "职业行业", "grade": "风险等级", "purpose": "贷款用途",
}
PERFORMANCE_ZH: dict[str, str] = {
    "loan_id": "借据编号", "period": "报告月份", "begin_balance": "期初本金(元)",
    "scheduled_principal": "正常还本(元)", "prepaid_principal": "提前还本(元)", "defaulted_amount": "违约本金(元)",
    "recovery": "回收金额(元)", "days_past_due": "逾期天数", "status": "贷款状态", "origination_date": "放款日期",
    "original_principal": "合同金额(元)",
}
STATUS_ZH: dict[str, str] = {
    "performing": "正常", "delinquent": "逾期", "defaulted": "违约", "prepaid": "提前结清", "repaid": "已结清",
    "warning": "预警", "liquidating": "平仓中",
}
AMORTIZATION_ZH: dict[str, str] = {
    "level_payment": "等额本息", "equal_principal": "等额本金", "interest_only": "先息后本", "bullet": "到期还本",
}
ZH_HEADERS: dict[TapeKind, dict[str, str]] = {
    TapeKind.MARGIN_LOAN: MARGIN_ZH, TapeKind.CONSUMER_LOAN: CONSUMER_ZH, TapeKind.LOAN_PERFORMANCE: PERFORMANCE_ZH,
}
PERCENT_FIELDS = ("financing_rate", "maintenance_ratio", "interest_rate")
DATE_FIELDS = ("start_date", "due_date", "origination_date", "maturity_date", "period")


def _choice(rng: np.random.Generator, table: dict[str, float], n: int) -> pl.Series:
    """``n`` labels drawn with the table's weights (gathered in polars: no per-row strings in numpy)."""
    weights = np.array(list(table.values()), dtype=float)
    index = rng.choice(len(table), size=n, p=weights / weights.sum())
    return _labels(list(table), index)


def _labels(labels: list[str], index: np.ndarray) -> pl.Series:
    return pl.Series(labels, dtype=pl.String).gather(pl.Series(index.astype(np.int64)))


def _yuan(values: np.ndarray) -> np.ndarray:
    """Round to the fen (two decimals)."""
    return np.round(values, 2)


def _add_months_np(start: np.ndarray, months: np.ndarray) -> np.ndarray:
    """numpy datetime64[D] + whole months, day clamped to the month end."""
    month = start.astype("datetime64[M]")
    day = (start - month).astype(np.int64)
    target = month + months.astype("timedelta64[M]")
    last = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64) - 1
    result: np.ndarray = target.astype("datetime64[D]") + np.minimum(day, last).astype("timedelta64[D]")
    return result


def margin_loans(n: int, seed: int, cutoff: date, *, id_prefix: str = "MF") -> pl.DataFrame:
    """``n`` margin-financing contracts (融出资金债权) as of ``cutoff`` (canonical schema).

    - principal outstanding: lognormal, median 60,000 yuan, σ 1.1 (in log; mean ≈ 110,000), clipped to
      1,000–50,000,000; clients hold 1.6 contracts on average (a skewed draw of clients).
    - financing rate: 70% at one of the listed rates (8.35% most common, 8.60%, 8.00%,
      7.60%), 30% negotiated, uniform 6.00–9.00%, to 0.01%.
    - term: 6 months per contract period (≤ 6 months by rule), extended 0–4 times
      (P = 0.70, 0.18, 0.08, 0.03, 0.01); start date uniform over the current period.
    - maintenance ratio: 97% lognormal, median 270%, σ 0.30 (so mostly 180–400%); 3% a tail
      uniform 110–150%. Status follows the ratio: < 130% liquidating, < 150% warning, else
      performing; 0.3% delinquent (due date 1–30 days before the cut-off).
    - collateral: cash 0–10% of the collateral, securities the rest, so that
      (cash + securities) / (principal + short + interest + fees) equals the ratio;
      5% of contracts carry short positions (0–30% of principal).
    - accrued interest: principal × rate × U(0, 90) / 360; fees: 10% of contracts, 0–50 yuan.
    - regions: ``MARGIN_REGIONS``; client type: ``MARGIN_INDUSTRIES``.
    """
    rng = np.random.default_rng(seed)
    n_clients = max(1, int(n / 1.6))
    client = np.floor(n_clients * rng.random(n) ** 1.35).astype(np.int64)
    principal = _yuan(np.clip(rng.lognormal(np.log(60_000), 1.1, n), 1_000, 50_000_000))
    listed = np.array(list(LISTED_RATES))
    listed_p = np.array(list(LISTED_RATES.values()))
    use_listed = rng.random(n) < listed_p.sum()
    rate = np.where(use_listed, listed[rng.choice(len(listed), n, p=listed_p / listed_p.sum())],
                    np.round(rng.uniform(0.06, 0.09, n), 4))
    extensions = rng.choice(5, n, p=[0.70, 0.18, 0.08, 0.03, 0.01])
    age_days = (rng.random(n) * 181 * (1 + extensions)).astype(np.int64)  # days since first drawn
    start = np.datetime64(cutoff.isoformat(), "D") - age_days.astype("timedelta64[D]")
    due = _add_months_np(start, 6 * (1 + extensions))
    ratio = np.where(rng.random(n) < 0.97, rng.lognormal(np.log(2.70), 0.30, n), rng.uniform(1.10, 1.50, n))
    ratio = np.clip(ratio, 1.05, 20.0)
    short = np.where(rng.random(n) < 0.05, _yuan(principal * rng.uniform(0, 0.3, n)), 0.0)
    accrued = _yuan(principal * rate * rng.uniform(0, 90, n) / 360)
    fees = np.where(rng.random(n) < 0.10, _yuan(rng.uniform(0, 50, n)), 0.0)
    debts = principal + short + accrued + fees
    collateral = debts * ratio
    cash = _yuan(collateral * rng.uniform(0, 0.10, n))
    securities = _yuan(collateral - cash)
    status = np.where(ratio < 1.30, 2, np.where(ratio < 1.50, 1, 0))
    late = rng.random(n) < 0.003
    cutoff_day = np.datetime64(cutoff.isoformat(), "D")
    due = np.where(late, cutoff_day - rng.integers(1, 31, n).astype("timedelta64[D]"), due)
    due = np.where(due < start, start, due)
    due = np.where(~late & (due <= cutoff_day), cutoff_day + np.timedelta64(1, "D"), due)
    status = np.where(late, 3, status)
    region = _choice(rng, MARGIN_REGIONS, n)
    branch_no = rng.integers(1, 6, n)
    ratio_exact = (cash + securities) / debts
    return pl.DataFrame({
        "contract_id": (pl.Series(np.arange(1, n + 1)).cast(pl.String).str.zfill(8)),
        "client_id": pl.Series(client + 1).cast(pl.String).str.zfill(8),
        "principal_outstanding": principal,
        "financing_rate": rate,
        "start_date": pl.Series(start.astype("datetime64[D]")),
        "due_date": pl.Series(due.astype("datetime64[D]")),
        "extension_count": extensions.astype(np.int64),
        "accrued_interest": accrued,
        "fees": fees,
        "cash_balance": cash,
        "securities_market_value": securities,
        "short_market_value": short,
        "maintenance_ratio": np.round(ratio_exact, 4),
        "status": _labels(["performing", "warning", "liquidating", "delinquent"], status),
        "region": region,
        "industry": _choice(rng, MARGIN_INDUSTRIES, n),
        "branch": region + pl.Series(branch_no).cast(pl.String).str.zfill(2) + "营业部",
    }).with_columns(
        (pl.lit(id_prefix) + pl.col("contract_id")).alias("contract_id"),
        (pl.lit(id_prefix + "C") + pl.col("client_id")).alias("client_id"),
        pl.col("start_date").cast(pl.Date), pl.col("due_date").cast(pl.Date),
    )


def _level_balance(principal: np.ndarray, rate: np.ndarray, term: np.ndarray, paid: np.ndarray) -> np.ndarray:
    """Balance after ``paid`` monthly instalments of a level-payment loan."""
    r = rate / 12
    growth_n = (1 + r) ** term
    growth_k = (1 + r) ** paid
    result: np.ndarray = principal * (growth_n - growth_k) / (growth_n - 1)
    return result


def consumer_loans(n: int, seed: int, cutoff: date, *, id_prefix: str = "CL") -> pl.DataFrame:
    """``n`` consumer loans (消费贷) as of ``cutoff`` (canonical schema).

    - original principal: lognormal, median 8,000 yuan, σ 0.9, clipped 500–200,000, to 100 yuan.
    - term: 3/6/9/12/18/24/36 months (P = .10/.20/.10/.30/.10/.15/.05).
    - APR: triangular(7.2%, 18%, 24%) to 0.01% (24% is the legal cap).
    - amortization: level payment 80%, equal principal 15%, interest-only 5%.
    - seasoning: uniform 0 … term − 1 months; balance from the schedule, 10% of loans with a
      partial prepayment (balance × U(0.6, 1)).
    - status: performing 97%, delinquent 2.5% (1–89 days past due), defaulted 0.5% (90–180).
    - regions ``CONSUMER_REGIONS``, industries ``CONSUMER_INDUSTRIES``, grades, purposes.
    """
    rng = np.random.default_rng(seed)
    principal = np.clip(np.round(rng.lognormal(np.log(8_000), 0.9, n), -2), 500, 200_000)
    term = np.array([3, 6, 9, 12, 18, 24, 36])[rng.choice(7, n, p=[.10, .20, .10, .30, .10, .15, .05])]
    rate = np.round(rng.triangular(0.072, 0.18, 0.24, n), 4)
    kind = rng.choice(3, n, p=[0.80, 0.15, 0.05])
    seasoning = np.floor(rng.random(n) * term).astype(np.int64)
    day = rng.integers(0, 28, n)
    origination_month = np.datetime64(cutoff.isoformat(), "M") - (seasoning + 1).astype("timedelta64[M]")
    origination = origination_month.astype("datetime64[D]") + day.astype("timedelta64[D]")
    maturity = _add_months_np(origination, term)
    paid = seasoning.astype(float)
    balance = np.where(kind == 0, _level_balance(principal, rate, term, paid),
                       np.where(kind == 1, principal * (1 - paid / term), principal))
    balance = np.where(rng.random(n) < 0.10, balance * rng.uniform(0.6, 1.0, n), balance)
    balance = _yuan(np.clip(balance, 0.01, principal))
    draw = rng.random(n)
    status = np.where(draw < 0.97, 0, np.where(draw < 0.995, 1, 2))
    dpd = np.where(status == 1, rng.integers(1, 90, n), np.where(status == 2, rng.integers(90, 181, n), 0))
    borrowers = max(1, int(n * 0.93))
    obligor = np.floor(borrowers * rng.random(n)).astype(np.int64) + 1
    return pl.DataFrame({
        "loan_id": pl.Series(np.arange(1, n + 1)).cast(pl.String).str.zfill(9),
        "obligor_id": pl.Series(obligor).cast(pl.String).str.zfill(9),
        "original_principal": principal,
        "current_balance": balance,
        "interest_rate": rate,
        "origination_date": pl.Series(origination.astype("datetime64[D]")),
        "original_term_months": term.astype(np.int64),
        "maturity_date": pl.Series(maturity.astype("datetime64[D]")),
        "amortization": _labels(["level_payment", "equal_principal", "interest_only"], kind),
        "status": _labels(["performing", "delinquent", "defaulted"], status),
        "days_past_due": dpd.astype(np.int64),
        "region": _choice(rng, CONSUMER_REGIONS, n),
        "industry": _choice(rng, CONSUMER_INDUSTRIES, n),
        "grade": _choice(rng, GRADES, n),
        "purpose": _choice(rng, PURPOSES, n),
    }).with_columns(
        (pl.lit(id_prefix) + pl.col("loan_id")).alias("loan_id"),
        (pl.lit(id_prefix + "B") + pl.col("obligor_id")).alias("obligor_id"),
        pl.col("origination_date").cast(pl.Date), pl.col("maturity_date").cast(pl.Date),
    )


#: Monthly transition probabilities of the performance simulation (documented in TAPE.md).
ROLL = {"current_to_30": 0.018, "30_to_60": 0.45, "30_cure": 0.45, "60_to_90": 0.60, "60_cure": 0.25,
        "90_to_default": 0.85, "90_cure": 0.05}


def performance_history(n: int, seed: int, cutoff: date, *, vintages: int = 24, cpr: float = 0.12,
                        recovery_rate: float = 0.30, recovery_lag_months: int = 3,
                        id_prefix: str = "PL") -> pl.DataFrame:
    """Monthly histories of ``n`` consumer loans originated over the ``vintages`` months before
    ``cutoff`` (static pool). One row per loan per month from its first month to the earlier
    of payoff, default + recovery lag, or the cut-off month.

    Loans: principal, term, rate as in ``consumer_loans`` (level payment). Each month a
    current loan pays its instalment; prepays in full with SMM = 1 − (1 − CPR)^(1/12)
    (default CPR 12%); or rolls to 1–30 days past due. Delinquent loans pay nothing and
    roll / cure with the ``ROLL`` probabilities; 90+ rolls to default (the whole balance
    defaults). ``recovery_rate`` of the defaulted amount is recovered ``recovery_lag_months``
    later. Seasoning ramp: the roll-to-30 probability grows linearly to its full value by month 6.
    """
    rng = np.random.default_rng(seed)
    principal = np.clip(np.round(rng.lognormal(np.log(8_000), 0.9, n), -2), 500, 200_000)
    term = np.array([6, 12, 18, 24, 36])[rng.choice(5, n, p=[.15, .40, .15, .20, .10])]
    rate = np.round(rng.triangular(0.072, 0.18, 0.24, n), 4)
    cutoff_month = np.datetime64(cutoff.isoformat(), "M")
    vintage_offset = rng.integers(1, vintages + 1, n)  # months before the cut-off month
    origination = (cutoff_month - vintage_offset.astype("timedelta64[M]")).astype("datetime64[D]") + \
        rng.integers(0, 28, n).astype("timedelta64[D]")
    smm = 1 - (1 - cpr) ** (1 / 12)
    r = rate / 12
    payment = principal * r / (1 - (1 + r) ** (-term.astype(float)))
    balance = principal.copy()
    state = np.zeros(n, dtype=np.int64)  # 0 current, 1/2/3 = 30/60/90 dpd, 4 defaulted, 5 closed
    defaulted_at = np.full(n, -1)
    defaulted_amount_total = np.zeros(n)
    rows: list[pl.DataFrame] = []
    for month in range(1, vintages + 1):
        active_loan = (vintage_offset >= month) & ((state < 4) | ((state == 4) & (month - defaulted_at
                                                                                   <= recovery_lag_months)))
        if not active_loan.any():
            continue
        idx = np.nonzero(active_loan)[0]
        begin = balance[idx].copy()
        st = state[idx]
        u = rng.random(idx.size)
        ramp = np.minimum(month / 6, 1.0)
        scheduled = np.zeros(idx.size)
        prepaid = np.zeros(idx.size)
        defaulted = np.zeros(idx.size)
        recovery = np.zeros(idx.size)
        new = st.copy()
        current = st == 0
        to30 = current & (u < ROLL["current_to_30"] * ramp)
        prepay = current & ~to30 & (u > 1 - smm)
        pays = current & ~to30 & ~prepay
        interest = begin * r[idx]
        scheduled[pays] = np.minimum(np.maximum(payment[idx][pays] - interest[pays], 0), begin[pays])
        last = pays & (month >= term[idx])
        scheduled[last] = begin[last]
        prepaid[prepay] = begin[prepay]
        new[to30] = 1
        for s, (roll, cure) in {1: ("30_to_60", "30_cure"), 2: ("60_to_90", "60_cure"),
                                3: ("90_to_default", "90_cure")}.items():
            here = st == s
            new[here & (u < ROLL[roll])] = s + 1
            new[here & (u >= ROLL[roll]) & (u < ROLL[roll] + ROLL[cure])] = 0
        newly_default = (st == 3) & (new == 4)
        defaulted[newly_default] = begin[newly_default]
        lag_hit = (st == 4) & (month - defaulted_at[idx] == recovery_lag_months)
        recovery[lag_hit] = _yuan(defaulted_amount_total[idx][lag_hit] * recovery_rate)
        end = begin - scheduled - prepaid - defaulted
        closed = (new == 0) & (end <= 0.005) & (st < 4)
        new[closed] = 5
        status = np.where(new == 4, 4, np.where(prepay, 3, np.where(closed, 2, np.where((new >= 1) & (new <= 3), 1,
                                                                                          0))))
        dpd = np.where((new >= 1) & (new <= 3), new * 30 - rng.integers(0, 30, idx.size),
                       np.where(new == 4, 90 + (month - np.where(newly_default, month, defaulted_at[idx])) * 30, 0))
        period_month = origination[idx].astype("datetime64[M]") + np.timedelta64(month - 1, "M")
        rows.append(pl.DataFrame({
            "loan_index": idx.astype(np.int64),
            "period": pl.Series(period_month.astype("datetime64[D]")).cast(pl.Date),
            "begin_balance": _yuan(begin),
            "scheduled_principal": _yuan(scheduled),
            "prepaid_principal": _yuan(prepaid),
            "defaulted_amount": _yuan(defaulted),
            "recovery": recovery,
            "days_past_due": dpd.astype(np.int64),
            "status": _labels(["performing", "delinquent", "repaid", "prepaid", "defaulted"], status),
        }))
        balance[idx] = np.maximum(_yuan(begin) - _yuan(scheduled) - _yuan(prepaid) - _yuan(defaulted), 0)
        defaulted_at[idx[newly_default]] = month
        defaulted_amount_total[idx[newly_default]] = begin[newly_default]
        state[idx] = new
    history = pl.concat(rows) if rows else pl.DataFrame(schema={"loan_index": pl.Int64})
    loans = pl.DataFrame({
        "loan_index": np.arange(n, dtype=np.int64),
        "loan_id": pl.Series(np.arange(1, n + 1)).cast(pl.String).str.zfill(9),
        "origination_date": pl.Series(origination.astype("datetime64[D]")).cast(pl.Date),
        "original_principal": principal,
    }).with_columns((pl.lit(id_prefix) + pl.col("loan_id")).alias("loan_id"))
    return history.join(loans, on="loan_index").sort("loan_index", "period").select(
        "loan_id", "period", "begin_balance", "scheduled_principal", "prepaid_principal", "defaulted_amount",
        "recovery", "days_past_due", "status", "origination_date", "original_principal")


def to_zh(kind: TapeKind, frame: pl.DataFrame) -> pl.DataFrame:
    """The frame as an originator sends it: Chinese headers, percent, YYYYMMDD, Chinese codes."""
    headers = ZH_HEADERS[kind]
    exprs = []
    for name in frame.columns:
        col = pl.col(name)
        if name in PERCENT_FIELDS:
            col = (col * 100).round(4)
        elif name in DATE_FIELDS:
            col = col.dt.strftime("%Y%m%d") if name != "period" else col.dt.strftime("%Y-%m")
        elif name == "status":
            col = col.replace(STATUS_ZH)
        elif name == "amortization":
            col = col.replace(AMORTIZATION_ZH)
        exprs.append(col.alias(headers.get(name, name)))
    return frame.select(exprs)


GENERATORS = {
    TapeKind.MARGIN_LOAN: margin_loans,
    TapeKind.CONSUMER_LOAN: consumer_loans,
    TapeKind.LOAN_PERFORMANCE: performance_history,
}
