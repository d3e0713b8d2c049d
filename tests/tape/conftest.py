"""Fixtures for tape tests: small margin-loan and consumer-loan tapes written on the fly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

MARGIN_HEADER = ("contract_id,client_id,principal_outstanding,financing_rate,start_date,due_date,status,"
                 "securities_market_value,cash_balance,region")
MARGIN_ROWS = [
    "M1,C1,100000.50,0.0835,2026-01-05,2026-07-05,performing,250000,1000,广东",
    "M2,C1,50000,0.08,2026-02-05,2026-08-05,warning,70000,0,上海",
    "M3,C2,80000,0.07,2026-03-01,2026-09-01,performing,300000,500,浙江",
    "M4,C3,20000,0.0899,2025-12-20,2026-06-20,performing,60000,0,北京",
]
CONSUMER_HEADER = ("loan_id,obligor_id,original_principal,current_balance,interest_rate,origination_date,"
                   "original_term_months,status,region")
CONSUMER_ROWS = [
    "L1,B1,12000,8000,0.18,2025-10-15,12,performing,四川",
    "L2,B2,6000,6000,0.12,2026-03-01,6,performing,广东",
    "L3,B3,30000,25000.25,0.2,2025-06-30,36,delinquent,河南",
]


def write_text(path: Path, header: str, rows: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode(encoding))
    return path


@pytest.fixture
def margin_csv(tmp_path: Path) -> Callable[..., Path]:
    """margin_csv(rows=None, header=None, name=...) → a margin-loan CSV (canonical headers)."""

    def make(rows: list[str] | None = None, header: str = MARGIN_HEADER, name: str = "margin.csv",
             encoding: str = "utf-8") -> Path:
        return write_text(tmp_path / name, header, MARGIN_ROWS if rows is None else rows, encoding)

    return make


@pytest.fixture
def consumer_csv(tmp_path: Path) -> Callable[..., Path]:
    def make(rows: list[str] | None = None, header: str = CONSUMER_HEADER, name: str = "consumer.csv") -> Path:
        return write_text(tmp_path / name, header, CONSUMER_ROWS if rows is None else rows)

    return make


@pytest.fixture
def margin_rows() -> list[str]:
    """The four good margin-loan rows of ``margin_csv`` (canonical headers, UTF-8)."""
    return list(MARGIN_ROWS)
