"""Payloads drawn as PNG and SVG, and read back the way a phone would scan them.

Method: for one published payload of every scheme, write a PNG with segno and read it back with
zxing-cpp (through Pillow), including as a lossy JPEG and at a small scale; the text must come
back exactly, UTF-8 included. The SVG must be a well-formed SVG document of the right size.
Pictures without a code, with two codes, or that are not pictures fail with their own codes.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest
from PIL import Image
from qr_samples import SAMPLES

from bridges.qr import decode, images, limits
from bridges.qr.errors import QrError

ONE_PER_SCHEME = {decode(sample.payload).scheme: sample for sample in reversed(SAMPLES)}


@pytest.mark.parametrize("scheme", sorted(ONE_PER_SCHEME))
def test_png_reads_back_to_the_same_payload(scheme: str, tmp_path: Path) -> None:
    """encode → PNG → zxing-cpp returns the payload unchanged, and it decodes the same."""
    payload = ONE_PER_SCHEME[scheme].payload
    path = tmp_path / "code.png"
    images.write_png(payload, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    read = images.read_payload(path)
    assert read == payload
    assert decode(read).to_json() == decode(payload).to_json()


KHMER_KHQR = ("00020101021129150011coffee@aclb5204599953031165802KH5913Coffee Klaing6010Phnom "
              "Penh64370002km0116ហាងកាហ្វេ ក្លាំង0207ភ្នំពេញ630452A6")


@pytest.mark.parametrize("script", ["Chinese", "Khmer"])
def test_utf8_language_template_survives_the_image(script: str, tmp_path: Path) -> None:
    """ID 64 in Chinese (EMVCo's sample) and Khmer (a KHQR) comes back character for character."""
    payload = KHMER_KHQR if script == "Khmer" else next(
        sample.payload for sample in SAMPLES if sample.name == "emv_specification")
    path = tmp_path / "code.png"
    images.write_png(payload, path)
    assert images.read_payload(path) == payload


def test_a_photo_like_jpeg_at_small_scale_still_reads(tmp_path: Path) -> None:
    """A lossy JPEG with 3-pixel modules, as a phone camera might save it, still scans."""
    payload = ONE_PER_SCHEME["khqr"].payload
    png = tmp_path / "code.png"
    images.write_png(payload, png, scale=3)
    jpeg = tmp_path / "code.jpg"
    with Image.open(png) as picture:
        picture.convert("RGB").save(jpeg, quality=60)
    assert images.read_payload(jpeg) == payload


def test_svg_is_a_well_formed_svg_of_the_symbol(tmp_path: Path) -> None:
    """The SVG parses as XML, is an <svg> element, and its size is the symbol's with borders."""
    payload = ONE_PER_SCHEME["vietqr"].payload
    path = tmp_path / "code.svg"
    images.write_svg(payload, path, scale=4)
    root = ElementTree.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    modules = images.qr_code(payload).symbol_size(scale=1, border=images.QUIET_ZONE_MODULES)[0]
    assert root.get("width") == str(modules * 4)
    assert root.find("{http://www.w3.org/2000/svg}path") is not None


def test_image_without_a_code_is_no_qr_code(tmp_path: Path) -> None:
    """A white picture: Q0402."""
    path = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(path)
    with pytest.raises(QrError) as caught:
        images.read_payload(path)
    assert caught.value.code.code == "Q0402"


def test_image_with_two_different_codes_is_refused(tmp_path: Path) -> None:
    """Two codes side by side: Q0404, rather than silently picking one."""
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    images.write_png(ONE_PER_SCHEME["khqr"].payload, first, scale=4)
    images.write_png(ONE_PER_SCHEME["duitnow"].payload, second, scale=4)
    with Image.open(first) as left, Image.open(second) as right:
        both = Image.new("L", (left.width + right.width, max(left.height, right.height)), 255)
        both.paste(left.convert("L"), (0, 0))
        both.paste(right.convert("L"), (left.width, 0))
    path = tmp_path / "both.png"
    both.save(path)
    assert len(images.read_payloads(path)) == 2
    with pytest.raises(QrError) as caught:
        images.read_payload(path)
    assert caught.value.code.code == "Q0404"


@pytest.mark.parametrize("content", [b"", b"not an image", b"\x89PNG\r\n\x1a\ntruncated"])
def test_file_that_is_not_a_picture_is_unreadable(content: bytes, tmp_path: Path) -> None:
    """Empty, text or truncated files: Q0401, never a Pillow exception."""
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(QrError) as caught:
        images.read_payload(path)
    assert caught.value.code.code == "Q0401"


def test_missing_file_and_oversized_file_are_unreadable(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A path that does not exist, and a file over IMAGE_BYTES_MAX, are Q0401."""
    with pytest.raises(QrError) as caught:
        images.read_payload(tmp_path / "absent.png")
    assert caught.value.code.code == "Q0401"
    path = tmp_path / "code.png"
    images.write_png(ONE_PER_SCHEME["sgqr"].payload, path)
    monkeypatch.setattr(limits, "IMAGE_BYTES_MAX", 10)
    with pytest.raises(QrError) as caught:
        images.read_payload(path)
    assert "limit" in caught.value.message


def test_payload_too_large_for_a_qr_code_is_refused() -> None:
    """Text beyond a version-40 symbol's capacity: Q0403."""
    with pytest.raises(QrError) as caught:
        images.qr_code("é" * 3000)
    assert caught.value.code.code == "Q0403"
