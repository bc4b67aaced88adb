"""Limits of the QR bridge, each a named constant with its unit.

The EMVCo format bounds every value at 99 characters by its two-digit length; these bound the
rest, so that reading any text is linear in its length and never recurses without end.
"""

from __future__ import annotations

# Characters (Unicode code points) of a whole payload. A QR code at error correction level M
# holds at most 2,331 bytes; merchant payloads in the wild stay under 300 characters, so 512
# leaves room for every scheme while keeping the printed code small enough to scan.
PAYLOAD_CHARACTERS_MAX = 512
# Characters of one value, fixed by the two-digit length of the EMVCo format.
VALUE_CHARACTERS_MAX = 99
# Template levels below the root: EMVCo and the schemes here use at most two (VietQR's 38.01).
TEMPLATE_DEPTH_MAX = 2
# Digits of an amount: EMVCo ID 54 is at most 13 characters, the decimal point included.
AMOUNT_CHARACTERS_MAX = 13
# Bytes of an image file that `images.read_payload` opens; a phone photo is a few megabytes.
IMAGE_BYTES_MAX = 32 * 1024 * 1024
