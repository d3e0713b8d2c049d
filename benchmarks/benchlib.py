"""Shared helpers for benchmark scripts: timing, peak memory, and the machine they ran on."""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


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


def timed(label: str, fn: Callable[[], T], *, repeat: int = 1, target_s: float | None = None) -> T:
    """Run ``fn`` ``repeat`` times, print the best wall time (and the target), return the last result."""
    best = float("inf")
    result: T
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    verdict = ""
    if target_s is not None:
        verdict = f" (target ≤ {target_s:g} s: {'met' if best <= target_s else 'MISSED'})"
    print(f"{label}: {best:.3f} s{verdict}")
    return result
