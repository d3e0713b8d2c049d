"""Projection against published references (SIFMA Standard Formulas) with stated tolerances."""

from __future__ import annotations

import numpy as np
import pytest

from absflow.cashflow.curves import Speed, cpr_to_smm, psa_cpr, sda_cdr, smm_to_cpr
from absflow.cashflow.projection import Assumptions, LoanArrays, level_payment, project


def one_dollar(term: int = 360, *, age: int = 0) -> LoanArrays:
    return LoanArrays.from_columns(balance=[1.0], gross_rate=[0.095], net_rate=[0.09], remaining_term=[term], age=[age])


def test_sifma_sf4_month_one_at_150_psa() -> None:
    """SF-4: per $1, 9.5% gross, 9.0% net, 360 months, month 1 at 150% PSA (tolerance 5e-9, the 8 decimals printed)."""
    pool = project(one_dollar(), Assumptions(prepayment=Speed.psa(150))).pool
    assert pool.scheduled_principal[0] == pytest.approx(0.00049188, abs=5e-9)
    assert pool.prepayment[0] == pytest.approx(0.00025022, abs=5e-9)
    assert pool.net_interest[0] == pytest.approx(0.0075, abs=5e-12)
    assert pool.total_cashflow[0] == pytest.approx(0.00824210, abs=5e-9)


def test_cpr_smm_conversion_sifma() -> None:
    """CPR 6% ↔ SMM 0.5143013% (tolerance 5e-10 on the fraction, the 7 decimals printed)."""
    assert cpr_to_smm(0.06) == pytest.approx(0.005143013, abs=5e-10)
    assert smm_to_cpr(0.005143013) == pytest.approx(0.06, abs=1e-8)


def test_level_payment_100000_at_9_5_over_360() -> None:
    """100,000 at 9.5% over 360 months pays 840.85 a month (to the cent)."""
    assert round(level_payment(100_000, 0.095, 360), 2) == 840.85
    pool = project(
        LoanArrays.from_columns(balance=[100_000.0], gross_rate=[0.095], remaining_term=[360]), Assumptions()
    ).pool
    payments = pool.scheduled_principal + pool.interest
    assert np.allclose(payments, 840.8542071787, atol=1e-6)
    assert pool.end_balance[-1] == 0.0


def test_psa_curve_points() -> None:
    """100% PSA: 0.2% CPR in month 1, +0.2% a month, 6% from month 30 (exact)."""
    months = np.array([1, 2, 15, 29, 30, 31, 360])
    assert np.allclose(psa_cpr(100, months), [0.002, 0.004, 0.03, 0.058, 0.06, 0.06, 0.06], atol=1e-15)
    assert np.allclose(psa_cpr(150, months)[:1], [0.003], atol=1e-15)


def test_sda_curve_points() -> None:
    """100% SDA: 0.02% CDR month 1, 0.60% months 30–60, −0.0095%/month to 0.03% at 120, flat after (exact)."""
    months = np.array([1, 2, 29, 30, 45, 60, 61, 90, 119, 120, 121, 360])
    expected = [0.0002, 0.0004, 0.0058, 0.006, 0.006, 0.006, 0.005905, 0.00315, 0.000395, 0.0003, 0.0003, 0.0003]
    assert np.allclose(sda_cdr(100, months), expected, atol=1e-15)
    assert np.allclose(sda_cdr(200, months), 2 * np.asarray(expected), atol=1e-15)


def test_sda_month_one_default_and_liquidation_lag() -> None:
    """100% SDA with 12-month lag on $1: MDR month 1 = 1 − (1 − 0.0002)^(1/12); loss appears 12 months later."""
    a = Assumptions(default=Speed.sda(100), severity=0.35, recovery_lag_periods=12)
    pool = project(one_dollar(), a).pool
    mdr1 = 1 - (1 - 0.0002) ** (1 / 12)
    assert pool.default[0] == pytest.approx(mdr1, rel=1e-12)
    assert pool.loss[12] == pytest.approx(0.35 * pool.default[0], rel=1e-12)
    assert pool.recovery[12] == pytest.approx(0.65 * pool.default[0], rel=1e-12)
    assert np.all(pool.loss[:12] == 0)
    # SDA convention: no new defaults in the last 12 months, so every default is liquidated by month 360
    assert np.all(pool.default[348:] == 0)
    assert pool.default[347] > 0
    assert pool.periods == 372
    assert pool.loss[360:].sum() == 0


def test_psa_age_uses_seasoning() -> None:
    """A loan 29 months old is in month 30 of its life in period 1: 100% PSA gives SMM(6% CPR)."""
    pool = project(one_dollar(331, age=29), Assumptions(prepayment=Speed.psa(100))).pool
    performing = 1.0 - pool.scheduled_principal[0]
    assert pool.prepayment[0] / performing == pytest.approx(0.005143013, abs=5e-10)
