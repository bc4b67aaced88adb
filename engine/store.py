"""The durable store: SQLite (the embedded default) or PostgreSQL, behind one class.

Both speak SQLAlchemy Core on the SQLModel tables of `engine.tables`; what differs by dialect is
set up in `_connect` (SQLite: WAL and `synchronous=FULL`, so nothing acknowledged is lost) and the
upsert used for usage totals. `commit` writes a whole batch in one database transaction: many
ledger transactions per database commit, each acknowledged only once that commit is durable.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

from dsl.evaluate import CompiledPolicy
from dsl.facts import PERIODS, SPENDING_OPERATIONS, Usage
from dsl.phases import CompiledContract
from engine.encoding import transaction_bytes
from engine.errors import EngineError
from engine.ids import ContractHash, NoteId, ParticipantId, TxId
from engine.migrate import upgrade
from engine.model import Note, TokenRef, Transaction
from engine.tables import ContractRow, JournalRow, NoteRow, SpentRow, TransactionRow, UsageRow
from engine.validate import Accepted

COMMITTED = "committed"
_NOTES = NoteRow.__table__  # type: ignore[attr-defined]
_SPENT = SpentRow.__table__  # type: ignore[attr-defined]
_TRANSACTIONS = TransactionRow.__table__  # type: ignore[attr-defined]
_JOURNAL = JournalRow.__table__  # type: ignore[attr-defined]
_USAGE = UsageRow.__table__  # type: ignore[attr-defined]
_CONTRACTS = ContractRow.__table__  # type: ignore[attr-defined]


class ContractRefused(EngineError):
    """A contract that does not compile or whose examples fail cannot be deployed."""

    def __init__(self, contract: CompiledContract) -> None:
        errors = [d for d in contract.diagnostics if d.is_error]
        super().__init__(f"{contract.path}: {len(errors)} error(s); first: {errors[0].message}")
        self.contract = contract


@dataclass(frozen=True, slots=True)
class StoredResult:
    """What the notary answered for a transaction id: committed, or refused with a code."""

    code: str
    reason: str

    @property
    def committed(self) -> bool:
        """Whether the transaction is in the ledger."""
        return self.code == COMMITTED


def token_key(token: TokenRef | None) -> str:
    """How a token is written in the journal and usage tables; plain money is ""."""
    return f"{token.contract}/{token.token}" if token else ""


def period_label(period: str, at_s: int) -> str:
    """`day:2026-01-01`, `week:2026-W01`, `month:2026-01` for the period containing `at_s`."""
    moment = datetime.fromtimestamp(at_s, UTC)
    if period == "day":
        return f"day:{moment:%Y-%m-%d}"
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"week:{year}-W{week:02d}"
    return f"month:{moment:%Y-%m}"


class SqlStore:
    """The ledger's tables in one database, migrated to the newest schema on open."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _connect(url)
        upgrade(self.engine)
        self._policies: dict[TokenRef, CompiledPolicy | None] = {}
        self._upsert = postgresql.insert if self.engine.dialect.name == "postgresql" else (
            sqlite.insert)

    def close(self) -> None:
        """Release every connection."""
        self.engine.dispose()

    # ---- contracts -------------------------------------------------------------------------

    def deploy(self, source: str, path: str = "<contract>") -> ContractHash:
        """Store a contract whose checks and examples pass; returns its hash (idempotent)."""
        contract = CompiledContract(source, path)
        if not contract.ok or contract.checked is None:
            raise ContractRefused(contract)
        digest = ContractHash(hashlib.sha256(source.encode("utf-8")).hexdigest())
        with self.engine.begin() as db:
            if db.execute(select(_CONTRACTS.c.hash).where(_CONTRACTS.c.hash == digest)).first():
                return digest
            db.execute(insert(_CONTRACTS).values(hash=digest, name=contract.checked.name,
                                                 version=contract.checked.version, source=source))
        return digest

    def policy(self, token: TokenRef) -> CompiledPolicy | None:
        """The compiled policy of a deployed token (compiled once per process)."""
        if token not in self._policies:
            with self.engine.connect() as db:
                source = db.execute(select(_CONTRACTS.c.source).where(
                    _CONTRACTS.c.hash == token.contract)).scalar()
            compiled = CompiledContract(source) if source is not None else None
            policies = compiled.policies if compiled is not None else {}
            self._policies[token] = policies.get(token.token)
        return self._policies[token]

    # ---- reads for validation --------------------------------------------------------------

    def notes(self, ids: Sequence[NoteId]) -> Mapping[NoteId, tuple[Note, bool]]:
        """The notes among `ids` with whether each is spent."""
        if not ids:
            return {}
        query = select(_NOTES, _SPENT.c.tx_id).select_from(
            _NOTES.outerjoin(_SPENT, _SPENT.c.note_id == _NOTES.c.id)).where(
            _NOTES.c.id.in_(list(ids)))
        with self.engine.connect() as db:
            rows = db.execute(query).mappings().all()
        return {NoteId(row["id"]): (_note(row), row["tx_id"] is not None) for row in rows}

    def unspent(self, owner: ParticipantId, currency: str, token: TokenRef | None) -> list[Note]:
        """The owner's unspent notes of one kind of money, largest first."""
        kind = [_NOTES.c.token_contract.is_(None)] if token is None else [
            _NOTES.c.token_contract == token.contract, _NOTES.c.token_name == token.token]
        query = select(_NOTES).select_from(
            _NOTES.outerjoin(_SPENT, _SPENT.c.note_id == _NOTES.c.id)).where(
            _NOTES.c.owner == owner, _NOTES.c.currency == currency, _SPENT.c.tx_id.is_(None),
            *kind)
        with self.engine.connect() as db:
            rows = db.execute(query.order_by(_NOTES.c.amount_minor.desc())).mappings().all()
        return [_note(row) for row in rows]

    def usage(self, token: TokenRef, transaction: Transaction, owner: ParticipantId) -> Usage:
        """The sender's and merchant's totals in the transaction's periods, and holdings."""
        key = token_key(token)
        labels = {period_label(p, transaction.created_at_s): p for p in PERIODS}
        query = select(_USAGE.c.scope, _USAGE.c.party, _USAGE.c.period,
                       _USAGE.c.amount_minor).where(
            _USAGE.c.token == key, _USAGE.c.period.in_(list(labels)),
            _USAGE.c.party.in_([owner, transaction.receiver.id]))
        totals: dict[str, int] = {}
        receiver = next((o.owner for o in transaction.outputs if o.owner != owner), None)
        with self.engine.connect() as db:
            for scope, party, label, amount in db.execute(query):
                wanted = owner if scope == "wallet" else transaction.receiver.id
                if party == wanted:
                    totals[f"{scope}_{labels[label]}"] = amount
            if receiver is not None:
                totals["receiver_held"] = _held(db, key, receiver)
        return Usage(**totals)

    def results(self, ids: Iterable[TxId]) -> dict[TxId, StoredResult]:
        """What was answered before for any of these transaction ids."""
        wanted = list(ids)
        if not wanted:
            return {}
        query = select(_TRANSACTIONS.c.id, _TRANSACTIONS.c.code, _TRANSACTIONS.c.reason).where(
            _TRANSACTIONS.c.id.in_(wanted))
        with self.engine.connect() as db:
            return {TxId(i): StoredResult(c, r) for i, c, r in db.execute(query)}

    # ---- the one write ---------------------------------------------------------------------

    def commit(self, accepted: Sequence[Accepted], now_s: int) -> None:
        """Write a batch of accepted transactions atomically. A note already in the spent set
        (another process won the race) fails the whole batch with
        `sqlalchemy.exc.IntegrityError`, so the notary can retry it one by one.

        Refusals are not stored: one changes nothing, and storing it under the transaction id
        would let a copy with a bad signature pin the good transaction's id as refused."""
        if accepted:
            with self.engine.begin() as db:
                _write_accepted(db, accepted, now_s, self._upsert)

    # ---- for the verifier ------------------------------------------------------------------

    def table_balances(self) -> dict[tuple[str, str, str], int]:
        """Unspent totals by (owner, currency, token) from the notes and spent tables."""
        query = select(_NOTES.c.owner, _NOTES.c.currency, _NOTES.c.token_contract,
                       _NOTES.c.token_name, func.sum(_NOTES.c.amount_minor)).select_from(
            _NOTES.outerjoin(_SPENT, _SPENT.c.note_id == _NOTES.c.id)).where(
            _SPENT.c.tx_id.is_(None)).group_by(_NOTES.c.owner, _NOTES.c.currency,
                                               _NOTES.c.token_contract, _NOTES.c.token_name)
        balances = {}
        with self.engine.connect() as db:
            for owner, currency, contract, name, total in db.execute(query):
                token = f"{contract}/{name}" if contract else ""
                balances[(owner, currency, token)] = int(total)
        return balances

    def journal_balances(self) -> dict[tuple[str, str, str], int]:
        """The same totals rebuilt from the append-only journal alone."""
        query = select(_JOURNAL.c.owner, _JOURNAL.c.currency, _JOURNAL.c.token,
                       func.sum(_JOURNAL.c.delta_minor)).group_by(
            _JOURNAL.c.owner, _JOURNAL.c.currency, _JOURNAL.c.token)
        with self.engine.connect() as db:
            return {(o, c, t): int(total) for o, c, t, total in db.execute(query) if total}


def _write_accepted(db: Connection, accepted: Sequence[Accepted], now_s: int,
                    upsert: Any) -> None:
    # An empty parameter list would execute one INSERT of defaults: skip empty tables.
    spent = [{"note_id": n.id, "tx_id": a.signed.id} for a in accepted for n in a.spent]
    if spent:
        db.execute(insert(_SPENT), spent)
    created = [n for a in accepted for n in a.created]
    if created:
        db.execute(insert(_NOTES), [_note_row(n) for n in created])
    journal = [_journal_row(a.signed.id, n, -n.amount_minor) for a in accepted for n in a.spent]
    journal += [_journal_row(a.signed.id, n, n.amount_minor) for a in accepted for n in a.created]
    if journal:
        db.execute(insert(_JOURNAL), journal)
    db.execute(insert(_TRANSACTIONS), [
        {"id": a.signed.id, "body": transaction_bytes(a.signed.transaction), "code": COMMITTED,
         "reason": "", "committed_at_s": now_s} for a in accepted])
    usage = usage_deltas(accepted)
    if usage:
        statement = upsert(_USAGE)
        db.execute(statement.on_conflict_do_update(
            index_elements=["token", "scope", "party", "period"],
            set_={"amount_minor": _USAGE.c.amount_minor + statement.excluded.amount_minor}),
            [{"token": t, "scope": s, "party": p, "period": q, "amount_minor": v}
             for (t, s, p, q), v in usage.items()])


def usage_deltas(accepted: Sequence[Accepted]) -> dict[tuple[str, str, str, str], int]:
    """What accepted transactions add to usage totals: (token, scope, party, period) → minor."""
    deltas: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for item in accepted:
        transaction = item.signed.transaction
        token = item.spent[0].token if item.spent else None
        if token is None or transaction.operation not in SPENDING_OPERATIONS:
            continue
        for period in PERIODS:
            label = period_label(period, transaction.created_at_s)
            deltas[(token_key(token), "wallet", item.spent[0].owner, label)] += item.moved_minor
            if transaction.operation == "purchase":
                deltas[(token_key(token), "merchant", transaction.receiver.id, label)] += (
                    item.moved_minor)
    return dict(deltas)


def _held(db: Connection, token: str, owner: ParticipantId) -> int:
    contract, _, name = token.partition("/")
    query = select(func.coalesce(func.sum(_NOTES.c.amount_minor), 0)).select_from(
        _NOTES.outerjoin(_SPENT, _SPENT.c.note_id == _NOTES.c.id)).where(
        _NOTES.c.owner == owner, _NOTES.c.token_contract == contract,
        _NOTES.c.token_name == name, _SPENT.c.tx_id.is_(None))
    return int(db.execute(query).scalar() or 0)


def _note(row: Mapping[Any, Any]) -> Note:
    token = None
    if row["token_contract"]:
        token = TokenRef(ContractHash(row["token_contract"]), row["token_name"])
    return Note(NoteId(row["id"]), ParticipantId(row["owner"]), row["amount_minor"],
                row["currency"], token, row["issued_at_s"], TxId(row["created_by"]))


def _note_row(note: Note) -> dict[str, Any]:
    return {"id": note.id, "owner": note.owner, "amount_minor": note.amount_minor,
            "currency": note.currency,
            "token_contract": note.token.contract if note.token else None,
            "token_name": note.token.token if note.token else None,
            "issued_at_s": note.issued_at_s, "created_by": note.created_by}


def _journal_row(tx_id: TxId, note: Note, delta: int) -> dict[str, Any]:
    return {"tx_id": tx_id, "note_id": note.id, "owner": note.owner, "currency": note.currency,
            "token": token_key(note.token), "delta_minor": delta}


def _connect(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _durable(connection: Any, record: ConnectionPoolEntry) -> None:
        # WAL lets readers run beside the writer; FULL syncs the WAL on every commit, so an
        # acknowledged transaction survives a crash or power loss.
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine
