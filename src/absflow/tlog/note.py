"""C2SP signed notes (c2sp.org/signed-note) with Ed25519, and verifier/signer key strings.

A note is text ending in a newline, a blank line, then signature lines
``— <key name> base64(key ID || signature)``. The key ID is
``SHA-256(name || 0x0A || type || public key)[:4]`` with type 0x01 for Ed25519 note
signatures and 0x04 for timestamped Ed25519 witness cosignatures (c2sp.org/tlog-cosignature).

Key strings follow the Go ``sumdb/note`` conventions that C2SP calls vkeys:
``<name>+<hex key ID>+<base64(type || 32-byte public key)>`` for verifier keys and
``PRIVATE+KEY+<name>+<hex key ID>+<base64(type || 32-byte seed)>`` for signer keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SIG_ED25519 = 0x01
SIG_COSIGNATURE_V1 = 0x04
KNOWN_TYPES = {SIG_ED25519: "ed25519", SIG_COSIGNATURE_V1: "cosignature/v1"}
EM_DASH = "\u2014"
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """A note, key or signature that is malformed or does not verify. The message says which."""


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """The 4-byte key ID: SHA-256(name || 0x0A || type || public key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


def check_key_name(name: str) -> None:
    if not name or any(ch.isspace() for ch in name) or "+" in name:
        raise NoteError(f"invalid key name {name!r}: it must be non-empty, without spaces or '+'")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise NoteError(f"{what} is not valid base64") from None


@dataclass(frozen=True)
class VerifierKey:
    """A public key with its name and signature type; ``encode()`` gives the vkey string."""

    name: str
    sig_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.sig_type, self.public_key)

    def encode(self) -> str:
        material = base64.b64encode(bytes([self.sig_type]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse ``name+hexid+base64(type||key)``; the declared key ID must match."""
        text = text.strip()
        name, sep1, rest = text.partition("+")
        hex_id, sep2, material = rest.partition("+")
        if not (sep1 and sep2):
            raise NoteError("a verifier key has the form <name>+<hex key ID>+<base64 key>")
        check_key_name(name)
        raw = _b64decode(material, "verifier key material")
        if len(raw) != 33 or raw[0] not in KNOWN_TYPES:
            raise NoteError("verifier key material must be a known type byte and a 32-byte Ed25519 key")
        key = cls(name, raw[0], raw[1:])
        if hex_id.lower() != key.key_id.hex():
            raise NoteError(f"verifier key {name}: the key ID {hex_id} does not match the key")
        return key

    def _verify_raw(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
            return True
        except (InvalidSignature, ValueError):
            return False


@dataclass(frozen=True)
class SignerKey:
    """A private Ed25519 key (32-byte seed) with its name and signature type."""

    name: str
    sig_type: int
    seed: bytes

    @classmethod
    def from_seed(cls, name: str, seed: bytes, sig_type: int = SIG_ED25519) -> SignerKey:
        check_key_name(name)
        if len(seed) != 32:
            raise NoteError("an Ed25519 seed is 32 bytes")
        if sig_type not in KNOWN_TYPES:
            raise NoteError(f"unknown signature type {sig_type}")
        return cls(name, sig_type, seed)

    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    def verifier(self) -> VerifierKey:
        public = self._private().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return VerifierKey(self.name, self.sig_type, public)

    def encode(self) -> str:
        material = base64.b64encode(bytes([self.sig_type]) + self.seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.verifier().key_id.hex()}+{material}"

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        text = text.strip()
        prefix = "PRIVATE+KEY+"
        if not text.startswith(prefix):
            raise NoteError("a signer key starts with PRIVATE+KEY+")
        name, sep1, rest = text[len(prefix):].partition("+")
        hex_id, sep2, material = rest.partition("+")
        if not (sep1 and sep2):
            raise NoteError("a signer key has the form PRIVATE+KEY+<name>+<hex key ID>+<base64 seed>")
        raw = _b64decode(material, "signer key material")
        if len(raw) != 33:
            raise NoteError("signer key material must be a type byte and a 32-byte seed")
        key = cls.from_seed(name, raw[1:], raw[0])
        if hex_id.lower() != key.verifier().key_id.hex():
            raise NoteError(f"signer key {name}: the key ID {hex_id} does not match the key")
        return key

    def sign_raw(self, message: bytes) -> bytes:
        return self._private().sign(message)


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{EM_DASH} {self.name} {base64.b64encode(self.key_id + self.signature).decode('ascii')}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise NoteError("note text must not contain control characters")


def parse_note(note: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text (with the final newline) and its signatures."""
    if not isinstance(note, str):
        raise NoteError("a signed note is text")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise NoteError("signed note contains control characters")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("signed note has no blank line before its signatures")
    text = note[:split + 1]
    signatures = []
    for line in note[split + 2:].splitlines():
        if not line.startswith(EM_DASH + " "):
            raise NoteError(f"malformed signature line {line!r}")
        parts = line[2:].split(" ")
        if len(parts) != 2:
            raise NoteError(f"malformed signature line {line!r}")
        name, encoded = parts
        check_key_name(name)
        raw = _b64decode(encoded, f"signature of {name}")
        if len(raw) < 5:
            raise NoteError(f"signature of {name} is too short")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    if not signatures:
        raise NoteError("signed note has no signatures")
    if len(signatures) > MAX_SIGNATURES:
        raise NoteError("signed note has too many signatures")
    return text, signatures


def sign_note(text: str, signers: Sequence[SignerKey]) -> str:
    """A signed note: ``text``, a blank line, one Ed25519 (type 0x01) signature per signer."""
    _check_text(text)
    lines = []
    for signer in signers:
        if signer.sig_type != SIG_ED25519:
            raise NoteError(f"key {signer.name} is not a note-signing (type 0x01) key")
        lines.append(NoteSignature(signer.name, signer.verifier().key_id, signer.sign_raw(text.encode("utf-8"))))
    return text + "\n" + "".join(s.line() for s in lines)


def add_signature(note: str, signature: NoteSignature) -> str:
    """The note with one more signature line (e.g. a witness cosignature)."""
    parse_note(note)
    return note + signature.line()


def cosigned_message(text: str, timestamp: int) -> bytes:
    """The message a tlog-cosignature/v1 signs: header, time line, then the checkpoint text."""
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode("utf-8")


def cosign(text: str, signer: SignerKey, timestamp: int) -> NoteSignature:
    """A timestamped Ed25519 cosignature (type 0x04) over a checkpoint text."""
    _check_text(text)
    if signer.sig_type != SIG_COSIGNATURE_V1:
        raise NoteError(f"key {signer.name} is not a cosigning (type 0x04) key")
    if not 0 <= timestamp < 2**63:
        raise NoteError("cosignature timestamp out of range")
    body = struct.pack(">Q", timestamp) + signer.sign_raw(cosigned_message(text, timestamp))
    return NoteSignature(signer.name, signer.verifier().key_id, body)


def verify_signature(text: str, signature: NoteSignature, key: VerifierKey) -> int | None:
    """Check one signature line against a known key: True-ish result is the cosignature time.

    Returns 0 for a valid note signature, the timestamp for a valid cosignature, None if invalid.
    """
    if key.sig_type == SIG_ED25519:
        return 0 if key._verify_raw(text.encode("utf-8"), signature.signature) else None
    if len(signature.signature) != 8 + 64:
        return None
    (timestamp,) = struct.unpack(">Q", signature.signature[:8])
    if timestamp >= 2**63:
        return None
    ok = key._verify_raw(cosigned_message(text, timestamp), signature.signature[8:])
    return timestamp if ok else None


@dataclass(frozen=True)
class VerifiedNote:
    text: str
    #: names of keys whose signatures verified, with the cosignature time (0 for note signatures)
    verified: dict[str, int]


def open_note(note: str, keys: Iterable[VerifierKey]) -> VerifiedNote:
    """Verify a signed note against known keys; unknown signatures are ignored (per the spec).

    Raises NoteError if a signature from a known key fails or no known key signed.
    """
    text, signatures = parse_note(note)
    known = {(k.name, k.key_id): k for k in keys}
    verified: dict[str, int] = {}
    for signature in signatures:
        key = known.get((signature.name, signature.key_id))
        if key is None:
            continue
        result = verify_signature(text, signature, key)
        if result is None:
            raise NoteError(f"the signature of {signature.name} does not verify")
        verified[signature.name] = result
    if not verified:
        raise NoteError("no signature from a known key (check the --key files)")
    return VerifiedNote(text, verified)
