"""Scenario grids (CPR × CDR × severity × rate shift) fanned out on Dask.

A grid is the cartesian product of its axes in a fixed order (``GridSpec.scenarios``);
each scenario is evaluated by a plain function of (pool, scenario), so a Dask run (a
LocalCluster by default, or a scheduler address such as ``tcp://host:8786``) gives
exactly the numbers of a sequential run: the projection's sums do not depend on thread
counts, and results are put back in scenario order.

Pool-level metrics come from ``absflow.cashflow.projection`` (``pool_metrics``); deal-level
metrics (``deal_metrics``: the deal's waterfall run per scenario, then each tranche priced
by ``absflow.cashflow.deal_pricing``) take a ``DealPayload``. Any picklable function
``(payload, Scenario) -> dict`` plugs in through ``evaluate=``.
"""

from __future__ import annotations

import gc
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np

from absflow.cashflow.curves import Speed
from absflow.cashflow.deal_pricing import tranche_metrics
from absflow.cashflow.periods import BusinessCalendar, Period, build_periods
from absflow.cashflow.pricing import irr
from absflow.cashflow.projection import Assumptions, KernelMemo, LoanArrays, project
from absflow.cashflow.runner import Scenario as RunScenario
from absflow.cashflow.runner import run_deal
from absflow.deal import model as m

#: Prepayment axis kinds and default axis kinds a grid may name.
PREPAYMENT_KINDS = ("cpr", "psa")
DEFAULT_KINDS = ("cdr", "sda")


@dataclass(frozen=True)
class Scenario:
    """One point of the grid. ``prepayment``/``default`` are CPR/CDR fractions or PSA/SDA percent."""

    index: int
    prepayment: float
    default: float
    severity: float
    rate_shift: float
    prepayment_kind: str = "cpr"
    default_kind: str = "cdr"
    recovery_lag_periods: int = 0

    def assumptions(self) -> Assumptions:
        prepay = Speed.psa(self.prepayment) if self.prepayment_kind == "psa" else Speed.cpr(self.prepayment)
        default = Speed.sda(self.default) if self.default_kind == "sda" else Speed.cdr(self.default)
        return Assumptions(
            prepayment=prepay, default=default, severity=self.severity, recovery_lag_periods=self.recovery_lag_periods
        )


@dataclass(frozen=True)
class GridSpec:
    """Axes of a grid; every combination is one scenario (prepayment varies slowest)."""

    prepayment: tuple[float, ...] = (0.0,)
    default: tuple[float, ...] = (0.0,)
    severity: tuple[float, ...] = (0.0,)
    rate_shift: tuple[float, ...] = (0.0,)
    prepayment_kind: str = "cpr"
    default_kind: str = "cdr"
    recovery_lag_periods: int = 0

    def __post_init__(self) -> None:
        if self.prepayment_kind not in PREPAYMENT_KINDS:
            raise ValueError(f"prepayment kind must be one of {PREPAYMENT_KINDS}")
        if self.default_kind not in DEFAULT_KINDS:
            raise ValueError(f"default kind must be one of {DEFAULT_KINDS}")

    @property
    def size(self) -> int:
        return len(self.prepayment) * len(self.default) * len(self.severity) * len(self.rate_shift)

    def scenarios(self) -> list[Scenario]:
        product = itertools.product(self.prepayment, self.default, self.severity, self.rate_shift)
        return [
            Scenario(i, p, d, s, r, self.prepayment_kind, self.default_kind, self.recovery_lag_periods)
            for i, (p, d, s, r) in enumerate(product)
        ]


def axis(text: str) -> tuple[float, ...]:
    """Read an axis: ``"0.02,0.05,0.1"`` (a list) or ``"0:0.1:0.02"`` (start:stop:step, stop included)."""
    text = text.strip()
    if ":" in text:
        start, stop, step = (float(x) for x in text.split(":"))
        if step <= 0:
            raise ValueError("step must be positive")
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        return tuple(round(start + i * step, 12) for i in range(max(count, 0)))
    return tuple(float(x) for x in text.split(",") if x.strip())


@dataclass(frozen=True)
class PoolPayload:
    """What a pool-level evaluation needs: the loans and the discount rate for the pool value."""

    loans: LoanArrays
    discount_rate: float = 0.0
    periods_per_year: int = 12


def pool_metrics(payload: PoolPayload, scenario: Scenario) -> dict[str, float]:
    """Pool-level figures of one scenario (yuan, fractions of the original balance, years).

    ``pool_value``: the pass-through cash flow (principal collections + net interest)
    discounted at ``discount_rate`` (annual, compounded each period), as a fraction of the
    balance; ``pool_yield``: the annual yield (periodic IRR × periods a year) of buying
    the pool at par.
    """
    loans = payload.loans.with_rate_shift(scenario.rate_shift) if scenario.rate_shift else payload.loans
    pool = project(loans, scenario.assumptions(), periods_per_year=payload.periods_per_year).pool
    original = pool.original_balance
    cash = pool.total_cashflow
    ppy = payload.periods_per_year
    discount = (1.0 + payload.discount_rate / ppy) ** -pool.period.astype(np.float64)
    value = float(np.sum(cash * discount) / original) if original else 0.0
    pool_yield = float("nan")
    if original > 0 and cash.sum() > 0:
        try:
            pool_yield = irr([-original, *cash.tolist()], low=-0.5, high=1.0) * ppy
        except ValueError:
            pool_yield = float("nan")
    return {
        "wal_years": pool.wal_years(),
        "cumulative_default": pool.cumulative_default_rate(),
        "cumulative_loss": pool.cumulative_loss_rate(),
        "total_principal": float(pool.principal_collections.sum()),
        "total_interest": float(pool.interest.sum()),
        "total_net_interest": float(pool.net_interest.sum()),
        "total_loss": float(pool.loss.sum()),
        "pool_value": value,
        "pool_yield": pool_yield,
        "periods": float(pool.periods),
    }


@dataclass(frozen=True)
class DealPayload:
    """What a deal-level evaluation needs: the deal, its business calendar, the pool and the pricing inputs.

    ``loans``: the pool as loan arrays (a tape file or a plan's imported tape); None: the
    deal's rep lines. ``base``: the scenario every grid point starts from (delinquency,
    ratings, index rates, payment rate…); the grid sets prepayment, default, severity,
    recovery lag and rate shift. ``prices`` / ``yields``: per tranche, per 100 of face /
    annual fraction (default: the issue price).
    """

    deal: m.Deal
    calendar: BusinessCalendar
    loans: LoanArrays | None = None
    base: RunScenario = field(default_factory=RunScenario)
    settlement: date | None = None
    prices: dict[str, float] = field(default_factory=dict)
    yields: dict[str, float] = field(default_factory=dict)
    periods: tuple[Period, ...] = ()  # the deal's payment periods, built once (see ``with_periods``)
    #: the loan projection's kernel sums of recent scenarios (a grid's severities share them); per process
    memo: KernelMemo = field(default_factory=KernelMemo, compare=False, repr=False)

    def with_periods(self) -> DealPayload:
        """The payload with the deal's periods built, so that each scenario does not rebuild them."""
        return replace(self, periods=tuple(build_periods(self.deal, self.calendar)))


def run_scenario(base: RunScenario, scenario: Scenario) -> RunScenario:
    """The runner's scenario for one grid point (CPR/PSA, CDR/SDA, severity, lag, rate shift) over ``base``."""
    psa = scenario.prepayment_kind == "psa"
    sda = scenario.default_kind == "sda"
    return replace(
        base, name=f"{base.name} #{scenario.index}",
        cpr=0.0 if psa else scenario.prepayment, psa=scenario.prepayment if psa else None,
        cdr=0.0 if sda else scenario.default, sda=scenario.default if sda else None,
        severity=scenario.severity, recovery_lag_months=scenario.recovery_lag_periods,
        rate_shift=scenario.rate_shift,
    )


#: Per-tranche metric names of a deal grid (each column is ``TRANCHE.metric``).
TRANCHE_METRICS = ("price", "yield", "wal_years", "modified_duration", "loss", "window_start", "window_end")


def deal_metrics(payload: DealPayload, scenario: Scenario) -> dict[str, Any]:
    """Per-tranche figures of one grid point: the deal's waterfall run under the scenario, then priced.

    Columns ``A.price`` (per 100, at the given yield) or ``A.yield`` (annual, at the given
    or issue price), ``A.wal_years``, ``A.modified_duration``, ``A.loss`` (yuan unpaid at the
    end), ``A.window_start`` / ``A.window_end`` (principal window, ISO dates, "" when no
    principal is paid), and ``B.irr`` (XIRR) for each subordinate tranche; ``pool.defaults``
    and ``pool.loss`` (yuan over the run).
    """
    run = run_deal(payload.deal, payload.calendar, run_scenario(payload.base, scenario), loans=payload.loans,
                   periods=payload.periods or None, memo=payload.memo)
    out: dict[str, Any] = {}
    for t in payload.deal.tranches:
        x = tranche_metrics(run, t.id, settlement=payload.settlement, price=payload.prices.get(t.id),
                            yield_rate=payload.yields.get(t.id))
        window = x.principal_window
        out.update({
            f"{t.id}.price": x.price, f"{t.id}.yield": x.yield_rate, f"{t.id}.wal_years": x.wal_years,
            f"{t.id}.modified_duration": x.modified_duration, f"{t.id}.loss": x.loss_yuan,
            f"{t.id}.window_start": window[0].isoformat() if window else "",
            f"{t.id}.window_end": window[1].isoformat() if window else "",
        })
        if t.tranche_class is m.TrancheClass.SUBORDINATE:
            out[f"{t.id}.irr"] = float("nan") if x.xirr is None else x.xirr
    out["pool.defaults"] = sum(r.pool.defaults_fen for r in run.periods) / 100.0
    out["pool.loss"] = sum(r.pool.defaults_fen - r.pool.recoveries_fen for r in run.periods) / 100.0
    return out


Evaluator = Callable[[Any, Scenario], dict[str, Any]]


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    metrics: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """Flat dict: the scenario's fields then its metrics (for CSV / JSON / XLSX)."""
        return {**asdict(self.scenario), **self.metrics}


def _evaluate_batch(payload: Any, batch: Sequence[Scenario], evaluate: Evaluator) -> list[ScenarioResult]:
    _single_numba_thread()
    # A deal run allocates many thousands of small acyclic objects (period results, lines, flows) that
    # reference counting frees; with the cyclic collector on, the allocations also set off sweeps over
    # the worker's heap (Dask's objects included). It runs again after the batch.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return [ScenarioResult(s, evaluate(payload, s)) for s in batch]
    finally:
        if enabled:
            gc.enable()


def _single_numba_thread() -> None:
    """On a Dask worker, one numba thread per task (workers are the parallelism; results do not change)."""
    try:
        import numba

        numba.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


def run_sequential(
    payload: Any,
    scenarios: Sequence[Scenario],
    evaluate: Evaluator = pool_metrics,
    progress: Callable[[int, int], None] | None = None,
) -> list[ScenarioResult]:
    """Evaluate every scenario in this process, in order."""
    out: list[ScenarioResult] = []
    for done, scenario in enumerate(scenarios, 1):
        out.append(ScenarioResult(scenario, evaluate(payload, scenario)))
        if progress:
            progress(done, len(scenarios))
    return out


def _batches(items: Sequence[Scenario], size: int) -> Iterable[Sequence[Scenario]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run_dask(
    payload: Any,
    scenarios: Sequence[Scenario],
    evaluate: Evaluator = pool_metrics,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[ScenarioResult]:
    """Evaluate the scenarios on Dask and return them in scenario order.

    ``scheduler``: address of a running scheduler (``tcp://host:8786``); None starts a
    LocalCluster with ``workers`` processes (default: CPU count), one thread each, closed
    afterwards. The payload is scattered once to every worker; scenarios go in batches.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        n_workers = workers or _cpu_count()
        cluster = LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        )
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        n_workers = max(len(client.scheduler_info().get("workers", {})), 1)
        size = batch_size or max(1, math.ceil(len(scenarios) / (n_workers * 4)))
        remote = client.scatter(payload, broadcast=True)
        futures = [client.submit(_evaluate_batch, remote, list(batch), evaluate, pure=False)
                   for batch in _batches(scenarios, size)]
        results: list[ScenarioResult] = []
        for future in as_completed(futures):
            results.extend(future.result())
            if progress:
                progress(len(results), len(scenarios))
        results.sort(key=lambda r: r.scenario.index)
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _cpu_count() -> int:
    import os

    return max(os.cpu_count() or 1, 1)
