"""Published payloads of every scheme decode to the fields their sources state.

Method: each sample in `qr_samples.SAMPLES` (copied from a specification, an SDK's docs or a
well-known implementation's tests) is decoded; the JSON must hold the stated fields, the CRC
must be valid and the tag tree must write back to the same text. Samples whose source builds
data objects in ascending ID order are also encoded from their fields and must come out byte
for byte. Published payloads that break the format must fail where they break it.
"""

from __future__ import annotations

import pytest
from qr_samples import MALFORMED, SAMPLES, Sample

from bridges.qr import QrRequest, decode, encode, tlv
from bridges.qr.errors import QrError
from bridges.qr.payload import Initiation
from bridges.qr.schemes import SCHEME_NAMES


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.name for sample in SAMPLES])
def test_published_sample_decodes_to_its_stated_fields(sample: Sample) -> None:
    """Decoding yields the scheme, merchant, amount and account fields the source states."""
    decoded = decode(sample.payload)
    shape = decoded.to_json()
    for key, value in sample.expected.items():
        assert shape[key] == value, f"{key} of {sample.name} ({sample.source})"
    assert shape["crc_valid"] is True
    assert tlv.serialize(decoded.merchant.objects) == sample.payload


def test_every_scheme_has_published_samples() -> None:
    """The sample set covers each scheme with at least one payload from outside."""
    covered = {decode(sample.payload).scheme for sample in SAMPLES}
    assert covered == set(SCHEME_NAMES)


@pytest.mark.parametrize(("sample", "code", "offset", "tag"), MALFORMED,
                         ids=[case[0].name for case in MALFORMED])
def test_published_payload_that_breaks_the_format_fails_where_it_breaks(
        sample: Sample, code: str, offset: int, tag: str) -> None:
    """NAPAS 6.1.1 has a length of 12 for 13 characters; a Thai sample counts UTF-8 bytes."""
    with pytest.raises(QrError) as caught:
        decode(sample.payload)
    assert (caught.value.code.code, caught.value.offset, caught.value.tag or "") == (
        code, offset, tag)


REENCODED = [
    ("khqr_individual_dynamic", QrRequest(
        "khqr", {"bakong_account_id": "jonhsmith@nbcq", "created_at_ms": "1742250594187",
                 "expires_at_ms": "1742250654184"},
        merchant_name="Jonh Smith", merchant_city="PHNOM PENH", amount="500")),
    ("khqr_merchant_static", QrRequest(
        "khqr", {"bakong_account_id": "jonhsmith@nbcq", "merchant_id": "123456",
                 "acquiring_bank": "Dev Bank"},
        merchant_name="Jonh Smith", merchant_city="Siem Reap",
        additional={"mobile_number": "85512345678"})),
    ("duitnow_retail", QrRequest(
        "duitnow", {"duitnow_acquirer_id": "501664", "duitnow_qr_id": "123456789"},
        merchant_name="QRCSDNBHD", merchant_city="BANGI", merchant_category_code="9999",
        amount="10.00", initiation=Initiation.STATIC)),
    ("duitnow_p2p", QrRequest(
        "duitnow", {"duitnow_acquirer_id": "501664", "duitnow_qr_id": "123456789"},
        merchant_name="AUSERNAME", merchant_city="BANGI", merchant_category_code="0000",
        amount="10", initiation=Initiation.STATIC)),
    ("vietqr_static_card", QrRequest(
        "vietqr", {"napas_bin": "970403", "card_number": "9704031101234567"})),
    ("vietqr_dynamic_account", QrRequest(
        "vietqr", {"napas_bin": "970403", "account_number": "0011012345678"}, amount="180000",
        additional={"bill_number": "NPS6869", "purpose_of_transaction": "thanh toan don hang"})),
    ("vietqr_dynamic_card", QrRequest(
        "vietqr", {"napas_bin": "970403", "card_number": "9704031101234567",
                   "service_code": "QRIBFTTC"}, amount="180000",
        additional={"bill_number": "NPS6869", "purpose_of_transaction": "thanh toan don hang"})),
    ("vietqr_subiz", QrRequest(
        "vietqr", {"napas_bin": "970415", "account_number": "0011001932418"}, amount="120000",
        additional={"purpose_of_transaction": "ung ho lu lut"})),
    ("sgqr_paynow_uen_expiry", QrRequest(
        "sgqr", {"paynow_proxy_value": "201403121W", "paynow_expiry": "20301231"},
        merchant_name="ACME Pte Ltd.")),
]


@pytest.mark.parametrize(("name", "request_"), REENCODED, ids=[case[0] for case in REENCODED])
def test_encoder_reproduces_published_payload_byte_for_byte(name: str,
                                                            request_: QrRequest) -> None:
    """Given the fields of a published payload, the encoder writes exactly that payload."""
    published = next(sample for sample in SAMPLES if sample.name == name)
    assert encode(request_) == published.payload


def test_promptparse_static_mobile_payload_is_reproduced() -> None:
    """promptparse's 'anyId MSISDN without amount', from a local number with dashes."""
    assert encode(QrRequest("promptpay", {"promptpay_mobile": "081-222-3333"})) == (
        "00020101021129370016A0000006770101110113006681222333353037645802TH63041DCF")
