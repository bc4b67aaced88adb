"""Typed wrappers over the four contracts the bridge ships (sources in `contracts/`).

`Stablecoin` is the ERC-20 coin; `HashedTimelock` the atomic-swap leg; `Vault` the bridge's
crash-safe vault; `PurposeBoundVoucher` the ERC-7291-style peer benchmark. Amounts are Python
ints in the token's smallest unit (wei for an 18-decimal coin); ids, references, hashlocks and
preimages are 32 `bytes`; addresses are text. A write is signed by the `LocalAccount` passed
first and returns the receipt once mined; every failure is a `ChainError`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum

from eth_abi.abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3.types import EventData

from bridges.evm.chain import BlockRef, Chain, Receipt, TxHash
from bridges.evm.deployed import Deployed, LogPosition, amount, bytes32, position
from bridges.evm.errors import internal


@dataclass(frozen=True, slots=True)
class Transfer:
    """An ERC-20 `Transfer`; a mint comes from the zero address."""

    sender: str
    receiver: str
    amount: int
    at: LogPosition


class Stablecoin(Deployed):
    """An 18-decimal ERC-20 that only its issuer can mint."""

    CONTRACT = "Stablecoin"

    @classmethod
    def deploy(cls, chain: Chain, issuer: LocalAccount, name: str, symbol: str) -> Stablecoin:
        """A new coin, deployed and issued by `issuer`."""
        return cls(chain, chain.deploy(issuer, cls.CONTRACT, name, symbol, issuer.address))

    def name(self) -> str:
        """The coin's name."""
        return str(self._read("name"))

    def symbol(self) -> str:
        """The coin's ticker symbol."""
        return str(self._read("symbol"))

    def decimals(self) -> int:
        """Decimal places of the coin (18)."""
        return int(self._read("decimals"))

    def issuer(self) -> str:
        """The only address that may mint."""
        return str(self._read("issuer"))

    def total_supply(self, ref: BlockRef = "latest") -> int:
        """Coins in existence as of block `ref`."""
        return int(self._read("totalSupply", ref=ref))

    def balance_of(self, holder: str, ref: BlockRef = "latest") -> int:
        """The balance of `holder` as of block `ref`."""
        return int(self._read("balanceOf", holder, ref=ref))

    def allowance(self, owner: str, spender: str, ref: BlockRef = "latest") -> int:
        """What `spender` may still move from `owner` as of block `ref`."""
        return int(self._read("allowance", owner, spender, ref=ref))

    def mint(self, issuer: LocalAccount, receiver: str, value: int) -> Receipt:
        """Create `value` coins for `receiver` (reverts unless signed by the issuer)."""
        return self._write(issuer, "mint", receiver, amount(value, "mint amount"))

    def transfer(self, sender: LocalAccount, receiver: str, value: int) -> Receipt:
        """Move `value` of the sender's coins to `receiver`."""
        return self._write(sender, "transfer", receiver, amount(value, "transfer amount"))

    def approve(self, owner: LocalAccount, spender: str, value: int) -> Receipt:
        """Let `spender` move up to `value` of the owner's coins."""
        return self._write(owner, "approve", spender, amount(value, "allowance"))

    def transfer_from(self, spender: LocalAccount, owner: str, receiver: str,
                      value: int) -> Receipt:
        """Move `value` of `owner`'s coins to `receiver` under the spender's allowance."""
        return self._write(spender, "transferFrom", owner, receiver,
                           amount(value, "transfer amount"))

    def transfers(self, from_block: int, to_block: int) -> list[Transfer]:
        """Every transfer (mints included) in blocks `from_block..to_block`."""
        return [Transfer(sender=str(log["args"]["sender"]), receiver=str(log["args"]["receiver"]),
                         amount=int(log["args"]["value"]), at=position(log))
                for log in self._logs("Transfer", from_block, to_block)]


class SwapState(IntEnum):
    """Where a hashed-timelock swap stands; UNKNOWN for an id never locked."""

    UNKNOWN = 0
    OPEN = 1
    CLAIMED = 2
    REFUNDED = 3


@dataclass(frozen=True, slots=True)
class Swap:
    """A swap as the hashed-timelock contract stores it."""

    sender: str
    receiver: str
    token: str
    amount: int
    hashlock: bytes
    deadline: int
    state: SwapState


@dataclass(frozen=True, slots=True)
class Locked:
    """A swap was opened: `amount` of `token` locked until `deadline` (seconds since the epoch)."""

    swap_id: bytes
    sender: str
    receiver: str
    token: str
    amount: int
    hashlock: bytes
    deadline: int
    memo: bytes
    at: LogPosition


@dataclass(frozen=True, slots=True)
class Claimed:
    """A swap was claimed by showing `preimage`, which is now public."""

    swap_id: bytes
    preimage: bytes
    at: LogPosition


@dataclass(frozen=True, slots=True)
class Refunded:
    """A swap was refunded to its sender after its deadline."""

    swap_id: bytes
    at: LogPosition


@dataclass(frozen=True, slots=True)
class SwapTerms:
    """What a sender locks: `amount` of `token` for `receiver`, opened by the preimage of
    `hashlock` before `deadline` (seconds since the epoch), with a 32-byte `memo` for the
    receiver (a bridge reads the ledger wallet to pay from it)."""

    token: str
    receiver: str
    amount: int
    hashlock: bytes
    deadline: int
    memo: bytes = bytes(32)


def hashlock_of(preimage: bytes) -> bytes:
    """The hashlock that `preimage` opens: its SHA-256, as the contract checks it."""
    return hashlib.sha256(bytes32(preimage, "preimage")).digest()


def swap_id_of(sender: str, terms: SwapTerms) -> bytes:
    """The id the contract gives the swap, known before it is sent: keccak256 of the ABI-encoded
    sender, receiver, token, amount, hashlock, deadline and memo."""
    encoded = encode(["address", "address", "address", "uint256", "bytes32", "uint256",
                      "bytes32"],
                     [sender, terms.receiver, terms.token, amount(terms.amount, "lock amount"),
                      bytes32(terms.hashlock, "hashlock"), amount(terms.deadline, "deadline"),
                      bytes32(terms.memo, "memo")])
    return keccak(encoded)


class HashedTimelock(Deployed):
    """Hashed timelocks for any ERC-20: claim with the preimage before the deadline, refund
    from the deadline on; each swap settles once."""

    CONTRACT = "HashedTimelock"

    @classmethod
    def deploy(cls, chain: Chain, deployer: LocalAccount) -> HashedTimelock:
        """A new hashed-timelock contract (it has no owner: `deployer` only pays the gas)."""
        return cls(chain, chain.deploy(deployer, cls.CONTRACT))

    def lock(self, sender: LocalAccount, terms: SwapTerms) -> Locked:
        """Lock the terms' amount from `sender`, who approved this contract to take it."""
        receipt = self._write(sender, "lock", terms.token, terms.receiver,
                              amount(terms.amount, "lock amount"),
                              bytes32(terms.hashlock, "hashlock"),
                              amount(terms.deadline, "deadline"), bytes32(terms.memo, "memo"))
        events = [self._locked(log) for log in self._logs_in("Locked", receipt)]
        if len(events) != 1:
            raise internal(f"lock {receipt.tx_hash} logged {len(events)} Locked events, not 1")
        return events[0]

    def claim(self, caller: LocalAccount, swap_id: bytes, preimage: bytes) -> Receipt:
        """Pay the swap to its receiver by showing the preimage (anyone may send it)."""
        return self._write(caller, "claim", bytes32(swap_id, "swap id"),
                           bytes32(preimage, "preimage"))

    def refund(self, caller: LocalAccount, swap_id: bytes) -> Receipt:
        """Pay the swap back to its sender, from the deadline on (anyone may send it)."""
        return self._write(caller, "refund", bytes32(swap_id, "swap id"))

    def swap(self, swap_id: bytes, ref: BlockRef = "latest") -> Swap:
        """The swap `swap_id` as of block `ref` (state UNKNOWN if it was never locked)."""
        stored = self._read("swaps", bytes32(swap_id, "swap id"), ref=ref)
        sender, receiver, token, value, hashlock, deadline, state = stored
        return Swap(sender=str(sender), receiver=str(receiver), token=str(token),
                    amount=int(value), hashlock=bytes(hashlock), deadline=int(deadline),
                    state=SwapState(int(state)))

    def locks(self, from_block: int, to_block: int) -> list[Locked]:
        """Every swap opened in blocks `from_block..to_block`."""
        return [self._locked(log) for log in self._logs("Locked", from_block, to_block)]

    def claims(self, from_block: int, to_block: int) -> list[Claimed]:
        """Every claim, with its preimage, in blocks `from_block..to_block`."""
        return [Claimed(swap_id=bytes(log["args"]["swap_id"]),
                        preimage=bytes(log["args"]["preimage"]), at=position(log))
                for log in self._logs("Claimed", from_block, to_block)]

    def refunds(self, from_block: int, to_block: int) -> list[Refunded]:
        """Every refund in blocks `from_block..to_block`."""
        return [Refunded(swap_id=bytes(log["args"]["swap_id"]), at=position(log))
                for log in self._logs("Refunded", from_block, to_block)]

    @staticmethod
    def _locked(log: EventData) -> Locked:
        args = log["args"]
        return Locked(swap_id=bytes(args["swap_id"]), sender=str(args["sender"]),
                      receiver=str(args["receiver"]), token=str(args["token"]),
                      amount=int(args["amount"]), hashlock=bytes(args["hashlock"]),
                      deadline=int(args["deadline"]), memo=bytes(args["memo"]),
                      at=position(log))


@dataclass(frozen=True, slots=True)
class Deposited:
    """Tokens deposited into the vault, with the depositor's 32-byte reference."""

    depositor: str
    amount: int
    reference: bytes
    at: LogPosition


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """A withdrawal the operator paid out of the vault."""

    withdrawal_id: bytes
    receiver: str
    amount: int
    at: LogPosition


class Vault(Deployed):
    """The bridge's vault for one ERC-20: deposits in whole ledger units, withdrawals by the
    operator only, each withdrawal id paid at most once."""

    CONTRACT = "Vault"

    @classmethod
    def deploy(cls, chain: Chain, deployer: LocalAccount, token: str, operator: str,
               unit: int) -> Vault:
        """A new vault for `token`; `unit` is the on-chain amount of one ledger minor unit."""
        return cls(chain, chain.deploy(deployer, cls.CONTRACT, token, operator,
                                       amount(unit, "unit")))

    def token(self) -> str:
        """The ERC-20 the vault holds."""
        return str(self._read("token"))

    def operator(self) -> str:
        """The only address that may withdraw."""
        return str(self._read("operator"))

    def unit(self) -> int:
        """The on-chain amount of one ledger minor unit; deposits are whole multiples of it."""
        return int(self._read("unit"))

    def backing(self, ref: BlockRef = "latest") -> int:
        """Deposits minus withdrawals as of block `ref` (plain transfers to the vault excluded)."""
        return int(self._read("backing", ref=ref))

    def is_paid(self, withdrawal_id: bytes, ref: BlockRef = "latest") -> bool:
        """Whether the withdrawal `withdrawal_id` was paid as of block `ref`."""
        return bool(self._read("paid", bytes32(withdrawal_id, "withdrawal id"), ref=ref))

    def deposit(self, depositor: LocalAccount, value: int, reference: bytes) -> Receipt:
        """Deposit `value` (approved to the vault before) under the 32-byte `reference`."""
        return self._write(depositor, "deposit", amount(value, "deposit amount"),
                           bytes32(reference, "reference"))

    def send_withdraw(self, operator: LocalAccount, withdrawal_id: bytes, receiver: str,
                      value: int) -> TxHash:
        """Broadcast a withdrawal and return its hash without waiting, so the bridge can
        record the hash first; re-sending the same id after a crash reverts, never pays."""
        function = self._function("withdraw", bytes32(withdrawal_id, "withdrawal id"), receiver,
                                  amount(value, "withdrawal amount"))
        return self.chain.send(operator, function)

    def withdraw(self, operator: LocalAccount, withdrawal_id: bytes, receiver: str,
                 value: int) -> Receipt:
        """Pay `value` to `receiver` under `withdrawal_id` and wait for the receipt."""
        return self.chain.wait(self.send_withdraw(operator, withdrawal_id, receiver, value))

    def deposits(self, from_block: int, to_block: int) -> list[Deposited]:
        """Every deposit in blocks `from_block..to_block`."""
        return [Deposited(depositor=str(log["args"]["depositor"]),
                          amount=int(log["args"]["amount"]),
                          reference=bytes(log["args"]["reference"]), at=position(log))
                for log in self._logs("Deposited", from_block, to_block)]

    def withdrawals(self, from_block: int, to_block: int) -> list[Withdrawn]:
        """Every withdrawal in blocks `from_block..to_block`."""
        return [Withdrawn(withdrawal_id=bytes(log["args"]["withdrawal_id"]),
                          receiver=str(log["args"]["receiver"]),
                          amount=int(log["args"]["amount"]), at=position(log))
                for log in self._logs("Withdrawn", from_block, to_block)]


@dataclass(frozen=True, slots=True)
class Paid:
    """A voucher payment: `amount` of the underlying coin went to `merchant`."""

    holder: str
    merchant: str
    amount: int
    at: LogPosition


class PurposeBoundVoucher(Deployed):
    """An ERC-7291-style purpose-bound voucher over a stablecoin: spendable only at merchants
    the issuer allows and only before the expiry."""

    CONTRACT = "PurposeBoundVoucher"

    @classmethod
    def deploy(cls, chain: Chain, issuer: LocalAccount, underlying: str,
               expiry: int) -> PurposeBoundVoucher:
        """A new voucher over `underlying`, issued by `issuer`, spendable until `expiry`."""
        return cls(chain, chain.deploy(issuer, cls.CONTRACT, underlying, issuer.address,
                                       amount(expiry, "expiry")))

    def expiry(self) -> int:
        """The first second (since the epoch) at which the voucher can no longer pay."""
        return int(self._read("expiry"))

    def is_merchant(self, merchant: str) -> bool:
        """Whether the issuer allows `merchant`."""
        return bool(self._read("merchants", merchant))

    def balance_of(self, holder: str, ref: BlockRef = "latest") -> int:
        """The voucher balance of `holder` as of block `ref`."""
        return int(self._read("balanceOf", holder, ref=ref))

    def set_merchant(self, issuer: LocalAccount, merchant: str, allowed: bool) -> Receipt:
        """Allow or bar `merchant` (issuer only)."""
        return self._write(issuer, "set_merchant", merchant, allowed)

    def wrap(self, issuer: LocalAccount, holder: str, value: int) -> Receipt:
        """Turn `value` of the issuer's coins (approved to the voucher) into the holder's
        voucher balance (issuer only)."""
        return self._write(issuer, "wrap", holder, amount(value, "wrap amount"))

    def pay(self, holder: LocalAccount, merchant: str, value: int) -> Receipt:
        """Pay `merchant` `value` in the underlying coin out of the holder's vouchers."""
        return self._write(holder, "pay", merchant, amount(value, "payment amount"))

    def payments(self, from_block: int, to_block: int) -> list[Paid]:
        """Every voucher payment in blocks `from_block..to_block`."""
        return [Paid(holder=str(log["args"]["holder"]), merchant=str(log["args"]["merchant"]),
                     amount=int(log["args"]["amount"]), at=position(log))
                for log in self._logs("Paid", from_block, to_block)]

