"""Anchoring: the file adapter publishes checkpoint digests and the receipt is logged."""

from __future__ import annotations

from pathlib import Path

from absflow.services import tlog as tlog_service
from absflow.services.anchoring import FileAnchor, anchor_latest
from absflow.services.context import Context
from absflow.tlog.anchor import AnchorReceipt, checkpoint_digest
from absflow.tlog.note import SignerKey


def test_anchor_latest_checkpoint(ctx: Context, tmp_path: Path) -> None:
    ctx.extras["log_signer"] = SignerKey.from_seed("absflow.test/log", bytes(32))
    info = tlog_service.make_checkpoint(ctx)
    anchor = FileAnchor(tmp_path / "anchors.jsonl", ctx.now)
    receipt = anchor_latest(ctx, anchor)
    assert receipt.digest == checkpoint_digest(info.note) and receipt.size == 0
    assert anchor.confirm(receipt)
    assert not anchor.confirm(AnchorReceipt("file", receipt.reference, "00" * 32, 0, receipt.anchored_at))
    assert tlog_service.log_head(ctx).size == 1  # the receipt itself is logged
    # a witness cosignature does not change the anchored digest
    assert checkpoint_digest(info.note + "\u2014 w AAAA\n") == receipt.digest
