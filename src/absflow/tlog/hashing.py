"""RFC 9162 §2.1 hashing: leaves and interior nodes are domain-separated SHA-256."""

from __future__ import annotations

import hashlib


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()
