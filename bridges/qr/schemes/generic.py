"""The generic EMVCo merchant-presented profile, for every scheme without one of its own.

Decoding reports each merchant account as path keys (`26.00`, `26.01`, or `15` for a card
network's primitive); encoding takes the same keys. EMVCo makes the merchant category code,
name, city and country mandatory; a template in 26-51 must start with its globally unique
identifier (sub-ID 00).
"""

from __future__ import annotations

import re
from itertools import groupby

from bridges.qr import emv
from bridges.qr.payload import MerchantPayload
from bridges.qr.request import QrRequest
from bridges.qr.schemes.profile import (
    MERCHANT_CATEGORY_CODE,
    MERCHANT_CITY,
    MERCHANT_NAME,
    Profile,
)
from bridges.qr.tlv import DataObject, primitive, template

ACCOUNT_KEY = re.compile(r"(?P<id>[0-9]{2})(\.(?P<sub>[0-9]{2}))?")


class Emv(Profile):
    """Any EMVCo merchant-presented payload; accounts as `ID` or `ID.sub-ID` keys."""

    name = "emv"
    title = "EMVCo merchant-presented mode (generic)"
    required = frozenset({MERCHANT_NAME, MERCHANT_CITY, MERCHANT_CATEGORY_CODE})

    def recognises(self, objects: tuple[DataObject, ...]) -> bool:
        """Every payload: this profile is the last resort."""
        del objects
        return True

    def read_account(self, payload: MerchantPayload) -> dict[str, str]:
        """Each merchant account's values by path: `15`, `29.00`, `29.05`, …."""
        fields: dict[str, str] = {}
        for item in payload.merchant_accounts:
            if item.children is None:
                fields[item.id] = item.value
            else:
                fields.update({f"{item.id}.{child.id}": child.value for child in item.children})
        return fields

    def defaults(self, request: QrRequest) -> QrRequest:
        """Nothing to assume: EMVCo leaves currency and country to the merchant."""
        return request

    def account_objects(self, request: QrRequest) -> list[DataObject]:
        """Primitives 02-25 and templates 26-51 from the path keys."""
        parsed = sorted(self._parse_key(key) for key in request.account)
        if not parsed:
            raise self.refuse("account", "required", "",
                              "give at least one merchant account, e.g. 26.00 and 26.01")
        objects = []
        for object_id, group in groupby(parsed, key=lambda pair: pair[0]):
            subs = [sub_id for _id, sub_id in group]
            objects.append(self._account(request, object_id, subs))
        return objects

    def _parse_key(self, key: str) -> tuple[str, str]:
        match = ACCOUNT_KEY.fullmatch(key)
        object_id = match.group("id") if match else ""
        sub_id = (match.group("sub") or "") if match else ""
        if object_id in emv.CARD_NETWORK_IDS and not sub_id:
            return object_id, sub_id
        if object_id in emv.ACCOUNT_TEMPLATE_IDS and sub_id:
            return object_id, sub_id
        raise self.refuse(f"account.{key}", "account_key", key,
                          "must be an ID from 02 to 25, or ID.sub-ID with an ID from 26 to 51")

    def _account(self, request: QrRequest, object_id: str, subs: list[str]) -> DataObject:
        if object_id in emv.CARD_NETWORK_IDS:
            value = request.account[object_id]
            self.check_characters(f"account.{object_id}", value)
            return primitive(object_id, value)
        if emv.GLOBALLY_UNIQUE_IDENTIFIER not in subs:
            raise self.refuse(f"account.{object_id}.00", "required", "",
                              "a merchant account template starts with its globally unique "
                              "identifier")
        children = []
        for sub_id in subs:
            key = f"{object_id}.{sub_id}"
            self.check_characters(f"account.{key}", request.account[key])
            children.append(primitive(sub_id, request.account[key]))
        return template(object_id, children)


PROFILE = Emv()
