"""Encoding refuses what each scheme refuses, naming the field, the rule and the value.

Method: a table of requests that break one rule each (the issue's examples first: a KHQR
merchant name over 25 characters, a PromptPay amount in US dollars), fed to `encode`; each must
fail with Q0301 and exactly that field, rule and value. A valid base request per scheme shows
that the refusal comes from the one broken rule.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridges.qr import QrRequest, encode
from bridges.qr.errors import QrError
from bridges.qr.payload import Initiation

BASE = {
    "khqr": QrRequest("khqr", {"bakong_account_id": "shop@aclb"}, merchant_name="Shop"),
    "promptpay": QrRequest("promptpay", {"promptpay_mobile": "0812345678"}),
    "duitnow": QrRequest("duitnow", {"duitnow_acquirer_id": "501664",
                                     "duitnow_qr_id": "123456789"},
                         merchant_name="KEDAI", merchant_city="BANGI",
                         merchant_category_code="5999"),
    "vietqr": QrRequest("vietqr", {"napas_bin": "970403", "account_number": "0011012345678"}),
    "sgqr": QrRequest("sgqr", {"paynow_proxy_value": "+6591234567"}),
    "emv": QrRequest("emv", {"26.00": "COM.EXAMPLE.PAY", "26.01": "MERCHANT-1"},
                     merchant_name="Shop", merchant_city="Lyon", merchant_category_code="5812",
                     currency="EUR", country="FR"),
}


def _khqr_dynamic(**account: str) -> QrRequest:
    fields = {"bakong_account_id": "shop@aclb", **account}
    return replace(BASE["khqr"], account=fields, amount="5000")


REFUSALS: list[tuple[str, QrRequest, str, str, str]] = [
    ("khqr name over 25", replace(BASE["khqr"], merchant_name="A" * 26),
     "merchant_name", "max_length", "A" * 26),
    ("promptpay amount in USD", replace(BASE["promptpay"], currency="USD", amount="10"),
     "currency", "currency_allowed", "USD"),
    ("khqr riel with decimals", replace(_khqr_dynamic(), amount="10.5"),
     "amount", "decimals", "10.5"),
    ("khqr static with an amount",
     replace(BASE["khqr"], amount="100", initiation=Initiation.STATIC),
     "amount", "static_without_amount", "100"),
    ("khqr dynamic without expiry", _khqr_dynamic(created_at_ms="1767225600000"),
     "account.expires_at_ms", "required", ""),
    ("khqr expiry before creation", _khqr_dynamic(created_at_ms="1767225600000",
                                                  expires_at_ms="1767225500000"),
     "account.expires_at_ms", "after_creation", "1767225500000"),
    ("khqr account id without bank", replace(BASE["khqr"], account={"bakong_account_id": "shop"}),
     "account.bakong_account_id", "format", "shop"),
    ("khqr merchant without bank",
     replace(BASE["khqr"], account={"bakong_account_id": "shop@aclb", "merchant_id": "M1"}),
     "account.acquiring_bank", "required", ""),
    ("khqr city over 15", replace(BASE["khqr"], merchant_city="Kampong Chhnang Province"),
     "merchant_city", "max_length", "Kampong Chhnang Province"),
    ("khqr Khmer name in ID 59", replace(BASE["khqr"], merchant_name="ហាង"),
     "merchant_name", "character_set", "ហាង"),
    ("khqr in euros", replace(BASE["khqr"], currency="EUR"),
     "currency", "currency_allowed", "EUR"),
    ("promptpay mobile too short",
     replace(BASE["promptpay"], account={"promptpay_mobile": "08123"}),
     "account.promptpay_mobile", "format", "08123"),
    ("promptpay two proxies",
     replace(BASE["promptpay"], account={"promptpay_mobile": "0812345678",
                                         "promptpay_national_id": "1111111111111"}),
     "account", "one_proxy", "promptpay_mobile, promptpay_national_id"),
    ("promptpay biller of 13 digits",
     replace(BASE["promptpay"], account={"promptpay_biller_id": "0112233445566",
                                         "promptpay_reference_1": "A1"}),
     "account.promptpay_biller_id", "format", "0112233445566"),
    ("promptpay reference over 20",
     replace(BASE["promptpay"], account={"promptpay_biller_id": "011223344556601",
                                         "promptpay_reference_1": "R" * 21}),
     "account.promptpay_reference_1", "max_length", "R" * 21),
    ("promptpay country", replace(BASE["promptpay"], country="KH"),
     "country", "country_allowed", "KH"),
    ("duitnow acquirer not six digits",
     replace(BASE["duitnow"], account={"duitnow_acquirer_id": "5016",
                                       "duitnow_qr_id": "123456789"}),
     "account.duitnow_acquirer_id", "format", "5016"),
    ("duitnow without MCC", replace(BASE["duitnow"], merchant_category_code=None),
     "merchant_category_code", "required", ""),
    ("duitnow in baht", replace(BASE["duitnow"], currency="THB"),
     "currency", "currency_allowed", "THB"),
    ("vietqr BIN of five digits",
     replace(BASE["vietqr"], account={"napas_bin": "97040", "account_number": "1"}),
     "account.napas_bin", "format", "97040"),
    ("vietqr account of 20 characters",
     replace(BASE["vietqr"], account={"napas_bin": "970403", "account_number": "1" * 20}),
     "account.account_number", "format", "1" * 20),
    ("vietqr dong with decimals", replace(BASE["vietqr"], amount="1000.5"),
     "amount", "decimals", "1000.5"),
    ("vietqr purpose with diacritics",
     replace(BASE["vietqr"], additional={"purpose_of_transaction": "ủng hộ"}),
     "additional.purpose_of_transaction", "character_set", "ủng hộ"),
    ("vietqr service code of the wrong kind",
     replace(BASE["vietqr"], account={"napas_bin": "970403", "account_number": "1",
                                      "service_code": "QRIBFTTC"}),
     "account.service_code", "matches_number", "QRIBFTTC"),
    ("sgqr mobile outside Singapore",
     replace(BASE["sgqr"], account={"paynow_proxy_value": "+6012345678"}),
     "account.paynow_proxy_value", "format", "+6012345678"),
    ("sgqr expiry on no date",
     replace(BASE["sgqr"], account={"paynow_proxy_value": "+6591234567",
                                    "paynow_expiry": "20300230"}),
     "account.paynow_expiry", "date", "20300230"),
    ("sgqr in US dollars", replace(BASE["sgqr"], currency="USD"),
     "currency", "currency_allowed", "USD"),
    ("emv template without identifier",
     replace(BASE["emv"], account={"26.01": "MERCHANT-1"}), "account.26.00", "required", ""),
    ("emv bad account key", replace(BASE["emv"], account={"52.00": "X"}),
     "account.52.00", "account_key", "52.00"),
    ("emv identifier of another scheme",
     replace(BASE["emv"], account={"26.00": "SG.PAYNOW", "26.01": "X"}),
     "account", "scheme_identifier", "SG.PAYNOW"),
    ("emv without city", replace(BASE["emv"], merchant_city=None),
     "merchant_city", "required", ""),
    ("emv unknown currency", replace(BASE["emv"], currency="ABC"),
     "currency", "iso4217", "ABC"),
    ("emv negative amount", replace(BASE["emv"], amount="-5"), "amount", "decimal", "-5"),
    ("emv zero amount", replace(BASE["emv"], amount="0.00"), "amount", "positive", "0.00"),
    ("emv float-looking amount", replace(BASE["emv"], amount="1e3"), "amount", "decimal", "1e3"),
    ("emv amount over 13 characters", replace(BASE["emv"], amount="12345678901234"),
     "amount", "max_length", "12345678901234"),
    ("emv MCC of letters", replace(BASE["emv"], merchant_category_code="ABCD"),
     "merchant_category_code", "format", "ABCD"),
    ("emv lower-case country", replace(BASE["emv"], country="fr"), "country", "format", "fr"),
    ("emv unknown additional field", replace(BASE["emv"], additional={"tip": "1"}),
     "additional.tip", "known_field", "1"),
    ("emv bill number over 25", replace(BASE["emv"], additional={"bill_number": "B" * 26}),
     "additional.bill_number", "max_length", "B" * 26),
    ("emv language template without name",
     replace(BASE["emv"], language={"language_preference": "FR"}),
     "language.merchant_name_alternate_language", "required", ""),
    ("emv language preference of three letters",
     replace(BASE["emv"], language={"language_preference": "FRA",
                                    "merchant_name_alternate_language": "Le Bouchon"}),
     "language.language_preference", "max_length", "FRA"),
    ("emv control character in the alternate name",
     replace(BASE["emv"], language={"language_preference": "FR",
                                    "merchant_name_alternate_language": "Le\nBouchon"}),
     "language.merchant_name_alternate_language", "character_set", "Le\nBouchon"),
    ("khqr Khmer name over 25 in the language template",
     replace(BASE["khqr"], language={"language_preference": "km",
                                     "merchant_name_alternate_language": "ហាង" * 9}),
     "language.merchant_name_alternate_language", "max_length", "ហាង" * 9),
    ("emv account over 99 characters",
     replace(BASE["emv"], account={"26.00": "COM.EXAMPLE", "26.01": "X" * 90}),
     "tag 26", "template_length", "0011COM.EXAMPLE0190" + "X" * 90),
]


@pytest.mark.parametrize("scheme", sorted(BASE))
def test_base_request_of_each_scheme_encodes(scheme: str) -> None:
    """The valid base requests encode, so each refusal below comes from its one change."""
    assert encode(BASE[scheme]).startswith("000201" if scheme != "duitnow" else "000202")


@pytest.mark.parametrize(("why", "request_", "field", "rule", "value"), REFUSALS,
                         ids=[case[0] for case in REFUSALS])
def test_refusal_names_field_rule_and_value(why: str, request_: QrRequest, field: str,
                                            rule: str, value: str) -> None:
    """The request breaks one rule of its scheme; the error says which, on which value."""
    with pytest.raises(QrError) as caught:
        encode(request_)
    problem = caught.value
    assert problem.code.code == "Q0301", why
    assert (problem.field, problem.rule, problem.value) == (field, rule, value), why
    assert request_.scheme in problem.message and f"rule {rule}" in problem.message


def test_unknown_scheme_is_its_own_error() -> None:
    """A scheme name the bridge does not know is Q0302 listing the known ones."""
    with pytest.raises(QrError) as caught:
        encode(replace(BASE["emv"], scheme="pix"))
    assert caught.value.code.code == "Q0302"
    assert "khqr" in caught.value.message
