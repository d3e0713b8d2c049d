"""Many SHA-256 digests at once: RFC 9162 leaf hashes of a column of byte strings, and the
Merkle tree hash over them, without a Python call per hash.

The definition stays ``absflow.tlog`` (``hashing.leaf_hash``, ``merkle.root``): leaf =
SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ left ‖ right), an odd last node moving up a level
unchanged (RFC 9162's split at the largest power of two below n, bottom-up). This module
computes the same bytes in bulk for the tape import, where a million records made the
per-record ``hashlib`` calls (≈ 1 µs each, leaves and nodes) a large part of the import:

- **compiled**: a numba loop (no GIL held) calling OpenSSL's digest functions from the
  libcrypto that Python's ``hashlib`` uses — SHA-256 itself, with the CPU's SHA extensions
  where it has them, and no per-hash Python work. It runs in a thread beside the database
  write (``tapes.import_tape``), because it holds no GIL;
- **hashlib**: ``absflow.tlog``'s own functions, one call per hash: for fewer than
  ``COMPILED_FROM`` values, and wherever numba or a libcrypto 3 is not found.

``backend()`` names the one in use (``fallback_reason`` says why it is not the compiled one).
Tests check both against a reference written from RFC 9162; the compiled one is also checked
against hashlib on a known vector when it loads, and not used if they differ.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from absflow.tlog import merkle
from absflow.tlog.hashing import leaf_hash

HASH_SIZE = 32
EMPTY_ROOT = merkle.EMPTY_ROOT
_LEAF = np.zeros(1, dtype=np.uint8)  # RFC 9162 leaf prefix 0x00
_NODE = np.ones(1, dtype=np.uint8)  # node prefix 0x01


# --- the hashlib backend: the definitions of absflow.tlog, one call per hash -----------------------

def _leaves_hashlib(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    raw = data.tobytes()
    bounds = offsets.tolist()
    digests = b"".join([leaf_hash(raw[start:end]) for start, end in zip(bounds, bounds[1:], strict=False)])
    return np.frombuffer(digests, dtype=np.uint8).reshape(-1, HASH_SIZE)


def _root_hashlib(hashes: np.ndarray) -> bytes:
    return merkle.root(as_list(hashes))


# --- the compiled backend ------------------------------------------------------------------------

def _libcrypto_path() -> str | None:
    """The libcrypto ``hashlib`` is linked with (Linux: read from this process's mappings), else the
    one the system's loader finds."""
    try:
        import _hashlib  # noqa: F401  (loads libcrypto into this process)
    except ImportError:
        return None
    maps = Path("/proc/self/maps")
    if maps.is_file():
        for line in maps.read_text().splitlines():
            path = line.split()[-1] if line.split() else ""
            if "/libcrypto" in path and Path(path).is_file():
                return path
    return ctypes.util.find_library("crypto")


def _compiled() -> tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], Callable[[np.ndarray], bytes]]:
    """The numba + libcrypto backend; raises (ImportError, OSError, AttributeError, …) where it cannot be had."""
    path = _libcrypto_path()
    if path is None:
        raise OSError("no libcrypto found")
    library = ctypes.CDLL(path)
    fetch = library.EVP_MD_fetch  # OpenSSL 3
    fetch.restype, fetch.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    method = fetch(None, b"SHA2-256", None)
    if not method:
        raise OSError(f"{path} has no SHA2-256")
    for name in ("EVP_MD_CTX_new", "EVP_MD_CTX_free", "EVP_DigestInit_ex", "EVP_DigestUpdate", "EVP_DigestFinal_ex"):
        getattr(library, name)  # AttributeError if missing

    import llvmlite.binding as llvm

    llvm.load_library_permanently(path)
    from absflow.services import bulk_hash_kernels as kernels

    def leaves(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        out = np.empty((len(offsets) - 1, HASH_SIZE), dtype=np.uint8)
        if kernels.leaf_hashes(data, offsets, out, _LEAF, method) != 0:
            raise RuntimeError("libcrypto failed to hash the leaves")
        return out

    def tree(hashes: np.ndarray) -> bytes:
        work = np.ascontiguousarray(hashes, dtype=np.uint8).copy()
        if kernels.fold_levels(work, _NODE, method) != 0:
            raise RuntimeError("libcrypto failed to hash the tree")
        return bytes(work[0])

    # A known vector through the same array types as real use (a signature compiles once).
    vector_data, vector_offsets = buffers(pl.Series([b"abc", b"", bytes(range(256)) * 3], dtype=pl.Binary))
    got = leaves(vector_data, vector_offsets)
    if not np.array_equal(got, _leaves_hashlib(vector_data, vector_offsets)):
        raise RuntimeError("compiled leaf hashes differ from hashlib's")
    if tree(got) != _root_hashlib(got) or tree(got[:2]) != _root_hashlib(got[:2]):
        raise RuntimeError("compiled tree hash differs from hashlib's")
    return leaves, tree


_Backend = tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray], Callable[[np.ndarray], bytes]]
_HASHLIB: _Backend = ("hashlib", _leaves_hashlib, _root_hashlib)
_backend: _Backend | None = None
#: Why the compiled backend is not in use ("" while it is, or before the first use).
fallback_reason = ""
#: Fewer hashes than this go through hashlib: loading the compiled loops costs ≈ 0.5–1 s of CPU
#: once per process (numba's import and start-up, machine code from its cache), about what
#: hashlib spends on 200,000–300,000 leaves and their tree; above this the work also moves off
#: the importing thread (``releases_gil``).
COMPILED_FROM = 100_000


_loading = threading.Lock()


def _load() -> _Backend:
    global _backend, fallback_reason
    with _loading:
        if _backend is None:
            try:
                _backend = ("compiled", *_compiled())
                fallback_reason = ""
            except Exception as error:  # noqa: BLE001 - any failure leaves the exact hashlib path
                fallback_reason = f"{type(error).__name__}: {error}"
                _backend = _HASHLIB
        return _backend


def _for(count: int, using: str | None = None) -> _Backend:
    if using == "hashlib" or (using is None and count < COMPILED_FROM):
        return _HASHLIB
    if using not in (None, "compiled"):
        raise ValueError(f"no bulk hashing backend {using!r} (compiled, hashlib)")
    return _load()


def compiled_loaded() -> bool:
    """Is the compiled backend already loaded in this process (by a large hashing, e.g. a tape
    import)? Then smaller lists may use it too at no start-up cost (``using="compiled"``)."""
    return _backend is not None and _backend[0] == "compiled"


def backend(count: int = COMPILED_FROM) -> str:
    """``compiled`` or ``hashlib``: which implementation hashes ``count`` values (loads it on first call)."""
    return _for(count)[0]


def releases_gil(count: int) -> bool:
    """Whether hashing ``count`` values runs without holding the GIL (a thread beside other work helps)."""
    return backend(count) == "compiled"


# --- API -----------------------------------------------------------------------------------------

def buffers(values: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of a String or Binary column as one contiguous uint8 array and ``n + 1`` int64
    offsets (value i is ``data[offsets[i]:offsets[i + 1]]``; strings as UTF-8). No nulls."""
    if values.null_count():
        raise ValueError(f"column {values.name!r} has null values; every leaf needs bytes")
    array: Any = values.cast(pl.Binary).rechunk().to_arrow()
    if hasattr(array, "combine_chunks"):
        array = array.combine_chunks()
    import pyarrow as pa

    array = array.cast(pa.large_binary())
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[array.offset:array.offset + len(array) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    return data, np.ascontiguousarray(offsets)


def leaf_hashes(values: pl.Series, *, using: str | None = None) -> np.ndarray:
    """RFC 9162 leaf hashes SHA-256(0x00 ‖ value) of every value, as an ``(n, 32)`` uint8 array.

    ``using``: ``"compiled"`` or ``"hashlib"`` (tests); default by size (``COMPILED_FROM``).
    "compiled" gives the hashlib loop where the compiled one cannot be loaded (``fallback_reason``).
    """
    if values.len() == 0:
        return np.empty((0, HASH_SIZE), dtype=np.uint8)
    data, offsets = buffers(values)
    return _for(len(offsets) - 1, using)[1](data, offsets)


def tree_root(hashes: np.ndarray, *, using: str | None = None) -> bytes:
    """The RFC 9162 Merkle tree hash of ``(n, 32)`` leaf hashes; the empty tree hashes to SHA-256("")."""
    if hashes.ndim != 2 or hashes.shape[1] != HASH_SIZE:
        raise ValueError(f"leaf hashes must be an (n, {HASH_SIZE}) array, not {hashes.shape}")
    if hashes.shape[0] == 0:
        return EMPTY_ROOT
    return _for(hashes.shape[0], using)[2](hashes)


def as_list(hashes: np.ndarray) -> list[bytes]:
    """``(n, 32)`` hashes as a list of 32-byte strings (what ``absflow.tlog.merkle`` takes)."""
    flat = hashes.tobytes()
    return [flat[i:i + HASH_SIZE] for i in range(0, len(flat), HASH_SIZE)]
