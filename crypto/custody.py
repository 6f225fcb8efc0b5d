"""Custody log records: what a caseworker's computer did with a case, sealed and signed by them
(docs/crypto.md, "Custody log").

A chain of custody says who held a piece of evidence and what they did with it. The desk writes
one record per event (a case opened, a case packaged) to a log on the caseworker's disk. The
log names cases, so it is sealed to the caseworker's own encryption key: the disk alone does not
say which cases this laptop handled. Sealing to a public key needs no secret, so anyone able to
write the disk could add records; each record is therefore also signed with the caseworker's
signing key, and each entry names its predecessor's hash (``desk.evidence.custody``), so a
record added, changed, moved or removed by anyone else is caught when the log is read::

    record = "scus" || version (2) || u32 len || entry || Ed25519 signature of all before (64)
    sealed = crypto_box_seal(caseworker's X25519 public key, record)

Opens with the organisation's recovery key are logged too, beside the recovery key file. That
file holds an X25519 key only, so its log's records are sealed to the recovery key and signed
with an Ed25519 key derived from it (:func:`recovery_custody_keys`): the same records, which
only whoever holds the recovery key can read or add to.
"""

from __future__ import annotations

from crypto import _sodium
from crypto.errors import OpenFailure, unsupported_version
from crypto.keys import CaseworkerKeys, Ed25519SigningKey, X25519SecretKey

MAGIC = b"scus"
VERSION = 2
_SIGNATURE_BYTES = 64
MAX_ENTRY_BYTES = 64 * 1024
_RECOVERY_SIGNING_LABEL = b"sanad custody recovery signing v1"


def seal_custody_entry(entry: bytes, keys: CaseworkerKeys) -> bytes:
    """``entry`` signed with the caseworker's signing key and sealed to their encryption key."""
    if len(entry) > MAX_ENTRY_BYTES:
        raise ValueError("a custody entry is at most 64 KiB")
    signed = MAGIC + bytes([VERSION]) + len(entry).to_bytes(4, "big") + entry
    return _sodium.seal(keys.public.encryption.raw, signed + keys.signing.sign(signed))


def open_custody_entry(sealed: bytes, keys: CaseworkerKeys) -> bytes:
    """The entry of a record these keys sealed and signed; :class:`OpenFailure` for anything
    else (another key, a changed byte, a record signed by someone else), whatever the cause."""
    record = _sodium.seal_open(keys.public.encryption.raw, keys.encryption.raw, sealed)
    if len(record) < 9 + _SIGNATURE_BYTES or record[:4] != MAGIC:
        raise OpenFailure
    if record[4] != VERSION:
        raise unsupported_version("custody record", record[4], VERSION)
    signed, signature = record[:-_SIGNATURE_BYTES], record[-_SIGNATURE_BYTES:]
    length = int.from_bytes(record[5:9], "big")
    if len(signed) != 9 + length or not keys.public.signing.verify(signed, signature):
        raise OpenFailure
    return signed[9:]


def recovery_custody_keys(recovery: X25519SecretKey) -> CaseworkerKeys:
    """The keys a recovery key's custody log is sealed and signed with: the recovery key itself,
    and an Ed25519 key whose seed is BLAKE2b keyed with it over a fixed label (the recovery key
    file holds no signing key, and sealing alone would let anyone who knows the public key add
    records)."""
    seed = _sodium.blake2b(_RECOVERY_SIGNING_LABEL, key=recovery.raw, size=32)
    return CaseworkerKeys(recovery, Ed25519SigningKey(seed))
