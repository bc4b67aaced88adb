"""Writing a payload: request → scheme defaults → shared and scheme rules → data objects → CRC.

`encode` is the entry point. The shared rules are EMVCo's (alphabets and lengths of the merchant
fields, ISO 4217 currency, amount form); each profile adds its own. Any refusal is a `QrError`
(Q0301) naming the field, the rule and the value. Data objects are written in ascending ID order
with the CRC last, and the result is read back before it is returned: an encoder that writes
something its own decoder rejects, or files under another scheme, is a bug (Q0001).
"""

from __future__ import annotations

from decimal import Decimal

from bridges.qr import crc, emv, limits, money, schemes, tlv
from bridges.qr.decode import decode
from bridges.qr.errors import QrError, internal
from bridges.qr.money import Currency
from bridges.qr.payload import CODE_BY_INITIATION
from bridges.qr.request import QrRequest
from bridges.qr.schemes.profile import Profile
from bridges.qr.tlv import DataObject, primitive, template

# Merchant fields: request attribute, EMVCo ID.
_MERCHANT_FIELDS = (("merchant_name", emv.MERCHANT_NAME), ("merchant_city", emv.MERCHANT_CITY),
                    ("postal_code", emv.POSTAL_CODE))


def encode(request: QrRequest) -> str:
    """The payload text for `request`, CRC included; raises `QrError` on anything refused."""
    profile = schemes.profile(request.scheme)
    request = profile.defaults(request)
    currency = _currency(profile, request)
    amount_text = _amount_text(profile, request, currency)
    _check_merchant(profile, request)
    profile.check(request, currency)
    objects = [primitive(emv.PAYLOAD_FORMAT_INDICATOR, profile.format_indicator),
               primitive(emv.POINT_OF_INITIATION,
                         CODE_BY_INITIATION[profile.initiation(request)]),
               *profile.account_objects(request),
               primitive(emv.TRANSACTION_CURRENCY, currency.numeric),
               *_merchant_objects(request, amount_text),
               *_additional(profile, request), *_language(profile, request),
               *profile.scheme_objects(request)]
    ordered = sorted(objects, key=lambda item: item.id)
    _check_lengths(profile, ordered)
    _check_recognised(profile, tuple(ordered))
    body = tlv.serialize(ordered) + crc.CRC_PREFIX
    text = body + crc.checksum(body)
    _verify(profile, text)
    return text


def _currency(profile: Profile, request: QrRequest) -> Currency:
    if request.currency is None:
        raise profile.refuse("currency", "required", "", "name an ISO 4217 currency")
    currency = money.by_alpha(request.currency)
    if currency is None:
        raise profile.refuse("currency", "iso4217", request.currency,
                             "not an ISO 4217 currency with a minor unit")
    if profile.currencies and currency.alpha not in profile.currencies:
        raise profile.refuse("currency", "currency_allowed", request.currency,
                             f"{profile.title} settles only in {', '.join(profile.currencies)}")
    return currency


def _amount_text(profile: Profile, request: QrRequest, currency: Currency) -> str | None:
    if request.amount is None:
        return None
    amount = money.parse_amount(request.amount)
    if amount is None:
        raise profile.refuse("amount", "decimal", request.amount,
                             "write digits with an optional decimal point, such as 12.50")
    if amount <= Decimal(0):
        raise profile.refuse("amount", "positive", request.amount, "must be more than zero")
    decimals = profile.amount_decimals(currency)
    if money.decimals_of(amount) > decimals:
        allowed = f"at most {decimals} decimals" if decimals else "no decimals"
        raise profile.refuse("amount", "decimals", request.amount,
                             f"{currency.alpha} amounts have {allowed} in {profile.title}")
    text = money.format_amount(amount, decimals)
    if len(text) > limits.AMOUNT_CHARACTERS_MAX:
        raise profile.refuse("amount", "max_length", request.amount,
                             f"an amount is at most {limits.AMOUNT_CHARACTERS_MAX} characters")
    return text


def _check_merchant(profile: Profile, request: QrRequest) -> None:
    for name in sorted(profile.required):
        if getattr(request, name) is None:
            raise profile.refuse(name, "required", "", f"{profile.title} requires it")
    limits_by_field = {"merchant_name": profile.merchant_name_characters_max,
                       "merchant_city": profile.merchant_city_characters_max,
                       "postal_code": emv.ROOT[emv.POSTAL_CODE].length_max}
    for name, _object_id in _MERCHANT_FIELDS:
        value = getattr(request, name)
        if value is not None:
            profile.check_length(name, value, limits_by_field[name])
            profile.check_characters(name, value)
    _check_code(profile, "merchant_category_code", request.merchant_category_code, 4)
    country = request.country
    if country is None:
        raise profile.refuse("country", "required", "", "name an ISO 3166 country (two letters)")
    if len(country) != 2 or not (country.isascii() and country.isalpha() and country.isupper()):
        raise profile.refuse("country", "format", country, "two capital letters (ISO 3166)")
    if profile.country is not None and country != profile.country:
        raise profile.refuse("country", "country_allowed", country,
                             f"{profile.title} is for {profile.country}")


def _check_code(profile: Profile, name: str, value: str | None, digits: int) -> None:
    if value is not None and not (len(value) == digits and value.isascii() and value.isdigit()):
        raise profile.refuse(name, "format", value, f"must be {digits} digits")


def _merchant_objects(request: QrRequest, amount_text: str | None) -> list[DataObject]:
    values = [(emv.MERCHANT_CATEGORY_CODE, request.merchant_category_code),
              (emv.TRANSACTION_AMOUNT, amount_text), (emv.COUNTRY_CODE, request.country),
              *((object_id, getattr(request, name)) for name, object_id in _MERCHANT_FIELDS)]
    return [primitive(object_id, value) for object_id, value in values if value is not None]


def _additional(profile: Profile, request: QrRequest) -> list[DataObject]:
    children = []
    for key, value in request.additional.items():
        sub_id = emv.ADDITIONAL_IDS.get(key)
        if sub_id is None:
            raise profile.refuse(f"additional.{key}", "known_field", value,
                                 f"known fields: {', '.join(emv.ADDITIONAL_IDS)}")
        spec = emv.ADDITIONAL[sub_id]
        profile.check_length(f"additional.{key}", value, spec.length_max, spec.length_min)
        profile.check_characters(f"additional.{key}", value)
        children.append(primitive(sub_id, value))
    if not children:
        return []
    return [template(emv.ADDITIONAL_DATA, sorted(children, key=lambda item: item.id))]


def _language(profile: Profile, request: QrRequest) -> list[DataObject]:
    if not request.language:
        return []
    ids = {spec.name: sub_id for sub_id, spec in emv.LANGUAGE.items()}
    children = []
    for key, value in request.language.items():
        sub_id = ids.get(key)
        if sub_id is None:
            raise profile.refuse(f"language.{key}", "known_field", value,
                                 f"known fields: {', '.join(ids)}")
        spec = emv.LANGUAGE[sub_id]
        profile.check_length(f"language.{key}", value, spec.length_max, spec.length_min)
        if spec.format is emv.Format.STRING:
            profile.check_string(f"language.{key}", value)
        else:
            profile.check_characters(f"language.{key}", value)
        children.append(primitive(sub_id, value))
    for required in ("language_preference", "merchant_name_alternate_language"):
        if required not in request.language:
            raise profile.refuse(f"language.{required}", "required", "",
                                 "a language template names its language and the merchant")
    return [template(emv.LANGUAGE_TEMPLATE, sorted(children, key=lambda item: item.id))]


def _check_lengths(profile: Profile, objects: list[DataObject]) -> None:
    """Refuse a value over 99 characters, which the two-digit length cannot express."""
    for item in objects:
        if len(item.value) > limits.VALUE_CHARACTERS_MAX:
            raise profile.refuse(f"tag {item.id}", "template_length", item.value,
                                 f"a data object holds at most {limits.VALUE_CHARACTERS_MAX} "
                                 f"characters, this one {len(item.value)}")
    total = sum(tlv.HEADER_CHARACTERS + len(item.value) for item in objects) + 8
    if total > limits.PAYLOAD_CHARACTERS_MAX:
        raise profile.refuse("payload", "payload_length", total,
                             f"a payload holds at most {limits.PAYLOAD_CHARACTERS_MAX} characters")


def _check_recognised(profile: Profile, objects: tuple[DataObject, ...]) -> None:
    """Refuse a payload that decoding would file under another scheme.

    Only the generic profile can get here, by writing a national scheme's identifier (such as
    SG.PAYNOW) whose rules it does not check: the caller should use that scheme instead.
    """
    claimed = schemes.recognise(objects)
    if claimed is not profile:
        account = next(item for item in objects if item.id in emv.MERCHANT_ACCOUNT_IDS)
        identifier = account.child_value(emv.GLOBALLY_UNIQUE_IDENTIFIER) or account.value
        raise profile.refuse("account", "scheme_identifier", identifier,
                             f"this account belongs to {claimed.title}; encode it with "
                             f"--scheme {claimed.name}")


def _verify(profile: Profile, text: str) -> None:
    """Read the new payload back: it must decode, under the same scheme."""
    try:
        decoded = decode(text)
    except QrError as problem:
        raise internal(f"the encoder wrote a payload its decoder refuses: {problem}") from problem
    if decoded.scheme != profile.name:
        raise internal(f"a {profile.name} payload decodes as {decoded.scheme}")
