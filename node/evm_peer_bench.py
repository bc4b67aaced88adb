"""`earmark bench evm-peer`: one purpose-bound voucher on the EVM and on the ledger, side by side.

The voucher (ERC-7291 style) pays out only to whitelisted merchants and only before its expiry.
On the EVM it is the Vyper `PurposeBoundVoucher` over a `Stablecoin`, on the embedded eth-tester
chain or on a node by URL; on the ledger it is `contracts/purpose_bound_voucher.earmark` behind
an in-process `Notary` over SQLite. Both sides run in this one process.

Set-up (not timed): deploy, whitelist a merchant, give one voucher to each of N holders. Then,
untimed, one payment to a merchant off the whitelist on each side, which must be refused: the
bench proves both implement the restriction. Timed: N payments at the whitelisted merchant, one
at a time on both sides for fairness. On the EVM each payment is one transaction signed by its
holder, sent and mined (at once on the embedded chain). On the ledger each is one purchase
built, signed by its holder and co-signed by the holder's bank (the ledger requires both), and
submitted alone, so it is validated, run through the contract and durably committed before the
next starts — no batching.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from eth_account.signers.local import LocalAccount

from bridges.evm import Chain, ChainConfig, ChainError, PurposeBoundVoucher, Stablecoin
from dsl.facts import Party
from engine.encoding import note_id
from engine.errors import EngineError
from engine.keys import KeyPair
from engine.model import Note, Output, SignedTransaction, TokenRef, Transaction
from engine.notary import Notary
from engine.participants import Customer, Customers, Participant, Registry
from engine.store import SqlStore
from engine.wallet import sign
from node.errors import NodeError
from node.ledger_bench import NOW_S, distribute

PAYMENTS_MAX: Final = 10_000  # each EVM payment needs two set-up transactions too
CONTRACT: Final = (Path(__file__).resolve().parents[1] / "contracts"
                   / "purpose_bound_voucher.earmark")
VOUCHER_YEN: Final = 1_000  # one voucher per holder
PAYMENT_YEN: Final = 400  # each timed payment; the rest stays earmarked (or wrapped)
VOUCHER_DAYS: Final = 90  # the EVM expiry, as the contract's `expires 90 days after issue`
DAY_S: Final = 86_400
EVM_YEN: Final = 10**18  # the Stablecoin has 18 decimals; JPY has none on the ledger
_WHITELISTED_MCC: Final = 5411  # in the contract's `merchants` set
_OFF_LIST_MCC: Final = 7995  # not in it (betting)
EMBEDDED: Final = "embedded"

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class SideResult:
    """One side's figures: timed payments, the time they took, and why the off-list merchant
    was refused (had it been paid, the run would have raised instead)."""

    payments: int
    seconds: float
    refusal: str

    @property
    def per_s(self) -> float:
        """Payments per second."""
        return self.payments / self.seconds


@dataclass(frozen=True, slots=True)
class EvmPeerResult:
    """What `earmark bench evm-peer` measured."""

    peer: str  # "embedded" or the node's URL
    payments: int
    evm: SideResult
    ledger: SideResult

    @property
    def ratio(self) -> float:
        """Ledger payments per second over EVM payments per second."""
        return self.ledger.per_s / self.evm.per_s

    def as_dict(self) -> dict[str, object]:
        """The `--json` form."""
        return {
            "peer": self.peer, "payments": self.payments,
            "evm_payments_per_s": round(self.evm.per_s, 1),
            "ledger_payments_per_s": round(self.ledger.per_s, 1),
            "ratio_ledger_to_evm": round(self.ratio, 2),
            "evm_seconds": round(self.evm.seconds, 3),
            "ledger_seconds": round(self.ledger.seconds, 3),
            "evm_refusal": self.evm.refusal, "ledger_refusal": self.ledger.refusal,
        }

    def lines(self) -> list[str]:
        """The human form."""
        return [
            f"peer: {self.peer}, {self.payments:,} payments each side, one at a time",
            f"EVM (Vyper PurposeBoundVoucher): {self.evm.per_s:,.1f} payments/s "
            f"({self.evm.seconds:.2f} s); off-list merchant refused: {self.evm.refusal}",
            f"ledger (purpose_bound_voucher): {self.ledger.per_s:,.1f} payments/s "
            f"({self.ledger.seconds:.2f} s); off-list merchant refused: {self.ledger.refusal}",
            f"ratio ledger/EVM: {self.ratio:.2f}",
        ]


def run(payments: int, rpc_url: str | None, progress: Progress) -> EvmPeerResult:
    """Both sides, the EVM first, on a fresh SQLite ledger in a temporary folder."""
    if not 1 <= payments <= PAYMENTS_MAX:
        raise NodeError(400, "bench_size", "Benchmark size out of range",
                        f"payments must be 1..{PAYMENTS_MAX}, not {payments}")
    chain = Chain.connect(ChainConfig(rpc_url=rpc_url))
    evm = run_evm(chain, payments, progress)
    with tempfile.TemporaryDirectory() as scratch:
        ledger = run_ledger(f"sqlite:///{Path(scratch) / 'voucher.db'}", payments, progress)
    return EvmPeerResult(rpc_url or EMBEDDED, payments, evm, ledger)


# ---- the EVM side -----------------------------------------------------------------------------


def run_evm(chain: Chain, payments: int, progress: Progress) -> SideResult:
    """Deploy the coin and the voucher, wrap one voucher per holder, check the refusal, then
    time the holders' payments to the whitelisted merchant."""
    progress(f"EVM ({chain.kind}): deploying and wrapping {payments:,} vouchers…")
    issuer = chain.new_account()
    coin = Stablecoin.deploy(chain, issuer, "Bench Yen", "JPYB")
    voucher = PurposeBoundVoucher.deploy(chain, issuer, coin.address,
                                         chain.timestamp() + VOUCHER_DAYS * DAY_S)
    merchant, stranger = chain.new_account(funding_wei=0), chain.new_account(funding_wei=0)
    voucher.set_merchant(issuer, merchant.address, True)
    total = payments * VOUCHER_YEN * EVM_YEN
    coin.mint(issuer, issuer.address, total)
    coin.approve(issuer, voucher.address, total)
    holders = [chain.new_account() for _ in range(payments)]
    for holder in holders:
        voucher.wrap(issuer, holder.address, VOUCHER_YEN * EVM_YEN)
    refusal = _evm_refusal(voucher, holders[0], stranger.address)
    progress(f"EVM: timing {payments:,} payments…")
    started = time.perf_counter()
    for holder in holders:
        voucher.pay(holder, merchant.address, PAYMENT_YEN * EVM_YEN)
    seconds = time.perf_counter() - started
    if coin.balance_of(merchant.address) != payments * PAYMENT_YEN * EVM_YEN:
        raise EngineError("EVM bench: the merchant was not paid every payment")
    return SideResult(payments, seconds, refusal)


def _evm_refusal(voucher: PurposeBoundVoucher, holder: LocalAccount, stranger: str) -> str:
    """The revert reason of a payment to a merchant the issuer never allowed."""
    try:
        voucher.pay(holder, stranger, PAYMENT_YEN * EVM_YEN)
    except ChainError as error:
        if error.reason is None:
            raise
        return error.reason
    raise EngineError("EVM bench: the voucher paid a merchant off the whitelist")


# ---- the ledger side --------------------------------------------------------------------------


def _key(name: str) -> KeyPair:
    return KeyPair.from_seed(hashlib.sha256(f"evm-peer-bench/{name}".encode()).digest())


CENTRAL, BANK, AGENCY = _key("central"), _key("bank"), _key("agency")
SHOP, STRANGER = _key("shop"), _key("stranger")
REGISTRY = Registry.of(Participant(CENTRAL.participant, "central-bank", "central_bank"),
                       [Participant(BANK.participant, "bench-bank", "bank"),
                        Participant(AGENCY.participant, "voucher-agency", "agency")])
_BANK_FACTS = Party("bench-bank", "bank")
_AGENCY_FACTS = Party("voucher-agency", "agency")


def _holder_facts(index: int) -> Party:
    return Party(f"holder-{index}@bench-bank", "individual", 1, "bench-bank")


def _merchant_facts(mcc: int) -> Party:
    return Party(f"m{mcc}@bench-bank", "merchant", 1, "bench-bank", mcc=mcc)


def _customers(payments: int) -> Customers:
    """The holders and both merchants, as the bench bank registered them."""
    holders = [Customer(_key(f"holder-{i}").participant, _holder_facts(i).id, "bench-bank",
                        "individual", 1) for i in range(payments)]
    merchants = [Customer(key.participant, _merchant_facts(mcc).id, "bench-bank", "merchant", 1,
                          mcc=mcc)
                 for key, mcc in ((SHOP, _WHITELISTED_MCC), (STRANGER, _OFF_LIST_MCC))]
    return Customers.of([*holders, *merchants])


def run_ledger(database: str, payments: int, progress: Progress) -> SideResult:
    """Issue, label and distribute one voucher per holder, check the refusal, then time the
    holders' purchases at the whitelisted merchant, each submitted and committed alone."""
    progress(f"ledger: labelling and distributing {payments:,} vouchers…")
    store = SqlStore(database)
    try:
        token = TokenRef(store.deploy(CONTRACT.read_text(encoding="utf-8")), "VOUCHER")
        notary = Notary(store, REGISTRY, clock=lambda: NOW_S, directory=_customers(payments))
        try:
            held = _distribute(notary, token, payments)
            refusal = _ledger_refusal(notary, held[0], token)
            progress(f"ledger: timing {payments:,} purchases…")
            started = time.perf_counter()
            for index, (note, holder) in enumerate(held):
                signed = _purchase(note, holder, index, token, merchant=SHOP,
                                   mcc=_WHITELISTED_MCC)
                outcome = notary.submit(signed)
                if outcome.refusal is not None:
                    raise EngineError(f"ledger bench: purchase refused: {outcome.refusal}")
            seconds = time.perf_counter() - started
        finally:
            notary.close()
    finally:
        store.close()
    return SideResult(payments, seconds, refusal)


def _commit(notary: Notary, signed: SignedTransaction) -> list[Note]:
    """Commit a set-up transaction and return the notes it created."""
    outcome = notary.submit(signed)
    if outcome.refusal is not None:
        raise EngineError(f"ledger bench set-up refused: {outcome.refusal}")
    ids = [note_id(signed.id, i) for i in range(len(signed.transaction.outputs))]
    found = notary.store.notes(ids)
    return [found[i][0] for i in ids]


def _distribute(notary: Notary, token: TokenRef,
                payments: int) -> list[tuple[Note, KeyPair]]:
    """The central bank issues yen to the bank, which pays the agency; the agency labels it as
    VOUCHER and distributes one voucher note to each of `payments` holders."""
    total = payments * VOUCHER_YEN
    (issued,) = _commit(notary, sign(Transaction(
        "issue", (), (Output(BANK.participant, total, "JPY"),),
        Party("central-bank", "central_bank"), _BANK_FACTS, NOW_S, "issue"), [CENTRAL]))
    (paid,) = _commit(notary, sign(Transaction(
        "transfer", (issued.id,), (Output(AGENCY.participant, total, "JPY"),), _BANK_FACTS,
        _AGENCY_FACTS, NOW_S, "fund"), [BANK]))
    (pool,) = _commit(notary, sign(Transaction(
        "label", (paid.id,), (Output(AGENCY.participant, total, "JPY", token),),
        _AGENCY_FACTS, _AGENCY_FACTS, NOW_S, "label"), [AGENCY]))
    holders = [(_key(f"holder-{i}"), 1) for i in range(payments)]
    return distribute(notary, (AGENCY, _AGENCY_FACTS), pool, holders, VOUCHER_YEN)


def _purchase(note: Note, holder: KeyPair, index: int, token: TokenRef, *, merchant: KeyPair,
              mcc: int) -> SignedTransaction:
    """The holder pays PAYMENT_YEN to `merchant` (plain yen, released) and keeps the rest as
    VOUCHER; signed by the holder and co-signed by the holder's bank."""
    outputs = (Output(merchant.participant, PAYMENT_YEN, "JPY"),
               Output(holder.participant, note.amount_minor - PAYMENT_YEN, "JPY", token))
    return sign(Transaction("purchase", (note.id,), outputs, _holder_facts(index),
                            _merchant_facts(mcc), NOW_S, f"pay-{index}-{mcc}"), [holder, BANK])


def _ledger_refusal(notary: Notary, held: tuple[Note, KeyPair], token: TokenRef) -> str:
    """The notary's reason for refusing a purchase at a merchant off the whitelist."""
    note, holder = held
    outcome = notary.submit(_purchase(note, holder, 0, token, merchant=STRANGER,
                                     mcc=_OFF_LIST_MCC))
    if outcome.refusal is None:
        raise EngineError("ledger bench: the voucher paid a merchant off the whitelist")
    return outcome.refusal.reason
