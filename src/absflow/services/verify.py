"""Offline verification of proof bundles: files (or their contents) in, statements out. No database,
no network: the same check a relying party runs with `absflow verify`."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from absflow.domain.issues import Issue, Location, ValidationFailed
from absflow.tlog.bundle import BundleError, BundleReport, verify_bundle
from absflow.tlog.note import NoteError, SignerKey, VerifierKey

K = TypeVar("K", SignerKey, VerifierKey)


def read_key_file(path: Path, parse: Callable[[str], K], kind: str | None = None,
                  error: type[Exception] = BundleError) -> K:
    """Parse the key file at ``path`` with ``parse``; ``error`` names the file and what is wrong
    with it (``kind``: what the file should have held, named when it holds something else)."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise error(f"cannot read key file {path}: no such file") from None
    except OSError as exc:
        raise error(f"cannot read key file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a {kind or 'key file'} ({exc})") from None
    try:
        return parse(text)
    except NoteError as exc:
        raise error(f"{path}: {exc}" if kind is None else f"{path}: not a {kind} ({exc})") from None


def load_keys(paths: Sequence[Path]) -> list[VerifierKey]:
    """Verifier keys (vkey text, one per file). Raises BundleError naming the bad file."""
    return [read_key_file(path, VerifierKey.parse, "verifier key") for path in paths]


def verify_bundle_file(bundle_path: Path, key_paths: Sequence[Path]) -> BundleReport:
    """Read and verify a bundle; raises BundleError with a message naming what failed."""
    keys = load_keys(key_paths)
    if not keys:
        raise BundleError("give at least one --key (the log's public key file)")
    return verify_bundle(read_bundle_json(bundle_path), keys)


def read_bundle_json(bundle_path: Path, error: type[Exception] = BundleError) -> Any:
    """The parsed JSON of a bundle file; raises ``error`` saying the file cannot be read or is not JSON."""
    try:
        return json.loads(bundle_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"cannot read bundle {bundle_path}: {exc.strerror}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise error(f"bundle {bundle_path} is not valid JSON: {exc}") from None


def verify_bundle_data(bundle: Any, key_texts: Sequence[str]) -> BundleReport:
    """Verify a parsed bundle with verifier keys given as text; raises BundleError naming what failed."""
    keys = []
    for i, text in enumerate(key_texts):
        try:
            keys.append(VerifierKey.parse(text.strip()))
        except NoteError as exc:
            raise BundleError(f"key {i} is not a verifier key: {exc}") from None
    if not keys:
        raise BundleError("give at least one key (the log's public key)")
    return verify_bundle(bundle, keys)


def parse_verifier(text: str, where: str) -> VerifierKey:
    """A verifier key from its text; ValidationFailed naming ``where`` otherwise."""
    try:
        return VerifierKey.parse(text.strip())
    except NoteError as exc:
        raise ValidationFailed([Issue("bad_key", f"not a verifier key: {exc}", Location(field_path=where))]) \
            from None
