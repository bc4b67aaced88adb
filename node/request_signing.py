"""Signed requests: every call carries its caller's Ed25519 signature, a timestamp and a nonce.

The signature covers the method, the path with its query, the timestamp, the nonce and the
SHA-256 of the body, under a domain tag, so it cannot be moved to another request or reused for
a transaction. The server refuses a request older or newer than `REQUEST_AGE_MAX_S` and a nonce
it has seen within that window (kept in memory for twice the window: a replay after a restart is
also older than the window, except within the first window after it, which the nonce table of
the idempotency layer covers for POSTs).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Final

from engine.ids import ParticipantId
from engine.keys import KeyPair, verify
from node.errors import NodeError, unauthenticated

DOMAIN: Final = b"earmark/request/v1\n"
KEY_HEADER: Final = "Earmark-Key"
TIMESTAMP_HEADER: Final = "Earmark-Timestamp"
TIMESTAMP_DIGITS_MAX: Final = 12  # seconds since the epoch, until the year 33658
NONCE_HEADER: Final = "Earmark-Nonce"
SIGNATURE_HEADER: Final = "Earmark-Signature"
REQUEST_AGE_MAX_S: Final = 60
NONCE_CHARS_MAX: Final = 64
NONCES_MAX: Final = 2_000_000  # remembered at once; beyond it the node refuses (busy)


def request_message(method: str, path_qs: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The bytes a caller signs for one request."""
    digest = hashlib.sha256(body).hexdigest()
    return DOMAIN + "\n".join((method.upper(), path_qs, timestamp, nonce, digest)).encode()


def sign_request(key: KeyPair, method: str, path_qs: str, body: bytes,
                 now_s: float | None = None) -> dict[str, str]:
    """The four headers that authenticate `key`'s request."""
    timestamp = str(int(time.time() if now_s is None else now_s))
    nonce = secrets.token_hex(16)
    signature = key.sign(request_message(method, path_qs, timestamp, nonce, body))
    return {KEY_HEADER: key.participant, TIMESTAMP_HEADER: timestamp, NONCE_HEADER: nonce,
            SIGNATURE_HEADER: signature.hex()}


class NonceCache:
    """Nonces seen within the window, oldest first, so expired ones leave in order."""

    def __init__(self, window_s: int = 2 * REQUEST_AGE_MAX_S, most: int = NONCES_MAX) -> None:
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._window_s = window_s
        self._most = most

    def admit(self, caller: str, nonce: str, now_s: float) -> None:
        """Remember a nonce, or raise if it was used before."""
        while self._seen and next(iter(self._seen.values())) < now_s - self._window_s:
            self._seen.popitem(last=False)
        if (caller, nonce) in self._seen:
            raise unauthenticated("auth_replayed", "this request's nonce was used before")
        if len(self._seen) >= self._most:
            raise NodeError(503, "busy", "Too many requests", "try again shortly")
        self._seen[(caller, nonce)] = now_s


def authenticate(headers: Mapping[str, str], method: str, path_qs: str, body: bytes,
                 nonces: NonceCache, *, now_s: float | None = None) -> ParticipantId:
    """The caller's key, if the request is signed, fresh and new; raises NodeError otherwise."""
    now = time.time() if now_s is None else now_s
    key, timestamp = headers.get(KEY_HEADER), headers.get(TIMESTAMP_HEADER)
    nonce, signature = headers.get(NONCE_HEADER), headers.get(SIGNATURE_HEADER)
    if not (key and timestamp and nonce and signature):
        raise unauthenticated("auth_missing", f"sign the request: {KEY_HEADER}, "
                              f"{TIMESTAMP_HEADER}, {NONCE_HEADER} and {SIGNATURE_HEADER}")
    # ASCII digits only, and few: str.isdigit takes "²" and int() refuses over 4,300 digits.
    if not (timestamp.isascii() and timestamp.isdigit()
            and len(timestamp) <= TIMESTAMP_DIGITS_MAX) or (
            abs(now - int(timestamp)) > REQUEST_AGE_MAX_S):
        raise unauthenticated("auth_stale", f"the timestamp must be within "
                              f"{REQUEST_AGE_MAX_S} s of the server's clock")
    if len(nonce) > NONCE_CHARS_MAX:
        raise unauthenticated("auth_bad_signature", "the nonce is too long")
    try:
        signature_bytes = bytes.fromhex(signature)
    except ValueError:
        signature_bytes = b""
    # One caller has one spelling, so a replay cannot pass as new by changing the key's case.
    caller = ParticipantId(key.lower())
    message = request_message(method, path_qs, timestamp, nonce, body)
    if not verify(caller, message, signature_bytes):
        raise unauthenticated("auth_bad_signature", "the signature does not match the request")
    nonces.admit(caller, nonce, now)
    return caller
