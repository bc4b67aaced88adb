"""SGQR with PayNow, Singapore's unified QR code and its bank transfer scheme.

Facts from the PayNow QR field table published with PayNow generators (`ThunderQuoteTeam/
PaynowQR`, `paynow-generator`, the francolifeproject PayNow QR page): the PayNow account sits in
ID 26 with the identifier `SG.PAYNOW` (00), the proxy type (01: 0 mobile, 2 UEN), the proxy value
(02, up to 16 characters: `+65` and eight digits, or a UEN), whether the payer may edit the
amount (03: 1 yes, 0 no) and an optional expiry (04: YYYYMMDD, or YYYYMMDDHHMMSS). An SGQR label
adds template 51 with `SG.SGQR` and the SGQR ID (01). MCC 0000 is used for PayNow and the
currency is the Singapore dollar (702); PayNow accepts nothing else.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import ClassVar

from bridges.qr import emv
from bridges.qr.payload import MerchantPayload
from bridges.qr.request import QrRequest
from bridges.qr.schemes.profile import Profile, account_template, find_template
from bridges.qr.tlv import DataObject, Path

PAYNOW_IDENTIFIER = "SG.PAYNOW"
SGQR_IDENTIFIER = "SG.SGQR"
ACCOUNT_ID = "26"
PROXY_TYPES = {"mobile": "0", "uen": "2"}
PROXY_NAMES = {code: name for name, code in PROXY_TYPES.items()}
PROXY_FORMS = {
    "mobile": (re.compile(r"\+65[89][0-9]{7}"), "+65 and an eight-digit number starting 8 or 9"),
    "uen": (re.compile(r"[0-9A-Z]{9,10}"), "a UEN of 9 or 10 capital letters and digits"),
}
EDITABLE = {"true": "1", "false": "0"}
EDITABLE_NAMES = {code: name for name, code in EDITABLE.items()}
EXPIRY_FORMATS = {8: "%Y%m%d", 14: "%Y%m%d%H%M%S"}
DEFAULT_MERCHANT_NAME = "NA"  # what PayNow generators write when no name is given
DEFAULT_CITY = "Singapore"
DEFAULT_MERCHANT_CATEGORY_CODE = "0000"


class Sgqr(Profile):
    """SGQR with a PayNow account in template 26."""

    name = "sgqr"
    title = "SGQR / PayNow (Singapore)"
    country = "SG"
    currencies = ("SGD",)
    account_keys = frozenset({"paynow_proxy_type", "paynow_proxy_value",
                              "paynow_amount_editable", "paynow_expiry"})
    field_names: ClassVar[dict[Path, str]] = {
        ("26", "01"): "paynow_proxy_type", ("26", "02"): "paynow_proxy_value",
        ("26", "03"): "paynow_amount_editable", ("26", "04"): "paynow_expiry",
        ("51", "01"): "sgqr_id",
    }

    def recognises(self, objects: tuple[DataObject, ...]) -> bool:
        """A template with `SG.PAYNOW` or `SG.SGQR` as its identifier."""
        return find_template(objects, emv.ACCOUNT_TEMPLATE_IDS,
                             frozenset({PAYNOW_IDENTIFIER, SGQR_IDENTIFIER})) is not None

    def read_account(self, payload: MerchantPayload) -> dict[str, str]:
        """The PayNow proxy, the editable flag and expiry; the SGQR ID when labelled."""
        fields: dict[str, str | None] = {}
        paynow = find_template(payload.objects, emv.ACCOUNT_TEMPLATE_IDS,
                               frozenset({PAYNOW_IDENTIFIER}))
        if paynow is not None:
            proxy_type = paynow.child_value("01")
            editable = paynow.child_value("03")
            fields["paynow_proxy_type"] = PROXY_NAMES.get(proxy_type or "", proxy_type)
            fields["paynow_proxy_value"] = paynow.child_value("02")
            fields["paynow_amount_editable"] = EDITABLE_NAMES.get(editable or "", editable)
            fields["paynow_expiry"] = paynow.child_value("04")
        label = find_template(payload.objects, emv.ACCOUNT_TEMPLATE_IDS,
                              frozenset({SGQR_IDENTIFIER}))
        fields["sgqr_id"] = label.child_value("01") if label is not None else None
        return {key: value for key, value in fields.items() if value is not None}

    def defaults(self, request: QrRequest) -> QrRequest:
        """MCC 0000, city Singapore and name NA unless given, as PayNow generators write."""
        return super().defaults(request).with_defaults(
            merchant_name=DEFAULT_MERCHANT_NAME, merchant_city=DEFAULT_CITY,
            merchant_category_code=DEFAULT_MERCHANT_CATEGORY_CODE)

    def account_objects(self, request: QrRequest) -> list[DataObject]:
        """Template 26: SG.PAYNOW, proxy type and value, editable flag, expiry."""
        value = self.account_value(request, "paynow_proxy_value", required=True) or ""
        kind = request.account.get("paynow_proxy_type",
                                   "mobile" if value.startswith("+") else "uen")
        if kind not in PROXY_TYPES:
            raise self.refuse("account.paynow_proxy_type", "one_of", kind,
                              "must be mobile or uen")
        pattern, what = PROXY_FORMS[kind]
        self.check_pattern("account.paynow_proxy_value", value, pattern, what)
        default_editable = "false" if request.amount is not None else "true"
        editable = request.account.get("paynow_amount_editable", default_editable)
        if editable not in EDITABLE:
            raise self.refuse("account.paynow_amount_editable", "one_of", editable,
                              "must be true or false")
        expiry = self.account_value(request, "paynow_expiry")
        if expiry is not None:
            self._check_expiry(expiry)
        return [account_template(ACCOUNT_ID, [
            ("00", PAYNOW_IDENTIFIER), ("01", PROXY_TYPES[kind]), ("02", value),
            ("03", EDITABLE[editable]), ("04", expiry)])]

    def _check_expiry(self, expiry: str) -> None:
        form = EXPIRY_FORMATS.get(len(expiry))
        if form is None or not expiry.isdigit():
            raise self.refuse("account.paynow_expiry", "format", expiry,
                              "must be YYYYMMDD or YYYYMMDDHHMMSS")
        try:
            datetime.strptime(expiry, form)
        except ValueError:
            raise self.refuse("account.paynow_expiry", "date", expiry,
                              "is not a date on the calendar") from None


PROFILE = Sgqr()
