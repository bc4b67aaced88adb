"""What every scheme profile provides, and the rules that schemes share.

A profile recognises its payloads from the tag tree, reads its account fields out of them, and
builds its own data objects when encoding, refusing what the scheme refuses. The shared rules
here (lengths, alphabets, patterns) word every refusal the same way: field, rule and value.
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

from bridges.qr import emv
from bridges.qr.errors import QrError, refuse
from bridges.qr.money import Currency
from bridges.qr.payload import Initiation, MerchantPayload
from bridges.qr.request import QrRequest
from bridges.qr.tlv import DataObject, Path, primitive, template

# The merchant fields that a profile may make mandatory, as `QrRequest` names them.
MERCHANT_NAME = "merchant_name"
MERCHANT_CITY = "merchant_city"
MERCHANT_CATEGORY_CODE = "merchant_category_code"


class Profile(ABC):
    """A payment scheme's view of EMVCo merchant-presented payloads."""

    name: ClassVar[str]
    title: ClassVar[str]
    # None: any country; otherwise the ISO 3166 code that ID 58 must hold.
    country: ClassVar[str | None] = None
    # Empty: any ISO 4217 currency; otherwise the codes the scheme settles in.
    currencies: ClassVar[tuple[str, ...]] = ()
    format_indicator: ClassVar[str] = "01"
    # Values that the scheme reads as templates although EMVCo does not (VietQR's 38.01).
    nested_templates: ClassVar[tuple[Path, ...]] = ()
    # Names of the scheme's own data objects in the JSON tag tree.
    field_names: ClassVar[Mapping[Path, str]] = {}
    # Merchant fields the scheme requires when encoding.
    required: ClassVar[frozenset[str]] = frozenset()
    # Keys that `QrRequest.account` may hold for this scheme.
    account_keys: ClassVar[frozenset[str]] = frozenset()
    merchant_name_characters_max: ClassVar[int] = 25
    merchant_city_characters_max: ClassVar[int] = 15

    @abstractmethod
    def recognises(self, objects: tuple[DataObject, ...]) -> bool:
        """Whether a payload with these root data objects belongs to this scheme."""

    @abstractmethod
    def read_account(self, payload: MerchantPayload) -> dict[str, str]:
        """The scheme's account fields of a payload it recognised, keyed as in `account`."""

    @abstractmethod
    def account_objects(self, request: QrRequest) -> list[DataObject]:
        """The merchant account information to encode, refusing what the scheme refuses."""

    def defaults(self, request: QrRequest) -> QrRequest:
        """`request` with the scheme's defaults filled in (country, currency, …)."""
        single = self.currencies[0] if len(self.currencies) == 1 else None
        return request.with_defaults(country=self.country, currency=single)

    def check(self, request: QrRequest, currency: Currency) -> None:
        """Rules of the scheme beyond the shared ones; raises a refusal."""
        del request, currency  # a scheme with no rules of its own

    def scheme_objects(self, request: QrRequest) -> list[DataObject]:
        """Data objects of the scheme outside the account (templates 80-99)."""
        del request
        return []

    def amount_decimals(self, currency: Currency) -> int:
        """How many decimals the scheme writes for amounts in `currency`."""
        return currency.exponent

    def initiation(self, request: QrRequest) -> Initiation:
        """The point of initiation: as asked, otherwise dynamic exactly when there is an amount."""
        if request.initiation is not None:
            return request.initiation
        return Initiation.DYNAMIC if request.amount is not None else Initiation.STATIC

    def refuse(self, field: str, rule: str, value: object, why: str) -> QrError:
        """A refusal worded with this scheme's name."""
        return refuse(self.name, field, rule, value, why)

    # Shared rules, for the profiles' own checks.

    def account_value(self, request: QrRequest, key: str, *, required: bool = False) -> str | None:
        """`request.account[key]`, refusing an absent required one."""
        value = request.account.get(key)
        if value is None and required:
            raise self.refuse(f"account.{key}", "required", "", "the scheme requires it")
        return value

    def check_length(self, field: str, value: str, maximum: int, minimum: int = 1) -> None:
        """Refuse `value` unless it has from `minimum` to `maximum` characters."""
        if not minimum <= len(value) <= maximum:
            bounds = f"at most {maximum}" if minimum <= 1 else f"{minimum} to {maximum}"
            raise self.refuse(field, "max_length" if len(value) > maximum else "min_length",
                              value, f"{bounds} characters, not {len(value)}")

    def check_pattern(self, field: str, value: str, pattern: re.Pattern[str], what: str) -> None:
        """Refuse `value` unless it matches `pattern` in full; `what` describes the form."""
        if not pattern.fullmatch(value):
            raise self.refuse(field, "format", value, f"must be {what}")

    def check_string(self, field: str, value: str) -> None:
        """Refuse control characters and lone surrogates in a free-text (S format) value."""
        if not _is_plain_text(value):
            raise self.refuse(field, "character_set", value,
                              "control characters and lone surrogates cannot be encoded")

    def check_characters(self, field: str, value: str) -> None:
        """Refuse characters outside EMV's Common Character Set (printable ASCII)."""
        if not emv.is_common_character_set(value):
            raise self.refuse(field, "character_set", value,
                              "only printable ASCII (EMV's Common Character Set) is allowed; "
                              "write other scripts in the language template")


def _is_plain_text(text: str) -> bool:
    # EMVCo's S format is any Unicode text; control characters and lone surrogates would not
    # survive a QR code's UTF-8 (or a phone's display), so they are refused.
    return all(unicodedata.category(character) not in ("Cc", "Cs") for character in text)


def account_template(object_id: str, children: list[tuple[str, str | None]]) -> DataObject:
    """A merchant account template from (sub-ID, value) pairs, leaving out absent values."""
    return template(object_id, [primitive(sub_id, value) for sub_id, value in children
                                if value is not None])


def find_template(objects: tuple[DataObject, ...], ids: frozenset[str],
                  identifiers: frozenset[str]) -> DataObject | None:
    """The first template among `ids` whose sub-ID 00 is one of `identifiers`, or None."""
    for item in objects:
        if item.id in ids and item.child_value(emv.GLOBALLY_UNIQUE_IDENTIFIER) in identifiers:
            return item
    return None
