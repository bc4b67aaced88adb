"""The PurposeBoundVoucher contract on both chains (the ERC-7291-style peer benchmark): pay
only a merchant the issuer allows, only before the expiry, in the unwrapped coin.

Method: the issuer of a fresh coin deploys a voucher expiring one hour after the chain's
current time, wraps 50 yen for a holder and allows one merchant.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from bridges.evm import Chain, ChainError, PurposeBoundVoucher, Stablecoin

YEN = 10**18
HOUR_S = 3600


@dataclass(frozen=True)
class Setup:
    """A voucher with a holder of 50 yen and one allowed merchant."""

    chain: Chain
    coin: Stablecoin
    voucher: PurposeBoundVoucher
    issuer: LocalAccount
    holder: LocalAccount
    merchant: str


@pytest.fixture
def setup(chain: Chain, coin: Stablecoin, issuer: LocalAccount) -> Setup:
    """A voucher over `coin` expiring in an hour; 50 yen wrapped for a new holder."""
    holder, merchant = chain.new_account(), chain.new_account(funding_wei=0)
    voucher = PurposeBoundVoucher.deploy(chain, issuer, coin.address, chain.timestamp() + HOUR_S)
    coin.mint(issuer, issuer.address, 50 * YEN)
    coin.approve(issuer, voucher.address, 50 * YEN)
    voucher.wrap(issuer, holder.address, 50 * YEN)
    voucher.set_merchant(issuer, merchant.address, True)
    return Setup(chain, coin, voucher, issuer, holder, merchant.address)


def _reason(error: pytest.ExceptionInfo[ChainError]) -> str | None:
    assert error.value.code.name == "reverted"
    return error.value.reason


def test_the_voucher_pays_an_allowed_merchant_in_the_coin(setup: Setup) -> None:
    """Paying the allowed merchant moves the unwrapped coin to it and logs Paid; paying
    anyone else reverts with `merchant not allowed`."""
    receipt = setup.voucher.pay(setup.holder, setup.merchant, 20 * YEN)
    assert setup.coin.balance_of(setup.merchant) == 20 * YEN
    assert setup.voucher.balance_of(setup.holder.address) == 30 * YEN
    [paid] = setup.voucher.payments(receipt.block_number, receipt.block_number)
    assert (paid.holder, paid.merchant, paid.amount) == (setup.holder.address, setup.merchant,
                                                         20 * YEN)
    stranger = setup.chain.new_account(funding_wei=0)
    with pytest.raises(ChainError) as refused:
        setup.voucher.pay(setup.holder, stranger.address, YEN)
    assert _reason(refused) == "merchant not allowed"
    assert setup.coin.balance_of(stranger.address) == 0


def test_only_the_issuer_allows_merchants(setup: Setup) -> None:
    """A holder trying to allow itself as a merchant is refused; the issuer can bar the
    merchant again, after which paying it is refused too."""
    with pytest.raises(ChainError) as refused:
        setup.voucher.set_merchant(setup.holder, setup.holder.address, True)
    assert _reason(refused) == "only the issuer may set merchants"
    setup.voucher.set_merchant(setup.issuer, setup.merchant, False)
    assert not setup.voucher.is_merchant(setup.merchant)
    with pytest.raises(ChainError, match="merchant not allowed"):
        setup.voucher.pay(setup.holder, setup.merchant, YEN)


def test_the_voucher_is_refused_after_expiry(setup: Setup) -> None:
    """Move the clock past the expiry: paying even the allowed merchant reverts with
    `voucher expired` and the holder keeps the balance."""
    setup.chain.advance_time(HOUR_S + 1)
    with pytest.raises(ChainError) as refused:
        setup.voucher.pay(setup.holder, setup.merchant, YEN)
    assert _reason(refused) == "voucher expired"
    assert setup.voucher.balance_of(setup.holder.address) == 50 * YEN


def test_paying_more_than_the_voucher_balance_is_refused(setup: Setup) -> None:
    """A payment above the holder's voucher balance reverts with `voucher balance too low`."""
    with pytest.raises(ChainError) as refused:
        setup.voucher.pay(setup.holder, setup.merchant, 51 * YEN)
    assert _reason(refused) == "voucher balance too low"
