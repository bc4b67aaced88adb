"""The canonical encoding: stable bytes, ids that change with any field, strict decoding."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsl.facts import CHANNELS, OPERATIONS, ROLES, Party, Quote
from engine.encoding import (
    INPUTS_MAX,
    NOTE_DOMAIN,
    SIGNING_DOMAIN,
    TRANSACTION_DOMAIN,
    from_bytes,
    from_wire,
    note_id,
    signing_bytes,
    to_wire,
    transaction_bytes,
    transaction_id,
)
from engine.errors import ResultCode, TransactionRefused
from engine.ids import ContractHash, NoteId, ParticipantId
from engine.keys import KeyPair, verify
from engine.model import Output, TokenRef, Transaction

_HEX = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-@.0123456789", max_size=20)


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    """Random well-formed transactions."""
    def party() -> Party:
        return Party(draw(_NAME), draw(st.sampled_from(ROLES)), draw(st.integers(0, 3)),
                     draw(_NAME), draw(_NAME), draw(st.integers(0, 9999)))

    token = draw(st.none() | st.builds(TokenRef, _HEX.map(ContractHash), st.just("HEALTH")))
    outputs = draw(st.lists(st.builds(
        Output, _HEX.map(ParticipantId), st.integers(1, 10**15), st.just("KZT"), st.just(token),
    ), max_size=4))
    operation = draw(st.sampled_from(OPERATIONS))
    quote = None
    if operation == "convert":
        quote = Quote(draw(_NAME), "KHR", Decimal("27.5"), Decimal("0.8"), Decimal("0.25"), 3)
    return Transaction(operation, tuple(draw(st.lists(_HEX.map(NoteId), max_size=4))),
                       tuple(outputs), party(), party(), draw(st.integers(0, 2**40)),
                       draw(_NAME), draw(st.sampled_from(CHANNELS)), quote)


@given(transactions())
def test_wire_round_trip_keeps_the_transaction_and_its_id(transaction: Transaction) -> None:
    """Encoding then decoding gives back an equal transaction with the same id and bytes."""
    decoded = from_bytes(transaction_bytes(transaction))
    assert decoded == transaction
    assert transaction_id(decoded) == transaction_id(transaction)
    assert from_wire(json.loads(json.dumps(to_wire(transaction)))) == transaction


@given(transactions(), st.integers(1, 10**6))
def test_changing_the_nonce_or_time_changes_the_id(transaction: Transaction, shift: int) -> None:
    """Two payments alike but for their nonce or time are two transactions with two ids."""
    later = replace(transaction, created_at_s=transaction.created_at_s + shift)
    other = replace(transaction, nonce=transaction.nonce + "x")
    ids = {transaction_id(transaction), transaction_id(later), transaction_id(other)}
    assert len(ids) == 3


def test_domains_are_distinct_and_prefix_their_bytes() -> None:
    """Transaction bytes, signing bytes and note ids each start from their own domain tag."""
    assert len({TRANSACTION_DOMAIN, SIGNING_DOMAIN, NOTE_DOMAIN}) == 3
    tx_id = transaction_id(_simple())
    assert transaction_bytes(_simple()).startswith(TRANSACTION_DOMAIN)
    assert signing_bytes(tx_id).startswith(SIGNING_DOMAIN)
    assert note_id(tx_id, 0) != note_id(tx_id, 1)
    assert note_id(tx_id, 0) != tx_id


def _simple() -> Transaction:
    owner = KeyPair.from_seed(bytes(32)).participant
    return Transaction("transfer", (NoteId("ab" * 32),), (Output(owner, 100, "KZT"),),
                       Party("ana@halyk"), Party("bo@kaspi"), 1_767_225_600, "n-1")


def test_signatures_verify_only_for_their_signer_and_message() -> None:
    """A signature holds for its key and transaction; a forged, reused or truncated one fails."""
    alice, mallory = KeyPair.from_seed(b"a" * 32), KeyPair.from_seed(b"m" * 32)
    message = signing_bytes(transaction_id(_simple()))
    signature = alice.sign(message)
    assert verify(alice.participant, message, signature)
    assert not verify(mallory.participant, message, signature)
    other = signing_bytes(transaction_id(replace(_simple(), nonce="n-2")))
    assert not verify(alice.participant, other, signature)
    assert not verify(alice.participant, message, signature[:-1])
    assert not verify(ParticipantId("zz" * 32), message, signature)


@pytest.mark.parametrize(("mutate", "needle"), [
    (lambda w: w.pop("nonce"), "nonce"),
    (lambda w: w.update(operation="steal"), "operation"),
    (lambda w: w.update(inputs=["ab" * 32] * (INPUTS_MAX + 1)), "inputs"),
    (lambda w: w["outputs"].append({"owner": "ab", "amount_minor": 0, "currency": "KZT",
                                    "token": None}), "amount_minor"),
    (lambda w: w["outputs"].append({"owner": "ab", "amount_minor": True, "currency": "KZT",
                                    "token": None}), "amount_minor"),
    (lambda w: w.update(created_at_s="yesterday"), "created_at_s"),
    (lambda w: w.update(sender=[]), "sender"),
    (lambda w: w.update(quote={"provider": "x", "target": "KHR", "rate": "NaN", "spread": "1",
                               "fee": "0", "age_s": 0}), "rate"),
    (lambda w: w.update(channel="carrier-pigeon"), "channel"),
])
def test_malformed_wire_is_refused_with_the_field_named(mutate: object, needle: str) -> None:
    """Each kind of defect is a `malformed` refusal whose reason names the field."""
    wire = to_wire(_simple())
    mutate(wire)  # type: ignore[operator]
    with pytest.raises(TransactionRefused) as refused:
        from_wire(wire)
    assert refused.value.refusal.code is ResultCode.MALFORMED
    assert needle in refused.value.refusal.reason


@pytest.mark.parametrize("data", [
    b"", b"garbage", TRANSACTION_DOMAIN + b"{", TRANSACTION_DOMAIN + b"\xff\xfe",
    TRANSACTION_DOMAIN + b"[]", TRANSACTION_DOMAIN + b" " * (64 * 1024),
])
def test_truncated_or_foreign_bytes_are_malformed(data: bytes) -> None:
    """Bytes that are not a whole Earmark transaction are refused as malformed, never a crash."""
    with pytest.raises(TransactionRefused) as refused:
        from_bytes(data)
    assert refused.value.refusal.code is ResultCode.MALFORMED


def test_truncating_real_bytes_is_always_malformed() -> None:
    """Every proper prefix of a real encoding is refused."""
    data = transaction_bytes(_simple())
    for end in range(len(TRANSACTION_DOMAIN), len(data)):
        with pytest.raises(TransactionRefused):
            from_bytes(data[:end])


@given(transactions(), st.text(max_size=40), st.integers(0, 2**63 - 1))
def test_the_fast_encoder_writes_the_reference_canonical_bytes(
        transaction: Transaction, text: str, number: int) -> None:
    """The canonical form is defined as `json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)` in UTF-8; the orjson encoder must write exactly those bytes, also for
    any Unicode text (escapes, control characters, non-ASCII) and the largest numbers."""
    transaction = replace(transaction, nonce=text, created_at_s=number)
    reference = json.dumps(to_wire(transaction), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False).encode("utf-8", "surrogatepass")
    try:
        encoded = transaction_bytes(transaction)
    except TransactionRefused:
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in text)  # lone surrogates: not Unicode
        return
    assert encoded == TRANSACTION_DOMAIN + reference


def test_a_number_beyond_64_bits_is_malformed_not_a_crash() -> None:
    """Amounts and times must fit the stores' 64-bit columns: larger ones are refused as
    malformed by the decoder, the encoder and validation alike."""
    huge = replace(_simple(), created_at_s=2**64)
    with pytest.raises(TransactionRefused) as refused:
        transaction_bytes(huge)
    assert refused.value.refusal.code == ResultCode.MALFORMED
    wire = to_wire(_simple())
    wire["outputs"][0]["amount_minor"] = 2**63
    with pytest.raises(TransactionRefused, match="amount_minor"):
        from_wire(wire)
