#pragma version ^0.4.0
#pragma evm-version shanghai
"""
@title HashedTimelock
@notice Hashed timelock contracts for any ERC-20: the on-chain leg of an atomic swap. The locked
        tokens go to the receiver if the SHA-256 preimage of the hashlock is shown before the
        deadline, and back to the sender from the deadline on. Each swap settles once.
        A lock carries a 32-byte memo for the receiver (a bridge reads the ledger wallet to
        pay from it), which is part of the swap's id.
"""

from ethereum.ercs import IERC20

# A swap's state; 0 (no such swap) is the default of an unknown id.
OPEN: constant(uint8) = 1
CLAIMED: constant(uint8) = 2
REFUNDED: constant(uint8) = 3

struct Swap:
    sender: address
    receiver: address
    token: address
    amount: uint256
    hashlock: bytes32
    deadline: uint256
    state: uint8

event Locked:
    swap_id: indexed(bytes32)
    sender: indexed(address)
    receiver: indexed(address)
    token: address
    amount: uint256
    hashlock: bytes32
    deadline: uint256
    memo: bytes32

event Claimed:
    swap_id: indexed(bytes32)
    preimage: bytes32

event Refunded:
    swap_id: indexed(bytes32)

swaps: public(HashMap[bytes32, Swap])


@external
def lock(token: address, receiver: address, amount: uint256, hashlock: bytes32,
         deadline: uint256, memo: bytes32) -> bytes32:
    assert amount > 0, "amount must be positive"
    assert receiver != empty(address), "receiver is the zero address"
    assert deadline > block.timestamp, "deadline already passed"
    swap_id: bytes32 = keccak256(abi_encode(msg.sender, receiver, token, amount, hashlock,
                                            deadline, memo))
    assert self.swaps[swap_id].state == 0, "swap already exists"
    self.swaps[swap_id] = Swap(sender=msg.sender, receiver=receiver, token=token, amount=amount,
                               hashlock=hashlock, deadline=deadline, state=OPEN)
    assert extcall IERC20(token).transferFrom(msg.sender, self, amount), "transferFrom failed"
    log Locked(swap_id=swap_id, sender=msg.sender, receiver=receiver, token=token,
               amount=amount, hashlock=hashlock, deadline=deadline, memo=memo)
    return swap_id


@external
def claim(swap_id: bytes32, preimage: bytes32):
    swap: Swap = self.swaps[swap_id]
    assert swap.state == OPEN, "swap is not open"
    assert sha256(preimage) == swap.hashlock, "wrong preimage"
    assert block.timestamp < swap.deadline, "deadline passed"
    self.swaps[swap_id].state = CLAIMED
    assert extcall IERC20(swap.token).transfer(swap.receiver, swap.amount), "transfer failed"
    log Claimed(swap_id=swap_id, preimage=preimage)


@external
def refund(swap_id: bytes32):
    swap: Swap = self.swaps[swap_id]
    assert swap.state == OPEN, "swap is not open"
    assert block.timestamp >= swap.deadline, "deadline not reached"
    self.swaps[swap_id].state = REFUNDED
    assert extcall IERC20(swap.token).transfer(swap.sender, swap.amount), "transfer failed"
    log Refunded(swap_id=swap_id)
