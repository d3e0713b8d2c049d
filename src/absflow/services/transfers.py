"""Uploads in, downloads out: the file-shaped operations of the CLI for callers that send bytes.

The CLI reads and writes files on the operator's disk; the API and the pages receive bytes
and answer bytes. These functions stage uploads in a private temporary folder, call the
same service functions as the CLI commands, and collect what those write. Every check of
permission stays in the service functions they call.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from absflow.domain.issues import Issue, Location, ValidationFailed
from absflow.services import bookbuilding as book_service
from absflow.services import daily as daily_service
from absflow.services import dealrun, deals
from absflow.services.context import Context
from absflow.services.servicer_report import servicer_report

#: Daily servicer files may be CSV, XLSX or Parquet (docs/DAILY.md); the first bytes each must start with.
DAILY_TYPES: dict[str, bytes | None] = {".csv": None, ".xlsx": b"PK\x03\x04", ".parquet": b"PAR1"}


def check_uploads(uploads: Sequence[tuple[str, bytes]], types: Mapping[str, bytes | None], max_bytes: int
                  ) -> None:
    """Every upload has an allowed suffix, content of that type and at most ``max_bytes``; else all problems."""
    issues: list[Issue] = []
    if not uploads:
        issues.append(Issue("required", "send at least one file", Location(field_path="files")))
    for name, data in uploads:
        suffix = Path(name).suffix.lower()
        where = Location(field_path=f"files[{Path(name).name}]")
        if suffix not in types:
            issues.append(Issue("unsupported_type", f"allowed file types: {', '.join(types)}; got {suffix or 'none'}",
                                where, name))
        elif (magic := types[suffix]) is not None and not data.startswith(magic):
            issues.append(Issue("wrong_content", f"the file is not a {suffix} file", where, name))
        elif magic is None and b"\x00" in data[:65536]:
            issues.append(Issue("wrong_content", "a CSV file is text; this file has binary content", where, name))
        if not data:
            issues.append(Issue("empty", "the file is empty", where, name))
        if len(data) > max_bytes:
            issues.append(Issue("too_large", f"files are limited to {max_bytes // (1024 * 1024)} MiB", where,
                                str(len(data))))
    names = [Path(n).name for n, _ in uploads]
    issues.extend(Issue("duplicate_file", "two files with one name", Location(field_path="files"), n)
                  for n in sorted({n for n in names if names.count(n) > 1}))
    if issues:
        raise ValidationFailed(issues)


@contextmanager
def staged(files: Mapping[str, bytes | str]) -> Iterator[dict[str, Path]]:
    """The files written under their base names into a private temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="absflow-staged-") as folder:
        paths: dict[str, Path] = {}
        for name, data in files.items():
            path = Path(folder) / Path(name).name
            path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
            paths[name] = path
        yield paths


def load_daily_files(ctx: Context, plan_code: str, business_date: date, uploads: Sequence[tuple[str, bytes]], *,
                     mapping_text: str | None = None, max_bytes: int) -> daily_service.LoadResult:
    """`absflow daily load` for uploaded files: checked, staged, validated together and stored."""
    ctx.require("edit", plan_code)
    check_uploads(uploads, DAILY_TYPES, max_bytes)
    files: dict[str, bytes | str] = dict(uploads)
    if mapping_text and mapping_text.strip():
        files["candidates-mapping.yaml"] = mapping_text
    with staged(files) as paths:
        mapping = paths.pop("candidates-mapping.yaml", None)
        return daily_service.load_inputs(ctx, plan_code, business_date, list(paths.values()), mapping=mapping)


SERVICER_FORMATS = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "pdf": "application/pdf"}


def servicer_report_file(ctx: Context, plan_code: str, first: date, last: date, fmt: str) -> tuple[str, bytes]:
    """`absflow report servicer --out FILE.{xlsx,pdf}` as (file name, bytes); needs download."""
    from absflow.reports.servicer import servicer_pdf, servicer_xlsx

    if fmt not in SERVICER_FORMATS:
        raise ValidationFailed([Issue("bad_format", "format is xlsx or pdf", Location(field_path="format"), fmt)])
    report = servicer_report(ctx, plan_code, first, last)
    data = servicer_xlsx(report) if fmt == "xlsx" else servicer_pdf(report)
    return f"{plan_code}-servicer-{first}-{last}.{fmt}", data


def notices_zip(ctx: Context, plan_code: str, tranche_id: str, formats: Sequence[str]) -> tuple[str, bytes]:
    """`absflow book notices --out DIR` as one ZIP of the notices (and the register); needs download."""
    with tempfile.TemporaryDirectory(prefix="absflow-notices-") as folder:
        issued = book_service.issue_notices(ctx, plan_code, tranche_id, Path(folder), formats)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, _sha in issued.files:
                archive.write(Path(folder) / name, name)
    return f"{plan_code}-{tranche_id}-notices.zip", buffer.getvalue()


def remote_deal(text: str) -> str:
    """A deal document that arrived over HTTP: valid, and naming no file on this server.

    ``pool.source: tape_file`` reads a path on the disk of whoever runs the deal: right for the
    CLI (the operator's own files), wrong for a request (it would read the server's files). Over
    HTTP a pool is a plan's imported tape (``pool.source: plan``, checked against the caller's
    grants) or rep lines.
    """
    from absflow.deal import parse_deal_text
    from absflow.deal.model import PoolSource

    if parse_deal_text(text).pool.source is PoolSource.TAPE_FILE:
        raise ValidationFailed([Issue("server_file", "a deal sent to the server may not read a tape file on the "
                                      "server's disk; import the tape into a plan and use pool.source: plan",
                                      Location(field_path="pool.source"), "tape_file")])
    return text


def deal_text(ctx: Context, *, text: str | None, plan_code: str | None) -> str:
    """The deal document sent, or the plan's current one (needs view); exactly one of them, and
    naming no server file (``remote_deal``)."""
    if (text is None) == (plan_code is None):
        raise ValidationFailed([Issue("usage", "send either a deal document or a plan code",
                                      Location(field_path="deal"))])
    if plan_code is not None:
        return remote_deal(json.dumps(deals.current_deal_version(ctx, plan_code).document, ensure_ascii=False))
    return remote_deal(str(text))


def _with_deal_files(text: str, scenario: str | None) -> dict[str, bytes | str]:
    files: dict[str, bytes | str] = {"deal.yaml": text}
    if scenario:
        files["scenario.yaml"] = scenario
    return files


def price(ctx: Context, text: str, scenario: str | None, *, settlement: date | None,
          prices: dict[str, float], yields: dict[str, float]) -> dict[str, Any]:
    """`absflow cashflow price` on a deal document sent as text."""
    with staged(_with_deal_files(text, scenario)) as paths:
        run, metrics = dealrun.price_deal_file(ctx, paths["deal.yaml"], paths.get("scenario.yaml"),
                                               settlement=settlement, prices=prices, yields=yields)
    return {"deal": run.deal.name, "scenario": run.scenario.name, "tranches": metrics}


def deal_grid(ctx: Context, text: str, scenario: str | None, spec: Any, *, prices: dict[str, float],
              yields: dict[str, float], progress: Any) -> list[Any]:
    """`absflow cashflow grid DEAL` on a deal document sent as text, in this process (no Dask cluster)."""
    with staged(_with_deal_files(text, scenario)) as paths:
        return dealrun.run_deal_grid(ctx, paths["deal.yaml"], spec, paths.get("scenario.yaml"), prices=prices,
                                     yields=yields, sequential=True, progress=progress)


def breakeven(ctx: Context, text: str, tranche_id: str, scenario: str | None, *, variable: str,
              high: float | None) -> dict[str, Any]:
    """`absflow cashflow breakeven` on a deal document sent as text."""
    with staged(_with_deal_files(text, scenario)) as paths:
        return dealrun.breakeven_deal_file(ctx, paths["deal.yaml"], tranche_id, paths.get("scenario.yaml"),
                                           variable=variable, high=high)
