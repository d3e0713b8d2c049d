"""Synthetic tapes written to files (CSV in any encoding, Parquet, XLSX) for demos, tests and benchmarks."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from absflow.domain.issues import Issue, Location, ValidationFailed
from absflow.domain.money import format_yuan
from absflow.services import tapes as tape_service
from absflow.services.context import Context
from absflow.services.tapes import ImportResult
from absflow.tape import synth
from absflow.tape.mapping import TapeMapping, load_mapping
from absflow.tape.schema import TapeKind

DEFAULT_CUTOFF = date(2026, 6, 30)
Table = tuple[str, Sequence[str], Sequence[Sequence[Any]]]
MAX_XLSX_ROWS = 200_000


@dataclass(frozen=True)
class SynthResult:
    kind: TapeKind
    path: Path
    rows: int
    seed: int
    headers: str
    seconds: float


def shipped_mapping_path(name: str) -> Path:
    """Path of a mapping shipped with absflow (``margin_loan_zh``, ``consumer_loan_zh``, …)."""
    path = Path(str(resources.files("absflow.tape") / "mappings" / f"{name}.yaml"))
    if not path.is_file():
        raise ValidationFailed([Issue("unknown_mapping", f"no shipped mapping named {name!r}", Location(), name)])
    return path


def shipped_mapping(name: str) -> TapeMapping:
    return load_mapping(shipped_mapping_path(name))


def synthesize(kind: TapeKind | str, n: int, seed: int, *, cutoff: date = DEFAULT_CUTOFF,
               headers: str = "en", id_prefix: str | None = None) -> pl.DataFrame:
    """A synthetic tape frame: canonical headers (``en``) or as an originator sends it (``zh``)."""
    tape_kind = TapeKind(kind)
    problems = []
    if n < 0:
        problems.append(Issue("bad_count", "--n must be zero or more", Location(field_path="n"), str(n)))
    if headers not in ("en", "zh"):
        problems.append(Issue("bad_headers", "headers must be en or zh", Location(field_path="headers"), headers))
    if tape_kind not in synth.GENERATORS:
        kinds = ", ".join(k.value for k in synth.GENERATORS)
        problems.append(Issue("no_generator", f"no generator for {tape_kind.value}; one of: {kinds}",
                              Location(field_path="kind"), tape_kind.value))
    if problems:
        raise ValidationFailed(problems)
    generator = synth.GENERATORS[tape_kind]
    frame = generator(n, seed, cutoff) if id_prefix is None else generator(n, seed, cutoff, id_prefix=id_prefix)
    return synth.to_zh(tape_kind, frame) if headers == "zh" else frame


def write_synthetic(kind: TapeKind | str, n: int, seed: int, out: str | Path, *, cutoff: date = DEFAULT_CUTOFF,
                    headers: str = "en", id_prefix: str | None = None, encoding: str = "utf-8") -> SynthResult:
    """Generate and write a synthetic tape; the format follows the suffix (.csv, .parquet, .xlsx)."""
    started = time.perf_counter()
    frame = synthesize(kind, n, seed, cutoff=cutoff, headers=headers, id_prefix=id_prefix)
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame.write_parquet(path)
    elif suffix == ".xlsx":
        if frame.height > MAX_XLSX_ROWS:
            raise ValidationFailed([Issue("too_many_rows_for_xlsx", f"xlsx output is limited to {MAX_XLSX_ROWS} rows; "
                                          "use .csv or .parquet", Location(field_path="out"), str(frame.height))])
        frame.write_excel(path, autofit=False)
    elif encoding.replace("-", "").lower() in ("utf8", "utf_8"):
        frame.write_csv(path)
    else:
        path.write_bytes(frame.write_csv().encode(encoding))
    return SynthResult(TapeKind(kind), path, frame.height, seed, headers, time.perf_counter() - started)


DEMO_TAPE_ROWS = 20_000
DEMO_TAPE_SEED = 2017


def month_end_before(day: date) -> date:
    """The last day of the month before ``day`` (a typical tape cut-off)."""
    return day.replace(day=1) - timedelta(days=1)


def import_demo_tape(ctx: Context, plan_code: str, *, rows: int = DEMO_TAPE_ROWS,
                     progress: Callable[[str], None] = lambda _m: None) -> tuple[ImportResult, Table]:
    """Synthesize a margin-loan tape with Chinese headers (as a broker sends it) and import it
    into the plan through the shipped mapping ``margin_loan_zh``; cut-off: the last month end.

    Asset ids carry the plan code, so demo plans never share assets.
    """
    ctx.require("edit", plan_code)
    cutoff = month_end_before(ctx.now().date())
    prefix = "SW" + plan_code.removeprefix("ABS-").replace("-", "") + "-"
    with tempfile.TemporaryDirectory(prefix="absflow-demo-") as folder:
        path = Path(folder) / "融出资金债权明细.csv"
        progress(f"synthesizing a {rows:,}-row margin-loan tape with Chinese headers (seed {DEMO_TAPE_SEED})")
        write_synthetic(TapeKind.MARGIN_LOAN, rows, DEMO_TAPE_SEED, path, cutoff=cutoff, headers="zh",
                        id_prefix=prefix)
        progress(f"importing it through examples/mappings/margin_loan_zh.yaml (cut-off {cutoff})")
        result = tape_service.import_tape(ctx, plan_code, path, shipped_mapping("margin_loan_zh"), cutoff)
    table: Table = (
        f"Tape import 资产导入 ({result.file_name})",
        ["field", "value"],
        [("rows", f"{result.rows:,}"), ("batch", result.batch_id), ("cut-off", result.cutoff.isoformat()),
         ("sha256", result.sha256[:16] + "…"), ("log entry", result.log_index),
         ("seconds", f"{result.seconds:.2f}"),
         *[(f"total {k.removesuffix('_fen')} (yuan)", format_yuan(v)) for k, v in sorted(result.totals_fen.items())]],
    )
    return result, table
