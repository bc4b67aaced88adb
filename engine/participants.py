"""Participants the central bank registers: itself, commercial banks, agencies, FX providers.

Customers (individuals and merchants) are not here: in the two-tier model each bank knows its own
customers and attests their facts by co-signing their transactions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.ids import ParticipantId


@dataclass(frozen=True, slots=True)
class Participant:
    """A registered participant: its key, its name (`halyk`, `ministry-of-health`) and role."""

    key: ParticipantId
    name: str
    role: str  # "central_bank", "bank", "agency" or "fx_provider"


@dataclass(frozen=True, slots=True)
class Registry:
    """Who is who, by key and by name."""

    central_bank: Participant
    others: tuple[Participant, ...] = ()
    _by_key: dict[ParticipantId, Participant] = field(default_factory=dict, compare=False)
    _by_name: dict[str, Participant] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for participant in (self.central_bank, *self.others):
            self._by_key[participant.key] = participant
            self._by_name[participant.name] = participant

    @classmethod
    def of(cls, central_bank: Participant, others: Iterable[Participant]) -> Registry:
        """A registry of the central bank and the others."""
        return cls(central_bank, tuple(others))

    def by_key(self, key: ParticipantId) -> Participant | None:
        """The participant with this key, if registered."""
        return self._by_key.get(key)

    def by_name(self, name: str, role: str) -> Participant | None:
        """The participant with this name and role, if registered."""
        found = self._by_name.get(name)
        return found if found is not None and found.role == role else None
