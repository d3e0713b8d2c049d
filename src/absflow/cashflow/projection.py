"""Loan-level asset projection, vectorized across loans.

Inputs are arrays (one element per loan, ``LoanArrays``) and assumptions (one set for the
pool or one per segment, ``Assumptions`` / ``SegmentedAssumptions``). ``project`` returns
the pool's cash flows per collection period (``PoolCashflow``, float yuan) and, on
request, the same columns per loan (``LoanCashflow``). Money leaves through
``absflow.cashflow.money.pool_to_fen`` (exact fen, largest remainder).

One period t (1-based) of one loan, in this order (SIFMA Standard Formulas, SF-4 and
SF-18 layout, without servicer advances):

1. ``default   = MDR(t) × begin_balance`` (no new defaults once the remaining term is
   within the recovery lag when the default speed says so, e.g. SDA);
2. ``performing = begin_balance − default``;
3. ``interest = performing × gross_rate / periods_per_year`` and
   ``net_interest = performing × net_rate / periods_per_year`` (defaulted loans pay none);
4. ``scheduled_principal`` from the amortization kind on ``performing`` and the
   remaining term (see ``AmortizationKind``);
5. ``prepayment = SMM(t) × (performing − scheduled_principal)``;
6. ``end_balance = performing − scheduled_principal − prepayment``;
7. the default is liquidated ``lag`` periods later: ``loss = severity × default`` and
   ``recovery = default − loss`` in period ``t + lag``;
8. ``delinquent_balance = delinquency_rate(t) × end_balance`` (reported state; the cash
   effect of delinquency is modelled by defaults).

The compiled kernel loops over loans inside compiled code (numba, parallel over blocks
of loans) and over periods; sums are taken per fixed block of loans and then in block
order, so results do not depend on the number of threads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from absflow.cashflow.curves import ZERO_DEFAULT, ZERO_PREPAYMENT, Speed
from absflow.domain.issues import Issue, Location, ValidationFailed

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Loans per accumulation block at least, and blocks at most: pool sums are taken per block
#: and then in block order, so they never depend on the number of threads.
BLOCK_LOANS = 2048
MAX_BLOCKS = 128


class AmortizationKind(IntEnum):
    """How a loan repays scheduled principal. Stored as ``int8`` in ``LoanArrays.kind``."""

    LEVEL_PAYMENT = 0  # 等额本息: level payment of principal and interest
    EQUAL_PRINCIPAL = 1  # 等额本金: principal / remaining term each period
    INTEREST_ONLY = 2  # 先息后本: interest each period, principal bullet at maturity
    SINGLE_PAYMENT = 3  # single-payment receivable: principal and accrued interest at maturity
    REVOLVING = 4  # revolving line: payment rate × balance each period; due (or extended) at maturity
    LEASE = 5  # level rent in arrears, split into principal and interest at the lease rate


#: Names accepted by ``parse_amortization_kind`` (tape values, English and Chinese).
KIND_NAMES: dict[str, AmortizationKind] = {
    "level_payment": AmortizationKind.LEVEL_PAYMENT,
    "level": AmortizationKind.LEVEL_PAYMENT,
    "annuity": AmortizationKind.LEVEL_PAYMENT,
    "等额本息": AmortizationKind.LEVEL_PAYMENT,
    "equal_principal": AmortizationKind.EQUAL_PRINCIPAL,
    "等额本金": AmortizationKind.EQUAL_PRINCIPAL,
    "interest_only": AmortizationKind.INTEREST_ONLY,
    "bullet": AmortizationKind.INTEREST_ONLY,
    "先息后本": AmortizationKind.INTEREST_ONLY,
    "single_payment": AmortizationKind.SINGLE_PAYMENT,
    "一次性还本付息": AmortizationKind.SINGLE_PAYMENT,
    "到期一次还本付息": AmortizationKind.SINGLE_PAYMENT,
    "revolving": AmortizationKind.REVOLVING,
    "循环": AmortizationKind.REVOLVING,
    "lease": AmortizationKind.LEASE,
    "租赁": AmortizationKind.LEASE,
}


def parse_amortization_kind(name: str) -> AmortizationKind:
    """Amortization kind from a tape value (``level_payment``, ``等额本息``, ...); ValueError if unknown."""
    key = name.strip().lower()
    if key in KIND_NAMES:
        return KIND_NAMES[key]
    raise ValueError(f"unknown amortization kind {name!r}; one of: {', '.join(sorted(KIND_NAMES))}")


def segment_codes(values: Sequence[object]) -> tuple[IntArray, tuple[str, ...]]:
    """Segment ids from any tape column: codes (0-based, by first appearance) and labels (``str(value)``)."""
    labels: dict[str, int] = {}
    codes = np.empty(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        label = str(value)
        codes[i] = labels.setdefault(label, len(labels))
    return codes, tuple(labels)


@dataclass(frozen=True)
class LoanArrays:
    """The pool as arrays, one element per loan (all the same length).

    - ``balance``: outstanding principal at the cut-off, yuan (≥ 0);
    - ``gross_rate``: annual loan rate, fraction; ``net_rate``: annual rate passed to the
      pool after servicing, fraction (None = gross);
    - ``remaining_term``: periods left to maturity (≥ 1 for a loan with balance);
    - ``kind``: ``AmortizationKind`` codes (int8); None = all level payment;
    - ``age``: whole months elapsed before the first projected period (PSA/SDA/ABS); None = 0;
    - ``segment``: segment ids 0..len(segment_labels)-1 (see ``segment_codes``); None = one segment;
    - ``payment_rate``: for revolving lines, principal repaid per period as a fraction of
      the balance (in the stochastic mode, the chance of repaying in full); None = 0.
    """

    balance: FloatArray
    gross_rate: FloatArray
    remaining_term: IntArray
    net_rate: FloatArray | None = None
    kind: NDArray[np.int8] | None = None
    age: IntArray | None = None
    segment: IntArray | None = None
    segment_labels: tuple[str, ...] = ("all",)
    payment_rate: FloatArray | None = None

    @classmethod
    def from_columns(
        cls,
        *,
        balance: Sequence[float] | FloatArray,
        gross_rate: Sequence[float] | FloatArray,
        remaining_term: Sequence[int] | IntArray,
        net_rate: Sequence[float] | FloatArray | None = None,
        kind: Sequence[int] | NDArray[np.int8] | None = None,
        age: Sequence[int] | IntArray | None = None,
        segment: Sequence[object] | None = None,
        payment_rate: Sequence[float] | FloatArray | None = None,
    ) -> LoanArrays:
        """Build from plain sequences; ``segment`` may hold any tape values (labels are their ``str``)."""
        codes: IntArray | None = None
        labels: tuple[str, ...] = ("all",)
        if segment is not None:
            codes, labels = segment_codes(list(segment))
        return cls(
            balance=np.asarray(balance, dtype=np.float64),
            gross_rate=np.asarray(gross_rate, dtype=np.float64),
            remaining_term=np.asarray(remaining_term, dtype=np.int64),
            net_rate=None if net_rate is None else np.asarray(net_rate, dtype=np.float64),
            kind=None if kind is None else np.asarray(kind, dtype=np.int8),
            age=None if age is None else np.asarray(age, dtype=np.int64),
            segment=codes,
            segment_labels=labels,
            payment_rate=None if payment_rate is None else np.asarray(payment_rate, dtype=np.float64),
        )

    @property
    def count(self) -> int:
        return int(self.balance.shape[0])

    def with_rate_shift(self, shift: float) -> LoanArrays:
        """The same loans with gross and net rates moved by ``shift`` (fraction, e.g. 0.01 = +100 bp)."""
        return replace(
            self,
            gross_rate=self.gross_rate + shift,
            net_rate=None if self.net_rate is None else self.net_rate + shift,
        )

    def take(self, index: IntArray | NDArray[np.bool_]) -> LoanArrays:
        """A sub-pool (same segment labels)."""

        def pick(a: Any) -> Any:
            return None if a is None else a[index]

        return replace(
            self,
            balance=self.balance[index],
            gross_rate=self.gross_rate[index],
            remaining_term=self.remaining_term[index],
            net_rate=pick(self.net_rate),
            kind=pick(self.kind),
            age=pick(self.age),
            segment=pick(self.segment),
            payment_rate=pick(self.payment_rate),
        )


@dataclass(frozen=True)
class Assumptions:
    """Performance assumptions for a pool or one segment.

    ``severity``: loss as a fraction of the defaulted balance; ``recovery_lag_periods``:
    periods from default to liquidation (0 = same period); ``delinquency``: delinquent
    balance as a fraction of the end balance, a constant or a per-period vector (last
    carries forward); ``extension_probability`` / ``extension_periods``: revolving lines
    reaching maturity extend (展期) with this probability by this many periods.
    """

    prepayment: Speed = ZERO_PREPAYMENT
    default: Speed = ZERO_DEFAULT
    severity: float = 0.0
    recovery_lag_periods: int = 0
    delinquency: float | tuple[float, ...] = 0.0
    extension_probability: float = 0.0
    extension_periods: int = 0


@dataclass(frozen=True)
class SegmentedAssumptions:
    """Different assumptions per segment label (``LoanArrays.segment_labels``); others use ``base``."""

    base: Assumptions = field(default_factory=Assumptions)
    by_segment: Mapping[str, Assumptions] = field(default_factory=dict)

    def for_label(self, label: str) -> Assumptions:
        return self.by_segment.get(label, self.base)


#: Column order of the kernel's output.
COLUMNS = (
    "begin_balance",
    "scheduled_principal",
    "prepayment",
    "default",
    "loss",
    "recovery",
    "interest",
    "net_interest",
    "end_balance",
    "delinquent_balance",
)
(_BEGIN, _SCHED, _PREPAY, _DEFAULT, _LOSS, _RECOVERY, _INTEREST, _NET, _END, _DELINQ) = range(len(COLUMNS))


@dataclass(frozen=True)
class PoolCashflow:
    """Pool cash flows per collection period, float yuan; index 0 is period 1.

    ``interest`` is at the gross rate, ``net_interest`` at the net rate. Balances are the
    performing balance (defaulted loans leave it when they default). Periods after the
    last maturity carry only recoveries and losses of the recovery lag.
    """

    begin_balance: FloatArray
    scheduled_principal: FloatArray
    prepayment: FloatArray
    default: FloatArray
    loss: FloatArray
    recovery: FloatArray
    interest: FloatArray
    net_interest: FloatArray
    end_balance: FloatArray
    delinquent_balance: FloatArray
    periods_per_year: int = 12

    @property
    def periods(self) -> int:
        return int(self.begin_balance.shape[0])

    @property
    def period(self) -> IntArray:
        """Period numbers 1..N."""
        return np.arange(1, self.periods + 1, dtype=np.int64)

    @property
    def principal_collections(self) -> FloatArray:
        """Scheduled principal + prepayment + recovery, yuan per period."""
        return np.asarray(self.scheduled_principal + self.prepayment + self.recovery, dtype=np.float64)

    @property
    def total_cashflow(self) -> FloatArray:
        """Principal collections + net interest (the pass-through cash flow), yuan per period."""
        return np.asarray(self.principal_collections + self.net_interest, dtype=np.float64)

    @property
    def original_balance(self) -> float:
        return float(self.begin_balance[0]) if self.periods else 0.0

    def wal_years(self) -> float:
        """Weighted average life in years of principal (scheduled + prepayment + recovery)."""
        principal = self.principal_collections
        total = float(principal.sum())
        if total <= 0:
            return 0.0
        return float((principal * self.period).sum() / total / self.periods_per_year)

    def cumulative_default_rate(self) -> float:
        """Total defaults / original balance (fraction)."""
        original = self.original_balance
        return float(self.default.sum() / original) if original > 0 else 0.0

    def cumulative_loss_rate(self) -> float:
        """Total losses / original balance (fraction)."""
        original = self.original_balance
        return float(self.loss.sum() / original) if original > 0 else 0.0

    def column(self, name: str) -> FloatArray:
        value = getattr(self, name)
        return cast(FloatArray, value)

    def rows(self) -> list[dict[str, float | int]]:
        """One dict per period with ``period`` and every column (floats), for printing and JSON."""
        out: list[dict[str, float | int]] = []
        for i in range(self.periods):
            row: dict[str, float | int] = {"period": i + 1}
            for name in COLUMNS:
                row[name] = float(self.column(name)[i])
            out.append(row)
        return out


@dataclass(frozen=True)
class LoanCashflow:
    """Per-loan cash flows: each column has shape (loans, periods), float yuan."""

    begin_balance: FloatArray
    scheduled_principal: FloatArray
    prepayment: FloatArray
    default: FloatArray
    loss: FloatArray
    recovery: FloatArray
    interest: FloatArray
    net_interest: FloatArray
    end_balance: FloatArray
    delinquent_balance: FloatArray


@dataclass(frozen=True)
class Projection:
    """Result of ``project``: the pool, each segment (by label), and per loan when asked."""

    pool: PoolCashflow
    loans: LoanCashflow | None = None
    segments: Mapping[str, PoolCashflow] = field(default_factory=dict)


# ---------------------------------------------------------------------------- validation


def _issue(code: str, message: str, field_path: str, value: object = None) -> Issue:
    return Issue(code, message, Location(field_path=field_path), None if value is None else str(value))


def validate(loans: LoanArrays, assumptions: Assumptions | SegmentedAssumptions) -> list[Issue]:
    """Every problem with the inputs (empty list when fine)."""
    issues: list[Issue] = []
    n = loans.count
    named: dict[str, Any] = {
        "balance": loans.balance,
        "gross_rate": loans.gross_rate,
        "remaining_term": loans.remaining_term,
        "net_rate": loans.net_rate,
        "kind": loans.kind,
        "age": loans.age,
        "segment": loans.segment,
        "payment_rate": loans.payment_rate,
    }
    for name, array in named.items():
        if array is not None and np.shape(array) != (n,):
            issues.append(_issue("shape", f"{name} has shape {np.shape(array)}, expected ({n},)", name))
    if issues:
        return issues
    for name in ("balance", "gross_rate", "net_rate", "payment_rate"):
        array = named[name]
        if array is not None and not np.all(np.isfinite(array)):
            issues.append(_issue("not_finite", f"{name} has a missing or infinite value", name))
    if np.any(loans.balance < 0):
        bad = int(np.argmax(loans.balance < 0))
        issues.append(_issue("negative", f"loan {bad}: balance is negative", "balance", loans.balance[bad]))
    live = loans.balance > 0
    if np.any(live & (loans.remaining_term < 1)):
        bad = int(np.argmax(live & (loans.remaining_term < 1)))
        issues.append(_issue("term", f"loan {bad}: a loan with balance needs remaining_term ≥ 1", "remaining_term"))
    if loans.kind is not None and np.any((loans.kind < 0) | (loans.kind > max(AmortizationKind))):
        issues.append(_issue("kind", "kind holds an unknown amortization code", "kind"))
    if loans.age is not None and np.any(loans.age < 0):
        issues.append(_issue("negative", "age is negative", "age"))
    if loans.payment_rate is not None and np.any((loans.payment_rate < 0) | (loans.payment_rate > 1)):
        issues.append(_issue("range", "payment_rate must be within [0, 1]", "payment_rate"))
    labels = loans.segment_labels
    if loans.segment is not None and n and (loans.segment.min() < 0 or loans.segment.max() >= len(labels)):
        issues.append(_issue("segment", "segment ids must index segment_labels", "segment"))
    sets: list[tuple[str, Assumptions]]
    if isinstance(assumptions, SegmentedAssumptions):
        sets = [("assumptions.base", assumptions.base)]
        for label, a in assumptions.by_segment.items():
            if label not in labels:
                issues.append(_issue("segment", f"no segment labelled {label!r}", "assumptions.by_segment", label))
            sets.append((f"assumptions.by_segment.{label}", a))
    else:
        sets = [("assumptions", assumptions)]
    for path, a in sets:
        if not 0.0 <= a.severity <= 1.0:
            issues.append(_issue("range", "severity must be within [0, 1]", f"{path}.severity", a.severity))
        if a.recovery_lag_periods < 0:
            issues.append(_issue("range", "recovery lag must be ≥ 0", f"{path}.recovery_lag_periods"))
        if not 0.0 <= a.extension_probability <= 1.0:
            issues.append(
                _issue("range", "extension probability must be within [0, 1]", f"{path}.extension_probability")
            )
        if a.extension_periods < 0:
            issues.append(_issue("range", "extension periods must be ≥ 0", f"{path}.extension_periods"))
        for name, speed in (("prepayment", a.prepayment), ("default", a.default)):
            values = speed.vector if speed.vector is not None else (speed.value,)
            if any(not np.isfinite(v) or v < 0 for v in values):
                issues.append(_issue("range", f"{name} speed must be finite and ≥ 0", f"{path}.{name}"))
    return issues


# ---------------------------------------------------------------------------- the kernel


def _uniform(seed: np.uint64, loan: np.uint64, period: np.uint64) -> float:
    """Counter-based uniform in [0, 1) from (seed, loan, period): splitmix64, thread-order free."""
    z = seed + loan * np.uint64(0x9E3779B97F4A7C15) + period * np.uint64(0xBF58476D1CE4E5B9) + np.uint64(1)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) / 9007199254740992.0


#: Flow columns the kernel sums per (block, period, segment); the rest are derived.
_K_SCHED, _K_PREPAY, _K_DEFAULT, _K_INTEREST, _K_NET, _K_END = range(6)
_K_COLUMNS = 6


def _kernel(
    balance: FloatArray,
    rate_per_period: FloatArray,
    net_per_period: FloatArray,
    term: IntArray,
    kind: NDArray[np.int8],
    age: IntArray,
    seg: IntArray,
    pay_rate: FloatArray,
    smm_tab: FloatArray,
    smm_by_age: NDArray[np.bool_],
    mdr_tab: FloatArray,
    mdr_by_age: NDArray[np.bool_],
    stop_within_lag: NDArray[np.bool_],
    lag: IntArray,
    ext_prob: FloatArray,
    ext_periods: IntArray,
    seed: np.uint64,
    stochastic: bool,
    horizon: int,
    block_loans: int,
    loan_level: bool,
    acc: FloatArray,
    loan_out: FloatArray,
) -> None:
    """Project every loan; add flows into ``acc[block, period, segment, column]`` (``_K_*`` columns).

    Plain loops so numba compiles it (parallel over blocks of loans); ``loan_out[column,
    loan, period]`` gets the same columns per loan when ``loan_level``.
    """
    n_loans = balance.shape[0]
    n_blocks = acc.shape[0]
    for blk in _prange(n_blocks):
        start = blk * block_loans
        stop = min(start + block_loans, n_loans)
        for i in range(start, stop):
            b = balance[i]
            if b <= 0.0:
                continue
            n = term[i]
            k = kind[i]
            s = seg[i]
            r = rate_per_period[i]
            rn = net_per_period[i]
            a = age[i]
            lg = lag[s]
            accrued = 0.0
            accrued_net = 0.0
            shrink = 1.0 / (1.0 + r)
            # (1 + r)^n − 1 for the remaining n, kept directly (no cancellation): c(n−1) = (c(n) − r)/(1 + r)
            compound_m1 = math.expm1(float(n) * math.log1p(r))
            for t in range(horizon):
                if b <= 0.0:
                    break
                smm = smm_tab[s, a + t + 1] if smm_by_age[s] else smm_tab[s, t + 1]
                mdr = mdr_tab[s, a + t + 1] if mdr_by_age[s] else mdr_tab[s, t + 1]
                if stop_within_lag[s] and n <= lg:
                    mdr = 0.0
                # f: scheduled principal as a fraction of the performing balance. The balance
                # chain is one multiplication per period (b ← b·(1−mdr)(1−f)(1−smm)); the
                # flows hang off it, so the CPU overlaps periods instead of waiting on them.
                f = 0.0
                if k == 0 or k == 5:  # level payment / lease rent
                    if n <= 1:
                        f = 1.0
                    elif r > 1e-9:  # below that the annuity factor loses precision; 1/n is exact enough
                        f = r / compound_m1
                    else:
                        f = 1.0 / n
                elif k == 1:  # equal principal
                    f = 1.0 if n <= 1 else 1.0 / n
                elif k == 2 or k == 3:  # interest only / single payment: bullet
                    if n <= 1:
                        f = 1.0
                else:  # revolving line
                    if stochastic:
                        u = _uniform(seed, np.uint64(i), np.uint64(t))
                        if n <= 1:
                            if u < ext_prob[s]:
                                n += ext_periods[s]
                            else:
                                f = 1.0
                        elif u < pay_rate[i]:
                            f = 1.0
                    elif n <= 1:
                        if ext_prob[s] > 0.0 and ext_periods[s] > 0:
                            f = 1.0 - ext_prob[s]
                            n += ext_periods[s]
                        else:
                            f = 1.0
                    else:
                        f = pay_rate[i]
                d = mdr * b
                bp = b - d
                sched = bp * f
                prep = smm * (bp - sched)
                b = bp * (1.0 - f) * (1.0 - smm) if f < 1.0 else 0.0
                intr = bp * r
                nint = bp * rn
                if k == 3:  # single payment: interest accrues, paid with principal (or prepayment)
                    accrued = accrued * (1.0 - mdr) + intr
                    accrued_net = accrued_net * (1.0 - mdr) + nint
                    if n <= 1:
                        intr = accrued
                        nint = accrued_net
                    else:
                        intr = accrued * smm
                        nint = accrued_net * smm
                    accrued -= intr
                    accrued_net -= nint
                n -= 1
                compound_m1 = (compound_m1 - r) * shrink
                acc[blk, t, s, 0] += sched
                acc[blk, t, s, 1] += prep
                acc[blk, t, s, 2] += d
                acc[blk, t, s, 3] += intr
                acc[blk, t, s, 4] += nint
                acc[blk, t, s, 5] += b
                if loan_level:
                    loan_out[0, i, t] = sched
                    loan_out[1, i, t] = prep
                    loan_out[2, i, t] = d
                    loan_out[3, i, t] = intr
                    loan_out[4, i, t] = nint
                    loan_out[5, i, t] = b


_prange: Any = range


try:  # the compiled path; without numba the same kernel runs as plain Python (slow, small pools only)
    import numba

    _prange = numba.prange  # noqa: F811
    _uniform = numba.njit(cache=True)(_uniform)  # noqa: F811
    _kernel_jit: Any = None

    def _compiled() -> Any:
        global _kernel_jit
        if _kernel_jit is None:
            _kernel_jit = numba.njit(parallel=True, cache=True)(_kernel)
        return _kernel_jit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - numba is a dependency; kept for odd platforms
    HAVE_NUMBA = False


def _rate_table(speed: Speed, length: int, periods_per_year: int) -> FloatArray:
    return speed.periodic_rates(np.arange(length, dtype=np.int64), periods_per_year)


#: Horizon allowance for extensions: until the expected unextended share is below this, at
#: most ``MAX_EXTENSIONS`` extensions.
EXTENSION_TAIL = 1e-6
MAX_EXTENSIONS = 50


def _extension_periods(a: Assumptions) -> int:
    """Periods to add to the horizon so extended lines (deterministic mode) run off."""
    p = a.extension_probability
    if p <= 0 or a.extension_periods <= 0:
        return 0
    count = MAX_EXTENSIONS if p >= 1 else min(MAX_EXTENSIONS, math.ceil(math.log(EXTENSION_TAIL) / math.log(p)))
    return count * a.extension_periods


def _block_loans(n_loans: int) -> int:
    """Loans per accumulation block: fixed by the pool size alone (never by the thread count)."""
    return max(BLOCK_LOANS, -(-n_loans // MAX_BLOCKS))


def _derive(
    flows: FloatArray,
    start_balance: FloatArray,
    severity: FloatArray,
    lag: IntArray,
    dq_tab: FloatArray,
    out_periods: int,
) -> FloatArray:
    """All ``COLUMNS`` from the kernel's flows.

    ``flows[..., period, segment, _K_*]`` → ``out[..., period, segment, column]``, where ``...``
    is nothing (pool) or the loan axis; ``start_balance[..., segment]`` is the balance at the
    cut-off. Begin = previous end; loss and recovery = severity split of the defaults
    ``lag`` periods earlier; delinquent = delinquency rate × end balance.
    """
    horizon = flows.shape[-3]
    shape = (*flows.shape[:-3], out_periods, flows.shape[-2], len(COLUMNS))
    out = np.zeros(shape, dtype=np.float64)
    end = flows[..., _K_END]
    out[..., :horizon, :, _SCHED] = flows[..., _K_SCHED]
    out[..., :horizon, :, _PREPAY] = flows[..., _K_PREPAY]
    out[..., :horizon, :, _DEFAULT] = flows[..., _K_DEFAULT]
    out[..., :horizon, :, _INTEREST] = flows[..., _K_INTEREST]
    out[..., :horizon, :, _NET] = flows[..., _K_NET]
    out[..., :horizon, :, _END] = end
    if horizon:
        out[..., 0, :, _BEGIN] = start_balance
        out[..., 1:horizon, :, _BEGIN] = end[..., : horizon - 1, :]
        # a projection cut short keeps its balance outstanding through the recovery tail
        out[..., horizon:, :, _END] = end[..., horizon - 1 : horizon, :]
        out[..., horizon:, :, _BEGIN] = end[..., horizon - 1 : horizon, :]
    for s in range(flows.shape[-2]):
        lg = int(lag[s])
        defaults = flows[..., :, s, _K_DEFAULT]
        out[..., lg : lg + horizon, s, _LOSS] = defaults * severity[s]
        out[..., lg : lg + horizon, s, _RECOVERY] = defaults - defaults * severity[s]
        out[..., :, s, _DELINQ] = out[..., :, s, _END] * dq_tab[s, 1 : out_periods + 1]
    return out


def _pool(columns: FloatArray, periods_per_year: int) -> PoolCashflow:
    kwargs: dict[str, Any] = {name: np.ascontiguousarray(columns[:, c]) for c, name in enumerate(COLUMNS)}
    return PoolCashflow(**kwargs, periods_per_year=periods_per_year)


class KernelMemo:
    """The kernel's sums of a pool's last few projections, for projections that differ only in
    what the kernel does not read — severity, delinquency, a recovery lag that stops no
    defaults — such as the severity axis of a scenario grid.

    The caller owns it (``project(..., memo=memo)``) and must not change the loans' arrays
    in place while it is in use: entries are keyed by the ``LoanArrays`` object itself (and
    the kernel's inputs from the assumptions), not by the arrays' contents. A reused entry
    gives bit-identical results. Pickles empty (a Dask worker starts its own).
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._entries: list[tuple[LoanArrays, tuple[Any, ...], FloatArray]] = []
        self._shifted: list[tuple[LoanArrays, float, LoanArrays]] = []
        self.hits = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"size": self.size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(int(state["size"]))  # type: ignore[misc]

    def with_rate_shift(self, loans: LoanArrays, shift: float) -> LoanArrays:
        """``loans.with_rate_shift(shift)``, the same object for the same (loans, shift) while remembered."""
        for base, value, shifted in self._shifted:
            if base is loans and value == shift:
                return shifted
        shifted = loans.with_rate_shift(shift)
        self._shifted = [(loans, shift, shifted), *self._shifted[: self.size - 1]]
        return shifted

    def get(self, loans: LoanArrays, key: tuple[Any, ...]) -> FloatArray | None:
        for held, held_key, flows in self._entries:
            if held is loans and held_key == key:
                self.hits += 1
                return flows
        return None

    def put(self, loans: LoanArrays, key: tuple[Any, ...], flows: FloatArray) -> None:
        flows.setflags(write=False)
        self._entries = [(loans, key, flows), *self._entries[: self.size - 1]]


def project(
    loans: LoanArrays,
    assumptions: Assumptions | SegmentedAssumptions,
    *,
    horizon_periods: int | None = None,
    periods_per_year: int = 12,
    loan_level: bool = False,
    seed: int | None = None,
    compiled: bool | None = None,
    memo: KernelMemo | None = None,
) -> Projection:
    """Project ``loans`` under ``assumptions``; pool cash flows per period (and per loan if asked).

    ``horizon_periods``: periods projected (default: the longest remaining term, plus
    enough extensions, where assumed, that less than ``EXTENSION_TAIL`` of a line is still
    extended; a balance left at the horizon stays in ``end_balance``); recoveries of defaults in the last periods
    add up to the longest recovery lag after it. ``seed``: when given, revolving lines
    repay and extend at random (reproducibly for the seed) instead of by expected values.
    ``compiled``: run the numba kernel (default when numba is installed) or the same
    kernel as plain Python (``False``; slow, for checking). ``memo``: reuse the kernel's sums of an
    earlier projection of the same ``loans`` object under the same prepayment, default, lag
    cut-off and extension inputs (see ``KernelMemo``). Raises ``ValidationFailed`` listing every problem.
    """
    issues = validate(loans, assumptions)
    if issues:
        raise ValidationFailed(issues)
    n = loans.count
    labels = loans.segment_labels
    per_segment = [
        assumptions.for_label(label) if isinstance(assumptions, SegmentedAssumptions) else assumptions
        for label in labels
    ]
    max_ext = max((_extension_periods(a) for a in per_segment), default=0)
    horizon = horizon_periods
    if horizon is None:
        horizon = (int(loans.remaining_term.max()) if n else 0) + max_ext
    horizon = max(int(horizon), 0)
    lag = np.array([a.recovery_lag_periods for a in per_segment], dtype=np.int64)
    out_periods = horizon + int(lag.max())
    age = loans.age if loans.age is not None else np.zeros(n, dtype=np.int64)
    max_age = int(age.max()) if n else 0
    table_len = max(max_age, 0) + horizon + 2
    n_seg = len(labels)
    smm_tab = np.zeros((n_seg, table_len), dtype=np.float64)
    mdr_tab = np.zeros((n_seg, table_len), dtype=np.float64)
    dq_tab = np.zeros((n_seg, out_periods + 2), dtype=np.float64)
    for j, a in enumerate(per_segment):
        smm_tab[j] = _rate_table(a.prepayment, table_len, periods_per_year)
        mdr_tab[j] = _rate_table(a.default, table_len, periods_per_year)
        dq = a.delinquency if isinstance(a.delinquency, tuple) else (float(a.delinquency),)
        dq_values = np.asarray(dq or (0.0,), dtype=np.float64)
        dq_tab[j, 1:] = dq_values[np.clip(np.arange(out_periods + 1), 0, len(dq_values) - 1)]
    segment = np.zeros(n, dtype=np.int64) if loans.segment is None else np.ascontiguousarray(loans.segment, np.int64)
    balance = np.ascontiguousarray(loans.balance, dtype=np.float64)
    block_loans = _block_loans(n)
    n_blocks = -(-n // block_loans)
    acc = np.zeros((n_blocks, horizon, n_seg, _K_COLUMNS), dtype=np.float64)
    loan_out = np.zeros((_K_COLUMNS, n, horizon) if loan_level else (_K_COLUMNS, 0, 0), dtype=np.float64)
    gross = np.ascontiguousarray(loans.gross_rate, dtype=np.float64)
    net = gross if loans.net_rate is None else np.ascontiguousarray(loans.net_rate, dtype=np.float64)
    args = (
        balance,
        gross / periods_per_year,
        net / periods_per_year,
        np.ascontiguousarray(loans.remaining_term, dtype=np.int64),
        np.zeros(n, dtype=np.int8) if loans.kind is None else np.ascontiguousarray(loans.kind, dtype=np.int8),
        np.ascontiguousarray(age, dtype=np.int64),
        segment,
        np.zeros(n, dtype=np.float64) if loans.payment_rate is None else np.ascontiguousarray(loans.payment_rate),
        smm_tab,
        np.array([a.prepayment.by_age for a in per_segment], dtype=np.bool_),
        mdr_tab,
        np.array([a.default.by_age for a in per_segment], dtype=np.bool_),
        np.array([a.default.stops_within_lag for a in per_segment], dtype=np.bool_),
        lag,
        np.array([a.extension_probability for a in per_segment], dtype=np.float64),
        np.array([a.extension_periods for a in per_segment], dtype=np.int64),
        np.uint64(seed if seed is not None else 0),
        seed is not None,
        horizon,
        block_loans,
        loan_level,
        acc,
        loan_out,
    )
    use_compiled = HAVE_NUMBA if compiled is None else compiled
    # what the kernel reads from the assumptions (severity and delinquency it does not)
    memo_key = (
        horizon, periods_per_year, seed,
        tuple((a.prepayment, a.default, a.recovery_lag_periods if a.default.stops_within_lag else None,
               a.extension_probability, a.extension_periods) for a in per_segment),
    )
    memo_flows = memo.get(loans, memo_key) if memo is not None and not loan_level else None
    if memo_flows is not None:
        flows = memo_flows
    else:
        if use_compiled and HAVE_NUMBA:
            # blocks handed out one at a time (numba's default splits them evenly between the threads up
            # front): on a shared machine a thread whose core is also busy takes fewer blocks instead of
            # holding the whole projection back. Per-block sums, so the results do not change.
            with numba.parallel_chunksize(1):
                _compiled()(*args)
        else:
            _kernel(*args)
        flows = acc.sum(axis=0)  # (horizon, segment, _K)
        if memo is not None and not loan_level:
            memo.put(loans, memo_key, flows)
    severity = np.array([a.severity for a in per_segment], dtype=np.float64)
    start_by_segment = np.bincount(segment, weights=balance, minlength=n_seg).astype(np.float64)
    by_segment = _derive(flows, start_by_segment, severity, lag, dq_tab, out_periods)  # (period, seg, col)
    pool = _pool(by_segment.sum(axis=1), periods_per_year)
    segments = {label: _pool(by_segment[:, j, :], periods_per_year) for j, label in enumerate(labels)}
    loan_cf = None
    if loan_level:
        # per loan: put each loan's flows in its own segment slot, derive, then drop the segment axis
        per_loan = np.zeros((n, horizon, n_seg, _K_COLUMNS), dtype=np.float64)
        per_loan[np.arange(n), :, segment, :] = np.moveaxis(loan_out, 0, -1)
        start = np.zeros((n, n_seg), dtype=np.float64)
        start[np.arange(n), segment] = balance
        derived = _derive(per_loan, start, severity, lag, dq_tab, out_periods).sum(axis=2)  # (loan, period, col)
        columns: dict[str, Any] = {name: np.ascontiguousarray(derived[:, :, c]) for c, name in enumerate(COLUMNS)}
        loan_cf = LoanCashflow(**columns)
    return Projection(pool=pool, loans=loan_cf, segments=segments)


def level_payment(balance: float, annual_rate: float, term_periods: int, periods_per_year: int = 12) -> float:
    """The level (等额本息) payment per period, yuan: ``B·r / (1 − (1 + r)^−n)`` with ``r`` the periodic rate."""
    r = annual_rate / periods_per_year
    if term_periods <= 0:
        raise ValueError("term_periods must be ≥ 1")
    if r == 0:
        return balance / term_periods
    return float(balance * r / -math.expm1(-term_periods * math.log1p(r)))
