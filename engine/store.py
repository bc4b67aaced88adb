"""The durable store: SQLite (the embedded default) or PostgreSQL, behind one class.

Both speak SQLAlchemy Core on the SQLModel tables of `engine.tables`; what differs by dialect is
set up in `connect` (SQLite: WAL and `synchronous=FULL`, so nothing acknowledged is lost) and the
upsert used for usage totals. `commit` writes a whole batch in one database transaction: many
ledger transactions per database commit, each acknowledged only once that commit is durable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Engine,
    bindparam,
    case,
    create_engine,
    event,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import Select

from dsl.evaluate import CompiledPolicy
from dsl.facts import Usage
from dsl.phases import CompiledContract
from engine.encoding import INTEGER_MAX, endorsement_digest, transaction_bytes
from engine.errors import EngineError
from engine.ids import ContractHash, NoteId, ParticipantId, TxId
from engine.lookup import Lookup
from engine.migrate import upgrade
from engine.model import Endorsement, HashLock, Note, TokenRef, Transaction
from engine.tables import (
    ContractRow,
    EndorsementRow,
    NoteRow,
    SpentRow,
    TransactionRow,
    UsageRow,
)
from engine.usage import UsageKey, receiving_owner, usage_deltas, usage_keys, usage_of
from engine.validate import Accepted

COMMITTED = "committed"
IDS_PER_QUERY_MAX: Final = 8_000  # well below SQLite's 32,766 bound variables per statement
# Up to this many ids are read one `Lookup` each: a batch of a few transactions is the common
# case, and building an IN query for it cost far more than reading its rows by key.
IDS_LOOKED_UP_MAX: Final = 16
_NOTES = NoteRow.__table__  # type: ignore[attr-defined]
_SPENT = SpentRow.__table__  # type: ignore[attr-defined]
_TRANSACTIONS = TransactionRow.__table__  # type: ignore[attr-defined]
_USAGE = UsageRow.__table__  # type: ignore[attr-defined]
_CONTRACTS = ContractRow.__table__  # type: ignore[attr-defined]
_ENDORSEMENTS = EndorsementRow.__table__  # type: ignore[attr-defined]
# SQLite's SUM stops with "integer overflow" past 2**63 - 1, which the notes of one owner or
# token pass on a ledger the verifier is to judge (or one from before the supply cap). Each
# amount's high and low 32 bits are summed apart instead: both partial sums stay within 64 bits
# for up to SPLIT_SUM_ROWS_MAX rows, and Python joins them exactly. PostgreSQL sums a bigint as
# a numeric, so there the bound does not apply.
_LOW_BITS: Final = 32
SPLIT_SUM_ROWS_MAX: Final = 2**31  # rows one SQLite total adds without overflow
_NOTES_WITH_SPENDER = select(_NOTES, _SPENT.c.tx_id).select_from(
    _NOTES.outerjoin(_SPENT, _SPENT.c.note_id == _NOTES.c.id))
# A participant reads a note by id on every payment it settles, and the notary the notes and
# earlier answers of every small batch: each a `Lookup`.
_NOTE_BY_ID = _NOTES_WITH_SPENDER.where(_NOTES.c.id == bindparam("note_id"))
_RESULT_BY_ID = select(_TRANSACTIONS.c.id, _TRANSACTIONS.c.code, _TRANSACTIONS.c.reason).where(
    _TRANSACTIONS.c.id == bindparam("tx_id"))


def _notes_of(of_currency: bool, include_spent: bool) -> Select[Any]:
    """A page of an owner's notes (`owner`, `after`, `limit`), of one `currency` or all, spent
    ones included or not."""
    query = _NOTES_WITH_SPENDER.where(_NOTES.c.owner == bindparam("owner"),
                                      _NOTES.c.id > bindparam("after"))
    if of_currency:
        query = query.where(_NOTES.c.currency == bindparam("currency"))
    if not include_spent:
        query = query.where(_SPENT.c.tx_id.is_(None))
    return query.order_by(_NOTES.c.id).limit(bindparam("limit"))


_NOTES_OF = {(of_currency, spent): _notes_of(of_currency, spent)
             for of_currency in (False, True) for spent in (False, True)}


def split_sum(amounts: ColumnElement[int]) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """SUM(`amounts`) as two columns, the sums of their high and of their low 32 bits, which
    `joined_sum` adds exactly: no overflow past 2**63 - 1 on SQLite (0 when there are no rows)."""
    return (func.coalesce(func.sum(amounts.op(">>")(literal_column(str(_LOW_BITS)))), 0),
            func.coalesce(func.sum(amounts.op("&")(literal_column(str(2**_LOW_BITS - 1)))), 0))


def _of_kind(token: TokenRef | None) -> ColumnElement[bool]:
    """Notes of `token`, or of plain money when None."""
    contract, name = _NOTES.c.token_contract, _NOTES.c.token_name
    kind: ColumnElement[bool] = (contract.is_(None) if token is None else
                                 (contract == token.contract) & (name == token.token))
    return kind


def joined_sum(high: int | Decimal, low: int | Decimal) -> int:
    """The exact total of the two partial sums that `split_sum` selects."""
    return (int(high) << _LOW_BITS) + int(low)


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


class SqlStore:
    """The ledger's tables in one database, migrated to the newest schema on open."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = connect(url)
        upgrade(self.engine)
        self._policies: dict[TokenRef, CompiledPolicy | None] = {}
        self._writes = _Writes.of(postgresql.insert if self.engine.dialect.name == "postgresql"
                                  else sqlite.insert)
        self._note_by_id = Lookup(self.engine, _NOTE_BY_ID)
        self._result_by_id = Lookup(self.engine, _RESULT_BY_ID)

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
        found: dict[NoteId, tuple[Note, bool]] = {}
        wanted = list(ids)
        if len(wanted) <= IDS_LOOKED_UP_MAX:
            for note_id in wanted:
                looked = self._note_by_id.first(note_id=note_id)
                if looked is not None:
                    found[note_id] = (_note(looked), looked["tx_id"] is not None)
            return found
        with self.engine.connect() as db:
            for start in range(0, len(wanted), IDS_PER_QUERY_MAX):
                query = select(_NOTES, _SPENT.c.tx_id).select_from(
                    _NOTES.outerjoin(_SPENT, _SPENT.c.note_id == _NOTES.c.id)).where(
                    _NOTES.c.id.in_(wanted[start:start + IDS_PER_QUERY_MAX]))
                for row in db.execute(query).mappings():
                    found[NoteId(row["id"])] = (_note(row), row["tx_id"] is not None)
        return found

    def unspent(self, owner: ParticipantId, currency: str, token: TokenRef | None) -> list[Note]:
        """The owner's unspent, unlocked notes of one kind of money, largest first (a locked
        note is spent only by claiming or refunding it, never as ordinary money)."""
        kind = [_NOTES.c.token_contract.is_(None)] if token is None else [
            _NOTES.c.token_contract == token.contract, _NOTES.c.token_name == token.token]
        query = select(_NOTES).select_from(
            _NOTES.outerjoin(_SPENT, _SPENT.c.note_id == _NOTES.c.id)).where(
            _NOTES.c.owner == owner, _NOTES.c.currency == currency, _SPENT.c.tx_id.is_(None),
            _NOTES.c.lock_digest.is_(None), *kind)
        with self.engine.connect() as db:
            rows = db.execute(query.order_by(_NOTES.c.amount_minor.desc())).mappings().all()
        return [_note(row) for row in rows]

    def usage(self, token: TokenRef, transaction: Transaction, owner: ParticipantId) -> Usage:
        """The sender's and merchant's totals in the transaction's periods, and holdings."""
        keys = usage_keys(token, transaction, owner)
        receiver = receiving_owner(transaction, owner)
        held = self.held(token, receiver) if receiver is not None else 0
        return usage_of(keys, self.usage_totals(keys.values()), held)

    def usage_totals(self, keys: Collection[UsageKey]) -> dict[UsageKey, int]:
        """The stored totals under `keys` (absent ones are zero), read in one query."""
        wanted = set(keys)
        if not wanted:
            return {}
        query = select(_USAGE.c.token, _USAGE.c.scope, _USAGE.c.party, _USAGE.c.period,
                       _USAGE.c.amount_minor).where(
            _USAGE.c.token.in_({k[0] for k in wanted}),
            _USAGE.c.party.in_({k[2] for k in wanted}),
            _USAGE.c.period.in_({k[3] for k in wanted}))
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        totals = {}
        for token, scope, party, period, amount in rows:
            if (key := (token, scope, party, period)) in wanted:
                totals[key] = int(amount)
        return totals

    def held(self, token: TokenRef, owner: ParticipantId) -> int:
        """What `owner` holds of `token` now, unspent."""
        return self._unspent_sum((_NOTES.c.owner == owner) & _of_kind(token))

    def supply(self, token: TokenRef) -> int:
        """What is outstanding of `token`: every unspent note of it, summed."""
        return self._unspent_sum(_of_kind(token))

    def outstanding(self, currency: str, token: TokenRef | None = None) -> int:
        """What is outstanding of plain money (`token` None) or of a token, in `currency`: its
        unspent notes, summed."""
        return self._unspent_sum((_NOTES.c.currency == currency) & _of_kind(token))

    def outstanding_in(self, currency: str) -> int:
        """What is outstanding in `currency`: every unspent note of it, plain or of any token
        (an issue reads it to keep within the supply cap)."""
        return self._unspent_sum(_NOTES.c.currency == currency)

    def _unspent_sum(self, condition: ColumnElement[bool]) -> int:
        """The unspent notes matching `condition`, summed without overflow (`split_sum`)."""
        query = select(*split_sum(_NOTES.c.amount_minor)).select_from(
            _NOTES.outerjoin(_SPENT, _SPENT.c.note_id == _NOTES.c.id)).where(
            condition, _SPENT.c.tx_id.is_(None))
        with self.engine.connect() as db:
            return joined_sum(*db.execute(query).one())

    def results(self, ids: Iterable[TxId]) -> dict[TxId, StoredResult]:
        """What was answered before for any of these transaction ids."""
        wanted = list(ids)
        if len(wanted) <= IDS_LOOKED_UP_MAX:
            return {TxId(i): StoredResult(c, r) for tx_id in wanted
                    for i, c, r in self._result_by_id.rows(tx_id=tx_id)}
        found: dict[TxId, StoredResult] = {}
        with self.engine.connect() as db:
            # In chunks: PostgreSQL takes at most 65,535 parameters in one statement.
            for start in range(0, len(wanted), IDS_PER_QUERY_MAX):
                query = select(_TRANSACTIONS.c.id, _TRANSACTIONS.c.code,
                               _TRANSACTIONS.c.reason).where(
                    _TRANSACTIONS.c.id.in_(wanted[start:start + IDS_PER_QUERY_MAX]))
                found.update((TxId(i), StoredResult(c, r)) for i, c, r in db.execute(query))
        return found

    # ---- reads for the services ------------------------------------------------------------

    def notes_of(self, owner: ParticipantId, *, currency: str | None = None,
                 include_spent: bool = False, after: str = "",
                 limit: int = 100) -> list[tuple[Note, TxId | None]]:
        """A page of an owner's notes by note id, each with the transaction that spent it."""
        query = _NOTES_OF[(currency is not None, include_spent)]
        parameters = {"owner": owner, "after": after, "currency": currency, "limit": limit}
        with self.engine.connect() as db:
            rows = db.execute(query, parameters).mappings().all()
        return [_note_and_spender(row) for row in rows]

    def note(self, note_id: NoteId) -> tuple[Note, TxId | None] | None:
        """One note with the transaction that spent it (None while unspent); None if unknown."""
        row = self._note_by_id.first(note_id=note_id)
        return _note_and_spender(row) if row is not None else None

    def balances_of(self, owner: ParticipantId) -> list[tuple[str, TokenRef | None, int, int]]:
        """An owner's unspent (currency, token, total, number of notes), plain money first."""
        query = select(_NOTES.c.currency, _NOTES.c.token_contract, _NOTES.c.token_name,
                       func.count(), *split_sum(_NOTES.c.amount_minor)).select_from(
            _NOTES.outerjoin(_SPENT, _SPENT.c.note_id == _NOTES.c.id)).where(
            _NOTES.c.owner == owner, _SPENT.c.tx_id.is_(None)).group_by(
            _NOTES.c.currency, _NOTES.c.token_contract, _NOTES.c.token_name)
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        found = [(currency, TokenRef(ContractHash(contract), name) if contract else None,
                  joined_sum(high, low), int(count))
                 for currency, contract, name, count, high, low in rows]
        return sorted(found, key=lambda b: (b[0], b[1] is not None,
                                            (b[1].contract, b[1].token) if b[1] else ("", "")))

    def contracts(self, after: str = "", limit: int = 100) -> list[tuple[ContractHash, str]]:
        """A page of deployed contracts by hash: each hash and source."""
        query = select(_CONTRACTS.c.hash, _CONTRACTS.c.source).where(
            _CONTRACTS.c.hash > after).order_by(_CONTRACTS.c.hash).limit(limit)
        with self.engine.connect() as db:
            return [(ContractHash(h), source) for h, source in db.execute(query)]

    def contract_source(self, digest: ContractHash) -> str | None:
        """The source of a deployed contract, if deployed."""
        with self.engine.connect() as db:
            source = db.execute(select(_CONTRACTS.c.source).where(
                _CONTRACTS.c.hash == digest)).scalar()
        return str(source) if source is not None else None

    def journal_entry(self, tx_id: TxId) -> tuple[bytes, ParticipantId | None] | None:
        """A committed transaction's canonical body and the bank whose endorsement co-signed
        it, if one did; None if it is not in the journal."""
        query = select(_TRANSACTIONS.c.body, _ENDORSEMENTS.c.signer).select_from(
            _TRANSACTIONS.outerjoin(_ENDORSEMENTS,
                                    _ENDORSEMENTS.c.digest == _TRANSACTIONS.c.endorsement)
        ).where(_TRANSACTIONS.c.id == tx_id, _TRANSACTIONS.c.code == COMMITTED)
        with self.engine.connect() as db:
            row = db.execute(query).first()
        if row is None:
            return None
        return bytes(row[0]), ParticipantId(row[1]) if row[1] else None

    # ---- the one write ---------------------------------------------------------------------

    def commit(self, accepted: Sequence[Accepted], now_s: int,
               endorsements: Sequence[Endorsement] = ()) -> None:
        """Write a batch of accepted transactions atomically, with the verified endorsements that
        co-signed any of them. A note already in the spent set (another process won the race)
        fails the whole batch with `sqlalchemy.exc.IntegrityError`, so the notary can retry it
        one by one.

        Refusals are not stored: one changes nothing, and storing it under the transaction id
        would let a copy with a bad signature pin the good transaction's id as refused."""
        if accepted:
            with self.engine.begin() as db:
                _write_accepted(db, accepted, now_s, endorsements, self._writes)

    # ---- for the verifier ------------------------------------------------------------------

    def table_balances(self) -> dict[tuple[str, str, str], int]:
        """Unspent totals by (owner, currency, token) from the notes and spent tables."""
        query = select(_NOTES.c.owner, _NOTES.c.currency, _NOTES.c.token_contract,
                       _NOTES.c.token_name, *split_sum(_NOTES.c.amount_minor)).select_from(
            _NOTES.outerjoin(_SPENT, _SPENT.c.note_id == _NOTES.c.id)).where(
            _SPENT.c.tx_id.is_(None)).group_by(_NOTES.c.owner, _NOTES.c.currency,
                                               _NOTES.c.token_contract, _NOTES.c.token_name)
        balances = {}
        with self.engine.connect() as db:
            for owner, currency, contract, name, high, low in db.execute(query):
                token = f"{contract}/{name}" if contract else ""
                balances[(owner, currency, token)] = joined_sum(high, low)
        return balances

    def committed_bodies(self) -> Iterable[tuple[TxId, bytes]]:
        """Every committed transaction's id and canonical body: the journal, for replay."""
        query = select(_TRANSACTIONS.c.id, _TRANSACTIONS.c.body).where(
            _TRANSACTIONS.c.code == COMMITTED)
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return [(TxId(tx_id), bytes(body)) for tx_id, body in rows]

    def spent_set(self) -> dict[NoteId, TxId]:
        """The notary's spent set: every spent note and the transaction that spent it."""
        with self.engine.connect() as db:
            return {NoteId(n): TxId(t) for n, t in db.execute(select(_SPENT.c.note_id,
                                                                      _SPENT.c.tx_id))}

    def all_notes(self) -> dict[NoteId, Note]:
        """Every note in the notes table, spent or not."""
        with self.engine.connect() as db:
            return {NoteId(row["id"]): _note(row)
                    for row in db.execute(select(_NOTES)).mappings()}


@dataclass(frozen=True, slots=True)
class _Writes:
    """A commit's statements, built once per store: building the upserts cost more than
    running them for a batch of a few transactions."""

    spent: Any
    notes: Any
    transactions: Any
    endorsements: Any
    usage: Any

    @classmethod
    def of(cls, upsert: Any) -> _Writes:
        """The statements, with `upsert` the dialect's INSERT (for ON CONFLICT)."""
        usage = upsert(_USAGE)
        return cls(
            insert(_SPENT), insert(_NOTES), insert(_TRANSACTIONS),
            upsert(_ENDORSEMENTS).on_conflict_do_nothing(index_elements=["digest"]),
            usage.on_conflict_do_update(
                index_elements=["token", "scope", "party", "period"],
                set_={"amount_minor": _capped_sum(_USAGE.c.amount_minor,
                                                  usage.excluded.amount_minor)}))


def _capped_sum(total: ColumnElement[int], delta: ColumnElement[int]) -> ColumnElement[int]:
    """`total + delta`, stopping at INTEGER_MAX: a usage total grows with every payment, not
    with the supply, so money paid back and forth passes 2**63 - 1 in time, where SQLite would
    store an inexact float and PostgreSQL refuse the commit. Past INTEGER_MAX every limit is
    passed anyway, so the cap changes no decision."""
    return case((total > INTEGER_MAX - delta, INTEGER_MAX), else_=total + delta)


def _write_accepted(db: Connection, accepted: Sequence[Accepted], now_s: int,
                    endorsements: Sequence[Endorsement], writes: _Writes) -> None:
    # An empty parameter list would execute one INSERT of defaults: skip empty tables.
    spent = [{"note_id": n.id, "tx_id": a.signed.id} for a in accepted for n in a.spent]
    if spent:
        db.execute(writes.spent, spent)
    created = [_note_row(n) for a in accepted for n in a.created]
    if created:
        db.execute(writes.notes, created)
    endorsed = _write_endorsements(db, accepted, endorsements, writes)
    db.execute(writes.transactions, [
        {"id": a.signed.id, "body": transaction_bytes(a.signed.transaction), "code": COMMITTED,
         "reason": "", "committed_at_s": now_s, "endorsement": endorsed.get(a.signed.id)}
        for a in accepted])
    usage = usage_deltas(accepted)
    if usage:
        db.execute(writes.usage, [{"token": t, "scope": s, "party": p, "period": q,
                                   "amount_minor": min(v, INTEGER_MAX)}
                                  for (t, s, p, q), v in usage.items()])


def _write_endorsements(db: Connection, accepted: Sequence[Accepted],
                        endorsements: Sequence[Endorsement], writes: _Writes) -> dict[TxId, str]:
    """Store each endorsement that co-signed a committed transaction; tx id → its digest."""
    committed = {a.signed.id for a in accepted}
    endorsed: dict[TxId, str] = {}
    rows = []
    for endorsement in endorsements:
        digest = endorsement_digest(endorsement.tx_ids)
        covered = [i for i in endorsement.tx_ids if i in committed and i not in endorsed]
        if covered:
            endorsed.update((i, digest) for i in covered)
            rows.append({"digest": digest, "signer": endorsement.signer,
                         "signature": endorsement.signature,
                         "tx_ids": ",".join(endorsement.tx_ids)})
    if rows:
        db.execute(writes.endorsements, rows)
    return endorsed


def _note(row: Mapping[Any, Any]) -> Note:
    token = None
    if row["token_contract"]:
        token = TokenRef(ContractHash(row["token_contract"]), row["token_name"])
    lock = None
    if row["lock_digest"]:
        lock = HashLock(row["lock_digest"], ParticipantId(row["lock_refund_to"]),
                        row["lock_deadline_s"])
    return Note(NoteId(row["id"]), ParticipantId(row["owner"]), row["amount_minor"],
                row["currency"], token, row["issued_at_s"], TxId(row["created_by"]), lock)


def _note_and_spender(row: Mapping[Any, Any]) -> tuple[Note, TxId | None]:
    return _note(row), TxId(row["tx_id"]) if row["tx_id"] else None


def _note_row(note: Note) -> dict[str, Any]:
    return {"id": note.id, "owner": note.owner, "amount_minor": note.amount_minor,
            "currency": note.currency,
            "token_contract": note.token.contract if note.token else None,
            "token_name": note.token.token if note.token else None,
            "issued_at_s": note.issued_at_s, "created_by": note.created_by,
            "lock_digest": note.lock.digest if note.lock else None,
            "lock_refund_to": note.lock.refund_to if note.lock else None,
            "lock_deadline_s": note.lock.deadline_s if note.lock else None}


def connect(url: str) -> Engine:
    """An engine for `url`; SQLite connections are set up for durability (WAL, FULL sync)."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30}, use_insertmanyvalues=False)

    @event.listens_for(engine, "connect")
    def _durable(connection: Any, record: ConnectionPoolEntry) -> None:
        # WAL lets readers run beside the writer; FULL syncs the WAL on every commit, so an
        # acknowledged transaction survives a crash or power loss.
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # The spent set and note indexes are keyed by hashes, so inserts land on random pages:
        # a 64 MB page cache keeps the hot ones in memory instead of re-reading them.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    return engine
