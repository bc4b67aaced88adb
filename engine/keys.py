"""Ed25519 keys (PyNaCl): a participant is its public key; it signs transaction ids.

Signatures cover domain-separated bytes (`engine.encoding`), so a signature made for one purpose
can never be replayed as another.
"""

from __future__ import annotations

from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from engine.ids import ParticipantId

SIGNATURE_BYTES = 64
PUBLIC_KEY_HEX_CHARS = 64


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A participant's signing key; the spend key never leaves its owner."""

    signing_key: SigningKey

    @classmethod
    def generate(cls) -> KeyPair:
        """A fresh random key."""
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        """A key from a 32-byte seed (deterministic tests and stored keys)."""
        return cls(SigningKey(seed))

    @property
    def participant(self) -> ParticipantId:
        """The public identity: the hex of the verify key."""
        return ParticipantId(self.signing_key.verify_key.encode().hex())

    def sign(self, message: bytes) -> bytes:
        """The 64-byte detached signature of `message`."""
        return self.signing_key.sign(message).signature


def verify(participant: ParticipantId, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is `participant`'s over `message`; false for malformed input."""
    if len(signature) != SIGNATURE_BYTES or len(participant) != PUBLIC_KEY_HEX_CHARS:
        return False
    try:
        VerifyKey(bytes.fromhex(participant)).verify(message, signature)
    except (BadSignatureError, ValueError):
        return False
    return True
