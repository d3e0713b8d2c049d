"""Compiled loops of ``absflow.services.bulk_hash`` (import only after it has made libcrypto's
symbols visible to numba: ``llvmlite.binding.load_library_permanently``).

Every pointer handed to libcrypto is of an array the caller owns (an array made inside a
compiled function may be freed after its last use in the code, before libcrypto reads it).

Each loop calls OpenSSL's EVP digest functions once per message with a fetched SHA2-256 method
and returns 0, or 1 when libcrypto reported a failure. No GIL is held.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import types

_ctx_new = types.ExternalFunction("EVP_MD_CTX_new", types.uintp())
_ctx_free = types.ExternalFunction("EVP_MD_CTX_free", types.void(types.uintp))
_init = types.ExternalFunction("EVP_DigestInit_ex", types.int32(types.uintp, types.uintp, types.uintp))
_update = types.ExternalFunction("EVP_DigestUpdate", types.int32(types.uintp, types.uintp, types.uintp))
_final = types.ExternalFunction("EVP_DigestFinal_ex", types.int32(types.uintp, types.uintp, types.uintp))


@numba.njit(nogil=True, cache=True)
def _digest(ctx: int, md: Any, lead: Any, start: Any, length: Any, target: Any) -> bool:  # pragma: no cover
    """SHA-256(lead[0] ‖ the ``length`` bytes at ``start``) written to ``target``; False on a failure."""
    return (_init(ctx, md, 0) == 1 and _update(ctx, lead, 1) == 1 and _update(ctx, start, length) == 1
            and _final(ctx, target, 0) == 1)


@numba.njit(nogil=True, cache=True)
def leaf_hashes(data: Any, offsets: Any, out: Any, prefix: Any, method: int) -> int:  # pragma: no cover
    """``out[i]`` = SHA-256(prefix ‖ data[offsets[i]:offsets[i + 1]]) for every i (prefix: 1 byte)."""
    ctx = _ctx_new()
    if ctx == 0:
        return 1
    md, lead = np.uint64(method), np.uint64(prefix.ctypes.data)
    base, target = np.uint64(data.ctypes.data), np.uint64(out.ctypes.data)
    failed = 0
    for i in range(offsets.shape[0] - 1):
        length = np.uint64(offsets[i + 1] - offsets[i])
        if not _digest(ctx, md, lead, base + np.uint64(offsets[i]), length, target + np.uint64(32 * i)):
            failed = 1
            break
    _ctx_free(ctx)
    return failed


@numba.njit(nogil=True, cache=True)
def fold_levels(level: Any, prefix: Any, method: int) -> int:  # pragma: no cover - compiled
    """Reduce ``(n, 32)`` hashes in place to the RFC 9162 root in ``level[0]``: each level
    hashes prefix ‖ left ‖ right for each pair (prefix: 1 byte); an odd last node moves up unchanged."""
    ctx = _ctx_new()
    if ctx == 0:
        return 1
    md, lead, base = np.uint64(method), np.uint64(prefix.ctypes.data), np.uint64(level.ctypes.data)
    n = level.shape[0]
    failed = 0
    while n > 1 and failed == 0:
        pairs = n // 2
        for i in range(pairs):
            if not _digest(ctx, md, lead, base + np.uint64(64 * i), np.uint64(64), base + np.uint64(32 * i)):
                failed = 1
                break
        if n % 2 == 1:
            level[pairs, :] = level[n - 1, :]
        n = pairs + n % 2
    _ctx_free(ctx)
    return failed
