"""KHQR, Cambodia's national QR standard on the Bakong network of the National Bank of Cambodia.

Facts from the Bakong KHQR SDK (`bakong-khqr` on npm, and its PHP port `fidele007/bakong-khqr-php`):
an individual's account sits in ID 29 and a merchant's in ID 30, each with the Bakong account ID
(`name@bank`) in sub-ID 00; an individual may add account information (01) and an acquiring
bank (02), a merchant must give a merchant ID (01) and an acquiring bank (02). Dynamic codes
carry their creation (99.00) and expiry (99.01) as 13-digit Unix times in milliseconds, and the
SDK requires the expiry since version 1.0.18. Currencies are the riel (116, whole riel only) and
the US dollar (840). The SDK's length limits are kept here as named constants.
"""

from __future__ import annotations

import re
from typing import ClassVar

from bridges.qr import emv
from bridges.qr.money import Currency
from bridges.qr.payload import Initiation, MerchantPayload
from bridges.qr.request import QrRequest
from bridges.qr.schemes.profile import MERCHANT_NAME, Profile, account_template
from bridges.qr.tlv import DataObject, Path, primitive, template

INDIVIDUAL_ID = "29"
MERCHANT_ID = "30"
TIMESTAMP_TEMPLATE_ID = "99"
UNIONPAY_ID = "15"
INDIVIDUAL = "individual"
MERCHANT = "merchant"
DEFAULT_CITY = "Phnom Penh"
DEFAULT_MERCHANT_CATEGORY_CODE = "5999"

BAKONG_ACCOUNT_ID_CHARACTERS_MAX = 32
MERCHANT_ID_CHARACTERS_MAX = 32
ACQUIRING_BANK_CHARACTERS_MAX = 32
ACCOUNT_INFORMATION_CHARACTERS_MAX = 32
UNIONPAY_ACCOUNT_CHARACTERS_MAX = 99
TIMESTAMP_DIGITS = 13
# The SDK lets only these additional data fields through, each up to 25 characters.
ADDITIONAL_KEYS = frozenset({"bill_number", "mobile_number", "store_label", "terminal_label",
                             "purpose_of_transaction"})

_BAKONG_ACCOUNT_ID = re.compile(r"[^@\s]+@[^@\s]+")
_TIMESTAMP = re.compile(r"[0-9]{13}")


class Khqr(Profile):
    """Bakong KHQR: individual (29) and merchant (30) accounts, timestamps under 99."""

    name = "khqr"
    title = "KHQR (Cambodia, Bakong)"
    country = "KH"
    currencies = ("KHR", "USD")
    required = frozenset({MERCHANT_NAME})
    account_keys = frozenset({"merchant_type", "bakong_account_id", "account_information",
                              "merchant_id", "acquiring_bank", "created_at_ms", "expires_at_ms",
                              "unionpay_merchant_account"})
    field_names: ClassVar[dict[Path, str]] = {
        ("29", "00"): "bakong_account_id", ("29", "01"): "account_information",
        ("29", "02"): "acquiring_bank", ("30", "00"): "bakong_account_id",
        ("30", "01"): "merchant_id", ("30", "02"): "acquiring_bank",
        ("99", "00"): "creation_timestamp_ms", ("99", "01"): "expiration_timestamp_ms",
    }

    def recognises(self, objects: tuple[DataObject, ...]) -> bool:
        """A template 29 or 30 whose sub-ID 00 is a Bakong account ID (`name@bank`), in KH.

        Another scheme could put an address with an @ in 29 or 30; a country other than
        Cambodia in ID 58 rules KHQR out.
        """
        country = next((item.value for item in objects if item.id == emv.COUNTRY_CODE), "KH")
        return country == "KH" and any(
            item.id in (INDIVIDUAL_ID, MERCHANT_ID)
            and _BAKONG_ACCOUNT_ID.fullmatch(item.child_value("00") or "") for item in objects)

    def read_account(self, payload: MerchantPayload) -> dict[str, str]:
        """Merchant type, Bakong account ID, the other account fields and the timestamps."""
        account = payload.get(MERCHANT_ID) or payload.get(INDIVIDUAL_ID)
        fields: dict[str, str | None] = {}
        if account is not None:
            is_merchant = account.id == MERCHANT_ID
            fields["merchant_type"] = MERCHANT if is_merchant else INDIVIDUAL
            fields["bakong_account_id"] = account.child_value("00")
            fields["merchant_id" if is_merchant else "account_information"] = (
                account.child_value("01"))
            fields["acquiring_bank"] = account.child_value("02")
        timestamps = payload.get(TIMESTAMP_TEMPLATE_ID)
        if timestamps is not None:
            fields["created_at_ms"] = timestamps.child_value("00")
            fields["expires_at_ms"] = timestamps.child_value("01")
        unionpay = payload.get(UNIONPAY_ID)
        fields["unionpay_merchant_account"] = unionpay.value if unionpay else None
        return {key: value for key, value in fields.items() if value is not None}

    def defaults(self, request: QrRequest) -> QrRequest:
        """Riel, Phnom Penh and MCC 5999 unless told otherwise, as the SDK does."""
        return super().defaults(request).with_defaults(
            currency="KHR", merchant_city=DEFAULT_CITY,
            merchant_category_code=DEFAULT_MERCHANT_CATEGORY_CODE)

    def amount_decimals(self, currency: Currency) -> int:
        """Whole riel; cents for dollars."""
        return 0 if currency.alpha == "KHR" else currency.exponent

    def check(self, request: QrRequest, currency: Currency) -> None:
        """Initiation matches the amount; timestamps on dynamic codes only; SDK limits."""
        del currency
        self._check_initiation(request)
        self._check_timestamps(request)
        unknown = sorted(set(request.additional) - ADDITIONAL_KEYS)
        if unknown:
            raise self.refuse(f"additional.{unknown[0]}", "known_field", "",
                              "KHQR carries only bill number, mobile number, store label, "
                              "terminal label and purpose of transaction")

    def _check_initiation(self, request: QrRequest) -> None:
        initiation = self.initiation(request)
        if initiation is Initiation.STATIC and request.amount is not None:
            raise self.refuse("amount", "static_without_amount", request.amount,
                              "a static KHQR leaves the amount to the payer")
        if initiation is Initiation.DYNAMIC and request.amount is None:
            raise self.refuse("initiation", "dynamic_needs_amount", initiation.value,
                              "a dynamic KHQR states its amount")

    def _check_timestamps(self, request: QrRequest) -> None:
        created = self.account_value(request, "created_at_ms")
        expires = self.account_value(request, "expires_at_ms")
        if self.initiation(request) is Initiation.STATIC:
            if created is not None or expires is not None:
                raise self.refuse("account.expires_at_ms", "dynamic_only", expires or created,
                                  "only a dynamic KHQR carries timestamps")
            return
        for key, value in (("created_at_ms", created), ("expires_at_ms", expires)):
            if value is None:
                raise self.refuse(f"account.{key}", "required", "",
                                  "a dynamic KHQR carries its creation and expiry times "
                                  "(required by the SDK since 1.0.18)")
            self.check_pattern(f"account.{key}", value, _TIMESTAMP,
                               f"{TIMESTAMP_DIGITS} digits (Unix time in milliseconds)")
        if int(expires or 0) <= int(created or 0):
            raise self.refuse("account.expires_at_ms", "after_creation", expires,
                              f"must be later than the creation time {created}")

    def account_objects(self, request: QrRequest) -> list[DataObject]:
        """ID 29 for an individual, 30 for a merchant; 15 for a UnionPay account if given."""
        bakong_id = self.account_value(request, "bakong_account_id", required=True) or ""
        self.check_length("account.bakong_account_id", bakong_id,
                          BAKONG_ACCOUNT_ID_CHARACTERS_MAX)
        self.check_pattern("account.bakong_account_id", bakong_id, _BAKONG_ACCOUNT_ID,
                           "a Bakong account ID such as name@bank")
        kind = self._merchant_type(request)
        objects = [self._merchant(request, bakong_id) if kind == MERCHANT
                   else self._individual(request, bakong_id)]
        unionpay = self.account_value(request, "unionpay_merchant_account")
        if unionpay is not None:
            self._check_text("account.unionpay_merchant_account", unionpay,
                             UNIONPAY_ACCOUNT_CHARACTERS_MAX)
            objects.append(primitive(UNIONPAY_ID, unionpay))
        return objects

    def _merchant_type(self, request: QrRequest) -> str:
        default = MERCHANT if "merchant_id" in request.account else INDIVIDUAL
        kind = request.account.get("merchant_type", default)
        if kind not in (INDIVIDUAL, MERCHANT):
            raise self.refuse("account.merchant_type", "one_of", kind,
                              "must be individual or merchant")
        return kind

    def _individual(self, request: QrRequest, bakong_id: str) -> DataObject:
        if "merchant_id" in request.account:
            raise self.refuse("account.merchant_id", "merchant_only",
                              request.account["merchant_id"],
                              "an individual's KHQR has no merchant ID")
        information = self.account_value(request, "account_information")
        bank = self.account_value(request, "acquiring_bank")
        self._check_optional("account.account_information", information,
                             ACCOUNT_INFORMATION_CHARACTERS_MAX)
        self._check_optional("account.acquiring_bank", bank, ACQUIRING_BANK_CHARACTERS_MAX)
        return account_template(INDIVIDUAL_ID, [("00", bakong_id), ("01", information),
                                                ("02", bank)])

    def _merchant(self, request: QrRequest, bakong_id: str) -> DataObject:
        if "account_information" in request.account:
            raise self.refuse("account.account_information", "individual_only",
                              request.account["account_information"],
                              "a merchant's KHQR carries a merchant ID instead")
        merchant_id = self.account_value(request, "merchant_id", required=True) or ""
        bank = self.account_value(request, "acquiring_bank", required=True) or ""
        self._check_text("account.merchant_id", merchant_id, MERCHANT_ID_CHARACTERS_MAX)
        self._check_text("account.acquiring_bank", bank, ACQUIRING_BANK_CHARACTERS_MAX)
        return account_template(MERCHANT_ID, [("00", bakong_id), ("01", merchant_id),
                                              ("02", bank)])

    def _check_text(self, field: str, value: str, maximum: int) -> None:
        self.check_length(field, value, maximum)
        self.check_characters(field, value)

    def _check_optional(self, field: str, value: str | None, maximum: int) -> None:
        if value is not None:
            self._check_text(field, value, maximum)

    def scheme_objects(self, request: QrRequest) -> list[DataObject]:
        """Template 99 with the creation and expiry times of a dynamic code."""
        created = request.account.get("created_at_ms")
        expires = request.account.get("expires_at_ms")
        if created is None or expires is None:
            return []
        return [template(TIMESTAMP_TEMPLATE_ID, [primitive("00", created),
                                                 primitive("01", expires)])]


PROFILE = Khqr()
