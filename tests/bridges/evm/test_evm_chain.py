"""The `Chain` client on both chains: blocks, confirmations, the reorg primitive, the clock,
receipts of failed transactions, accounts and log ranges.

Method: drive a chain of each kind through `Chain` only and a fresh coin, and compare what it
reports with what was done.
"""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

import bridges.evm.chain
from bridges.evm import Chain, ChainError, Stablecoin, TxHash

YEN = 10**18


def test_a_reverted_snapshot_drops_the_blocks_mined_since(chain: Chain, coin: Stablecoin,
                                                          issuer: LocalAccount) -> None:
    """Snapshot, mint (one confirmation), revert: the mint's block is gone, its receipt has no
    confirmations and the balance is as before — the chain reorganisation a bridge must see."""
    snapshot = chain.snapshot()
    before = chain.block_number()
    receipt = coin.mint(issuer, issuer.address, 7 * YEN)
    assert chain.confirmations(receipt) == 1
    assert chain.block(receipt.block_number) is not None
    chain.revert(snapshot)
    assert chain.block_number() == before
    assert chain.block(receipt.block_number) is None
    assert chain.confirmations(receipt) == 0
    assert coin.balance_of(issuer.address) == 0


def test_a_snapshot_is_used_once(chain: Chain) -> None:
    """Reverting twice to one snapshot is refused as `bad_argument` on both chains."""
    snapshot = chain.snapshot()
    chain.mine()
    chain.revert(snapshot)
    with pytest.raises(ChainError) as refused:
        chain.revert(snapshot)
    assert refused.value.code.name == "bad_argument"


def test_confirmations_grow_with_each_block(chain: Chain, coin: Stablecoin,
                                            issuer: LocalAccount) -> None:
    """A receipt's confirmations go from 1 to 4 after three blocks are mined, and the block
    above links to the receipt's block by its parent hash."""
    receipt = coin.mint(issuer, issuer.address, YEN)
    chain.mine(3)
    assert chain.confirmations(receipt) == 4
    above = chain.block(receipt.block_number + 1)
    assert above is not None and above.parent_hash == receipt.block_hash


def test_advance_time_moves_the_clock_forward(chain: Chain) -> None:
    """After advancing an hour, the newest block is stamped at least an hour later, and a
    clock moved backwards is refused."""
    before = chain.timestamp()
    chain.advance_time(3600)
    assert chain.timestamp() >= before + 3600
    with pytest.raises(ChainError, match="only moves forward"):
        chain.advance_time(0)


def test_wait_names_the_reason_of_a_mined_revert(chain: Chain, coin: Stablecoin) -> None:
    """A mint by a stranger, forced into a block with a fixed gas limit, fails on chain:
    `wait` raises `reverted` with the contract's reason, found by replaying it."""
    stranger = chain.new_account()
    mint = coin.contract.functions.mint(stranger.address, YEN)
    tx_hash = chain.send(stranger, mint, gas_limit=200_000)
    with pytest.raises(ChainError) as failed:
        chain.wait(tx_hash)
    assert failed.value.code.name == "reverted"
    assert failed.value.reason == "only the issuer may mint"


def test_wait_gives_up_on_an_unknown_transaction(chain: Chain) -> None:
    """Waiting a fifth of a second for a hash nobody sent raises `not_confirmed`."""
    with pytest.raises(ChainError) as missing:
        chain.wait(TxHash("0x" + "ab" * 32), timeout_s=0.2)
    assert missing.value.code.name == "not_confirmed"


def test_new_accounts_are_funded_and_keys_round_trip(chain: Chain) -> None:
    """A new account holds the requested ether; its key gives the same address back; a key
    that is not one is refused as `bad_argument`."""
    account = chain.new_account(funding_wei=12345)
    assert chain.balance(account.address) == 12345
    assert Chain.account(account.key).address == account.address
    with pytest.raises(ChainError) as refused:
        Chain.account("0x1234")
    assert refused.value.code.name == "bad_argument"


def test_logs_are_read_in_bounded_spans(chain: Chain, coin: Stablecoin, issuer: LocalAccount,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the span limit lowered to two blocks, five mints in five blocks are all found,
    in order; a reversed range is refused as `bad_argument`."""
    monkeypatch.setattr(bridges.evm.chain, "LOG_BLOCK_SPAN_MAX", 2)
    first = coin.mint(issuer, issuer.address, 1).block_number
    for value in range(2, 6):
        coin.mint(issuer, issuer.address, value)
    found = coin.transfers(first, chain.block_number())
    assert [transfer.amount for transfer in found] == [1, 2, 3, 4, 5]
    with pytest.raises(ChainError) as refused:
        coin.transfers(first + 1, first)
    assert refused.value.code.name == "bad_argument"


def test_the_chain_reports_its_kind_and_id(chain: Chain) -> None:
    """The embedded chain and ganache report their kind and their own chain ids."""
    expected = {"embedded": 131277322940537, "json-rpc": 1337}
    assert chain.chain_id == expected[chain.kind]
