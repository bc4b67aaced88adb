"""What a bank knows of its payers' notes (`node.known_notes`), and payments that rely on it.

Method: `KnownNotes` is driven directly with a counting reader and a movable clock (and, as a
hypothesis property, against a model ledger through random runs of payments); the
payments run on `bank_network`'s real in-process central bank and bank, where the ministry pays
a customer straight through the ledger, which the bank never sees.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from bank_network import MINISTRY, network
from hypothesis import given, settings
from hypothesis import strategies as st
from test_client_network import MINISTRY_NAME, fund_the_ministry, open_customers

from dsl.facts import Party
from engine.encoding import note_id, transaction_id
from engine.ids import NoteId, ParticipantId, TxId
from engine.model import HashLock, Note, Output, Transaction
from engine.validate import created_notes
from node.client import NodeClient
from node.known_notes import FRESH_S, KnownNotes
from node.ledger_wallet import LedgerWallet
from node.messages import DirectoryQuery, PaymentRequest, PayTo, TokenWire

ALICE, BOB, CAROL = ParticipantId("a" * 64), ParticipantId("b" * 64), ParticipantId("c" * 64)


def _note(name: str, owner: ParticipantId, amount_minor: int) -> Note:
    return Note(NoteId(name), owner, amount_minor, "KHR", None, 0, TxId("0" * 64))


@dataclass
class Central:
    """The central bank's notes by owner, and how often they were read."""

    notes: dict[ParticipantId, list[Note]]
    reads: int = 0
    now_s: float = 0.0
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self, owner: ParticipantId, currency: str) -> list[Note]:
        self.reads += 1
        listed = [note for note in self.notes.get(owner, []) if note.currency == currency]
        await self.gate.wait()
        return listed

    def clock(self) -> float:
        return self.now_s


def _known(central: Central) -> KnownNotes:
    central.gate.set()
    return KnownNotes(central.read, central.clock)


def _spending(notes: list[Note], to: ParticipantId, amount_minor: int,
              lock: HashLock | None = None) -> Transaction:
    """A payment of `amount_minor` to `to` from `notes`, with its change to their owner."""
    change = sum(note.amount_minor for note in notes) - amount_minor
    outputs = [Output(to, amount_minor, "KHR", None, lock)]
    if change:
        outputs.append(Output(notes[0].owner, change, "KHR"))
    return Transaction("transfer", tuple(n.id for n in notes), tuple(outputs),
                       Party("payer", "individual"), Party("payee", "individual"), 1, "n")


def test_a_list_is_read_once_while_fresh_then_again() -> None:
    """Within `FRESH_S` the bank answers from what it knows; after, it reads again."""
    async def scenario() -> None:
        central = Central({ALICE: [_note("n1", ALICE, 500)]})
        known = _known(central)
        first, read = await known.notes(ALICE, "KHR")
        again, read_again = await known.notes(ALICE, "KHR")
        assert (first, read, again, read_again) == (again, True, first, False)
        assert central.reads == 1
        central.now_s += FRESH_S
        assert (await known.notes(ALICE, "KHR"))[1] is True
        assert (await known.notes(ALICE, "KHR", fresh=True))[1] is True
        assert central.reads == 3
    asyncio.run(scenario())


def test_a_committed_payment_updates_the_known_owners_only() -> None:
    """The payer's spent note goes and its change comes; the payee's new note is added because
    the payee is known; an owner the bank never read gets nothing kept; a locked output is
    left out (it is settled, not spent)."""
    async def scenario() -> None:
        spent = _note("n1", ALICE, 500)
        central = Central({ALICE: [spent, _note("n2", ALICE, 70)], BOB: [_note("n3", BOB, 5)]})
        known = _known(central)
        await known.notes(ALICE, "KHR")
        await known.notes(BOB, "KHR")
        payment = _spending([spent], BOB, 200)
        tx_id = transaction_id(payment)
        known.committed(tx_id, payment, [spent])
        alice, _ = await known.notes(ALICE, "KHR")
        bob, _ = await known.notes(BOB, "KHR")
        assert sorted((n.id, n.amount_minor) for n in alice) == sorted(
            [(NoteId("n2"), 70), (note_id(tx_id, 1), 300)])
        assert sorted((n.id, n.amount_minor) for n in bob) == sorted(
            [(NoteId("n3"), 5), (note_id(tx_id, 0), 200)])
        locked = _spending([_note("n2", ALICE, 70)], CAROL, 70,
                           HashLock("d" * 64, ALICE, 10))
        known.committed(transaction_id(locked), locked, [_note("n2", ALICE, 70)])
        assert central.reads == 2
        assert [n.amount_minor for n in (await known.notes(ALICE, "KHR"))[0]] == [300]
        assert (await known.notes(CAROL, "KHR"))[1] is True  # never known: read
    asyncio.run(scenario())


def test_a_read_overtaken_by_a_payment_is_not_kept() -> None:
    """A read in flight while the owner's notes change answers its caller but is not kept, so
    a note spent meanwhile is not offered again; `forget` makes the next call read."""
    async def scenario() -> None:
        spent = _note("n1", ALICE, 500)
        central = Central({ALICE: [spent]})
        known = KnownNotes(central.read, central.clock)
        reading = asyncio.create_task(known.notes(ALICE, "KHR"))
        await asyncio.sleep(0)
        payment = _spending([spent], BOB, 500)
        known.committed(transaction_id(payment), payment, [spent])
        central.gate.set()
        assert [n.id for n in (await reading)[0]] == [NoteId("n1")]
        assert (await known.notes(ALICE, "KHR"))[1] is True  # nothing was kept
        known.forget(ALICE)
        assert (await known.notes(ALICE, "KHR"))[1] is True
        assert central.reads == 3
    asyncio.run(scenario())


def test_money_arriving_behind_the_banks_back_is_spendable_at_once(tmp_path: Path) -> None:
    """alice pays the clinic (the bank now knows her notes); the ministry then pays her
    straight through the ledger, which the bank does not see; a payment that needs that money
    is prepared from a fresh read instead of being refused, and her balance adds up."""
    async def scenario() -> None:
        async with network(tmp_path) as net:
            health = await fund_the_ministry(net)
            wallets = await open_customers(net)
            token = TokenWire(contract=health.contract, token="HEALTH")
            async with NodeClient(net.central_url, MINISTRY) as client:
                ministry = LedgerWallet(client, MINISTRY_NAME)
                await ministry.label(health, 80_000, "KZT")
                await ministry.distribute(DirectoryQuery(account="alice@aba"), health,
                                          10_000, "KZT")
                async with NodeClient(net.bank_url, wallets["alice"]) as alice:
                    first = await alice.pay(_to_the_clinic(3_000, token))
                    arrived = await ministry.distribute(DirectoryQuery(account="alice@aba"),
                                                        health, 20_000, "KZT")
                    second = await alice.pay(_to_the_clinic(15_000, token))
                    held = await alice.customer_balances("alice@aba")
            assert (first.status, arrived.status, second.status) == (
                "committed", "committed", "committed")
            assert [(b.amount_minor, b.token) for b in held.balances] == [(12_000, token)]
    asyncio.run(scenario())


def _to_the_clinic(amount_minor: int, token: TokenWire) -> PaymentRequest:
    return PaymentRequest(to=PayTo(account="clinic@aba"), currency="KZT",
                          amount_minor=amount_minor, token=token)


OWNERS = (ALICE, BOB, CAROL)  # the bank serves ALICE and BOB; CAROL banks elsewhere


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(OWNERS), st.sampled_from(OWNERS),
                          st.integers(min_value=1, max_value=900)), max_size=25))
def test_known_notes_never_offer_a_spent_note(payments: list[tuple[ParticipantId,
                                                                   ParticipantId, int]]) -> None:
    """Property: after any run of payments, the notes the bank knows for its customers are
    among their unspent notes in the ledger, and are all of them when no money arrived from
    a payment the bank did not forward (CAROL's)."""
    async def scenario() -> None:
        ledger = {owner: [_note(f"{owner[0]}0", owner, 1_000)] for owner in OWNERS}
        central = Central({owner: list(notes) for owner, notes in ledger.items()})
        known = _known(central)
        for owner in (ALICE, BOB):
            await known.notes(owner, "KHR")
        unseen = False
        for payer, payee, amount_minor in payments:
            spent = sorted(ledger[payer], key=lambda n: n.amount_minor, reverse=True)[:1]
            if not spent or spent[0].amount_minor < amount_minor or payer == payee:
                continue
            payment = _spending(spent, payee, amount_minor)
            tx_id = transaction_id(payment)
            ledger[payer] = [n for n in ledger[payer] if n not in spent]
            for note in created_notes(tx_id, payment, spent):
                ledger[note.owner].append(note)
            if payer == CAROL:
                unseen = unseen or payee != CAROL
            else:
                known.committed(tx_id, payment, spent)
        for owner in (ALICE, BOB):
            kept = {note.id for note in (await known.notes(owner, "KHR"))[0]}
            held = {note.id for note in ledger[owner]}
            assert kept <= held
            if not unseen:
                assert kept == held
        assert central.reads == 2  # all answered from what the bank knew
    asyncio.run(scenario())
