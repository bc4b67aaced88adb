"""Encode then decode gives back what was encoded, for every scheme profile (hypothesis).

Method: a strategy per scheme draws requests inside the scheme's rules (account forms, lengths,
currencies, amounts with the scheme's decimals, optional additional data); each request is
encoded, the payload decoded, and the scheme, merchant fields, currency, exact amount, account
fields and additional data compared. The decoded tag tree must also write back to the payload.
"""

from __future__ import annotations

import string
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridges.qr import QrRequest, decode, encode, tlv
from bridges.qr.money import by_alpha
from bridges.qr.payload import Initiation

PROPERTY_SETTINGS = settings(max_examples=100, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])

# EMV's Common Character Set: printable ASCII, space to tilde.
_PRINTABLE = "".join(chr(code) for code in range(0x20, 0x7F))


def text(maximum: int, alphabet: str = _PRINTABLE, minimum: int = 1) -> st.SearchStrategy[str]:
    """Text of the given alphabet and length bounds."""
    return st.text(alphabet=alphabet, min_size=minimum, max_size=maximum)


def digits(count: int) -> st.SearchStrategy[str]:
    """Exactly `count` ASCII digits."""
    return text(count, string.digits, count)


def amounts(decimals: int, whole_digits: int = 9) -> st.SearchStrategy[str]:
    """Positive amounts with at most `decimals` decimals, written as text."""
    return st.integers(min_value=1, max_value=10 ** whole_digits - 1).map(
        lambda minor: str(Decimal(minor).scaleb(-decimals)))


def additional(keys: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    """A few additional data fields among `keys`, up to 25 printable characters each."""
    return st.dictionaries(st.sampled_from(keys), text(25), max_size=3)


# Alternate names in any script EMVCo's S format allows; control characters are refused.
_SCRIPTS = st.characters(blacklist_categories=("Cc", "Cs"))


def language() -> st.SearchStrategy[dict[str, str]]:
    """Nothing, or a language template with a name and maybe a city in any script."""
    template = st.fixed_dictionaries(
        {"language_preference": text(2, string.ascii_uppercase, 2),
         "merchant_name_alternate_language": st.text(_SCRIPTS, min_size=1, max_size=25)},
        optional={"merchant_city_alternate_language": st.text(_SCRIPTS, min_size=1,
                                                              max_size=15)})
    return st.just({}) | template


_ADDITIONAL_KEYS = ("bill_number", "mobile_number", "store_label", "terminal_label",
                    "purpose_of_transaction")


@st.composite
def khqr_requests(draw: st.DrawFn) -> QrRequest:
    """KHQR requests: individual or merchant, static or dynamic with timestamps."""
    name = draw(text(12, string.ascii_lowercase + "_."))
    bank = draw(text(8, string.ascii_lowercase))
    account = {"bakong_account_id": f"{name}@{bank}"}
    if draw(st.booleans()):
        account.update(merchant_id=draw(text(32)), acquiring_bank=draw(text(32)))
    currency = draw(st.sampled_from(["KHR", "USD"]))
    amount = draw(st.none() | amounts(0 if currency == "KHR" else 2))
    if amount is not None:
        created = draw(st.integers(min_value=10 ** 12, max_value=9 * 10 ** 12))
        account.update(created_at_ms=str(created),
                       expires_at_ms=str(created + draw(st.integers(1, 10 ** 9))))
    return QrRequest("khqr", account, merchant_name=draw(text(25)),
                     merchant_city=draw(st.none() | text(15)), currency=currency, amount=amount,
                     additional=draw(additional(_ADDITIONAL_KEYS)), language=draw(language()))


_PROMPTPAY_PROXIES = {
    "promptpay_mobile": digits(9).map(lambda number: "0066" + number),
    "promptpay_national_id": digits(13),
    "promptpay_ewallet_id": digits(15),
    "promptpay_bank_account": text(43, string.digits),
}


@st.composite
def promptpay_requests(draw: st.DrawFn) -> QrRequest:
    """PromptPay credit transfers with one proxy, or bill payments with references."""
    if draw(st.booleans()):
        key = draw(st.sampled_from(sorted(_PROMPTPAY_PROXIES)))
        account = {key: draw(_PROMPTPAY_PROXIES[key])}
    else:
        account = {"promptpay_biller_id": draw(digits(15)),
                   "promptpay_reference_1": draw(text(20))}
        if draw(st.booleans()):
            account["promptpay_reference_2"] = draw(text(20))
    return QrRequest("promptpay", account, amount=draw(st.none() | amounts(2)),
                     additional=draw(additional(("terminal_label", "reference_label"))))


@st.composite
def duitnow_requests(draw: st.DrawFn) -> QrRequest:
    """DuitNow requests with PayNet's mandatory merchant fields."""
    return QrRequest("duitnow", {"duitnow_acquirer_id": draw(digits(6)),
                                 "duitnow_qr_id": draw(text(40))},
                     merchant_name=draw(text(25)), merchant_city=draw(text(15)),
                     merchant_category_code=draw(digits(4)),
                     amount=draw(st.none() | amounts(2)),
                     initiation=draw(st.none() | st.sampled_from(list(Initiation))))


@st.composite
def vietqr_requests(draw: st.DrawFn) -> QrRequest:
    """VietQR transfers to an account or a card, amounts in whole dong."""
    key = draw(st.sampled_from(["account_number", "card_number"]))
    return QrRequest("vietqr", {"napas_bin": draw(digits(6)),
                                key: draw(text(19, string.ascii_letters + string.digits))},
                     amount=draw(st.none() | amounts(0, 12)),
                     merchant_name=draw(st.none() | text(25)),
                     additional=draw(additional(("bill_number", "purpose_of_transaction"))))


_UEN = text(10, string.ascii_uppercase + string.digits, 9)
_SG_MOBILE = st.tuples(st.sampled_from("89"), digits(7)).map(lambda pair: "+65" + "".join(pair))


@st.composite
def sgqr_requests(draw: st.DrawFn) -> QrRequest:
    """PayNow by mobile or UEN, with or without an expiry date and an editable amount."""
    account = {"paynow_proxy_value": draw(_SG_MOBILE | _UEN),
               "paynow_amount_editable": draw(st.sampled_from(["true", "false"]))}
    expiry = draw(st.none() | st.dates().map(lambda day: day.strftime("%Y%m%d")))
    if expiry is not None and len(expiry) == 8:
        account["paynow_expiry"] = expiry
    return QrRequest("sgqr", account, merchant_name=draw(st.none() | text(25)),
                     amount=draw(st.none() | amounts(2)),
                     additional=draw(additional(("bill_number",))))


_EMV_CURRENCIES = ["EUR", "JPY", "BHD", "IDR", "PHP", "INR", "GBP", "CNY", "HKD"]


@st.composite
def emv_requests(draw: st.DrawFn) -> QrRequest:
    """Generic EMVCo payloads: a template with an identifier, any currency with its decimals."""
    currency = draw(st.sampled_from(_EMV_CURRENCIES))
    known = by_alpha(currency)
    assert known is not None
    exponent = known.exponent
    account = {"26.00": "COM." + draw(text(20, string.ascii_uppercase)),
               "26.01": draw(text(40))}
    return QrRequest("emv", account, merchant_name=draw(text(25)),
                     merchant_city=draw(text(15)), merchant_category_code=draw(digits(4)),
                     currency=currency, country=draw(text(2, string.ascii_uppercase, 2)),
                     amount=draw(st.none() | amounts(exponent, 13 - exponent - 2)),
                     postal_code=draw(st.none() | text(10)),
                     additional=draw(additional(_ADDITIONAL_KEYS)), language=draw(language()))


def assert_round_trip(request: QrRequest) -> None:
    """Encode, decode, and compare everything the request stated."""
    payload = encode(request)
    decoded = decode(payload)
    merchant = decoded.merchant
    assert decoded.scheme == request.scheme
    assert decoded.crc_valid
    assert tlv.serialize(merchant.objects) == payload
    for key, value in request.account.items():
        assert decoded.account[key] == value, key
    assert dict(merchant.additional) == dict(request.additional)
    assert dict(merchant.language) == dict(request.language)
    for name in ("merchant_name", "merchant_city", "merchant_category_code", "postal_code"):
        stated = getattr(request, name)
        assert stated is None or getattr(merchant, name) == stated, name
    if request.currency is not None:
        assert merchant.currency.alpha == request.currency
    expected = None if request.amount is None else Decimal(request.amount)
    assert merchant.amount == expected
    if request.initiation is not None:
        assert merchant.initiation is request.initiation


@PROPERTY_SETTINGS
@given(khqr_requests())
def test_khqr_round_trip(request: QrRequest) -> None:
    """KHQR: account, timestamps, riel or dollars survive encode → decode."""
    assert_round_trip(request)


@PROPERTY_SETTINGS
@given(promptpay_requests())
def test_promptpay_round_trip(request: QrRequest) -> None:
    """PromptPay: each proxy kind and bill payment survive encode → decode."""
    assert_round_trip(request)


@PROPERTY_SETTINGS
@given(duitnow_requests())
def test_duitnow_round_trip(request: QrRequest) -> None:
    """DuitNow: acquirer and QR ID survive; the format indicator is PayNet's 02."""
    assert_round_trip(request)
    assert encode(request).startswith("000202")


@PROPERTY_SETTINGS
@given(vietqr_requests())
def test_vietqr_round_trip(request: QrRequest) -> None:
    """VietQR: BIN and number survive through the nested 38.01 template."""
    assert_round_trip(request)


@PROPERTY_SETTINGS
@given(sgqr_requests())
def test_sgqr_round_trip(request: QrRequest) -> None:
    """SGQR/PayNow: proxy, editable flag and expiry survive encode → decode."""
    assert_round_trip(request)


@PROPERTY_SETTINGS
@given(emv_requests())
def test_emv_round_trip(request: QrRequest) -> None:
    """Generic EMV: path-keyed accounts and any currency's exact amount survive."""
    assert_round_trip(request)
