"""An EVM bridge's configuration file (TOML): its ledger identity, its chain and contracts.

The bridge is an FX provider on the ledger (its Ed25519 key issues and redeems the bridged
token) and the operator of a vault on an EVM chain (its secp256k1 key withdraws). Both keys live
in this file, written readable by its owner alone (`node.config.write`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from bridges.evm.chain import ChainConfig
from engine.keys import KeyPair
from engine.validate import CLOCK_SKEW_MAX_S
from node.config import Hex64, Name, database_near, read
from node.messages import TokenWire

Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
CONFIRMATIONS_MAX = 1_000
POLL_INTERVAL_S_MAX = 60.0
SWAP_SECONDS_MAX = 7 * 24 * 3600
PORT_MAX = 65_535


class BridgeConfig(BaseModel):
    """Everything `earmark bridge run` needs."""

    model_config = ConfigDict(extra="forbid")
    name: Name  # the FX provider's participant name: the bridged token's issuer
    key_seed: Hex64
    central_url: str
    database: str
    chain: ChainConfig = Field(default_factory=ChainConfig)
    operator_key: Hex64  # the vault operator's EVM private key
    stablecoin: Address
    vault: Address
    htlc: Address  # the hashed-timelock contract that holds the on-chain leg of swaps
    token: TokenWire  # the bridged token on the ledger
    currency: str
    confirmations: int = Field(default=6, ge=1, le=CONFIRMATIONS_MAX)
    poll_interval_s: float = Field(default=1.0, gt=0, le=POLL_INTERVAL_S_MAX)
    # A signed ledger transaction is resubmitted as it is until the notary would refuse its
    # time; only after this much more is it certainly dead and signed anew.
    resign_after_s: int = Field(default=CLOCK_SKEW_MAX_S + 60, gt=CLOCK_SKEW_MAX_S)
    # Swap deadlines are ordered: the leg the bridge locks ends this long before the leg it
    # takes, so once the preimage is revealed on its leg the bridge has this long to claim
    # the other. It must cover the polling interval, the confirmations and the clocks' skew.
    swap_margin_s: int = Field(default=900, ge=1, le=SWAP_SECONDS_MAX)
    # The least time the counterparty must have left to claim the leg the bridge would lock;
    # a swap offering less is declined, and its sender refunds it at its deadline.
    swap_window_min_s: int = Field(default=300, ge=1, le=SWAP_SECONDS_MAX)
    # The bridge's HTTP API (`node.bridge_service`), served by `earmark bridge run` beside its
    # passes; port 0 serves no API (the passes run alone).
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=PORT_MAX)

    @property
    def key(self) -> KeyPair:
        """The bridge's ledger key."""
        return KeyPair.from_seed(bytes.fromhex(self.key_seed))


def load_bridge(path: Path) -> BridgeConfig:
    """The bridge configuration in `path`; a relative SQLite path counts from its folder."""
    config = read(path, BridgeConfig)
    return config.model_copy(update={"database": database_near(config.database, path)})
