"""`earmark ledger verify` audits the money, not only that the tables match the journal.

Method: each ledger is written into a real store (SQLite always, PostgreSQL when configured)
with `SqlStore.commit` of `Accepted` values built here, bypassing validation, as a bug or a
database changed behind the notary's back would. A clean ledger with every legitimate flow must
verify; each breach of monetary policy — bridged money released as plain money (the finding of
issue 21), plain money issued by someone other than the central bank, an earmarked token grown
without labelling, a supply past `SUPPLY_MAX_MINOR` — must be named by its check, with the
money, the expected and found amounts and the first offending transaction, by `verify` and by
the CLI, which exits 1.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ledger_world import (
    ALICE,
    BOB,
    CENTRAL,
    CLINIC,
    DAY_S,
    HALYK,
    HEALTH,
    MINISTRY,
    NOW_S,
    SOURCE,
    _key,
    sign,
)
from postgres import fresh_postgres
from sqlalchemy import text

from dsl.facts import Party
from engine.encoding import SUPPLY_MAX_MINOR
from engine.ids import ContractHash, TxId
from engine.keys import KeyPair
from engine.model import NO_FACTS, Note, Output, TokenRef, Transaction
from engine.store import SqlStore
from engine.validate import Accepted, created_notes
from engine.verify import Account, Check, VerifyReport, verify

FOOD_SOURCE = """contract food_aid version 1

token FOOD {
  currency KZT
  issuer "ministry-of-health"
  expires 30 days after issue, then burn
}

policy FOOD {
  allow distribute
}
"""
JPYS_SOURCE = """contract yen_stablecoin version 1

token JPYS {
  currency JPY
  issuer "yen-bridge"
  bridged
}

policy JPYS {
  allow transfer
}
"""
# The finding: an FX provider's bridged KZT token whose policy releases it on purchase.
EVIL_SOURCE = """contract evil version 1

token EVIL {
  currency KZT
  issuer "evil-fx"
  bridged
}

policy EVIL {
  allow purchase
  release on purchase
}
"""


def _token(source: str, name: str) -> TokenRef:
    return TokenRef(ContractHash(hashlib.sha256(source.encode()).hexdigest()), name)


FOOD, JPYS, EVIL = _token(FOOD_SOURCE, "FOOD"), _token(JPYS_SOURCE, "JPYS"), _token(EVIL_SOURCE,
                                                                                    "EVIL")
BRIDGE, EVIL_FX = _key("yen-bridge"), _key("evil-fx")
CENTRAL_BANK = Party("central-bank", "central_bank")
BANK, AGENCY = Party("halyk", "bank"), Party("ministry-of-health", "agency")
CUSTOMER = Party("alice@halyk", "individual", 1, "halyk")
MERCHANT = Party("clinic@halyk", "merchant", 1, "halyk", mcc=8062)
FX = Party("yen-bridge", "fx_provider")
MILLION_KZT = 100_000_000  # one million tenge in minor units


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """An empty ledger on each store, with every contract of these tests deployed."""
    url = (f"sqlite:///{tmp_path / 'ledger.db'}" if request.param == "sqlite"
           else fresh_postgres("verify"))
    opened = SqlStore(url)
    for source in (SOURCE, FOOD_SOURCE, JPYS_SOURCE, EVIL_SOURCE):
        opened.deploy(source)
    yield opened
    opened.close()


class Journal:
    """Commits transactions into a store without validating them."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.ids: list[TxId] = []

    def commit(self, operation: str, inputs: tuple[Note, ...], outputs: list[Output], *,
               signer: KeyPair, sender: Party, receiver: Party = NO_FACTS,
               at_s: int | None = None) -> tuple[Note, ...]:
        """Commit one transaction as the notary would have, by default a second after the one
        before; the notes it created."""
        at_s = NOW_S + len(self.ids) if at_s is None else at_s
        transaction = Transaction(operation, tuple(n.id for n in inputs), tuple(outputs),
                                  sender, receiver, at_s, f"n{len(self.ids)}")
        signed = sign(transaction, signer)
        created = created_notes(signed.id, transaction, inputs)
        spender = inputs[0].owner if inputs else signer.participant
        self.store.commit([Accepted(signed, inputs, created, None, 0, spender)], at_s)
        self.ids.append(signed.id)
        return created

    def issue(self, owner: KeyPair, amount_minor: int) -> tuple[Note, ...]:
        """The central bank issues plain KZT."""
        return self.commit("issue", (), [Output(owner.participant, amount_minor, "KZT")],
                           signer=CENTRAL, sender=CENTRAL_BANK, receiver=BANK)

    def label(self, plain: tuple[Note, ...], token: TokenRef, amount_minor: int,
              ) -> tuple[Note, ...]:
        """The ministry labels `amount_minor` of its plain notes into `token`, change plain."""
        change = sum(n.amount_minor for n in plain) - amount_minor
        outputs = [Output(MINISTRY.participant, amount_minor, "KZT", token)]
        if change:
            outputs.append(Output(MINISTRY.participant, change, "KZT"))
        return self.commit("label", plain, outputs, signer=MINISTRY, sender=AGENCY,
                           receiver=AGENCY)

    def mint(self, token: TokenRef, issuer: KeyPair, owner: KeyPair, amount_minor: int,
             currency: str) -> tuple[Note, ...]:
        """A bridged token's issuer mints it."""
        return self.commit("issue", (), [Output(owner.participant, amount_minor, currency,
                                                token)], signer=issuer, sender=FX)


def _funded_ministry(journal: Journal) -> tuple[Note, Note]:
    """1 000 000 KZT issued to Halyk, 600 000 paid to the ministry: the ministry's plain note
    and Halyk's change."""
    (issued,) = journal.issue(HALYK, MILLION_KZT)
    paid = journal.commit("transfer", (issued,),
                          [Output(MINISTRY.participant, 60_000_000, "KZT"),
                           Output(HALYK.participant, 40_000_000, "KZT")],
                          signer=HALYK, sender=BANK, receiver=AGENCY)
    return paid[0], paid[1]


def _clean_ledger(journal: Journal) -> None:
    """Every legitimate flow: issue, transfer, label (two tokens), distribute, a purchase that
    releases, a return after expiry, a burning sweep after expiry, a redemption, and a bridged
    token minted, moved and burned by its issuer."""
    ministry, halyk = _funded_ministry(journal)
    health, change = journal.label((ministry,), HEALTH, 40_000_000)
    (food,) = journal.label((change,), FOOD, 20_000_000)
    alice, _ = journal.commit("distribute", (health,),
                              [Output(ALICE.participant, 10_000_000, "KZT", HEALTH),
                               Output(MINISTRY.participant, 30_000_000, "KZT", HEALTH)],
                              signer=MINISTRY, sender=AGENCY, receiver=CUSTOMER)
    _, kept = journal.commit("purchase", (alice,),
                             [Output(CLINIC.participant, 1_250_000, "KZT"),
                              Output(ALICE.participant, 8_750_000, "KZT", HEALTH)],
                             signer=ALICE, sender=CUSTOMER, receiver=MERCHANT)
    journal.commit("return", (kept,), [Output(MINISTRY.participant, 8_750_000, "KZT")],
                   signer=MINISTRY, sender=CUSTOMER, receiver=AGENCY, at_s=NOW_S + 91 * DAY_S)
    journal.commit("return", (food,), [Output(MINISTRY.participant, 5_000_000, "KZT")],
                   signer=MINISTRY, sender=AGENCY, receiver=AGENCY, at_s=NOW_S + 31 * DAY_S)
    journal.commit("redeem", (halyk,), [Output(HALYK.participant, 10_000_000, "KZT")],
                   signer=HALYK, sender=BANK, receiver=CENTRAL_BANK)
    (minted,) = journal.mint(JPYS, BRIDGE, BOB, 700, "JPY")
    (back,) = journal.commit("transfer", (minted,),
                             [Output(BRIDGE.participant, 700, "JPY", JPYS)],
                             signer=BOB, sender=CUSTOMER, receiver=FX)
    journal.commit("redeem", (back,), [Output(BRIDGE.participant, 200, "JPY", JPYS)],
                   signer=BRIDGE, sender=FX, receiver=FX)


def test_a_clean_ledger_verifies_and_accounts_for_every_flow(store: SqlStore) -> None:
    """The clean ledger verifies; central-bank KZT is issued less redeemed less burned, and
    each token's supply is what entered it less what left it, as the tables hold."""
    _clean_ledger(Journal(store))
    report = verify(store)
    assert report.ok, report.mismatches
    assert report.central == {"KZT": Account("KZT", MILLION_KZT, 30_000_000, 15_000_000,
                                             55_000_000)}
    assert report.tokens == {
        HEALTH: Account("KZT", 40_000_000, 10_000_000, 0, 30_000_000),
        FOOD: Account("KZT", 20_000_000, 20_000_000, 0, 0),
        JPYS: Account("JPY", 700, 500, 0, 200, bridged=True)}
    assert "KZT burned on expiry: 150_000.00 KZT" in report.lines()


def _bridged_released_as_plain(journal: Journal) -> None:
    """The finding: EVIL minted by its FX provider, then purchased with, the shop paid in plain
    KZT."""
    (evil,) = journal.mint(EVIL, EVIL_FX, EVIL_FX, 10**12, "KZT")
    journal.commit("purchase", (evil,), [Output(CLINIC.participant, 10**12, "KZT")],
                   signer=EVIL_FX, sender=Party("evil-fx", "fx_provider"), receiver=MERCHANT)


def _issued_by_a_bank(journal: Journal) -> None:
    """Halyk writes itself plain money with an issue of its own."""
    journal.issue(HALYK, MILLION_KZT)
    journal.commit("issue", (), [Output(HALYK.participant, 500, "KZT")], signer=HALYK,
                   sender=BANK, receiver=BANK)


def test_an_issue_stating_no_sender_is_the_central_banks(store: SqlStore) -> None:
    """An issue that states no facts (the notary reads them from the registrations) is taken
    as the central bank's: the journal keeps no signatures to say otherwise."""
    journal = Journal(store)
    journal.commit("issue", (), [Output(HALYK.participant, 500, "KZT")], signer=CENTRAL,
                   sender=NO_FACTS)
    report = verify(store)
    assert report.ok, report.mismatches
    assert report.central["KZT"].entered_minor == 500


def _earmarked_beyond_labelled(journal: Journal) -> None:
    """Halyk's plain change turned into HEALTH by a transfer, not by the ministry's label."""
    ministry, halyk = _funded_ministry(journal)
    journal.label((ministry,), HEALTH, 60_000_000)
    journal.commit("transfer", (halyk,), [Output(HALYK.participant, 40_000_000, "KZT", HEALTH)],
                   signer=HALYK, sender=BANK, receiver=BANK)


def test_an_earmark_dropped_without_release_is_named(store: SqlStore) -> None:
    """Alice's HEALTH paid to Bob as plain KZT by a transfer, which HEALTH never releases:
    central-bank money is intact, HEALTH shrank against its rules."""
    journal = Journal(store)
    ministry, _ = _funded_ministry(journal)
    (health,) = journal.label((ministry,), HEALTH, 60_000_000)
    journal.commit("transfer", (health,), [Output(BOB.participant, 60_000_000, "KZT")],
                   signer=MINISTRY, sender=AGENCY)
    report = verify(store)
    assert [v.check for v in report.mismatches] == [Check.TOKEN_SUPPLY]
    (token,) = _lines(report, Check.TOKEN_SUPPLY)
    assert f"{journal.ids[-1][:16]}… (transfer): shrank by 600_000.00 KZT" in token


def test_plain_money_parked_in_a_bridged_token_is_named(store: SqlStore) -> None:
    """Halyk's plain KZT turned into EVIL by a transfer: central-bank money destroyed outside a
    redemption, and EVIL grown outside its issuer's issue, each with the transfer."""
    journal = Journal(store)
    (plain,) = journal.issue(HALYK, 5_000)
    journal.commit("transfer", (plain,), [Output(HALYK.participant, 5_000, "KZT", EVIL)],
                   signer=HALYK, sender=BANK)
    report = verify(store)
    transfer = f"{journal.ids[1][:16]}… (transfer)"
    assert {v.check for v in report.mismatches} == {Check.CENTRAL_MONEY, Check.TOKEN_SUPPLY}
    (central,) = _lines(report, Check.CENTRAL_MONEY)
    assert f"found 0.00 KZT held; first offending transaction {transfer}: shrank by" in central
    (token,) = _lines(report, Check.TOKEN_SUPPLY)
    assert token.startswith("token EVIL") and f"{transfer}: grew by 50.00 KZT" in token


def test_a_note_changed_behind_the_notarys_back_shows_in_the_accounts(store: SqlStore) -> None:
    """A HEALTH note made one tiyn larger in the table: besides the note and balance, the
    accounts of KZT and HEALTH each find one tiyn more held than the journal accounts for, with
    no offending transaction to name."""
    journal = Journal(store)
    ministry, _ = _funded_ministry(journal)
    journal.label((ministry,), HEALTH, 60_000_000)
    with store.engine.begin() as db:
        db.execute(text("UPDATE notes SET amount_minor = amount_minor + 1 "
                        "WHERE token_name = 'HEALTH'"))
    report = verify(store)
    (central,) = _lines(report, Check.CENTRAL_MONEY)
    (token,) = _lines(report, Check.TOKEN_SUPPLY)
    assert "expected 1_000_000.00 KZT" in central and central.endswith("1_000_000.01 KZT held")
    assert "expected 600_000.00 KZT" in token and token.endswith("found 600_000.01 KZT held")


def test_notes_of_an_unknown_token_or_in_another_currency_are_named(store: SqlStore) -> None:
    """A label into a token no deployed contract defines, and HEALTH (KZT money) labelled from
    plain USD: each token is named once, with the transaction that first created its notes."""
    journal = Journal(store)
    ghost = TokenRef(ContractHash("0" * 64), "GHOST")
    (plain,) = journal.issue(MINISTRY, 2_000)
    journal.label((plain,), ghost, 2_000)
    (dollars,) = journal.commit("issue", (), [Output(MINISTRY.participant, 700, "USD")],
                                signer=CENTRAL, sender=CENTRAL_BANK)
    journal.commit("label", (dollars,), [Output(MINISTRY.participant, 700, "USD", HEALTH)],
                   signer=MINISTRY, sender=AGENCY)
    report = verify(store)
    assert {v.check for v in report.mismatches} == {Check.TOKEN_UNKNOWN, Check.TOKEN_CURRENCY}
    (unknown,) = _lines(report, Check.TOKEN_UNKNOWN)
    assert unknown.startswith("notes of token GHOST") and f"{journal.ids[1][:16]}…" in unknown
    (foreign,) = _lines(report, Check.TOKEN_CURRENCY)
    assert foreign.startswith("notes of token HEALTH") and " in USD" in foreign
    assert f"{journal.ids[3][:16]}…" in foreign and "the token is KZT money" in foreign


def test_a_body_that_does_not_decode_is_named(store: SqlStore) -> None:
    """A journal row whose body is not a transaction is a violation, not a traceback."""
    with store.engine.begin() as db:
        db.execute(text("INSERT INTO transactions (id, body, code, reason, committed_at_s) "
                        "VALUES ('bad', :body, 'committed', '', 0)"), {"body": b"garbage"})
    report = verify(store)
    assert [str(v) for v in report.mismatches] == [
        "journal: transaction bad… does not decode: not an Earmark transaction"]


def _beyond_the_cap(journal: Journal) -> None:
    """Two plain issues and two bridged mints of 2**63 - 1 each: both supplies pass the cap."""
    for _ in range(2):
        journal.issue(HALYK, SUPPLY_MAX_MINOR)
        journal.mint(JPYS, BRIDGE, BOB, SUPPLY_MAX_MINOR, "JPY")


def _lines(report: VerifyReport, check: Check) -> list[str]:
    return [v.detail for v in report.mismatches if v.check is check]


def test_bridged_money_released_as_plain_money_is_named(store: SqlStore) -> None:
    """EVIL → plain KZT: the purchase is flagged as bridged money become plain and as plain
    money created outside an issue; KZT's central-bank money was expected 0 and found
    10 000 000 000 KZT; EVIL's supply expected 10^12 (minted) and found 0, first offended by
    the purchase."""
    journal = Journal(store)
    _bridged_released_as_plain(journal)
    report = verify(store)
    purchase = journal.ids[1][:16]
    assert {v.check for v in report.mismatches} == {
        Check.BRIDGED_BECAME_PLAIN, Check.PLAIN_MONEY_CREATED, Check.CENTRAL_MONEY,
        Check.TOKEN_SUPPLY}
    (bridged,) = _lines(report, Check.BRIDGED_BECAME_PLAIN)
    assert purchase in bridged and "EVIL" in bridged and "10_000_000_000.00 KZT of plain" in (
        bridged)
    (created,) = _lines(report, Check.PLAIN_MONEY_CREATED)
    assert f"{purchase}… (purchase) created 10_000_000_000.00 KZT" in created
    (central,) = _lines(report, Check.CENTRAL_MONEY)
    assert re.search(r"^KZT .*expected 0.00 KZT .* found 10_000_000_000.00 KZT held; first "
                     rf"offending transaction {purchase}… \(purchase\)", central), central
    (token,) = _lines(report, Check.TOKEN_SUPPLY)
    assert re.search(r"^token EVIL .*expected 10_000_000_000.00 KZT \(minted .* less burned "
                     rf"0.00 KZT\), found 0.00 KZT held; first offending transaction "
                     rf"{purchase}… \(purchase\)", token), token


def test_plain_money_issued_by_someone_else_is_named(store: SqlStore) -> None:
    """An issue that states a bank as its sender created plain money the central bank did not:
    flagged, and KZT's central-bank money is 5.00 KZT more than issued."""
    journal = Journal(store)
    _issued_by_a_bank(journal)
    report = verify(store)
    forged = journal.ids[1][:16]
    assert {v.check for v in report.mismatches} == {Check.PLAIN_MONEY_CREATED,
                                                     Check.CENTRAL_MONEY}
    (created,) = _lines(report, Check.PLAIN_MONEY_CREATED)
    assert f"{forged}… (issue) created 5.00 KZT" in created and "halyk (bank)" in created
    (central,) = _lines(report, Check.CENTRAL_MONEY)
    assert "expected 1_000_000.00 KZT" in central and "found 1_000_005.00 KZT" in central
    assert f"first offending transaction {forged}… (issue)" in central


def test_an_earmarked_token_grown_without_labelling_is_named(store: SqlStore) -> None:
    """HEALTH holds 400 000 KZT more than was labelled into it; central-bank money is intact
    (plain became earmarked), so only the token's supply is named, with the transfer."""
    journal = Journal(store)
    _earmarked_beyond_labelled(journal)
    report = verify(store)
    transfer = journal.ids[-1][:16]
    assert [v.check for v in report.mismatches] == [Check.TOKEN_SUPPLY]
    (token,) = _lines(report, Check.TOKEN_SUPPLY)
    assert re.search(r"^token HEALTH .*expected 600_000.00 KZT \(labelled 600_000.00 KZT .*\), "
                     rf"found 1_000_000.00 KZT held; first offending transaction "
                     rf"{transfer}… \(transfer\): grew by 400_000.00 KZT", token), token


def test_a_supply_beyond_the_cap_is_named_and_still_summed(store: SqlStore) -> None:
    """Plain KZT and the JPYS token each reach twice 2**63 - 1: each is named past the cap
    after its second issue, and every total is exact, on either store."""
    journal = Journal(store)
    _beyond_the_cap(journal)
    report = verify(store)
    assert {v.check for v in report.mismatches} == {Check.SUPPLY_CAP}
    plain, bridged = _lines(report, Check.SUPPLY_CAP)
    assert plain.startswith("plain KZT") and f"{journal.ids[2][:16]}… (issue)" in (
        plain)
    assert bridged.startswith("token JPYS") and f"{journal.ids[3][:16]}… (issue)" in bridged
    assert report.central["KZT"].held_minor == 2 * SUPPLY_MAX_MINOR
    assert report.tokens[JPYS].held_minor == 2 * SUPPLY_MAX_MINOR
    assert report.supply == {"KZT": 2 * SUPPLY_MAX_MINOR, "JPY": 2 * SUPPLY_MAX_MINOR}


PAGE = (Path(__file__).parents[2] / "docs" / "ledger.md").read_text(encoding="utf-8")


def test_the_cap_is_documented() -> None:
    """docs/ledger.md gives the supply cap its value among the limits."""
    assert SUPPLY_MAX_MINOR == 2**63 - 1
    assert "| `SUPPLY_MAX_MINOR` | 2⁶³\N{MINUS SIGN}1 |" in PAGE


def test_the_checks_table_lists_every_check_in_order() -> None:
    """docs/ledger.md's table of the verifier's checks is `Check`, in its order."""
    table = PAGE.split("| check | what is wrong |\n")[1].split("\n\n")[0]
    assert re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE) == [
        check.value for check in Check]


def _earmark(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node.cli", *arguments], capture_output=True,
                          text=True, timeout=120, check=False, cwd=Path(__file__).parents[2])


@pytest.mark.parametrize(("breach", "checks"), [
    (_bridged_released_as_plain, ["bridged_became_plain", "plain_money_created",
                                  "central_money", "token_supply"]),
    (_issued_by_a_bank, ["plain_money_created", "central_money"]),
    (_earmarked_beyond_labelled, ["token_supply"]),
    (_beyond_the_cap, ["supply_cap"]),
], ids=["bridged-released", "issued-by-a-bank", "earmarked-beyond-labelled", "beyond-the-cap"])
def test_ledger_verify_exits_1_naming_each_breach(store: SqlStore,
                                                  breach: Callable[[Journal], None],
                                                  checks: list[str]) -> None:
    """`earmark ledger verify` prints each violation under its check and exits 1."""
    breach(Journal(store))
    result = _earmark("ledger", "verify", "--db", store.url)
    assert result.returncode == 1, result.stdout + result.stderr
    named = re.findall(r"^violation ([a-z_]+): ", result.stderr, flags=re.MULTILINE)
    assert sorted(set(named)) == sorted(checks), result.stderr
    assert "the ledger does not verify" in result.stderr and "Traceback" not in result.stderr


def test_ledger_verify_passes_a_clean_ledger_and_prints_its_accounts(store: SqlStore) -> None:
    """The clean ledger: exit 0, the accounts of central-bank money (burned on its own line)
    and of each token."""
    _clean_ledger(Journal(store))
    result = _earmark("ledger", "verify", "--db", store.url)
    assert result.returncode == 0, result.stderr
    assert "KZT central-bank money: issued 1_000_000.00 KZT, redeemed 300_000.00 KZT, held " \
           "550_000.00 KZT" in result.stdout
    assert "KZT burned on expiry: 150_000.00 KZT" in result.stdout
    assert "token JPYS" in result.stdout and "minted 700 JPY, burned 500 JPY, held 200 JPY" in (
        result.stdout)
    assert "the ledger verifies" in result.stdout
