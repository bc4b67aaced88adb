"""Result codes of the ledger, in the documented order of validation, and the layer's exception.

A refused transaction gets a `Refusal`: a named code (TigerBeetle-style, not free text), the
reason, and for contract refusals the deciding rule (contract, rule name, line).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dsl.evaluate import RuleRef


class ResultCode(StrEnum):
    """Why a transaction was refused. Validation checks them in this order; the first wins."""

    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    NOTE_UNKNOWN = "note_unknown"
    NOTE_ALREADY_SPENT = "note_already_spent"
    NOT_AUTHORISED = "not_authorised"
    PARTY_UNREGISTERED = "party_unregistered"
    FACTS_NOT_ATTESTED = "facts_not_attested"
    NOT_CONSERVED = "not_conserved"
    SUPPLY_CAP_EXCEEDED = "supply_cap_exceeded"
    TOKEN_CHANGE_NOT_ALLOWED = "token_change_not_allowed"
    CONTRACT_UNKNOWN = "contract_unknown"
    NOTE_EXPIRED = "note_expired"
    PURPOSE_NOT_ALLOWED = "purpose_not_allowed"
    LIMIT_EXCEEDED = "limit_exceeded"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refusal: its code, why, and the contract rule that decided, if one did."""

    code: ResultCode
    reason: str
    rule: RuleRef | None = None


class EngineError(Exception):
    """Root of everything the ledger engine raises."""


class TransactionRefused(EngineError):
    """A transaction that cannot commit; `refusal` says why."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"{refusal.code.value}: {refusal.reason}")
        self.refusal = refusal


class InvariantViolation(EngineError):
    """The ledger found itself in a state that must never exist (a bug, or a corrupted store)."""
