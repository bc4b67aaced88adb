"""What EMVCo's merchant-presented mode says about each ID: name, format, length, templates.

From the EMV QR Code Specification for Payment Systems, Merchant-Presented Mode (v1.1): the
root IDs, the Additional Data Field Template (62) and the Merchant Information—Language
Template (64). Formats: `N` digits only, `ANS` the 96 printable characters of the Common
Character Set (space to tilde), `S` any Unicode text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bridges.qr.tlv import Path


class Format(StrEnum):
    """The alphabet a value may use."""

    NUMERIC = "N"
    ALPHANUMERIC_SPECIAL = "ANS"
    STRING = "S"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One data object as EMVCo defines it: its name, alphabet and length bounds in characters."""

    name: str
    format: Format
    length_min: int
    length_max: int


PAYLOAD_FORMAT_INDICATOR = "00"
POINT_OF_INITIATION = "01"
MERCHANT_CATEGORY_CODE = "52"
TRANSACTION_CURRENCY = "53"
TRANSACTION_AMOUNT = "54"
TIP_OR_CONVENIENCE_INDICATOR = "55"
CONVENIENCE_FEE_FIXED = "56"
CONVENIENCE_FEE_PERCENTAGE = "57"
COUNTRY_CODE = "58"
MERCHANT_NAME = "59"
MERCHANT_CITY = "60"
POSTAL_CODE = "61"
ADDITIONAL_DATA = "62"
CRC = "63"
LANGUAGE_TEMPLATE = "64"

# IDs 02-25 are primitive account numbers of card networks; 26-51 are templates of other
# payment networks, each starting with a globally unique identifier (sub-ID 00).
CARD_NETWORK_IDS = frozenset(f"{number:02d}" for number in range(2, 26))
ACCOUNT_TEMPLATE_IDS = frozenset(f"{number:02d}" for number in range(26, 52))
MERCHANT_ACCOUNT_IDS = CARD_NETWORK_IDS | ACCOUNT_TEMPLATE_IDS
# IDs 80-99 are templates left to payment systems (KHQR keeps its timestamps in 99).
UNRESERVED_TEMPLATE_IDS = frozenset(f"{number:02d}" for number in range(80, 100))
# Inside 62, IDs 50-99 are payment-system templates.
ADDITIONAL_TEMPLATE_IDS = frozenset(f"{number:02d}" for number in range(50, 100))
GLOBALLY_UNIQUE_IDENTIFIER = "00"

ROOT: dict[str, FieldSpec] = {
    "00": FieldSpec("payload_format_indicator", Format.NUMERIC, 2, 2),
    "01": FieldSpec("point_of_initiation_method", Format.NUMERIC, 2, 2),
    "52": FieldSpec("merchant_category_code", Format.NUMERIC, 4, 4),
    "53": FieldSpec("transaction_currency", Format.NUMERIC, 3, 3),
    "54": FieldSpec("transaction_amount", Format.ALPHANUMERIC_SPECIAL, 1, 13),
    "55": FieldSpec("tip_or_convenience_indicator", Format.NUMERIC, 2, 2),
    "56": FieldSpec("value_of_convenience_fee_fixed", Format.ALPHANUMERIC_SPECIAL, 1, 13),
    "57": FieldSpec("value_of_convenience_fee_percentage", Format.ALPHANUMERIC_SPECIAL, 1, 5),
    "58": FieldSpec("country_code", Format.ALPHANUMERIC_SPECIAL, 2, 2),
    "59": FieldSpec("merchant_name", Format.ALPHANUMERIC_SPECIAL, 1, 25),
    "60": FieldSpec("merchant_city", Format.ALPHANUMERIC_SPECIAL, 1, 15),
    "61": FieldSpec("postal_code", Format.ALPHANUMERIC_SPECIAL, 1, 10),
    "62": FieldSpec("additional_data_field_template", Format.STRING, 1, 99),
    "63": FieldSpec("crc", Format.ALPHANUMERIC_SPECIAL, 4, 4),
    "64": FieldSpec("merchant_information_language_template", Format.STRING, 1, 99),
}

# Sub-IDs of 62, named as the JSON `additional` object names them.
ADDITIONAL: dict[str, FieldSpec] = {
    "01": FieldSpec("bill_number", Format.ALPHANUMERIC_SPECIAL, 1, 25),
    "02": FieldSpec("mobile_number", Format.ALPHANUMERIC_SPECIAL, 1, 25),
    "03": FieldSpec("store_label", Format.ALPHANUMERIC_SPECIAL, 1, 25),
    "04": FieldSpec("loyalty_number", Format.ALPHANUMERIC_SPECIAL, 1, 25),
    "05": FieldSpec("reference_label", Format.ALPHANUMERIC_SPECIAL, 1, 25),
    "06": FieldSpec("customer_label", Format.ALPHANUMERIC_SPECIAL, 1, 25),
    "07": FieldSpec("terminal_label", Format.ALPHANUMERIC_SPECIAL, 1, 25),
    "08": FieldSpec("purpose_of_transaction", Format.ALPHANUMERIC_SPECIAL, 1, 25),
    "09": FieldSpec("additional_consumer_data_request", Format.ALPHANUMERIC_SPECIAL, 1, 3),
    "10": FieldSpec("merchant_tax_id", Format.ALPHANUMERIC_SPECIAL, 1, 20),
    "11": FieldSpec("merchant_channel", Format.ALPHANUMERIC_SPECIAL, 3, 3),
}
ADDITIONAL_IDS: dict[str, str] = {spec.name: sub_id for sub_id, spec in ADDITIONAL.items()}

LANGUAGE: dict[str, FieldSpec] = {
    "00": FieldSpec("language_preference", Format.ALPHANUMERIC_SPECIAL, 2, 2),
    "01": FieldSpec("merchant_name_alternate_language", Format.STRING, 1, 25),
    "02": FieldSpec("merchant_city_alternate_language", Format.STRING, 1, 15),
}


def is_template(path: Path) -> bool:
    """Whether EMVCo defines the value at `path` as a template."""
    if len(path) == 1:
        head = path[0]
        return (head in ACCOUNT_TEMPLATE_IDS or head in UNRESERVED_TEMPLATE_IDS
                or head in (ADDITIONAL_DATA, LANGUAGE_TEMPLATE))
    return len(path) == 2 and path[0] == ADDITIONAL_DATA and path[1] in ADDITIONAL_TEMPLATE_IDS


def name_of(path: Path) -> str:
    """A readable name for the data object at `path`, for the JSON tag tree."""
    table = {(): ROOT, ("62",): ADDITIONAL, ("64",): LANGUAGE}.get(path[:-1])
    last = path[-1]
    if table is not None and last in table:
        return table[last].name
    if len(path) == 1:
        return _root_name(last)
    if last == GLOBALLY_UNIQUE_IDENTIFIER and path[0] in ACCOUNT_TEMPLATE_IDS:
        return "globally_unique_identifier"
    return "unnamed"


def _root_name(object_id: str) -> str:
    if object_id in MERCHANT_ACCOUNT_IDS:
        return "merchant_account_information"
    if object_id in UNRESERVED_TEMPLATE_IDS:
        return "unreserved_template"
    return "reserved_for_future_use"


def is_common_character_set(text: str) -> bool:
    """Whether `text` uses only EMV's Common Character Set (printable ASCII, space to tilde)."""
    return all(" " <= character <= "~" for character in text)


def has_format(text: str, value_format: Format) -> bool:
    """Whether `text` uses only the alphabet of `value_format`."""
    if value_format is Format.NUMERIC:
        return text.isascii() and text.isdigit()
    if value_format is Format.ALPHANUMERIC_SPECIAL:
        return is_common_character_set(text)
    return True
