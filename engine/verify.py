"""The independent verifier: replay the journal, compare it with the tables, audit the money.

Invariants are checked in two places (TigerBeetle): validation refuses what would break them, and
this verifier re-derives the ledger from the journal alone — the committed transactions, append
only, each with its canonical body — so a bug or a corrupted store shows up as a violation rather
than as wrong money. It checks two things:

* the tables are the journal: every note, the spent set, every balance and each currency's
  supply rebuilt from the journal equal the tables';
* the journal kept monetary policy (architecture invariants 2 and 9): central-bank money (plain
  notes and earmarked tokens) changes only by the central bank's issue, redemption and expired
  earmarks burned; an earmarked token holds what was labelled into it less what was released,
  returned or expired out of it; a bridged token what its issuer minted less what it burned;
  bridged money never becomes central-bank money; no supply passes `SUPPLY_MAX_MINOR`.

Whether a token is bridged, and its currency, is read from its deployed contract. The journal
keeps transaction bodies, not their signatures, so who created money is what the body states.

Replay needs no order to rebuild notes: each is the output of exactly one committed transaction
(its id is derived from it), spent exactly when a committed transaction lists it. The money is
audited in time order as far as dependencies allow, so "first" means earliest.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from dsl.evaluate import CompiledPolicy
from dsl.money import MoneyError, format_minor
from engine.encoding import SUPPLY_MAX_MINOR, from_bytes
from engine.errors import TransactionRefused
from engine.ids import ContractHash, NoteId, TxId
from engine.model import NO_FACTS, Note, Output, TokenRef, Transaction
from engine.store import SqlStore
from engine.usage import token_key
from engine.validate import created_notes

# Only issuance creates money; redemption and a burning sweep (a return) destroy it.
_CHANGES_SUPPLY = frozenset({"issue", "redeem", "return"})
_MISMATCHES_SHOWN = 1000  # a report of a badly broken ledger stays readable
_CENTRAL_ROLE = "central_bank"

Policies = Callable[[TokenRef], CompiledPolicy | None]
Kind = tuple[str, TokenRef | None]  # (currency, token); plain money has no token


class Check(StrEnum):
    """What a violation broke: a stable code, first on its report line."""

    JOURNAL = "journal"  # a body does not decode, a note is spent twice or never created
    NOTE = "note"  # the notes table differs from the journal's outputs
    SPENT = "spent"  # the spent set differs from the journal's inputs
    BALANCE = "balance"  # an owner's balance differs from the journal's
    SUPPLY = "supply"  # a currency's supply differs, or changed outside issue, redeem, sweep
    CENTRAL_MONEY = "central_money"  # central-bank money is not issued less redeemed and burned
    PLAIN_MONEY_CREATED = "plain_money_created"  # by anything but the central bank's issue
    BRIDGED_BECAME_PLAIN = "bridged_became_plain"  # bridged notes spent into central-bank money
    TOKEN_SUPPLY = "token_supply"  # a token's supply is not what entered it less what left
    TOKEN_UNKNOWN = "token_unknown"  # notes of a token no deployed contract defines
    TOKEN_CURRENCY = "token_currency"  # notes of a token in another currency than its own
    SUPPLY_CAP = "supply_cap"  # a supply passed SUPPLY_MAX_MINOR


@dataclass(frozen=True, slots=True)
class Violation:
    """One thing the verifier found wrong: its check and what, naming the money and the
    transaction."""

    check: Check
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Account:
    """One kind of money as the journal accounts for it, in minor units: central-bank money of
    a currency, or one token."""

    currency: str
    entered_minor: int  # issued by the central bank; labelled into a token; minted if bridged
    left_minor: int  # redeemed; released, returned or expired out of a token; burned if bridged
    burned_minor: int  # central-bank money only: expired earmarks their token burns
    held_minor: int  # what the tables hold of it, unspent
    bridged: bool = False

    @property
    def expected_minor(self) -> int:
        """What should be held by the journal's account."""
        return self.entered_minor - self.left_minor - self.burned_minor


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What the verifier found; `ok` when nothing."""

    transactions: int
    balances_checked: int
    supply: dict[str, int]  # per currency, all money: issued less destroyed
    mismatches: list[Violation] = field(default_factory=list)
    central: dict[str, Account] = field(default_factory=dict)  # central-bank money per currency
    tokens: dict[TokenRef, Account] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No violation anywhere."""
        return not self.mismatches

    def lines(self) -> list[str]:
        """What was replayed, the supply and the money's accounts, one line each (what expired
        earmarks burned on its own)."""
        supply = ", ".join(_money(v, c) for c, v in sorted(self.supply.items()))
        lines = [f"replayed {self.transactions} transactions, checked {self.balances_checked} "
                 f"balances; supply: {supply or 'none'}"]
        for currency, money in sorted(self.central.items()):
            lines.append(f"{currency} central-bank money: issued "
                         f"{_money(money.entered_minor, currency)}, redeemed "
                         f"{_money(money.left_minor, currency)}, held "
                         f"{_money(money.held_minor, currency)}")
            lines.append(f"{currency} burned on expiry: {_money(money.burned_minor, currency)}")
        for token, account in sorted(self.tokens.items(), key=lambda t: _token_order(t[0])):
            flows = _TOKEN_FLOWS[account.bridged]
            lines.append(f"token {_token(token)}, {_kind(account)}: {flows.entered} "
                         f"{_money(account.entered_minor, account.currency)}, {flows.left} "
                         f"{_money(account.left_minor, account.currency)}, held "
                         f"{_money(account.held_minor, account.currency)}")
        return lines


@dataclass
class _Replay:
    """The ledger rebuilt from the journal."""

    transactions: dict[TxId, Transaction] = field(default_factory=dict)
    order: list[TxId] = field(default_factory=list)  # each after the ones it spends from
    notes: dict[NoteId, Note] = field(default_factory=dict)
    spent: dict[NoteId, TxId] = field(default_factory=dict)
    problems: list[Violation] = field(default_factory=list)


def verify(store: SqlStore) -> VerifyReport:
    """Replay every committed transaction; compare notes, the spent set, balances and supply
    with the tables; audit central-bank money, every token's supply and the supply cap."""
    replay = _replay(store)
    problems = replay.problems
    problems += _compare_notes(replay, store.all_notes())
    problems += _compare_spent(replay, store.spent_set())
    tables = store.table_balances()
    rebuilt = _balances(replay)
    problems += [
        Violation(Check.BALANCE, f"balance of {owner[:16]}… {currency} {token or 'plain'}: "
                                 f"tables {tables.get(key, 0)}, journal {rebuilt.get(key, 0)}")
        for key in sorted(set(tables) | set(rebuilt))
        for owner, currency, token in [key] if tables.get(key, 0) != rebuilt.get(key, 0)]
    supply, unconserved = _supply(replay)
    problems += unconserved
    held: dict[str, int] = defaultdict(int)
    for (_, currency, _), amount in tables.items():
        held[currency] += amount
    problems += [Violation(Check.SUPPLY, f"supply of {currency}: issued less destroyed "
                                         f"{supply.get(currency, 0)}, held {held.get(currency, 0)}")
                 for currency in sorted(set(supply) | set(held))
                 if supply.get(currency, 0) != held.get(currency, 0)]
    audit = _audit(replay, store.policy)
    held_by_kind = _held_by_kind(tables)
    central, tokens = audit.accounts(held_by_kind)
    problems += audit.problems + audit.cap.violations(held_by_kind)
    return VerifyReport(len(replay.transactions), len(set(tables) | set(rebuilt)), supply,
                        problems[:_MISMATCHES_SHOWN], central, tokens)


# ---- the tables against the journal ------------------------------------------------------------


def _replay(store: SqlStore) -> _Replay:
    replay = _Replay()
    for tx_id, body in store.committed_bodies():
        try:
            replay.transactions[tx_id] = from_bytes(body)
        except TransactionRefused as refused:
            replay.problems.append(Violation(Check.JOURNAL, f"transaction {tx_id[:16]}… does "
                                             f"not decode: {refused.refusal.reason}"))
    # A transaction's outputs depend on the notes it spends (the earmark clock), so each is
    # replayed once the transactions that created its inputs have been; among those ready, the
    # earliest first, so that the audit's "first offending transaction" is the earliest.
    missing = {i: len(set(t.inputs)) for i, t in replay.transactions.items()}
    waiting: dict[NoteId, list[TxId]] = defaultdict(list)
    for tx_id, transaction in replay.transactions.items():
        for note in set(transaction.inputs):
            waiting[note].append(tx_id)
    ready = [(replay.transactions[i].created_at_s, i) for i, count in missing.items() if not count]
    heapq.heapify(ready)
    while ready:
        _, tx_id = heapq.heappop(ready)
        transaction = replay.transactions[tx_id]
        replay.order.append(tx_id)
        _spend(replay, tx_id, transaction)
        inputs = [replay.notes[n] for n in transaction.inputs]
        for created in created_notes(tx_id, transaction, inputs):
            replay.notes[created.id] = created
            for waiter in waiting.pop(created.id, []):
                missing[waiter] -= 1
                if missing[waiter] == 0:
                    heapq.heappush(ready, (replay.transactions[waiter].created_at_s, waiter))
    replay.problems += [Violation(Check.JOURNAL, f"transaction {i[:16]}… spends a note no "
                                                 f"committed transaction created")
                        for i, count in sorted(missing.items()) if count]
    return replay


def _spend(replay: _Replay, tx_id: TxId, transaction: Transaction) -> None:
    for note in transaction.inputs:
        if note in replay.spent:
            replay.problems.append(Violation(Check.JOURNAL, f"note {note[:16]}… spent by both "
                                             f"{replay.spent[note][:16]}… and {tx_id[:16]}…"))
        replay.spent[note] = tx_id


def _compare_notes(replay: _Replay, stored: dict[NoteId, Note]) -> list[Violation]:
    problems = [f"note {n[:16]}… is in the table but no committed transaction created it"
                for n in sorted(set(stored) - set(replay.notes))]
    problems += [f"note {n[:16]}… was created by {replay.notes[n].created_by[:16]}… but is "
                 f"not in the table" for n in sorted(set(replay.notes) - set(stored))]
    problems += [f"note {n[:16]}… differs from its transaction's output: table {stored[n]}, "
                 f"journal {replay.notes[n]}" for n in sorted(set(stored) & set(replay.notes))
                 if stored[n] != replay.notes[n]]
    return [Violation(Check.NOTE, problem) for problem in problems]


def _compare_spent(replay: _Replay, stored: dict[NoteId, TxId]) -> list[Violation]:
    return [Violation(Check.SPENT, f"note {n[:16]}… spent by {stored.get(n, 'nobody')[:16]} "
                                   f"in the spent set, by {replay.spent.get(n, 'nobody')[:16]} "
                                   f"in the journal")
            for n in sorted(set(stored) | set(replay.spent))
            if stored.get(n) != replay.spent.get(n)]


def _balances(replay: _Replay) -> dict[tuple[str, str, str], int]:
    balances: dict[tuple[str, str, str], int] = defaultdict(int)
    for note in replay.notes.values():
        if note.id not in replay.spent:
            balances[(note.owner, note.currency, token_key(note.token))] += note.amount_minor
    return {key: amount for key, amount in balances.items() if amount}


def _supply(replay: _Replay) -> tuple[dict[str, int], list[Violation]]:
    """Issuance minus destruction per currency; and every transaction of another operation
    that changed a supply."""
    supply: dict[str, int] = defaultdict(int)
    problems = []
    for tx_id, transaction in sorted(replay.transactions.items()):
        change: dict[str, int] = defaultdict(int)
        for output in transaction.outputs:
            change[output.currency] += output.amount_minor
        for note in transaction.inputs:
            if note in replay.notes:
                change[replay.notes[note].currency] -= replay.notes[note].amount_minor
        for currency, delta in change.items():
            supply[currency] += delta
            if delta and transaction.operation not in _CHANGES_SUPPLY:
                problems.append(Violation(Check.SUPPLY, f"transaction {tx_id[:16]}… "
                                          f"({transaction.operation}) changed the supply of "
                                          f"{currency} by {delta}"))
    return dict(supply), problems


def _held_by_kind(tables: dict[tuple[str, str, str], int]) -> dict[Kind, int]:
    """The tables' unspent totals per currency and token (the usage table's "contract/token")."""
    held: dict[Kind, int] = defaultdict(int)
    for (_, currency, token), amount in tables.items():
        contract, _, name = token.partition("/")
        held[(currency, TokenRef(ContractHash(contract), name) if token else None)] += amount
    return dict(held)


# ---- monetary policy --------------------------------------------------------------------------


Capped = str | TokenRef  # what SUPPLY_MAX_MINOR caps: a currency's plain money, or one token


@dataclass
class _Cap:
    """What is outstanding of each capped kind of money as the journal is replayed, and the
    transaction after which each first passed `SUPPLY_MAX_MINOR`."""

    outstanding: dict[Capped, int] = field(default_factory=dict)
    currency: dict[Capped, str] = field(default_factory=dict)
    passed: dict[Capped, str] = field(default_factory=dict)

    def move(self, deltas: dict[Kind, int], at: str) -> None:
        """Count one transaction's changes, noting the kinds it took past the cap."""
        for (currency, token), delta in deltas.items():
            kind = token if token is not None else currency
            self.outstanding[kind] = self.outstanding.get(kind, 0) + delta
            self.currency.setdefault(kind, currency)
            if self.outstanding[kind] > SUPPLY_MAX_MINOR:
                self.passed.setdefault(kind, at)

    def violations(self, held: dict[Kind, int]) -> list[Violation]:
        """Each kind that passed the cap in the journal, or is past it in the tables."""
        now: dict[Capped, int] = defaultdict(int)
        for (currency, token), amount in held.items():
            kind = token if token is not None else currency
            now[kind] += amount
            self.currency.setdefault(kind, currency)
        past = [k for k in self.currency if k in self.passed or now[k] > SUPPLY_MAX_MINOR]
        return [self._violation(kind, now[kind]) for kind in sorted(past, key=_capped)]

    def _violation(self, kind: Capped, held: int) -> Violation:
        after = f" after transaction {self.passed[kind]}" if kind in self.passed else ""
        return Violation(Check.SUPPLY_CAP, f"{_capped(kind)}: more than SUPPLY_MAX_MINOR "
                                           f"({SUPPLY_MAX_MINOR} minor units) was outstanding"
                                           f"{after}; {_money(held, self.currency[kind])} is held")


@dataclass
class _Tally:
    """One kind of money's flows through the journal, in order."""

    currency: str
    entered: int = 0
    left: int = 0
    burned: int = 0
    first_offence: str = ""  # the earliest transaction that moved it against the rules

    def count(self, delta: int, *, enters: bool, leaves: bool, at: str) -> None:
        """Count a change by the rules: into `entered` or `left` where allowed, else as an
        offence (the earliest is reported)."""
        if delta > 0 and enters:
            self.entered += delta
        elif delta < 0 and leaves:
            self.left -= delta
        elif delta and not self.first_offence:
            change = "grew" if delta > 0 else "shrank"
            self.first_offence = f"{at}: {change} by {_money(abs(delta), self.currency)}"


@dataclass
class _Audit:
    """Central-bank money per currency and each token's supply, replayed."""

    policies: Policies
    central: dict[str, _Tally] = field(default_factory=dict)
    tokens: dict[TokenRef, _Tally] = field(default_factory=dict)
    problems: list[Violation] = field(default_factory=list)
    reported: set[tuple[Check, TokenRef]] = field(default_factory=set)
    cap: _Cap = field(default_factory=_Cap)

    def bridged(self, token: TokenRef | None) -> bool:
        """Whether notes of `token` are a bridged token's (plain money is not)."""
        policy = self.policies(token) if token is not None else None
        return policy is not None and policy.bridged

    def central_tally(self, currency: str) -> _Tally:
        """The running account of a currency's central-bank money."""
        return self.central.setdefault(currency, _Tally(currency))

    def token_tally(self, token: TokenRef, policy: CompiledPolicy) -> _Tally:
        """The running account of a token's supply."""
        return self.tokens.setdefault(token, _Tally(policy.currency))

    def check_token(self, token: TokenRef, currency: str, at: str) -> None:
        """Report, once per token, notes of a token no deployed contract defines or in another
        currency than the token's."""
        policy = self.policies(token)
        where = f", first created by {at}" if at else ""
        if policy is None:
            self._once(Check.TOKEN_UNKNOWN, token, f"notes of token {_token(token)}{where}: no "
                                                   f"deployed contract defines it")
        elif currency != policy.currency:
            self._once(Check.TOKEN_CURRENCY, token, f"notes of token {_token(token)} in "
                                                    f"{currency}{where}: the token is "
                                                    f"{policy.currency} money")

    def _once(self, check: Check, token: TokenRef, detail: str) -> None:
        if (check, token) not in self.reported:
            self.reported.add((check, token))
            self.problems.append(Violation(check, detail))

    def accounts(self, held: dict[Kind, int]) -> tuple[dict[str, Account],
                                                       dict[TokenRef, Account]]:
        """The accounts against what the tables hold; their violations added to `problems`."""
        central_held: dict[str, int] = defaultdict(int)
        token_held: dict[TokenRef, int] = defaultdict(int)
        for (currency, token), amount in held.items():
            if token is not None:
                token_held[token] += amount
                self.check_token(token, currency, "")
            if not self.bridged(token):
                central_held[currency] += amount
        central = {c: self._close(_CENTRAL_FLOWS, f"{c} central-bank money (plain and "
                                  f"earmarked)", self.central_tally(c), central_held[c])
                   for c in sorted(set(self.central) | set(central_held))}
        tokens = {}
        for token in sorted(set(self.tokens) | set(token_held), key=_token_order):
            policy = self.policies(token)
            if policy is not None:
                tokens[token] = self._close(_TOKEN_FLOWS[policy.bridged],
                                            f"token {_token(token)}",
                                            self.token_tally(token, policy), token_held[token])
        return central, tokens

    def _close(self, flows: _Flows, name: str, tally: _Tally, held: int) -> Account:
        account = Account(tally.currency, tally.entered, tally.left, tally.burned, held,
                          flows.bridged)
        currency = tally.currency
        if tally.first_offence or account.expected_minor != held:
            burned = (f" less burned on expiry {_money(tally.burned, currency)}"
                      if flows.check is Check.CENTRAL_MONEY else "")
            offence = (f"; first offending transaction {tally.first_offence}"
                       if tally.first_offence else "")
            self.problems.append(Violation(flows.check, (
                f"{name}: expected {_money(account.expected_minor, currency)} ({flows.entered} "
                f"{_money(tally.entered, currency)} less {flows.left} "
                f"{_money(tally.left, currency)}{burned}), found {_money(held, currency)} "
                f"held{offence}")))
        return account


@dataclass(frozen=True, slots=True)
class _Flows:
    """How one kind of account names its flows, and the check its mismatch breaks."""

    check: Check
    entered: str
    left: str
    bridged: bool = False


_CENTRAL_FLOWS: Final = _Flows(Check.CENTRAL_MONEY, "issued", "redeemed")
_TOKEN_FLOWS: Final = {
    False: _Flows(Check.TOKEN_SUPPLY, "labelled", "released, returned or expired"),
    True: _Flows(Check.TOKEN_SUPPLY, "minted", "burned", bridged=True),
}


def _audit(replay: _Replay, policies: Policies) -> _Audit:
    """Every replayed transaction's effect on central-bank money and on each token."""
    audit = _Audit(policies)
    for tx_id in replay.order:
        transaction = replay.transactions[tx_id]
        inputs = [replay.notes[n] for n in transaction.inputs]
        at = f"{tx_id[:16]}… ({transaction.operation})"
        deltas = _deltas(inputs, transaction.outputs)
        for currency, token in deltas:
            if token is not None:
                audit.check_token(token, currency, at)
        _audit_central(audit, transaction, inputs, deltas, at)
        _audit_bridged(audit, inputs, transaction.outputs, at)
        _audit_tokens(audit, transaction, inputs, deltas, at)
        audit.cap.move(deltas, at)
    return audit


def _deltas(inputs: Iterable[Note], outputs: Iterable[Output]) -> dict[Kind, int]:
    """What a transaction created less what it spent, per currency and token."""
    deltas: dict[Kind, int] = defaultdict(int)
    for output in outputs:
        deltas[(output.currency, output.token)] += output.amount_minor
    for note in inputs:
        deltas[(note.currency, note.token)] -= note.amount_minor
    return deltas


def _audit_central(audit: _Audit, transaction: Transaction, inputs: list[Note],
                   deltas: dict[Kind, int], at: str) -> None:
    """Central-bank money (plain notes and earmarked tokens) is created by the central bank's
    issue alone and destroyed by redemption or a burning sweep alone."""
    central: dict[str, int] = defaultdict(int)
    for (currency, token), delta in deltas.items():
        if not audit.bridged(token):
            central[currency] += delta
    issued = transaction.operation == "issue" and _states_central_bank(transaction)
    for currency, delta in central.items():
        tally = audit.central_tally(currency)
        if delta < 0 and _burns(audit.policies, transaction, inputs):
            tally.burned -= delta
            continue
        tally.count(delta, enters=issued, leaves=transaction.operation == "redeem", at=at)
        if delta > 0 and not issued:
            stated = transaction.sender
            by = (f"; it states its sender is {stated.id or 'nobody'} ({stated.role}), not the "
                  f"central bank" if transaction.operation == "issue" else "")
            audit.problems.append(Violation(Check.PLAIN_MONEY_CREATED, (
                f"transaction {at} created {_money(delta, currency)} of central-bank money: "
                f"only the central bank's issue does{by}")))


def _states_central_bank(transaction: Transaction) -> bool:
    # The journal keeps bodies, not signatures: the stated sender is all it says of who issued.
    # One that states no facts leaves them to the registrations, as the notary reads them.
    sender = transaction.sender
    return sender.role == _CENTRAL_ROLE or sender == NO_FACTS


def _audit_bridged(audit: _Audit, inputs: list[Note], outputs: Iterable[Output],
                   at: str) -> None:
    """Bridged notes are never spent into central-bank money, plain or earmarked."""
    bridged = next((note.token for note in inputs if audit.bridged(note.token)), None)
    made = [output for output in outputs if not audit.bridged(output.token)]
    if bridged is not None and made:
        kind = "plain" if made[0].token is None else "earmarked"
        audit.problems.append(Violation(Check.BRIDGED_BECAME_PLAIN, (
            f"transaction {at} spent bridged {_token(bridged)} notes into "
            f"{_money(sum(o.amount_minor for o in made), made[0].currency)} of {kind} "
            f"central-bank money")))


def _burns(policies: Policies, transaction: Transaction, inputs: list[Note]) -> bool:
    """A sweep of expired notes whose token says `then burn` (it may destroy them)."""
    token = inputs[0].token if inputs else None
    policy = policies(token) if token is not None else None
    expiry = policy.expiry if policy is not None else None
    return transaction.operation == "return" and expiry is not None and expiry.then == "burn" and (
        any(transaction.created_at_s >= expiry.deadline_s(n.issued_at_s) for n in inputs))


def _audit_tokens(audit: _Audit, transaction: Transaction, inputs: list[Note],
                  deltas: dict[Kind, int], at: str) -> None:
    """An earmarked token grows by labelling plain money alone and shrinks by release, return
    or expiry; a bridged token grows by its issuer's issue alone and shrinks by its redeem."""
    by_token: dict[TokenRef, int] = defaultdict(int)
    for (_, token), delta in deltas.items():
        if token is not None:
            by_token[token] += delta
    operation = transaction.operation
    for token, delta in by_token.items():
        policy = audit.policies(token)
        if policy is None:
            continue  # reported as unknown; its notes count as central-bank money
        tally = audit.token_tally(token, policy)
        if policy.bridged:
            tally.count(delta, enters=operation == "issue", leaves=operation == "redeem", at=at)
        else:
            tally.count(delta, at=at,
                        enters=operation == "label" and all(n.token is None for n in inputs),
                        leaves=operation == "return" or policy.plans[operation].release)


# ---- naming money in reports ------------------------------------------------------------------


def _money(amount_minor: int, currency: str) -> str:
    try:
        return format_minor(amount_minor, currency)
    except MoneyError:  # a corrupted note's currency: show it as it is
        return f"{amount_minor} minor units of {currency!r}"


def _token(token: TokenRef | None) -> str:
    return f"{token.token} (contract {token.contract[:16]}…)" if token else "plain"


def _capped(kind: Capped) -> str:
    return f"plain {kind}" if isinstance(kind, str) else f"token {_token(kind)}"


def _token_order(token: TokenRef) -> tuple[str, str]:
    return token.token, token.contract


def _kind(account: Account) -> str:
    return f"{'bridged' if account.bridged else 'earmarked'} {account.currency}"
