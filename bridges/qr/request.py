"""What to encode: the merchant, the amount and the scheme's account fields.

A `QrRequest` mirrors the decoded JSON: `account` takes the same keys that decoding reports for
the scheme (`bakong_account_id`, `promptpay_mobile`, `napas_bin`, …), and `additional` the same
keys as the decoded `additional` object (`bill_number`, `store_label`, …). Amounts are decimal
text (`"12.50"`), never floats. Unset fields take the scheme's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bridges.qr.payload import Initiation


@dataclass(frozen=True, slots=True)
class QrRequest:
    """Everything an encoder needs; `scheme` is one of `schemes.SCHEME_NAMES`."""

    scheme: str
    account: Mapping[str, str]
    merchant_name: str | None = None
    merchant_city: str | None = None
    currency: str | None = None
    amount: str | None = None
    initiation: Initiation | None = None
    merchant_category_code: str | None = None
    country: str | None = None
    postal_code: str | None = None
    additional: Mapping[str, str] = field(default_factory=dict)
    language: Mapping[str, str] = field(default_factory=dict)

    def with_defaults(self, *, merchant_name: str | None = None,
                      merchant_city: str | None = None, currency: str | None = None,
                      merchant_category_code: str | None = None,
                      country: str | None = None) -> QrRequest:
        """This request with each field that is unset (None) here set to the given default."""
        return replace(
            self,
            merchant_name=_first(self.merchant_name, merchant_name),
            merchant_city=_first(self.merchant_city, merchant_city),
            currency=_first(self.currency, currency),
            merchant_category_code=_first(self.merchant_category_code, merchant_category_code),
            country=_first(self.country, country),
        )


def _first(given: str | None, default: str | None) -> str | None:
    return given if given is not None else default
