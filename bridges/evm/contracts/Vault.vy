#pragma version ^0.4.0
#pragma evm-version shanghai
"""
@title Vault
@notice The bridge's vault for one ERC-20. Deposits of whole ledger minor units are recorded with
        the depositor's reference; only the operator withdraws, and each withdrawal id pays at
        most once, so a re-broadcast after a crash of the off-chain bridge can never pay twice.
        `backing` counts deposits minus withdrawals only: tokens sent by plain transfer do not
        back anything.
"""

from ethereum.ercs import IERC20

event Deposited:
    depositor: indexed(address)
    amount: uint256
    reference: indexed(bytes32)

event Withdrawn:
    withdrawal_id: indexed(bytes32)
    receiver: indexed(address)
    amount: uint256

token: public(address)
operator: public(address)
# The on-chain amount of one ledger minor unit (10**18 for JPY on an 18-decimal coin).
unit: public(uint256)
backing: public(uint256)
paid: public(HashMap[bytes32, bool])


@deploy
def __init__(token: address, operator: address, unit: uint256):
    assert unit > 0, "unit must be positive"
    self.token = token
    self.operator = operator
    self.unit = unit


@external
def deposit(amount: uint256, reference: bytes32):
    assert amount > 0, "amount must be positive"
    assert amount % self.unit == 0, "amount is not a whole number of units"
    self.backing += amount
    assert extcall IERC20(self.token).transferFrom(msg.sender, self, amount), "transferFrom failed"
    log Deposited(depositor=msg.sender, amount=amount, reference=reference)


@external
def withdraw(withdrawal_id: bytes32, receiver: address, amount: uint256):
    assert msg.sender == self.operator, "only the operator may withdraw"
    assert not self.paid[withdrawal_id], "withdrawal already paid"
    assert amount <= self.backing, "backing too low"
    self.paid[withdrawal_id] = True
    self.backing -= amount
    assert extcall IERC20(self.token).transfer(receiver, amount), "transfer failed"
    log Withdrawn(withdrawal_id=withdrawal_id, receiver=receiver, amount=amount)
