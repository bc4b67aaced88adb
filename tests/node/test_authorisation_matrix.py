"""The authorisation matrix: every route each service declares, called by every kind of caller
on its own resources, on others' and on ones that do not exist, against the answers written in
`MATRIX` (architecture invariant 7, issue 21).

Method: each service is served in process by an existing harness, with a small cast on top:
`bank_network.network` serves the central bank and the commercial bank `aba`, `hub_world`
serves the hub and the FX provider `acleda-fx` (with the partner switch and the central bank it
needs), `bridged_world` the EVM bridge service. The callers are the same nine keys everywhere:
the central bank, bank A (`aba`, whose operator key serves the bank), bank B (`wing`), an
agency, an FX provider, the hub (registered as an agency, as the hub world registers it), a
customer of A (`dara@aba`), a customer of B (`carol@wing`) and a key registered nowhere. The
resources are named after their owner (the callers, and `neighbour`, a second customer of A,
`bob@aba`), `any` where a route reads or changes nothing of anyone's, and `nothing` for an id or
key that exists nowhere. The hub quotes only for senders registered on the source ledger, so
its payments are the customers'; an FX provider's quotes and legs are the hub's. Requests are
signed as every client signs them (`bank_network.Caller`).

The routes are read from each running service's /openapi.json, which `node.api.Api` writes from
the route declarations themselves: a declared route without an entry in `MATRIX` fails, as does
an entry for a route no longer declared. `test_every_service_that_declares_routes_is_here`
finds every `Api(` in node/, so a new service cannot escape either.

The order of the checks every request meets, and which this matrix holds each route to:

1. authentication (signed routes): 401 before anything else;
2. the shape of the body and the query against the declared model: 400 `invalid_request`.
   It comes before authorisation on purpose: it judges the request alone against the schema
   every caller can read in /openapi.json, so a stranger learns nothing of the state from it.
   The bodies here are well formed, so that every request reaches authorisation;
3. authorisation: 403, or 404 where a route hides what is not the caller's as absent, decided
   before anything that depends on what exists;
4. the operation: what exists and the rules (404, 409, 422), then the declared 2xx.

A refusal never reveals whether the thing exists: on each route, every refusal a caller meets
(on others' resources and on ones that exist nowhere) is the same answer, status and problem
document alike (but for its `instance`, the path). The hub's payment routes, where a leak was
found once (403 for another's payment, 404 for none), are checked for it on their own too.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from bank_network import ABA, CENTRAL, MINISTRY, Answer, Caller, key, network
from bridged_world import bridged_world, fund, lock_to_bridge, settle
from hub_world import HUB as HUB_KEY
from hub_world import TEA_SHOP, hub_world, provider_key

from dsl.facts import Party
from engine.encoding import note_id, signing_bytes
from engine.ids import NoteId, TxId
from engine.model import Transaction
from engine.wallet import sign
from node.bridge_service import build_bridge_app
from node.client import NodeClient
from node.ledger_wallet import LedgerWallet
from node.wire import signed_to_wire

NODE = Path(__file__).parents[2] / "node"
CONTRACT = Path(__file__).parents[2] / "contracts" / "health_benefit.earmark"

# ---- the cast -----------------------------------------------------------------------------------

CENTRAL_BANK, BANK_A, BANK_B, AGENCY, FX, HUB = ("central", "bank_a", "bank_b", "agency", "fx",
                                                 "hub")
CUSTOMER_A, CUSTOMER_B, STRANGER = "customer_a", "customer_b", "stranger"
CALLERS: Final = (CENTRAL_BANK, BANK_A, BANK_B, AGENCY, FX, HUB, CUSTOMER_A, CUSTOMER_B,
                  STRANGER)
NEIGHBOUR, ANY, NOTHING = "neighbour", "any", "nothing"
KEYS: Final = {CENTRAL_BANK: CENTRAL, BANK_A: ABA, BANK_B: key("wing"), AGENCY: MINISTRY,
               FX: provider_key("acleda-fx"), HUB: HUB_KEY, CUSTOMER_A: key("dara"),
               CUSTOMER_B: key("carol"), STRANGER: key("stranger"), NEIGHBOUR: key("bob")}
PARTICIPANTS: Final = {CENTRAL_BANK: ("national-bank", "central_bank"), BANK_A: ("aba", "bank"),
                       BANK_B: ("wing", "bank"), AGENCY: ("ministry-of-health", "agency"),
                       FX: ("acleda-fx", "fx_provider"), HUB: ("hub", "agency")}
BANKS: Final = {BANK_A: "aba", BANK_B: "wing"}
# The wallets as their banks registered them, so that registering one again changes nothing.
WALLETS: Final[dict[str, dict[str, Any]]] = {
    CUSTOMER_A: {"account": "dara@aba", "display_name": "Dara Chan", "role": "individual",
                 "kyc": 2},
    NEIGHBOUR: {"account": "bob@aba", "display_name": "Bob Chan", "role": "individual",
                "kyc": 2},
    CUSTOMER_B: {"account": "carol@wing", "display_name": "Carol Sok", "role": "individual",
                 "kyc": 1}}
CUSTOMERS_OF: Final = {BANK_A: {CUSTOMER_A, NEIGHBOUR}, BANK_B: {CUSTOMER_B}}
REGISTERED: Final = (*PARTICIPANTS, CUSTOMER_A, CUSTOMER_B, NEIGHBOUR)  # every registered key
OWNERS: Final = (*REGISTERED, NOTHING)  # owners of notes and transactions, and none
KEY_OWNERS: Final = (*REGISTERED, STRANGER, NOTHING)  # keys, one registered nowhere, a fresh one
ACCOUNTS: Final = (CUSTOMER_A, NEIGHBOUR, CUSTOMER_B, NOTHING)
NONE_64: Final = "0" * 64


# ---- what a cell expects ------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """An expected answer: the route's declared 2xx (`ok`), its refusal to a caller who may not
    (`denied`, 403; `hidden`, 404 where the route hides others' things as absent), a 404 to a
    caller entitled to know there is no such thing (`absent`), or a rule's refusal."""

    kind: str
    status: int = 0
    code: str = ""

    @property
    def refusal(self) -> bool:
        """Whether this is an authorisation's refusal, which must teach nothing."""
        return self.kind in ("denied", "hidden")


OK, DENIED, HIDDEN, ABSENT = Expect("ok"), Expect("denied", 403), Expect("hidden", 404), Expect(
    "absent", 404)


def refused(status: int, code: str) -> Expect:
    """A rule's refusal after authorisation passed."""
    return Expect("refused", status, code)


def sees(caller: str, owner: str) -> bool:
    """Invariant 7: the central bank sees all, anyone their own, a bank its customers'."""
    return caller in (CENTRAL_BANK, owner) or owner in CUSTOMERS_OF.get(caller, set())


def participant(caller: str) -> bool:
    """Whether the caller is registered as a participant (the central bank included)."""
    return caller in PARTICIPANTS


def only(*allowed: str) -> Callable[[str, str], Expect]:
    """Allowed callers get the 2xx, anyone else `denied`."""
    return lambda caller, _resource: OK if caller in allowed else DENIED


def everyone(_caller: str, _resource: str) -> Expect:
    """A public route, or one open to any signed caller."""
    return OK


def for_participants(caller: str, resource: str) -> Expect:
    """The registry, the directory and the contracts: participants', absent things are 404."""
    if not participant(caller):
        return DENIED
    return ABSENT if resource == NOTHING else OK


def owned(caller: str, owner: str) -> Expect:
    """A note or a transaction of `owner`'s: invariant 7; the central bank alone learns that
    none exists."""
    if owner == NOTHING:
        return ABSENT if caller == CENTRAL_BANK else DENIED
    return OK if sees(caller, owner) else DENIED


def held(caller: str, owner: str) -> Expect:
    """An owner's notes and balances, by key: what a key nobody holds has is empty, to whoever
    may see it (the central bank)."""
    return OK if sees(caller, owner) else DENIED


def registers_participant(caller: str, owner: str) -> Expect:
    """The central bank registers a participant under `owner`'s key: a key is registered
    once."""
    if caller != CENTRAL_BANK:
        return DENIED
    if owner == NOTHING:
        return OK
    return refused(409, "participant_exists" if owner in PARTICIPANTS else "key_registered")


def registers_wallet(caller: str, owner: str) -> Expect:
    """A bank registers `owner`'s key as its customer's wallet: its own customers' again, a
    fresh key, nobody else's."""
    if caller not in BANKS:
        return DENIED
    if owner == NOTHING or owner in CUSTOMERS_OF[caller]:
        return OK
    return refused(409, "key_registered")


def opens_customer(caller: str, owner: str) -> Expect:
    """Bank A's operator opens a customer with `owner`'s key."""
    if caller != BANK_A:
        return DENIED
    if owner == NOTHING:
        return OK
    return refused(409, "key_taken" if owner in CUSTOMERS_OF[BANK_A] else "key_registered")


def reads_account(caller: str, owner: str) -> Expect:
    """An account at bank A: its operator's (who may know which of its own exist), and its
    customer's own (not a customer of bank B's, which bank A does not serve)."""
    if caller == BANK_A:
        if owner in CUSTOMERS_OF[BANK_A]:
            return OK
        return ABSENT if owner == NOTHING else DENIED
    return OK if caller == owner and owner in CUSTOMERS_OF[BANK_A] else DENIED


def operates_account(caller: str, owner: str) -> Expect:
    """What bank A's operator alone does to an account of its own."""
    return reads_account(caller, owner) if caller == BANK_A else DENIED


# ---- the stage a service's matrix plays on ------------------------------------------------------


@dataclass
class Stage:
    """The running services by name, the one the matrix plays on, the session to call them,
    and the ids of the cast's things."""

    session: aiohttp.ClientSession
    urls: dict[str, str]
    service: str
    ids: dict[str, dict[str, str]] = field(default_factory=dict)  # kind -> owner -> id
    _fresh: Iterator[int] = field(default_factory=itertools.count)

    @property
    def url(self) -> str:
        """The service the matrix plays on."""
        return self.urls[self.service]

    def caller(self, who: str, service: str = "") -> Caller:
        """`who` calling the service the matrix plays on, or `service`."""
        return Caller(self.session, self.urls[service or self.service], KEYS[who])

    def fresh(self, prefix: str) -> str:
        """A name used nowhere yet."""
        return f"{prefix}{next(self._fresh)}"

    def key_of(self, owner: str) -> str:
        """`owner`'s public key; for `nothing`, a key nobody holds."""
        if owner == NOTHING:
            return key(self.fresh("nobody-")).participant
        return KEYS[owner].participant

    def id_of(self, kind: str, owner: str) -> str:
        """The id of `owner`'s thing of this kind; for `nothing`, one that exists nowhere."""
        return self.ids[kind].get(owner, NONE_64)


Request = tuple[str, dict[str, Any] | None]  # the path with its query, and a POST's body
Build = Callable[[Stage, str, str], Awaitable[Request]]


@dataclass(frozen=True)
class Route:
    """One declared route's row of the matrix: the resources it is called on, how a caller's
    request on one is made, and what each caller should get."""

    resources: tuple[str, ...]
    request: Build
    expect: Callable[[str, str], Expect]


def get(path: Callable[[Stage, str], str]) -> Build:
    """A GET of the path `path` makes for a resource."""
    async def build(stage: Stage, _caller: str, resource: str) -> Request:
        return path(stage, resource), None
    return build


def post(path: Callable[[Stage, str], str],
         body: Callable[[Stage, str, str], dict[str, Any]]) -> Build:
    """A POST of the body `body` makes for a caller and a resource."""
    async def build(stage: Stage, caller: str, resource: str) -> Request:
        return path(stage, resource), body(stage, caller, resource)
    return build


def at(path: str) -> Callable[[Stage, str], str]:
    """A fixed path."""
    return lambda _stage, _resource: path


# ---- the central bank and the commercial bank ---------------------------------------------------


def wallet_body(stage: Stage, caller: str, owner: str) -> dict[str, Any]:
    """A RegisterWallet under `owner`'s key: as registered, for the caller's own customer."""
    if owner in CUSTOMERS_OF.get(caller, set()):
        return {"key": stage.key_of(owner), **WALLETS[owner]}
    bank = BANKS.get(caller, "aba")
    return {"key": stage.key_of(owner), "account": f"{stage.fresh('w')}@{bank}",
            "display_name": "Xi Ng", "role": "individual", "kyc": 1}


def redemption(stage: Stage, caller: str, _resource: str) -> dict[str, Any]:
    """The caller redeems a note that exists nowhere, stating itself a bank."""
    name = BANKS.get(caller, caller)
    transaction = Transaction("redeem", (NoteId(NONE_64),), (), Party(name, "bank"),
                              Party("national-bank", "central_bank"), int(time.time()),
                              stage.fresh("redeem-"))
    return {"transaction": signed_to_wire(sign(transaction, (KEYS[caller],))).model_dump()}


MALFORMED: Final = {"transactions": [{"id": "ab" * 32, "transaction": {"operation": "transfer"},
                                      "signatures": []}]}

CENTRAL_ROUTES: Final[dict[tuple[str, str], Route]] = {
    ("POST", "/participants"): Route(OWNERS, post(at("/participants"), lambda s, _c, r: {
        "name": s.fresh("p-"), "role": "agency", "key": s.key_of(r)}), registers_participant),
    ("GET", "/participants"): Route((ANY,), get(at("/participants")), for_participants),
    ("POST", "/reserves"): Route(
        (BANK_A, BANK_B, AGENCY, NOTHING),
        post(at("/reserves"), lambda _s, _c, r: {"bank": PARTICIPANTS.get(r, ("nobody",))[0],
                                                 "currency": "KHR", "amount_minor": 1}),
        lambda caller, r: DENIED if caller != CENTRAL_BANK else OK if r in BANKS else ABSENT),
    ("GET", "/reserves/{bank}/{currency}"): Route(
        (BANK_A, BANK_B, NOTHING),
        get(lambda _s, r: f"/reserves/{BANKS.get(r, 'nobody')}/KHR"),
        lambda caller, r: OK if caller in (CENTRAL_BANK, r) else DENIED),
    ("POST", "/issuance"): Route((ANY,), post(at("/issuance"), lambda _s, _c, _r: {
        "currency": "KHR", "amount_minor": 1}), only(*BANKS)),
    ("POST", "/redemption"): Route(
        (ANY,), post(at("/redemption"), redemption),
        lambda caller, _r: refused(422, "note_unknown") if caller in BANKS else DENIED),
    ("POST", "/contracts"): Route(
        (ANY,), post(at("/contracts"), lambda _s, _c, _r: {"source": CONTRACT.read_text()}),
        lambda caller, _r: OK if caller == AGENCY else refused(422, "issuer_mismatch") if (
            caller in (FX, HUB)) else DENIED),
    ("GET", "/contracts"): Route((ANY,), get(at("/contracts")), for_participants),
    ("GET", "/contracts/{hash}"): Route(
        (AGENCY, NOTHING), get(lambda s, r: f"/contracts/{s.id_of('contract', r)}"),
        for_participants),
    ("POST", "/transactions"): Route((ANY,), post(at("/transactions"),
                                                  lambda _s, _c, _r: MALFORMED),
                                     lambda caller, _r: OK if participant(caller) else DENIED),
    ("GET", "/transactions/{tx_id}"): Route(
        OWNERS, get(lambda s, r: f"/transactions/{s.id_of('tx', r)}"), owned),
    ("GET", "/journal/{tx_id}"): Route(
        OWNERS, get(lambda s, r: f"/journal/{s.id_of('tx', r)}"), owned),
    ("POST", "/wallets"): Route(OWNERS, post(at("/wallets"), wallet_body), registers_wallet),
    ("GET", "/directory"): Route(
        ACCOUNTS, get(lambda _s, r: f"/directory?account={account_of(r)}"), for_participants),
    ("GET", "/notes"): Route(KEY_OWNERS, get(lambda s, r: f"/notes?owner={s.key_of(r)}"), held),
    ("GET", "/notes/{note_id}"): Route(
        OWNERS, get(lambda s, r: f"/notes/{s.id_of('note', r)}"), owned),
    ("GET", "/balances/{owner}"): Route(
        KEY_OWNERS, get(lambda s, r: f"/balances/{s.key_of(r)}"), held),
    ("GET", "/statistics"): Route((ANY,), get(at("/statistics")), only(CENTRAL_BANK)),
    ("GET", "/supply/{contract}/{token}"): Route(
        (AGENCY, NOTHING), get(lambda s, r: f"/supply/{s.id_of('contract', r)}/HEALTH"),
        lambda caller, r: OK if caller in (CENTRAL_BANK, r) else DENIED),
}


def account_of(owner: str) -> str:
    """An account at bank A, at bank B, or at bank A but opened by nobody."""
    return str(WALLETS.get(owner, {"account": "nobody@aba"})["account"])


async def signature(stage: Stage, caller: str, resource: str) -> Request:
    """The caller signs the prepared payment `resource`'s transaction."""
    payment_id = stage.ids["payment"].get(resource, str(uuid.uuid4()))
    tx_id = TxId(stage.ids["payment_tx"].get(resource, NONE_64))
    body = {"signature": KEYS[caller].sign(signing_bytes(tx_id)).hex()}
    return f"/payments/{payment_id}/signature", body


PAY_BOB: Final = {"to": {"account": "bob@aba"}, "currency": "KHR", "amount_minor": 1}

BANK_ROUTES: Final[dict[tuple[str, str], Route]] = {
    ("POST", "/customers"): Route(OWNERS, post(at("/customers"), lambda s, _c, r: {
        "name": s.fresh("c"), "display_name": "Xi Ng", "key": s.key_of(r)}), opens_customer),
    ("GET", "/customers"): Route((ANY,), get(at("/customers")), only(BANK_A)),
    ("GET", "/customers/{account}"): Route(
        ACCOUNTS, get(lambda _s, r: f"/customers/{account_of(r)}"), reads_account),
    ("POST", "/customers/{account}/kyc"): Route(
        ACCOUNTS, post(lambda _s, r: f"/customers/{account_of(r)}/kyc",
                       lambda _s, _c, _r: {"kyc_tier": 2}), operates_account),
    ("GET", "/customers/{account}/balances"): Route(
        ACCOUNTS, get(lambda _s, r: f"/customers/{account_of(r)}/balances"), reads_account),
    ("GET", "/customers/{account}/payments"): Route(
        ACCOUNTS, get(lambda _s, r: f"/customers/{account_of(r)}/payments"), reads_account),
    ("POST", "/distributions"): Route(
        ACCOUNTS, post(at("/distributions"), lambda _s, _c, r: {
            "account": account_of(r), "currency": "KHR", "amount_minor": 1}), operates_account),
    ("POST", "/payments"): Route((ANY,), post(at("/payments"), lambda _s, _c, _r: PAY_BOB),
                                 only(CUSTOMER_A)),
    ("POST", "/cash-outs"): Route((ANY,), post(at("/cash-outs"), lambda _s, _c, _r: {
        "currency": "KHR", "amount_minor": 1}), only(CUSTOMER_A)),
    ("POST", "/settlements"): Route(
        (CUSTOMER_A, NEIGHBOUR, NOTHING), post(at("/settlements"), lambda s, _c, r: {
            "note_id": s.id_of("kzt_note", r), "preimage": NONE_64}),
        lambda caller, r: refused(422, "note_not_locked") if caller == r == CUSTOMER_A
        else DENIED),
    ("POST", "/payments/{payment_id}/signature"): Route(
        (CUSTOMER_A, NEIGHBOUR, NOTHING), signature,
        lambda caller, r: OK if caller == r == CUSTOMER_A else DENIED),
    ("GET", "/reports/payments.csv"): Route((ANY,), get(at("/reports/payments.csv")),
                                            only(BANK_A)),
}


async def _pays_itself(stage: Stage, who: str) -> None:
    """`who`, a participant, moves money to itself: a transaction no one else is party to,
    whose note and id are its own resources."""
    name, role = PARTICIPANTS[who]
    async with NodeClient(stage.urls["central"], KEYS[who]) as client:
        moved = await LedgerWallet(client, name, role).pay(KEYS[who].participant, Party(),
                                                           1_000, "KHR")
    assert moved.status == "committed", (who, moved)
    stage.ids["tx"][who], stage.ids["note"][who] = moved.tx_id, note_id(TxId(moved.tx_id), 0)


async def _participants(stage: Stage) -> None:
    """Register bank B, the agency, the FX provider and the hub; pay each participant (and the
    central bank) from bank A, then let each pay itself."""
    as_central = stage.caller(CENTRAL_BANK, "central")
    for who in (BANK_B, AGENCY, FX, HUB):
        name, role = PARTICIPANTS[who]
        answer = await as_central.post("/participants", {"name": name, "role": role,
                                                         "key": KEYS[who].participant})
        assert answer.status == 201, answer.body
    for bank in BANKS.values():
        answer = await as_central.post("/reserves", {"bank": bank, "currency": "KHR",
                                                     "amount_minor": 1_000_000})
        assert answer.status == 200, answer.body
    issued = await stage.caller(BANK_B, "central").post("/issuance", {
        "currency": "KHR", "amount_minor": 100_000})
    assert issued.body["status"] == "committed", issued.body
    async with NodeClient(stage.urls["central"], ABA) as client:
        aba = LedgerWallet(client, "aba", "bank")
        for who in (CENTRAL_BANK, AGENCY, FX, HUB):
            paid = await aba.pay(KEYS[who].participant, Party(), 10_000, "KHR")
            assert paid.status == "committed", (who, paid)
    for who in PARTICIPANTS:
        await _pays_itself(stage, who)


async def _customers(stage: Stage) -> None:
    """Bank A opens Dara and Bob and pays them in (their first distribution is their own
    transaction and note; a KZT note each for settlements); bank B registers Carol and pays
    her. Dara and Bob each prepare a payment to be signed."""
    for who in (CUSTOMER_A, NEIGHBOUR):
        wallet = WALLETS[who]
        await open_customer_as(stage, who, wallet)
        for currency in ("KHR", "KHR", "KHR", "KZT"):
            paid = await stage.caller(BANK_A, "bank").post("/distributions", {
                "account": wallet["account"], "currency": currency, "amount_minor": 5_000})
            assert paid.body["status"] == "committed", paid.body
            first = "tx" if currency == "KHR" else "kzt_tx"
            stage.ids[first].setdefault(who, paid.body["tx_id"])
        stage.ids["note"][who] = note_id(TxId(stage.ids["tx"][who]), 0)
        stage.ids["kzt_note"][who] = note_id(TxId(stage.ids["kzt_tx"][who]), 0)
    await _carol(stage)
    for who, payee in ((CUSTOMER_A, "bob@aba"), (NEIGHBOUR, "dara@aba")):
        prepared = await stage.caller(who, "bank").post("/payments", {**PAY_BOB, "to": {
            "account": payee}})
        assert prepared.status == 201, prepared.body
        stage.ids["payment"][who] = prepared.body["payment_id"]
        stage.ids["payment_tx"][who] = prepared.body["tx_id"]


async def open_customer_as(stage: Stage, who: str, wallet: dict[str, Any]) -> None:
    """Bank A's operator opens `who` with the facts of `wallet`."""
    name = wallet["account"].partition("@")[0]
    opened = await stage.caller(BANK_A, "bank").post("/customers", {
        "name": name, "display_name": wallet["display_name"], "key": KEYS[who].participant,
        "kyc_tier": wallet["kyc"]})
    assert opened.status == 201, opened.body


async def register_carol(stage: Stage) -> None:
    """Bank B registers Carol's wallet at the central bank."""
    registered = await stage.caller(BANK_B, "central").post(
        "/wallets", {"key": KEYS[CUSTOMER_B].participant, **WALLETS[CUSTOMER_B]})
    assert registered.status == 200, registered.body


async def _carol(stage: Stage) -> None:
    """Bank B registers Carol's wallet and pays her: her own transaction and note."""
    await register_carol(stage)
    async with NodeClient(stage.urls["central"], KEYS[BANK_B]) as client:
        paid = await LedgerWallet(client, "wing", "bank").pay(KEYS[CUSTOMER_B].participant,
                                                              Party(), 5_000, "KHR")
    assert paid.status == "committed", paid
    stage.ids["tx"][CUSTOMER_B] = paid.tx_id
    stage.ids["note"][CUSTOMER_B] = note_id(TxId(paid.tx_id), 0)


async def _contract(stage: Stage) -> None:
    """The agency deploys health_benefit (its token HEALTH)."""
    deployed = await stage.caller(AGENCY, "central").post(
        "/contracts", {"source": CONTRACT.read_text()})
    assert deployed.status == 201, deployed.body
    stage.ids["contract"][AGENCY] = deployed.body["hash"]


@asynccontextmanager
async def ledger_stage(folder: Path, service: str) -> AsyncIterator[Stage]:
    """The central bank and bank A with the cast registered, paid and with payments prepared;
    the stage plays on `service` ("central" or "bank")."""
    async with network(folder) as net:
        stage = Stage(net.session, {"central": net.central_url, "bank": net.bank_url}, service,
                      ids={kind: {} for kind in ("tx", "note", "kzt_tx", "kzt_note", "payment",
                                                 "payment_tx", "contract")})
        await _participants(stage)
        await _customers(stage)
        await _contract(stage)
        yield stage


# ---- the hub and the FX provider ----------------------------------------------------------------

TEA: Final = {"kind": "switch", "system": "promptpay", "account": TEA_SHOP}
SENDERS: Final = (CUSTOMER_A, CUSTOMER_B, NOTHING)  # the hub serves registered wallets only


def quote_request(_stage: Stage, _caller: str, sender: str) -> dict[str, Any]:
    """A quote toward the tea shop for the sender registered under `sender`'s account."""
    return {"sender_account": account_of(sender), "source_currency": "KHR", "destination": TEA,
            "fixed": "destination", "amount_minor": 1_000}


async def hub_quote(stage: Stage, caller: str) -> str:
    """A quote the hub offers `caller`, a registered sender."""
    offered = await stage.caller(caller, "hub").post("/quotes",
                                                     quote_request(stage, caller, caller))
    assert offered.status == 201, offered.body
    return str(offered.body["quote"]["id"])


async def hub_payment(stage: Stage, caller: str) -> str:
    """A payment `caller` ordered at the hub (accepted by the cheaper provider, acleda-fx)."""
    ordered = await stage.caller(caller, "hub").post(
        "/payments", {"quote_id": await hub_quote(stage, caller)})
    assert ordered.status == 201, ordered.body
    return str(ordered.body["id"])


async def order(stage: Stage, caller: str, resource: str) -> Request:
    """The caller orders a quote the hub offered to `resource` (fresh, so it is firm)."""
    quote_id = secrets.token_hex(16) if resource == NOTHING else await hub_quote(stage, resource)
    return "/payments", {"quote_id": quote_id}


def hub_payment_path(suffix: str) -> Callable[[Stage, str], str]:
    """The path of `resource`'s payment at the hub."""
    return lambda s, r: f"/payments/{s.ids['hub_payment'].get(r, secrets.token_hex(16))}{suffix}"


def own_at_hub(caller: str, owner: str) -> Expect:
    """A payment at the hub: its sender's alone (others' and none alike are 403)."""
    return OK if caller == owner and owner != NOTHING else DENIED


HUB_ROUTES: Final[dict[tuple[str, str], Route]] = {
    ("GET", "/systems"): Route((ANY,), get(at("/systems")), everyone),
    ("POST", "/resolve"): Route((ANY,), post(at("/resolve"), lambda _s, _c, _r: {
        "proxy": "bob@aba", "system": "kzt-ledger"}), everyone),
    ("POST", "/quotes"): Route(SENDERS, post(at("/quotes"), quote_request),
                               lambda caller, r: OK if caller == r else DENIED),
    ("POST", "/payments"): Route(SENDERS, order, lambda caller, r: OK if caller == r else HIDDEN),
    ("POST", "/payments/{id}/source"): Route(
        SENDERS, post(hub_payment_path("/source"), lambda _s, _c, _r: {
            "source_tx_id": NONE_64}), own_at_hub),
    ("GET", "/payments/{id}"): Route(SENDERS, get(hub_payment_path("")), own_at_hub),
}
# Where a leak was found once (403 for another's payment, 404 for none): checked on their own.
HUB_PAYMENT_ROUTES: Final = {("POST", "/payments/{id}/source"), ("GET", "/payments/{id}")}


async def fx_quote(stage: Stage) -> str:
    """A firm quote acleda-fx gives the hub."""
    quoted = await stage.caller(HUB, "fx").post("/quotes", FX_QUOTE)
    assert quoted.status == 201, quoted.body
    return str(quoted.body["id"])


async def acceptance(stage: Stage, _caller: str, resource: str) -> Request:
    """An acceptance of a quote the hub asked for (fresh, so it is firm) for a new payment."""
    quote_id = await fx_quote(stage) if resource == HUB else secrets.token_hex(16)
    now_s = int(time.time())
    return "/acceptances", {"quote_id": quote_id, "payment_id": secrets.token_hex(16),
                            "hashlock": NONE_64, "source_deadline_s": now_s + 600,
                            "destination_deadline_s": now_s + 300, "destination": TEA}


def leg_path(kind: str, suffix: str = "") -> Callable[[Stage, str], str]:
    """The path of the leg of the hub's payment of `kind` at acleda-fx."""
    return lambda s, r: f"/legs/{s.ids[kind].get(r, secrets.token_hex(16))}{suffix}"


def the_hubs(ok: Expect) -> Callable[[str, str], Expect]:
    """What acleda-fx shows the hub of its own (`ok`), and hides from everyone else."""
    return lambda caller, r: ok if caller == r == HUB else HIDDEN


FX_QUOTE: Final = {"source_currency": "KHR", "destination_currency": "THB",
                   "fixed": "destination", "amount_minor": 1_000}

FX_ROUTES: Final[dict[tuple[str, str], Route]] = {
    ("GET", "/rates"): Route((ANY,), get(at("/rates")), everyone),
    ("POST", "/quotes"): Route((ANY,), post(at("/quotes"), lambda _s, _c, _r: FX_QUOTE),
                               only(HUB)),
    ("GET", "/quotes/{id}"): Route(
        (HUB, NOTHING), get(lambda s, r: f"/quotes/{s.ids['fx_quote'].get(r, NONE_64[:32])}"),
        the_hubs(OK)),
    ("POST", "/acceptances"): Route(
        (HUB, NOTHING), acceptance,
        lambda caller, r: DENIED if caller != HUB else OK if r == HUB else HIDDEN),
    ("GET", "/legs/{payment_id}"): Route((HUB, NOTHING), get(leg_path("leg")), the_hubs(OK)),
    ("POST", "/legs/{payment_id}/source"): Route(
        (HUB, NOTHING), post(leg_path("leg", "/source"), lambda _s, _c, _r: {
            "source_tx_id": NONE_64}), the_hubs(OK)),
    ("POST", "/legs/{payment_id}/release"): Route(
        (HUB, NOTHING), post(leg_path("untouched_leg", "/release"), lambda _s, _c, _r: {
            "status": "RJCT"}), the_hubs(refused(409, "source_not_locked"))),
}


@asynccontextmanager
async def hub_stage(folder: Path, service: str) -> AsyncIterator[Stage]:
    """The hub world, with bank B registering Carol on the ledger, so that both customers are
    senders the hub serves; each has ordered a payment at the hub, and the hub holds a quote of
    acleda-fx. At acleda-fx each payment is a leg the hub accepted: Dara's is the one the matrix
    reads and reports on, Carol's the one it releases untouched. Their sources may be locked
    for ten minutes, longer than the matrix takes, so none lapses while it plays. The stage
    plays on `service` ("hub" or "fx")."""
    async with hub_world(folder, source_window_s=600) as made:
        stage = Stage(made.net.session, {"hub": made.hub_url, "central": made.net.central_url,
                                         "fx": made.provider_urls["acleda-fx"]}, service,
                      ids={"hub_payment": {}, "fx_quote": {}})
        name, role = PARTICIPANTS[BANK_B]
        registered = await stage.caller(CENTRAL_BANK, "central").post("/participants", {
            "name": name, "role": role, "key": KEYS[BANK_B].participant})
        assert registered.status == 201, registered.body
        await register_carol(stage)
        for sender in (CUSTOMER_A, CUSTOMER_B):
            stage.ids["hub_payment"][sender] = await hub_payment(stage, sender)
        stage.ids["fx_quote"][HUB] = await fx_quote(stage)
        stage.ids["leg"] = {HUB: stage.ids["hub_payment"][CUSTOMER_A]}
        stage.ids["untouched_leg"] = {HUB: stage.ids["hub_payment"][CUSTOMER_B]}
        yield stage


# ---- the EVM bridge service ---------------------------------------------------------------------

SWAP: Final = "swap"
BRIDGE_ROUTES: Final[dict[tuple[str, str], Route]] = {
    ("GET", "/swaps/{ledger_note}"): Route(
        (SWAP, NOTHING), get(lambda s, r: f"/swaps/{s.id_of('swap', r)}"),
        lambda _caller, r: OK if r == SWAP else ABSENT),
    ("POST", "/swaps/{ledger_note}/claim"): Route(
        (SWAP, NOTHING), post(lambda s, r: f"/swaps/{s.id_of('swap', r)}/claim",
                              lambda _s, _c, _r: {"preimage": NONE_64}),
        lambda _caller, r: refused(422, "wrong_preimage") if r == SWAP else ABSENT),
    ("GET", "/chain/balances/{address}"): Route(
        (ANY,), get(at("/chain/balances/0x" + "11" * 20)), everyone),
}


@asynccontextmanager
async def bridge_stage(folder: Path, _service: str) -> AsyncIterator[Stage]:
    """A provisioned bridge with an out-swap locked to it, its API served in this process."""
    async with bridged_world(folder) as world:
        await fund(world, 1_000)
        receiver = world.chain.new_account().address
        note = await lock_to_bridge(world, 400, f"evm:{receiver}", int(time.time()) + 3_600,
                                    "ab" * 32)
        await settle(world)
        server = TestServer(build_bridge_app(world.bridge))
        await server.start_server()
        try:
            yield Stage(world.net.session, {"bridge": str(server.make_url("")).rstrip("/")},
                        "bridge", ids={"swap": {SWAP: note}})
        finally:
            await server.close()


# ---- the matrix ---------------------------------------------------------------------------------

StageOf = Callable[[Path, str], Any]
MATRIX: Final[dict[str, tuple[StageOf, dict[tuple[str, str], Route]]]] = {
    "central": (ledger_stage, CENTRAL_ROUTES),
    "bank": (ledger_stage, BANK_ROUTES),
    "hub": (hub_stage, HUB_ROUTES),
    "fx": (hub_stage, FX_ROUTES),
    "bridge": (bridge_stage, BRIDGE_ROUTES),
}
# The module that constructs each service's `Api`.
SERVICE_MODULES: Final = {"central": "central.py", "bank": "bank.py", "hub": "hub.py",
                          "fx": "fx_provider.py", "bridge": "bridge_service.py"}


@dataclass(frozen=True)
class Cell:
    """One request of the matrix and its answer."""

    method: str
    path: str
    caller: str
    resource: str
    expected: Expect
    answer: Answer

    def mismatch(self, success: int) -> str:
        """What is wrong with the answer ("" if nothing)."""
        want = self.expected
        status = success if want.kind == "ok" else want.status
        code = self.answer.body.get("code") if isinstance(self.answer.body, dict) else None
        if self.answer.status != status or (want.code and code != want.code):
            return (f"{self.method} {self.path} by {self.caller} on {self.resource}'s: "
                    f"{self.answer.status} {code or ''}, expected {want.kind} {status} "
                    f"{want.code}")
        return ""


async def declared(stage: Stage) -> dict[tuple[str, str], int]:
    """The service's declared routes, from the /openapi.json its `Api` writes, with each
    one's success status."""
    async with stage.session.get(stage.url + "/openapi.json") as response:
        document = await response.json()
    return {(method.upper(), path): int(next(s for s in operation["responses"]
                                             if s.startswith("2")))
            for path, item in document["paths"].items() for method, operation in item.items()}


async def play(stage: Stage, routes: dict[tuple[str, str], Route]) -> list[Cell]:
    """Every route, caller and resource, one request at a time (some change what others
    see)."""
    cells = []
    for (method, path), route in routes.items():
        for caller, resource in itertools.product(CALLERS, route.resources):
            path_qs, body = await route.request(stage, caller, resource)
            as_caller = stage.caller(caller)
            answer = await (as_caller.post(path_qs, body or {}) if method == "POST"
                            else as_caller.get(path_qs))
            cells.append(Cell(method, path, caller, resource, route.expect(caller, resource),
                              answer))
    return cells


def leaks(cells: list[Cell]) -> list[str]:
    """Routes on which a caller's refusals differ from one resource to another (an absent
    thing answered otherwise than another's)."""
    found = []
    refusals: dict[tuple[str, str, str], set[str]] = {}
    for cell in cells:
        if cell.expected.refusal:
            refusals.setdefault((cell.method, cell.path, cell.caller), set()).add(
                _without_instance(cell.answer))
    for (method, path, caller), answers in refusals.items():
        if len(answers) > 1:
            found.append(f"{method} {path} by {caller}: {sorted(answers)}")
    return found


def _without_instance(answer: Answer) -> str:
    body = dict(answer.body) if isinstance(answer.body, dict) else {"text": answer.body}
    body.pop("instance", None)
    return f"{answer.status} {sorted(body.items())}"


@pytest.mark.parametrize("service", list(MATRIX))
def test_every_route_answers_every_caller_as_the_matrix_says(tmp_path: Path,
                                                             service: str) -> None:
    """Each declared route has its row; each cell gets its expected answer; each caller's
    refusals on a route are one and the same answer."""
    make_stage, routes = MATRIX[service]

    async def main() -> None:
        async with make_stage(tmp_path, service) as stage:
            success = await declared(stage)
            assert set(success) == set(routes), (
                f"declared without a row: {sorted(set(success) - set(routes))}; rows of no "
                f"declared route: {sorted(set(routes) - set(success))}")
            cells = await play(stage, routes)
        wrong = [m for cell in cells if (m := cell.mismatch(success[(cell.method, cell.path)]))]
        assert wrong == [], "\n".join(wrong)
        assert leaks(cells) == []
    asyncio.run(main())


def test_the_hub_hides_whether_a_payment_exists(tmp_path: Path) -> None:
    """Another's payment and none at all get the same refusal at the hub."""
    async def main() -> None:
        async with hub_stage(tmp_path, "hub") as stage:
            cells = await play(stage, {(method, path): HUB_ROUTES[(method, path)]
                                       for method, path in HUB_PAYMENT_ROUTES})
        assert leaks(cells) == []
    asyncio.run(main())


def test_every_service_that_declares_routes_is_here() -> None:
    """Every module of node/ that constructs an `Api` is a service of the matrix."""
    constructing = {path.name for path in NODE.glob("*.py")
                    if re.search(r"\bApi\(", path.read_text(encoding="utf-8"))}
    assert constructing == set(SERVICE_MODULES.values())
    assert set(SERVICE_MODULES) == set(MATRIX)
