"""Any text, and any damage to real payloads, gives a decoded payload or a `QrError`: nothing else.

Method: hypothesis feeds the decoder arbitrary Unicode text, digit soup shaped like data objects,
and published payloads mutated by deleting, inserting, replacing and swapping slices (with the
CRC check on and off, so that damage past the checksum reaches the field readers and the scheme
profiles). Every exception must be the layer's own, with a code from the catalogue, and a
reading error must name its offset. Shrinking is off: a failure shows the input as found.
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from qr_samples import SAMPLES

from bridges.qr import crc, decode, errors
from bridges.qr.errors import QrError

FUZZ_SETTINGS = settings(max_examples=300, deadline=None,
                         phases=[Phase.explicit, Phase.reuse, Phase.generate],
                         suppress_health_check=[HealthCheck.too_slow])


def decode_or_refuse(text: str, *, verify_crc: bool = True) -> None:
    """Decode `text`; a refusal must be a catalogued QrError, and a reading error positioned."""
    try:
        decoded = decode(text, verify_crc=verify_crc)
    except QrError as problem:
        assert errors.CATALOGUE[problem.code.code] is problem.code
        if problem.code.code.startswith("Q01"):
            assert problem.offset is not None
            assert 0 <= problem.offset <= len(text)
        return
    # Whatever decodes must serialise to JSON-able values and keep its scheme.
    shape = decoded.to_json()
    assert shape["scheme"] == decoded.scheme


_DIGIT_SOUP = st.text(alphabet="0123456789ABC.@ ", max_size=200)


@FUZZ_SETTINGS
@given(st.text(max_size=300))
def test_arbitrary_text_never_escapes(text: str) -> None:
    """Any Unicode text at all."""
    decode_or_refuse(text)


@FUZZ_SETTINGS
@given(st.text(st.characters(blacklist_categories=()), max_size=60).map(
    lambda tail: "000201" + tail))
def test_text_with_lone_surrogates_never_escapes(text: str) -> None:
    """Python strings may hold lone surrogates, which UTF-8 (and so the CRC) cannot encode."""
    decode_or_refuse(text)


@FUZZ_SETTINGS
@given(_DIGIT_SOUP)
def test_digit_soup_with_a_valid_crc_never_escapes(body: str) -> None:
    """Text shaped like data objects, given a correct CRC so that it reaches the field readers."""
    decode_or_refuse(body + "6304" + crc.checksum(body + "6304"))


@st.composite
def mutated_samples(draw: st.DrawFn) -> str:
    """A published payload with a few slices deleted, inserted, replaced or swapped."""
    text = draw(st.sampled_from(SAMPLES)).payload
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 6)))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "swap"]))
        piece = draw(st.text(alphabet="0123456789AZ.@é ", max_size=6))
        if kind == "delete":
            text = text[:start] + text[end:]
        elif kind == "insert":
            text = text[:start] + piece + text[start:]
        elif kind == "replace":
            text = text[:start] + piece + text[end:]
        else:
            text = text[:start] + text[end:end + (end - start)] + text[start:end] + text[
                end + (end - start):]
    return text


@FUZZ_SETTINGS
@given(mutated_samples(), st.booleans())
def test_mutated_published_payloads_never_escape(text: str, verify_crc: bool) -> None:
    """Damaged real payloads, with and without the CRC check."""
    decode_or_refuse(text, verify_crc=verify_crc)


@FUZZ_SETTINGS
@given(mutated_samples())
def test_mutated_payloads_with_repaired_crc_never_escape(text: str) -> None:
    """Damaged real payloads whose CRC is recomputed, so every field reader is exercised."""
    body = text[:-4] if text[-8:-4] == "6304" else text
    if not body.endswith("6304"):
        body += "6304"
    decode_or_refuse(body + crc.checksum(body))
