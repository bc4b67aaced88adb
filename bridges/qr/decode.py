"""Reading a payload: text → data objects → checksum → EMVCo fields → scheme → account.

`decode` is the entry point. Every failure is a `QrError`: reading errors name the offset and the
tag, a wrong checksum names the expected and the found value, and a field with the wrong form
names its tag. Scheme rules are for encoding; decoding reports what the payload says.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

from bridges.qr import crc, emv, errors, limits, money, schemes, tlv
from bridges.qr.errors import QrError
from bridges.qr.money import AmountMinor, Currency
from bridges.qr.payload import INITIATION_BY_CODE, TIP_BY_CODE, DecodedQr, MerchantPayload, Tip
from bridges.qr.tlv import DataObject

_Code = TypeVar("_Code")

CRC_VALUE_CHARACTERS = 4
_HEX = frozenset("0123456789ABCDEFabcdef")


def decode(text: str, *, verify_crc: bool = True) -> DecodedQr:
    """Read a merchant-presented payload; with `verify_crc=False` a wrong CRC is only reported.

    Raises `QrError` for anything that is not a readable payload.
    """
    _check_size(text)
    objects = tlv.read(text, emv.is_template)
    expected, found = _crc(text, objects)
    if verify_crc and expected != found.upper():
        raise QrError(errors.CRC_MISMATCH,
                      f"at offset {objects[-1].offset}, tag 63: CRC expected {expected}, "
                      f"found {found}", offset=objects[-1].offset, tag="63",
                      expected=expected, found=found)
    profile = schemes.recognise(objects)
    for path in profile.nested_templates:
        objects = tlv.expand(objects, path)
    merchant = read_merchant(objects)
    return DecodedQr(text=text, scheme=profile.name, merchant=merchant,
                     account=profile.read_account(merchant), crc_valid=expected == found.upper(),
                     crc_expected=expected, field_names=profile.field_names)


def _check_size(text: str) -> None:
    if not text:
        raise QrError(errors.EMPTY_PAYLOAD, "at offset 0: the payload is empty", offset=0)
    if len(text) > limits.PAYLOAD_CHARACTERS_MAX:
        raise QrError(errors.PAYLOAD_TOO_LONG,
                      f"at offset {limits.PAYLOAD_CHARACTERS_MAX}: the payload has {len(text)} "
                      f"characters, more than the limit of {limits.PAYLOAD_CHARACTERS_MAX}",
                      offset=limits.PAYLOAD_CHARACTERS_MAX)
    # The CRC is computed over UTF-8 bytes; a lone surrogate has none.
    stray = next((index for index, character in enumerate(text)
                  if "\ud800" <= character <= "\udfff"), None)
    if stray is not None:
        raise QrError(errors.UNENCODABLE,
                      f"at offset {stray}: the character U+{ord(text[stray]):04X} is a lone "
                      "surrogate, which UTF-8 cannot encode", offset=stray)


def _crc(text: str, objects: tuple[DataObject, ...]) -> tuple[str, str]:
    """The checksum the payload should carry and the one it does; refuses a misplaced CRC."""
    last = objects[-1]
    if last.id != emv.CRC:
        at = next((item for item in objects if item.id == emv.CRC), None)
        where = f"at offset {at.offset}, tag 63: the CRC is not the last data object" if at else (
            f"at offset {len(text)}, tag 63: the payload ends without a CRC")
        raise QrError(errors.CRC_PLACEMENT, where, offset=at.offset if at else len(text),
                      tag="63")
    if len(last.value) != CRC_VALUE_CHARACTERS or not set(last.value) <= _HEX:
        raise QrError(errors.CRC_PLACEMENT,
                      f"at offset {last.offset + tlv.HEADER_CHARACTERS}, tag 63: expected four "
                      f"hexadecimal digits, found {last.value!r}",
                      offset=last.offset + tlv.HEADER_CHARACTERS, tag="63")
    covered = text[:last.offset + tlv.HEADER_CHARACTERS]
    return crc.checksum(covered), last.value


def read_merchant(objects: tuple[DataObject, ...]) -> MerchantPayload:
    """The EMVCo fields of a payload whose data objects were read and whose CRC is in place."""
    by_id = {item.id: item for item in objects}
    format_indicator = _format_indicator(objects)
    if not any(item.id in emv.MERCHANT_ACCOUNT_IDS for item in objects):
        raise _missing(objects, "02-51", "merchant account information")
    currency = _currency(by_id)
    amount, amount_minor = _amount(by_id, currency)
    return MerchantPayload(
        format_indicator=format_indicator,
        initiation=_coded(by_id, emv.POINT_OF_INITIATION, INITIATION_BY_CODE),
        currency=currency, amount=amount, amount_minor=amount_minor,
        merchant_category_code=_numeric(by_id, emv.MERCHANT_CATEGORY_CODE),
        country=_numeric(by_id, emv.COUNTRY_CODE),
        merchant_name=_value(by_id, emv.MERCHANT_NAME),
        merchant_city=_value(by_id, emv.MERCHANT_CITY),
        postal_code=_value(by_id, emv.POSTAL_CODE),
        tip=_tip(by_id),
        additional=_named(by_id.get(emv.ADDITIONAL_DATA), emv.ADDITIONAL),
        language=_named(by_id.get(emv.LANGUAGE_TEMPLATE), emv.LANGUAGE),
        crc=by_id[emv.CRC].value, objects=objects)


def _format_indicator(objects: tuple[DataObject, ...]) -> str:
    first = objects[0]
    if first.id != emv.PAYLOAD_FORMAT_INDICATOR:
        raise QrError(errors.FORMAT_INDICATOR,
                      f"at offset 0, tag {first.id}: a payload starts with ID 00 (payload "
                      f"format indicator), not {first.id}", offset=0, tag=first.id)
    return _checked(first, emv.ROOT[emv.PAYLOAD_FORMAT_INDICATOR])


def _missing(objects: tuple[DataObject, ...], tag: str, what: str) -> QrError:
    end = objects[-1].offset
    return QrError(errors.MISSING_FIELD, f"tag {tag}: the payload has no {what}",
                   offset=end, tag=tag)


def _bad(item: DataObject, tag: str, why: str) -> QrError:
    return QrError(errors.BAD_FIELD, f"at offset {item.offset}, tag {tag}: {why}",
                   offset=item.offset, tag=tag, value=item.value)


def _checked(item: DataObject, spec: emv.FieldSpec) -> str:
    """The value of `item`, refused unless it has the alphabet and length EMVCo gives it."""
    if not emv.has_format(item.value, spec.format):
        raise _bad(item, item.id, f"{spec.name} must be {spec.format.value}, "
                                  f"found {item.value!r}")
    if not spec.length_min <= len(item.value) <= spec.length_max:
        raise _bad(item, item.id, f"{spec.name} has {len(item.value)} characters, expected "
                                  f"{spec.length_min} to {spec.length_max}")
    return item.value


def _value(by_id: dict[str, DataObject], object_id: str) -> str | None:
    item = by_id.get(object_id)
    return item.value if item is not None else None


def _numeric(by_id: dict[str, DataObject], object_id: str) -> str | None:
    """The checked value of a fixed-form root field (MCC, country), or None when absent."""
    item = by_id.get(object_id)
    return _checked(item, emv.ROOT[object_id]) if item is not None else None


def _coded(by_id: dict[str, DataObject], object_id: str, codes: dict[str, _Code]) -> _Code | None:
    item = by_id.get(object_id)
    if item is None:
        return None
    if item.value not in codes:
        raise _bad(item, object_id, f"{emv.ROOT[object_id].name} must be one of "
                                    f"{', '.join(codes)}, found {item.value!r}")
    return codes[item.value]


def _currency(by_id: dict[str, DataObject]) -> Currency:
    item = by_id.get(emv.TRANSACTION_CURRENCY)
    if item is None:
        raise _missing(tuple(by_id.values()), "53", "transaction currency")
    currency = money.by_numeric(_checked(item, emv.ROOT[emv.TRANSACTION_CURRENCY]))
    if currency is None:
        raise QrError(errors.UNKNOWN_CURRENCY,
                      f"at offset {item.offset}, tag 53: {item.value} is not an ISO 4217 "
                      "currency with a minor unit", offset=item.offset, tag="53",
                      value=item.value)
    return currency


def _amount(by_id: dict[str, DataObject],
            currency: Currency) -> tuple[Decimal | None, AmountMinor | None]:
    item = by_id.get(emv.TRANSACTION_AMOUNT)
    if item is None:
        return None, None
    amount = money.parse_amount(_checked(item, emv.ROOT[emv.TRANSACTION_AMOUNT]))
    if amount is None:
        raise QrError(errors.BAD_AMOUNT,
                      f"at offset {item.offset}, tag 54: {item.value!r} is not a decimal amount",
                      offset=item.offset, tag="54", value=item.value)
    minor = money.to_minor(amount, currency.exponent)
    if minor is None:
        raise QrError(errors.BAD_AMOUNT,
                      f"at offset {item.offset}, tag 54: {item.value} has more decimals than "
                      f"{currency.alpha}'s {currency.exponent}", offset=item.offset, tag="54",
                      value=item.value)
    return amount, minor


def _tip(by_id: dict[str, DataObject]) -> Tip | None:
    kind = _coded(by_id, emv.TIP_OR_CONVENIENCE_INDICATOR, TIP_BY_CODE)
    if kind is None:
        return None
    fee_id = {"fixed": emv.CONVENIENCE_FEE_FIXED,
              "percentage": emv.CONVENIENCE_FEE_PERCENTAGE}.get(kind.value)
    fee = by_id.get(fee_id) if fee_id else None
    if fee is not None and money.parse_amount(fee.value) is None:
        raise _bad(fee, fee.id, f"{emv.ROOT[fee.id].name} must be a decimal, "
                                f"found {fee.value!r}")
    return Tip(kind, fee.value if fee is not None else None)


def _named(item: DataObject | None, table: dict[str, emv.FieldSpec]) -> dict[str, str]:
    """A template's children by their EMVCo names; unnamed sub-IDs keep their ID as key."""
    if item is None or item.children is None:
        return {}
    return {(table[child.id].name if child.id in table else child.id): child.value
            for child in item.children if child.children is None}
