"""Daily servicer files: formats (docs/DAILY.md) and their validation with the tape checker.

Each kind is a canonical schema checked by ``absflow.tape`` (the same readers — CSV, XLSX,
Parquet — and the same rules: types, ranges, required columns, duplicate keys, every
problem with row and column). The candidate backup pool (后备资产) *is* a margin-loan
tape and uses the margin-loan schema unchanged.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from absflow.domain.issues import Issue, Location, ValidationFailed
from absflow.tape.mapping import TapeMapping, default_mapping, load_mapping
from absflow.tape.schema import FieldKind, FieldSpec, TapeKind, TapeSchema
from absflow.tape.validate import TapeReport, check_tape


def _schema(kind: str, fields: tuple[FieldSpec, ...], keys: tuple[str, ...]) -> TapeSchema:
    return TapeSchema(
        kind=kind,  # type: ignore[arg-type]  # a daily kind, not an asset tape kind
        fields=fields,
        id_field=keys[0],
        obligor_field=None,
        balance_field=None,
        rate_field=None,
        start_field=None,
        end_field=None,
        key_fields=keys,
    )


def _text(name: str, description: str, label_zh: str) -> FieldSpec:
    return FieldSpec(name, FieldKind.TEXT, description, required=True, label_zh=label_zh)


def _money(name: str, description: str, label_zh: str, *, required: bool = False) -> FieldSpec:
    return FieldSpec(name, FieldKind.MONEY, description, required=required, minimum=0.0,
                     default=None if required else 0.0, label_zh=label_zh)


CONTRACT = _text("contract_id", "financing contract (融资合约) identifier, as in the pool", "合约编号")
CLIENT = _text("client_id", "client (融资客户) identifier", "客户编号")

#: Daily kinds other than candidates: canonical schemas.
DAILY_SCHEMAS: dict[str, TapeSchema] = {
    "collections": _schema("collections", (
        CONTRACT,
        _money("principal", "principal repaid today (回收本金)", "回收本金"),
        _money("interest", "interest paid today (回收利息)", "回收利息"),
        _money("fees", "fees paid today (费用)", "费用"),
    ), ("contract_id",)),
    "positions": _schema("positions", (
        CLIENT,
        _text("security_code", "security held in the credit account (证券代码)", "证券代码"),
        FieldSpec("quantity", FieldKind.INTEGER, "shares held at the close", required=True, minimum=0,
                  label_zh="持仓数量"),
    ), ("client_id", "security_code")),
    "prices": _schema("prices", (
        _text("security_code", "security code (证券代码)", "证券代码"),
        FieldSpec("close_price", FieldKind.RATIO, "closing price, yuan per share (收盘价)", required=True,
                  minimum=0.0, exclusive_minimum=True, label_zh="收盘价"),
    ), ("security_code",)),
    "accounts": _schema("accounts", (
        CLIENT,
        _money("cash_balance", "cash in the credit account (现金余额)", "现金余额"),
        _money("debt", "all liabilities of the credit account: financed amount + short market value + interest "
                       "and fees (负债合计)", "负债合计", required=True),
    ), ("client_id",)),
    "extensions": _schema("extensions", (
        CONTRACT,
        FieldSpec("new_due_date", FieldKind.DATE, "due date after the extension (展期后到期日)", required=True,
                  label_zh="展期后到期日"),
    ), ("contract_id",)),
    "liquidations": _schema("liquidations", (
        CONTRACT,
        FieldSpec("status", FieldKind.CHOICE, "started (平仓开始) or completed (平仓完成)", required=True,
                  choices=("started", "completed"), label_zh="平仓状态"),
        _money("recovered_principal", "principal recovered by the liquidation (回收本金)", "回收本金"),
        _money("recovered_interest", "interest recovered by the liquidation (回收利息)", "回收利息"),
        _money("shortfall", "debt left unpaid after the liquidation (平仓后不足额)", "不足额"),
    ), ("contract_id",)),
    "indicators": _schema("indicators", (
        _text("name", "indicator name: originator_rating, late_payment, or a deal metric", "指标"),
        _text("value", "its value (a rating such as AA+, true/false, or a number)", "取值"),
    ), ("name",)),
    "repurchase_receipts": _schema("repurchase_receipts", (
        CONTRACT,
        FieldSpec("amount", FieldKind.MONEY, "repurchase price received from the originator (回购款)",
                  required=True, minimum=0.0, exclusive_minimum=True, label_zh="回购款"),
    ), ("contract_id",)),
}
CANDIDATES = "candidates"
DAILY_KINDS = (CANDIDATES, *DAILY_SCHEMAS)


@dataclass(frozen=True)
class DailyMapping(TapeMapping):
    """A tape mapping whose schema is one of the daily kinds."""

    daily_schema: TapeSchema | None = None

    @property
    def schema(self) -> TapeSchema:
        assert self.daily_schema is not None
        return self.daily_schema


def kind_of(path: Path) -> str | None:
    """The daily kind a file name starts with (``collections_20250102.csv`` → collections)."""
    name = path.name.lower()
    for kind in sorted(DAILY_KINDS, key=len, reverse=True):
        if name.startswith(kind):
            return kind
    return None


@dataclass(frozen=True)
class DailyFile:
    kind: str
    path: Path
    report: TapeReport

    @property
    def frame(self) -> pl.DataFrame:
        assert self.report.frame is not None
        return self.report.frame


def check_daily_file(path: str | Path, kind: str | None = None, *, mapping: str | Path | None = None) -> DailyFile:
    """Validate one daily file (kind from the name unless given). Problems are in ``report.issues``."""
    source = Path(path)
    kind = kind or kind_of(source)
    if kind is None:
        raise ValidationFailed([Issue(
            "unknown_daily_kind",
            f"cannot tell the kind of {source.name}: the name must start with one of {', '.join(DAILY_KINDS)}",
            Location(field_path=str(source)), source.name)])
    if kind == CANDIDATES:
        checked = load_mapping(mapping) if mapping else default_mapping(TapeKind.MARGIN_LOAN)
    else:
        checked = DailyMapping(asset_type=TapeKind.MARGIN_LOAN, daily_schema=DAILY_SCHEMAS[kind])
    report = check_tape(source, checked, keep_frame=True)
    return DailyFile(kind, source, report)


#: zstd level of the stored day frames: level 1 encodes a day's files (≈ 200,000 rows at 200,000
#: loans) in ≈ 27 ms against ≈ 38 ms at the default level 3, for 7 % more bytes.
FRAME_ZSTD_LEVEL = 1


def frame_to_bytes(frame: pl.DataFrame) -> bytes:
    """The stored form of a day's frame: Parquet, zstd (``FRAME_ZSTD_LEVEL``), without column
    statistics (the frames are always read whole; the statistics cost a quarter of the encoding)."""
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", compression_level=FRAME_ZSTD_LEVEL, statistics=False)
    return buffer.getvalue()


def frame_from_bytes(data: bytes) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(data))


def to_day_frame(kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Canonical tape frame → the columns the day step reads (docs/DAILY.md)."""
    if kind == "positions":
        return frame.with_columns(pl.col("quantity").cast(pl.Float64))
    return frame
