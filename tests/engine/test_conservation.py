"""Conservation on every store: supply changes only by issue and redeem, and notes spend once.

Method: a hypothesis state machine issues money to two banks, moves it between them in random
splits, redeems some, and retries spends of notes already spent, all through the real notary on a
real database. After every step the independent verifier must agree with the tables, the supply
must equal what the model issued less what it redeemed, and a retried spend must be refused.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from ledger_world import CENTRAL, CUSTOMERS, HALYK, NOW_S, sign, tx
from postgres import fresh_postgres

from dsl.facts import Party
from engine.encoding import note_id
from engine.errors import ResultCode
from engine.keys import KeyPair
from engine.model import Note, Output
from engine.notary import Notary
from engine.participants import Participant, Registry
from engine.store import SqlStore
from engine.verify import verify

KASPI = KeyPair.from_seed(b"k" * 32)
BANKS = {HALYK.participant: (HALYK, "halyk"), KASPI.participant: (KASPI, "kaspi")}
REGISTRY = Registry.of(Participant(CENTRAL.participant, "central-bank", "central_bank"),
                       [Participant(k.participant, n, "bank") for k, n in BANKS.values()])


class LedgerMachine(RuleBasedStateMachine):
    """Random plain-money operations between two banks and the central bank."""

    database = "sqlite"

    @initialize()
    def open_store(self) -> None:
        """A fresh ledger on the machine's database."""
        if self.database == "sqlite":
            self.directory = tempfile.TemporaryDirectory()
            url = f"sqlite:///{Path(self.directory.name) / 'ledger.db'}"
        else:
            url = fresh_postgres("conservation")
        self.store = SqlStore(url)
        self.notary = Notary(self.store, REGISTRY, clock=lambda: NOW_S, directory=CUSTOMERS)
        self.unspent: list[Note] = []
        self.spent: list[tuple[Note, object]] = []
        self.issued = self.redeemed = self.counter = 0

    def teardown(self) -> None:
        """Close the database."""
        if hasattr(self, "store"):
            self.store.close()

    def _submit(self, transaction: object, *keys: KeyPair) -> tuple[Note, ...]:
        signed = sign(transaction, *keys)  # type: ignore[arg-type]
        outcome = self.notary.submit(signed)
        assert outcome.committed, outcome.refusal
        found = self.store.notes([n.id for n in self._outputs(signed)])
        return tuple(found[n.id][0] for n in self._outputs(signed))

    def _outputs(self, signed: object) -> list[Note]:
        transaction = signed.transaction  # type: ignore[attr-defined]
        tx_id = signed.id  # type: ignore[attr-defined]
        return [Note(note_id(tx_id, i), o.owner, o.amount_minor, o.currency, None, 0, tx_id)
                for i, o in enumerate(transaction.outputs)]

    def _nonce(self) -> str:
        self.counter += 1
        return f"n{self.counter}"

    @rule(amount=st.integers(1, 10**12), to_kaspi=st.booleans())
    def issue(self, amount: int, to_kaspi: bool) -> None:
        """The central bank issues to a bank."""
        key, name = BANKS[(KASPI if to_kaspi else HALYK).participant]
        created = self._submit(tx("issue", [], [Output(key.participant, amount, "KZT")],
                                  sender=Party("central-bank", "central_bank"),
                                  receiver=Party(name, "bank"), nonce=self._nonce()), CENTRAL)
        self.unspent += created
        self.issued += amount

    @precondition(lambda self: self.unspent)
    @rule(pick=st.integers(0, 10**6), percent=st.integers(1, 100))
    def move(self, pick: int, percent: int) -> None:
        """A bank pays part of a note to the other bank and keeps the change."""
        note = self.unspent.pop(pick % len(self.unspent))
        key, name = BANKS[note.owner]
        other = next(k for k in BANKS if k != note.owner)
        paid = max(1, note.amount_minor * percent // 100)
        outputs = [Output(other, paid, "KZT")]
        if note.amount_minor > paid:
            outputs.append(Output(note.owner, note.amount_minor - paid, "KZT"))
        transaction = tx("transfer", [note], outputs, sender=Party(name, "bank"),
                         receiver=Party(BANKS[other][1], "bank"), nonce=self._nonce())
        self.unspent += self._submit(transaction, key)
        self.spent.append((note, transaction))

    @precondition(lambda self: self.unspent)
    @rule(pick=st.integers(0, 10**6), percent=st.integers(1, 100))
    def redeem(self, pick: int, percent: int) -> None:
        """A bank redeems part of a note at the central bank."""
        note = self.unspent.pop(pick % len(self.unspent))
        key, name = BANKS[note.owner]
        destroyed = max(1, note.amount_minor * percent // 100)
        change = note.amount_minor - destroyed
        outputs = [Output(note.owner, change, "KZT")] if change else []
        transaction = tx("redeem", [note], outputs, sender=Party(name, "bank"),
                         receiver=Party("central-bank", "central_bank"), nonce=self._nonce())
        self.unspent += self._submit(transaction, key, CENTRAL)
        self.redeemed += destroyed
        self.spent.append((note, transaction))

    @precondition(lambda self: self.spent)
    @rule(pick=st.integers(0, 10**6))
    def double_spend(self, pick: int) -> None:
        """Spending an already spent note again, as a new transaction, is refused."""
        note, _ = self.spent[pick % len(self.spent)]
        key, name = BANKS[note.owner]
        other = next(k for k in BANKS if k != note.owner)
        again = tx("transfer", [note], [Output(other, note.amount_minor, "KZT")],
                   sender=Party(name, "bank"), receiver=Party(BANKS[other][1], "bank"),
                   nonce=self._nonce())
        outcome = self.notary.submit(sign(again, key))
        assert outcome.refusal is not None
        assert outcome.refusal.code is ResultCode.NOTE_ALREADY_SPENT

    @invariant()
    def supply_is_issued_less_redeemed(self) -> None:
        """The verifier agrees with the tables and the supply is exactly the model's."""
        if not hasattr(self, "store"):
            return
        report = verify(self.store)
        assert report.ok, report.mismatches
        assert report.supply.get("KZT", 0) == self.issued - self.redeemed


class PostgresLedgerMachine(LedgerMachine):
    """The same machine on PostgreSQL."""

    database = "postgresql"


TestConservationSqlite = LedgerMachine.TestCase
TestConservationSqlite.settings = settings(max_examples=12, stateful_step_count=10,
                                           deadline=None)
TestConservationPostgres = PostgresLedgerMachine.TestCase
TestConservationPostgres.settings = settings(max_examples=8, stateful_step_count=10,
                                             deadline=None)
