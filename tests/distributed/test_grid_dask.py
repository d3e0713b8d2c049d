"""The scenario grid on Dask gives exactly the numbers of a sequential run."""

from __future__ import annotations

import math

import pytest

from absflow.distributed.grid import GridSpec, PoolPayload, axis, pool_metrics, run_dask, run_sequential
from absflow.services.projection import synthetic_loans


def test_axis_reading() -> None:
    assert axis("0,0.05, 0.1") == (0.0, 0.05, 0.1)
    assert axis("0:0.1:0.025") == (0.0, 0.025, 0.05, 0.075, 0.1)
    with pytest.raises(ValueError):
        axis("0:1:0")


def test_spec_order_and_kinds() -> None:
    spec = GridSpec(prepayment=(100.0, 200.0), default=(0.0, 50.0), severity=(0.3,), rate_shift=(0.0, 0.01),
                    prepayment_kind="psa", default_kind="sda", recovery_lag_periods=6)
    scenarios = spec.scenarios()
    assert spec.size == len(scenarios) == 8
    assert [s.index for s in scenarios] == list(range(8))
    assert (scenarios[1].prepayment, scenarios[1].default, scenarios[1].rate_shift) == (100.0, 0.0, 0.01)
    a = scenarios[-1].assumptions()
    assert a.prepayment.describe() == "200% PSA" and a.default.describe() == "50% SDA"
    assert a.recovery_lag_periods == 6
    with pytest.raises(ValueError):
        GridSpec(prepayment_kind="abs")


def test_dask_local_cluster_equals_sequential() -> None:
    payload = PoolPayload(loans=synthetic_loans(400, term=120), discount_rate=0.05)
    spec = GridSpec(prepayment=(0.0, 0.1), default=(0.0, 0.03), severity=(0.4, 0.8), rate_shift=(0.0, 0.01),
                    recovery_lag_periods=3)
    scenarios = spec.scenarios()
    sequential = run_sequential(payload, scenarios, pool_metrics)
    seen: list[int] = []
    distributed = run_dask(payload, scenarios, pool_metrics, workers=2, batch_size=3,
                           progress=lambda done, total: seen.append(done))
    assert seen[-1] == len(scenarios) == 16
    assert [r.scenario for r in distributed] == [r.scenario for r in sequential]
    for a, b in zip(distributed, sequential, strict=True):
        assert a.metrics.keys() == b.metrics.keys()
        for key in a.metrics:
            x, y = a.metrics[key], b.metrics[key]
            assert x == y or (math.isnan(x) and math.isnan(y)), key
    # metrics move the right way
    base, stressed = sequential[0].metrics, sequential[6].metrics  # (0, 0.03, 0.8, 0.0)
    assert base["cumulative_loss"] == 0 and stressed["cumulative_loss"] > 0
    assert sequential[1].metrics["total_interest"] > base["total_interest"]  # +100 bp
