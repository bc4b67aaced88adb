"""The Stablecoin contract on both chains: an ERC-20 whose issuer alone mints.

Method: deploy a fresh coin per test through the typed wrapper, drive it with new accounts, and
read balances, allowances and `Transfer` events back.
"""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from bridges.evm import Chain, ChainError, Stablecoin

ZERO_ADDRESS = "0x" + "00" * 20
YEN = 10**18


def test_the_coin_describes_itself(coin: Stablecoin, issuer: LocalAccount) -> None:
    """Name, symbol, 18 decimals and the issuer read back as deployed, with nothing minted."""
    assert (coin.name(), coin.symbol(), coin.decimals()) == ("Test Yen", "JPYT", 18)
    assert coin.issuer() == issuer.address
    assert coin.total_supply() == 0


def test_only_the_issuer_mints(chain: Chain, coin: Stablecoin, issuer: LocalAccount) -> None:
    """A stranger's mint reverts with the contract's reason; the issuer's mint credits the
    receiver, raises the supply and logs a Transfer from the zero address."""
    stranger = chain.new_account()
    with pytest.raises(ChainError) as refused:
        coin.mint(stranger, stranger.address, 5 * YEN)
    assert refused.value.code.name == "reverted"
    assert refused.value.reason == "only the issuer may mint"
    receipt = coin.mint(issuer, stranger.address, 5 * YEN)
    assert coin.balance_of(stranger.address) == coin.total_supply() == 5 * YEN
    [minted] = coin.transfers(receipt.block_number, receipt.block_number)
    assert (minted.sender, minted.receiver, minted.amount) == (ZERO_ADDRESS, stranger.address,
                                                               5 * YEN)
    assert minted.at.tx_hash == receipt.tx_hash


def test_transfers_move_balances_and_refuse_overdrafts(chain: Chain, coin: Stablecoin,
                                                       issuer: LocalAccount) -> None:
    """Transfer part of a balance, then try to send more than is left: the second reverts
    with `balance too low` and the balances stay as the first left them."""
    alice, bob = chain.new_account(), chain.new_account()
    coin.mint(issuer, alice.address, 10 * YEN)
    coin.transfer(alice, bob.address, 4 * YEN)
    with pytest.raises(ChainError, match="balance too low"):
        coin.transfer(alice, bob.address, 7 * YEN)
    assert (coin.balance_of(alice.address), coin.balance_of(bob.address)) == (6 * YEN, 4 * YEN)


def test_transfer_from_spends_the_allowance_only(chain: Chain, coin: Stablecoin,
                                                 issuer: LocalAccount) -> None:
    """An approved spender moves coins within its allowance, which shrinks; one wei beyond
    what is left reverts with `allowance too low`."""
    owner, spender, shop = chain.new_account(), chain.new_account(), chain.new_account()
    coin.mint(issuer, owner.address, 10 * YEN)
    coin.approve(owner, spender.address, 3 * YEN)
    coin.transfer_from(spender, owner.address, shop.address, 2 * YEN)
    assert coin.allowance(owner.address, spender.address) == YEN
    with pytest.raises(ChainError, match="allowance too low"):
        coin.transfer_from(spender, owner.address, shop.address, YEN + 1)
    assert coin.balance_of(shop.address) == 2 * YEN


def test_a_balance_reads_as_of_an_earlier_block(chain: Chain, coin: Stablecoin,
                                                issuer: LocalAccount) -> None:
    """Read a balance at the block of the mint after a later transfer: the old value comes
    back, the latest read shows the transfer."""
    alice, bob = chain.new_account(), chain.new_account()
    minted = coin.mint(issuer, alice.address, 10 * YEN)
    coin.transfer(alice, bob.address, 10 * YEN)
    assert coin.balance_of(alice.address, minted.block_number) == 10 * YEN
    assert coin.balance_of(alice.address) == 0


def test_a_negative_amount_is_refused_before_sending(chain: Chain, coin: Stablecoin,
                                                     issuer: LocalAccount) -> None:
    """A negative mint is refused as `bad_argument` without a transaction: the block number
    does not move."""
    before = chain.block_number()
    with pytest.raises(ChainError) as refused:
        coin.mint(issuer, issuer.address, -1)
    assert refused.value.code.name == "bad_argument"
    assert chain.block_number() == before
