#pragma version ^0.4.0
#pragma evm-version shanghai
"""
@title PurposeBoundVoucher
@notice A purpose-bound voucher in the style of ERC-7291, kept as a peer benchmark for Earmark's
        contracts: the issuer wraps the underlying stablecoin into voucher balances; a holder
        can only pay a merchant the issuer allowed, only before the expiry, and the merchant
        receives the underlying coin, unwrapped.
"""

from ethereum.ercs import IERC20

event Wrapped:
    holder: indexed(address)
    amount: uint256

event Paid:
    holder: indexed(address)
    merchant: indexed(address)
    amount: uint256

event MerchantSet:
    merchant: indexed(address)
    allowed: bool

underlying: public(address)
issuer: public(address)
expiry: public(uint256)
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
merchants: public(HashMap[address, bool])


@deploy
def __init__(underlying: address, issuer: address, expiry: uint256):
    self.underlying = underlying
    self.issuer = issuer
    self.expiry = expiry


@external
def set_merchant(merchant: address, allowed: bool):
    assert msg.sender == self.issuer, "only the issuer may set merchants"
    self.merchants[merchant] = allowed
    log MerchantSet(merchant=merchant, allowed=allowed)


@external
def wrap(holder: address, amount: uint256):
    assert msg.sender == self.issuer, "only the issuer may wrap"
    assert amount > 0, "amount must be positive"
    self.totalSupply += amount
    self.balanceOf[holder] += amount
    assert extcall IERC20(self.underlying).transferFrom(msg.sender, self, amount), \
        "transferFrom failed"
    log Wrapped(holder=holder, amount=amount)


@external
def pay(merchant: address, amount: uint256):
    assert self.merchants[merchant], "merchant not allowed"
    assert block.timestamp < self.expiry, "voucher expired"
    assert self.balanceOf[msg.sender] >= amount, "voucher balance too low"
    self.balanceOf[msg.sender] -= amount
    self.totalSupply -= amount
    assert extcall IERC20(self.underlying).transfer(merchant, amount), "transfer failed"
    log Paid(holder=msg.sender, merchant=merchant, amount=amount)
