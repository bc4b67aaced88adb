"""Setting up a bridge: its participant at the central bank, its token, its contracts on chain.

`provision` does what an FX provider and the central bank do once: the central bank registers
the bridge as an FX provider; the bridge deploys its bridged token's contract on the ledger; on
the chain, an issuer deploys the stablecoin and the bridge's operator deploys the vault. The
result is the bridge's configuration (`earmark bridge run --config FILE` reads it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from bridges.evm.chain import Chain, ChainConfig
from bridges.evm.contracts import HashedTimelock, Stablecoin, Vault
from dsl.money import exponent
from engine.keys import KeyPair
from node.bridge_config import BridgeConfig
from node.client import NodeClient
from node.messages import ContractUpload, RegisterParticipant, TokenWire

CHAIN_DECIMALS = 18


def bridged_token_source(name: str, token: str, currency: str) -> str:
    """The contract of a bridged token issued by the bridge `name`: open for transfers and
    purchases; what else it allows is the FX provider's to write."""
    return (f"contract {token.lower()}_bridged version 1\n"
            f'  "{token}: {currency} stablecoin bridged from an EVM chain by {name}."\n\n'
            f"token {token} {{\n  currency {currency}\n  issuer \"{name}\"\n  bridged\n}}\n\n"
            f"policy {token} {{\n  allow transfer\n  allow purchase\n  allow convert\n}}\n")


@dataclass(frozen=True, slots=True)
class Provisioned:
    """A bridge's configuration and the chain accounts a test or demo drives."""

    config: BridgeConfig
    issuer: LocalAccount  # mints the stablecoin on chain
    operator: LocalAccount


async def provision(central: NodeClient, chain: Chain, *, name: str, token: str,
                    currency: str, central_url: str, database: str,
                    chain_config: ChainConfig | None = None,
                    confirmations: int = 6, swap_margin_s: int = 900,
                    swap_window_min_s: int = 300) -> Provisioned:
    """Register, deploy and configure a new bridge; `central` is signed by the central bank."""
    seed = os.urandom(32).hex()
    key = KeyPair.from_seed(bytes.fromhex(seed))
    await central.register_participant(RegisterParticipant(name=name, role="fx_provider",
                                                           key=key.participant,
                                                           bridged=[currency]))
    async with NodeClient(central_url, key) as bridge:
        deployed = await bridge.upload_contract(ContractUpload(
            source=bridged_token_source(name, token, currency), filename=f"{token}.earmark"))
    issuer, operator = chain.new_account(), chain.new_account()
    coin = Stablecoin.deploy(chain, issuer, f"{currency} stablecoin", token)
    vault = Vault.deploy(chain, operator, coin.address, operator.address,
                         10 ** (CHAIN_DECIMALS - exponent(currency)))
    htlc = HashedTimelock.deploy(chain, operator)
    config = BridgeConfig(
        name=name, key_seed=seed, central_url=central_url, database=database,
        chain=chain_config or ChainConfig(), operator_key=operator.key.hex().removeprefix("0x"),
        stablecoin=coin.address, vault=vault.address, htlc=htlc.address,
        token=TokenWire(contract=deployed.hash, token=token), currency=currency,
        confirmations=confirmations, swap_margin_s=swap_margin_s,
        swap_window_min_s=swap_window_min_s)
    return Provisioned(config, issuer, operator)
