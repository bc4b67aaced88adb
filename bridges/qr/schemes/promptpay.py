"""PromptPay, Thailand's Thai QR Code payments (Bank of Thailand, National ITMX).

Facts from the Thai QR Code payment standard as implemented by `dtinth/promptpay-qr` and
`maythiwat/promptparse`: a credit transfer sits in ID 29 with AID `A000000677010111` and exactly
one proxy, a mobile number written `0066` + nine digits (01), a national ID or tax ID of 13
digits (02), an e-wallet ID of 15 digits (03) or a bank account (04); a bill payment sits in ID
30 with AID `A000000677010112`, a 15-digit biller ID (tax ID and a two-digit suffix, 01) and
references 1 (02, mandatory) and 2 (03) of up to 20 characters. PromptPay settles only in baht.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import ClassVar

from bridges.qr.payload import MerchantPayload
from bridges.qr.request import QrRequest
from bridges.qr.schemes.profile import Profile, account_template, find_template
from bridges.qr.tlv import DataObject, Path

CREDIT_TRANSFER_ID = "29"
BILL_PAYMENT_ID = "30"
CREDIT_TRANSFER_AID = "A000000677010111"
BILL_PAYMENT_AID = "A000000677010112"
CREDIT_TRANSFER = "credit_transfer"
BILL_PAYMENT = "bill_payment"

# The proxies of a credit transfer: sub-ID, account key, form, description.
PROXIES: tuple[tuple[str, str, re.Pattern[str], str], ...] = (
    ("01", "promptpay_mobile", re.compile(r"0066[0-9]{9}"),
     "a mobile number written 0066 and nine digits (13 digits)"),
    ("02", "promptpay_national_id", re.compile(r"[0-9]{13}"),
     "a national ID or tax ID of 13 digits"),
    ("03", "promptpay_ewallet_id", re.compile(r"[0-9]{15}"), "an e-wallet ID of 15 digits"),
    ("04", "promptpay_bank_account", re.compile(r"[0-9]{1,43}"),
     "a bank account of up to 43 digits"),
)
BILLER_ID = re.compile(r"[0-9]{15}")
REFERENCE_CHARACTERS_MAX = 20

_SEPARATORS = re.compile(r"[\s-]")


def normalise_mobile(number: str) -> str:
    """A Thai mobile number in the form PromptPay writes it: `081-234-5678` → `0066812345678`.

    Leaves anything that is not a plausible Thai number as it is, for the format rule to refuse.
    """
    digits = _SEPARATORS.sub("", number)
    for prefix in ("+66", "0066", "66"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 9:
            return "0066" + digits[len(prefix):]
    if digits.startswith("0") and len(digits) == 10:
        return "0066" + digits[1:]
    return number


class PromptPay(Profile):
    """PromptPay credit transfer (29) and bill payment (30)."""

    name = "promptpay"
    title = "PromptPay (Thailand)"
    country = "TH"
    currencies = ("THB",)
    account_keys = frozenset({"service", "promptpay_biller_id", "promptpay_reference_1",
                              "promptpay_reference_2"} | {proxy[1] for proxy in PROXIES})
    field_names: ClassVar[dict[Path, str]] = {
        **{("29", sub_id): key for sub_id, key, _pattern, _what in PROXIES},
        ("30", "01"): "promptpay_biller_id", ("30", "02"): "promptpay_reference_1",
        ("30", "03"): "promptpay_reference_2",
    }

    def recognises(self, objects: tuple[DataObject, ...]) -> bool:
        """A template 29 or 30 carrying one of PromptPay's AIDs."""
        return _account(objects) is not None

    def read_account(self, payload: MerchantPayload) -> dict[str, str]:
        """The service and its proxy, or the biller ID and references."""
        account = _account(payload.objects)
        if account is None:
            return {}
        if account.id == BILL_PAYMENT_ID:
            fields = {"service": BILL_PAYMENT,
                      "promptpay_biller_id": account.child_value("01"),
                      "promptpay_reference_1": account.child_value("02"),
                      "promptpay_reference_2": account.child_value("03")}
        else:
            fields = {"service": CREDIT_TRANSFER}
            fields.update({key: account.child_value(sub_id)
                           for sub_id, key, _pattern, _what in PROXIES})
        return {key: value for key, value in fields.items() if value is not None}

    def defaults(self, request: QrRequest) -> QrRequest:
        """Baht and Thailand; a mobile number written the local way is rewritten as 0066…."""
        request = super().defaults(request)
        mobile = request.account.get("promptpay_mobile")
        if mobile is None:
            return request
        return replace(request, account={**request.account,
                                         "promptpay_mobile": normalise_mobile(mobile)})

    def account_objects(self, request: QrRequest) -> list[DataObject]:
        """Template 29 with the one proxy given, or 30 with the biller ID and references."""
        service = request.account.get("service") or (
            BILL_PAYMENT if "promptpay_biller_id" in request.account else CREDIT_TRANSFER)
        if service == BILL_PAYMENT:
            return [self._bill_payment(request)]
        if service != CREDIT_TRANSFER:
            raise self.refuse("account.service", "one_of", service,
                              "must be credit_transfer or bill_payment")
        return [self._credit_transfer(request)]

    def _credit_transfer(self, request: QrRequest) -> DataObject:
        given = [proxy for proxy in PROXIES if proxy[1] in request.account]
        if len(given) != 1:
            names = ", ".join(proxy[1] for proxy in PROXIES)
            raise self.refuse("account", "one_proxy", ", ".join(p[1] for p in given) or "none",
                              f"a credit transfer names exactly one of {names}")
        sub_id, key, pattern, what = given[0]
        value = request.account[key]
        self.check_pattern(f"account.{key}", value, pattern, what)
        return account_template(CREDIT_TRANSFER_ID, [("00", CREDIT_TRANSFER_AID),
                                                     (sub_id, value)])

    def _bill_payment(self, request: QrRequest) -> DataObject:
        biller = self.account_value(request, "promptpay_biller_id", required=True) or ""
        self.check_pattern("account.promptpay_biller_id", biller, BILLER_ID,
                           "15 digits: a 13-digit tax ID and a 2-digit suffix")
        first = self.account_value(request, "promptpay_reference_1", required=True) or ""
        second = self.account_value(request, "promptpay_reference_2")
        for key, value in (("promptpay_reference_1", first), ("promptpay_reference_2", second)):
            if value is not None:
                self.check_length(f"account.{key}", value, REFERENCE_CHARACTERS_MAX)
                self.check_characters(f"account.{key}", value)
        return account_template(BILL_PAYMENT_ID, [("00", BILL_PAYMENT_AID), ("01", biller),
                                                  ("02", first), ("03", second)])


def _account(objects: tuple[DataObject, ...]) -> DataObject | None:
    return find_template(objects, frozenset({CREDIT_TRANSFER_ID, BILL_PAYMENT_ID}),
                         frozenset({CREDIT_TRANSFER_AID, BILL_PAYMENT_AID}))


PROFILE = PromptPay()
