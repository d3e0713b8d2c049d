"""C2SP signed notes, checkpoints, cosignatures and the witness rule.

The signed-note known answer is the example of the Go reference implementation
(golang.org/x/mod/sumdb/note): key PeterNeumann, its two-line text and signature.
"""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest

from absflow.tlog import consistency_proof, leaf_hash, root
from absflow.tlog.checkpoint import Checkpoint, WitnessRefused, WitnessState, open_checkpoint, witness_cosign
from absflow.tlog.note import (
    SIG_COSIGNATURE_V1,
    NoteError,
    SignerKey,
    VerifierKey,
    cosigned_message,
    open_note,
    parse_note,
    sign_note,
)

GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIG = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
GO_NOTE = GO_TEXT + "\n\u2014 PeterNeumann " + GO_SIG + "\n"

LOG = SignerKey.from_seed("absflow.test/log", bytes(range(32)))
WITNESS = SignerKey.from_seed("custodian.example/w", bytes(range(1, 33)), SIG_COSIGNATURE_V1)


def test_reference_key_and_note_byte_for_byte() -> None:
    signer = SignerKey.parse(GO_SKEY)
    assert signer.encode() == GO_SKEY
    assert signer.verifier().encode() == GO_VKEY
    assert VerifierKey.parse(GO_VKEY).key_id.hex() == "c74f20a3"
    assert sign_note(GO_TEXT, [signer]) == GO_NOTE
    assert open_note(GO_NOTE, [VerifierKey.parse(GO_VKEY)]).text == GO_TEXT


def test_key_id_is_the_truncated_hash_of_name_type_and_key() -> None:
    v = LOG.verifier()
    assert v.key_id == hashlib.sha256(b"absflow.test/log\n\x01" + v.public_key).digest()[:4]
    w = WITNESS.verifier()
    assert w.key_id == hashlib.sha256(b"custodian.example/w\n\x04" + w.public_key).digest()[:4]
    assert VerifierKey.parse(w.encode()) == w
    assert SignerKey.parse(WITNESS.encode()) == WITNESS


@pytest.mark.parametrize("bad", [
    "", "PeterNeumann", "PeterNeumann+c74f20a3", "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
    "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
])
def test_malformed_verifier_keys_are_refused(bad: str) -> None:
    with pytest.raises(NoteError):
        VerifierKey.parse(bad)


def test_open_note_rules() -> None:
    note = sign_note("hello\n", [LOG])
    other = SignerKey.from_seed("absflow.test/log", bytes(32))  # same name, other key: ignored
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_note(note, [other.verifier()])
    tampered = note.replace("hello", "hellO")
    with pytest.raises(NoteError, match="does not verify"):
        open_note(tampered, [LOG.verifier()])
    for broken in ("hello\n", "hello\n\n", "hello\n\n\u2014 x\n", "hello\n\n- absflow.test/log AAAA\n",
                   "hello\n\n\u2014 absflow.test/log !!!!\n", "hel\tlo\n\n" + note.split("\n\n")[1]):
        with pytest.raises(NoteError):
            open_note(broken, [LOG.verifier()])
    with pytest.raises(NoteError):
        sign_note("no newline", [LOG])


def test_checkpoint_format_and_parse() -> None:
    cp = Checkpoint("absflow.test/log", 8, bytes(range(32)))
    assert cp.text() == "absflow.test/log\n8\n" + base64.b64encode(bytes(range(32))).decode() + "\n"
    assert Checkpoint.parse(cp.text()) == cp
    for bad in ("a\n08\nAAAA\n", "a\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n", "a\n1\nAAAA\n",
                "\n1\n" + base64.b64encode(bytes(32)).decode() + "\n", "a\n1\n"):
        with pytest.raises(NoteError):
            Checkpoint.parse(bad)


def tree(n: int, tag: bytes = b"") -> list[bytes]:
    return [leaf_hash(tag + str(i).encode()) for i in range(n)]


def signed(size: int, leaves: list[bytes]) -> str:
    return sign_note(Checkpoint("absflow.test/log", size, root(leaves[:size])).text(), [LOG])


def test_cosignature_is_timestamped_and_verifies() -> None:
    leaves = tree(5)
    note, state = witness_cosign(signed(5, leaves), witness=WITNESS, log_keys=[LOG.verifier()], last=None,
                                 consistency_proof=[], timestamp=1_772_000_000)
    assert state == WitnessState("absflow.test/log", 5, root(leaves))
    checkpoint, verified = open_checkpoint(note, [LOG.verifier(), WITNESS.verifier()])
    assert verified == {"absflow.test/log": 0, "custodian.example/w": 1_772_000_000}
    text, signatures = parse_note(note)
    raw = signatures[-1].signature
    assert struct.unpack(">Q", raw[:8])[0] == 1_772_000_000 and len(raw) == 72
    assert cosigned_message(text, 1_772_000_000).startswith(b"cosignature/v1\ntime 1772000000\nabsflow.test/log\n")


def test_witness_cosigns_an_extension_and_refuses_a_fork_or_rollback() -> None:
    leaves = tree(12)
    keys = [LOG.verifier()]
    _, state = witness_cosign(signed(5, leaves), witness=WITNESS, log_keys=keys, last=None,
                              consistency_proof=[], timestamp=1)
    _, state = witness_cosign(signed(12, leaves), witness=WITNESS, log_keys=keys, last=state,
                              consistency_proof=consistency_proof(5, leaves), timestamp=2)
    assert state.size == 12
    fork = leaves[:7] + tree(6, b"fork")  # same first 7 entries, then another history
    with pytest.raises(WitnessRefused, match="fork"):
        witness_cosign(signed(13, fork), witness=WITNESS, log_keys=keys, last=state,
                       consistency_proof=consistency_proof(12, fork), timestamp=3)
    with pytest.raises(WitnessRefused, match="fork"):  # same size, other root
        witness_cosign(signed(12, fork), witness=WITNESS, log_keys=keys, last=state, consistency_proof=[],
                       timestamp=3)
    with pytest.raises(WitnessRefused, match="rollback"):
        witness_cosign(signed(6, leaves), witness=WITNESS, log_keys=keys, last=state, consistency_proof=[],
                       timestamp=3)
    impostor = SignerKey.from_seed("absflow.test/log", bytes(32))
    forged = sign_note(Checkpoint("absflow.test/log", 12, root(leaves)).text(), [impostor])
    with pytest.raises(WitnessRefused, match="not a valid checkpoint"):
        witness_cosign(forged, witness=WITNESS, log_keys=keys, last=state, consistency_proof=[], timestamp=3)
