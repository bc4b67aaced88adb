"""VietQR, Vietnam's interbank transfer QR run by NAPAS.

Facts from the NAPAS VietQR specification (IBFT to account or card) and open-source generators
(`subiz/vietqr`, `giautm/emvqr-go`): the account sits in ID 38 with the AID `A000000727` (00), a
nested template (01) holding the bank's six-digit BIN (00) and the account or card number (01,
up to 19 characters), and the service code (02): `QRIBFTTA` to an account, `QRIBFTTC` to a
card. The currency is the dong (704, no minor unit) and the country VN; purpose of transaction
(62.08) carries the transfer description.
"""

from __future__ import annotations

import re
from typing import ClassVar

from bridges.qr.payload import MerchantPayload
from bridges.qr.request import QrRequest
from bridges.qr.schemes.profile import Profile, find_template
from bridges.qr.tlv import DataObject, Path, primitive, template

ACCOUNT_ID = "38"
APPLICATION_IDENTIFIER = "A000000727"
BENEFICIARY_ID = "01"
SERVICE_CODE_ID = "02"
TO_ACCOUNT = "QRIBFTTA"
TO_CARD = "QRIBFTTC"
# Account key of the number, by service code.
NUMBER_KEYS = {TO_ACCOUNT: "account_number", TO_CARD: "card_number"}
BIN = re.compile(r"[0-9]{6}")
NUMBER = re.compile(r"[0-9A-Za-z]{1,19}")


class VietQr(Profile):
    """VietQR: NAPAS AID, BIN and account or card number in template 38."""

    name = "vietqr"
    title = "VietQR (Vietnam, NAPAS)"
    country = "VN"
    currencies = ("VND",)
    nested_templates = (("38", "01"),)
    account_keys = frozenset({"napas_bin", "account_number", "card_number", "service_code"})
    field_names: ClassVar[dict[Path, str]] = {
        ("38", "01"): "beneficiary_organization", ("38", "01", "00"): "napas_bin",
        ("38", "01", "01"): "account_or_card_number", ("38", "02"): "service_code",
    }

    def recognises(self, objects: tuple[DataObject, ...]) -> bool:
        """Template 38 carrying NAPAS's AID."""
        return _account(objects) is not None

    def read_account(self, payload: MerchantPayload) -> dict[str, str]:
        """BIN, the account or card number (named after the service code) and the code."""
        account = _account(payload.objects)
        if account is None:
            return {}
        beneficiary = account.child(BENEFICIARY_ID)
        service = account.child_value(SERVICE_CODE_ID)
        number_key = NUMBER_KEYS.get(service or "", "account_or_card_number")
        fields = {"napas_bin": beneficiary.child_value("00") if beneficiary else None,
                  number_key: beneficiary.child_value("01") if beneficiary else None,
                  "service_code": service}
        return {key: value for key, value in fields.items() if value is not None}

    def account_objects(self, request: QrRequest) -> list[DataObject]:
        """Template 38: AID, beneficiary (BIN and number), service code."""
        bank = self.account_value(request, "napas_bin", required=True) or ""
        self.check_pattern("account.napas_bin", bank, BIN, "the bank's six-digit NAPAS BIN")
        service, number = self._number(request)
        return [template(ACCOUNT_ID, [
            primitive("00", APPLICATION_IDENTIFIER),
            template(BENEFICIARY_ID, [primitive("00", bank), primitive("01", number)]),
            primitive(SERVICE_CODE_ID, service),
        ])]

    def _number(self, request: QrRequest) -> tuple[str, str]:
        given = [(code, key) for code, key in NUMBER_KEYS.items() if key in request.account]
        if len(given) != 1:
            raise self.refuse("account", "one_number",
                              ", ".join(key for _code, key in given) or "none",
                              "give exactly one of account_number and card_number")
        service, key = given[0]
        asked = request.account.get("service_code", service)
        if asked != service:
            raise self.refuse("account.service_code", "matches_number", asked,
                              f"{key} goes with service code {service}")
        number = request.account[key]
        self.check_pattern(f"account.{key}", number, NUMBER,
                           "letters and digits, at most 19 characters")
        return service, number


def _account(objects: tuple[DataObject, ...]) -> DataObject | None:
    return find_template(objects, frozenset({ACCOUNT_ID}), frozenset({APPLICATION_IDENTIFIER}))


PROFILE = VietQr()
