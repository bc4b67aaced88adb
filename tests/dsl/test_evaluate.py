"""Decisions of compiled policies and corridors on small contracts, and the example runner.

Each test compiles a few lines of contract, builds the facts of one transaction by hand and checks
the decision: allowed or not, on what ground, which rule, the reason and the trace.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from dsl.errors import InputError
from dsl.evaluate import CompiledCorridor, CompiledPolicy, Decision, Ground, TraceEntry
from dsl.facts import Facts, Party, Quote, Usage
from dsl.phases import CompiledContract
from dsl.resolve import date_seconds

DAY_S = 86_400
START_S = date_seconds("2026-01-01") or 0
HOLDER = Party(id="holder", role="individual", kyc=1)
PHARMACY = Party(id="pharmacy", role="merchant", mcc=5912)
FRIEND = Party(id="friend", role="individual", kyc=1)
AGENCY = Party(id="agency", role="agency")


def compiled(source: str) -> CompiledContract:
    """Compile `source`, insisting that it has no errors (warnings are fine)."""
    contract = CompiledContract(source, "c.earmark")
    contract.require_ok()
    return contract


def policy(*rules: str, token_lines: str = "", currency: str = "KZT") -> CompiledPolicy:
    """Token T with `rules` as its policy; the first rule stands on line 6 + token_lines' lines."""
    body = "".join(f"  {rule}\n" for rule in rules)
    source = (f'contract c version 1\ntoken T {{\n  currency {currency}\n  issuer "agency"\n'
              f"{token_lines}}}\npolicy T {{\n{body}}}\n")
    return compiled(source).policy("T")


def spend(operation: str = "purchase", amount_minor: int = 100_00, *,
          receiver: Party = PHARMACY, sender: Party = HOLDER, channel: str = "online",
          now_s: int = START_S, issued_at_s: int = START_S, quote: Quote | None = None,
          currency: str = "KZT") -> Facts:
    """The facts of one transaction, by default a 100 KZT online purchase at a pharmacy."""
    return Facts(operation, amount_minor, currency, sender, receiver, channel, now_s,
                 issued_at_s, quote)


# ---- closed by default, deny wins, return -----------------------------------------------------


@pytest.mark.parametrize("operation", ["issue", "label", "distribute", "transfer", "cash_out",
                                       "redeem"])
def test_closed_by_default(operation: str) -> None:
    """An operation no `allow` names is refused by default: decide it under `allow purchase`."""
    decision = policy("allow purchase").decide(spend(operation, receiver=FRIEND))
    assert not decision.allowed
    assert decision.ground is Ground.DEFAULT
    assert decision.rule is not None
    assert decision.rule.name == "policy T"  # the policy whose rules did not allow it
    assert decision.reason == f"no rule allows {operation} of T here (closed by default)"


def test_empty_policy_refuses_everything_but_return() -> None:
    """`policy T {}` admits nothing: every operation but return is denied by default."""
    empty = compiled('contract c version 1\ntoken T {\n  currency KZT\n  issuer "agency"\n}\n'
                     "policy T {\n}\n").policy("T")
    for operation in ["issue", "label", "distribute", "transfer", "purchase", "cash_out",
                      "redeem"]:
        assert empty.decide(spend(operation)).ground is Ground.DEFAULT
    assert empty.decide(spend("return", receiver=AGENCY)).allowed


def test_deny_wins_over_allow_whatever_the_order() -> None:
    """An allow before a matching deny still loses: the deny refuses, other merchants pass."""
    rules = ("allow purchase", "deny purchase when receiver.mcc == 5411")
    grocery = Party(id="grocery", role="merchant", mcc=5411)
    decision = policy(*rules).decide(spend(receiver=grocery))
    assert not decision.allowed
    assert decision.ground is Ground.RULE
    assert decision.rule is not None
    assert (decision.rule.name, decision.rule.line) == ("deny purchase", 8)
    assert policy(*rules).decide(spend()).allowed


def test_first_matching_deny_decides() -> None:
    """Of two matching denies the first in source order is cited."""
    decision = policy("allow purchase", 'deny purchase when amount > 1 KZT because "first"',
                      'deny purchase because "second"').decide(spend())
    assert decision.reason == "first"
    assert decision.rule is not None
    assert decision.rule.line == 8


def test_return_is_always_allowed() -> None:
    """A return to the issuer passes even an explicit `deny return` and an empty allow list."""
    decision = policy("deny return", "deny purchase").decide(spend("return", receiver=AGENCY))
    assert decision.allowed
    assert decision.ground is Ground.RETURN
    assert decision.reason == "return to the issuer is always allowed"


def test_return_to_anyone_but_the_issuer_is_refused() -> None:
    """Only the issuer can receive a return: a `return` to a friend is refused, on ground return."""
    decision = policy("allow transfer").decide(spend("return", receiver=FRIEND))
    assert not decision.allowed
    assert decision.ground is Ground.RETURN


def test_return_is_allowed_after_expiry() -> None:
    """An expired note can still go back: return after the date is allowed, purchase is not."""
    expiring = policy("allow purchase", token_lines="  expires 2026-01-31\n")
    later = START_S + 60 * DAY_S
    assert expiring.decide(spend("return", receiver=AGENCY, now_s=later)).allowed
    assert expiring.decide(spend(now_s=later)).ground is Ground.EXPIRY


# ---- expiry --------------------------------------------------------------------------------


def test_expiry_by_date_includes_the_whole_day() -> None:
    """`expires 2026-03-31` lets a note be spent until 23:59:59 UTC that day, not a second more."""
    expiring = policy("allow purchase", token_lines="  expires 2026-03-31\n")
    end_s = date_seconds("2026-04-01") or 0
    assert expiring.decide(spend(now_s=end_s - 1)).allowed
    decision = expiring.decide(spend(now_s=end_s))
    assert not decision.allowed
    assert decision.ground is Ground.EXPIRY
    assert decision.rule is not None
    assert (decision.rule.name, decision.rule.line) == ("expires", 5)
    assert decision.reason == ("the note expired at 2026-04-01 00:00 UTC; it can only be returned "
                               "to agency")
    assert decision.trace == (TraceEntry("expires", 5, "expired"),)


def test_expiry_by_duration_counts_from_issue() -> None:
    """`expires 90 days after issue`: the note issued on day 10 is good until day 100."""
    expiring = policy("allow purchase", token_lines="  expires 90 days after issue\n")
    issued = START_S + 10 * DAY_S
    deadline = issued + 90 * DAY_S
    assert expiring.decide(spend(issued_at_s=issued, now_s=deadline - 1)).allowed
    assert expiring.decide(spend(issued_at_s=issued, now_s=deadline)).ground is Ground.EXPIRY
    # A note issued later than another lives later: the deadline moves with issue.
    assert expiring.decide(spend(issued_at_s=issued + DAY_S, now_s=deadline)).allowed


def test_expiry_comes_before_rules() -> None:
    """An expired note is refused on expiry even when a deny would also match."""
    expiring = policy("deny purchase", token_lines="  expires 1 days after issue\n")
    assert expiring.decide(spend(now_s=START_S + DAY_S)).ground is Ground.EXPIRY


# ---- limits --------------------------------------------------------------------------------


def test_limit_per_transaction() -> None:
    """A per-transaction cap admits the cap exactly and refuses one minor unit more, by name."""
    capped = policy("allow purchase", "limit 1_000 KZT per transaction")
    assert capped.decide(spend(amount_minor=1_000_00)).allowed
    decision = capped.decide(spend(amount_minor=1_000_01))
    assert not decision.allowed
    assert decision.ground is Ground.LIMIT
    assert decision.rule is not None
    assert (decision.rule.name, decision.rule.line) == ("limit per transaction", 8)
    assert decision.reason == "1_000.01 KZT is over the limit per transaction of 1_000.00 KZT"


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_limit_per_wallet_per_period(period: str) -> None:
    """A wallet limit adds the spend to that period's usage: up to the cap passes, past it fails."""
    capped = policy("allow purchase", f"limit 1_000 KZT per wallet per {period}")
    used = Usage(**{f"wallet_{period}": 900_00})
    assert capped.decide(spend(amount_minor=100_00), used).allowed
    decision = capped.decide(spend(amount_minor=100_01), used)
    assert decision.ground is Ground.LIMIT
    assert decision.reason == (f"100.01 KZT more would pass the limit per wallet per {period} of "
                               "1_000.00 KZT (900.00 KZT already used)")
    # Only the named period counts: a full budget of any other period changes nothing.
    others = {f"wallet_{p}": 10_000_00 for p in ("day", "week", "month") if p != period}
    assert capped.decide(spend(amount_minor=100_00), Usage(**others)).allowed


def test_wallet_limit_counts_spending_operations_only() -> None:
    """Wallet limits bind transfers, purchases and cash-outs, not the agency's distribution."""
    capped = policy("allow distribute", "allow transfer", "allow cash_out",
                    "limit 10 KZT per wallet per day")
    used = Usage(wallet_day=10_00)
    assert capped.decide(spend("distribute", sender=AGENCY, receiver=FRIEND), used).allowed
    assert capped.decide(spend("transfer", receiver=FRIEND), used).ground is Ground.LIMIT
    assert capped.decide(spend("cash_out", receiver=Party(role="bank")), used).ground is (
        Ground.LIMIT)


def test_limit_per_merchant_per_month_counts_purchases_only() -> None:
    """A merchant limit refuses a purchase at a full merchant but lets a transfer through."""
    capped = policy("allow purchase", "allow transfer", "limit 1_000 KZT per merchant per month")
    used = Usage(merchant_month=1_000_00)
    decision = capped.decide(spend(amount_minor=1), used)
    assert decision.ground is Ground.LIMIT
    assert decision.rule is not None
    assert decision.rule.name == "limit per merchant per month"
    assert capped.decide(spend("transfer", amount_minor=1, receiver=FRIEND), used).allowed
    assert capped.decide(spend(amount_minor=1), Usage(merchant_day=10**9)).allowed


def test_hold_at_most_binds_receipts_into_a_wallet() -> None:
    """`hold at most` caps what the receiver would hold after a distribution or transfer."""
    capped = policy("allow distribute", "allow transfer", "allow purchase",
                    "hold at most 5_000 KZT per wallet")
    held = Usage(receiver_held=4_000_00)
    for operation, sender in (("distribute", AGENCY), ("transfer", HOLDER)):
        assert capped.decide(spend(operation, 1_000_00, sender=sender, receiver=FRIEND),
                             held).allowed
        decision = capped.decide(spend(operation, 1_000_01, sender=sender, receiver=FRIEND), held)
        assert decision.ground is Ground.LIMIT
        assert decision.rule is not None
        assert decision.rule.name == "hold at most"
    # A purchase pays a merchant out of the token: what the merchant holds is not capped.
    assert capped.decide(spend(amount_minor=2_000_00), held).allowed


def test_limits_apply_only_after_an_allow() -> None:
    """A spend refused by default is reported as such, not as over a limit."""
    capped = policy("allow transfer", "limit 1 KZT per transaction")
    assert capped.decide(spend(amount_minor=10**9)).ground is Ground.DEFAULT


def test_limits_are_checked_in_source_order() -> None:
    """With two limits exceeded, the one written first is cited."""
    capped = policy("allow purchase", "limit 5 KZT per wallet per day",
                    "limit 1 KZT per transaction")
    decision = capped.decide(spend(amount_minor=10_00))
    assert decision.rule is not None
    assert decision.rule.name == "limit per wallet per day"


# ---- release -------------------------------------------------------------------------------


def test_release_on_purchase_marks_allowed_purchases_only() -> None:
    """`release on purchase` sets `release` on an allowed purchase, not on transfers or refusals."""
    releasing = policy("allow purchase", "allow transfer", "limit 500 KZT per transaction",
                       "release on purchase")
    assert releasing.decide(spend()).release
    assert not releasing.decide(spend("transfer", receiver=FRIEND)).release
    assert not releasing.decide(spend(amount_minor=500_01)).release
    assert not policy("allow purchase").decide(spend()).release


def test_release_on_cash_out() -> None:
    """`release on cash_out` releases a cash-out to the bank and leaves purchases earmarked."""
    releasing = policy("allow purchase", "allow cash_out", "release on cash_out")
    assert releasing.decide(spend("cash_out", receiver=Party(id="bank", role="bank"))).release
    assert not releasing.decide(spend()).release


# ---- convert -------------------------------------------------------------------------------


def _remit() -> CompiledPolicy:
    return policy(
        'allow convert to {KHR, USD} via {"soramitsu-fx"} when quote.spread <= 1 %',
        'deny convert when amount > 1_000_000 JPY because "above the single-payment cap"',
        currency="JPY",
    )


def _convert(amount_minor: int, quote: Quote) -> Facts:
    return spend("convert", amount_minor, receiver=Party(id=quote.provider, role="fx_provider"),
                 quote=quote, currency="JPY")


def test_convert_to_and_via_restrict_target_and_provider() -> None:
    """`to` and `via` admit only the listed targets and providers, and the condition still holds."""
    remit = _remit()
    good = Quote("soramitsu-fx", "KHR", spread=Decimal("0.8"))
    assert remit.decide(_convert(1_000, good)).allowed
    assert remit.decide(_convert(1_000, Quote("soramitsu-fx", "USD"))).allowed
    refused = [
        Quote("soramitsu-fx", "THB", spread=Decimal("0.8")),
        Quote("other-fx", "KHR", spread=Decimal("0.8")),
        Quote("soramitsu-fx", "KHR", spread=Decimal("1.01")),
    ]
    for quote in refused:
        assert remit.decide(_convert(1_000, quote)).ground is Ground.DEFAULT


def test_convert_deny_uses_its_because_text() -> None:
    """A convert over the single-payment cap is refused with the rule's own words."""
    decision = _remit().decide(_convert(1_000_001, Quote("soramitsu-fx", "KHR")))
    assert not decision.allowed
    assert decision.reason == "above the single-payment cap"
    assert decision.rule is not None
    assert (decision.rule.name, decision.rule.line) == ("deny convert", 8)


def test_convert_without_quote_is_an_input_error() -> None:
    """Asking about a convert without its quote raises `InputError`, not an AttributeError."""
    with pytest.raises(InputError, match="quote"):
        _remit().decide(spend("convert", 1_000, currency="JPY"))


def test_wrong_currency_is_an_input_error() -> None:
    """Facts in another currency than the token's raise `InputError` naming both currencies."""
    with pytest.raises(InputError, match="token T is KZT; the facts say USD"):
        policy("allow purchase").decide(spend(currency="USD"))


# ---- corridors -----------------------------------------------------------------------------

_CORRIDOR = """\
contract khr_thb_corridor version 1

fx KHR -> THB {
  providers {"acleda-fx", "kbank-fx"}
  max spread 0.75 % over reference
  max fee 0.50 %
  max amount 4_000_000 KHR per payment
  quote valid 30 seconds
}
"""


def _corridor() -> CompiledCorridor:
    return compiled(_CORRIDOR).corridors[("KHR", "THB")]


def test_corridor_admits_a_quote_within_every_bound() -> None:
    """A quote inside all five bounds is allowed and the trace lists each bound as within."""
    quote = Quote("acleda-fx", "THB", spread=Decimal("0.75"), fee=Decimal("0.5"), age_s=30)
    decision = _corridor().decide(4_000_000_00, quote)
    assert decision.allowed
    assert decision.reason == "within the corridor KHR -> THB"
    assert [(e.rule, e.line, e.outcome) for e in decision.trace] == [
        ("providers", 4, "within"), ("max spread", 5, "within"), ("max fee", 6, "within"),
        ("max amount", 7, "within"), ("quote valid", 8, "within"),
    ]


@pytest.mark.parametrize(
    ("amount_minor", "quote", "rule", "line", "reason"),
    [
        (100, Quote("other-fx", "THB"), "providers", 4,
         "other-fx is not a provider of this corridor (acleda-fx, kbank-fx)"),
        (100, Quote("kbank-fx", "THB", spread=Decimal("0.76")), "max spread", 5,
         "the spread 0.76 % is over the corridor's 0.75 %"),
        (100, Quote("kbank-fx", "THB", fee=Decimal("0.51")), "max fee", 6,
         "the fee 0.51 % is over the corridor's 0.50 %"),
        (4_000_000_01, Quote("kbank-fx", "THB"), "max amount", 7,
         "4_000_000.01 KHR is over the corridor's 4_000_000.00 KHR per payment"),
        (100, Quote("kbank-fx", "THB", age_s=31), "quote valid", 8,
         "the quote is 31 s old; it is valid 30 s"),
    ],
)
def test_corridor_refuses_with_the_clause_that_failed(amount_minor: int, quote: Quote, rule: str,
                                                      line: int, reason: str) -> None:
    """Each bound, broken alone, refuses with its own name, line and reason."""
    decision = _corridor().decide(amount_minor, quote)
    assert not decision.allowed
    assert decision.ground is Ground.RULE
    assert decision.rule is not None
    assert (decision.rule.name, decision.rule.line) == (rule, line)
    assert decision.reason == reason
    assert decision.trace[-1] == TraceEntry(rule, line, "exceeded")


def test_corridor_refuses_to_judge_another_target() -> None:
    """A quote to a currency the corridor does not serve is an `InputError`."""
    with pytest.raises(InputError, match="KHR -> THB"):
        _corridor().decide(100, Quote("kbank-fx", "USD"))


# ---- reasons and traces --------------------------------------------------------------------


def test_reasons_use_because_or_name_the_rule() -> None:
    """A deny with `because` gives that text; without one the reason names the rule and line."""
    with_text = policy("allow purchase", 'deny purchase because "not here"').decide(spend())
    assert with_text.reason == "not here"
    plain = policy("allow purchase", "deny purchase").decide(spend())
    assert plain.reason == "refused by `deny purchase` (line 8)"
    allowed = policy("allow purchase").decide(spend())
    assert allowed.reason == "allowed by `allow purchase` (line 7)"


def test_trace_lists_every_rule_looked_at_in_order() -> None:
    """The trace holds expiry, each deny, the allows up to the match and each limit, in order."""
    decision = policy(
        "allow purchase when receiver.mcc == 8062",
        "allow purchase when receiver.mcc == 5912",
        "deny purchase when channel == offline",
        "limit 500 KZT per transaction",
        "limit 5_000 KZT per wallet per month",
        token_lines="  expires 90 days after issue\n",
    ).decide(spend())
    assert decision == Decision(
        allowed=True,
        ground=Ground.RULE,
        rule=decision.rule,
        reason="allowed by `allow purchase` (line 9)",
        trace=(
            TraceEntry("expires", 5, "not expired"),
            TraceEntry("deny purchase", 10, "no match"),
            TraceEntry("allow purchase", 8, "no match"),
            TraceEntry("allow purchase", 9, "matched"),
            TraceEntry("limit per transaction", 11, "within"),
            TraceEntry("limit per wallet per month", 12, "within"),
        ),
    )


def test_conditions_read_the_facts() -> None:
    """Roles, KYC, channels, regions, times and token age each steer a rule: one fact at a time."""
    rules = policy(
        "allow transfer when receiver.role == individual and receiver.kyc >= 2",
        'allow purchase when channel in {qr, nfc} or sender.region == "north"',
        "allow cash_out when now >= 2026-02-01 and token.age < 30 days",
    )
    rich_friend = Party(id="friend", role="individual", kyc=2)
    assert rules.decide(spend("transfer", receiver=rich_friend)).allowed
    assert not rules.decide(spend("transfer", receiver=FRIEND)).allowed
    assert not rules.decide(spend("transfer", receiver=Party(role="merchant", kyc=3))).allowed
    assert rules.decide(spend(channel="qr")).allowed
    assert not rules.decide(spend(channel="offline")).allowed
    assert rules.decide(spend(sender=Party(id="h", region="north"))).allowed
    february = date_seconds("2026-02-01") or 0
    bank = Party(id="bank", role="bank")
    assert rules.decide(spend("cash_out", receiver=bank, now_s=february,
                              issued_at_s=february - 29 * DAY_S)).allowed
    assert not rules.decide(spend("cash_out", receiver=bank, now_s=february,
                                  issued_at_s=february - 30 * DAY_S)).allowed
    assert not rules.decide(spend("cash_out", receiver=bank, now_s=february - 1)).allowed


# ---- the example runner --------------------------------------------------------------------

_EXAMPLE_POLICY = """\
contract c version 1
token T {
  currency KZT
  issuer "agency"
  expires 90 days after issue
}
policy T {
  allow purchase
  allow transfer
  limit 1_000 KZT per wallet per month
  deny purchase when receiver.mcc == 5411
  deny transfer when amount > 500 KZT because "too much"
}
"""


def _run(*steps: str) -> CompiledContract:
    body = "".join(f"  {step}\n" for step in steps)
    return CompiledContract(_EXAMPLE_POLICY + f'example "e" {{\n{body}}}\n', "c.earmark")


def test_failing_example_is_e0501_with_expected_and_actual() -> None:
    """An example that expects the wrong outcome yields E0501 saying what was expected and seen."""
    contract = _run("purchase 10 KZT to merchant(mcc: 5912)", "expect denied")
    (failure,) = contract.diagnostics
    assert failure.code.code == "E0501"
    assert (failure.span.line, failure.span.column) == (16, 3)
    assert failure.message == ('example "e" failed: expected denied, but the purchase on line 15 '
                               "was allowed")
    assert failure.label == "allowed by `allow purchase` (line 8)"
    assert not contract.ok
    assert [result.passed for result in contract.example_results] == [False]


def test_expect_denied_by_rule_line() -> None:
    """`expect denied by rule 12` passes when the rule on line 12 refused, fails for line 11."""
    passing = _run("transfer 600 KZT", "expect denied by rule 12")
    assert passing.diagnostics == ()
    failing = _run("transfer 600 KZT", "expect denied by rule 11")
    (failure,) = failing.diagnostics
    assert failure.code.code == "E0501"
    assert "expected denied by the rule on line 11" in failure.message
    assert "was denied by rule" in failure.message
    assert failure.label == "too much"


def test_expect_denied_by_rule_name_and_ground() -> None:
    """Rule names, `limit`, `expiry` and `default` each match only their own kind of refusal."""
    grocery = "purchase 1 KZT to merchant(mcc: 5411)"
    assert _run(grocery, 'expect denied by rule "deny purchase"').ok
    assert not _run(grocery, "expect denied by limit").ok
    assert _run("cash_out 1 KZT", "expect denied by default").ok
    assert _run("advance 90 days", "purchase 1 KZT", "expect denied by expiry").ok
    assert _run("advance 89 days", "purchase 1 KZT", "expect allowed").ok


def test_examples_accumulate_usage_across_steps_and_periods() -> None:
    """Allowed steps count toward the monthly limit; a new month starts a fresh budget."""
    full = ("purchase 600 KZT", "purchase 400 KZT", "purchase 1 KZT")
    assert _run(*full, "expect denied by limit").ok
    assert _run(*full[:2], "expect allowed").ok
    assert _run(*full[:2], "advance to 2026-02-01", full[2], "expect allowed").ok
    # A refused step does not count: after a refused 2 000 KZT, 1 000 KZT still fits.
    assert _run("purchase 2_000 KZT", "expect denied by limit", "purchase 1_000 KZT",
                "expect allowed").ok
