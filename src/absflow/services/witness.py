"""Keys in files, and a witness that cosigns on its own machine from an exported bundle.

No database here: ``cosign_bundle`` takes a bundle file (from ``absflow log consistency
--from N`` or ``absflow log checkpoint``), the log's public key(s), the witness's private
key and its state file (the last checkpoint it cosigned). It checks the log's signature and
the consistency proof from its own remembered root, refuses a rollback or a fork, and
returns the checkpoint note with its C2SP tlog-cosignature/v1 line added (the log operator
attaches it with ``absflow log attach-cosignature``).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from absflow.domain.issues import AbsflowError, Conflict
from absflow.services.verify import read_bundle_json, read_key_file
from absflow.tlog.bundle import BUNDLE_FORMAT
from absflow.tlog.checkpoint import Checkpoint, WitnessRefused, WitnessState, witness_cosign
from absflow.tlog.merkle import HASH_SIZE
from absflow.tlog.note import SIG_COSIGNATURE_V1, SIG_ED25519, NoteError, SignerKey, VerifierKey, parse_note


class LogKeyError(AbsflowError):
    code = "log_key"




def generate_key(name: str, *, witness: bool = False) -> SignerKey:
    """A fresh Ed25519 key: a log (note-signing, 0x01) key or a witness (cosignature, 0x04) key."""
    try:
        return SignerKey.from_seed(name, secrets.token_bytes(32), SIG_COSIGNATURE_V1 if witness else SIG_ED25519)
    except NoteError as exc:
        raise LogKeyError(str(exc)) from None


def write_key_files(key: SignerKey, prefix: Path) -> tuple[Path, Path]:
    """Write ``<prefix>.key`` (private, mode 0600) and ``<prefix>.pub`` (vkey); refuse to overwrite."""
    private, public = prefix.with_suffix(".key"), prefix.with_suffix(".pub")
    for path in (private, public):
        if path.exists():
            raise Conflict(f"{path} exists; keys are never overwritten (rotate by generating a new name)")
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.encode() + "\n")
    public.write_text(key.verifier().encode() + "\n", encoding="ascii")
    return private, public


def read_signer(path: Path) -> SignerKey:
    return read_key_file(path, SignerKey.parse, error=LogKeyError)


def read_verifier(path: Path) -> VerifierKey:
    return read_key_file(path, VerifierKey.parse, "verifier key", LogKeyError)


def read_state(path: Path) -> WitnessState | None:
    """The witness's last cosigned checkpoint (None: the state file does not exist yet)."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        state = WitnessState(data["origin"], int(data["size"]), bytes.fromhex(data["root"]))
    except OSError as exc:
        raise LogKeyError(f"cannot read witness state {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LogKeyError(f"witness state {path} is unreadable: {exc}") from None
    if state.size < 0 or len(state.root_hash) != HASH_SIZE:
        raise LogKeyError(f"witness state {path} is unreadable: bad size or root")
    return state


def write_state(path: Path, state: WitnessState) -> None:
    """Replace the state file atomically (a crash leaves the old state or the new, never half)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps({"origin": state.origin, "size": state.size, "root": state.root_hash.hex()}),
                   encoding="utf-8")
    tmp.replace(path)


class WitnessError(AbsflowError):
    """The witness cannot or will not cosign; the message says why (refusals start with "refused:")."""

    code = "witness"


@dataclass(frozen=True)
class Cosigned:
    note: str
    checkpoint: Checkpoint
    previous_size: int | None


def _bundle_note_and_proof(bundle: Any, state: WitnessState | None) -> tuple[str, list[bytes]]:
    """The newest checkpoint in the bundle and the consistency proof from the witness's state to it."""
    if not isinstance(bundle, Mapping) or bundle.get("format") != BUNDLE_FORMAT:
        raise WitnessError(f"not an absflow bundle (format {BUNDLE_FORMAT!r})")
    notes = bundle.get("checkpoints")
    if not isinstance(notes, list) or not notes or not all(isinstance(n, str) for n in notes):
        raise WitnessError("the bundle has no checkpoints")
    sizes = []
    for i, note in enumerate(notes):
        try:
            text, _ = parse_note(note)
            sizes.append(Checkpoint.parse(text).size)
        except NoteError as exc:
            raise WitnessError(f"checkpoint {i} of the bundle: {exc}") from None
    newest = max(range(len(notes)), key=lambda i: sizes[i])
    if state is None or state.size == 0 or sizes[newest] <= state.size:  # the rule itself judges these
        return notes[newest], []
    for i, item in enumerate(bundle.get("consistency") or []):
        if not isinstance(item, Mapping):
            raise WitnessError(f"consistency proof {i} of the bundle is not an object")
        old, new = item.get("from"), item.get("to")
        if not (isinstance(old, int) and isinstance(new, int) and 0 <= old < len(notes) and 0 <= new < len(notes)):
            raise WitnessError(f"consistency proof {i} of the bundle refers to no checkpoint")
        if sizes[old] == state.size and new == newest:
            proof = item.get("proof")
            try:
                hashes = [bytes.fromhex(h) for h in proof]  # type: ignore[union-attr]
            except (TypeError, ValueError, AttributeError):
                raise WitnessError(f"consistency proof {i} of the bundle is not a list of hex hashes") from None
            return notes[newest], hashes
    raise WitnessError(f"the bundle has no consistency proof from size {state.size} (the last checkpoint this "
                       f"witness cosigned) to size {sizes[newest]}; ask the log operator for "
                       f"`absflow log consistency --from {state.size}`")


def cosign_bundle(bundle_path: Path, *, log_keys: Sequence[Path], witness_key: Path, state_path: Path,
                  timestamp: int) -> Cosigned:
    """Cosign the newest checkpoint of the bundle if it extends what this witness cosigned last.

    Writes the new state only after cosigning. Raises WitnessError (refusals: "refused: …").
    """
    witness = read_signer(witness_key)
    if witness.sig_type != SIG_COSIGNATURE_V1:
        raise WitnessError(f"{witness_key} is not a witness key (make one with `absflow keys generate --witness`)")
    verifiers = [read_verifier(p) for p in log_keys]
    if not verifiers:
        raise WitnessError("give the log's public key (--log-key)")
    state = read_state(state_path)
    bundle = read_bundle_json(bundle_path, WitnessError)
    note, proof = _bundle_note_and_proof(bundle, state)
    try:
        cosigned, new_state = witness_cosign(note, witness=witness, log_keys=verifiers, last=state,
                                             consistency_proof=proof, timestamp=timestamp)
    except WitnessRefused as exc:
        raise WitnessError(f"refused: {exc}") from None
    write_state(state_path, new_state)
    text, _ = parse_note(cosigned)
    return Cosigned(cosigned, Checkpoint.parse(text), state.size if state else None)
