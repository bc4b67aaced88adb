"""Facts and usage from `name=value` text, as `earmark explain` takes them.

Values are written as in a contract (`5912`, `offline`, `0.8 %`, `12_500 KZT`, `2027-01-31`);
strings may be given bare (`sender.bank=acleda`). Anything unreadable raises `InputError` with
what was expected, so the command line can say it and exit 1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from dsl import errors, ir, types
from dsl.evaluate import CompiledPolicy
from dsl.example_steps import EXAMPLE_START_S
from dsl.facts import (
    FACTS,
    OPERATIONS,
    USAGE_KEYS,
    Facts,
    Party,
    Quote,
    Usage,
    default_receiver,
    default_sender,
    usage_field,
)
from dsl.parse import parse_value
from dsl.resolve import Resolver, Scope, date_seconds, suggest
from dsl.types import Kind, Type


@dataclass(frozen=True, slots=True)
class Question:
    """A transaction to explain: the facts and the usage totals."""

    facts: Facts
    usage: Usage


def build_question(policy: CompiledPolicy, operation: str, amount: str,
                   fact_pairs: list[str], usage_pairs: list[str]) -> Question:
    """Facts and usage for `policy` from the command line's words."""
    if operation not in OPERATIONS:
        raise errors.InputError(f"unknown operation {operation!r}; expected one of "
                                f"{', '.join(OPERATIONS)}" + _hint(operation, OPERATIONS))
    amount_minor = _money(amount, policy.currency, "--amount")
    if amount_minor <= 0:
        raise errors.InputError(f"--amount: a transaction moves more than zero, not {amount!r}")
    given = dict(_split(pair, "--fact") for pair in fact_pairs)
    for name in given:
        if name not in FACTS or name in {"amount", "op"}:
            settable = sorted(set(FACTS) - {"amount", "op"})
            raise errors.InputError(f"unknown fact {name!r}; facts are {', '.join(settable)}"
                                    + _hint(name, settable))
    values = {name: _fact_value(name, text, policy.currency) for name, text in given.items()}
    if values.get("token.age", 0) < 0:
        raise errors.InputError("--fact token.age: a note's age is zero or more")
    return Question(_facts(policy, operation, amount_minor, values), _usage(policy, usage_pairs))


def _facts(policy: CompiledPolicy, operation: str, amount_minor: int,
           values: dict[str, Any]) -> Facts:
    now = values.get("now", EXAMPLE_START_S)
    issued_at = values.get("token.issued_at", now - values.get("token.age", 0))
    sender = _party(default_sender(operation, policy.issuer), "sender", values)
    provider = values.get("quote.provider", "")
    receiver = _party(default_receiver(operation, policy.issuer, provider), "receiver", values)
    quote = _quote(operation, values)
    return Facts(operation, amount_minor, policy.currency, sender, receiver,
                 values.get("channel", "online"), now, issued_at, quote)


def _party(default: Party, side: str, values: dict[str, Any]) -> Party:
    prefix = f"{side}."
    given = {k.removeprefix(prefix): v for k, v in values.items() if k.startswith(prefix)}
    return replace(default, **given)


def _quote(operation: str, values: dict[str, Any]) -> Quote | None:
    given = {k.removeprefix("quote."): v for k, v in values.items() if k.startswith("quote.")}
    if operation != "convert":
        if given:
            raise errors.InputError("quote facts belong to a convert")
        return None
    missing = [f"quote.{k}" for k in ("provider", "target") if k not in given]
    if missing:
        raise errors.InputError(f"a convert needs {' and '.join(missing)} "
                                "(e.g. --fact quote.provider=soramitsu-fx --fact quote.target=KHR)")
    if "age" in given:
        given["age_s"] = given.pop("age")
    return Quote(**given)


def _usage(policy: CompiledPolicy, pairs: list[str]) -> Usage:
    totals: dict[str, int] = {}
    for pair in pairs:
        key, text = _split(pair, "--usage")
        if key not in USAGE_KEYS:
            raise errors.InputError(f"unknown usage {key!r}; expected one of "
                                    f"{', '.join(USAGE_KEYS)}" + _hint(key, USAGE_KEYS))
        total = _money(text, policy.currency, f"--usage {key}")
        if total < 0:
            raise errors.InputError(f"--usage {key}: usage is zero or more, not {text!r}")
        totals[usage_field(key)] = total
    return Usage(**totals)


def _split(pair: str, option: str) -> tuple[str, str]:
    name, sep, value = pair.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise errors.InputError(f"{option} takes NAME=VALUE, not {pair!r}")
    return name.strip(), value.strip()


def _money(text: str, currency: str, what: str) -> int:
    node = _read(text, Scope({}, currency), what)
    if node.type != types.money(currency) or not isinstance(node.value, int):
        raise errors.InputError(f"{what}: expected an amount in {currency} such as "
                                f"`12_500 {currency}`, not {text!r}")
    return node.value


def _fact_value(name: str, text: str, currency: str) -> Any:
    wanted = FACTS[name].type or types.money(currency)
    if wanted == types.STRING:
        return text[1:-1] if len(text) > 1 and text[0] == text[-1] == '"' else text
    if wanted == types.TIME:
        return _moment(text, name)
    try:
        node = _read(text, Scope({}, currency), f"--fact {name}")
    except errors.InputError:
        raise errors.InputError(f"--fact {name}: expected {wanted.describe()}, not {text!r}"
                                + _examples(wanted)) from None
    if node.type.kind in types.NUMERIC and wanted.kind is Kind.DECIMAL:
        return Decimal(str(node.value))
    if node.type != wanted:
        raise errors.InputError(f"--fact {name}: expected {wanted.describe()}, not "
                                f"{node.type.describe()} ({text!r})" + _examples(wanted))
    return node.value


def _moment(text: str, name: str) -> int:
    seconds = date_seconds(text)
    if seconds is not None:
        return seconds
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise errors.InputError(f"--fact {name}: expected a date (2027-01-31) or a UTC time "
                                f"(2027-01-31T10:00:00Z), not {text!r}") from None
    if moment.tzinfo is None:
        raise errors.InputError(f"--fact {name}: give the time zone, e.g. {text}Z")
    return int(moment.timestamp())


def _read(text: str, scope: Scope, what: str) -> ir.Const:
    resolver = Resolver()
    node = resolver.expression(parse_value(text), scope)
    if resolver.found or not isinstance(node, ir.Const):
        problem = resolver.found[0].message if resolver.found else "not a plain value"
        raise errors.InputError(f"{what}: {problem} ({text!r})")
    return node


def _hint(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    found = suggest(name, candidates)
    return f"; {found}" if found else ""


def _examples(wanted: Type) -> str:
    samples = {Kind.INT: "5912", Kind.PERCENT: "0.8 %", Kind.DURATION: "30 days",
               Kind.ROLE: "merchant", Kind.CHANNEL: "offline", Kind.CURRENCY: "KHR",
               Kind.DECIMAL: "1.25"}
    sample = samples.get(wanted.kind)
    return f"; e.g. {sample}" if sample else ""
