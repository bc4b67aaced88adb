"""Any text gives diagnostics or a compiled contract, never a traceback and never E0001.

Three sources of text: arbitrary strings, mutations of real contracts (slices deleted, inserted,
duplicated and swapped, stray tokens dropped in), and a grammar-aware generator that writes
plausible contracts with random names, currencies, units, operations and facts. A fourth property
does the same for the command line's `explain` words.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from dsl import errors
from dsl.fact_text import build_question
from dsl.facts import CHANNELS, FACTS, OPERATIONS, ROLES, USAGE_KEYS
from dsl.phases import CompiledContract
from dsl.render import render_all

REPO_ROOT = Path(__file__).resolve().parents[2]
# No shrinking: a failure shows the generated text as found, and shrinking a contract can take
# longer than the whole file's budget; `test_hostile_inputs` keeps the minimal reproductions.
FUZZ_SETTINGS = settings(
    max_examples=250, deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Seeds for mutation: the shipped library plus the design page's FX contract, which exercises
# corridors and convert rules that the library may not.
_CORRIDOR = """\
contract khr_thb_corridor version 1

fx KHR -> THB {
  providers {"acleda-fx", "kbank-fx"}
  max spread 0.75 % over reference
  max fee 0.50 %
  max amount 4_000_000 KHR per payment
  quote valid 30 seconds
}

token REMIT {
  currency JPY
  issuer "vivit"
  expires 400 days after issue, then release
}

policy REMIT {
  allow transfer
  allow convert to {KHR, USD} via {"soramitsu-fx"} when quote.spread <= 1 %
  deny  convert when amount > 1_000_000 JPY because "above the single-payment cap"
  hold at most 5_000_000 JPY per wallet
}

example "a convert through the hub" for KHR -> THB {
  convert 1_000 KHR to THB via "kbank-fx" (spread: 0.5 %, age: 10 seconds)
  expect allowed
}

example "a stale quote" for REMIT {
  convert 1_000 JPY to KHR via "soramitsu-fx" (spread: 0.8 %)
  advance 91 days
  transfer 100 JPY to individual(kyc: 1) with channel offline
  expect allowed
}
"""
SEEDS = [path.read_text(encoding="utf-8")
         for path in sorted((REPO_ROOT / "contracts").glob("*.earmark"))] + [_CORRIDOR]


def assert_diagnosed(text: str) -> None:
    """Compile `text`; every phase must answer, with no E0001 and every span inside the text."""
    contract = CompiledContract(text, "fuzz.earmark")
    diagnostics = contract.diagnostics
    internal = [d for d in diagnostics if d.code is errors.INTERNAL]
    assert internal == [], internal[0].message
    line_count = text.count("\n") + 1
    for diagnostic in diagnostics:
        span = diagnostic.span
        assert 1 <= span.line <= line_count + 1, diagnostic
        assert span.column >= 1, diagnostic
    render_all(diagnostics, text, "fuzz.earmark")
    if contract.ok:
        assert all(result.passed for result in contract.example_results)


# ---- (a) arbitrary text ------------------------------------------------------------------------


@FUZZ_SETTINGS
@given(text=st.one_of(st.text(), st.text().map(lambda rest: "contract c version 1\n" + rest)))
def test_random_text(text: str) -> None:
    """Arbitrary strings, bare or after a valid header, are diagnosed without a crash."""
    assert_diagnosed(text)


# ---- (b) mutations of real contracts -----------------------------------------------------------

STRAY_TOKENS = ["{", "}", "(", ")", "and", "or", "not", "KZT", "USD", '"', "0", "7", "12_500",
                "1.5", ",", "->", "==", "=", ".", "%", "\n", "allow", "deny", "policy",
                "example", "expect", "token", "set", "#", "2026-02-30", "days", "when", "in", "+",
                "limit", "per", "by rule 3", "for", "advance", "\\", "é", "\t"]


@st.composite
def mutations(draw: st.DrawFn) -> str:
    """A seed contract after one to five random edits."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["delete", "insert", "duplicate", "swap"]))
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 60)))
        if kind == "delete":
            text = text[:start] + text[end:]
        elif kind == "insert":
            token = draw(st.sampled_from(STRAY_TOKENS))
            space = draw(st.sampled_from(["", " "]))
            text = text[:start] + space + token + space + text[start:]
        elif kind == "duplicate":
            text = text[:end] + text[start:end] + text[end:]
        else:
            later = draw(st.integers(end, len(text)))
            last = draw(st.integers(later, min(len(text), later + 60)))
            text = text[:start] + text[later:last] + text[end:later] + text[start:end] + text[last:]
    return text


@FUZZ_SETTINGS
@given(text=mutations())
def test_mutated_contracts(text: str) -> None:
    """Real contracts with slices deleted, inserted, duplicated or swapped are diagnosed."""
    assert_diagnosed(text)


# ---- (c) plausible contracts from the grammar --------------------------------------------------

NAMES = ["T", "HEALTH", "U", "clinics", "a", "offline", "amount", "KZT", "merchant", "x_1"]
CURRENCIES = ["KZT", "USD", "JPY", "BHD", "KHR", "THB", "VND", "QQQ", "XAU", "kzt"]
UNITS = [*CURRENCIES, "days", "day", "seconds", "weeks", "hours", "months", "furlongs"]
OPERATION_WORDS = [*OPERATIONS, "purchse", "spend"]
FACT_WORDS = [*FACTS, "receiver.mccc", "quote", "sender.kyc.level", "token.name"]
DATES = ["2026-01-01", "2026-02-01", "2027-02-30", "2026-13-01", "9999-12-31", "0001-01-01",
         "1970-01-01"]

_numbers = st.one_of(
    st.integers(0, 10**6).map(str),
    st.integers(0, 10**40).map(lambda n: f"{n:_}"),
    st.tuples(st.integers(0, 10**6), st.integers(0, 10**4)).map(lambda t: f"{t[0]}.{t[1]}"),
)
_strings = st.sampled_from(['"ministry"', '"soramitsu-fx"', '""', '"a \\"quoted\\" b"',
                            '"kbank-fx"', '"deny purchase"', '"limit per transaction"'])
_quantities = st.tuples(_numbers, st.sampled_from(UNITS)).map(" ".join)
_percents = _numbers.map(lambda n: f"{n} %")
_atoms = st.one_of(
    _numbers, _quantities, _percents, _strings, st.sampled_from(DATES),
    st.sampled_from(FACT_WORDS), st.sampled_from([*NAMES, *ROLES, *CHANNELS, *CURRENCIES]),
    st.sampled_from(["true", "false", "{}"]),
)


def _expressions() -> st.SearchStrategy[str]:
    return st.recursive(
        _atoms,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in",
                                              "+", "-", "and", "or"]), inner).map(" ".join),
            inner.map(lambda e: f"not {e}"),
            inner.map(lambda e: f"({e})"),
            st.lists(inner, max_size=4).map(lambda items: "{" + ", ".join(items) + "}"),
        ),
        max_leaves=6,
    )


_expr = _expressions()

@st.composite
def _rule(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["allow", "deny", "limit", "hold", "release"]))
    if kind == "limit":
        scope = draw(st.sampled_from(["transaction", "wallet per day", "wallet per month",
                                      "merchant per week"]))
        return f"limit {draw(_quantities)} per {scope}"
    if kind == "hold":
        return f"hold at most {draw(_quantities)} per wallet"
    if kind == "release":
        return f"release on {draw(st.sampled_from(OPERATION_WORDS))}"
    text = f"{kind} {draw(st.sampled_from(OPERATION_WORDS))}"
    if draw(st.booleans()):
        text += f" to {draw(_atoms)}"
    if draw(st.booleans()):
        text += f" via {draw(_atoms)}"
    if draw(st.booleans()):
        text += f" when {draw(_expr)}"
    if kind == "deny" and draw(st.booleans()):
        text += f" because {draw(_strings)}"
    return text


@st.composite
def _party(draw: st.DrawFn) -> str:
    role = draw(st.sampled_from([*ROLES, *CURRENCIES[:3], "alien"]))
    pairs = draw(st.lists(st.tuples(st.sampled_from(["mcc", "kyc", "bank", "region", "id",
                                                     "colour", "spread", "age"]), _atoms),
                          max_size=2))
    if not pairs and draw(st.booleans()):
        return role
    return role + "(" + ", ".join(f"{key}: {value}" for key, value in pairs) + ")"


@st.composite
def _step(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["operation", "operation", "advance", "advance to", "expect"]))
    if kind == "advance":
        return f"advance {draw(_quantities)}"
    if kind == "advance to":
        return f"advance to {draw(st.sampled_from(DATES))}"
    if kind == "expect":
        return draw(st.sampled_from([
            "expect allowed", "expect denied", "expect denied by limit",
            "expect denied by expiry", "expect denied by default",
            'expect denied by rule "deny purchase"', "expect denied by rule 7",
        ]))
    text = f"{draw(st.sampled_from(OPERATION_WORDS))} {draw(_quantities)}"
    if draw(st.booleans()):
        text += f" from {draw(_party())}"
    if draw(st.booleans()):
        text += f" to {draw(_party())}"
    if draw(st.booleans()):
        text += f" via {draw(_strings)}"
        if draw(st.booleans()):
            text += " (spread: 0.8 %, age: 10 seconds)"
    if draw(st.booleans()):
        text += f" with channel {draw(st.sampled_from([*CHANNELS, 'pigeon']))}"
    return text


def _block(head: str, lines: list[str]) -> str:
    return head + " {\n" + "".join(f"  {line}\n" for line in lines) + "}\n"


@st.composite
def _item(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["set", "token", "policy", "policy", "fx", "example", "example"]))
    name = draw(st.sampled_from(NAMES))
    if kind == "set":
        return f"set {name} = {draw(_expr)}\n"
    if kind == "token":
        fields = draw(st.lists(st.one_of(
            st.sampled_from(CURRENCIES).map(lambda code: f"currency {code}"),
            _strings.map(lambda issuer: f"issuer {issuer}"),
            st.tuples(st.one_of(st.sampled_from(DATES), _quantities.map(
                lambda q: f"{q} after issue")), st.sampled_from(
                ["", ", then burn", ", then release", ", then return to issuer"])).map(
                lambda t: f"expires {t[0]}{t[1]}"),
        ), max_size=4))
        return _block(f"token {name}", fields)
    if kind == "policy":
        return _block(f"policy {name}", draw(st.lists(_rule(), max_size=6)))
    if kind == "fx":
        pair = " -> ".join(draw(st.lists(st.sampled_from(CURRENCIES), min_size=2, max_size=2)))
        clauses = draw(st.lists(st.one_of(
            st.lists(_strings, max_size=3).map(lambda s: "providers {" + ", ".join(s) + "}"),
            _percents.map(lambda p: f"max spread {p} over reference"),
            _percents.map(lambda p: f"max fee {p}"),
            _quantities.map(lambda q: f"max amount {q} per payment"),
            _quantities.map(lambda q: f"quote valid {q}"),
        ), max_size=4))
        return _block(f"fx {pair}", clauses)
    subject = draw(st.sampled_from(["", f" for {name}", " for KHR -> THB", " for KZT -> KZT"]))
    return _block(f"example {draw(_strings)}{subject}", draw(st.lists(_step(), max_size=6)))


@st.composite
def _loose_contract(draw: st.DrawFn) -> str:
    """A header and a few items, each shaped like the grammar but filled at random."""
    header = f"contract {draw(st.sampled_from(NAMES))} version {draw(_numbers)}"
    if draw(st.booleans()):
        header += f"\n  {draw(_strings)}"
    token = draw(st.sampled_from(["", 'token T {\n  currency KZT\n  issuer "agency"\n}\n']))
    items = draw(st.lists(_item(), max_size=6))
    return header + "\n\n" + token + "\n".join(items)


_SMALL_KZT = st.integers(1, 10**7).map(lambda n: f"{n:_} KZT")
_RUNNABLE_RULES = st.one_of(
    st.sampled_from(["allow purchase", "allow transfer", "allow cash_out", "deny transfer",
                     "allow purchase when receiver.mcc in {5912, 8062}",
                     "deny purchase when channel == offline", "release on purchase",
                     "allow distribute when receiver.kyc >= 1"]),
    _SMALL_KZT.map(lambda amount: f"deny purchase when amount > {amount}"),
    st.tuples(_SMALL_KZT, st.sampled_from(["transaction", "wallet per day", "wallet per week",
                                           "wallet per month", "merchant per month"])).map(
        lambda t: f"limit {t[0]} per {t[1]}"),
    _SMALL_KZT.map(lambda amount: f"hold at most {amount} per wallet"),
)
_OPERATION_STEPS = st.tuples(
    st.sampled_from(["purchase", "transfer", "cash_out", "distribute", "return"]), _SMALL_KZT,
    st.sampled_from(["", " to merchant(mcc: 5912)", " to individual(kyc: 1)",
                     " to merchant(mcc: 5411)"]),
    st.sampled_from(["", " with channel offline"]),
).map(lambda t: f"{t[0]} {t[1]}{t[2]}{t[3]}")
_EXPECTS = st.sampled_from(["expect allowed", "expect denied", "expect denied by limit",
                            "expect denied by expiry", "expect denied by default"])
_RUNNABLE_STEPS = st.one_of(
    _OPERATION_STEPS,
    st.tuples(st.integers(0, 10**16), st.sampled_from(["seconds", "days", "weeks"])).map(
        lambda t: f"advance {t[0]} {t[1]}"),
    st.sampled_from(DATES[:2] + DATES[4:]).map(lambda day: f"advance to {day}"),
    _EXPECTS,
)
# An operation first, an expectation last: examples that the checker lets run.
_RUNNABLE_EXAMPLES = st.tuples(_OPERATION_STEPS, st.lists(_RUNNABLE_STEPS, max_size=5),
                               _EXPECTS).map(lambda t: [t[0], *t[1], t[2]])


@st.composite
def _runnable_contract(draw: st.DrawFn) -> str:
    """A token, its policy and examples, well typed, so that the examples actually run."""
    expiry = draw(st.sampled_from([
        "", "  expires 90 days after issue\n", "  expires 2026-03-31, then burn\n",
        f"  expires {draw(st.integers(0, 10**30))} seconds after issue\n",
    ]))
    token = f'token T {{\n  currency KZT\n  issuer "agency"\n{expiry}}}\n'
    policy = _block("policy T", draw(st.lists(_RUNNABLE_RULES, max_size=6)))
    examples = [_block(f'example "e{index}"', steps) for index, steps in enumerate(
        draw(st.lists(_RUNNABLE_EXAMPLES, min_size=1, max_size=3)))]
    return "contract c version 1\n\n" + token + policy + "".join(examples)


def plausible_contracts() -> st.SearchStrategy[str]:
    """Grammar-shaped contracts: loosely filled ones, and well-typed ones whose examples run."""
    return st.one_of(_loose_contract(), _runnable_contract())


@FUZZ_SETTINGS
@given(text=plausible_contracts())
def test_plausible_contracts(text: str) -> None:
    """Grammar-shaped contracts, most of them semantically wrong, are diagnosed without a crash."""
    assert_diagnosed(text)


# ---- hostile inputs found or feared -------------------------------------------------------------

_TOKEN = 'contract c version 1\ntoken T {\n  currency KZT\n  issuer "a"\n%s}\n'
_ALLOW = "policy T {\n  allow purchase\n  limit 1 KZT per wallet per day\n}\n"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("contract c version 1\nset a = " + "(" * 20_000 + "{1}" + ")" * 20_000,
                     id="deep-parentheses"),
        pytest.param("contract c version 1\nset a = " + "{" * 3_000 + "1" + "}" * 3_000,
                     id="deep-sets"),
        pytest.param("contract c version 1\nset a = {1}" + " + {1}" * 20_000, id="long-sum"),
        pytest.param(_TOKEN % "" + "policy T {\n  allow purchase when " + "not " * 20_000
                     + "true\n}\n", id="long-negation"),
        pytest.param(_TOKEN % "" + _ALLOW + 'example "x" {\n  advance 100000000000 days\n'
                     "  purchase 1 KZT\n  expect allowed\n}\n", id="advance-past-year-9999"),
        pytest.param(_TOKEN % "  expires 1 days after issue\n" + _ALLOW
                     + 'example "x" {\n  advance 10000000000000 days\n  purchase 1 KZT\n'
                     "  expect denied by expiry\n}\n", id="advance-past-time-t"),
        pytest.param(_TOKEN % "  expires 10000000000000000000000000000000 days after issue\n"
                     + _ALLOW + 'example "x" {\n  purchase 1 KZT\n  expect allowed\n}\n',
                     id="expiry-far-away"),
        pytest.param(_TOKEN % "  expires 0001-01-01\n" + _ALLOW
                     + 'example "x" {\n  purchase 1 KZT\n  expect denied by expiry\n}\n',
                     id="expired-in-year-1"),
        pytest.param(_TOKEN % "" + _ALLOW + 'example "x" {\n  advance to 0001-01-01\n'
                     "  purchase 1 KZT\n  expect allowed\n}\n", id="advance-to-year-1"),
        pytest.param("\ufeffcontract c version 1\n", id="byte-order-mark"),
        pytest.param("contract c version 1\nset a = {1}\x00\n", id="nul"),
        pytest.param((_TOKEN % "" + _ALLOW).replace("\n", "\r\n"), id="crlf"),
        pytest.param("", id="empty"),
    ],
)
def test_hostile_inputs(text: str) -> None:
    """Inputs built to hit limits, deep nesting and calendar edges are diagnosed, not crashed on."""
    assert_diagnosed(text)


# ---- (d) the words of `earmark explain` --------------------------------------------------------

_REMIT = CompiledContract(SEEDS[-1]).policies.get("REMIT")
_words = st.one_of(st.text(max_size=20), _atoms, st.sampled_from(["1 JPY", "12.5 JPY", "-1 JPY",
                                                                  "1 JPY - 2 JPY", "100 days"]))


@FUZZ_SETTINGS
@given(operation=st.sampled_from([*OPERATION_WORDS, ""]), amount=_words,
       fact_pairs=st.lists(st.tuples(st.sampled_from([*FACT_WORDS, "amount", ""]), _words).map(
           "=".join), max_size=3),
       usage_pairs=st.lists(st.tuples(st.sampled_from([*USAGE_KEYS, "wallet.year"]),
                                      _words).map("=".join), max_size=2))
@example(operation="purchase", amount="1 JPY", fact_pairs=["token.age=100_000_000_000 days"],
         usage_pairs=[])
def test_explain_words(operation: str, amount: str, fact_pairs: list[str],
                       usage_pairs: list[str]) -> None:
    """Any command-line words give a decision or an `InputError`, never another exception."""
    assert _REMIT is not None
    try:
        question = build_question(_REMIT, operation, amount, fact_pairs, usage_pairs)
        decision = _REMIT.decide(question.facts, question.usage)
    except errors.InputError:
        return
    assert decision.reason
