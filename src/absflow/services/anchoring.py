"""Publishing checkpoints to an anchor (absflow.tlog.anchor.Anchor); a file adapter for tests.

``anchor_latest`` publishes the digest of the newest checkpoint and records the receipt in
the log itself (entry ``log.anchored``), in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from absflow.domain.issues import NotFound
from absflow.services.context import Context
from absflow.services.log import append_event
from absflow.services.tlog import latest_checkpoint
from absflow.store.db import transaction
from absflow.tlog.anchor import Anchor, AnchorReceipt, checkpoint_digest


class FileAnchor:
    """Appends digests to a JSON-lines file (one line per anchoring). For tests and demos only."""

    name = "file"

    def __init__(self, path: Path, clock: Callable[[], datetime]) -> None:
        self.path = path
        self.clock = clock

    def publish(self, digest: str, size: int) -> AnchorReceipt:
        lines = self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []
        receipt = AnchorReceipt(self.name, f"{self.path.name}:{len(lines) + 1}", digest, size,
                                self.clock().isoformat())
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"digest": digest, "size": size, "at": receipt.anchored_at}) + "\n")
        return receipt

    def confirm(self, receipt: AnchorReceipt) -> bool:
        try:
            number = int(receipt.reference.rsplit(":", 1)[1])
            line = self.path.read_text(encoding="utf-8").splitlines()[number - 1]
        except (ValueError, IndexError, OSError):
            return False
        return bool(json.loads(line).get("digest") == receipt.digest)


def anchor_latest(ctx: Context, anchor: Anchor) -> AnchorReceipt:
    """Publish the newest checkpoint's digest and log the receipt (``log.anchored``)."""
    ctx.require("admin", None)
    checkpoint = latest_checkpoint(ctx)
    if checkpoint is None:
        raise NotFound("the log has no checkpoint yet; run `absflow log checkpoint`")
    receipt = anchor.publish(checkpoint_digest(checkpoint.note), checkpoint.size)
    with transaction(ctx.engine) as session:
        append_event(session, entry_type="log.anchored", plan_code=None, recorded_at=ctx.now(), payload={
            "service": receipt.service, "reference": receipt.reference, "digest": receipt.digest,
            "size": receipt.size, "anchored_at": receipt.anchored_at,
        })
    return receipt
