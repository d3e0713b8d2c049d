"""C2SP tlog-checkpoint bodies and the witness rule (cosign only what extends what you cosigned).

A checkpoint text is three lines: origin, tree size (decimal, no leading zeros), base64
root hash. The log signs it as a signed note; witnesses add tlog-cosignature/v1 lines.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from absflow.tlog.merkle import HASH_SIZE, verify_consistency
from absflow.tlog.note import NoteError, NoteSignature, SignerKey, VerifierKey, add_signature, cosign, open_note


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root_hash).decode('ascii')}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text (extension lines are not used by absflow and refused)."""
        lines = text.split("\n")
        if len(lines) != 4 or lines[3] != "":
            raise NoteError("a checkpoint has exactly three lines: origin, size, root hash")
        origin, size_text, root_text = lines[:3]
        if not origin:
            raise NoteError("checkpoint origin is empty")
        if not size_text.isascii() or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise NoteError(f"checkpoint size {size_text!r} is not a decimal without leading zeros")
        try:
            root_hash = base64.b64decode(root_text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise NoteError("checkpoint root hash is not valid base64") from None
        if len(root_hash) != HASH_SIZE:
            raise NoteError("checkpoint root hash is not 32 bytes")
        return cls(origin, int(size_text), root_hash)


def open_checkpoint(note: str, log_keys: Sequence[VerifierKey]) -> tuple[Checkpoint, dict[str, int]]:
    """Verify the log's signature (and any known cosignatures) and parse the checkpoint."""
    verified = open_note(note, log_keys)
    checkpoint = Checkpoint.parse(verified.text)
    return checkpoint, verified.verified


class WitnessRefused(NoteError):
    """A witness declined to cosign (bad signature, other origin, a rollback or a fork)."""


@dataclass(frozen=True)
class WitnessState:
    """What a witness remembers per log: the last checkpoint it cosigned."""

    origin: str
    size: int
    root_hash: bytes


def witness_cosign(
    note: str,
    *,
    witness: SignerKey,
    log_keys: Sequence[VerifierKey],
    last: WitnessState | None,
    consistency_proof: Sequence[bytes],
    timestamp: int,
) -> tuple[str, WitnessState]:
    """Cosign ``note`` if it is signed by the log and consistent with ``last``.

    ``consistency_proof`` goes from ``last.size`` to the new size. Returns the note with
    the witness's cosignature line and the new state. Raises WitnessRefused otherwise,
    in particular for a fork (same size, other root; or a proof that does not verify).
    """
    try:
        checkpoint, _ = open_checkpoint(note, log_keys)
    except NoteError as exc:
        raise WitnessRefused(f"not a valid checkpoint of this log: {exc}") from None
    if last is not None:
        if checkpoint.origin != last.origin:
            raise WitnessRefused(f"checkpoint is for {checkpoint.origin!r}, the witness follows {last.origin!r}")
        if checkpoint.size < last.size:
            raise WitnessRefused(f"rollback: size {checkpoint.size} < last cosigned size {last.size}")
        if last.size > 0 and not verify_consistency(
            last.size, checkpoint.size, list(consistency_proof), last.root_hash, checkpoint.root_hash
        ):
            raise WitnessRefused(
                f"fork: the checkpoint of size {checkpoint.size} is not consistent with the cosigned "
                f"checkpoint of size {last.size}"
            )
    signature: NoteSignature = cosign(checkpoint.text(), witness, timestamp)
    return add_signature(note, signature), WitnessState(checkpoint.origin, checkpoint.size, checkpoint.root_hash)
