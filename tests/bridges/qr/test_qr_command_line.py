"""`earmark qr decode` and `earmark qr encode`, through the Typer sub-application `qr_app`.

Method: `typer.testing.CliRunner` invokes `qr_app` with arguments as a user would type them
after `earmark qr`, and each test checks the exit code (0 success, 1 unreadable or refused,
2 wrong usage) and what reached stdout and stderr. (A process-level test follows once `node/cli`
mounts the sub-application.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qr_samples import SAMPLES
from typer.testing import CliRunner, Result

from bridges.qr import decode, images
from bridges.qr.cli import qr_app

KHQR = next(sample.payload for sample in SAMPLES if sample.name == "khqr_individual_dynamic")
JSON_KEYS = {"scheme", "initiation", "merchant_name", "merchant_city", "country", "currency",
             "amount", "mcc", "account", "additional", "crc_valid", "fields"}


def qr(*arguments: str | Path) -> Result:
    """Run `earmark qr ARGUMENTS` in-process and capture its output."""
    return CliRunner().invoke(qr_app, [str(argument) for argument in arguments])


def test_decode_json_has_the_documented_keys() -> None:
    """--json prints one object with every documented key and the scheme's account fields."""
    result = qr("decode", KHQR, "--json")
    assert result.exit_code == 0, result.stderr
    shape = json.loads(result.stdout)
    assert set(shape) >= JSON_KEYS
    assert (shape["scheme"], shape["currency"], shape["amount"]) == ("khqr", "KHR", "500.00")
    assert shape["account"]["bakong_account_id"] == "jonhsmith@nbcq"
    assert shape["crc_valid"] is True
    assert [field["id"] for field in shape["fields"]][-1] == "63"


def test_decode_without_json_prints_a_readable_summary() -> None:
    """The summary names scheme, merchant, amount, account fields and the CRC verdict."""
    result = qr("decode", KHQR)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["scheme", "khqr", "(KHQR", "(Cambodia,", "Bakong))"]
    assert "amount      500.00 KHR" in lines
    assert "            bakong_account_id = jonhsmith@nbcq" in lines
    assert lines[-1] == "crc         EA38 (valid)"


def test_unreadable_payload_exits_1_naming_offset_and_tag() -> None:
    """A length that overruns the payload: exit 1, stderr names the offset and tag."""
    result = qr("decode", "00020101021229180014jonhsmith")
    assert result.exit_code == 1
    assert "Q0105" in result.stderr
    assert "offset 16, tag 29" in result.stderr
    assert result.stdout == ""


def test_unreadable_payload_with_json_also_prints_the_error_object() -> None:
    """With --json the error is also one JSON object on stdout, for programs."""
    result = qr("decode", "00020101XX11", "--json")
    assert result.exit_code == 1
    problem = json.loads(result.stdout)["error"]
    assert (problem["code"], problem["offset"], problem["tag"]) == ("Q0104", 8, "01")


def test_wrong_crc_exits_1_naming_expected_and_found() -> None:
    """A changed checksum: exit 1 with both values."""
    result = qr("decode", KHQR[:-4] + "0000")
    assert result.exit_code == 1
    assert "CRC expected EA38, found 0000" in result.stderr


def test_ignore_crc_decodes_and_reports_the_mismatch() -> None:
    """--ignore-crc decodes anyway: crc_valid false in the JSON and a warning on stderr."""
    result = qr("decode", KHQR[:-4] + "0000", "--json", "--ignore-crc")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["crc_valid"] is False
    assert "expected EA38, found 0000" in result.stderr


def test_decode_reads_a_picture(tmp_path: Path) -> None:
    """--image FILE scans the picture and decodes what it holds."""
    path = tmp_path / "code.png"
    images.write_png(KHQR, path)
    result = qr("decode", "--image", path, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["account"]["bakong_account_id"] == "jonhsmith@nbcq"


def test_decode_of_a_picture_without_a_code_exits_1(tmp_path: Path) -> None:
    """A file that is not a picture: exit 1 with Q0401."""
    path = tmp_path / "notes.txt"
    path.write_text("hello", encoding="utf-8")
    result = qr("decode", "--image", path)
    assert result.exit_code == 1
    assert "Q0401" in result.stderr


@pytest.mark.parametrize("arguments", [[], ["PAYLOAD", "--image", "x.png"]],
                         ids=["neither", "both"])
def test_decode_needs_exactly_one_source(arguments: list[str]) -> None:
    """Neither or both of PAYLOAD and --image is wrong usage: exit 2."""
    result = qr("decode", *arguments)
    assert result.exit_code == 2
    assert "PAYLOAD or --image" in result.stderr


def test_encode_prints_a_payload_that_decodes_to_the_request() -> None:
    """encode prints the payload; it decodes to the scheme, amount and account asked for."""
    result = qr("encode", "--scheme", "promptpay", "--account", "081-234-5678",
                "--amount", "250.50")
    assert result.exit_code == 0, result.stderr
    decoded = decode(result.stdout.strip()).to_json()
    assert decoded["scheme"] == "promptpay"
    assert (decoded["amount"], decoded["currency"]) == ("250.50", "THB")
    assert decoded["account"] == {"service": "credit_transfer",
                                  "promptpay_mobile": "0066812345678"}


def test_encode_khqr_dynamic_with_times_and_images(tmp_path: Path) -> None:
    """A dynamic KHQR with --created/--expires, written as PNG and SVG as well."""
    png, svg = tmp_path / "khqr.png", tmp_path / "khqr.svg"
    result = qr("encode", "--scheme", "khqr", "--account", "coffee@aclb", "--merchant-name",
                "Coffee Klaing", "--amount", "5000", "--created", "2026-01-01T00:00:00Z",
                "--expires", "2026-01-01T00:05:00Z", "--bill-number", "INV-7",
                "--png", png, "--svg", svg)
    assert result.exit_code == 0, result.stderr
    payload = result.stdout.strip()
    account = decode(payload).to_json()["account"]
    assert account == {"merchant_type": "individual", "bakong_account_id": "coffee@aclb",
                       "created_at_ms": "1767225600000", "expires_at_ms": "1767225900000"}
    assert images.read_payload(png) == payload
    assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml")


@pytest.mark.parametrize(("arguments", "scheme", "account"), [
    (["--scheme", "vietqr", "--bank", "970403", "--account", "9704031101234567",
      "--account-type", "card"], "vietqr",
     {"napas_bin": "970403", "card_number": "9704031101234567", "service_code": "QRIBFTTC"}),
    (["--scheme", "duitnow", "--bank", "501664", "--account", "123456789", "--merchant-name",
      "KEDAI", "--city", "BANGI", "--mcc", "5999"], "duitnow",
     {"duitnow_acquirer_id": "501664", "duitnow_qr_id": "123456789"}),
    (["--scheme", "sgqr", "--account", "201403121W", "--expires", "2030-12-31",
      "--not-editable", "--amount", "5"], "sgqr",
     {"paynow_proxy_type": "uen", "paynow_proxy_value": "201403121W",
      "paynow_amount_editable": "false", "paynow_expiry": "20301231"}),
    (["--scheme", "promptpay", "--account", "011223344556601", "--account-type", "biller",
      "--reference", "CUSTOMER001"], "promptpay",
     {"service": "bill_payment", "promptpay_biller_id": "011223344556601",
      "promptpay_reference_1": "CUSTOMER001"}),
    (["--scheme", "emv", "--guid", "COM.EXAMPLE", "--account", "M-1", "--merchant-name", "Shop",
      "--city", "Lyon", "--mcc", "5812", "--currency", "EUR", "--country", "FR"], "emv",
     {"26.00": "COM.EXAMPLE", "26.01": "M-1"}),
], ids=["vietqr-card", "duitnow", "sgqr-uen", "promptpay-bill", "emv"])
def test_encode_options_of_each_scheme(arguments: list[str], scheme: str,
                                       account: dict[str, str]) -> None:
    """Each scheme's options land in the right account fields."""
    result = qr("encode", *arguments)
    assert result.exit_code == 0, result.stderr
    decoded = decode(result.stdout.strip())
    assert (decoded.scheme, dict(decoded.account)) == (scheme, account)


def test_encode_writes_the_language_template() -> None:
    """--language, --alternate-name and --alternate-city fill ID 64 in any script."""
    result = qr("encode", "--scheme", "khqr", "--account", "coffee@aclb", "--merchant-name",
                "Coffee Klaing", "--language", "km", "--alternate-name", "ហាងកាហ្វេ",
                "--alternate-city", "ភ្នំពេញ")
    assert result.exit_code == 0, result.stderr
    assert decode(result.stdout.strip()).to_json()["language"] == {
        "language_preference": "km", "merchant_name_alternate_language": "ហាងកាហ្វេ",
        "merchant_city_alternate_language": "ភ្នំពេញ"}


def test_refused_request_exits_1_naming_field_rule_and_value() -> None:
    """A KHQR name of 26 characters: exit 1, the message names field, rule and value."""
    name = "Coffee Klaing Riverside 26"
    result = qr("encode", "--scheme", "khqr", "--account", "coffee@aclb",
                "--merchant-name", name)
    assert result.exit_code == 1
    assert f"khqr refuses merchant_name {name!r}" in result.stderr
    assert "rule max_length" in result.stderr
    assert result.stdout == ""


def test_promptpay_in_dollars_is_refused() -> None:
    """The issue's example: a PromptPay amount in USD."""
    result = qr("encode", "--scheme", "promptpay", "--account", "0812345678",
                "--amount", "10", "--currency", "USD")
    assert result.exit_code == 1
    assert "rule currency_allowed" in result.stderr


@pytest.mark.parametrize("arguments", [
    ["--scheme", "pix", "--account", "x"],
    ["--scheme", "promptpay", "--account", "0812345678", "--bank", "KBANK"],
    ["--scheme", "khqr", "--account", "a@b", "--account-type", "card"],
    ["--scheme", "emv", "--account-field", "no-equals-sign"],
    ["--scheme", "khqr", "--account", "a@b", "--expires", "tomorrow"],
    ["--scheme", "vietqr", "--editable"],
    ["--account", "x"],
], ids=["unknown-scheme", "option-of-another-scheme", "account-type-of-another-scheme",
        "account-field-not-key-value", "expiry-not-iso", "editable-not-paynow", "no-scheme"])
def test_wrong_usage_exits_2(arguments: list[str]) -> None:
    """Options that do not fit the command or the scheme are usage errors: exit 2."""
    result = qr("encode", *arguments)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "Usage" in result.stderr
