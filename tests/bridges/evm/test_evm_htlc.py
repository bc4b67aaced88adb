"""The HashedTimelock contract on both chains: claim with the preimage before the deadline,
refund from the deadline on, each swap settled once.

Method: a sender with minted coins approves a fresh timelock and locks an amount for a receiver
with a deadline one hour after the chain's current time; the clock is moved with
`Chain.advance_time` where a test needs the deadline behind it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from bridges.evm import (
    Chain,
    ChainError,
    HashedTimelock,
    Locked,
    Stablecoin,
    SwapState,
    SwapTerms,
    hashlock_of,
    swap_id_of,
)

YEN = 10**18
AMOUNT = 25 * YEN
HOUR_S = 3600
PREIMAGE = hashlib.sha256(b"earmark htlc test secret").digest()
MEMO = bytes.fromhex("5a" * 32)  # a ledger wallet, as a bridge reads it


@dataclass(frozen=True)
class Setup:
    """A locked swap and everyone around it."""

    chain: Chain
    coin: Stablecoin
    htlc: HashedTimelock
    sender: LocalAccount
    receiver: LocalAccount
    terms: SwapTerms
    locked: Locked


@pytest.fixture
def swap(chain: Chain, coin: Stablecoin, issuer: LocalAccount) -> Setup:
    """A swap of AMOUNT from a new sender to a new receiver, locked by PREIMAGE for an hour."""
    sender, receiver = chain.new_account(), chain.new_account()
    htlc = HashedTimelock.deploy(chain, sender)
    coin.mint(issuer, sender.address, 100 * YEN)
    coin.approve(sender, htlc.address, AMOUNT)
    terms = SwapTerms(token=coin.address, receiver=receiver.address, amount=AMOUNT,
                      hashlock=hashlock_of(PREIMAGE), deadline=chain.timestamp() + HOUR_S,
                      memo=MEMO)
    return Setup(chain, coin, htlc, sender, receiver, terms, htlc.lock(sender, terms))


def _reason(error: pytest.ExceptionInfo[ChainError]) -> str | None:
    assert error.value.code.name == "reverted"
    return error.value.reason


def test_lock_pulls_the_amount_and_names_the_swap(swap: Setup) -> None:
    """The lock moves AMOUNT into the contract, stores the terms as OPEN, and its id is the
    one `swap_id_of` computes off-chain; the Locked event carries the terms."""
    assert swap.locked.swap_id == swap_id_of(swap.sender.address, swap.terms)
    assert swap.coin.balance_of(swap.htlc.address) == AMOUNT
    stored = swap.htlc.swap(swap.locked.swap_id)
    assert (stored.state, stored.sender, stored.amount) == (SwapState.OPEN, swap.sender.address,
                                                            AMOUNT)
    assert (swap.locked.receiver, swap.locked.deadline, swap.locked.memo) == (
        swap.receiver.address, swap.terms.deadline, MEMO)
    [listed] = swap.htlc.locks(swap.locked.at.block_number, swap.locked.at.block_number)
    assert listed == swap.locked


def test_claim_with_the_preimage_pays_the_receiver(swap: Setup) -> None:
    """A claim with the right preimage pays the receiver, marks the swap CLAIMED, and the
    Claimed event publishes the preimage (what the other leg of the swap needs)."""
    receipt = swap.htlc.claim(swap.receiver, swap.locked.swap_id, PREIMAGE)
    assert swap.coin.balance_of(swap.receiver.address) == AMOUNT
    assert swap.htlc.swap(swap.locked.swap_id).state is SwapState.CLAIMED
    [claimed] = swap.htlc.claims(receipt.block_number, receipt.block_number)
    assert (claimed.swap_id, claimed.preimage) == (swap.locked.swap_id, PREIMAGE)


def test_a_wrong_preimage_is_refused(swap: Setup) -> None:
    """A claim with another 32-byte value reverts with `wrong preimage`; nothing moves."""
    with pytest.raises(ChainError) as refused:
        swap.htlc.claim(swap.receiver, swap.locked.swap_id, bytes(32))
    assert _reason(refused) == "wrong preimage"
    assert swap.coin.balance_of(swap.htlc.address) == AMOUNT


def test_claim_after_the_deadline_is_refused(swap: Setup) -> None:
    """Move the clock past the deadline: even the right preimage reverts with
    `deadline passed`."""
    swap.chain.advance_time(HOUR_S + 1)
    with pytest.raises(ChainError) as refused:
        swap.htlc.claim(swap.receiver, swap.locked.swap_id, PREIMAGE)
    assert _reason(refused) == "deadline passed"


def test_refund_waits_for_the_deadline(swap: Setup) -> None:
    """A refund before the deadline reverts with `deadline not reached`; after the clock moves
    past it, the refund pays the sender back, logs Refunded and marks the swap REFUNDED."""
    with pytest.raises(ChainError) as early:
        swap.htlc.refund(swap.sender, swap.locked.swap_id)
    assert _reason(early) == "deadline not reached"
    swap.chain.advance_time(HOUR_S + 1)
    receipt = swap.htlc.refund(swap.sender, swap.locked.swap_id)
    assert swap.coin.balance_of(swap.sender.address) == 100 * YEN
    assert swap.htlc.swap(swap.locked.swap_id).state is SwapState.REFUNDED
    [refunded] = swap.htlc.refunds(receipt.block_number, receipt.block_number)
    assert refunded.swap_id == swap.locked.swap_id


def test_a_swap_settles_once(swap: Setup) -> None:
    """After a claim, a second claim and a later refund both revert with `swap is not open`;
    the receiver was paid exactly once."""
    swap.htlc.claim(swap.receiver, swap.locked.swap_id, PREIMAGE)
    with pytest.raises(ChainError) as again:
        swap.htlc.claim(swap.receiver, swap.locked.swap_id, PREIMAGE)
    assert _reason(again) == "swap is not open"
    swap.chain.advance_time(HOUR_S + 1)
    with pytest.raises(ChainError) as refund:
        swap.htlc.refund(swap.sender, swap.locked.swap_id)
    assert _reason(refund) == "swap is not open"
    assert swap.coin.balance_of(swap.receiver.address) == AMOUNT


def test_the_same_lock_twice_is_refused(swap: Setup) -> None:
    """Locking identical terms again (same id) reverts with `swap already exists`, even with
    allowance to spare."""
    swap.coin.approve(swap.sender, swap.htlc.address, AMOUNT)
    with pytest.raises(ChainError) as refused:
        swap.htlc.lock(swap.sender, swap.terms)
    assert _reason(refused) == "swap already exists"


def test_the_memo_is_part_of_the_swap_id(swap: Setup) -> None:
    """The same terms under another memo are another swap: it locks beside the first, and its
    id is the one `swap_id_of` computes with that memo."""
    other = dataclasses.replace(swap.terms, memo=bytes(32))
    swap.coin.approve(swap.sender, swap.htlc.address, AMOUNT)
    locked = swap.htlc.lock(swap.sender, other)
    assert locked.swap_id == swap_id_of(swap.sender.address, other) != swap.locked.swap_id
    assert swap.coin.balance_of(swap.htlc.address) == 2 * AMOUNT


def test_an_unknown_swap_reads_as_unknown(swap: Setup) -> None:
    """A swap id never locked reads back with state UNKNOWN and a zero amount."""
    stored = swap.htlc.swap(bytes(32))
    assert (stored.state, stored.amount) == (SwapState.UNKNOWN, 0)
