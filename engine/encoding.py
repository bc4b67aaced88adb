"""The canonical, domain-separated byte encoding of transactions, and ids derived from it.

Canonical: JSON with sorted keys, no spaces, integers for amounts and times, strings for
decimals, so every implementation that follows this page gets the same bytes. Domain-separated:
each kind of bytes starts with its own tag, so a hash or signature made for one can never be taken
for another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Final

import orjson

from dsl.facts import CHANNELS, OPERATIONS, ROLES, Party, Quote
from engine.errors import Refusal, ResultCode, TransactionRefused
from engine.ids import ContractHash, NoteId, ParticipantId, TxId
from engine.model import HashLock, Output, TokenRef, Transaction

TRANSACTION_DOMAIN: Final = b"earmark/transaction/v1\x00"
SIGNING_DOMAIN: Final = b"earmark/sign-transaction/v1\x00"
NOTE_DOMAIN: Final = b"earmark/note/v1\x00"
ENDORSEMENT_DOMAIN: Final = b"earmark/endorse-transactions/v1\x00"
ENCODED_BYTES_MAX: Final = 64 * 1024  # one transaction, encoded
INPUTS_MAX: Final = 64  # notes spent by one transaction
OUTPUTS_MAX: Final = 64  # notes created by one transaction
TEXT_CHARS_MAX: Final = 256  # any id, name or nonce inside a transaction
INTEGER_MAX: Final = 2**63 - 1  # every whole number fits the stores' signed 64-bit columns
# What may be outstanding of one kind of money (plain money of a currency, or one token): an
# issue beyond it is refused, so any one owner's or kind's total fits a 64-bit column too.
SUPPLY_MAX_MINOR: Final = INTEGER_MAX


def to_wire(transaction: Transaction) -> dict[str, Any]:
    """The transaction as plain JSON values.

    Fields added after v1 (`preimage`, `memo`, an output's `lock`) appear only when set, so every
    transaction without them keeps the bytes, and therefore the id, it always had."""
    wire = {
        "operation": transaction.operation,
        "inputs": list(transaction.inputs),
        "outputs": [_output(output) for output in transaction.outputs],
        "sender": _party(transaction.sender),
        "receiver": _party(transaction.receiver),
        "created_at_s": transaction.created_at_s,
        "nonce": transaction.nonce,
        "channel": transaction.channel,
        "quote": _quote(transaction.quote) if transaction.quote else None,
    }
    if transaction.preimage is not None:
        wire["preimage"] = transaction.preimage
    if transaction.memo is not None:
        wire["memo"] = transaction.memo
    return wire


@lru_cache(maxsize=4 * 1024)
def transaction_bytes(transaction: Transaction) -> bytes:
    """The canonical bytes that the transaction id hashes.

    Raises `TransactionRefused(malformed)` for what has no canonical form: a number outside
    64 bits or text that is not Unicode. Cached, because the notary needs the bytes twice (the
    id check, then the journal row) and both times for the same few thousand transactions."""
    try:
        # orjson writes exactly what `json.dumps(sort_keys=True, separators=(",", ":"),
        # ensure_ascii=False)` does for these values (a test holds it to that), ten times faster.
        text = orjson.dumps(to_wire(transaction), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as problem:
        raise TransactionRefused(Refusal(ResultCode.MALFORMED, f"no canonical form: {problem}"
                                         )) from None
    return TRANSACTION_DOMAIN + text


def transaction_id(transaction: Transaction) -> TxId:
    """The transaction's id: SHA-256 of its canonical bytes, in hex."""
    return TxId(hashlib.sha256(transaction_bytes(transaction)).hexdigest())


def signing_bytes(tx_id: TxId) -> bytes:
    """What every signer of a transaction signs."""
    return SIGNING_DOMAIN + bytes.fromhex(tx_id)


def endorsement_digest(tx_ids: Sequence[TxId]) -> str:
    """The hex SHA-256 that identifies an endorsement's list of transaction ids, in order."""
    return hashlib.sha256(ENDORSEMENT_DOMAIN + b"".join(bytes.fromhex(i) for i in tx_ids)
                          ).hexdigest()


def endorsing_bytes(tx_ids: Sequence[TxId]) -> bytes:
    """What a bank signs to endorse a batch of transactions."""
    return ENDORSEMENT_DOMAIN + bytes.fromhex(endorsement_digest(tx_ids))


def note_id(tx_id: TxId, index: int) -> NoteId:
    """The id of output `index` of transaction `tx_id`."""
    data = NOTE_DOMAIN + bytes.fromhex(tx_id) + index.to_bytes(4, "big")
    return NoteId(hashlib.sha256(data).hexdigest())


def _output(output: Output) -> dict[str, Any]:
    token, lock = output.token, output.lock
    wire = {
        "owner": output.owner, "amount_minor": output.amount_minor, "currency": output.currency,
        "token": {"contract": token.contract, "token": token.token} if token else None,
    }
    if lock is not None:
        wire["lock"] = {"digest": lock.digest, "refund_to": lock.refund_to,
                        "deadline_s": lock.deadline_s}
    return wire


def _party(party: Party) -> dict[str, Any]:
    return {"id": party.id, "role": party.role, "kyc": party.kyc, "bank": party.bank,
            "region": party.region, "mcc": party.mcc}


def _quote(quote: Quote) -> dict[str, Any]:
    return {"provider": quote.provider, "target": quote.target, "rate": str(quote.rate),
            "spread": str(quote.spread), "fee": str(quote.fee), "age_s": quote.age_s}


# ---- decoding: strict, every problem a `malformed` refusal -------------------------------------


def from_wire(data: object) -> Transaction:
    """A transaction from JSON values; raises `TransactionRefused(malformed)` on any defect."""
    try:
        return _transaction(_mapping(data, "transaction"))
    except _Malformed as problem:
        raise TransactionRefused(Refusal(ResultCode.MALFORMED, str(problem))) from None


def from_bytes(data: bytes) -> Transaction:
    """A transaction from its canonical bytes (domain tag included)."""
    if len(data) > ENCODED_BYTES_MAX:
        raise TransactionRefused(Refusal(
            ResultCode.MALFORMED, f"{len(data)} bytes; a transaction is at most "
                                  f"{ENCODED_BYTES_MAX}"))
    if not data.startswith(TRANSACTION_DOMAIN):
        raise TransactionRefused(Refusal(ResultCode.MALFORMED, "not an Earmark transaction"))
    try:
        value = json.loads(data[len(TRANSACTION_DOMAIN):].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as problem:
        raise TransactionRefused(Refusal(ResultCode.MALFORMED, f"not JSON: {problem}")) from None
    return from_wire(value)


class _Malformed(Exception):
    pass


def _mapping(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Malformed(f"{what} must be an object")
    return value


def _text(data: dict[str, Any], key: str, choices: tuple[str, ...] | None = None) -> str:
    value = data.get(key)
    if not isinstance(value, str) or len(value) > TEXT_CHARS_MAX:
        raise _Malformed(f"{key} must be a string of at most {TEXT_CHARS_MAX} characters")
    if choices is not None and value not in choices:
        raise _Malformed(f"{key} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _integer(data: dict[str, Any], key: str, minimum: int = 0) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not (
            minimum <= value <= INTEGER_MAX):
        raise _Malformed(f"{key} must be a whole number from {minimum} to {INTEGER_MAX}")
    return value


def _list(data: dict[str, Any], key: str, most: int) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list) or len(value) > most:
        raise _Malformed(f"{key} must be a list of at most {most}")
    return value


def _transaction(data: dict[str, Any]) -> Transaction:
    inputs = tuple(NoteId(_text({"input": i}, "input")) for i in _list(data, "inputs", INPUTS_MAX))
    outputs = tuple(_decode_output(_mapping(o, "output"))
                    for o in _list(data, "outputs", OUTPUTS_MAX))
    quote, preimage, memo = data.get("quote"), data.get("preimage"), data.get("memo")
    return Transaction(
        operation=_text(data, "operation", OPERATIONS),
        inputs=inputs,
        outputs=outputs,
        sender=_decode_party(_mapping(data.get("sender"), "sender")),
        receiver=_decode_party(_mapping(data.get("receiver"), "receiver")),
        created_at_s=_integer(data, "created_at_s"),
        nonce=_text(data, "nonce"),
        channel=_text(data, "channel", CHANNELS),
        quote=_decode_quote(_mapping(quote, "quote")) if quote is not None else None,
        preimage=_text(data, "preimage") if preimage is not None else None,
        memo=_text(data, "memo") if memo is not None else None,
    )


def _decode_output(data: dict[str, Any]) -> Output:
    token = data.get("token")
    ref = None
    if token is not None:
        fields = _mapping(token, "token")
        ref = TokenRef(ContractHash(_text(fields, "contract")), _text(fields, "token"))
    lock = data.get("lock")
    return Output(ParticipantId(_text(data, "owner")), _integer(data, "amount_minor", 1),
                  _text(data, "currency"), ref,
                  _decode_lock(_mapping(lock, "lock")) if lock is not None else None)


def _decode_lock(data: dict[str, Any]) -> HashLock:
    return HashLock(_text(data, "digest"), ParticipantId(_text(data, "refund_to")),
                    _integer(data, "deadline_s"))


def _decode_party(data: dict[str, Any]) -> Party:
    return Party(_text(data, "id"), _text(data, "role", ROLES), _integer(data, "kyc"),
                 _text(data, "bank"), _text(data, "region"), _integer(data, "mcc"))


def _decode_quote(data: dict[str, Any]) -> Quote:
    return Quote(_text(data, "provider"), _text(data, "target"), _decimal(data, "rate"),
                 _decimal(data, "spread"), _decimal(data, "fee"), _integer(data, "age_s"))


def _decimal(data: dict[str, Any], key: str) -> Decimal:
    text = _text(data, key)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _Malformed(f"{key} must be a decimal number as a string") from None
    if not value.is_finite():
        raise _Malformed(f"{key} must be finite")
    return value
