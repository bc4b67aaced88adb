"""EMVCo merchant-presented QR codes: KHQR, PromptPay, DuitNow, VietQR, SGQR/PayNow and generic.

`decode` reads a payload (text) into a `DecodedQr`; `encode` writes a `QrRequest` as payload
text; `images` draws payloads as PNG or SVG and reads them back from pictures. Everything this
package raises is a `QrError` with a stable code (see `errors`).
"""

from __future__ import annotations

from bridges.qr.decode import decode
from bridges.qr.encode import encode
from bridges.qr.errors import QrError
from bridges.qr.payload import DecodedQr, Initiation, MerchantPayload
from bridges.qr.request import QrRequest
from bridges.qr.schemes import SCHEME_NAMES

__all__ = ["SCHEME_NAMES", "DecodedQr", "Initiation", "MerchantPayload", "QrError", "QrRequest",
           "decode", "encode"]
