"""`earmark bench ledger`: signed health-benefit purchases through validation and commits.

Set-up (not timed): a fresh ledger with `health_benefit` deployed, money issued, labelled and
distributed to many holders, so that every timed purchase spends an earmarked note and runs the
contract. Timed: the purchases submitted in batches through the notary, each batch one durable
commit; then, for the ratio, raw Ed25519 verification of as many signatures in the same process.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dsl.facts import Party
from engine.encoding import endorsing_bytes, note_id, signing_bytes, transaction_id
from engine.errors import EngineError
from engine.ids import ParticipantId
from engine.keys import KeyPair, verify
from engine.model import (
    NO_FACTS,
    Endorsement,
    Note,
    Output,
    Signature,
    SignedTransaction,
    TokenRef,
    Transaction,
)
from engine.notary import Notary
from engine.participants import Customer, Customers, Participant, Registry
from engine.store import SqlStore
from node.benchmarks import LedgerBenchResult

BATCH_SIZE = 512
_HOLDER_NOTES = 4  # notes per holder, far below the monthly limit of health_benefit
NOW_S = 1_767_225_600
_NOTE_MINOR = 1_000_000  # 10 000 KZT
_PURCHASE_MINOR = 500_000


def _key(name: str) -> KeyPair:
    return KeyPair.from_seed(hashlib.sha256(f"bench/{name}".encode()).digest())


CENTRAL, BANK, AGENCY, CLINIC = _key("central"), _key("bank"), _key("agency"), _key("clinic")
REGISTRY = Registry.of(Participant(CENTRAL.participant, "central-bank", "central_bank"),
                       [Participant(BANK.participant, "bench-bank", "bank"),
                        Participant(AGENCY.participant, "ministry-of-health", "agency")])
BANK_FACTS = Party("bench-bank", "bank")
AGENCY_FACTS = Party("ministry-of-health", "agency")
CLINIC_FACTS = Party("clinic@bench-bank", "merchant", 1, "bench-bank", mcc=8062)


def _holder(index: int) -> tuple[KeyPair, Customer]:
    key = _key(f"holder-{index}")
    return key, Customer(key.participant, f"holder-{index}@bench-bank", "bench-bank",
                         "individual", 1)


def _sign(transaction: Transaction, *keys: KeyPair) -> SignedTransaction:
    tx_id = transaction_id(transaction)
    message = signing_bytes(tx_id)
    return SignedTransaction(tx_id, transaction,
                             tuple(Signature(k.participant, k.sign(message)) for k in keys))


def _submit(notary: Notary, signed: SignedTransaction) -> list[Note]:
    outcome = notary.submit(signed)
    if not outcome.committed:
        raise EngineError(f"bench set-up refused: {outcome.refusal}")
    found = notary.store.notes([note_id(signed.id, i) for i in range(len(
        signed.transaction.outputs))])
    return [found[note_id(signed.id, i)][0] for i in range(len(signed.transaction.outputs))]


def _fund(notary: Notary, token: TokenRef, count: int) -> list[tuple[Note, KeyPair]]:
    """`count` earmarked notes, `_HOLDER_NOTES` per holder."""
    total = count * _NOTE_MINOR
    issue = Transaction("issue", (), (Output(BANK.participant, total, "KZT"),),
                        Party("central-bank", "central_bank"), BANK_FACTS, NOW_S, "bench")
    (issued,) = _submit(notary, _sign(issue, CENTRAL))
    pay = Transaction("transfer", (issued.id,), (Output(AGENCY.participant, total, "KZT"),),
                      BANK_FACTS, AGENCY_FACTS, NOW_S, "bench")
    (paid,) = _submit(notary, _sign(pay, BANK))
    label = Transaction("label", (paid.id,), (Output(AGENCY.participant, total, "KZT", token),),
                        AGENCY_FACTS, AGENCY_FACTS, NOW_S, "bench")
    (pool,) = _submit(notary, _sign(label, AGENCY))
    holders = [_holder(i)[0] for i in range((count + _HOLDER_NOTES - 1) // _HOLDER_NOTES)]
    counts = [min(_HOLDER_NOTES, count - i * _HOLDER_NOTES) for i in range(len(holders))]
    return distribute(notary, (AGENCY, AGENCY_FACTS), pool, list(zip(holders, counts,
                                                                     strict=True)), _NOTE_MINOR)


def distribute(notary: Notary, agency: tuple[KeyPair, Party], pool: Note,
               holders: Sequence[tuple[KeyPair, int]],
               note_minor: int) -> list[tuple[Note, KeyPair]]:
    """The agency gives each holder its count of `note_minor` notes from `pool`; the notes each
    holder got. One distribution per holder (a transaction pays one receiver), each spending
    the change of the one before: built ahead, since note ids follow from transaction ids, and
    committed in batches, in which each sees the notes the earlier ones created."""
    key, facts = agency
    signed_all: list[SignedTransaction] = []
    notes: list[tuple[Note, KeyPair]] = []
    remaining_id, remaining_minor = pool.id, pool.amount_minor
    for index, (holder, size) in enumerate(holders):
        outputs = [Output(holder.participant, note_minor, pool.currency, pool.token)] * size
        change = remaining_minor - size * note_minor
        if change:
            outputs.append(Output(key.participant, change, pool.currency, pool.token))
        signed = _sign(Transaction("distribute", (remaining_id,), tuple(outputs), facts,
                                   NO_FACTS, NOW_S, f"bench-{index}"), key)
        signed_all.append(signed)
        notes += [(Note(note_id(signed.id, i), holder.participant, note_minor, pool.currency,
                        pool.token, NOW_S, signed.id), holder) for i in range(size)]
        remaining_id, remaining_minor = note_id(signed.id, size), change
    for start in range(0, len(signed_all), BATCH_SIZE):
        for outcome in notary.submit_batch(signed_all[start:start + BATCH_SIZE]):
            if not outcome.committed:
                raise EngineError(f"bench set-up refused: {outcome.refusal}")
    return notes


def _purchases(notes: list[tuple[Note, KeyPair]], token: TokenRef) -> list[SignedTransaction]:
    signed = []
    for index, (note, holder) in enumerate(notes):
        outputs = (Output(CLINIC.participant, _PURCHASE_MINOR, "KZT"),
                   Output(holder.participant, note.amount_minor - _PURCHASE_MINOR, "KZT", token))
        sender = _holder(index // _HOLDER_NOTES)[1].party
        signed.append(_sign(Transaction("purchase", (note.id,), outputs, sender, CLINIC_FACTS,
                                        NOW_S, f"buy-{index}"), holder))
    return signed


def _endorse(batch: list[SignedTransaction]) -> Endorsement:
    """The bank's co-signature on a batch of its customers' purchases (before the timing: the
    bank's work, not the notary's)."""
    ids = tuple(s.id for s in batch)
    return Endorsement(BANK.participant, ids, BANK.sign(endorsing_bytes(ids)))


def _customers(transactions: int) -> Customers:
    """The clinic and every holder, as the bench bank registered them."""
    holders = (_holder(i)[1] for i in range((transactions + _HOLDER_NOTES - 1) // _HOLDER_NOTES))
    clinic = Customer(CLINIC.participant, CLINIC_FACTS.id, "bench-bank", "merchant", 1,
                      mcc=CLINIC_FACTS.mcc)
    return Customers.of([clinic, *holders])


def run(database: str, contract: Path, transactions: int,
        progress: Callable[[str], None]) -> LedgerBenchResult:
    """Set up, then time the purchases and the raw verification."""
    store = SqlStore(database)
    token = TokenRef(store.deploy(contract.read_text(encoding="utf-8")), "HEALTH")
    notary = Notary(store, REGISTRY, clock=lambda: NOW_S, directory=_customers(transactions))
    progress(f"setting up {transactions:,} earmarked notes…")
    signed = _purchases(_fund(notary, token, transactions), token)
    batches = [signed[i:i + BATCH_SIZE] for i in range(0, len(signed), BATCH_SIZE)]
    endorsements = [_endorse(batch) for batch in batches]
    progress("submitting…")
    latencies, committed, handed = [], 0, []

    def feed() -> Iterator[tuple[list[SignedTransaction], list[Endorsement]]]:
        for batch, endorsement in zip(batches, endorsements, strict=True):
            handed.append(time.perf_counter())
            yield batch, [endorsement]

    started = time.perf_counter()
    for index, outcomes in enumerate(notary.submit_stream(feed())):
        # From handing the batch to the notary until its outcomes are durable.
        latencies += [time.perf_counter() - handed[index]] * len(outcomes)
        committed += sum(o.committed for o in outcomes)
    seconds = time.perf_counter() - started
    notary.close()
    store.close()
    return LedgerBenchResult(database, len(signed), committed, seconds,
                             _verify_rate(signed, notary.workers), latencies, notary.workers)


def _verify_rate(signed: list[SignedTransaction], workers: int) -> float:
    """Signatures verified per second by `workers` threads, nothing else: the ceiling."""
    pairs = [(s.signatures[0].signer, signing_bytes(s.id), s.signatures[0].signature)
             for s in signed]
    size = -(-len(pairs) // workers)
    chunks = [pairs[i:i + size] for i in range(0, len(pairs), size)]

    def check(chunk: list[tuple[ParticipantId, bytes, bytes]]) -> int:
        return sum(verify(signer, message, signature) for signer, message, signature in chunk)

    with ThreadPoolExecutor(workers) as pool:
        started = time.perf_counter()
        verified = sum(pool.map(check, chunks))
        seconds = time.perf_counter() - started
    if verified != len(pairs):
        raise EngineError("a benchmark signature did not verify")
    return len(pairs) / seconds
