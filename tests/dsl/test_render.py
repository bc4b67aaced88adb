"""Rendered diagnostics, golden: the exact text a user sees for a few typical mistakes."""

from __future__ import annotations

from dsl.errors import INTERNAL, UNKNOWN_NAME, Diagnostic, Span
from dsl.phases import CompiledContract
from dsl.render import render, render_all

_TOKEN = 'contract c version 1\ntoken T {\n  currency KZT\n  issuer "a"\n}\n'


def _rendered(source: str, path: str = "c.earmark") -> str:
    contract = CompiledContract(source, path)
    return render_all(contract.diagnostics, contract.text, contract.path)


def test_design_page_currency_mismatch() -> None:
    """The design page's E0203 example: USD in a KZT token, caret under the amount, with label."""
    source = (
        "contract health version 1\n"
        "\n"
        "token HEALTH {\n"
        "  currency KZT\n"
        '  issuer "ministry-of-health"\n'
        "}\n"
        "\n"
        "policy HEALTH {\n"
        "  allow purchase when amount <= 200_000 USD\n"
        "}\n"
    )
    assert _rendered(source, "contracts/health.earmark") == (
        "contracts/health.earmark:9:33: error[E0203]: cannot compare KZT with USD\n"
        "    |\n"
        "  9 |   allow purchase when amount <= 200_000 USD\n"
        "    |                                 ^^^^^^^^^^^ this is USD; the token HEALTH is KZT\n"
        "    = help: amounts never mix currencies; an FX rule converts them"
    )


def test_syntax_error_with_friendly_help() -> None:
    """A single `=` where `==` was meant: one caret, a label and the advice about `==`."""
    assert _rendered("contract c version 1\nset a = = {1}\n") == (
        "c.earmark:2:9: error[E0101]: unexpected `=`\n"
        "    |\n"
        "  2 | set a = = {1}\n"
        "    |         ^ not expected here\n"
        "    = help: to compare two values write `==`; `=` only defines a set"
    )


def test_warning_uses_the_same_layout() -> None:
    """A shadowed allow renders as `warning[W0102]` with the caret under the whole rule."""
    source = _TOKEN + "policy T {\n  allow purchase\n  deny purchase\n}\n"
    assert _rendered(source) == (
        "c.earmark:7:3: warning[W0102]: `allow purchase` can never admit anything: "
        "`deny purchase` on line 8 refuses every purchase\n"
        "    |\n"
        "  7 |   allow purchase\n"
        "    |   ^^^^^^^^^^^^^^\n"
        "    = help: deny wins over allow; remove one of the two"
    )


def test_failed_example_names_the_decision_and_trace() -> None:
    """A failing example renders at its `expect`, labelled with the actual reason and the trace."""
    source = _TOKEN + (
        "policy T {\n  allow purchase\n}\n"
        'example "refused" {\n  purchase 1 KZT\n  expect denied\n}\n'
    )
    assert _rendered(source) == (
        'c.earmark:11:3: error[E0501]: example "refused" failed: expected denied, but the '
        "purchase on line 10 was allowed\n"
        "    |\n"
        " 11 |   expect denied\n"
        "    |   ^^^^^^^^^^^^^ allowed by `allow purchase` (line 7)\n"
        "    = help: trace: allow purchase (line 7): matched"
    )


def test_several_diagnostics_are_separated_by_a_blank_line() -> None:
    """Two problems render as two blocks joined by a blank line, a multi-line span underlined."""
    source = _TOKEN + 'token T {\n  currency KZT\n  issuer "a"\n}\n'
    assert _rendered(source) == (
        "c.earmark:2:1: warning[W0104]: token T has no policy, so it can only be returned to its "
        "issuer\n"
        "    |\n"
        "  2 | token T {\n"
        "    | ^^^^^^^^^\n"
        "    = help: add `policy T { ... }`\n"
        "\n"
        "c.earmark:6:7: error[E0301]: token `T` is defined twice\n"
        "    |\n"
        "  6 | token T {\n"
        "    |       ^ second definition\n"
        "    = help: rename one of them"
    )


def test_position_outside_the_text_renders_the_heading_and_help_only() -> None:
    """A span past the last line (as an internal error may have) gives no source excerpt."""
    diagnostic = Diagnostic(INTERNAL, "boom", Span(40, 1, 40, 1), help="report it")
    assert render(diagnostic, "x\n", "p") == "p:40:1: error[E0001]: boom\n  = help: report it"


def test_gutter_widens_for_long_files_and_windows_line_ends_are_dropped() -> None:
    """Line 120 gets a four-wide gutter; a CRLF file shows no stray carriage return."""
    diagnostic = Diagnostic(UNKNOWN_NAME, "unknown", Span(120, 2, 120, 4), label="here")
    assert render(diagnostic, "\r\n" * 119 + " ab\r\n", "p") == (
        "p:120:2: error[E0201]: unknown\n"
        "     |\n"
        " 120 |  ab\n"
        "     |  ^^ here"
    )
