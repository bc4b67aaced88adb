"""A decoded merchant-presented payload: the scheme-independent fields and the tag tree.

`MerchantPayload` holds what EMVCo defines for every scheme (initiation, merchant, currency,
amount, additional data, language template); `DecodedQr` adds the recognised scheme, the
scheme's account fields and the checksum verdict, and turns it all into the JSON of
`earmark qr decode --json`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bridges.qr import emv
from bridges.qr.money import AmountMinor, Currency
from bridges.qr.tlv import DataObject, Path


class Initiation(StrEnum):
    """Point of initiation: one code for many payments (static) or one per payment (dynamic)."""

    STATIC = "static"
    DYNAMIC = "dynamic"


INITIATION_BY_CODE = {"11": Initiation.STATIC, "12": Initiation.DYNAMIC}
CODE_BY_INITIATION = {initiation: code for code, initiation in INITIATION_BY_CODE.items()}


class TipKind(StrEnum):
    """What ID 55 asks of the payer: to enter a tip, or to pay a fixed or percentage fee."""

    PROMPT = "prompt"
    FIXED = "fixed"
    PERCENTAGE = "percentage"


TIP_BY_CODE = {"01": TipKind.PROMPT, "02": TipKind.FIXED, "03": TipKind.PERCENTAGE}


@dataclass(frozen=True, slots=True)
class Tip:
    """ID 55 with the fee of 56 (fixed, in the transaction currency) or 57 (percentage)."""

    kind: TipKind
    fee: str | None


@dataclass(frozen=True, slots=True)
class MerchantPayload:
    """What EMVCo defines for every payload, read from the tag tree; absent fields are None."""

    format_indicator: str
    initiation: Initiation | None
    currency: Currency
    amount: Decimal | None
    amount_minor: AmountMinor | None
    merchant_category_code: str | None
    country: str | None
    merchant_name: str | None
    merchant_city: str | None
    postal_code: str | None
    tip: Tip | None
    additional: Mapping[str, str]
    language: Mapping[str, str]
    crc: str
    objects: tuple[DataObject, ...]

    def get(self, object_id: str) -> DataObject | None:
        """The root data object with this ID, or None."""
        for item in self.objects:
            if item.id == object_id:
                return item
        return None

    @property
    def merchant_accounts(self) -> tuple[DataObject, ...]:
        """The merchant account information objects (IDs 02-51), in payload order."""
        return tuple(item for item in self.objects if item.id in emv.MERCHANT_ACCOUNT_IDS)

    @property
    def amount_text(self) -> str | None:
        """The amount with exactly the currency's minor unit digits (`5000.00`), or None."""
        if self.amount is None:
            return None
        return f"{self.amount:.{self.currency.exponent}f}"


@dataclass(frozen=True, slots=True)
class DecodedQr:
    """A payload read end to end: the scheme it belongs to and everything it says."""

    text: str
    scheme: str
    merchant: MerchantPayload
    account: Mapping[str, str]
    crc_valid: bool
    crc_expected: str
    field_names: Mapping[Path, str]

    def to_json(self) -> dict[str, object]:
        """The object that `earmark qr decode --json` prints."""
        merchant = self.merchant
        return {
            "scheme": self.scheme,
            "initiation": merchant.initiation.value if merchant.initiation else None,
            "merchant_name": merchant.merchant_name,
            "merchant_city": merchant.merchant_city,
            "postal_code": merchant.postal_code,
            "country": merchant.country,
            "currency": merchant.currency.alpha,
            "amount": merchant.amount_text,
            "amount_minor": merchant.amount_minor,
            "mcc": merchant.merchant_category_code,
            "tip": _tip_json(merchant.tip),
            "account": dict(self.account),
            "additional": dict(merchant.additional),
            "language": dict(merchant.language) or None,
            "format_indicator": merchant.format_indicator,
            "crc": merchant.crc,
            "crc_expected": self.crc_expected,
            "crc_valid": self.crc_valid,
            "fields": [_field_json(item, (), self.field_names) for item in merchant.objects],
        }


def _tip_json(tip: Tip | None) -> dict[str, object] | None:
    return None if tip is None else {"kind": tip.kind.value, "fee": tip.fee}


def _field_json(item: DataObject, parent: Path,
                names: Mapping[Path, str]) -> dict[str, object]:
    path = (*parent, item.id)
    shape: dict[str, object] = {"id": item.id, "name": names.get(path) or emv.name_of(path),
                                "length": len(item.value)}
    if item.children is None:
        shape["value"] = item.value
    else:
        shape["fields"] = [_field_json(child, path, names) for child in item.children]
    return shape
