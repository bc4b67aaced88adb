"""Properties of evaluation that the design promises, over random policies and random facts.

Policies are generated as contract text from a small grammar of rules (allow/deny with random
conditions, limits, holds, releases, expiry), compiled, and asked about random transactions.
"""

from __future__ import annotations

import random
from dataclasses import fields
from datetime import date
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl.errors import Diagnostic
from dsl.evaluate import CompiledPolicy, Decision
from dsl.facts import CHANNELS, OPERATIONS, PERIODS, ROLES, Facts, Party, Quote, Usage
from dsl.money import CURRENCY_EXPONENTS, MoneyError, format_minor, to_minor
from dsl.phases import CompiledContract
from dsl.resolve import date_seconds

DAY_S = 86_400
START_S = date_seconds("2026-01-01") or 0
MCCS = (0, 5411, 5812, 5912, 8062, 4111)
PROVIDERS = ("fx-a", "fx-b")
TARGETS = ("KHR", "USD", "THB")
ISSUER = Party(id="agency", role="agency")

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])

# ---- random policies as text ------------------------------------------------------------------


def _amount_text(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d} KZT"


_AMOUNTS = st.integers(1, 10**8).map(_amount_text)
_ATOMS = st.one_of(
    st.sampled_from(MCCS[1:]).map(lambda mcc: f"receiver.mcc == {mcc}"),
    st.lists(st.sampled_from(MCCS[1:]), min_size=1, max_size=3, unique=True).map(
        lambda mccs: "receiver.mcc in {" + ", ".join(map(str, mccs)) + "}"),
    st.tuples(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), _AMOUNTS).map(
        lambda pair: f"amount {pair[0]} {pair[1]}"),
    st.sampled_from(CHANNELS).map(lambda channel: f"channel == {channel}"),
    st.tuples(st.sampled_from(["sender", "receiver"]), st.sampled_from([">=", "<"]),
              st.integers(0, 3)).map(lambda t: f"{t[0]}.kyc {t[1]} {t[2]}"),
    st.tuples(st.sampled_from(["sender", "receiver"]), st.sampled_from(ROLES)).map(
        lambda t: f"{t[0]}.role == {t[1]}"),
    st.integers(0, 120).map(lambda days: f"token.age > {days} days"),
    st.integers(0, 120).map(lambda days: f"now >= 2026-01-01 + {days} days"),
    st.just('sender.region == "north"'),
)
_CONVERT_ATOMS = st.one_of(
    _ATOMS,
    st.integers(0, 300).map(lambda cents: f"quote.spread <= {cents // 100}.{cents % 100:02d} %"),
    st.sampled_from(PROVIDERS).map(lambda provider: f'quote.provider == "{provider}"'),
    st.sampled_from(TARGETS).map(lambda target: f"quote.target == {target}"),
)


def _conditions(atoms: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.recursive(
        atoms,
        lambda inner: st.one_of(
            inner.map(lambda c: f"not ({c})"),
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
                lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        ),
        max_leaves=4,
    )


@st.composite
def rules(draw: st.DrawFn, operation: str | None = None) -> str:
    """One allow or deny rule, for `operation` or a random one."""
    kind = draw(st.sampled_from(["allow", "deny"]))
    operation = operation or draw(st.sampled_from(OPERATIONS))
    text = f"{kind} {operation}"
    if operation == "convert":
        if draw(st.booleans()):
            chosen = draw(st.lists(st.sampled_from(TARGETS), min_size=1, unique=True))
            text += " to {" + ", ".join(chosen) + "}"
        if draw(st.booleans()):
            text += ' via {"' + draw(st.sampled_from(PROVIDERS)) + '"}'
    if draw(st.booleans()):
        atoms = _CONVERT_ATOMS if operation == "convert" else _ATOMS
        text += " when " + draw(_conditions(atoms))
    if kind == "deny" and draw(st.booleans()):
        text += ' because "a reason"'
    return text


_LIMITS = st.one_of(
    _AMOUNTS.map(lambda amount: f"limit {amount} per transaction"),
    st.tuples(_AMOUNTS, st.sampled_from(["wallet", "merchant"]), st.sampled_from(PERIODS)).map(
        lambda t: f"limit {t[0]} per {t[1]} per {t[2]}"),
    _AMOUNTS.map(lambda amount: f"hold at most {amount} per wallet"),
)
_EXTRAS = st.lists(st.one_of(_LIMITS, st.sampled_from(["release on purchase",
                                                       "release on cash_out"])), max_size=3)
_EXPIRY = st.one_of(
    st.just(""),
    st.integers(1, 120).map(lambda days: f"  expires {days} days after issue\n"),
    st.dates(date(2025, 12, 1), date(2026, 6, 1)).map(
        lambda day: f"  expires {day.isoformat()}, then burn\n"),
)


@st.composite
def policies(draw: st.DrawFn) -> list[str]:
    """The lines of a policy: rules, then limits and releases."""
    return draw(st.lists(rules(), max_size=8)) + draw(_EXTRAS)


def compile_policy(lines: list[str], expiry: str = "") -> CompiledPolicy:
    """Compile token T (KZT) with `lines` as its policy; the generator makes no errors."""
    body = "".join(f"  {line}\n" for line in lines)
    source = (f'contract p version 1\ntoken T {{\n  currency KZT\n  issuer "agency"\n{expiry}}}\n'
              f"policy T {{\n{body}}}\n")
    contract = CompiledContract(source, "p.earmark")
    problems: list[Diagnostic] = [d for d in contract.diagnostics if d.is_error]
    assert problems == [], (source, problems)
    return contract.policy("T")


# ---- random transactions ----------------------------------------------------------------------

_PARTIES = st.builds(
    Party,
    id=st.sampled_from(["a", "b", "c"]),
    role=st.sampled_from(ROLES),
    kyc=st.integers(0, 3),
    bank=st.sampled_from(["", "acleda"]),
    region=st.sampled_from(["", "north"]),
    mcc=st.sampled_from(MCCS),
)
_QUOTES = st.builds(
    Quote,
    provider=st.sampled_from(PROVIDERS),
    target=st.sampled_from(TARGETS),
    rate=st.decimals(0, 100, places=4),
    spread=st.decimals(0, 3, places=2),
    fee=st.decimals(0, 3, places=2),
    age_s=st.integers(0, 60),
)


@st.composite
def transactions(draw: st.DrawFn, operation: str | None = None) -> Facts:
    """The facts of one random transaction in KZT."""
    operation = operation or draw(st.sampled_from(OPERATIONS))
    now_s = START_S + draw(st.integers(0, 150 * DAY_S))
    return Facts(
        operation=operation,
        amount_minor=draw(st.integers(1, 10**8)),
        currency="KZT",
        sender=draw(_PARTIES),
        # A return goes back to the issuer; a return to anyone else is not a return.
        receiver=ISSUER if operation == "return" else draw(_PARTIES),
        channel=draw(st.sampled_from(CHANNELS)),
        now_s=now_s,
        issued_at_s=now_s - draw(st.integers(0, 150 * DAY_S)),
        quote=draw(_QUOTES) if operation == "convert" else None,
    )


_USAGE = st.builds(Usage, **{f.name: st.integers(0, 10**8) for f in fields(Usage)})


# ---- properties ---------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(lines=policies(), expiry=_EXPIRY, asked=st.lists(st.tuples(transactions(), _USAGE),
                                                         min_size=1, max_size=8),
       seed=st.integers(0, 2**32))
def test_evaluation_is_deterministic(lines: list[str], expiry: str,
                                     asked: list[tuple[Facts, Usage]], seed: int) -> None:
    """Same facts and usage give equal decisions, compiled twice and asked in any order."""
    first, second = compile_policy(lines, expiry), compile_policy(lines, expiry)
    in_order = [first.decide(facts, usage) for facts, usage in asked]
    order = list(range(len(asked)))
    random.Random(seed).shuffle(order)
    shuffled: dict[int, Decision] = {i: second.decide(*asked[i]) for i in order}
    assert in_order == [shuffled[i] for i in range(len(asked))]
    assert in_order == [first.decide(facts, usage) for facts, usage in asked]


@PROPERTY_SETTINGS
@given(lines=policies(), expiry=_EXPIRY, operation=st.sampled_from(OPERATIONS), data=st.data())
def test_deny_wins(lines: list[str], expiry: str, operation: str, data: st.DataObject) -> None:
    """Appending an unconditional `deny OP` makes every OP refused, whatever else allows it."""
    denied = compile_policy([*lines, f"deny {operation}"], expiry)
    facts = data.draw(transactions(operation))
    decision = denied.decide(facts, data.draw(_USAGE))
    assert decision.allowed is (operation == "return")


@PROPERTY_SETTINGS
@given(lines=policies(), expiry=_EXPIRY, operation=st.sampled_from(OPERATIONS), data=st.data())
def test_closed_by_default(lines: list[str], expiry: str, operation: str,
                           data: st.DataObject) -> None:
    """Without an `allow OP` no OP is ever allowed (return excepted), for random facts."""
    kept = [line for line in lines if not line.startswith(f"allow {operation}")]
    closed = compile_policy(kept, expiry)
    decision = closed.decide(data.draw(transactions(operation)), data.draw(_USAGE))
    assert decision.allowed is (operation == "return")


@PROPERTY_SETTINGS
@given(lines=policies(), expiry=_EXPIRY, data=st.data())
def test_return_is_always_allowed(lines: list[str], expiry: str, data: st.DataObject) -> None:
    """Whatever the policy, expiry and facts, a return to the issuer is allowed."""
    decision = compile_policy(lines, expiry).decide(data.draw(transactions("return")),
                                                    data.draw(_USAGE))
    assert decision.allowed


@PROPERTY_SETTINGS
@given(lines=st.tuples(policies(), st.lists(_LIMITS, min_size=1, max_size=3)).map(
           lambda pair: pair[0] + pair[1]),
       expiry=_EXPIRY, facts=transactions(), usage=_USAGE,
       shares=st.lists(st.fractions(0, 1), min_size=len(fields(Usage)),
                       max_size=len(fields(Usage))))
def test_limits_are_monotonic(lines: list[str], expiry: str, facts: Facts, usage: Usage,
                              shares: list[Fraction]) -> None:
    """A spend allowed with some usage is allowed with any smaller usage, field by field."""
    # An unconditional allow first, so that limits rather than rules decide most of the cases.
    compiled = compile_policy([f"allow {facts.operation}", *lines], expiry)
    smaller = Usage(**{f.name: int(getattr(usage, f.name) * share)
                       for f, share in zip(fields(Usage), shares, strict=True)})
    if compiled.decide(facts, usage).allowed:
        assert compiled.decide(facts, smaller).allowed


@PROPERTY_SETTINGS
@given(lines=policies(), expiry=_EXPIRY, facts=transactions())
def test_every_decision_says_why(lines: list[str], expiry: str, facts: Facts) -> None:
    """Every refusal has a reason, and one on a rule, limit or expiry names a line of the policy."""
    decision = compile_policy(lines, expiry).decide(facts)
    assert decision.reason
    if decision.rule is not None:
        assert decision.rule.line >= 1
        assert decision.rule.contract == "p"


# ---- money --------------------------------------------------------------------------------------

_CURRENCIES = st.sampled_from(sorted(CURRENCY_EXPONENTS))


@PROPERTY_SETTINGS
@given(whole=st.integers(0, 10**40), fraction=st.text("0123456789", max_size=6),
       currency=_CURRENCIES, underscores=st.booleans())
def test_to_minor_is_exact_or_refuses(whole: int, fraction: str, currency: str,
                                      underscores: bool) -> None:
    """`to_minor` of decimal text is the exactly scaled integer or raises; it never rounds."""
    text = f"{whole:_}" if underscores else str(whole)
    if fraction:
        text += "." + fraction
    places = CURRENCY_EXPONENTS[currency]
    numerator = int(str(whole) + fraction) * 10**places
    denominator = 10 ** len(fraction)
    try:
        minor = to_minor(text, currency)
    except MoneyError as refused:
        assert numerator % denominator != 0, (text, currency, refused)
        return
    assert numerator % denominator == 0
    assert minor == numerator // denominator


@PROPERTY_SETTINGS
@given(minor=st.integers(-(10**24), 10**24), currency=_CURRENCIES)
def test_format_minor_round_trips(minor: int, currency: str) -> None:
    """Formatting minor units and reading the text back gives the same integer."""
    text = format_minor(minor, currency)
    number, code = text.split(" ")
    assert code == currency
    assert to_minor(number, currency) == minor
