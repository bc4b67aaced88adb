"""Payloads as pictures: PNG and SVG written with segno, read back from images with zxing-cpp.

Reading goes through Pillow, which opens any common picture format (a PNG from this module, a
phone's JPEG), and hands the grey image to zxing-cpp, the scanner library behind many phone
apps; so a test that reads back a written PNG checks what a phone would scan.
"""

from __future__ import annotations

import io
from pathlib import Path

import segno
import zxingcpp
from PIL import Image, UnidentifiedImageError

from bridges.qr import errors, limits
from bridges.qr.errors import QrError

# EMVCo leaves the error correction level to the schemes; M (about 15 % of the code may be
# damaged) is what KHQR, PromptPay and SGQR generators use, and segno raises it for free when
# the version allows.
ERROR_CORRECTION = "m"
# Pixels per module and quiet-zone modules: 8 px modules read well on screen and paper, and the
# QR standard asks for a quiet zone of four modules.
MODULE_PIXELS = 8
QUIET_ZONE_MODULES = 4


def qr_code(payload: str) -> segno.QRCode:
    """The QR code symbol for `payload` (UTF-8, byte mode when not alphanumeric)."""
    try:
        return segno.make_qr(payload, error=ERROR_CORRECTION, boost_error=True)
    except (segno.DataOverflowError, ValueError) as problem:
        raise QrError(errors.PAYLOAD_NOT_IMAGEABLE,
                      f"the payload ({len(payload)} characters) does not fit in a QR code: "
                      f"{problem}") from None


def png_bytes(payload: str, *, scale: int = MODULE_PIXELS) -> bytes:
    """A PNG image of the QR code for `payload`."""
    buffer = io.BytesIO()
    qr_code(payload).save(buffer, kind="png", scale=scale, border=QUIET_ZONE_MODULES)
    return buffer.getvalue()


def svg_text(payload: str, *, scale: int = MODULE_PIXELS) -> str:
    """An SVG document of the QR code for `payload`."""
    buffer = io.BytesIO()
    qr_code(payload).save(buffer, kind="svg", scale=scale, border=QUIET_ZONE_MODULES,
                          xmldecl=True, svgns=True)
    return buffer.getvalue().decode("utf-8")


def write_png(payload: str, path: Path, *, scale: int = MODULE_PIXELS) -> None:
    """Write the QR code for `payload` to `path` as PNG."""
    _write(path, png_bytes(payload, scale=scale))


def write_svg(payload: str, path: Path, *, scale: int = MODULE_PIXELS) -> None:
    """Write the QR code for `payload` to `path` as SVG."""
    _write(path, svg_text(payload, scale=scale).encode("utf-8"))


def _write(path: Path, content: bytes) -> None:
    try:
        path.write_bytes(content)
    except OSError as problem:
        raise QrError(errors.IMAGE_UNREADABLE,
                      f"{path}: cannot write the image: {problem.strerror or problem}") from None


def read_payloads(path: Path) -> list[str]:
    """The texts of all QR codes zxing-cpp finds in the picture at `path`, in reading order."""
    image = _open(path)
    results = zxingcpp.read_barcodes(image,
                                     formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    return [result.text for result in results if result.valid]


def read_payload(path: Path) -> str:
    """The text of the one QR code in the picture at `path` (the same code twice is fine)."""
    texts = list(dict.fromkeys(read_payloads(path)))
    if not texts:
        raise QrError(errors.NO_QR_CODE, f"{path}: no readable QR code in the image")
    if len(texts) > 1:
        raise QrError(errors.SEVERAL_QR_CODES,
                      f"{path}: the image holds {len(texts)} different QR codes; crop it to one")
    return texts[0]


def _open(path: Path) -> Image.Image:
    try:
        size = path.stat().st_size
        if size > limits.IMAGE_BYTES_MAX:
            raise QrError(errors.IMAGE_UNREADABLE,
                          f"{path}: {size} bytes, more than the limit of "
                          f"{limits.IMAGE_BYTES_MAX}")
        with Image.open(path) as image:
            # Grey levels are all a QR scanner needs, and zxing-cpp takes them directly.
            return image.convert("L")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as problem:
        raise QrError(errors.IMAGE_UNREADABLE,
                      f"{path}: cannot read the image: {problem}") from None
