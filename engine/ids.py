"""Identifiers and units of the ledger, as distinct types (web3.py's `Wei`, `Nonce`)."""

from __future__ import annotations

from typing import NewType

from dsl.money import AmountMinor, CurrencyCode

NoteId = NewType("NoteId", str)  # hex SHA-256 of the creating transaction id and output index
TxId = NewType("TxId", str)  # hex SHA-256 of the transaction's canonical encoding
ParticipantId = NewType("ParticipantId", str)  # hex of an Ed25519 public key (64 characters)
ContractHash = NewType("ContractHash", str)  # hex SHA-256 of a deployed contract's source

__all__ = ["AmountMinor", "ContractHash", "CurrencyCode", "NoteId", "ParticipantId", "TxId"]
