"""The client, the agency and the wallet commands against the real nodes, end to end.

Method: `bank_network` serves a real central bank and commercial bank in-process (TestServer on
127.0.0.1); the ministry labels and distributes health money with `node.ledger_wallet`, customers
pay with `NodeClient.pay`, and the `earmark wallet` commands run as subprocesses against the same
bank (started with asyncio's subprocesses, so the servers keep answering meanwhile).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
import tomli_w
from bank_network import ABA, CENTRAL, MINISTRY, Network, key, network

from dsl.facts import Party
from engine.ids import ContractHash
from engine.keys import KeyPair
from engine.model import TokenRef
from engine.wallet import Payment, build_payment, sign
from node.client import ClientError, NodeClient
from node.ledger_wallet import LedgerWallet
from node.messages import (
    ContractUpload,
    DirectoryQuery,
    Distribution,
    NotesQuery,
    OpenCustomer,
    Page,
    PaymentRequest,
    PayTo,
    RegisterParticipant,
    Reverify,
    TokenWire,
    TransactionBatch,
)
from node.wire import note_from_wire, signed_to_wire

CONTRACT = Path(__file__).parents[2] / "contracts" / "health_benefit.earmark"
REPO_ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 120
MINISTRY_NAME = "ministry-of-health"


async def fund_the_ministry(net: Network) -> TokenRef:
    """Register the ministry, deploy health_benefit, and have the bank pay it 100 000 KZT."""
    async with NodeClient(net.central_url, CENTRAL) as central:
        await central.register_participant(
            RegisterParticipant(name=MINISTRY_NAME, role="agency", key=MINISTRY.participant))
    async with NodeClient(net.central_url, MINISTRY) as ministry:
        deployed = await ministry.upload_contract(ContractUpload(source=CONTRACT.read_text()))
    async with NodeClient(net.central_url, ABA) as bank:
        notes = await bank.notes(NotesQuery(owner=ABA.participant, currency="KZT"))
        payment = Payment(100_000, "KZT", None, MINISTRY.participant,
                          Party(MINISTRY_NAME, "agency"))
        transaction = build_payment(payment, [note_from_wire(notes.items[0])],
                                    Party("aba", "bank"), ABA.participant,
                                    created_at_s=int(time.time()), nonce="fund")
        answer = await bank.submit_transactions(
            TransactionBatch(transactions=[signed_to_wire(sign(transaction, (ABA,)))]))
    assert answer.outcomes[0].status == "committed", answer
    return TokenRef(ContractHash(deployed.hash), "HEALTH")


async def open_customers(net: Network) -> dict[str, KeyPair]:
    """alice and bob (individuals) and a clinic (merchant, MCC 8062), opened by the operator."""
    wallets = {name: key(name) for name in ("alice", "bob", "clinic")}
    async with NodeClient(net.bank_url, ABA) as operator:
        for name, wallet in wallets.items():
            merchant = name == "clinic"
            await operator.open_customer(OpenCustomer(
                name=name, display_name=f"{name.title()} Chan", key=wallet.participant,
                role="merchant" if merchant else "individual", mcc=8062 if merchant else 0,
                kyc_tier=2))
    return wallets


def test_agency_and_customer_flows_on_real_nodes(tmp_path: Path) -> None:
    """The ministry labels and distributes; alice pays the clinic (committed, released to
    plain money), and a gift to bob is refused by the contract's rule, named in ClientError."""
    async def scenario() -> None:
        async with network(tmp_path) as net:
            health = await fund_the_ministry(net)
            wallets = await open_customers(net)
            async with NodeClient(net.central_url, MINISTRY) as client:
                ministry = LedgerWallet(client, MINISTRY_NAME)
                labelled = await ministry.label(health, 80_000, "KZT")
                given = await ministry.distribute(DirectoryQuery(account="alice@aba"), health,
                                                  50_000, "KZT")
                left = await client.balances(MINISTRY.participant)
            assert (labelled.status, given.status) == ("committed", "committed"), given
            assert {(b.token.token if b.token else None): b.amount_minor
                    for b in left.balances} == {"HEALTH": 30_000, None: 20_000}
            token = TokenWire(contract=health.contract, token="HEALTH")
            async with NodeClient(net.bank_url, wallets["alice"]) as alice:
                paid = await alice.pay(PaymentRequest(
                    to=PayTo(account="clinic@aba"), currency="KZT", amount_minor=3_000,
                    token=token))
                with pytest.raises(ClientError) as gift:
                    await alice.pay(PaymentRequest(to=PayTo(account="bob@aba"),
                                                   currency="KZT", amount_minor=1_000,
                                                   token=token))
                held = await alice.customer_balances("alice@aba")
                history = await alice.customer_payments("alice@aba", Page(limit=10))
            assert paid.status == "committed"
            assert (gift.value.status, gift.value.code) == (422, "purpose_not_allowed")
            assert gift.value.rule is not None
            assert gift.value.rule["contract"] == "health_benefit"
            assert gift.value.reason
            assert [(b.amount_minor, b.token) for b in held.balances] == [(47_000, token)]
            # Both within one second: the order between them is the bank's to choose.
            assert sorted(p.status for p in history.items if p.kind == "payment") == [
                "committed", "refused"]
    asyncio.run(scenario())


async def earmark(*arguments: str | Path) -> tuple[int, str, str]:
    """`python -m node.cli` with `arguments`, without blocking the servers' event loop."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "node.cli", *map(str, arguments), cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT_S)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def write_wallet(path: Path, wallet: KeyPair) -> Path:
    """A wallet key file as `earmark wallet new` writes it, for a known key."""
    path.write_text(tomli_w.dumps({"key_seed": wallet.signing_key.encode().hex(),
                                   "public_key": wallet.participant}))
    return path


def test_wallet_commands_on_a_real_bank(tmp_path: Path) -> None:
    """`wallet pay` shows the debit and payee and commits; after the operator lowers the KYC
    tier, a payment over its limit exits 1 with the code; `wallet balance` and `wallet history`
    show what happened."""
    async def scenario() -> None:
        async with network(tmp_path) as net:
            wallets = await open_customers(net)
            async with NodeClient(net.bank_url, ABA) as operator:
                await operator.distribute(Distribution(account="alice@aba", currency="KHR",
                                                       amount_minor=500_000))
            alice = write_wallet(tmp_path / "alice.key", wallets["alice"])
            paying = ("wallet", "pay", "--key", alice, "--bank", net.bank_url)
            code, out, err = await earmark(*paying, "--to", "bob@aba", "--amount", "12.50 KHR")
            assert code == 0, err
            assert "debit 12.50 KHR to B" in out
            assert "(bob@aba) by transfer" in out
            assert out.strip().splitlines()[-1].startswith("committed: payment ")
            async with NodeClient(net.bank_url, ABA) as operator:
                lowered = await operator.reverify("alice@aba", Reverify(kyc_tier=1))
            assert lowered.kyc_tier == 1
            code, out, err = await earmark(*paying, "--to", "bob@aba", "--amount", "4000 KHR")
            assert code == 1
            assert "kyc_limit_exceeded" in err
            common = ("--key", alice, "--bank", net.bank_url, "--account", "alice@aba")
            code, out, err = await earmark("wallet", "balance", *common)
            assert (code, out.strip()) == (0, "4_987.50 KHR in 1 notes"), err
            code, out, err = await earmark("wallet", "history", *common)
            assert code == 0, err
            assert "bob@aba  committed" in out
    asyncio.run(scenario())
