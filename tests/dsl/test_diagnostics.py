"""Diagnostics as data: each failing source, the code it must produce, and where.

Every code of `dsl.errors.CATALOGUE` but E0001 (internal) has at least one case. A case asserts
that a diagnostic with that code starts at that line and column; other diagnostics (follow-on
warnings, for instance) may be present too.
"""

from __future__ import annotations

import pytest

import dsl.phases
from dsl import errors
from dsl.errors import CATALOGUE, ContractError, Diagnostic
from dsl.limits import EXPRESSION_DEPTH_MAX, POLICY_ITEMS_MAX, SET_ELEMENTS_MAX, SOURCE_BYTES_MAX
from dsl.phases import CompiledContract

# Lines 1-5: a contract with one KZT token T. Rules of `_policy` start on line 7.
_TOKEN = 'contract c version 1\ntoken T {\n  currency KZT\n  issuer "agency"\n}\n'


def _policy(*rules: str, before: str = "") -> str:
    """Token T and a policy of `rules`; `before` (whole lines) goes between the token and it."""
    body = "".join(f"  {rule}\n" for rule in rules)
    return f"{_TOKEN}{before}policy T {{\n{body}}}\n"


def _example(*steps: str) -> str:
    """Token T, `policy T { allow purchase }` and an example: title on line 9, steps from 10."""
    body = "".join(f"  {step}\n" for step in steps)
    return _policy("allow purchase") + f'example "x" {{\n{body}}}\n'


def _too_large() -> str:
    comment = "# " + "x" * 1_000 + "\n"
    return "contract big version 1\n" + comment * (SOURCE_BYTES_MAX // len(comment) + 1)


_DEEP_CONDITION = "not " * (EXPRESSION_DEPTH_MAX + 8) + "true"
_MANY_ELEMENTS = ", ".join(str(number) for number in range(SET_ELEMENTS_MAX + 1))

CASES = [
    # ---- syntax
    pytest.param("contract c version 1\nset a = = {1}\n", "E0101", 2, 9, id="E0101-equals"),
    pytest.param("contract 7 version 1\n", "E0101", 1, 10, id="E0101-header"),
    pytest.param("contract c version 1\npolicy T {\n  allow purchase\n", "E0102", 3, 9,
                 id="E0102"),
    pytest.param("contract c version 1\nset a = {1} @\n", "E0103", 2, 13, id="E0103"),
    pytest.param("contract c version 1\nset d = {2027-02-30}\n", "E0104", 2, 10,
                 id="E0104-date"),
    pytest.param(_policy("allow purchase when amount < 5 furlongs"), "E0104", 7, 34,
                 id="E0104-unit"),
    pytest.param(_policy("allow purchase when token.age > 0.5 seconds"), "E0104", 7, 35,
                 id="E0104-fraction-of-second"),
    # ---- names and types
    pytest.param(_policy("allow purchase when receiver.mcc in clinic",
                         before="set clinics = {8011}\n"), "E0201", 8, 39, id="E0201-set"),
    pytest.param(_example("purchase 1 KZT with channel pigeon", "expect allowed"), "E0201", 10,
                 31, id="E0201-channel"),
    pytest.param(_policy("allow purchase when amount < 5 days"), "E0202", 7, 23, id="E0202"),
    pytest.param(_policy("allow purchase when amount <= 200_000"), "E0202", 7, 23,
                 id="E0202-amount-without-currency"),
    pytest.param("contract c version 1\nset s = {amount}\n", "E0202", 2, 10,
                 id="E0202-fact-in-set"),
    pytest.param(_policy("allow purchase when amount <= 200_000 USD"), "E0203", 7, 33,
                 id="E0203"),
    pytest.param(_policy("limit 5 USD per transaction"), "E0203", 7, 9, id="E0203-limit"),
    pytest.param(_policy("allow purchase when amount <= 1.234 KZT"), "E0204", 7, 33, id="E0204"),
    pytest.param(_policy("allow purchase when amount <= 1 KZZ"), "E0205", 7, 35, id="E0205"),
    pytest.param('contract c version 1\ntoken T {\n  currency QQQ\n  issuer "a"\n}\n', "E0205",
                 3, 12, id="E0205-token"),
    pytest.param(_policy("allow purchase when receiver.mccc == 5912"), "E0206", 7, 23,
                 id="E0206"),
    pytest.param(_policy("allow purchase when quote.spread < 1 %"), "E0207", 7, 23, id="E0207"),
    pytest.param(_policy("allow purchase when amount"), "E0208", 7, 23, id="E0208"),
    pytest.param(_policy("allow purchse"), "E0209", 7, 9, id="E0209"),
    pytest.param(_example("purchse 1 KZT", "expect allowed"), "E0209", 10, 3, id="E0209-step"),
    pytest.param(_policy("allow purchase when channel < offline"), "E0210", 7, 23, id="E0210"),
    # ---- structure
    pytest.param("contract c version 1\nset a = {1}\nset a = {2}\n", "E0301", 3, 5, id="E0301"),
    pytest.param("contract c version 1\nset offline = {1}\n", "E0301", 2, 5,
                 id="E0301-reserved"),
    pytest.param(_TOKEN + "policy U {\n  allow purchase\n}\n", "E0302", 6, 8, id="E0302"),
    pytest.param(_policy("allow purchase") + 'example "x" for U {\n  purchase 1 KZT\n}\n',
                 "E0302", 9, 13, id="E0302-example"),
    pytest.param('contract c version 1\ntoken T {\n  currency KZT\n}\n', "E0303", 2, 7,
                 id="E0303-issuer"),
    pytest.param('contract c version 1\ntoken T {\n  issuer "a"\n}\n', "E0303", 2, 7,
                 id="E0303-currency"),
    pytest.param('contract c version 1\ntoken T {\n  currency KZT\n  currency KZT\n'
                 '  issuer "a"\n}\n', "E0304", 4, 3, id="E0304"),
    pytest.param(_policy("allow purchase to {KZT}"), "E0305", 7, 21, id="E0305"),
    pytest.param(_policy("release on transfer"), "E0306", 7, 14, id="E0306"),
    pytest.param("contract c version 1\nfx KZT -> KZT {\n  max fee 1 %\n}\n", "E0307", 2, 4,
                 id="E0307"),
    pytest.param(_TOKEN + 'token U {\n  currency KZT\n  issuer "a"\n}\n'
                 'example "x" {\n  purchase 1 KZT\n  expect allowed\n}\n', "E0308", 10, 9,
                 id="E0308"),
    pytest.param(_example("purchase 1 KZT to merchant(colour: 1)", "expect allowed"), "E0309",
                 10, 38, id="E0309-party-fact"),
    pytest.param(_example("purchase 1 KZT", 'expect denied by rule "deny everything"'), "E0309",
                 11, 25, id="E0309-rule-name"),
    pytest.param(_example("purchase 1 KZT", "expect denied by rule 3"), "E0309", 11, 25,
                 id="E0309-rule-line"),
    pytest.param(_example("transfer 1 KZT via \"fx\"", "expect allowed"), "E0309", 10, 22,
                 id="E0309-via-outside-convert"),
    pytest.param(_policy("limit 0 KZT per transaction"), "E0310", 7, 9, id="E0310"),
    pytest.param('contract c version 1\ntoken T {\n  currency JPY\n  issuer "fx"\n  bridged\n'
                 '  expires 30 days after issue\n}\n', "E0311", 6, 3, id="E0311"),
    # ---- size limits
    pytest.param(_too_large(), "E0401", 1, 1, id="E0401"),
    pytest.param(_policy(f"allow purchase when {_DEEP_CONDITION}"), "E0402", 7,
                 23 + 4 * EXPRESSION_DEPTH_MAX, id="E0402"),
    pytest.param(f"contract c version 1\nset a = {{{_MANY_ELEMENTS}}}\n", "E0403", 2, 9,
                 id="E0403-set"),
    pytest.param(_policy(*["allow purchase"] * (POLICY_ITEMS_MAX + 1)), "E0403", 6, 8,
                 id="E0403-policy"),
    # ---- examples
    pytest.param(_example("purchase 1 KZT", "expect denied"), "E0501", 11, 3, id="E0501"),
    pytest.param(_example("expect denied"), "E0502", 10, 3, id="E0502"),
    # ---- warnings
    pytest.param(_policy("allow purchase when 1 > 2"), "W0101", 7, 3, id="W0101"),
    pytest.param(_policy("allow purchase", "deny purchase"), "W0102", 7, 3, id="W0102"),
    pytest.param(_policy("allow purchase when receiver.mcc == 1234"), "W0103", 7, 39,
                 id="W0103"),
    pytest.param(_TOKEN, "W0104", 2, 1, id="W0104"),
    pytest.param(_example("purchase 1 KZT"), "W0105", 9, 9, id="W0105"),
]


def _found(source: str) -> list[tuple[str, int, int]]:
    return [(d.code.code, d.span.line, d.span.column)
            for d in CompiledContract(source, "case.earmark").diagnostics]


@pytest.mark.parametrize(("source", "code", "line", "column"), CASES)
def test_diagnostic_code_and_position(source: str, code: str, line: int, column: int) -> None:
    """Each listed source yields its code at its position: compile it and look for that triple."""
    found = _found(source)
    assert (code, line, column) in found, found


def test_every_catalogue_code_has_a_case() -> None:
    """The data above covers the catalogue: compare the set of codes with CATALOGUE."""
    covered = {param.values[1] for param in CASES}
    assert covered == set(CATALOGUE) - {errors.INTERNAL.code}


@pytest.mark.parametrize(("source", "code", "line", "column"), CASES)
def test_errors_block_deployment_and_warnings_do_not(source: str, code: str, line: int,
                                                     column: int) -> None:
    """A case's severity decides `ok`: warning-only cases must be ok, error cases must not be."""
    contract = CompiledContract(source)
    if CATALOGUE[code].severity is errors.Severity.ERROR:
        assert not contract.ok
        with pytest.raises(ContractError) as raised:
            contract.require_ok()
        assert (code, line, column) in [
            (d.code.code, d.span.line, d.span.column) for d in raised.value.diagnostics
        ]
    else:
        assert all(not d.is_error for d in contract.diagnostics), contract.diagnostics
        assert contract.ok


def test_independent_errors_are_all_reported_in_one_run() -> None:
    """Three rules with three different mistakes: one compile must report all three."""
    source = _policy(
        "allow purchase when amount <= 200_000 USD",
        "allow transfer when receiver.mccc == 5912",
        "allow purchse",
    )
    found = _found(source)
    for expected in [("E0203", 7, 33), ("E0206", 8, 23), ("E0209", 9, 9)]:
        assert expected in found, found


def test_errors_in_tokens_policies_and_examples_are_reported_together() -> None:
    """Errors in different kinds of items are found in one run: a bad token field, rule and step."""
    source = (
        'contract c version 1\ntoken T {\n  currency KZT\n  currency KZT\n  issuer "a"\n}\n'
        "policy T {\n  allow purchase when channel < offline\n}\n"
        'example "x" {\n  purchase 1 KZT to merchant(colour: 1)\n  expect allowed\n}\n'
    )
    codes = {code for code, _, _ in _found(source)}
    assert {"E0304", "E0210", "E0309"} <= codes


def test_syntax_errors_in_two_items_are_both_reported() -> None:
    """The parser recovers at the next item: a broken set and a broken token give two errors."""
    source = "contract c version 1\nset a = = {1}\ntoken T {\n  currency KZT KZT\n}\n"
    found = _found(source)
    assert ("E0101", 2, 9) in found
    assert ("E0101", 4, 16) in found


def test_syntax_errors_are_bounded() -> None:
    """A file of many broken items stops after SYNTAX_ERRORS_MAX diagnostics rather than all."""
    from dsl.limits import SYNTAX_ERRORS_MAX  # noqa: PLC0415 - used by this test only

    source = "contract c version 1\n" + "set a = = 1\n" * (SYNTAX_ERRORS_MAX * 3)
    found = _found(source)
    assert len(found) == SYNTAX_ERRORS_MAX
    assert [line for _, line, _ in found] == list(range(2, 2 + SYNTAX_ERRORS_MAX))


def test_misspelled_set_name_gets_did_you_mean() -> None:
    """A near miss of a set name is answered with a suggestion: look at the E0201's help."""
    source = _policy("allow purchase when receiver.mcc in pharmacys",
                     before="set pharmacies = {5122, 5912}\n")
    (unknown,) = [d for d in CompiledContract(source).diagnostics if d.code.code == "E0201"]
    assert unknown.help == "did you mean `pharmacies`?"
    assert unknown.message == "unknown name `pharmacys`"


def test_number_without_currency_gets_a_hint() -> None:
    """Comparing `amount` with a bare number (the unit forgotten) suggests writing the currency."""
    (mismatch,) = CompiledContract(_policy("allow purchase when amount <= 200_000")).diagnostics
    assert mismatch.code.code == "E0202"
    assert mismatch.message == "cannot compare an amount in KZT with a whole number"
    assert mismatch.help == "write the currency after the number, e.g. `200_000 KZT`"


def test_unknown_currency_shape_is_explained() -> None:
    """A three-letter name that is no currency gets a hint saying so, not a silent unknown name."""
    source = _policy("allow convert to QQQ when quote.target == QQQ")
    (unknown, *_) = [d for d in CompiledContract(source).diagnostics if d.code.code == "E0201"]
    assert "ISO 4217 has no such currency" in unknown.help


def test_internal_crash_becomes_e0001(monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash inside a phase is reported as E0001, not raised: make the checker raise and look."""

    def crash(tree: object) -> object:
        message = "the checker fell over"
        raise RuntimeError(message)

    monkeypatch.setattr(dsl.phases, "check", crash)
    contract = CompiledContract(_policy("allow purchase"), "crash.earmark")
    diagnostics = contract.diagnostics
    assert [d.code.code for d in diagnostics] == ["E0001"]
    (internal,) = diagnostics
    assert "RuntimeError: the checker fell over" in internal.message
    assert "bug in Earmark" in internal.message
    assert not contract.ok
    assert contract.policies == {}
    with pytest.raises(ContractError):
        contract.require_ok()


def test_diagnostics_are_in_source_order() -> None:
    """Diagnostics come sorted by position: compile a contract with errors on several lines."""
    source = _policy("allow purchse", "allow purchase when amount <= 1 USD", "release on issue")
    diagnostics: tuple[Diagnostic, ...] = CompiledContract(source).diagnostics
    positions = [(d.span.line, d.span.column) for d in diagnostics]
    assert len(positions) >= 3
    assert positions == sorted(positions)
