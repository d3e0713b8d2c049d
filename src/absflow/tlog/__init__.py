"""Verifiable log: RFC 9162 Merkle hashing, proofs, checkpoints. Stdlib + cryptography only."""
