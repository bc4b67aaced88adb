"""Contracts at the central bank: deployment by an agency, and their description on the wire.

An agency deploys a contract whose tokens it issues (only the issuer may later label money with
them). A contract that does not compile, or whose examples fail, is refused with every
diagnostic, so the agency sees the same findings as `earmark check`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final

from dsl.phases import CompiledContract
from engine.ids import ContractHash
from engine.store import ContractRefused, SqlStore
from node.errors import NodeError, not_found, unprocessable
from node.messages import ContractList, ContractWire

CONTRACTS_DESCRIBED_MAX: Final = 256  # compiled descriptions kept in memory (by source)


def deploy(store: SqlStore, source: str, filename: str, agency: str) -> ContractWire:
    """Deploy `source` for `agency` (blocking: it compiles and writes); raises a 422 when the
    contract is refused or names another issuer."""
    compiled = CompiledContract(source, filename)
    if compiled.ok and compiled.checked is not None:
        others = sorted({t.issuer for t in compiled.checked.tokens.values()} - {agency})
        if others:
            raise unprocessable("issuer_mismatch", f"the contract's tokens are issued by "
                                f"{', '.join(others)}, not by {agency}")
    try:
        digest = store.deploy(source, filename)
    except ContractRefused as refused:
        raise contract_refused(refused.contract) from None
    return describe(digest, source)


def contract_refused(contract: CompiledContract) -> NodeError:
    """The 422 for a contract that cannot be deployed, with every diagnostic."""
    diagnostics: list[dict[str, Any]] = [
        {"code": d.code.code, "severity": d.severity.value, "message": d.message,
         "line": d.span.line, "column": d.span.column} for d in contract.diagnostics]
    failed = [r.title for r in contract.example_results if not r.passed]
    first = next((d["message"] for d in diagnostics if d["severity"] == "error"), "refused")
    return unprocessable("contract_refused", first, diagnostics=diagnostics,
                         examples_failed=failed)


def describe(digest: ContractHash, source: str, *, with_source: bool = False) -> ContractWire:
    """A deployed contract on the wire."""
    name, version, tokens, issuer = _facts(source)
    return ContractWire(hash=digest, name=name, version=version, tokens=list(tokens),
                        issuer=issuer, source=source if with_source else None)


def page(store: SqlStore, after: str, limit: int) -> ContractList:
    """A page of deployed contracts by hash (blocking: it may compile them)."""
    found = store.contracts(after, limit + 1)
    items = [describe(digest, source) for digest, source in found[:limit]]
    return ContractList(items=items, next=items[-1].hash if len(found) > limit else None)


def find(store: SqlStore, digest: str) -> ContractWire:
    """A deployed contract with its source, or 404."""
    source = store.contract_source(ContractHash(digest))
    if source is None:
        raise not_found("contract")
    return describe(ContractHash(digest), source, with_source=True)


@lru_cache(maxsize=CONTRACTS_DESCRIBED_MAX)
def _facts(source: str) -> tuple[str, int, tuple[str, ...], str]:
    """Name, version, token names and issuer of a deployed (so compilable) contract."""
    checked = CompiledContract(source).checked
    if checked is None:
        return "", 0, (), ""
    issuers = sorted({t.issuer for t in checked.tokens.values()})
    return checked.name, checked.version, tuple(sorted(checked.tokens)), ", ".join(issuers)
