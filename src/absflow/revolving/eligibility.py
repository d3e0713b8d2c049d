"""Per-asset eligibility (合格标准) from the deal document: every rejection cites its rule id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from absflow.deal.model import Eligibility, EligibilityRule
from absflow.revolving.table import AssetTable, BoolArray

#: Criteria that depend on the day's market or servicing state (they can change daily);
#: the others are "static": failing one later means the asset was never eligible (不合格资产).
DYNAMIC_RULES = frozenset(
    {
        EligibilityRule.MIN_MAINTENANCE_RATIO,
        EligibilityRule.NOT_OVERDUE,
        EligibilityRule.NOT_IN_LIQUIDATION,
        EligibilityRule.MAX_REMAINING_TERM_DAYS,
        EligibilityRule.NOT_EXTENDED,
        EligibilityRule.MAX_EXTENSIONS,
    }
)


class EligibilityConfigError(ValueError):
    """A criterion the engine cannot evaluate (unknown field for an allow/deny list, bad value)."""


@dataclass(frozen=True)
class EligibilityResult:
    """``failed[k]`` is the mask of assets failing ``criteria[k]``; ``eligible`` = failing none."""

    criteria: tuple[Eligibility, ...]
    failed: tuple[BoolArray, ...]
    eligible: BoolArray

    def reasons(self, position: int) -> list[str]:
        """Rule ids the asset at ``position`` fails, in deal order."""
        return [c.id for c, mask in zip(self.criteria, self.failed, strict=True) if bool(mask[position])]

    def failure_counts(self) -> dict[str, int]:
        """Number of assets failing each rule id."""
        return {c.id: int(mask.sum()) for c, mask in zip(self.criteria, self.failed, strict=True)}

    def failed_static(self) -> BoolArray:
        """Assets failing a static criterion (ineligible since purchase, not just today's market)."""
        mask = np.zeros_like(self.eligible)
        for criterion, failed in zip(self.criteria, self.failed, strict=True):
            if criterion.rule not in DYNAMIC_RULES:
                mask |= failed
        return mask


def _decimal(criterion: Eligibility) -> Decimal:
    try:
        return Decimal(str(criterion.value))
    except Exception as error:  # noqa: BLE001 - any parse failure is a config error
        raise EligibilityConfigError(f"{criterion.id}: value {criterion.value!r} is not a number") from error


def _enabled(criterion: Eligibility) -> bool:
    return str(criterion.value).strip().lower() not in ("false", "0", "no")


def _fen(amount_yuan: Decimal) -> int:
    return int((amount_yuan * 100).to_integral_value())


def check_eligibility(
    assets: AssetTable,
    criteria: Sequence[Eligibility],
    *,
    as_of: date,
    plan_end: date,
) -> EligibilityResult:
    """Evaluate every criterion on every asset (vectorized).

    ``plan_end``: the date a contract must mature by for ``term_inside_plan`` (the plan's
    legal maturity). Maintenance ratio NaN (unknown) fails ``min_maintenance_ratio``.
    """
    failed: list[BoolArray] = []
    as_of64 = np.datetime64(as_of, "D")
    for criterion in criteria:
        rule = criterion.rule
        mask: npt.NDArray[np.bool_]
        if rule is EligibilityRule.MIN_MAINTENANCE_RATIO:
            threshold = float(_decimal(criterion))
            mask = ~(assets.maintenance_ratio >= threshold)
        elif rule is EligibilityRule.MIN_FINANCING_RATE:
            mask = ~(assets.rate >= float(_decimal(criterion)) - 1e-12)
        elif rule is EligibilityRule.MAX_SINGLE_LOAN_PRINCIPAL:
            mask = assets.principal_fen > _fen(_decimal(criterion))
        elif rule is EligibilityRule.MIN_SINGLE_LOAN_PRINCIPAL:
            mask = assets.principal_fen < _fen(_decimal(criterion))
        elif rule is EligibilityRule.TERM_INSIDE_PLAN:
            limit = np.datetime64(plan_end, "D")
            mask = assets.due_date > limit if _enabled(criterion) else np.zeros(len(assets), np.bool_)
        elif rule is EligibilityRule.MAX_REMAINING_TERM_DAYS:
            days = int(_decimal(criterion))
            mask = (assets.due_date - as_of64).astype(np.int64) > days
        elif rule is EligibilityRule.NOT_OVERDUE:
            mask = (assets.overdue_days > 0) | (assets.due_date < as_of64)
            if not _enabled(criterion):
                mask = np.zeros(len(assets), np.bool_)
        elif rule is EligibilityRule.NOT_IN_LIQUIDATION:
            mask = assets.in_liquidation.copy() if _enabled(criterion) else np.zeros(len(assets), np.bool_)
        elif rule is EligibilityRule.NOT_EXTENDED:
            mask = assets.extension_count > 0 if _enabled(criterion) else np.zeros(len(assets), np.bool_)
        elif rule is EligibilityRule.MAX_EXTENSIONS:
            mask = assets.extension_count > int(_decimal(criterion))
        elif rule in (EligibilityRule.ALLOWED_VALUES, EligibilityRule.DENIED_VALUES):
            mask = _list_rule(assets, criterion)
        else:  # pragma: no cover - new rules must be added here
            raise EligibilityConfigError(f"{criterion.id}: rule {rule} is not implemented")
        failed.append(np.asarray(mask, dtype=np.bool_))
    eligible = np.ones(len(assets), np.bool_)
    for mask in failed:
        eligible &= ~mask
    return EligibilityResult(tuple(criteria), tuple(failed), eligible)


def _list_rule(assets: AssetTable, criterion: Eligibility) -> BoolArray:
    name = criterion.field or ""
    if name == "client":
        codes = assets.client
    elif name in assets.groups:
        codes = assets.groups[name]
    else:
        raise EligibilityConfigError(
            f"{criterion.id}: field {name!r} is not in the daily data (have: client, {', '.join(assets.groups)})"
        )
    vocabulary = list(assets.vocab.get(name, ()))
    listed = set(criterion.values)
    listed_codes = np.array([i for i, text in enumerate(vocabulary) if text in listed], np.int64)
    inside = np.isin(codes, listed_codes)
    return np.asarray(~inside if criterion.rule is EligibilityRule.ALLOWED_VALUES else inside, np.bool_)
