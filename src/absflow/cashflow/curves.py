"""Prepayment and default speeds: CPR/SMM, CDR/MDR, PSA, SDA, ABS and vectors.

Conventions follow the SIFMA (formerly PSA / Bond Market Association) Uniform Practices,
Chapter SF, Standard Formulas:

- SMM = 1 − (1 − CPR)^(1/12) and MDR = 1 − (1 − CDR)^(1/12) for monthly periods; for other
  period lengths the exponent is 1/periods_per_year.
- PSA (prepayment): 100% PSA is a CPR of 0.2% in month 1 of a loan's life, rising by 0.2%
  a month to 6% in month 30 and flat after: CPR(m) = 6% × min(m, 30)/30 × PSA/100.
- SDA (default): 100% SDA is a CDR of 0.02% in month 1, rising 0.02% a month to 0.60% in
  month 30, flat to month 60, falling 0.0095% a month to 0.03% in month 120, flat after;
  scaled by SDA/100. Defaults stop within the liquidation lag of maturity (see
  ``Speed.stop_within_lag``).
- ABS (prepayment): an ABS speed A gives SMM(m) = A / (1 − A × (m − 1)) for month m of a
  loan's life (capped at 100%).
- Month m of a loan's life during projection period t (1-based) is ``age + t`` where
  ``age`` is the number of whole months elapsed before the first projected period.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


class SpeedKind(StrEnum):
    """How a speed's value is read."""

    CPR = "cpr"  # annual prepayment rate, fraction
    SMM = "smm"  # periodic prepayment rate, fraction
    PSA = "psa"  # percent of the PSA curve (150.0 = 150% PSA)
    ABS = "abs"  # ABS speed, fraction per month (0.015 = 1.5 ABS)
    CDR = "cdr"  # annual default rate, fraction
    MDR = "mdr"  # periodic default rate, fraction
    SDA = "sda"  # percent of the SDA curve (100.0 = 100% SDA)


_ANNUAL = {SpeedKind.CPR, SpeedKind.CDR}
_PERIODIC = {SpeedKind.SMM, SpeedKind.MDR}
_BY_AGE = {SpeedKind.PSA, SpeedKind.SDA, SpeedKind.ABS}


def cpr_to_smm(cpr: float | FloatArray, periods_per_year: int = 12) -> float | FloatArray:
    """Annual rate (CPR or CDR, fraction) → periodic rate (SMM or MDR, fraction)."""
    result: float | FloatArray = 1.0 - np.power(1.0 - np.asarray(cpr, dtype=np.float64), 1.0 / periods_per_year)
    return float(result) if np.ndim(result) == 0 else result


def smm_to_cpr(smm: float | FloatArray, periods_per_year: int = 12) -> float | FloatArray:
    """Periodic rate (SMM or MDR, fraction) → annual rate (CPR or CDR, fraction)."""
    result: float | FloatArray = 1.0 - np.power(1.0 - np.asarray(smm, dtype=np.float64), periods_per_year)
    return float(result) if np.ndim(result) == 0 else result


#: The SIFMA standard curves as (month of the loan's life, annual rate at 100%) knots; straight lines
#: between knots, flat before the first and after the last.
PSA_KNOTS = ((0.0, 0.0), (30.0, 0.06))
SDA_KNOTS = ((0.0, 0.0), (30.0, 0.006), (60.0, 0.006), (120.0, 0.0003))


def _curve(knots: tuple[tuple[float, float], ...], percent: float,
           loan_age_months: NDArray[np.int64] | NDArray[np.float64]) -> FloatArray:
    months = np.asarray(loan_age_months, dtype=np.float64)
    ages, rates = zip(*knots, strict=True)
    return np.asarray(np.interp(months, ages, rates) * percent / 100.0, dtype=np.float64)


def psa_cpr(psa_percent: float, loan_age_months: NDArray[np.int64] | NDArray[np.float64]) -> FloatArray:
    """CPR (fraction) of ``psa_percent`` % PSA in month ``loan_age_months`` (1 = first month) of a loan's life."""
    return _curve(PSA_KNOTS, psa_percent, loan_age_months)


def sda_cdr(sda_percent: float, loan_age_months: NDArray[np.int64] | NDArray[np.float64]) -> FloatArray:
    """CDR (fraction) of ``sda_percent`` % SDA in month ``loan_age_months`` (1 = first month) of a loan's life."""
    return _curve(SDA_KNOTS, sda_percent, loan_age_months)


def abs_smm(abs_speed: float, loan_age_months: NDArray[np.int64] | NDArray[np.float64]) -> FloatArray:
    """SMM (fraction) of an ABS speed in month ``loan_age_months`` (1 = first month) of a loan's life."""
    m = np.clip(np.asarray(loan_age_months, dtype=np.float64), 1.0, None)
    denominator = 1.0 - abs_speed * (m - 1.0)
    smm = np.where(denominator > abs_speed, abs_speed / np.where(denominator > 0, denominator, 1.0), 1.0)
    return np.asarray(np.clip(smm, 0.0, 1.0), dtype=np.float64)


_CURVES = {SpeedKind.PSA: PSA_KNOTS, SpeedKind.SDA: SDA_KNOTS}


def _constructor(kind: SpeedKind) -> staticmethod[[float], Speed]:
    def make(value: float) -> Speed:
        return Speed(kind, float(value))

    make.__doc__ = f"A {kind.value.upper()} speed ({_UNITS[kind]})."
    return staticmethod(make)


_UNITS = {
    SpeedKind.CPR: "annual prepayment rate, fraction", SpeedKind.SMM: "periodic prepayment rate, fraction",
    SpeedKind.PSA: "percent of the PSA curve", SpeedKind.ABS: "ABS speed, fraction per month",
    SpeedKind.CDR: "annual default rate, fraction", SpeedKind.MDR: "periodic default rate, fraction",
    SpeedKind.SDA: "percent of the SDA curve",
}


@dataclass(frozen=True, slots=True)
class Speed:
    """A prepayment or default speed.

    ``value``: fraction for CPR/SMM/CDR/MDR/ABS, percent of the curve for PSA/SDA.
    ``vector``: optional per-period values (period 1 first, the last one carries forward),
    read with the same unit as ``value`` (CPR/CDR/SMM/MDR only); replaces ``value``.
    ``stop_within_lag``: no new defaults once the remaining term is within the recovery
    lag (SIFMA's SDA convention, so every default is liquidated by maturity); default
    True for SDA, False otherwise.
    """

    kind: SpeedKind
    value: float = 0.0
    vector: tuple[float, ...] | None = None
    stop_within_lag: bool | None = None

    # constructors, each taking the value in its kind's unit: Speed.cpr(0.06), Speed.psa(150), Speed.sda(100)
    cpr = _constructor(SpeedKind.CPR)
    smm = _constructor(SpeedKind.SMM)
    psa = _constructor(SpeedKind.PSA)
    abs_speed = _constructor(SpeedKind.ABS)
    cdr = _constructor(SpeedKind.CDR)
    mdr = _constructor(SpeedKind.MDR)
    sda = _constructor(SpeedKind.SDA)

    @classmethod
    def annual_vector(cls, rates: tuple[float, ...] | list[float], *, default: bool = False) -> Speed:
        """CPR (or CDR when ``default``) by period, fractions; the last carries forward."""
        return cls(SpeedKind.CDR if default else SpeedKind.CPR, 0.0, tuple(float(r) for r in rates))

    @classmethod
    def periodic_vector(cls, rates: tuple[float, ...] | list[float], *, default: bool = False) -> Speed:
        """SMM (or MDR when ``default``) by period, fractions; the last carries forward."""
        return cls(SpeedKind.MDR if default else SpeedKind.SMM, 0.0, tuple(float(r) for r in rates))

    # reading ----------------------------------------------------------------------
    @property
    def by_age(self) -> bool:
        """True when the rate depends on the loan's age (PSA, SDA, ABS), else on the period."""
        return self.kind in _BY_AGE

    @property
    def stops_within_lag(self) -> bool:
        if self.stop_within_lag is not None:
            return self.stop_within_lag
        return self.kind is SpeedKind.SDA

    def periodic_rates(self, index: NDArray[np.int64], periods_per_year: int = 12) -> FloatArray:
        """Periodic rate (SMM/MDR, fraction) at each ``index``.

        ``index`` is the loan's month of life (1-based) for PSA/SDA/ABS and the projection
        period (1-based) otherwise. Index 0 or less gives 0.
        """
        idx = np.asarray(index, dtype=np.int64)
        months = idx.astype(np.float64) * (12.0 / periods_per_year)
        if self.vector is not None:
            values = np.asarray(self.vector if self.vector else (0.0,), dtype=np.float64)
            picked = values[np.clip(idx - 1, 0, len(values) - 1)]
            rates = cpr_to_smm(picked, periods_per_year) if self.kind in _ANNUAL else picked
        elif self.kind in _ANNUAL:
            rates = np.full(idx.shape, cpr_to_smm(self.value, periods_per_year), dtype=np.float64)
        elif self.kind in _PERIODIC:
            rates = np.full(idx.shape, self.value, dtype=np.float64)
        elif self.kind in _CURVES:
            rates = cpr_to_smm(_curve(_CURVES[self.kind], self.value, months), periods_per_year)
        else:  # ABS: a monthly convention
            rates = abs_smm(self.value, months)
        out = np.where(idx >= 1, np.asarray(rates, dtype=np.float64), 0.0)
        return np.asarray(np.clip(out, 0.0, 1.0), dtype=np.float64)

    def describe(self) -> str:
        if self.vector is not None:
            return f"{self.kind.value} vector ({len(self.vector)} periods)"
        if self.kind in (SpeedKind.PSA, SpeedKind.SDA):
            return f"{self.value:g}% {self.kind.value.upper()}"
        return f"{self.kind.value.upper()} {self.value:g}"


ZERO_PREPAYMENT = Speed(SpeedKind.CPR, 0.0)
ZERO_DEFAULT = Speed(SpeedKind.CDR, 0.0)
