"""The durable store and the notary, on every store: SQLite always, PostgreSQL when configured.

Method: the health-benefit story committed through a real `Notary` on a real database; the store
is reopened to stand for a restart; a race between two OS processes checks the spent set. Set
EARMARK_TEST_POSTGRES_URL to run the same tests on PostgreSQL; under CI (CI=true) a missing
PostgreSQL fails the PostgreSQL tests instead of skipping them.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import pytest
from ledger_world import (
    ALICE,
    BOB,
    CLINIC,
    CUSTOMERS,
    HALYK,
    HEALTH,
    NOW_S,
    REGISTRY,
    SOURCE,
    fund_alice,
    purchase,
    sign,
)
from postgres import fresh_postgres
from sqlalchemy import text

from engine.encoding import INTEGER_MAX, endorsement_digest, endorsing_bytes, note_id
from engine.errors import ResultCode
from engine.ids import NoteId, TxId
from engine.keys import KeyPair
from engine.model import (
    NO_FACTS,
    Endorsement,
    Note,
    Output,
    SignedTransaction,
    TokenRef,
    Transaction,
)
from engine.notary import Notary
from engine.store import IDS_LOOKED_UP_MAX, SqlStore
from engine.usage import token_key, usage_keys
from engine.validate import Accepted, created_notes
from engine.verify import verify

T = TypeVar("T")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL with an empty ledger."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return fresh_postgres("store")


@pytest.fixture
def store(url: str) -> Iterator[SqlStore]:
    """The store on that database, with health_benefit deployed."""
    opened = SqlStore(url)
    assert opened.deploy(SOURCE) == HEALTH.contract
    yield opened
    opened.close()


def notary_for(store: SqlStore) -> Notary:
    """A notary whose clock stands at the story's time, reading the world's customers."""
    return Notary(store, REGISTRY, clock=lambda: NOW_S, directory=CUSTOMERS)


def committed(notary: Notary, signed: SignedTransaction) -> tuple[Note, ...]:
    """Submit, require a commit, and return the notes created."""
    outcome = notary.submit(signed)
    assert outcome.committed, outcome.refusal
    found = notary.store.notes(_created_ids(signed))
    return tuple(found[i][0] for i in _created_ids(signed))


def _created_ids(signed: SignedTransaction) -> list[NoteId]:
    return [note_id(signed.id, i) for i in range(len(signed.transaction.outputs))]


def test_the_story_commits_and_survives_a_restart(store: SqlStore, url: str) -> None:
    """A clinic purchase commits; after reopening the database the notes and spent set remain,
    and submitting the same transaction again is answered from the store, changing nothing."""
    notary = notary_for(store)
    note = fund_alice(lambda signed: committed(notary, signed))
    signed = sign(purchase(note, CLINIC, 1_250_000), ALICE, HALYK)
    committed(notary, signed)
    before = store.table_balances()
    store.close()
    reopened = SqlStore(url)
    again = Notary(reopened, REGISTRY, clock=lambda: NOW_S, directory=CUSTOMERS).submit(signed)
    assert again.committed and again.replayed
    assert reopened.notes([note.id])[note.id][1] is True
    assert reopened.table_balances() == before
    reopened.close()


def test_one_batch_cannot_spend_a_note_twice(store: SqlStore) -> None:
    """Two purchases from one note in one batch: the first commits, the second is refused."""
    notary = notary_for(store)
    note = fund_alice(lambda signed: committed(notary, signed))
    first = sign(purchase(note, CLINIC, 100_000), ALICE, HALYK)
    second = sign(purchase(note, CLINIC, 200_000, nonce="2"), ALICE, HALYK)
    outcomes = notary.submit_batch([first, second])
    assert outcomes[0].committed
    assert outcomes[1].refusal is not None
    assert outcomes[1].refusal.code is ResultCode.NOTE_ALREADY_SPENT


def _six_notes(notary: Notary) -> list[Note]:
    return [fund_alice(lambda signed: committed(notary, signed), nonce=str(i)) for i in range(6)]


def _six_purchases(notes: list[Note]) -> list[SignedTransaction]:
    return [sign(purchase(note, CLINIC, 10_000_000, nonce=f"buy-{i}"), ALICE, HALYK)
            for i, note in enumerate(notes)]


def test_monthly_limit_across_commits(store: SqlStore) -> None:
    """Purchases committed one by one accumulate in the store's usage: five 100 000 KZT
    purchases fill the 500 000 KZT month, the sixth is limit_exceeded."""
    notary = notary_for(store)
    outcomes = [notary.submit(signed) for signed in _six_purchases(_six_notes(notary))]
    codes = [o.refusal.code if o.refusal else "committed" for o in outcomes]
    assert codes == ["committed"] * 5 + [ResultCode.LIMIT_EXCEEDED]


def test_limits_count_earlier_transactions_of_the_same_batch(store: SqlStore) -> None:
    """The same six purchases in one batch: the batch's own earlier spends count, so the sixth
    is still limit_exceeded and only five commit."""
    notary = notary_for(store)
    outcomes = notary.submit_batch(_six_purchases(_six_notes(notary)))
    codes = [o.refusal.code if o.refusal else "committed" for o in outcomes]
    assert codes == ["committed"] * 5 + [ResultCode.LIMIT_EXCEEDED]


def _race(url: str, signed: SignedTransaction, start: multiprocessing.synchronize.Event,
          results: multiprocessing.Queue[str]) -> None:
    store = SqlStore(url)
    notary = Notary(store, REGISTRY, clock=lambda: NOW_S, directory=CUSTOMERS)
    start.wait()
    outcome = notary.submit(signed)
    results.put("committed" if outcome.committed else outcome.refusal.code.value)  # type: ignore[union-attr]
    store.close()


def test_two_processes_racing_for_one_note_one_wins(store: SqlStore, url: str) -> None:
    """Two OS processes submit different purchases of the same note at the same moment: exactly
    one commits and the other is told note_already_spent."""
    notary = notary_for(store)
    note = fund_alice(lambda signed: committed(notary, signed))
    payments = [sign(purchase(note, CLINIC, 100_000 * (i + 1), nonce=f"race-{i}"), ALICE,
                     HALYK) for i in range(2)]
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=_race, args=(url, p, start, results)) for p in payments]
    for worker in workers:
        worker.start()
    start.set()
    answers = sorted(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    assert answers == ["committed", "note_already_spent"]


def test_the_journal_replays_into_the_tables(store: SqlStore) -> None:
    """After the story, replaying the committed transactions rebuilds the notes, the spent set
    and every balance exactly as the tables hold them."""
    notary = notary_for(store)
    note = fund_alice(lambda signed: committed(notary, signed))
    committed(notary, sign(purchase(note, CLINIC, 1_250_000), ALICE, HALYK))
    report = verify(store)
    assert report.ok, report.mismatches
    assert report.transactions == len(store.committed_bodies())
    assert store.table_balances()[(CLINIC.participant, "KZT", "")] == 1_250_000


@pytest.mark.parametrize(("tampering", "found"), [
    ("DELETE FROM spent", "in the spent set"),
    ("INSERT INTO notes (id, owner, amount_minor, currency, issued_at_s, created_by) "
     "VALUES ('f00d', 'mallory', 5, 'KZT', 0, 'none')",
     "no committed transaction created it"),
    ("DELETE FROM notes WHERE amount_minor = 1250000", "not in the table"),
    ("UPDATE notes SET owner = 'mallory' WHERE amount_minor = 1250000",
     "differs from its transaction's output"),
])
def test_the_verifier_finds_each_kind_of_tampering(store: SqlStore, tampering: str,
                                                   found: str) -> None:
    """Each change made behind the notary's back is named by the verifier."""
    notary = notary_for(store)
    note = fund_alice(lambda signed: committed(notary, signed))
    committed(notary, sign(purchase(note, CLINIC, 1_250_000), ALICE, HALYK))
    with store.engine.begin() as db:
        db.execute(text(tampering))
    report = verify(store)
    assert not report.ok
    assert any(found in str(mismatch) for mismatch in report.mismatches), report.mismatches


def _earmark(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node.cli", *arguments], capture_output=True,
                          text=True, timeout=120, check=False, cwd=Path(__file__).parents[2])


def test_ledger_verify_passes_then_reports_a_corrupted_table(store: SqlStore, url: str) -> None:
    """`earmark ledger verify` agrees with a clean ledger (exit 0), then, after a note's amount
    is changed behind the ledger's back, reports the balance and supply mismatches (exit 1)."""
    notary = notary_for(store)
    note = fund_alice(lambda signed: committed(notary, signed))
    committed(notary, sign(purchase(note, CLINIC, 1_250_000), ALICE, HALYK))
    clean = _earmark("ledger", "verify", "--db", url)
    assert clean.returncode == 0, clean.stderr
    assert "the ledger verifies" in clean.stdout and "1_000_000.00 KZT" in clean.stdout
    with store.engine.begin() as db:
        db.execute(text("UPDATE notes SET amount_minor = amount_minor + 1 WHERE owner = :o"),
                   {"o": CLINIC.participant})
    broken = _earmark("ledger", "verify", "--db", url)
    assert broken.returncode == 1
    assert "violation balance: balance of" in broken.stderr
    assert "violation supply: supply of KZT" in broken.stderr


def _endorse(batch: list[SignedTransaction], bank: KeyPair = HALYK) -> Endorsement:
    ids = tuple(s.id for s in batch)
    return Endorsement(bank.participant, ids, bank.sign(endorsing_bytes(ids)))


def test_a_bank_endorsement_co_signs_every_transaction_it_lists(store: SqlStore) -> None:
    """Purchases signed by Alice alone commit when Halyk endorses the batch once; the stored
    transactions point at the stored endorsement, and the ledger still verifies."""
    notary = notary_for(store)
    notes = [fund_alice(lambda signed: committed(notary, signed), nonce=str(n)) for n in (1, 2)]
    batch = [sign(purchase(note, CLINIC, 1_000_000, nonce=f"e{i}"), ALICE)
             for i, note in enumerate(notes)]
    unendorsed = notary.submit_batch(batch)
    assert [o.refusal.code for o in unendorsed if o.refusal] == [ResultCode.NOT_AUTHORISED] * 2
    endorsement = _endorse(batch)
    assert all(o.committed for o in notary.submit_batch(batch, [endorsement]))
    with store.engine.connect() as db:
        linked = db.execute(text("SELECT DISTINCT endorsement FROM transactions "
                                 "WHERE endorsement IS NOT NULL")).scalars().all()
        signer = db.execute(text("SELECT signer FROM endorsements")).scalar()
    assert linked == [endorsement_digest(endorsement.tx_ids)]
    assert signer == HALYK.participant
    assert verify(store).ok


@pytest.mark.parametrize("copies", [1, 8], ids=["verified-inline", "verified-on-the-pool"])
def test_a_forged_or_foreign_endorsement_co_signs_nothing(store: SqlStore, copies: int) -> None:
    """An endorsement whose signature does not verify refuses what it lists as bad_signature
    (whether the notary checks endorsements itself, as for a bank's one, or on its pool, as for
    many); one by a party that is not the customer's bank leaves them not_authorised; nothing
    moves."""
    notary = notary_for(store)
    note = fund_alice(lambda signed: committed(notary, signed))
    batch = [sign(purchase(note, CLINIC, 1_000_000), ALICE)]
    forged = replace(_endorse(batch), signature=bytes(64))
    (outcome,) = notary.submit_batch(batch, [forged] * copies)
    assert outcome.refusal is not None and outcome.refusal.code == ResultCode.BAD_SIGNATURE
    (outcome,) = notary.submit_batch(batch, [_endorse(batch, ALICE)])
    assert outcome.refusal is not None and outcome.refusal.code == ResultCode.NOT_AUTHORISED
    assert not store.notes([note.id])[note.id][1]


def test_few_and_many_ids_read_the_same_notes_and_answers(store: SqlStore) -> None:
    """Up to `IDS_LOOKED_UP_MAX` ids are read one by one, more in one query: both ways give
    the same notes (spent or not) and earlier answers, and leave out ids the ledger never saw."""
    notary = notary_for(store)
    signed_ids: list[TxId] = []

    def submit(signed: SignedTransaction) -> tuple[Note, ...]:
        signed_ids.append(signed.id)
        return committed(notary, signed)

    for nonce in ("a", "b", "c"):
        fund_alice(submit, nonce=nonce)
    unknown_tx = TxId("ab" * 32)
    notes = [note_id(tx, i) for tx in [*signed_ids, unknown_tx] for i in range(2)]
    answers = [*signed_ids, unknown_tx]
    assert len(notes) > IDS_LOOKED_UP_MAX and len(answers) <= IDS_LOOKED_UP_MAX < 2 * len(answers)

    def by_few(read: Callable[[list[T]], Mapping[T, object]], ids: list[T]) -> dict[T, object]:
        found: dict[T, object] = {}
        for start in range(0, len(ids), IDS_LOOKED_UP_MAX):
            found.update(read(ids[start:start + IDS_LOOKED_UP_MAX]))
        return found

    many_notes = store.notes(notes)
    assert dict(many_notes) == by_few(store.notes, notes)
    assert any(spent for _, spent in many_notes.values())
    assert any(not spent for _, spent in many_notes.values())
    assert not any(note.startswith(unknown_tx) for note in many_notes)
    doubled = answers + answers  # more than IDS_LOOKED_UP_MAX ids: the one-query path
    assert store.results(doubled) == store.results(answers)
    assert set(store.results(answers)) == set(signed_ids)


def test_answers_for_more_ids_than_a_statement_takes(store: SqlStore) -> None:
    """`results` for 70,000 ids (PostgreSQL takes at most 65,535 parameters in one statement,
    which made `make soak` fail there) finds the committed ones among them."""
    notary = notary_for(store)
    signed_ids: list[TxId] = []

    def submit(signed: SignedTransaction) -> tuple[Note, ...]:
        signed_ids.append(signed.id)
        return committed(notary, signed)

    fund_alice(submit)
    strangers = [TxId(f"{index:064x}") for index in range(70_000)]
    assert set(store.results([*strangers, *signed_ids])) == set(signed_ids)


def test_the_same_transaction_twice_in_one_batch_commits_once(store: SqlStore) -> None:
    """A retry that lands in the same batch as the original is answered as a replay, not as a
    double spend, and the money moves once."""
    notary = notary_for(store)
    note = fund_alice(lambda signed: committed(notary, signed))
    signed = sign(purchase(note, CLINIC, 1_250_000), ALICE, HALYK)
    first, second = notary.submit_batch([signed, signed])
    assert first.committed and not first.replayed
    assert second.committed and second.replayed
    assert store.table_balances()[(CLINIC.participant, "KZT", "")] == 1_250_000


def test_a_stream_of_batches_sees_each_earlier_batch(store: SqlStore) -> None:
    """Batches handed over as a stream are validated after the previous one is durable: the
    second batch spends the change the first created, and a third that spends the first's input
    again is refused as a double spend, exactly as separate `submit_batch` calls would be."""
    notary = notary_for(store)
    note = fund_alice(lambda signed: committed(notary, signed))
    first = sign(purchase(note, CLINIC, 1_000_000, nonce="s1"), ALICE, HALYK)
    change = Note(note_id(first.id, 1), ALICE.participant, 9_000_000, "KZT", HEALTH, NOW_S,
                  first.id)
    second = sign(purchase(change, CLINIC, 1_000_000, nonce="s2"), ALICE, HALYK)
    again = sign(purchase(note, CLINIC, 2_000_000, nonce="s3"), ALICE, HALYK)
    answers = list(notary.submit_stream([([first], []), ([second], []), ([again], [])]))
    assert [[o.committed for o in batch] for batch in answers] == [[True], [True], [False]]
    refusal = answers[2][0].refusal
    assert refusal is not None and refusal.code == ResultCode.NOTE_ALREADY_SPENT
    assert store.table_balances()[(CLINIC.participant, "KZT", "")] == 2_000_000
    assert verify(store).ok


def _unchecked(store: SqlStore, transactions: list[Transaction], *,
               spending: tuple[Note, ...] = (), moved_minor: int = 0) -> list[Note]:
    """Commit `transactions` in one batch without validating them (each spending the next of
    `spending`, if any, and moving `moved_minor`); the notes they created."""
    accepted = []
    for index, transaction in enumerate(transactions):
        signed = sign(transaction, ALICE)
        spent = spending[index:index + 1]
        accepted.append(Accepted(signed, spent, created_notes(signed.id, transaction, spent),
                                 None, moved_minor, ALICE.participant))
    store.commit(accepted, NOW_S)
    return [note for item in accepted for note in item.created]


def _alices(*kinds: TokenRef | None) -> Transaction:
    """An issue to Alice of one note of INTEGER_MAX of each kind of KZT given."""
    return Transaction("issue", (), tuple(Output(ALICE.participant, INTEGER_MAX, "KZT", token)
                                          for token in kinds), NO_FACTS, NO_FACTS, NOW_S, "max")


def test_totals_past_2_to_the_63_are_exact(store: SqlStore) -> None:
    """Two plain and two HEALTH notes of 2**63 - 1 each: Alice's balances, the verifier's table
    balances, the token's supply, what Alice holds and what is outstanding are summed exactly
    (SQLite's SUM would stop with "integer overflow")."""
    _unchecked(store, [_alices(None, None, HEALTH, HEALTH)])
    twice = 2 * INTEGER_MAX
    assert store.balances_of(ALICE.participant) == [("KZT", None, twice, 2),
                                                    ("KZT", HEALTH, twice, 2)]
    assert store.table_balances() == {(ALICE.participant, "KZT", ""): twice,
                                      (ALICE.participant, "KZT", token_key(HEALTH)): twice}
    assert store.supply(HEALTH) == store.held(HEALTH, ALICE.participant) == twice
    assert store.outstanding("KZT", None) == store.outstanding("KZT", HEALTH) == twice


def test_a_usage_total_stops_at_integer_max(store: SqlStore) -> None:
    """A usage total grows with every payment, not with the supply: HEALTH transfers moving
    2**63 - 1 each, one batch of one and then one of two, leave each of Alice's period totals at
    INTEGER_MAX (SQLite would have stored an inexact float, PostgreSQL refused the commit)."""
    notes = _unchecked(store, [_alices(HEALTH, HEALTH, HEALTH)])
    transfers = [Transaction("transfer", (note.id,), (Output(BOB.participant, INTEGER_MAX, "KZT",
                                                             HEALTH),), NO_FACTS, NO_FACTS,
                             NOW_S, f"t{index}") for index, note in enumerate(notes)]
    _unchecked(store, transfers[:1], spending=tuple(notes[:1]), moved_minor=INTEGER_MAX)
    _unchecked(store, transfers[1:], spending=tuple(notes[1:]), moved_minor=INTEGER_MAX)
    keys = usage_keys(HEALTH, transfers[0], ALICE.participant)
    wallet = [key for field, key in keys.items() if field.startswith("wallet")]
    assert store.usage_totals(wallet) == dict.fromkeys(wallet, INTEGER_MAX)
