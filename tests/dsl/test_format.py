"""The formatter: one canonical layout, idempotent, tree-preserving, and no comment lost."""

from __future__ import annotations

import datetime
import itertools
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl import ast
from dsl.errors import UNKNOWN_SPAN, ContractError
from dsl.format import LINE_WIDTH_MAX, format_contract, format_source
from dsl.parse import parse_contract, parser

# ---- helpers ---------------------------------------------------------------------------------


def _tree(text: str) -> ast.Contract:
    result = parse_contract(text)
    assert result.diagnostics == ()
    assert result.contract is not None
    return result.contract


def _comment_texts(text: str) -> Counter[str]:
    # Trailing whitespace is the one thing the formatter changes in a comment.
    return Counter(comment.text.rstrip() for comment in _tree(text).comments)


def _assert_round_trip(source: str) -> str:
    """Format `source` and check the invariants every formatting must keep; return the output."""
    formatted = format_source(source)
    assert formatted.endswith("\n")
    assert not formatted.endswith("\n\n")
    assert format_source(formatted) == formatted
    assert _tree(formatted) == _tree(source)
    assert _comment_texts(formatted) == _comment_texts(source)
    return formatted


def _condition(condition: str) -> str:
    """The formatted text of `condition` as the `when` of a rule."""
    source = f"contract c version 1\npolicy T {{ allow purchase when {condition} }}"
    formatted = format_source(source)
    rule_line = formatted.splitlines()[3]
    prefix = "  allow purchase when "
    assert rule_line.startswith(prefix)
    return rule_line.removeprefix(prefix)


# ---- the design page's contract --------------------------------------------------------------

HEALTH_BENEFIT = (Path(__file__).parents[1] / "data" / "design_health_benefit.earmark").read_text()

HEALTH_BENEFIT_FORMATTED = """\
contract health_benefit version 1
  "Social health benefit: payable only to licensed medical providers."

set clinics = {8011, 8021, 8031, 8041, 8042, 8043, 8049, 8050, 8062, 8071, 8099}
set pharmacies = {5122, 5912}

token HEALTH {
  currency KZT
  issuer "ministry-of-health"
  expires 90 days after issue, then return to issuer
}

policy HEALTH {
  allow distribute when receiver.role == individual and receiver.kyc >= 1
  allow purchase when receiver.mcc in clinics + pharmacies and amount <= 200_000 KZT
  deny transfer because "benefit money cannot be sent to another person"
  deny purchase when channel == offline and amount > 20_000 KZT
    because "offline payments from benefits are capped at 20 000 KZT"
  limit 500_000 KZT per wallet per month
  release on purchase  # the clinic receives plain KZT
}

example "a pharmacy purchase is allowed" {
  purchase 12_500 KZT to merchant(mcc: 5912)
  expect allowed
}

example "groceries are refused" {
  purchase 3_000 KZT to merchant(mcc: 5411)
  expect denied
}

example "the monthly limit holds" {
  purchase 200_000 KZT to merchant(mcc: 8062)
  purchase 200_000 KZT to merchant(mcc: 8062)
  purchase 200_000 KZT to merchant(mcc: 8062)
  expect denied by limit
}
"""


def test_design_page_contract_formats_to_the_expected_text() -> None:
    """The design page's example comes out in the canonical layout written here by hand."""
    assert format_source(HEALTH_BENEFIT) == HEALTH_BENEFIT_FORMATTED
    assert format_source(HEALTH_BENEFIT_FORMATTED) == HEALTH_BENEFIT_FORMATTED


# ---- hand-written contracts covering every construct -----------------------------------------

TOKENS_AND_SETS = r"""
# A comment before the header.
contract coverage version 12  # trailing on the header line
  "Every construct, with \"quotes\", a \\ backslash\nand a newline."  # trailing on the description

# sets stay together
set clinics = {8011, 8021}
# a comment inside the group of sets
set pharmacies = { 5122 , 5912 }   # trailing on a set
set everything = clinics + pharmacies - {8021}
set empty = {}
set dates = {2027-01-31, 2027-02-01}
set misc = {1.50, 0.75 %, 30 days, true, false, "x", receiver.mcc}
token HEALTH {  # trailing on an opening line
  # before the first field
  currency KZT
  issuer "ministry-of-health"  # trailing on a field
  expires 90 days after issue
  # after the last field


}  # trailing on a closing brace
token BURNING { currency KZT expires 2027-01-31, then burn }
token FREED {
  currency USD

  expires 30 days after issue, then release
}
token RETURNED { currency EUR expires 2026-12-31, then return to issuer }
token DATED { expires 2026-12-31 }
token BARE {}
"""

POLICIES = """
contract policies version 1
policy HEALTH {
  allow distribute when receiver.role == individual and receiver.kyc >= 1
  allow convert to {KHR, USD} via {"soramitsu-fx"} when quote.spread <= 1 %
  allow convert to KHR via "x"
  allow convert to (KHR) via ("x")
  allow transfer when not (a or b) and (c or d) or not e
  allow purchase when (a and b) and c   # nested and chain, from parentheses
  allow purchase when a or (b or c)
  allow purchase when (a == b) == c
  allow purchase when not not a
  allow purchase when (not a) in b
  allow purchase when a - (b + c) == (a - b) + c
  allow purchase when receiver.mcc not in clinics + {5411} and amount >= 0.5 KZT
  allow purchase when now >= 2027-01-01 and token.age < 30 days and true != false
  allow purchase when receiver.id == "m\\"1"
  deny transfer because "no"
  # a comment before a long rule
  deny purchase
    when channel == offline
    and amount > 20_000 KZT   # a comment in the middle of a rule
    because "a reason long enough that the rule no longer fits on a line of one hundred characters"
  deny cash_out to bank via "x" when a because "short"   # trailing on a short deny
  limit 1_000 KZT per transaction
  limit 500_000 KZT per wallet per month
  limit 50_000 KZT per merchant per day
  limit 1 KZT per wallet per week
  hold at most 2_000_000 KZT per wallet
  release on purchase
  release on cash_out
  # a closing comment
}
policy EMPTY {
}
"""

FX_AND_EXAMPLES = """
contract fx_and_examples version 2
fx KHR -> THB {
  # providers first
  providers {"acleda-fx", "kbank-fx"}
  max spread 0.75 % over reference  # trailing on a clause
  max fee 0.50 %
  max amount 4_000_000 KHR per payment
  quote valid 30 seconds
}
fx JPY -> KHR { providers "one" }
example "every step" for REMIT {
  # before a step
  purchase 12_500 KZT from individual(kyc: 1) to merchant(mcc: 5912, id: "m1") with channel offline
  transfer 100 KZT to individual(kyc: 1)
  transfer 100 KZT to individual()
  convert 1_000 JPY to KHR via "soramitsu-fx" (spread: 0.8 %, fee: 0.1 %)
  convert 1_000 JPY to KHR via "plain"
  advance 91 days
  advance to 2027-02-01
  expect allowed
  expect denied
  expect denied by limit
  expect denied by expiry
  expect denied by default
  expect denied by rule "no transfers"
  expect denied by rule 12  # trailing on the last step
}
example "a corridor" for KHR -> THB {
  # only a comment
}
example "empty" {}  # an empty example

# the end of the file
# on two lines
"""

CONTRACTS = {
    "tokens and sets": TOKENS_AND_SETS,
    "policies": POLICIES,
    "fx and examples": FX_AND_EXAMPLES,
    "design page": HEALTH_BENEFIT,
}


@pytest.mark.parametrize("source", CONTRACTS.values(), ids=CONTRACTS.keys())
def test_hand_written_contracts_round_trip(source: str) -> None:
    """Each hand-written contract formats idempotently to text that parses back to the same tree."""
    _assert_round_trip(source)


@pytest.mark.parametrize("source", CONTRACTS.values(), ids=CONTRACTS.keys())
def test_comments_are_preserved(source: str) -> None:
    """The multiset of comment texts is the same before and after formatting, and after again."""
    once = format_source(source)
    assert _comment_texts(once) == _comment_texts(source)
    assert _comment_texts(format_source(once)) == _comment_texts(source)


LIBRARY = sorted((Path(__file__).resolve().parents[2] / "contracts").glob("*.earmark"))


@pytest.mark.parametrize("path", LIBRARY, ids=[path.stem for path in LIBRARY])
def test_library_contracts_round_trip(path: Path) -> None:
    """Every contract in the repository's library formats idempotently, tree and comments intact."""
    _assert_round_trip(path.read_text(encoding="utf-8"))


def test_tokens_and_sets_layout() -> None:
    """Sets group, token fields are complete lines, and every comment sits where it was written."""
    expected = r"""# A comment before the header.
contract coverage version 12  # trailing on the header line
  "Every construct, with \"quotes\", a \\ backslash\nand a newline."  # trailing on the description

# sets stay together
set clinics = {8011, 8021}
# a comment inside the group of sets
set pharmacies = {5122, 5912}  # trailing on a set
set everything = clinics + pharmacies - {8021}
set empty = {}
set dates = {2027-01-31, 2027-02-01}
set misc = {1.50, 0.75 %, 30 days, true, false, "x", receiver.mcc}

token HEALTH {  # trailing on an opening line
  # before the first field
  currency KZT
  issuer "ministry-of-health"  # trailing on a field
  expires 90 days after issue, then return to issuer
  # after the last field
}  # trailing on a closing brace

token BURNING {
  currency KZT
  expires 2027-01-31, then burn
}

token FREED {
  currency USD
  expires 30 days after issue, then release
}

token RETURNED {
  currency EUR
  expires 2026-12-31, then return to issuer
}

token DATED {
  expires 2026-12-31, then return to issuer
}

token BARE {
}
"""
    assert _assert_round_trip(TOKENS_AND_SETS) == expected


def test_policies_layout() -> None:
    """Rules print on one line with minimal parentheses; a long one moves its reason down."""
    expected = """contract policies version 1

policy HEALTH {
  allow distribute when receiver.role == individual and receiver.kyc >= 1
  allow convert to {KHR, USD} via {"soramitsu-fx"} when quote.spread <= 1 %
  allow convert to KHR via "x"
  allow convert to KHR via "x"
  allow transfer when not (a or b) and (c or d) or not e
  allow purchase when (a and b) and c  # nested and chain, from parentheses
  allow purchase when a or (b or c)
  allow purchase when (a == b) == c
  allow purchase when not not a
  allow purchase when (not a) in b
  allow purchase when a - (b + c) == a - b + c
  allow purchase when receiver.mcc not in clinics + {5411} and amount >= 0.5 KZT
  allow purchase when now >= 2027-01-01 and token.age < 30 days and true != false
  allow purchase when receiver.id == "m\\"1"
  deny transfer because "no"
  # a comment before a long rule
  deny purchase when channel == offline and amount > 20_000 KZT  # a comment in the middle of a rule
    because "a reason long enough that the rule no longer fits on a line of one hundred characters"
  deny cash_out to bank via "x" when a because "short"  # trailing on a short deny
  limit 1_000 KZT per transaction
  limit 500_000 KZT per wallet per month
  limit 50_000 KZT per merchant per day
  limit 1 KZT per wallet per week
  hold at most 2_000_000 KZT per wallet
  release on purchase
  release on cash_out
  # a closing comment
}

policy EMPTY {
}
"""
    assert _assert_round_trip(POLICIES) == expected


def test_fx_and_examples_layout() -> None:
    """Corridor clauses and example steps print one per line; parties without facts print bare."""
    expected = """contract fx_and_examples version 2

fx KHR -> THB {
  # providers first
  providers {"acleda-fx", "kbank-fx"}
  max spread 0.75 % over reference  # trailing on a clause
  max fee 0.50 %
  max amount 4_000_000 KHR per payment
  quote valid 30 seconds
}

fx JPY -> KHR {
  providers "one"
}

example "every step" for REMIT {
  # before a step
  purchase 12_500 KZT from individual(kyc: 1) to merchant(mcc: 5912, id: "m1") with channel offline
  transfer 100 KZT to individual(kyc: 1)
  transfer 100 KZT to individual
  convert 1_000 JPY to KHR via "soramitsu-fx" (spread: 0.8 %, fee: 0.1 %)
  convert 1_000 JPY to KHR via "plain"
  advance 91 days
  advance to 2027-02-01
  expect allowed
  expect denied
  expect denied by limit
  expect denied by expiry
  expect denied by default
  expect denied by rule "no transfers"
  expect denied by rule 12  # trailing on the last step
}

example "a corridor" for KHR -> THB {
  # only a comment
}

example "empty" {
}  # an empty example

# the end of the file
# on two lines
"""
    assert _assert_round_trip(FX_AND_EXAMPLES) == expected


# ---- expressions -----------------------------------------------------------------------------

PARENTHESES = [
    ("((a))", "a"),
    ("(a and b) and c", "(a and b) and c"),
    ("a and (b and c)", "a and (b and c)"),
    ("(a or b) or c", "(a or b) or c"),
    ("(a or b) and c", "(a or b) and c"),
    ("a or (b and c)", "a or b and c"),
    ("a and b or c and d", "a and b or c and d"),
    ("not (a)", "not a"),
    ("not (a and b)", "not (a and b)"),
    ("not (a or b)", "not (a or b)"),
    ("(not a) and b", "not a and b"),
    ("not (a in b)", "not a in b"),
    ("not (a == b)", "not a == b"),
    ("a == (not b)", "a == (not b)"),
    ("(a == b) == c", "(a == b) == c"),
    ("a == (b == c)", "a == (b == c)"),
    ("(a in b) == true", "(a in b) == true"),
    ("(a + b) in (c + d)", "a + b in c + d"),
    ("a not in (b)", "a not in b"),
    ("(a - b) - c", "a - b - c"),
    ("a - (b - c)", "a - (b - c)"),
    ("a + (b + c)", "a + (b + c)"),
    ("(a) + ({b})", "a + {b}"),
    ("{(a or b), (c)}", "{a or b, c}"),
    ("a+b-c  >=  d", "a + b - c >= d"),
    ("{ }", "{}"),
]


@pytest.mark.parametrize(("written", "expected"), PARENTHESES)
def test_expressions_get_only_the_parentheses_they_need(written: str, expected: str) -> None:
    """A condition written with any parentheses prints with exactly those precedence requires."""
    assert _condition(written) == expected
    # The printed condition means the same as the written one.
    rule = f"contract c version 1\npolicy T {{ allow purchase when {written} }}"
    assert _tree(format_source(rule)) == _tree(rule)


LITERALS = ["200_000 KZT", "0.50 %", "0.75 %", "1_000", "007", "1.500", "2027-01-31", "30 days"]


@pytest.mark.parametrize("literal", LITERALS)
def test_literals_keep_the_authors_text(literal: str) -> None:
    """Numbers, amounts, percents and dates come back exactly as written (no normalising)."""
    assert _condition(f"x == {literal}") == f"x == {literal}"


def test_percent_gets_a_space_before_the_sign() -> None:
    """`0.75%` written without a space prints as `0.75 %`."""
    assert _condition("quote.spread <= 0.75%") == "quote.spread <= 0.75 %"


@pytest.mark.parametrize("value", ['a "quoted" word', "back\\slash", "two\nlines", "\\n", ""])
def test_strings_are_requoted_with_escapes(value: str) -> None:
    """A string with quotes, backslashes or newlines prints escaped and reads back unchanged."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    source = f'contract c version 1\n  "{escaped}"\n'
    formatted = format_source(source)
    assert formatted == source
    description = _tree(formatted).header.description
    assert description is not None
    assert description.value == value


# ---- layout rules ----------------------------------------------------------------------------


def test_because_moves_down_only_past_the_line_width() -> None:
    """A deny of exactly the width stays on one line; one character more puts `because` below."""
    head = "deny transfer"
    filler = "x" * (LINE_WIDTH_MAX - len(f'  {head} because ""'))
    fits = f'contract c version 1\npolicy T {{ {head} because "{filler}" }}'
    too_long = f'contract c version 1\npolicy T {{ {head} because "{filler}y" }}'
    assert f'\n  {head} because "{filler}"\n' in format_source(fits)
    assert len(f'  {head} because "{filler}"') == LINE_WIDTH_MAX
    assert f'\n  {head}\n    because "{filler}y"\n' in format_source(too_long)
    _assert_round_trip(too_long)


def test_token_fields_are_put_in_canonical_order() -> None:
    """Fields written in any order print as currency, issuer, expires, each with its comments."""
    source = """contract c version 1
token T {
  # when it ends
  expires 2027-01-31, then burn  # burn
  issuer "i"  # who
  currency KZT
}
"""
    expected = """contract c version 1

token T {
  currency KZT
  issuer "i"  # who
  # when it ends
  expires 2027-01-31, then burn  # burn
}
"""
    formatted = format_source(source)
    assert formatted == expected
    assert format_source(formatted) == formatted
    (original,) = _tree(source).items
    (reordered,) = _tree(formatted).items
    assert isinstance(original, ast.TokenDef)
    assert isinstance(reordered, ast.TokenDef)
    assert reordered.fields == original.fields  # the parser keeps token fields in canonical order


def test_comments_on_the_lines_of_one_construct_move_before_it() -> None:
    """A construct spread over lines with a comment on each becomes one line with them above it."""
    source = """contract c version 1
set big = {
  1,  # one
  2,  # two
  3
}
"""
    expected = """contract c version 1

# one
# two
set big = {1, 2, 3}
"""
    assert _assert_round_trip(source) == expected


def test_comments_at_the_end_of_a_block_stay_inside_it() -> None:
    """A comment after the last rule goes before `}`, not onto the next item."""
    source = """contract c version 1
policy T {
  allow transfer
# about the transfer rule
}
# about the example
example "e" {
  expect allowed
}"""
    expected = """contract c version 1

policy T {
  allow transfer
  # about the transfer rule
}

# about the example
example "e" {
  expect allowed
}
"""
    assert _assert_round_trip(source) == expected


def test_comment_trailing_a_continuation_line_stays_there() -> None:
    """A comment after `because` on the continuation line is still there after formatting."""
    reason = "r" * 90
    source = (
        f'contract c version 1\n\npolicy T {{\n  deny transfer\n    because "{reason}"  # why\n}}\n'
    )
    assert _assert_round_trip(source) == source


def test_header_alone_with_only_final_comments() -> None:
    """A contract with no items keeps its closing comments after one blank line."""
    source = "contract c version 1   # version one\n# nothing yet   \n"
    expected = "contract c version 1  # version one\n\n# nothing yet\n"
    assert _assert_round_trip(source) == expected


def test_syntax_errors_raise_contract_error() -> None:
    """Text that does not parse raises ContractError carrying the parser's diagnostics."""
    with pytest.raises(ContractError) as raised:
        format_source("contract c version\n")
    assert raised.value.path == "<source>"
    assert raised.value.diagnostics


# ---- property: random contracts --------------------------------------------------------------

S = UNKNOWN_SPAN
NAMES = ["a", "b", "clinics", "amount", "channel", "offline", "individual", "to"]
FACT_PATHS = [("receiver", "mcc"), ("sender", "kyc"), ("quote", "spread"), ("token", "age")]
OPERATIONS = ["purchase", "transfer", "convert", "distribute", "cash_out"]
UNITS = ["KZT", "USD", "days", "seconds"]

names = st.sampled_from(NAMES)
whole_numbers = st.from_regex(r"[0-9](_?[0-9]){0,5}", fullmatch=True)
numbers = st.one_of(whole_numbers, st.from_regex(r"[0-9](_?[0-9])*\.[0-9]{1,2}", fullmatch=True))
quantities = st.builds(
    lambda number, unit: ast.Quantity(number, unit, S, S), numbers, st.sampled_from(UNITS)
)
percents = numbers.map(lambda number: ast.Percent(number, S))
strings = st.text(alphabet='ab #"\\\n{}()', max_size=12).map(lambda value: ast.String(value, S))
long_strings = st.text(alphabet="ab ", min_size=50, max_size=110).map(lambda v: ast.String(v, S))
dates = st.dates(datetime.date(2000, 1, 1), datetime.date(2099, 12, 31)).map(
    lambda day: ast.Date(day.isoformat(), S)
)
atoms: st.SearchStrategy[ast.Expr] = st.one_of(
    names.map(lambda name: ast.Name(name, S)),
    st.sampled_from(FACT_PATHS).map(lambda parts: ast.FactPath(parts, S)),
    numbers.map(lambda text: ast.Number(text, S)),
    quantities,
    percents,
    strings,
    dates,
    st.booleans().map(lambda value: ast.Boolean(value, S)),
)


EXPRESSION_KINDS = ["atom", "logic", "not", "compare", "membership", "arithmetic", "set"]
COMPARATORS = ["==", "!=", "<", "<=", ">", ">="]


@st.composite
def expressions(draw: st.DrawFn, depth: int) -> ast.Expr:
    """An expression nested at most `depth` levels, every kind equally likely at each level."""
    # Drawing the kind first keeps the mix even; `one_of` over nested strategies was found to
    # produce mostly chains of `not`, which hid precedence mistakes.
    kind = draw(st.sampled_from(EXPRESSION_KINDS)) if depth > 0 else "atom"
    inner = expressions(depth - 1)
    match kind:
        case "logic":
            operands = tuple(draw(st.lists(inner, min_size=2, max_size=3)))
            return ast.Logic(draw(st.sampled_from(["and", "or"])), operands, S)
        case "not":
            return ast.Not(draw(inner), S)
        case "compare":
            return ast.Compare(draw(st.sampled_from(COMPARATORS)), draw(inner), draw(inner), S)
        case "membership":
            return ast.Membership(draw(st.booleans()), draw(inner), draw(inner), S)
        case "arithmetic":
            return ast.Arithmetic(draw(st.sampled_from(["+", "-"])), draw(inner), draw(inner), S)
        case "set":
            return ast.SetLiteral(tuple(draw(st.lists(inner, max_size=3))), S)
    return draw(atoms)


conditions = expressions(4)
small_expressions = expressions(1)


@st.composite
def rules(draw: st.DrawFn) -> ast.Rule:
    """An allow or deny with any of its optional clauses."""
    kind = draw(st.sampled_from(["allow", "deny"]))
    because = draw(st.none() | strings | long_strings) if kind == "deny" else None
    return ast.Rule(
        kind, draw(st.sampled_from(OPERATIONS)), draw(st.none() | small_expressions),
        draw(st.none() | small_expressions), draw(st.none() | conditions), because, S, S,
    )


periods = st.sampled_from(["day", "week", "month"])
policy_items: st.SearchStrategy[ast.PolicyItem] = st.one_of(
    rules(),
    st.builds(lambda amount: ast.Limit(amount, "transaction", None, S), quantities),
    st.builds(lambda amount, scope, period: ast.Limit(amount, scope, period, S), quantities,
              st.sampled_from(["wallet", "merchant"]), periods),
    st.builds(lambda amount: ast.Hold(amount, S), quantities),
    st.sampled_from(["purchase", "cash_out"]).map(lambda operation: ast.Release(operation, S, S)),
)
policies = st.builds(
    lambda token, items: ast.PolicyDef(token, tuple(items), S, S),
    st.sampled_from(["HEALTH", "REMIT"]), st.lists(policy_items, max_size=5),
)


@st.composite
def tokens(draw: st.DrawFn) -> ast.TokenDef:
    """A token whose fields, any of them missing, come in the canonical order."""
    fields = []
    if draw(st.booleans()):
        fields.append(ast.TokenField("currency", ast.Name(draw(st.sampled_from(UNITS)), S), S))
    if draw(st.booleans()):
        fields.append(ast.TokenField("issuer", draw(strings), S))
    if draw(st.booleans()):
        moment = draw(st.one_of(dates, quantities))
        then = draw(st.sampled_from(["return", "burn", "release"]))
        fields.append(ast.TokenField("expires", ast.Expiry(moment, then, S), S))
    return ast.TokenDef(draw(st.sampled_from(["HEALTH", "REMIT"])), tuple(fields), S, S)


provider_values = st.one_of(strings, st.lists(strings, max_size=3).map(
    lambda xs: ast.SetLiteral(tuple(xs), S)
))
fx_clauses = st.one_of(
    provider_values.map(lambda value: ast.FxClause("providers", value, S)),
    percents.map(lambda value: ast.FxClause("max_spread", value, S)),
    percents.map(lambda value: ast.FxClause("max_fee", value, S)),
    quantities.map(lambda value: ast.FxClause("max_amount", value, S)),
    quantities.map(lambda value: ast.FxClause("quote_valid", value, S)),
)
corridors = st.builds(
    lambda source, target, clauses: ast.FxDef(source, target, tuple(clauses), S, S),
    st.sampled_from(UNITS), st.sampled_from(UNITS), st.lists(fx_clauses, max_size=5),
)
facts = st.lists(st.tuples(st.sampled_from(["mcc", "kyc", "id"]), small_expressions), max_size=2)
parties = st.builds(lambda role, pairs: ast.Party(role, tuple(pairs), S), names, facts)


@st.composite
def operation_steps(draw: st.DrawFn) -> ast.OperationStep:
    """An operation with any of `from`, `to`, `via "…" (quote)` and `with channel`."""
    provider = draw(st.none() | strings)
    quote = tuple(draw(facts)) if provider is not None else ()
    channel = draw(st.none() | st.sampled_from(["online", "offline"]).map(lambda n: ast.Name(n, S)))
    return ast.OperationStep(
        draw(st.sampled_from(OPERATIONS)), draw(quantities), draw(st.none() | parties),
        draw(st.none() | parties), provider, quote, channel, S, S,
    )


expectations = st.one_of(
    st.just(ast.Expect(True, None, None, S)),
    st.sampled_from([None, "limit", "expiry", "default"]).map(
        lambda ground: ast.Expect(False, ground, None, S)
    ),
    st.one_of(strings, whole_numbers.map(lambda text: ast.Number(text, S))).map(
        lambda rule: ast.Expect(False, "rule", rule, S)
    ),
)
steps: st.SearchStrategy[ast.Step] = st.one_of(
    operation_steps(),
    quantities.map(lambda by: ast.Advance(by, None, S)),
    dates.map(lambda to: ast.Advance(None, to, S)),
    expectations,
)


@st.composite
def examples(draw: st.DrawFn) -> ast.ExampleDef:
    """An example for the only token, a named token, or a corridor."""
    subject = draw(st.sampled_from(["none", "token", "corridor"]))
    token = "HEALTH" if subject == "token" else None
    corridor = ("KHR", "THB") if subject == "corridor" else None
    chosen = tuple(draw(st.lists(steps, max_size=4)))
    return ast.ExampleDef(draw(strings), token, corridor, chosen, S, None)


sets = st.builds(lambda name, value: ast.SetDef(name, value, S, S), names, conditions)
items: st.SearchStrategy[ast.Item] = st.one_of(sets, tokens(), policies, corridors, examples())
headers = st.builds(
    lambda name, version, description: ast.Header(name, version, description, S),
    names, st.from_regex(r"[0-9]{1,3}", fullmatch=True), st.none() | strings,
)
contracts = st.builds(
    lambda header, body: ast.Contract(header, tuple(body), S), headers, st.lists(items, max_size=6)
)

# What may stand between two tokens: whitespace, line breaks, and comments in every position.
SEPARATORS = [" ", " ", " ", "\n", "\n      ", "   ", "  # trailing {n} \n", "\n# alone {n}\n",
              "\n\n    # indented {n}\n\n", "  # with \"quotes\" and {{braces}} {n}\n"]


def _relayout(text: str, choices: list[int], before: bool, after: bool) -> str:
    """The tokens of `text` joined by separators (comments among them) drawn from `choices`."""
    values = [token.value for token in parser().lex(text)]
    separators = (SEPARATORS[choice] for choice in itertools.cycle(choices))
    pieces = ["# before the header\n" if before else ""]
    for number, value in enumerate(values):
        pieces.append(value)
        pieces.append(next(separators).format(n=number))
    pieces.append("\n# after everything\n" if after else "\n")
    return "".join(pieces)


def _code_only(text: str) -> str:
    """`text` without its comments and the lines they stood on alone."""
    lines = text.split("\n")
    alone = set()
    for comment in _tree(text).comments:
        before = lines[comment.line - 1][: comment.column - 1]
        if before.strip():
            lines[comment.line - 1] = before.rstrip()
        else:
            alone.add(comment.line - 1)
    kept = [line for index, line in enumerate(lines) if index not in alone]
    return "\n".join(kept).rstrip("\n") + "\n"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    contract=contracts,
    choices=st.lists(st.integers(0, len(SEPARATORS) - 1), min_size=1, max_size=40),
    before=st.booleans(),
    after=st.booleans(),
)
def test_random_contracts_round_trip(
    contract: ast.Contract, choices: list[int], before: bool, after: bool
) -> None:
    """Random trees format to text that parses back to them; re-laid out with random comments, they
    format idempotently, to the same tree, with every comment kept and the code laid out the same.
    """
    canonical = format_contract(contract)
    assert _tree(canonical) == contract
    assert format_source(canonical) == canonical

    source = _relayout(canonical, choices, before, after)
    assert _tree(source) == contract
    formatted = _assert_round_trip(source)
    assert _tree(formatted) == contract
    # Comments never change how the code itself is laid out.
    assert _code_only(formatted) == canonical
