"""Validation of a signed transaction against the ledger, in the documented order.

Each step refuses with its own result code, and the first refusal wins (`ResultCode` lists the
order): malformed → bad_signature → note_unknown → note_already_spent → not_authorised →
party_unregistered → facts_not_attested → not_conserved → supply_cap_exceeded →
token_change_not_allowed → contract_unknown → the contract's decision (note_expired,
purpose_not_allowed, limit_exceeded). Validation reads the ledger through `LedgerView` and the
registrations through `Registry`, and changes nothing; the notary commits what it accepts.

What it believes (docs/ledger.md, "Trust model"): who sends is whoever may spend the input
notes, and who receives is the owner of the outputs; their facts are their registrations, never
what the transaction states. A customer's notes move only with her bank's signature, decided by
who owns them, not by what the transaction says. Plain money is created by the central bank's
`issue` and destroyed by its `redeem` alone; a bridged token never turns into plain money.
"""

from __future__ import annotations

import hashlib
import string
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from dsl.evaluate import CompiledPolicy, Decision, Ground
from dsl.facts import Facts, Party, Usage
from dsl.money import is_currency
from engine.encoding import INTEGER_MAX, SUPPLY_MAX_MINOR, note_id, signing_bytes, transaction_id
from engine.errors import Refusal, ResultCode, TransactionRefused
from engine.ids import NoteId, ParticipantId, TxId
from engine.keys import verify
from engine.model import NO_FACTS, Note, Output, SignedTransaction, TokenRef, Transaction
from engine.participants import Registry

CLOCK_SKEW_MAX_S: Final = 300  # how far a transaction's time may be from the notary's
SIGNATURES_MAX: Final = 16
_NEW_MONEY: Final = frozenset({"issue"})
_DESTROYS_MONEY: Final = frozenset({"redeem"})
_CREATES_TOKEN: Final = frozenset({"label", "issue"})  # issue: of a bridged token only
DIGEST_HEX_CHARS: Final = 64  # a SHA-256 hashlock or a 32-byte preimage, in hex


class LedgerView(Protocol):
    """What validation needs to read: notes, their spent state, contracts and usage totals."""

    def notes(self, ids: Sequence[NoteId]) -> Mapping[NoteId, tuple[Note, bool]]:
        """The notes that exist among `ids`, each with whether it is spent."""
        ...

    def policy(self, token: TokenRef) -> CompiledPolicy | None:
        """The compiled policy of a deployed token, if deployed."""
        ...

    def usage(self, token: TokenRef, transaction: Transaction,
              owner: ParticipantId) -> Usage:
        """Totals for the token's limits as of the transaction's time."""
        ...

    def outstanding_in(self, currency: str) -> int:
        """What is outstanding in `currency`: every unspent note of it, plain or token."""
        ...


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid transaction: what it spends, what it creates, and the contract's decision."""

    signed: SignedTransaction
    spent: tuple[Note, ...]
    created: tuple[Note, ...]
    decision: Decision | None  # None for plain money
    moved_minor: int  # what left the sender, for usage totals
    # Who spent, as validation found it (the note's owner, or its lock's refund party once the
    # deadline passed; for an issue, who issued): the wallet its usage counts against.
    sender: ParticipantId


class _Refused(Exception):
    def __init__(self, code: ResultCode, reason: str, decision: Decision | None = None) -> None:
        super().__init__(reason)
        self.refusal = Refusal(code, reason, decision.rule if decision else None)


def validate(signed: SignedTransaction, ledger: LedgerView, registry: Registry, now_s: int,
             endorsers: frozenset[ParticipantId] = frozenset()) -> Accepted | Refusal:
    """Validate `signed` at the notary's time `now_s`; never raises for a bad transaction.

    `endorsers` are banks whose verified endorsement (`engine.model.Endorsement`) covers this
    transaction: each counts as a co-signature."""
    refusal = check_signed(signed, now_s)
    return refusal if refusal is not None else validate_state(signed, ledger, registry, now_s,
                                                             endorsers)


def check_signed(signed: SignedTransaction, now_s: int) -> Refusal | None:
    """The checks that read no ledger state (malformed, bad_signature), so a notary can run
    them for a whole batch in parallel before the steps that must run in order."""
    try:
        _check_structure(signed, now_s)
        _check_signatures(signed)
    except _Refused as refused:
        return refused.refusal
    return None


def validate_state(signed: SignedTransaction, ledger: LedgerView, registry: Registry, now_s: int,
                   endorsers: frozenset[ParticipantId] = frozenset()) -> Accepted | Refusal:
    """The steps after `check_signed`, which read the ledger; call it only for a transaction
    that passed `check_signed`."""
    try:
        return _validate_state(signed, ledger, registry, now_s, endorsers)
    except _Refused as refused:
        return refused.refusal


def _validate_state(signed: SignedTransaction, ledger: LedgerView, registry: Registry,
                    now_s: int, endorsers: frozenset[ParticipantId]) -> Accepted:
    transaction = signed.transaction
    spent = _find_inputs(transaction, ledger)
    token = _single_kind(transaction, spent)
    policy = ledger.policy(token) if token is not None else None
    expired = policy is not None and _expired(policy, spent, transaction.created_at_s)
    sender_key = _sender_key(transaction, spent, registry, policy, now_s)
    signers = signed.signers | endorsers
    _check_authority(transaction, signers, spent, registry, sender_key, policy=policy,
                     expired=expired, now_s=now_s)
    sender, receiver = _attested_parties(transaction, signers, registry, sender_key,
                                         bridged=policy is not None and policy.bridged)
    _check_locks(transaction, spent, now_s)
    _check_conservation(transaction, spent, expired, policy)
    _check_supply(transaction, ledger)
    _check_tokens(transaction, spent, token, policy)
    if token is not None and policy is None:
        raise _Refused(ResultCode.CONTRACT_UNKNOWN, f"no deployed contract {token.contract} "
                       f"with token {token.token}")
    if _settles_lock(transaction, spent, now_s):
        # Claiming or refunding a lock moves nothing to anyone new: the contract judged the
        # payment when it created the lock, and counted it toward the limits then.
        return Accepted(signed, tuple(spent), created_notes(signed.id, transaction, spent),
                        None, 0, sender_key)
    moved = sum(o.amount_minor for o in transaction.outputs if o.owner != sender_key) or sum(
        note.amount_minor for note in spent)
    decision = None
    # The issuer's own operations (labelling, minting or burning a bridged token) are
    # authorised above; the policy governs spending.
    if policy is not None and token is not None and not _issuers_operation(transaction, policy):
        usage = ledger.usage(token, transaction, sender_key)
        decision = _decide(policy, transaction, spent, moved, usage, parties=(sender, receiver))
    return Accepted(signed, tuple(spent), created_notes(signed.id, transaction, spent),
                    decision, moved, sender_key)


def _issuers_operation(transaction: Transaction, policy: CompiledPolicy) -> bool:
    operation = transaction.operation
    return operation == "label" or (policy.bridged and operation in _NEW_MONEY | _DESTROYS_MONEY)


# ---- 1. malformed -----------------------------------------------------------------------------


def _check_structure(signed: SignedTransaction, now_s: int) -> None:
    transaction = signed.transaction
    problems = _shape_problems(transaction)
    try:
        if signed.id != transaction_id(transaction):
            problems.append("the id is not the hash of the transaction")
    except TransactionRefused as refused:
        problems.append(refused.refusal.reason)
    if abs(transaction.created_at_s - now_s) > CLOCK_SKEW_MAX_S:
        problems.append(f"its time is more than {CLOCK_SKEW_MAX_S} s from the notary's clock")
    if len(signed.signatures) > SIGNATURES_MAX or len(signed.signers) != len(signed.signatures):
        problems.append(f"at most {SIGNATURES_MAX} signatures, one per signer")
    if problems:
        raise _Refused(ResultCode.MALFORMED, "; ".join(problems))


def _shape_problems(transaction: Transaction) -> list[str]:
    problems = []
    operation = transaction.operation
    if operation in _NEW_MONEY and transaction.inputs:
        problems.append("issue creates money: it spends no notes")
    if operation not in _NEW_MONEY and not transaction.inputs:
        problems.append(f"{operation} spends at least one note")
    if operation not in _DESTROYS_MONEY and not transaction.outputs:
        problems.append(f"{operation} creates at least one note")
    if len(set(transaction.inputs)) != len(transaction.inputs):
        problems.append("a note is listed twice among the inputs")
    if any(not is_currency(output.currency) for output in transaction.outputs):
        problems.append("an output's currency is not an ISO 4217 currency")
    if any(not 0 < output.amount_minor <= INTEGER_MAX for output in transaction.outputs):
        problems.append(f"every output is more than zero and at most {INTEGER_MAX}")
    if (operation == "convert") != (transaction.quote is not None):
        problems.append("a convert carries its quote, and only a convert does")
    if transaction.preimage is not None and not _is_hex32(transaction.preimage):
        problems.append(f"a preimage is 32 bytes in hex ({DIGEST_HEX_CHARS} characters)")
    if any(output.lock is not None and not _is_hex32(output.lock.digest)
           for output in transaction.outputs):
        problems.append("a lock's digest is a SHA-256 in hex")
    return problems


def _is_hex32(text: str) -> bool:
    return len(text) == DIGEST_HEX_CHARS and all(c in string.hexdigits for c in text)


# ---- 2-4. signatures and inputs ---------------------------------------------------------------


def _check_signatures(signed: SignedTransaction) -> None:
    message = signing_bytes(signed.id)
    for signature in signed.signatures:
        if not verify(signature.signer, message, signature.signature):
            raise _Refused(ResultCode.BAD_SIGNATURE,
                           f"the signature of {signature.signer[:16]}… does not verify")


def _find_inputs(transaction: Transaction, ledger: LedgerView) -> list[Note]:
    found = ledger.notes(transaction.inputs)
    missing = [note for note in transaction.inputs if note not in found]
    if missing:
        raise _Refused(ResultCode.NOTE_UNKNOWN, f"no note {missing[0]}")
    spent = [note for note in transaction.inputs if found[note][1]]
    if spent:
        raise _Refused(ResultCode.NOTE_ALREADY_SPENT, f"note {spent[0]} is already spent")
    return [found[note][0] for note in transaction.inputs]


def _single_kind(transaction: Transaction, spent: list[Note]) -> TokenRef | None:
    kinds = {(note.currency, note.token) for note in spent}
    if len(kinds) > 1:
        raise _Refused(ResultCode.MALFORMED, "the inputs mix currencies or tokens; spend one "
                       "kind of money per transaction")
    if transaction.operation in _CREATES_TOKEN:
        tokens = {output.token for output in transaction.outputs}
        if transaction.operation == "issue" and tokens == {None}:
            return None  # plain money, the central bank's
        if transaction.operation == "label":
            tokens.discard(None)  # the change of a label stays plain
        if len(tokens) != 1 or None in tokens:
            raise _Refused(ResultCode.MALFORMED, f"a {transaction.operation} of a token creates "
                           f"notes of exactly one token")
        return tokens.pop()
    return spent[0].token if spent else None


def _expired(policy: CompiledPolicy, spent: list[Note], at_s: int) -> bool:
    expiry = policy.expiry
    if expiry is None:
        return False
    return any(at_s >= expiry.deadline_s(note.issued_at_s) for note in spent if note.token)


# ---- 5. authority ----------------------------------------------------------------------------


def _sender_key(transaction: Transaction, spent: list[Note], registry: Registry,
                policy: CompiledPolicy | None, now_s: int) -> ParticipantId:
    """Who sends: whoever may spend the inputs now; for an issue, who creates the money (the
    central bank, or a bridged token's issuer)."""
    if spent:
        spenders = {note.spender(now_s) for note in spent}
        if len(spenders) > 1:
            raise _Refused(ResultCode.MALFORMED, "every input note belongs to one sender")
        return spenders.pop()
    if policy is None or not policy.bridged:
        return registry.central_bank.key
    issuer = registry.by_name(policy.issuer, "fx_provider")
    if issuer is None:
        raise _Refused(ResultCode.NOT_AUTHORISED, f"{transaction.operation} of the bridged "
                       f"token {policy.token} needs its issuer, an FX provider ({policy.issuer})")
    return issuer.key


def _check_authority(transaction: Transaction, signers: frozenset[ParticipantId],
                     spent: list[Note], registry: Registry, sender_key: ParticipantId, *,
                     policy: CompiledPolicy | None, expired: bool, now_s: int) -> None:
    _check_money_authority(transaction.operation, signers, registry, policy, sender_key)
    issuer = registry.by_name(policy.issuer, "agency") if policy is not None else None
    sweeping = expired and transaction.operation == "return" and issuer is not None
    if spent and not (sender_key in signers or (
            sweeping and issuer is not None and issuer.key in signers)):
        raise _Refused(ResultCode.NOT_AUTHORISED, "every note's owner signs its spending")
    if transaction.operation == "label" and (issuer is None or issuer.key != sender_key):
        raise _Refused(ResultCode.NOT_AUTHORISED, "only the token's issuer labels money")
    if transaction.operation == "label" and any(o.owner != sender_key
                                                for o in transaction.outputs):
        # The policy does not judge a label: labelling into another's wallet would skip the
        # rules its distribution must pass.
        raise _Refused(ResultCode.NOT_AUTHORISED, "a label keeps the money with its issuer: "
                       "distribute it after, under the token's rules")
    customer = registry.customer(sender_key)
    if customer is not None and not _settles_lock(transaction, spent, now_s):
        # Decided by who owns the notes, whatever the transaction says of its sender.
        bank = registry.by_name(customer.bank, "bank")
        if bank is None or bank.key not in signers:
            raise _Refused(ResultCode.NOT_AUTHORISED, f"a customer's notes move only with her "
                           f"bank's signature ({customer.bank})")


def _check_money_authority(operation: str, signers: frozenset[ParticipantId],
                           registry: Registry, policy: CompiledPolicy | None,
                           sender_key: ParticipantId) -> None:
    """Creating or destroying money: plain money by the central bank alone (redeeming a bank's
    notes), a bridged token by its issuer in a currency the central bank allowed it."""
    if operation not in _NEW_MONEY | _DESTROYS_MONEY:
        return
    if policy is not None and policy.bridged:
        _check_bridged_issuer(operation, signers, registry, policy)
        return
    if policy is not None:
        raise _Refused(ResultCode.NOT_AUTHORISED, f"token {policy.token} is not bridged: its "
                       f"notes are labelled from plain money and released or returned, never "
                       f"{'issued' if operation in _NEW_MONEY else 'redeemed'}")
    if registry.central_bank.key not in signers:
        raise _Refused(ResultCode.NOT_AUTHORISED, f"{operation} needs the central bank's signature")
    holder = registry.by_key(sender_key)
    if operation in _DESTROYS_MONEY and (holder is None or holder.role != "bank"):
        raise _Refused(ResultCode.NOT_AUTHORISED, "plain money is redeemed by a bank, from its "
                       "own notes")


def _check_bridged_issuer(operation: str, signers: frozenset[ParticipantId],
                          registry: Registry, policy: CompiledPolicy) -> None:
    issuer = registry.by_name(policy.issuer, "fx_provider")
    if issuer is None or issuer.key not in signers:
        raise _Refused(ResultCode.NOT_AUTHORISED, f"{operation} of the bridged token "
                       f"{policy.token} needs its issuer's signature ({policy.issuer})")
    if operation in _NEW_MONEY and policy.currency not in issuer.bridged:
        raise _Refused(ResultCode.NOT_AUTHORISED, f"the central bank has not allowed "
                       f"{policy.issuer} to issue bridged {policy.currency}")


# ---- 6-7. the parties -------------------------------------------------------------------------


def _attested_parties(transaction: Transaction, signers: frozenset[ParticipantId],
                      registry: Registry, sender_key: ParticipantId, *, bridged: bool
                      ) -> tuple[Party, Party]:
    """The sender's and the receiver's facts as registered; the transaction may state them only
    as they are. The channel is vouched for by the customer's bank, and a quote by its
    provider's signature."""
    sender = registry.party(sender_key)
    if sender is None:
        raise _Refused(ResultCode.PARTY_UNREGISTERED, "the sender is registered nowhere")
    receiver_key = _receiver_key(transaction, sender_key, registry, bridged=bridged)
    receiver = registry.party(receiver_key)
    if receiver is None:
        raise _Refused(ResultCode.PARTY_UNREGISTERED, f"the receiver {receiver_key[:16]}… is "
                       f"registered nowhere: neither a participant nor a bank's customer")
    if any(o.lock is not None and o.lock.refund_to != sender_key for o in transaction.outputs):
        raise _Refused(ResultCode.NOT_AUTHORISED, "a lock refunds to its sender")
    _check_stated("sender", transaction.sender, sender)
    _check_stated("receiver", transaction.receiver, receiver)
    if transaction.channel != "online" and registry.customer(sender_key) is None:
        raise _Refused(ResultCode.FACTS_NOT_ATTESTED, f"channel {transaction.channel}: only a "
                       f"customer's bank vouches for a channel other than online")
    quote = transaction.quote
    if quote is not None and not (quote.provider == receiver.id and receiver.role ==
                                  "fx_provider" and receiver_key in signers):
        raise _Refused(ResultCode.FACTS_NOT_ATTESTED, "a quote is vouched for by its provider, "
                       "who receives the conversion and signs it")
    return sender, receiver


def _receiver_key(transaction: Transaction, sender_key: ParticipantId, registry: Registry,
                  *, bridged: bool) -> ParticipantId:
    others = {output.owner for output in transaction.outputs if output.owner != sender_key}
    if len(others) > 1:
        raise _Refused(ResultCode.MALFORMED, "a transaction pays one receiver (and the sender "
                       "its change)")
    if others:
        return others.pop()
    # Redeemed plain money goes back to the central bank; a burned token, to no one but its
    # issuer, who burns it.
    redeemed = transaction.operation in _DESTROYS_MONEY and not bridged
    return registry.central_bank.key if redeemed else sender_key


def _check_stated(side: str, stated: Party, attested: Party) -> None:
    if stated in (NO_FACTS, attested):
        return
    differing = [name for name in _PARTY_FIELDS if getattr(stated, name) != getattr(attested,
                                                                                     name)]
    raise _Refused(ResultCode.FACTS_NOT_ATTESTED, f"the {side}'s stated {', '.join(differing)} "
                   f"differ from its registration: state none, or state them as registered")


_PARTY_FIELDS: Final = ("id", "role", "kyc", "bank", "region", "mcc")


def _check_locks(transaction: Transaction, spent: list[Note], now_s: int) -> None:
    """A hash-locked input before its deadline is spent only with its preimage revealed."""
    preimage = transaction.preimage
    revealed = hashlib.sha256(bytes.fromhex(preimage)).hexdigest() if preimage else None
    for note in spent:
        lock = note.lock
        if lock is not None and now_s < lock.deadline_s and revealed != lock.digest.lower():
            raise _Refused(ResultCode.NOT_AUTHORISED, f"note {note.id} is hash-locked until "
                           f"{lock.deadline_s}: its owner claims it with the preimage")


def _settles_lock(transaction: Transaction, spent: list[Note], now_s: int) -> bool:
    """A claim or a refund: locked inputs whose spender keeps the same money, unlocked."""
    if not spent or any(note.lock is None for note in spent):
        return False
    spenders = {note.spender(now_s) for note in spent}
    kind = (spent[0].currency, spent[0].token)
    return len(spenders) == 1 and all(
        output.owner in spenders and output.lock is None
        and (output.currency, output.token) == kind for output in transaction.outputs)


# ---- 8-10. conservation, supply and tokens --------------------------------------------------


def _check_conservation(transaction: Transaction, spent: list[Note], expired: bool,
                        policy: CompiledPolicy | None) -> None:
    if transaction.operation in _NEW_MONEY:
        return
    inputs, outputs = _totals(spent), _totals(transaction.outputs)
    burning = expired and policy is not None and policy.expiry is not None and (
        policy.expiry.then == "burn")
    if transaction.operation in _DESTROYS_MONEY or burning:
        if any(outputs[c] > inputs.get(c, 0) for c in outputs) or set(outputs) - set(inputs):
            raise _Refused(ResultCode.NOT_CONSERVED, "outputs exceed inputs")
        return
    if inputs != outputs:
        raise _Refused(ResultCode.NOT_CONSERVED, f"inputs {dict(inputs)} differ from outputs "
                       f"{dict(outputs)} per currency")


def _totals(items: Sequence[Note | Output]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for item in items:
        totals[item.currency] += item.amount_minor
    return dict(totals)


def _check_supply(transaction: Transaction, ledger: LedgerView) -> None:
    """An issue keeps what is outstanding in its currency — plain money, the earmarks labelled
    from it and bridged tokens alike — within `SUPPLY_MAX_MINOR`, so every total of the
    currency fits the stores' 64-bit columns (a label moves money within it)."""
    if transaction.operation not in _NEW_MONEY:
        return
    for currency, amount_minor in _totals(transaction.outputs).items():
        outstanding = ledger.outstanding_in(currency)
        if amount_minor > SUPPLY_MAX_MINOR - outstanding:
            raise _Refused(ResultCode.SUPPLY_CAP_EXCEEDED, f"{outstanding} {currency} minor "
                           f"units are outstanding; at most {SUPPLY_MAX_MINOR} may be")


def _check_tokens(transaction: Transaction, spent: list[Note], token: TokenRef | None,
                  policy: CompiledPolicy | None) -> None:
    operation = transaction.operation
    if operation == "label" and spent[0].token is not None:
        raise _Refused(ResultCode.TOKEN_CHANGE_NOT_ALLOWED, "a label turns plain money into "
                       "its token")
    if policy is not None and any(o.token == token and o.currency != policy.currency
                                  for o in transaction.outputs):
        raise _Refused(ResultCode.TOKEN_CHANGE_NOT_ALLOWED, f"token {policy.token} is "
                       f"{policy.currency} money")
    for output in transaction.outputs:
        if not _keeps_its_kind(transaction, spent, token, policy, output):
            raise _Refused(ResultCode.TOKEN_CHANGE_NOT_ALLOWED, f"an output of {operation} "
                           f"cannot {'drop' if output.token is None else 'take on'} an earmark "
                           f"here")


def _keeps_its_kind(transaction: Transaction, spent: list[Note], token: TokenRef | None,
                    policy: CompiledPolicy | None, output: Output) -> bool:
    """Whether this output's kind of money may come out of this transaction's inputs."""
    operation = transaction.operation
    if output.token == (spent[0].token if spent else None):
        return True
    if operation in _CREATES_TOKEN and output.token == token:
        return True
    if output.token is not None or policy is None or policy.bridged:
        return False  # a bridged token is its issuer's money: it never turns into plain money
    if operation == "return":
        return True  # returned money ends its earmark with the issuer
    return policy.plans[operation].release and output.owner != spent[0].owner


# ---- 11. the contract --------------------------------------------------------------------------

_CODES: Final = {
    Ground.EXPIRY: ResultCode.NOTE_EXPIRED,
    Ground.LIMIT: ResultCode.LIMIT_EXCEEDED,
}


def _decide(policy: CompiledPolicy, transaction: Transaction, spent: list[Note], moved: int,
            usage: Usage, *, parties: tuple[Party, Party]) -> Decision:
    issued_at = min((note.issued_at_s for note in spent), default=transaction.created_at_s)
    sender, receiver = parties
    facts = Facts(transaction.operation, moved, policy.currency, sender, receiver,
                  transaction.channel, transaction.created_at_s, issued_at, transaction.quote)
    decision = policy.decide(facts, usage)
    if not decision.allowed:
        raise _Refused(_CODES.get(decision.ground, ResultCode.PURPOSE_NOT_ALLOWED),
                       decision.reason, decision)
    return decision


def created_notes(tx_id: TxId, transaction: Transaction,
                  spent: Sequence[Note]) -> tuple[Note, ...]:
    """The notes a transaction creates, given the notes it spends (the verifier replays this)."""
    return tuple(_note(tx_id, index, output, transaction.created_at_s, spent)
                 for index, output in enumerate(transaction.outputs))


def _note(tx_id: TxId, index: int, output: Output, created_at_s: int,
          spent: Sequence[Note]) -> Note:
    # An earmark's clock runs from its label; change and transfers keep the oldest input's time.
    issued_at = min((note.issued_at_s for note in spent if note.token == output.token),
                    default=created_at_s)
    return Note(note_id(tx_id, index), output.owner, output.amount_minor, output.currency,
                output.token, issued_at, tx_id, output.lock)
