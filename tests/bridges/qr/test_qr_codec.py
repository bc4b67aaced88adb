"""The checksum and the ID-length-value codec, on known answers and on malformed text as data.

Method: the CRC is checked against the standard check value and EMVCo's sample; the codec
reads nested payloads with their positions and writes them back unchanged; each malformed
payload in `MALFORMED_TEXT` must fail with its stable code, offset and tag path.
"""

from __future__ import annotations

import pytest

from bridges.qr import crc, emv, errors, tlv
from bridges.qr.decode import decode
from bridges.qr.errors import QrError

EMV_SAMPLE_BODY = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802"
    "CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412"
    "340603***0708A60086670902ME91320016A0112233449988770708123456786304"
)


def test_crc_matches_the_standard_check_value() -> None:
    """CRC-16/CCITT-FALSE of the ASCII digits 1-9 is 0x29B1 by the catalogue of CRCs."""
    assert crc.crc16_ccitt_false(b"123456789") == 0x29B1


def test_crc_covers_utf8_bytes_of_the_emvco_sample() -> None:
    """EMVCo's sample, with Chinese in its language template, has the CRC A13A it prints."""
    assert crc.checksum(EMV_SAMPLE_BODY) == "A13A"


def test_reader_keeps_positions_and_nesting() -> None:
    """Templates become children; offsets count characters (not bytes) from the payload start."""
    objects = tlv.read(EMV_SAMPLE_BODY + "A13A", emv.is_template)
    by_id = {item.id: item for item in objects}
    assert [item.id for item in objects][:4] == ["00", "01", "29", "31"]
    language = by_id["64"]
    assert language.children is not None
    assert [(child.id, child.value) for child in language.children] == [
        ("00", "ZH"), ("01", "最佳运输"), ("02", "北京")]
    # 64 starts after name and city; its first child's ID sits four characters further on.
    assert language.children[0].offset == language.offset + 4
    assert EMV_SAMPLE_BODY[by_id["59"].offset:by_id["59"].offset + 4] == "5914"
    assert by_id["54"].children is None


def test_serializing_a_read_tree_gives_the_text_back() -> None:
    """read then serialize is the identity on a well-formed payload, templates included."""
    text = EMV_SAMPLE_BODY + "A13A"
    assert tlv.serialize(tlv.read(text, emv.is_template)) == text


def test_expand_reads_a_scheme_template_with_payload_offsets() -> None:
    """VietQR's 38.01 is a template only to VietQR; expanding it keeps payload offsets."""
    text = "3833" + "0010A000000727" + "0115" + "0006970403" + "0101X"
    objects = tlv.expand(tlv.read(text, emv.is_template), ("38", "01"))
    beneficiary = objects[0].child("01")
    assert beneficiary is not None and beneficiary.children is not None
    assert [(child.id, child.value, child.offset) for child in beneficiary.children] == [
        ("00", "970403", 22), ("01", "X", 32)]


MALFORMED_TEXT = [
    # (why, payload, code, offset, tag)
    ("empty", "", errors.EMPTY_PAYLOAD, 0, None),
    ("letters for an ID", "0002010X02", errors.BAD_ID, 6, None),
    ("letters for a length", "00020101AB11", errors.BAD_LENGTH, 8, "01"),
    ("length zero", "00020101001100", errors.BAD_LENGTH, 8, "01"),
    ("value runs past the end", "0002010105121", errors.TRUNCATED, 10, "01"),
    ("one digit of ID at the end", "0002010",  errors.BAD_ID, 6, None),
    ("ID twice", "000201000201", errors.DUPLICATE_ID, 6, "00"),
    ("truncated inside template 62", "00020162060105AB", errors.TRUNCATED, 14, "62.01"),
    ("bad ID inside template 29", "0002012904xx01", errors.BAD_ID, 10, "29"),
    ("Unicode digits are not digits", "00020101²212", errors.BAD_LENGTH, 8, "01"),
    ("no CRC", "000201", errors.CRC_PLACEMENT, 6, "63"),
    ("CRC not last", "00020163041D8C010211", errors.CRC_PLACEMENT, 6, "63"),
    ("CRC not hex", "0002016304XYZW", errors.CRC_PLACEMENT, 10, "63"),
    ("CRC too short", "000201630312Z", errors.CRC_PLACEMENT, 10, "63"),
    ("lone surrogate", "0002015903a\ud800b", errors.UNENCODABLE, 11, None),
]


@pytest.mark.parametrize(("why", "payload", "code", "offset", "tag"), MALFORMED_TEXT,
                         ids=[case[0] for case in MALFORMED_TEXT])
def test_malformed_text_names_code_offset_and_tag(why: str, payload: str, code: errors.Code,
                                                   offset: int, tag: str | None) -> None:
    """Each malformed payload fails with its stable code, offset and tag path."""
    with pytest.raises(QrError) as caught:
        decode(payload)
    assert caught.value.code == code, why
    assert (caught.value.offset, caught.value.tag) == (offset, tag)
    assert f"offset {offset}" in caught.value.message


def _with_crc(body: str) -> str:
    return body + "6304" + crc.checksum(body + "6304")


STRUCTURE_ERRORS = [
    ("no format indicator first", "0102110002015303116", errors.FORMAT_INDICATOR, "01"),
    ("no merchant account", "00020101021153031165802KH", errors.MISSING_FIELD, "02-51"),
    ("no currency", "000201010211290600021X5802KH", errors.MISSING_FIELD, "53"),
    ("unknown currency", "000201290600021X5303999", errors.UNKNOWN_CURRENCY, "53"),
    ("initiation not 11 or 12", "000201010213290600021X5303116", errors.BAD_FIELD, "01"),
    ("MCC not digits", "000201290600021X5204ABCD5303116", errors.BAD_FIELD, "52"),
    ("amount not a decimal", "000201290600021X53031165404-1.0", errors.BAD_AMOUNT, "54"),
    ("amount finer than the yen", "000201290600021X530339254031.5", errors.BAD_AMOUNT, "54"),
    ("tip indicator unknown", "000201290600021X5303116550207", errors.BAD_FIELD, "55"),
]


@pytest.mark.parametrize(("why", "body", "code", "tag"), STRUCTURE_ERRORS,
                         ids=[case[0] for case in STRUCTURE_ERRORS])
def test_structure_errors_name_code_and_tag(why: str, body: str, code: errors.Code,
                                            tag: str) -> None:
    """Well-formed data objects that are not a merchant payload fail with code and tag."""
    with pytest.raises(QrError) as caught:
        decode(_with_crc(body))
    assert (caught.value.code, caught.value.tag) == (code, tag), why


def test_wrong_crc_names_expected_and_found() -> None:
    """A CRC mismatch is Q0203 with both values; verify_crc=False reports it instead."""
    good = _with_crc("000201290600021X5303116")
    bad = good[:-4] + "0000"
    with pytest.raises(QrError) as caught:
        decode(bad)
    assert caught.value.code == errors.CRC_MISMATCH
    assert (caught.value.expected, caught.value.found) == (good[-4:], "0000")
    assert f"expected {good[-4:]}, found 0000" in str(caught.value)
    lenient = decode(bad, verify_crc=False)
    assert (lenient.crc_valid, lenient.crc_expected) == (False, good[-4:])


def test_lower_case_crc_is_accepted() -> None:
    """Some apps write the CRC in lower case (promptparse's trueMoney slip verify does)."""
    good = _with_crc("000201290600021X5303116")
    assert decode(good[:-4] + good[-4:].lower()).crc_valid


def test_payload_over_the_limit_is_refused_before_reading() -> None:
    """The size limit comes first, with the offset where the payload goes past it."""
    with pytest.raises(QrError) as caught:
        decode("0" * 513)
    assert (caught.value.code, caught.value.offset) == (errors.PAYLOAD_TOO_LONG, 512)


def test_catalogue_codes_are_unique_and_grouped() -> None:
    """Every code appears once, in its family, with a snake-case name."""
    codes = list(errors.CATALOGUE.values())
    assert len({entry.name for entry in codes}) == len(codes)
    assert all(entry.code[:3] in {"Q00", "Q01", "Q02", "Q03", "Q04"} for entry in codes)
    assert all(entry.name == entry.name.lower() and " " not in entry.name for entry in codes)
