"""DuitNow QR, Malaysia's national QR standard run by PayNet (Payments Network Malaysia).

Facts from PayNet's DuitNow QR Merchant-Presented Mode specification (v1.5, developer portal):
the payload format indicator is version "02"; the account sits in ID 26 (27 is reserved) with
the application identifier `A0000006150001` (00), the acquirer ID (01, six digits in PayNet's
examples, e.g. 501664 for Affin Bank) and the QR ID, a merchant or recipient ID (02). Merchant
category code, name and city are mandatory, MCC 0000 marks person-to-person codes, and the
currency is the ringgit (458).
"""

from __future__ import annotations

import re
from typing import ClassVar

from bridges.qr import emv
from bridges.qr.payload import MerchantPayload
from bridges.qr.request import QrRequest
from bridges.qr.schemes.profile import (
    MERCHANT_CATEGORY_CODE,
    MERCHANT_CITY,
    MERCHANT_NAME,
    Profile,
    account_template,
    find_template,
)
from bridges.qr.tlv import DataObject, Path

ACCOUNT_ID = "26"
APPLICATION_IDENTIFIER = "A0000006150001"
ACQUIRER_ID = re.compile(r"[0-9]{6}")
# What is left of a 99-character template after the AID (18) and the acquirer ID (10), less
# the header of the QR ID itself.
QR_ID_CHARACTERS_MAX = 67


class DuitNow(Profile):
    """DuitNow QR: PayNet's AID, acquirer and QR ID in template 26, format version 02."""

    name = "duitnow"
    title = "DuitNow QR (Malaysia, PayNet)"
    country = "MY"
    currencies = ("MYR",)
    format_indicator = "02"
    required = frozenset({MERCHANT_NAME, MERCHANT_CITY, MERCHANT_CATEGORY_CODE})
    account_keys = frozenset({"duitnow_acquirer_id", "duitnow_qr_id"})
    field_names: ClassVar[dict[Path, str]] = {("26", "01"): "duitnow_acquirer_id",
                                              ("26", "02"): "duitnow_qr_id"}

    def recognises(self, objects: tuple[DataObject, ...]) -> bool:
        """A merchant account template carrying PayNet's AID."""
        return _account(objects) is not None

    def read_account(self, payload: MerchantPayload) -> dict[str, str]:
        """The acquirer ID and the QR ID."""
        account = _account(payload.objects)
        if account is None:
            return {}
        fields = {"duitnow_acquirer_id": account.child_value("01"),
                  "duitnow_qr_id": account.child_value("02")}
        return {key: value for key, value in fields.items() if value is not None}

    def account_objects(self, request: QrRequest) -> list[DataObject]:
        """Template 26: AID, acquirer ID, QR ID."""
        acquirer = self.account_value(request, "duitnow_acquirer_id", required=True) or ""
        self.check_pattern("account.duitnow_acquirer_id", acquirer, ACQUIRER_ID, "six digits")
        qr_id = self.account_value(request, "duitnow_qr_id", required=True) or ""
        self.check_length("account.duitnow_qr_id", qr_id, QR_ID_CHARACTERS_MAX)
        self.check_characters("account.duitnow_qr_id", qr_id)
        return [account_template(ACCOUNT_ID, [("00", APPLICATION_IDENTIFIER), ("01", acquirer),
                                              ("02", qr_id)])]


def _account(objects: tuple[DataObject, ...]) -> DataObject | None:
    return find_template(objects, emv.ACCOUNT_TEMPLATE_IDS, frozenset({APPLICATION_IDENTIFIER}))


PROFILE = DuitNow()
