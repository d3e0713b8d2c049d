"""Shared helpers for benchmark scripts: timing, peak memory, the machine they ran on, and
scratch PostgreSQL databases."""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from typing import Any, TypeVar

from absflow.store.db import scratch_postgresql as store_scratch_postgresql

T = TypeVar("T")


def scratch_postgresql(server_url: str) -> AbstractContextManager[str]:
    """The URL of a new database on ``server_url``'s PostgreSQL server, dropped (FORCE) afterwards."""
    return store_scratch_postgresql(server_url, prefix="absflow_bench")


def machine() -> str:
    """One line describing the machine and its load, to print beside every figure."""
    load = os.getloadavg()
    return (
        f"{platform.machine()} {os.cpu_count()} cpu, python {platform.python_version()}, "
        f"loadavg {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, fn: Callable[[], T], *, repeat: int = 1, target_s: float | None = None,
          cpu: bool = False) -> T:
    """Run ``fn`` ``repeat`` times, print the best wall time (and the target), return the last result.

    ``cpu=True`` also prints the process CPU time (all threads) of the best run and the load
    average: on a shared 2-core box the wall time includes waiting for a core and for the
    disk; the CPU time is what the work itself costs.
    """
    best, best_cpu = float("inf"), 0.0
    result: T
    for _ in range(repeat):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = fn()
        wall, spent = time.perf_counter() - wall0, time.process_time() - cpu0
        if wall < best:
            best, best_cpu = wall, spent
    verdict = ""
    if target_s is not None:
        verdict = f" (target ≤ {target_s:g} s: {'met' if best <= target_s else 'MISSED'})"
    if cpu:
        print(f"{label}: {best:.3f} s wall, {best_cpu:.3f} s CPU{verdict}, loadavg {os.getloadavg()[0]:.1f}")
    else:
        print(f"{label}: {best:.3f} s{verdict}")
    return result


#: ``timed`` that also prints the CPU time and the load average (the tape benchmarks' format).
timed_cpu = partial(timed, cpu=True)


def two_tranche_deal(pool_yuan: float, senior_yuan: float) -> Any:
    """The benchmarks' 30-year deal: senior A (pass-through, 4.5%) and subordinate B (the rest of the pool),
    a collection account and a reserve targeting 1% of A, a trustee fee, tax, a delinquency trigger; monthly
    payments on the 15th from 2026-02-15 to 2056-01-15 (360), legal maturity 2058-01-15."""
    from absflow.deal import parse_deal

    return parse_deal({
        "name": "bench two-tranche",
        "dates": {"cutoff": "2025-12-31", "establishment": "2026-01-15", "first_payment": "2026-02-15",
                  "payment_frequency": "monthly", "expected_maturity": "2056-01-15",
                  "legal_maturity": "2058-01-15", "calendar": "weekdays"},
        "pool": {"source": "rep_lines", "initial_balance": f"{pool_yuan:.2f}",
                 "rep_lines": [{"id": "r", "balance": f"{pool_yuan:.2f}", "rate": "0.06", "term_months": 360}]},
        "tranches": [
            {"id": "A", "class": "senior", "size": f"{senior_yuan:.2f}", "coupon": {"kind": "fixed", "rate": "0.045"},
             "principal": "pass_through"},
            {"id": "B", "class": "subordinate", "size": f"{pool_yuan - senior_yuan:.2f}", "principal": "sequential"},
        ],
        "accounts": [{"id": "collection", "kind": "collection"},
                     {"id": "reserve", "kind": "reserve", "target": {"kind": "percent_of_tranches", "rate": "0.01",
                                                                     "tranches": ["A"]}}],
        "fees": [{"id": "trustee", "kind": "percent_of_balance", "rate": "0.0005", "base": "pool"}],
        "tax": {"rate": "0.0326"},
        "waterfalls": {"amortizing": [
            {"action": "pay_tax"},
            {"action": "pay_fee", "fees": ["trustee"]},
            {"action": "pay_interest", "tranches": ["A"], "support": [{"account": "reserve"}]},
            {"action": "pay_principal", "tranches": ["A"]},
            {"action": "top_up_reserve", "account": "reserve"},
            {"action": "pay_principal", "tranches": ["B"]},
            {"action": "pay_residual", "tranches": ["B"]},
        ]},
        "triggers": [{"id": "dq", "metric": "delinquency_rate", "comparison": "gt", "threshold": "0.05",
                      "effects": [{"kind": "change_status", "status": "amortizing"}]}],
    })
