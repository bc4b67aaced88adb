"""`earmark bench ledger`: signed health-benefit purchases through validation and commits.

Set-up (not timed): a fresh ledger with `health_benefit` deployed, money issued, labelled and
distributed to many holders, so that every timed purchase spends an earmarked note and runs the
contract. Timed: the purchases submitted in batches through the notary, each batch one durable
commit; then, for the ratio, raw Ed25519 verification of as many signatures in the same process.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dsl.facts import Party
from engine.encoding import endorsing_bytes, note_id, signing_bytes, transaction_id
from engine.errors import EngineError
from engine.ids import ParticipantId
from engine.keys import KeyPair, verify
from engine.model import (
    Endorsement,
    Note,
    Output,
    Signature,
    SignedTransaction,
    TokenRef,
    Transaction,
)
from engine.notary import Notary
from engine.participants import Participant, Registry
from engine.store import SqlStore
from node.benchmarks import LedgerBenchResult

BATCH_SIZE = 512
_HOLDER_NOTES = 4  # notes per holder, far below the monthly limit of health_benefit
_DISTRIBUTE_OUTPUTS = 60  # holders' notes per distribute transaction (OUTPUTS_MAX is 64)
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
    holders = [_key(f"holder-{i}") for i in range((count + _HOLDER_NOTES - 1) // _HOLDER_NOTES)]
    notes: list[tuple[Note, KeyPair]] = []
    remaining = pool
    for start in range(0, count, _DISTRIBUTE_OUTPUTS):
        end = min(count, start + _DISTRIBUTE_OUTPUTS)
        owners = [holders[i // _HOLDER_NOTES] for i in range(start, end)]
        outputs = [Output(o.participant, _NOTE_MINOR, "KZT", token) for o in owners]
        change = remaining.amount_minor - len(outputs) * _NOTE_MINOR
        if change:
            outputs.append(Output(AGENCY.participant, change, "KZT", token))
        receiver = Party("holder@bench-bank", "individual", 1, "bench-bank")
        given = _submit(notary, _sign(Transaction(
            "distribute", (remaining.id,), tuple(outputs), AGENCY_FACTS, receiver, NOW_S,
            f"bench-{start}"), AGENCY))
        notes += list(zip(given[:len(owners)], owners, strict=True))
        remaining = given[-1] if change else remaining
    return notes


def _purchases(notes: list[tuple[Note, KeyPair]], token: TokenRef) -> list[SignedTransaction]:
    signed = []
    for index, (note, holder) in enumerate(notes):
        outputs = (Output(CLINIC.participant, _PURCHASE_MINOR, "KZT"),
                   Output(holder.participant, note.amount_minor - _PURCHASE_MINOR, "KZT", token))
        sender = Party(f"holder-{index // _HOLDER_NOTES}@bench-bank", "individual", 1,
                       "bench-bank")
        signed.append(_sign(Transaction("purchase", (note.id,), outputs, sender, CLINIC_FACTS,
                                        NOW_S, f"buy-{index}"), holder))
    return signed


def _endorse(batch: list[SignedTransaction]) -> Endorsement:
    """The bank's co-signature on a batch of its customers' purchases (before the timing: the
    bank's work, not the notary's)."""
    ids = tuple(s.id for s in batch)
    return Endorsement(BANK.participant, ids, BANK.sign(endorsing_bytes(ids)))


def run(database: str, contract: Path, transactions: int,
        progress: Callable[[str], None]) -> LedgerBenchResult:
    """Set up, then time the purchases and the raw verification."""
    store = SqlStore(database)
    token = TokenRef(store.deploy(contract.read_text(encoding="utf-8")), "HEALTH")
    notary = Notary(store, REGISTRY, clock=lambda: NOW_S)
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
