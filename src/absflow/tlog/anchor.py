"""Anchoring checkpoints outside absflow: the interface a chain or time-stamping adapter implements.

Anchoring publishes a digest of a signed checkpoint where the plan manager cannot later
change it (a public blockchain transaction, an RFC 3161 time-stamping authority, a
newspaper). It adds a third-party time bound to what witnesses already guarantee: a log
that rewrote history would have to contradict a published digest.

absflow ships only a file-based adapter (``absflow.services.anchoring.FileAnchor``) for
tests and demos; a real-chain or TSA adapter is a later issue. Adapters do the I/O; this
module stays pure.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol


def checkpoint_digest(note: str) -> str:
    """What gets anchored: hex SHA-256 of the signed checkpoint note's text part (without signatures).

    The text (origin, size, root) is what the log and witnesses vouch for; signatures may
    be added later by witnesses without changing the digest.
    """
    text = note[:note.rfind("\n\n") + 1] if "\n\n" in note else note
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AnchorReceipt:
    """Proof of publication: which service, where (transaction id, TSA serial, file line), what, when."""

    service: str
    reference: str
    digest: str
    size: int
    anchored_at: str  # ISO 8601 UTC as reported by the service


class Anchor(Protocol):
    """A place to publish checkpoint digests. Implementations: FileAnchor (tests); chains/TSAs later."""

    name: str

    def publish(self, digest: str, size: int) -> AnchorReceipt:
        """Publish ``digest`` of the checkpoint of ``size`` entries; return the receipt."""
        ...

    def confirm(self, receipt: AnchorReceipt) -> bool:
        """True if the service still shows ``receipt.digest`` at ``receipt.reference``."""
        ...
