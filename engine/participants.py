"""Who the ledger knows, and the facts it vouches for about each key.

Two kinds of registration, both made at the central bank and both signed by whoever vouches:

* **participants** — the central bank itself, commercial banks, agencies, FX providers — which the
  central bank registers (`Registry`);
* **customers** — individuals and merchants — whose wallet each bank registers for its own
  customer, with the facts the bank vouches for: role, KYC tier, MCC, region (`Customer`, read
  through a `Directory`, since a ledger may have millions of them).

A key is registered once, as one or the other. Validation reads a party's facts only from here,
never from what a transaction says about itself (docs/ledger.md, "Trust model").
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from dsl.facts import Party
from engine.ids import ParticipantId

PARTICIPANT_ROLES: Final = ("central_bank", "bank", "agency", "fx_provider")
CUSTOMER_ROLES: Final = frozenset({"individual", "merchant"})


@dataclass(frozen=True, slots=True)
class Participant:
    """A registered participant: its key, its name (`halyk`, `ministry-of-health`) and role.

    `bridged` are the currencies in which the central bank lets an FX provider issue its own
    bridged tokens (empty for every other role)."""

    key: ParticipantId
    name: str
    role: str  # one of PARTICIPANT_ROLES
    bridged: frozenset[str] = frozenset()

    @property
    def party(self) -> Party:
        """The facts a contract reads about this participant."""
        return Party(id=self.name, role=self.role)


@dataclass(frozen=True, slots=True)
class Customer:
    """A bank's customer, as her bank registered her wallet at the central bank."""

    key: ParticipantId
    account: str  # `alice@halyk`
    bank: str  # the name of the bank that registered her and co-signs her spends
    role: str  # one of CUSTOMER_ROLES
    kyc: int = 0
    region: str = ""
    mcc: int = 0

    @property
    def party(self) -> Party:
        """The facts a contract reads about this customer, as her bank vouched for them."""
        return Party(id=self.account, role=self.role, kyc=self.kyc, bank=self.bank,
                     region=self.region, mcc=self.mcc)


class Directory(Protocol):
    """Where the notary reads customers' registrations, a batch's keys at a time."""

    def customers(self, keys: Collection[ParticipantId]) -> Mapping[ParticipantId, Customer]:
        """The registered customers among `keys`."""
        ...


@dataclass(frozen=True, slots=True)
class Customers:
    """A `Directory` held in memory (tests, benches, a wallet that knows its counterparties)."""

    by_key: Mapping[ParticipantId, Customer] = field(default_factory=dict)

    @classmethod
    def of(cls, customers: Iterable[Customer]) -> Customers:
        """A directory of these customers."""
        return cls({customer.key: customer for customer in customers})

    def customers(self, keys: Collection[ParticipantId]) -> Mapping[ParticipantId, Customer]:
        """The registered customers among `keys`."""
        return {key: self.by_key[key] for key in keys if key in self.by_key}


NO_CUSTOMERS: Final = Customers()


@dataclass(frozen=True, slots=True)
class Registry:
    """Who is who, by key and by name; and the customers a batch needs (`knowing`)."""

    central_bank: Participant
    others: tuple[Participant, ...] = ()
    known_customers: Mapping[ParticipantId, Customer] = field(default_factory=dict,
                                                              compare=False)
    _by_key: dict[ParticipantId, Participant] = field(default_factory=dict, compare=False)
    _by_name: dict[str, Participant] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self._by_key:
            return  # shared with the registry this one was made from (`knowing`)
        for participant in (self.central_bank, *self.others):
            self._by_key[participant.key] = participant
            self._by_name[participant.name] = participant

    @classmethod
    def of(cls, central_bank: Participant, others: Iterable[Participant]) -> Registry:
        """A registry of the central bank and the others."""
        return cls(central_bank, tuple(others))

    def knowing(self, customers: Mapping[ParticipantId, Customer]) -> Registry:
        """The same participants, with these customers' registrations at hand."""
        return Registry(self.central_bank, self.others, customers, self._by_key, self._by_name)

    def by_key(self, key: ParticipantId) -> Participant | None:
        """The participant with this key, if registered."""
        return self._by_key.get(key)

    def by_name(self, name: str, role: str) -> Participant | None:
        """The participant with this name and role, if registered."""
        found = self._by_name.get(name)
        return found if found is not None and found.role == role else None

    def customer(self, key: ParticipantId) -> Customer | None:
        """The customer with this key, if her registration is at hand."""
        return self.known_customers.get(key)

    def party(self, key: ParticipantId) -> Party | None:
        """The attested facts of `key`: a participant's or a customer's; None if registered
        nowhere."""
        participant = self._by_key.get(key)
        if participant is not None:
            return participant.party
        customer = self.known_customers.get(key)
        return customer.party if customer is not None else None
