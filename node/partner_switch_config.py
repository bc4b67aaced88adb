"""The partner QR switch stand-in's configuration file (TOML): its scheme, participants, merchants.

A partner switch is a national QR payment system abroad (PromptPay, DuitNow, VietQR/NAPAS) that
Earmark's hub pays merchants through. The file says which scheme the stand-in plays, where it
listens, where its database is, the FX providers' prefunded settlement accounts at the switch
(their opening balances) and the merchants it knows: their proxy (as the scheme writes it),
account number, legal name and status. `earmark partner-switch init` writes one with samples.
Balances live in the database; an opening balance counts only when the account is first created.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from bridges.iso20022 import Proxy, ProxyType
from bridges.qr.schemes.promptpay import PROXIES as PROMPTPAY_PROXIES
from bridges.qr.schemes.promptpay import normalise_mobile
from dsl.money import exponent
from node.config import Name, database_near, read, require_unique


class Scheme(StrEnum):
    """The national QR payment system a switch plays."""

    PROMPTPAY = "promptpay"  # Thailand, Bank of Thailand and National ITMX
    DUITNOW = "duitnow"  # Malaysia, PayNet
    VIETQR = "vietqr"  # Vietnam, NAPAS


# What each scheme settles in and where: a switch settles only in its country's currency.
SCHEME_COUNTRY: Final[dict[Scheme, str]] = {
    Scheme.PROMPTPAY: "TH", Scheme.DUITNOW: "MY", Scheme.VIETQR: "VN"}
SCHEME_CURRENCY: Final[dict[Scheme, str]] = {
    Scheme.PROMPTPAY: "THB", Scheme.DUITNOW: "MYR", Scheme.VIETQR: "VND"}
# PromptPay's credit-transfer proxies (bridges/qr) as ISO 20022 proxy types: the QR's account
# key, and the form the proxy must have.
PROMPTPAY_PROXY_TYPES: Final[dict[ProxyType, str]] = {
    ProxyType.MOBILE_NUMBER: "promptpay_mobile",
    ProxyType.NATIONAL_IDENTITY_NUMBER: "promptpay_national_id",
    ProxyType.E_WALLET: "promptpay_ewallet_id",
}
PARTICIPANTS_MAX: Final = 100  # settlement participants (FX providers) of one switch
MERCHANTS_MAX: Final = 10_000  # merchants in one configuration file
# Minor units across all accounts of a switch: money is only moved between its accounts, so no
# balance ever exceeds the sum of the opening balances, and that sum fits a signed 64-bit column.
BALANCE_MINOR_MAX: Final = 2**63 - 1
PAYMENT_MINOR_MAX_DEFAULT: Final = 10**12  # one credit transfer, unless the file says otherwise
# A legal name is shown masked in `Acct/Nm`, an ISO 20022 Max70Text.
LEGAL_NAME_CHARACTERS_MAX: Final = 70

AgentId = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{3,34}$")]  # a BIC or member id
AccountNumber = Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,34}$")]  # an Othr/Id, Max34Text
ProxyValue = Annotated[str, Field(min_length=1, max_length=2048)]  # Prxy/Id is a Max2048Text
LegalName = Annotated[str, Field(min_length=1, max_length=LEGAL_NAME_CHARACTERS_MAX)]


class MerchantStatus(StrEnum):
    """Whether a merchant's account takes payments: open, blocked (held) or closed."""

    OPEN = "open"
    BLOCKED = "blocked"
    CLOSED = "closed"


class SettlementParticipant(BaseModel):
    """An FX provider's prefunded settlement account at the switch."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    agent_id: AgentId  # matched against the BIC, member id or other id of the paying agent
    name: str = Field(min_length=1, max_length=140)
    account: AccountNumber
    opening_balance_minor: int = Field(ge=0, le=BALANCE_MINOR_MAX)


class Merchant(BaseModel):
    """A merchant the switch can pay: its proxy (optional), account, legal name and status."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    proxy_type: ProxyType | None = None
    proxy: ProxyValue | None = None
    account: AccountNumber
    legal_name: LegalName
    status: MerchantStatus = MerchantStatus.OPEN

    @model_validator(mode="after")
    def _proxy_pair(self) -> Self:
        if (self.proxy_type is None) != (self.proxy is None):
            raise PydanticCustomError("proxy", "proxy_type and proxy go together")
        return self


class SwitchConfig(BaseModel):
    """Everything `earmark partner-switch run` needs."""

    model_config = ConfigDict(extra="forbid")
    name: Name  # e.g. promptpay-switch
    scheme: Scheme
    country: str = Field(pattern=r"^[A-Z]{2}$")
    currency: str
    agent_id: AgentId  # the switch itself, as it names itself in the messages it sends
    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)
    database: str
    # Where a payment to a blocked merchant is held (status BLCK: frozen, not returned).
    hold_account: AccountNumber = "held-for-blocked-merchants"
    payment_max_minor: int = Field(default=PAYMENT_MINOR_MAX_DEFAULT, gt=0,
                                   le=BALANCE_MINOR_MAX)
    participants: list[SettlementParticipant] = Field(min_length=1, max_length=PARTICIPANTS_MAX)
    merchants: list[Merchant] = Field(default_factory=list, max_length=MERCHANTS_MAX)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.country, self.currency) != (SCHEME_COUNTRY[self.scheme],
                                             SCHEME_CURRENCY[self.scheme]):
            raise PydanticCustomError(
                "scheme", "{scheme} settles in {currency} in {country}",
                {"scheme": self.scheme, "currency": SCHEME_CURRENCY[self.scheme],
                 "country": SCHEME_COUNTRY[self.scheme]})
        accounts = [self.hold_account, *(p.account for p in self.participants),
                    *(m.account for m in self.merchants)]
        require_unique("account", accounts)
        require_unique("participant agent_id", [p.agent_id for p in self.participants])
        require_unique("proxy", [proxy_key(self.scheme, proxy)
                          for proxy in (merchant_proxy(m) for m in self.merchants) if proxy])
        if sum(p.opening_balance_minor for p in self.participants) > BALANCE_MINOR_MAX:
            raise PydanticCustomError("balance", "the opening balances add up to more than "
                                      "{limit} minor units", {"limit": BALANCE_MINOR_MAX})
        for merchant in self.merchants:
            _check_proxy_form(self.scheme, merchant)
        return self


def _check_proxy_form(scheme: Scheme, merchant: Merchant) -> None:
    """PromptPay proxies must have the form the scheme's QR codes carry (bridges/qr)."""
    if scheme != Scheme.PROMPTPAY or merchant.proxy_type is None or merchant.proxy is None:
        return
    key = PROMPTPAY_PROXY_TYPES.get(merchant.proxy_type)
    forms = {name: (pattern, what) for _id, name, pattern, what in PROMPTPAY_PROXIES}
    if key is None:
        raise PydanticCustomError("proxy", "PromptPay has no {kind} proxy",
                                  {"kind": merchant.proxy_type.value})
    pattern, what = forms[key]
    if pattern.fullmatch(merchant.proxy) is None:
        raise PydanticCustomError("proxy", "{proxy}: a PromptPay {kind} proxy is {what}",
                                  {"proxy": merchant.proxy, "kind": key, "what": what})


def merchant_proxy(merchant: Merchant) -> Proxy | None:
    """The merchant's proxy as an ISO 20022 `Proxy`, if it has one."""
    if merchant.proxy_type is None or merchant.proxy is None:
        return None
    return Proxy(merchant.proxy_type, merchant.proxy)


def proxy_key(scheme: Scheme, proxy: Proxy) -> str:
    """The key a proxy is looked up by: PromptPay mobile numbers are written the scheme's way
    first (`+66-812345678` and `0812345678` are both `0066812345678`)."""
    value = proxy.identification
    if scheme == Scheme.PROMPTPAY and proxy.type == ProxyType.MOBILE_NUMBER:
        value = normalise_mobile(value)
    return f"{proxy.type.value}:{value}"


def load_switch(path: Path) -> SwitchConfig:
    """The switch configuration in `path`; a relative SQLite path counts from its folder."""
    config = read(path, SwitchConfig)
    return config.model_copy(update={"database": database_near(config.database, path)})


# Sample merchants per scheme, for `init`: (proxy type, proxy, account, legal name, status).
_SAMPLE_MERCHANTS: Final[dict[Scheme, tuple[tuple[ProxyType | None, str | None, str, str,
                                               MerchantStatus], ...]]] = {
    Scheme.PROMPTPAY: (
        (ProxyType.MOBILE_NUMBER, "0066812345678", "1234567890", "Siam Tea Co., Ltd.",
         MerchantStatus.OPEN),
        (ProxyType.NATIONAL_IDENTITY_NUMBER, "0105558123456", "2345678901",
         "Bangkok Noodle House Co., Ltd.", MerchantStatus.BLOCKED),
        (ProxyType.E_WALLET, "123456789012345", "3456789012", "Chiang Mai Crafts",
         MerchantStatus.CLOSED),
    ),
    Scheme.DUITNOW: (
        (ProxyType.MOBILE_NUMBER, "+60123456789", "5123456789012", "Kedai Kopi Sdn. Bhd.",
         MerchantStatus.OPEN),
        (ProxyType.CERTIFICATE_OF_INCORPORATION_NUMBER, "201901012345", "5234567890123",
         "Penang Batik Sdn. Bhd.", MerchantStatus.BLOCKED),
    ),
    Scheme.VIETQR: (
        (None, None, "0123456789", "Cong Ty TNHH Pho Ha Noi", MerchantStatus.OPEN),
        (None, None, "0234567890", "Cong Ty TNHH Ca Phe Sai Gon", MerchantStatus.BLOCKED),
    ),
}
# One FX provider's prefunded account: a million units of the switch's currency.
_SAMPLE_OPENING_UNITS: Final = 1_000_000


def sample_config(scheme: Scheme, port: int, *, name: str | None = None,
                  database: str | None = None) -> SwitchConfig:
    """A configuration of `scheme` with one FX provider and the scheme's sample merchants."""
    currency = SCHEME_CURRENCY[scheme]
    switch_name = name or f"{scheme.value}-switch"
    opening = _SAMPLE_OPENING_UNITS * 10 ** exponent(currency)
    return SwitchConfig(
        name=switch_name, scheme=scheme, country=SCHEME_COUNTRY[scheme], currency=currency,
        agent_id=f"{scheme.value.upper()}-SWITCH", port=port,
        database=database or f"sqlite:///{switch_name}.db",
        participants=[SettlementParticipant(
            agent_id="EXFXSGSG", name="Example FX Provider", account="FXP-0001",
            opening_balance_minor=opening)],
        merchants=[Merchant(proxy_type=kind, proxy=proxy, account=account, legal_name=legal,
                            status=status)
                   for kind, proxy, account, legal, status in _SAMPLE_MERCHANTS[scheme]],
    )
