"""The checksum of an EMVCo payload: CRC-16/CCITT-FALSE over its UTF-8 bytes.

EMVCo (MPM §4.7.3, after ISO/IEC 13239) computes polynomial 0x1021, initial value 0xFFFF, no
reflection and no final XOR over the whole payload up to and including the `6304` that
introduces the checksum. The value is written as four upper-case hexadecimal digits.
"""

from __future__ import annotations

CRC_POLYNOMIAL = 0x1021
CRC_INITIAL = 0xFFFF
# The ID and length of the checksum data object, which the checksum itself covers.
CRC_PREFIX = "6304"


def _table() -> tuple[int, ...]:
    # One entry per byte value, so the checksum costs one lookup per byte, not eight shifts.
    entries = []
    for byte in range(256):
        register = byte << 8
        for _ in range(8):
            register = (register << 1) ^ CRC_POLYNOMIAL if register & 0x8000 else register << 1
            register &= 0xFFFF
        entries.append(register)
    return tuple(entries)


_TABLE = _table()


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of `data` (the check value of b"123456789" is 0x29B1)."""
    register = CRC_INITIAL
    for byte in data:
        register = ((register << 8) & 0xFFFF) ^ _TABLE[(register >> 8) ^ byte]
    return register


def checksum(text: str) -> str:
    """The four hex digits that EMVCo writes for `text` (which must end with `6304`)."""
    return f"{crc16_ccitt_false(text.encode('utf-8')):04X}"
