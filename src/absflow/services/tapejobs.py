"""Tape validation and import as background jobs (uploads from the web and the API).

The uploaded bytes travel with the job; the handler writes them to a temporary file with
the original suffix and calls the same ``services.tapes`` functions as `absflow tape
validate` / `absflow tape import`.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from absflow.domain.issues import AbsflowError, Issue, Location, ValidationFailed
from absflow.domain.money import format_yuan
from absflow.services import jobs, poolview
from absflow.services import tapes as tape_service
from absflow.services.context import Context
from absflow.services.plans import get_plan
from absflow.tape.mapping import TapeMapping, default_mapping, parse_mapping
from absflow.tape.schema import TapeKind
from absflow.tape.validate import issue_json

VALIDATE, IMPORT = "tape.validate", "tape.import"
#: File types a tape may be, by suffix, with the first bytes each must start with (None: text).
TAPE_TYPES: dict[str, bytes | None] = {".csv": None, ".txt": None, ".xlsx": b"PK\x03\x04", ".parquet": b"PAR1"}


def check_upload(file_name: str, data: bytes, max_bytes: int) -> str:
    """The suffix of an acceptable tape upload; ValidationFailed naming every problem otherwise."""
    suffix = Path(file_name).suffix.lower()
    issues = []
    if suffix not in TAPE_TYPES:
        issues.append(Issue("unsupported_type", f"a tape is one of {', '.join(TAPE_TYPES)}; got {suffix or 'none'}",
                            Location(field_path="file"), file_name))
    elif (magic := TAPE_TYPES[suffix]) is not None and not data.startswith(magic):
        issues.append(Issue("wrong_content", f"the file is not a {suffix} file", Location(field_path="file"),
                            file_name))
    elif magic is None and b"\x00" in data[:65536]:
        issues.append(Issue("wrong_content", "a CSV tape is text; this file has binary content",
                            Location(field_path="file"), file_name))
    if not data:
        issues.append(Issue("empty", "the file is empty", Location(field_path="file"), file_name))
    if len(data) > max_bytes:
        issues.append(Issue("too_large", f"uploads are limited to {max_bytes // (1024 * 1024)} MiB",
                            Location(field_path="file"), str(len(data))))
    if issues:
        raise ValidationFailed(issues)
    return suffix


def mapping_from_text(text: str | None, asset_type: str) -> TapeMapping:
    """A mapping from uploaded YAML text, or the identity mapping for the plan's asset type."""
    if not text or not text.strip():
        return default_mapping(asset_type)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed([Issue("mapping_yaml", f"the mapping is not valid YAML: {exc}",
                                      Location(field_path="mapping"))]) from None
    return parse_mapping(data)


def submit_tape_job(ctx: Context, plan_code: str, *, import_: bool, file_name: str, data: bytes,
                    mapping_text: str | None, cutoff: date | None, max_bytes: int) -> jobs.Job:
    """Check the upload and queue a validation (needs view) or an import (needs edit) of it."""
    ctx.require("edit" if import_ else "view", plan_code)
    plan = get_plan(ctx, plan_code)
    issues: list[Issue] = []
    try:
        check_upload(file_name, data, max_bytes)
    except ValidationFailed as exc:
        issues.extend(exc.issues)
    try:
        mapping_from_text(mapping_text, plan.asset_type.value)
    except ValidationFailed as exc:
        issues.extend(exc.issues)
    if import_ and cutoff is None:
        issues.append(Issue("required", "an import needs the cut-off date", Location(field_path="cutoff")))
    if issues:
        raise ValidationFailed(issues)
    params = {"plan_code": plan_code, "file_name": Path(file_name).name[:200], "mapping": mapping_text or "",
              "cutoff": cutoff.isoformat() if cutoff else None, "asset_type": plan.asset_type.value}
    return jobs.submit(ctx, IMPORT if import_ else VALIDATE, plan_code, params, data)


def _run(ctx: Context, params: Mapping[str, Any], blob: bytes | None, progress: jobs.Progress,
         *, import_: bool, plan_code: str) -> Mapping[str, Any]:
    mapping = mapping_from_text(params.get("mapping"), params["asset_type"])
    cutoff = date.fromisoformat(params["cutoff"]) if params.get("cutoff") else None
    suffix = Path(params["file_name"]).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="absflow-upload-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(blob or b"")
        progress(5, "checking rows")
        if not import_:
            report = tape_service.validate_tape(path, mapping, cutoff=cutoff)
            body = report.as_json()
            if report.valid:
                body["totals"] = {k.removesuffix("_fen"): format_yuan(v) for k, v in sorted(report.totals_fen.items())}
            return body
        assert cutoff is not None
        try:
            result = tape_service.import_tape(
                ctx, plan_code, path, mapping, cutoff,
                progress=lambda done, total: progress(5 + int(90 * done / max(total, 1)), f"{done}/{total} bytes"))
        except tape_service.TapeRejected as exc:
            return {"valid": False, "rows": exc.rows, "errors": [issue_json(i) for i in exc.issues]}
        body = result.as_json()
        body["file_name"] = params["file_name"]
        if result.kind is not TapeKind.LOAN_PERFORMANCE:
            progress(97, "computing pool analytics")
            # compute and store the analytics now, so no page or API read waits for a large pool
            with contextlib.suppress(AbsflowError):
                poolview.precompute(ctx, plan_code)
        return body


def register() -> None:
    """Register the tape job kinds (called by the server at start)."""
    jobs.register(VALIDATE, "view", lambda c, p, b, pr: _run(c, p, b, pr, import_=False, plan_code=p["plan_code"]))
    jobs.register(IMPORT, "edit", lambda c, p, b, pr: _run(c, p, b, pr, import_=True, plan_code=p["plan_code"]))
