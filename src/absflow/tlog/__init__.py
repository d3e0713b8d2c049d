"""Verifiable log: RFC 9162 Merkle hashing, proofs, checkpoints. Stdlib + cryptography only.

Public API (RFC 9162 §2.1): ``leaf_hash``, ``node_hash``, ``root``, ``inclusion_proof``,
``consistency_proof``, ``verify_inclusion``, ``verify_consistency``. Signed notes and
checkpoints live in ``absflow.tlog.note`` and ``absflow.tlog.checkpoint``, selective
disclosure in ``absflow.tlog.disclosure``, offline bundle checks in ``absflow.tlog.bundle``.
"""

from absflow.tlog.hashing import leaf_hash, node_hash
from absflow.tlog.merkle import consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion

__all__ = [
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]
