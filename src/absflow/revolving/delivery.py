"""The delivery list (交割清单) of a revolving purchase and its digest for re-verification."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from absflow.domain.money import format_yuan
from absflow.tlog.entry import json_string


@dataclass(frozen=True, slots=True)
class DeliveryLine:
    """One asset bought: code, client, principal, accrued interest and price paid (fen)."""

    asset_code: str
    client_id: str
    principal_fen: int
    accrued_interest_fen: int
    price_fen: int

    def as_dict(self) -> dict[str, str]:
        return {
            "asset_code": self.asset_code,
            "client_id": self.client_id,
            "principal": format_yuan(self.principal_fen),
            "accrued_interest": format_yuan(self.accrued_interest_fen),
            "price": format_yuan(self.price_fen),
        }


@dataclass(frozen=True, slots=True)
class DeliveryList:
    plan_code: str
    business_date: date
    lines: tuple[DeliveryLine, ...]

    @property
    def principal_fen(self) -> int:
        return sum(line.principal_fen for line in self.lines)

    @property
    def price_fen(self) -> int:
        return sum(line.price_fen for line in self.lines)

    def canonical_bytes(self) -> bytes:
        """Sorted-key JSON of the list, lines ordered by asset code (what the digest covers):
        ``json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))`` of
        ``{plan_code, business_date, lines: [line.as_dict()…], total_principal, total_price}``,
        written directly (keys in sorted order) as the lists run to thousands of lines."""
        text = json_string
        lines = ",".join(
            f'{{"accrued_interest":"{format_yuan(x.accrued_interest_fen)}","asset_code":{text(x.asset_code)},'
            f'"client_id":{text(x.client_id)},"price":"{format_yuan(x.price_fen)}",'
            f'"principal":"{format_yuan(x.principal_fen)}"}}'
            for x in sorted(self.lines, key=lambda x: x.asset_code))
        return (f'{{"business_date":"{self.business_date.isoformat()}","lines":[{lines}],'
                f'"plan_code":{text(self.plan_code)},"total_price":"{format_yuan(self.price_fen)}",'
                f'"total_principal":"{format_yuan(self.principal_fen)}"}}').encode()

    def digest(self) -> str:
        """SHA-256 (hex) of :meth:`canonical_bytes`; logged with the day's run."""
        return hashlib.sha256(self.canonical_bytes()).hexdigest()


def delivery_list(
    plan_code: str,
    business_date: date,
    codes: Sequence[str],
    clients: Sequence[str],
    principal_fen: Sequence[int],
    accrued_interest_fen: Sequence[int],
    price_fen: Sequence[int],
) -> DeliveryList:
    lines = tuple(
        DeliveryLine(code, client, int(p), int(i), int(x))
        for code, client, p, i, x in zip(codes, clients, principal_fen, accrued_interest_fen, price_fen, strict=True)
    )
    return DeliveryList(plan_code, business_date, lines)
