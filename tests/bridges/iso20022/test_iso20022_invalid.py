"""Broken messages are refused with the error that names them: code, path and reason.

Method: each case takes one of the valid sample documents, breaks it on purpose with one textual
edit (a mandatory element removed, an amount with too many decimals, a bad UETR, a status outside
the code set, …) and checks the parser's `Iso20022Error`. A second table builds typed objects that
no message can carry and checks the builder's refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

import pytest
from iso20022_samples import (
    credit_transfer,
    proxy_found,
    proxy_lookup,
    refused_transfer,
    samples,
)

from bridges.iso20022 import (
    Account,
    Charge,
    FinancialInstitution,
    Iso20022Error,
    ReasonCode,
    StatusReason,
    TransactionStatus,
    build_credit_transfer,
    build_status_report,
    build_verification_report,
    build_verification_request,
    money,
    parse_credit_transfer,
    parse_status_report,
    parse_verification_report,
    parse_verification_request,
    status_report_for,
    verification_report_for,
)
from bridges.iso20022.limits import AMOUNT_MINOR_MAX, MESSAGE_BYTES_MAX

PARSERS: dict[str, Callable[[bytes], object]] = {
    "acmt023": parse_verification_request,
    "acmt024": parse_verification_report,
    "pacs008": parse_credit_transfer,
    "pacs002": parse_status_report,
}


@dataclass(frozen=True)
class Broken:
    """A sample with one edit, and the error it must produce."""

    name: str
    sample: str
    old: str
    new: str
    code: str
    path_end: str


BROKEN = [
    Broken("missing mandatory ChrgBr", "pacs008-thai-leg",
           "      <ChrgBr>SHAR</ChrgBr>\n", "", "I0201", "/CdtTrfTxInf"),
    Broken("missing mandatory MsgId", "pacs008-thai-leg",
           "<MsgId>EMRK-PACS008-0001</MsgId>", "", "I0201", "/GrpHdr"),
    Broken("missing mandatory Assgnr", "acmt023-proxy-lookup",
           "      <Assgnr>\n        <Agt>\n          <FinInstnId>\n"
           "            <BICFI>EXKHKHPP</BICFI>\n            <Nm>Example Bank Cambodia</Nm>\n"
           "          </FinInstnId>\n        </Agt>\n      </Assgnr>\n", "", "I0201", "/Assgnmt"),
    Broken("UETR of version 1", "pacs008-thai-leg",
           "1c8f1d2e-6b5a-4f3e", "1c8f1d2e-6b5a-1f3e", "I0201", "/PmtId/UETR"),
    Broken("UETR in capitals", "pacs008-thai-leg",
           "1c8f1d2e-6b5a-4f3e-9d7c-2a1b0c9d8e7f", "1C8F1D2E-6B5A-4F3E-9D7C-2A1B0C9D8E7F",
           "I0201", "/PmtId/UETR"),
    Broken("UETR too short", "pacs002-accc",
           "<OrgnlUETR>1c8f1d2e", "<OrgnlUETR>1c8f1d", "I0201", "/OrgnlUETR"),
    Broken("yen with a decimal", "pacs008-thai-leg",
           'Ccy="THB">697.00', 'Ccy="JPY">697.5', "I0302", "/IntrBkSttlmAmt"),
    Broken("yen with a zero decimal", "pacs008-thai-leg",
           'Ccy="THB">697.00', 'Ccy="JPY">697.0', "I0302", "/IntrBkSttlmAmt"),
    Broken("riel with three decimals", "pacs008-thai-leg",
           "82000.00</InstdAmt>", "82000.001</InstdAmt>", "I0302", "/InstdAmt"),
    Broken("dinar with four decimals", "pacs008-thai-leg",
           '<Amt Ccy="KHR">400.00</Amt>', '<Amt Ccy="KWD">0.4000</Amt>', "I0302",
           "/ChrgsInf[1]/Amt"),
    Broken("six decimals, more than the XSD allows", "pacs008-thai-leg",
           'Ccy="THB">697.00', 'Ccy="THB">697.000001', "I0201", "/IntrBkSttlmAmt"),
    Broken("a negative amount", "pacs002-accc",
           'Ccy="THB">697.00', 'Ccy="THB">-697.00', "I0201", "/OrgnlTxRef/IntrBkSttlmAmt"),
    Broken("a currency ISO 4217 does not define", "pacs008-thai-leg",
           'Ccy="THB"', 'Ccy="XYZ"', "I0301", "/IntrBkSttlmAmt"),
    Broken("gold, a currency without minor units", "pacs008-thai-leg",
           'Ccy="THB"', 'Ccy="XAU"', "I0301", "/IntrBkSttlmAmt"),
    Broken("a currency in lower case", "pacs008-thai-leg",
           'Ccy="THB"', 'Ccy="thb"', "I0201", "/IntrBkSttlmAmt"),
    Broken("a charge bearer outside the code list", "pacs008-thai-leg",
           "<ChrgBr>SHAR</ChrgBr>", "<ChrgBr>BOTH</ChrgBr>", "I0201", "/ChrgBr"),
    Broken("two transactions", "pacs008-thai-leg",
           "<NbOfTxs>1</NbOfTxs>", "<NbOfTxs>2</NbOfTxs>", "I0305", "/GrpHdr"),
    Broken("a status outside the code set", "pacs002-accc",
           "<TxSts>ACCC</TxSts>", "<TxSts>ACCX</TxSts>", "I0303", "/TxSts"),
    Broken("a status longer than four letters", "pacs002-accc",
           "<TxSts>ACCC</TxSts>", "<TxSts>ACCEPTED</TxSts>", "I0201", "/TxSts"),
    Broken("a rejection without a reason", "pacs002-accc",
           "<TxSts>ACCC</TxSts>", "<TxSts>RJCT</TxSts>", "I0304", "/TxInfAndSts[1]"),
    Broken("a block without a reason", "pacs002-accc",
           "<TxSts>ACCC</TxSts>", "<TxSts>BLCK</TxSts>", "I0304", "/TxInfAndSts[1]"),
    Broken("a reason outside the code set", "pacs002-rjct-limit",
           "<Cd>AM02</Cd>", "<Cd>ZZ99</Cd>", "I0303", "/StsRsnInf[1]/Rsn/Cd"),
    Broken("a status report without OrgnlUETR", "pacs002-accc",
           "<OrgnlUETR>1c8f1d2e-6b5a-4f3e-9d7c-2a1b0c9d8e7f</OrgnlUETR>", "", "I0305",
           "/TxInfAndSts[1]"),
    Broken("an unverified result without a reason", "acmt024-proxy-unknown",
           "<Rsn>\n        <Cd>BE23</Cd>\n      </Rsn>\n", "", "I0304", "/Rpt[1]"),
    Broken("a verified result with a reason", "acmt024-proxy-found",
           "<Vrfctn>true</Vrfctn>", "<Vrfctn>true</Vrfctn><Rsn><Cd>AC01</Cd></Rsn>", "I0304",
           "/Rpt[1]"),
    Broken("a proxy type outside the code set", "acmt023-proxy-lookup",
           "<Cd>MBNO</Cd>", "<Cd>ZZZZ</Cd>", "I0303", "/Prxy/Tp/Cd"),
    Broken("a timestamp without a UTC offset", "acmt023-proxy-lookup",
           "<CreDtTm>2026-03-02T02:15:00Z</CreDtTm>", "<CreDtTm>2026-03-02T02:15:00</CreDtTm>",
           "I0306", "/Assgnmt/CreDtTm"),
    Broken("another version of the message", "pacs008-thai-leg",
           "pacs.008.001.08", "pacs.008.001.09", "I0104", "/Document"),
]


def _parser(sample: str) -> Callable[[bytes], object]:
    return PARSERS[sample.split("-", maxsplit=1)[0]]


@pytest.mark.parametrize("case", BROKEN, ids=[case.name for case in BROKEN])
def test_a_broken_message_is_refused_with_its_code_and_path(case: Broken) -> None:
    text = samples()[case.sample]().decode()
    assert case.old in text, "the edit must apply to the sample"
    with pytest.raises(Iso20022Error) as caught:
        _parser(case.sample)(text.replace(case.old, case.new, 1).encode())
    assert caught.value.code.code == case.code, caught.value
    assert caught.value.path.endswith(case.path_end), caught.value
    assert caught.value.reason


def test_the_unbroken_samples_parse() -> None:
    for name, build in samples().items():
        _parser(name)(build())


def test_a_nesting_bomb_inside_an_open_envelope_is_refused() -> None:
    """`SplmtryData/Envlp` takes any content; 5,000 nested elements must not reach the validator."""
    deep = "<x>" * 5000 + "</x>" * 5000
    text = samples()["pacs008-thai-leg"]().decode().replace(
        "  </FIToFICstmrCdtTrf>",
        f"    <SplmtryData><Envlp>{deep}</Envlp></SplmtryData>\n  </FIToFICstmrCdtTrf>")
    with pytest.raises(Iso20022Error) as caught:
        parse_credit_transfer(text.encode())
    assert caught.value.code.name == "message_too_large"


def test_another_message_is_refused_as_the_wrong_message() -> None:
    with pytest.raises(Iso20022Error) as caught:
        parse_credit_transfer(samples()["pacs002-accc"]())
    assert caught.value.code.name == "wrong_message"
    assert "FIToFIPmtStsRpt" not in caught.value.reason
    assert "pacs.002.001.11" in caught.value.reason


@pytest.mark.parametrize(("data", "code"), [
    (b"<Document><unclosed></Document>", "I0101"),
    (b"", "I0101"),
    (b"/etc/passwd", "I0101"),
    (b'<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY boom "boom">]>\n'
     b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">&boom;</Document>',
     "I0102"),
    (b'<?xml version="1.0"?>\n<!DOCTYPE Document SYSTEM "http://example.com/evil.dtd">\n'
     b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"/>', "I0102"),
    (b" " * (MESSAGE_BYTES_MAX + 1), "I0103"),
])
def test_bytes_that_are_not_a_safe_document_are_refused(data: bytes, code: str) -> None:
    with pytest.raises(Iso20022Error) as caught:
        parse_credit_transfer(data)
    assert caught.value.code.code == code


REFUSED: list[tuple[str, Callable[[], bytes], str]] = [
    ("a negative amount", lambda: build_credit_transfer(
        replace(credit_transfer(), settlement_amount=money(-1, "THB"))), "settlement_amount"),
    ("an amount over the XSD's 18 digits", lambda: build_credit_transfer(
        replace(credit_transfer(), settlement_amount=money(AMOUNT_MINOR_MAX + 1, "JPY"))),
     "settlement_amount"),
    ("an unknown currency", lambda: build_credit_transfer(
        replace(credit_transfer(), instructed_amount=money(1, "XYZ"))), "instructed_amount"),
    ("a UETR that is not a version 4 UUID", lambda: build_credit_transfer(
        replace(credit_transfer(), uetr=UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8"))), "uetr"),
    ("a time without offset", lambda: build_credit_transfer(
        replace(credit_transfer(), created_at=datetime(2026, 3, 2, 2, 16))), "created_at"),
    ("too many charges", lambda: build_credit_transfer(
        replace(credit_transfer(), charges=(Charge(money(1, "THB"),
                                                   FinancialInstitution(bic="EXTHTHBK")),) * 11)),
     "charges"),
    ("an IBAN and a number", lambda: build_credit_transfer(
        replace(credit_transfer(), creditor_account=Account(iban="TH12345", number="1"))),
     "CdtrAcct.iban"),
    ("a clearing system without a member id", lambda: build_credit_transfer(
        replace(credit_transfer(), debtor_agent=FinancialInstitution(clearing_system="THBEX"))),
     "DbtrAgt.clearing_system"),
    ("a control character in a name", lambda: build_credit_transfer(
        replace(credit_transfer(), remittance_information="bell \x07")), "pacs.008.001.08"),
    ("a carriage return in a text", lambda: build_credit_transfer(
        replace(credit_transfer(), remittance_information="line\r\nbreak")), "Ustrd"),
    ("a rejection without a reason", lambda: build_status_report(status_report_for(
        refused_transfer(), message_id="M", created_at=credit_transfer().created_at,
        status=TransactionStatus.REJECTED)), "reasons"),
    ("six reasons", lambda: build_status_report(status_report_for(
        refused_transfer(), message_id="M", created_at=credit_transfer().created_at,
        status=TransactionStatus.REJECTED,
        reasons=(StatusReason(ReasonCode.NARRATIVE),) * 6)), "reasons"),
    ("no verification", lambda: build_verification_request(
        replace(proxy_lookup(), verifications=())), "verifications"),
    ("a verified result with a reason", lambda: build_verification_report(
        verification_report_for(proxy_lookup(), message_id="M",
                                created_at=credit_transfer().created_at,
                                results=(replace(proxy_found(),
                                                 reason=ReasonCode.NARRATIVE),))),
     "results[0].reason"),
]


@pytest.mark.parametrize(("build", "field"), [(build, field) for _, build, field in REFUSED],
                         ids=[name for name, _, _ in REFUSED])
def test_a_value_no_message_can_carry_is_refused_when_building(
    build: Callable[[], bytes], field: str
) -> None:
    with pytest.raises(Iso20022Error) as caught:
        build()
    assert caught.value.code.name == "refused", caught.value
    assert caught.value.path == field


def test_a_text_too_long_for_its_element_fails_the_schema_when_building() -> None:
    transfer = replace(credit_transfer(), end_to_end_id="E" * 36)
    with pytest.raises(Iso20022Error) as caught:
        build_credit_transfer(transfer)
    assert caught.value.code.name == "schema_invalid"
    assert caught.value.path.endswith("/PmtId/EndToEndId")
    assert "35" in caught.value.reason
