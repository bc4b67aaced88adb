"""The Vault contract on both chains: deposits in whole ledger units, operator-only
withdrawals, each withdrawal id paid at most once, and a backing that counts deposits only.

Method: deploy a fresh coin and a vault whose unit is one yen (10**18, JPY has no minor
digits) per test; a depositor holds minted coins and approves the vault.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from bridges.evm import Chain, ChainError, Stablecoin, Vault

YEN = 10**18
REFERENCE = b"ledger-deposit-0001".ljust(32, b"\0")
WITHDRAWAL_ID = b"ledger-withdrawal-0001".ljust(32, b"\0")


@dataclass(frozen=True)
class Setup:
    """A vault, its coin, its operator and a depositor who approved it 100 yen."""

    chain: Chain
    coin: Stablecoin
    vault: Vault
    operator: LocalAccount
    depositor: LocalAccount


@pytest.fixture
def setup(chain: Chain, coin: Stablecoin, issuer: LocalAccount) -> Setup:
    """A fresh vault of `coin` with unit one yen, and a depositor holding 100 yen."""
    operator, depositor = chain.new_account(), chain.new_account()
    vault = Vault.deploy(chain, operator, coin.address, operator.address, YEN)
    coin.mint(issuer, depositor.address, 100 * YEN)
    coin.approve(depositor, vault.address, 100 * YEN)
    return Setup(chain, coin, vault, operator, depositor)


def _reason(error: pytest.ExceptionInfo[ChainError]) -> str | None:
    assert error.value.code.name == "reverted"
    return error.value.reason


def test_the_vault_reads_back_as_deployed(setup: Setup) -> None:
    """Token, operator and unit read back as deployed; nothing backs it yet."""
    vault = setup.vault
    assert (vault.token(), vault.operator(), vault.unit()) == (setup.coin.address,
                                                               setup.operator.address, YEN)
    assert vault.backing() == 0


def test_deposits_come_in_whole_units_with_their_reference(setup: Setup) -> None:
    """Half a yen and zero are refused with the contract's reasons; three yen are taken,
    counted in `backing` and logged with the depositor and the reference."""
    with pytest.raises(ChainError) as fraction:
        setup.vault.deposit(setup.depositor, YEN // 2, REFERENCE)
    assert _reason(fraction) == "amount is not a whole number of units"
    with pytest.raises(ChainError) as zero:
        setup.vault.deposit(setup.depositor, 0, REFERENCE)
    assert _reason(zero) == "amount must be positive"
    receipt = setup.vault.deposit(setup.depositor, 3 * YEN, REFERENCE)
    assert setup.vault.backing() == setup.coin.balance_of(setup.vault.address) == 3 * YEN
    [deposit] = setup.vault.deposits(receipt.block_number, receipt.block_number)
    assert (deposit.depositor, deposit.amount, deposit.reference) == (setup.depositor.address,
                                                                      3 * YEN, REFERENCE)
    assert (deposit.at.tx_hash, deposit.at.block_hash) == (receipt.tx_hash, receipt.block_hash)


def test_only_the_operator_withdraws(setup: Setup) -> None:
    """The depositor's withdrawal reverts with `only the operator may withdraw`; the
    operator's pays the receiver, lowers the backing, marks the id paid and logs Withdrawn."""
    setup.vault.deposit(setup.depositor, 10 * YEN, REFERENCE)
    receiver = setup.chain.new_account(funding_wei=0)
    with pytest.raises(ChainError) as refused:
        setup.vault.withdraw(setup.depositor, WITHDRAWAL_ID, receiver.address, 4 * YEN)
    assert _reason(refused) == "only the operator may withdraw"
    assert not setup.vault.is_paid(WITHDRAWAL_ID)
    receipt = setup.vault.withdraw(setup.operator, WITHDRAWAL_ID, receiver.address, 4 * YEN)
    assert setup.coin.balance_of(receiver.address) == 4 * YEN
    assert setup.vault.backing() == 6 * YEN
    assert setup.vault.is_paid(WITHDRAWAL_ID)
    [withdrawn] = setup.vault.withdrawals(receipt.block_number, receipt.block_number)
    assert (withdrawn.withdrawal_id, withdrawn.receiver, withdrawn.amount) == (
        WITHDRAWAL_ID, receiver.address, 4 * YEN)


def test_a_withdrawal_id_pays_once_even_when_resent(setup: Setup) -> None:
    """Send a withdrawal, then resend the same id as a bridge restarting after a crash would:
    the resend reverts with `withdrawal already paid` (at estimation, and also when forced
    into a block with a fixed gas limit), and the receiver is paid once."""
    setup.vault.deposit(setup.depositor, 10 * YEN, REFERENCE)
    receiver = setup.chain.new_account(funding_wei=0)
    first = setup.vault.send_withdraw(setup.operator, WITHDRAWAL_ID, receiver.address, 4 * YEN)
    setup.chain.wait(first)
    with pytest.raises(ChainError) as resent:
        setup.vault.withdraw(setup.operator, WITHDRAWAL_ID, receiver.address, 4 * YEN)
    assert _reason(resent) == "withdrawal already paid"
    forced = setup.chain.send(setup.operator, setup.vault.contract.functions.withdraw(
        WITHDRAWAL_ID, receiver.address, 4 * YEN), gas_limit=200_000)
    with pytest.raises(ChainError) as mined:
        setup.chain.wait(forced)
    assert _reason(mined) == "withdrawal already paid"
    assert setup.coin.balance_of(receiver.address) == 4 * YEN
    assert setup.vault.backing() == 6 * YEN


def test_plain_transfers_do_not_back_anything(setup: Setup) -> None:
    """Coins sent to the vault by plain transfer raise its token balance but not `backing`,
    and the operator cannot withdraw them: `backing too low`."""
    setup.vault.deposit(setup.depositor, 2 * YEN, REFERENCE)
    setup.coin.transfer(setup.depositor, setup.vault.address, 5 * YEN)
    assert setup.coin.balance_of(setup.vault.address) == 7 * YEN
    assert setup.vault.backing() == 2 * YEN
    with pytest.raises(ChainError) as refused:
        setup.vault.withdraw(setup.operator, WITHDRAWAL_ID, setup.operator.address, 3 * YEN)
    assert _reason(refused) == "backing too low"
