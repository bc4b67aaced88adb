"""A node's configuration file (TOML): role, name, address, database, key and limits.

`earmark node init` writes one with a fresh key (the file is the key's only home: it is written
readable by its owner alone); `earmark node start --config FILE` reads it. Pydantic checks it,
so a wrong file is refused with the field and the reason before anything starts.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from dsl.money import is_currency
from engine.keys import KeyPair
from node.errors import NodeError
from node.kyc_limits import KYC_TIERS, default_daily_limits

Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Role = Literal["central", "bank"]
C = TypeVar("C", bound=BaseModel)


class CentralLink(BaseModel):
    """Where a bank finds its central bank, and the central bank's public key."""

    model_config = ConfigDict(extra="forbid")
    url: str
    key: Hex64


class NodeConfig(BaseModel):
    """Everything a node needs to start."""

    model_config = ConfigDict(extra="forbid")
    role: Role
    name: Name
    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)
    database: str
    currencies: list[str] = Field(min_length=1)
    key_seed: Hex64
    central: CentralLink | None = None
    daily_limits: dict[str, list[int]] = Field(default_factory=dict)

    @field_validator("currencies")
    @classmethod
    def _known(cls, currencies: list[str]) -> list[str]:
        unknown = [c for c in currencies if not is_currency(c)]
        if unknown:
            raise PydanticCustomError("currency", "not ISO 4217 currencies with minor units: "
                                     "{unknown}", {"unknown": unknown})
        return currencies

    @field_validator("daily_limits")
    @classmethod
    def _per_tier(cls, limits: dict[str, list[int]]) -> dict[str, list[int]]:
        for currency, amounts in limits.items():
            if len(amounts) != len(KYC_TIERS) or any(a < 0 for a in amounts):
                raise PydanticCustomError(
                    "limits", "{currency}: one non-negative amount per KYC tier {first}..{last}",
                    {"currency": currency, "first": KYC_TIERS[0], "last": KYC_TIERS[-1]})
        return limits

    @property
    def key(self) -> KeyPair:
        """The node's signing key."""
        return KeyPair.from_seed(bytes.fromhex(self.key_seed))

    def daily_limit(self, currency: str, tier: int) -> int:
        """The most a customer of `tier` may pay per day in `currency`, in minor units."""
        limits = self.daily_limits.get(currency) or default_daily_limits(currency)
        return limits[tier]


def require_unique(what: str, values: list[str]) -> None:
    """A configuration validator's check: no value of `values` appears twice."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise PydanticCustomError("unique", "{what} {value} appears twice",
                                      {"what": what, "value": value})
        seen.add(value)


def load(path: Path) -> NodeConfig:
    """The configuration in `path`; a relative SQLite path counts from the file's folder."""
    config = read(path, NodeConfig)
    return config.model_copy(update={"database": database_near(config.database, path)})


def read(path: Path, model: type[C]) -> C:
    """The TOML file `path` checked against `model`; a `NodeError` names the first problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return model.model_validate(data)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise NodeError(400, "config_unreadable", "Configuration unreadable",
                        f"{path}: {error}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise NodeError(400, "config_invalid", "Configuration invalid",
                        f"{path}: {where}: {first['msg']}") from None


def database_near(url: str, path: Path) -> str:
    """`url`, with a relative SQLite path made absolute from the folder of the file `path`."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        return f"{prefix}{(path.parent / url[len(prefix):]).resolve()}"
    return url


def write(config: BaseModel, path: Path) -> None:
    """Write the file readable by its owner only: it holds the node's key."""
    data = config.model_dump(mode="json", exclude_none=True)  # paths and enums as TOML text
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # the mode of os.open only applies to a new file
    with os.fdopen(descriptor, "wb") as file:
        tomli_w.dump(data, file)


def fresh(role: Role, name: str, port: int, currencies: list[str], *,
          database: str | None = None, central: CentralLink | None = None) -> NodeConfig:
    """A new configuration with a fresh random key."""
    seed = os.urandom(32).hex()
    return NodeConfig(role=role, name=name, port=port, currencies=currencies, key_seed=seed,
                      database=database or f"sqlite:///{name}.db", central=central,
                      daily_limits={c: default_daily_limits(c) for c in currencies})
