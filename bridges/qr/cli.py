"""`earmark qr`: decode and encode EMVCo merchant-presented QR codes on the command line.

`qr_app` is a Typer sub-application; `node/cli.py` mounts it as `earmark qr`. Exit codes follow
the rest of the CLI: 0 success, 1 a payload or image that cannot be read or a refused request
(the message names offset and tag, expected and found CRC, or field, rule and value), 2 wrong
usage of the command.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bridges.qr import images
from bridges.qr.decode import decode as decode_payload
from bridges.qr.encode import encode as encode_payload
from bridges.qr.errors import QrError
from bridges.qr.payload import DecodedQr, Initiation
from bridges.qr.request import QrRequest
from bridges.qr.schemes import SCHEME_NAMES, profile

qr_app = typer.Typer(
    help="Read and write EMVCo merchant-presented QR codes: KHQR, PromptPay, DuitNow, VietQR, "
         "SGQR/PayNow and generic EMV.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Markup is off: payloads and merchant names are outside text and print as written.
_out = Console(highlight=False, soft_wrap=True, markup=False)
_err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

# What `--account` means for each scheme, by `--account-type` (None: the default type).
_ACCOUNT_KEYS: dict[str, dict[str | None, str]] = {
    "khqr": {None: "bakong_account_id"},
    "promptpay": {"mobile": "promptpay_mobile", "national-id": "promptpay_national_id",
                  "ewallet": "promptpay_ewallet_id", "bank-account": "promptpay_bank_account",
                  "biller": "promptpay_biller_id"},
    "duitnow": {None: "duitnow_qr_id"},
    "vietqr": {None: "account_number", "account": "account_number", "card": "card_number"},
    "sgqr": {None: "paynow_proxy_value", "mobile": "paynow_proxy_value",
             "uen": "paynow_proxy_value"},
    "emv": {None: "26.01"},
}
# Scheme-specific options and the account key each fills, per scheme.
_OPTION_KEYS: dict[str, dict[str, str]] = {
    "--bank": {"khqr": "acquiring_bank", "duitnow": "duitnow_acquirer_id", "vietqr": "napas_bin"},
    "--merchant-id": {"khqr": "merchant_id"},
    "--reference": {"promptpay": "promptpay_reference_1"},
    "--reference2": {"promptpay": "promptpay_reference_2"},
    "--guid": {"emv": "26.00"},
}
_PROMPTPAY_LENGTHS = {13: "national-id", 15: "ewallet"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _fail(problem: QrError, as_json: bool) -> typer.Exit:
    _err.print(f"error: {problem}")
    if as_json:
        _out.print_json(json.dumps({"error": problem.to_json()}))
    return typer.Exit(1)


@qr_app.command()
def decode(
    payload: Annotated[str | None, typer.Argument(help="The payload text of a QR code.")] = None,
    image: Annotated[Path | None, typer.Option(
        help="Read the payload from a picture (PNG, JPEG, …) of the QR code.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    ignore_crc: Annotated[bool, typer.Option(
        "--ignore-crc", help="Decode even when the CRC is wrong (reported as crc_valid).")] = False,
) -> None:
    """Decode a payload (or a picture of one): scheme, merchant, amount, account, tag tree."""
    if (payload is None) == (image is None):
        raise typer.BadParameter("give either a PAYLOAD or --image FILE")
    try:
        text = images.read_payload(image) if image is not None else (payload or "").strip()
        decoded = decode_payload(text, verify_crc=not ignore_crc)
    except QrError as problem:
        raise _fail(problem, as_json) from None
    if as_json:
        _out.print_json(json.dumps(decoded.to_json(), ensure_ascii=False))
    else:
        _print_summary(decoded)
    if not decoded.crc_valid:
        _err.print(f"warning: CRC expected {decoded.crc_expected}, found {decoded.merchant.crc}")


def _print_summary(decoded: DecodedQr) -> None:
    shape = decoded.to_json()
    merchant = decoded.merchant
    where = ", ".join(part for part in (merchant.merchant_city, merchant.country) if part)
    amount = f"{shape['amount']} {shape['currency']}" if shape["amount"] else (
        f"entered by the payer ({shape['currency']})")
    lines = [("scheme", f"{decoded.scheme} ({profile(decoded.scheme).title})"),
             ("initiation", str(shape["initiation"] or "not stated")),
             ("merchant", f"{merchant.merchant_name or '(no name)'}"
                          f"{f' — {where}' if where else ''}"),
             ("mcc", str(shape["mcc"] or "none")), ("amount", amount)]
    lines += _pairs("account", decoded.account)
    lines += _pairs("additional", merchant.additional)
    lines += _pairs("language", merchant.language)
    verdict = "valid" if decoded.crc_valid else f"WRONG, expected {decoded.crc_expected}"
    lines.append(("crc", f"{merchant.crc} ({verdict})"))
    for label, value in lines:
        _out.print(f"{label:<11} {value}")


def _pairs(label: str, values: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(label if index == 0 else "", f"{key} = {value}")
            for index, (key, value) in enumerate(values.items())]


@qr_app.command()
def encode(  # noqa: PLR0917 - Typer maps each option to one parameter
    scheme: Annotated[str, typer.Option(help=f"One of: {', '.join(SCHEME_NAMES)}.")],
    account: Annotated[str | None, typer.Option(
        help="The scheme's account: Bakong ID, PromptPay proxy or biller ID, DuitNow QR ID, "
             "VietQR account or card number, PayNow mobile or UEN, or 26.01 for emv.")] = None,
    account_type: Annotated[str | None, typer.Option(
        help="What --account is: promptpay mobile|national-id|ewallet|bank-account|biller, "
             "vietqr account|card, sgqr mobile|uen.")] = None,
    merchant_name: Annotated[str | None, typer.Option(help="Merchant name (ID 59).")] = None,
    city: Annotated[str | None, typer.Option(help="Merchant city (ID 60).")] = None,
    amount: Annotated[str | None, typer.Option(help='Amount as a decimal, e.g. "12.50".')] = None,
    currency: Annotated[str | None, typer.Option(help="ISO 4217 code, e.g. KHR.")] = None,
    mcc: Annotated[str | None, typer.Option(help="Merchant category code (ID 52).")] = None,
    country: Annotated[str | None, typer.Option(help="ISO 3166 country (ID 58).")] = None,
    initiation: Annotated[Initiation | None, typer.Option(
        help="static or dynamic; default dynamic exactly when there is an amount.")] = None,
    bank: Annotated[str | None, typer.Option(
        help="KHQR acquiring bank, DuitNow acquirer ID or VietQR NAPAS BIN.")] = None,
    merchant_id: Annotated[str | None, typer.Option(help="KHQR merchant ID.")] = None,
    reference: Annotated[str | None, typer.Option(help="PromptPay bill reference 1.")] = None,
    reference2: Annotated[str | None, typer.Option(help="PromptPay bill reference 2.")] = None,
    guid: Annotated[str | None, typer.Option(help="emv: identifier of template 26.")] = None,
    expires: Annotated[str | None, typer.Option(
        help="Expiry, ISO 8601: KHQR (UTC if no zone) or PayNow (YYYY-MM-DD[THH:MM:SS]).")
    ] = None,
    created: Annotated[str | None, typer.Option(
        help="KHQR creation time, ISO 8601; default now.")] = None,
    editable: Annotated[bool | None, typer.Option(
        "--editable/--not-editable", help="PayNow: may the payer change the amount?")] = None,
    bill_number: Annotated[str | None, typer.Option(help="Bill number (62.01).")] = None,
    mobile_number: Annotated[str | None, typer.Option(help="Mobile number (62.02).")] = None,
    store_label: Annotated[str | None, typer.Option(help="Store label (62.03).")] = None,
    terminal_label: Annotated[str | None, typer.Option(help="Terminal label (62.07).")] = None,
    purpose: Annotated[str | None, typer.Option(help="Purpose of transaction (62.08).")] = None,
    language: Annotated[str | None, typer.Option(
        help="Language of the alternate name and city (64.00), e.g. KM.")] = None,
    alternate_name: Annotated[str | None, typer.Option(
        help="Merchant name in that language (64.01), any script.")] = None,
    alternate_city: Annotated[str | None, typer.Option(
        help="Merchant city in that language (64.02), any script.")] = None,
    account_field: Annotated[list[str] | None, typer.Option(
        help="Any account field KEY=VALUE, as decode --json names it (repeatable).")] = None,
    png: Annotated[Path | None, typer.Option(help="Also write the QR code as PNG.")] = None,
    svg: Annotated[Path | None, typer.Option(help="Also write the QR code as SVG.")] = None,
) -> None:
    """Encode a payment QR payload for a scheme and print it; refuse what the scheme refuses."""
    if scheme not in SCHEME_NAMES:
        raise typer.BadParameter(f"{scheme!r} is not one of {', '.join(SCHEME_NAMES)}",
                                 param_hint="--scheme")
    fields = _account_fields(scheme, account, account_type, account_field or [])
    fields.update(_option_fields(scheme, {"--bank": bank, "--merchant-id": merchant_id,
                                          "--reference": reference, "--reference2": reference2,
                                          "--guid": guid}))
    fields.update(_time_fields(scheme, expires, created, editable))
    additional = {"bill_number": bill_number, "mobile_number": mobile_number,
                  "store_label": store_label, "terminal_label": terminal_label,
                  "purpose_of_transaction": purpose}
    alternate = {"language_preference": language,
                 "merchant_name_alternate_language": alternate_name,
                 "merchant_city_alternate_language": alternate_city}
    request = QrRequest(scheme=scheme, account=fields, merchant_name=merchant_name,
                        merchant_city=city, currency=currency, amount=amount,
                        initiation=initiation, merchant_category_code=mcc, country=country,
                        additional=_given(additional), language=_given(alternate))
    try:
        text = encode_payload(request)
        if png is not None:
            images.write_png(text, png)
        if svg is not None:
            images.write_svg(text, svg)
    except QrError as problem:
        raise _fail(problem, as_json=False) from None
    _out.print(text)


def _given(values: dict[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in values.items() if value is not None}


def _account_fields(scheme: str, account: str | None, account_type: str | None,
                    extra: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in extra:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--account-field")
        fields[key] = value
    keys = _ACCOUNT_KEYS[scheme]
    if account_type is not None and account_type not in keys:
        known = ", ".join(key for key in keys if key is not None) or "none"
        raise typer.BadParameter(f"{account_type!r} does not apply to {scheme}; known: {known}",
                                 param_hint="--account-type")
    if account is None:
        return fields
    kind = account_type
    if scheme == "promptpay" and kind is None:
        digits = "".join(character for character in account if character.isdigit())
        kind = _PROMPTPAY_LENGTHS.get(len(digits), "mobile")
    fields[keys[kind]] = account
    if scheme == "sgqr" and kind is not None:
        fields["paynow_proxy_type"] = kind
    return fields


def _option_fields(scheme: str, given: dict[str, str | None]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for option, value in given.items():
        if value is None:
            continue
        key = _OPTION_KEYS[option].get(scheme)
        if key is None:
            raise typer.BadParameter(f"does not apply to {scheme}", param_hint=option)
        fields[key] = value
    return fields


def _time_fields(scheme: str, expires: str | None, created: str | None,
                 editable: bool | None) -> dict[str, str]:
    if scheme == "khqr":
        if expires is None and created is None:
            return {}
        made = _instant(created, "--created") if created else datetime.now(UTC)
        fields = {"created_at_ms": _milliseconds(made)}
        if expires is not None:
            fields["expires_at_ms"] = _milliseconds(_instant(expires, "--expires"))
        return fields
    if scheme == "sgqr":
        fields = {} if editable is None else {"paynow_amount_editable": str(editable).lower()}
        if expires is not None:
            fields["paynow_expiry"] = _paynow_expiry(expires)
        return fields
    for option, value in (("--expires", expires), ("--created", created), ("--editable", editable)):
        if value is not None:
            raise typer.BadParameter(f"does not apply to {scheme}", param_hint=option)
    return {}


def _instant(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 date and time",
                                 param_hint=option) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _milliseconds(moment: datetime) -> str:
    # Integer arithmetic on timedeltas: exact, where timestamp() would go through a float.
    return str((moment - _EPOCH) // timedelta(milliseconds=1))


def _paynow_expiry(text: str) -> str:
    try:
        if len(text) == len("2030-12-31"):
            return date.fromisoformat(text).strftime("%Y%m%d")
        return datetime.fromisoformat(text).strftime("%Y%m%d%H%M%S")
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS",
                                 param_hint="--expires") from None
