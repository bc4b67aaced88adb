"""The checker: structure, names and types of a whole contract, every problem in one run.

It reads the syntax tree item by item: sets first (they may name earlier sets), then tokens,
policies, FX corridors and examples. It returns a `CheckedContract` together with every
diagnostic, errors and warnings, in source order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from dsl import ast, errors, ir, money, types
from dsl.errors import Diagnostic, Span
from dsl.example_steps import check_examples
from dsl.facts import CHANNELS, FACTS, OPERATIONS, RELEASE_OPERATIONS, ROLES
from dsl.limits import ITEMS_MAX, POLICY_ITEMS_MAX
from dsl.model import (
    CheckedContract,
    CorridorClause,
    CorridorSpec,
    ExpirySpec,
    HoldSpec,
    LimitSpec,
    PolicySpec,
    RuleSpec,
    TokenSpec,
)
from dsl.resolve import Resolver, Scope, date_seconds, suggest
from dsl.types import Kind

_DAY_S = 86_400
_T = TypeVar("_T")


def check(contract: ast.Contract) -> tuple[CheckedContract, tuple[Diagnostic, ...]]:
    """Check a parsed contract; the diagnostics are sorted by position."""
    checker = _Checker(Resolver())
    checked = checker.run(contract)
    found = sorted(checker.resolver.found, key=lambda d: (d.span.line, d.span.column))
    return checked, tuple(found)


@dataclass(slots=True)
class _Checker:
    resolver: Resolver

    def report(self, code: errors.Code, message: str, span: Span, label: str = "",
               help: str = "") -> None:
        self.resolver.report(code, message, span, label, help)

    def run(self, contract: ast.Contract) -> CheckedContract:
        if len(contract.items) > ITEMS_MAX:
            self.report(errors.TOO_MANY_ITEMS, f"the contract has {len(contract.items)} items; "
                        f"the limit is {ITEMS_MAX}", contract.header.span)
        constants = self._sets(_of(contract.items, ast.SetDef))
        token_defs = _of(contract.items, ast.TokenDef)
        tokens = self._tokens(token_defs)
        written = {definition.name for definition in token_defs}
        policies = self._policies(_of(contract.items, ast.PolicyDef), tokens, written, constants)
        corridors = self._corridors(_of(contract.items, ast.FxDef))
        for name, token in tokens.items():
            if name not in policies:
                self.report(errors.TOKEN_WITHOUT_POLICY, f"token {name} has no policy, so it "
                            "can only be returned to its issuer", token.span,
                            help=f"add `policy {name} {{ ... }}`")
                # Closed by default: an empty policy admits nothing but a return.
                policies[name] = PolicySpec(token, (), (), (), frozenset(), token.span)
        examples = check_examples(
            self.resolver, _of(contract.items, ast.ExampleDef), tokens, policies, corridors,
            constants,
        )
        header = contract.header
        description = header.description.value if header.description else ""
        return CheckedContract(header.name, int(header.version or 0), description, tokens,
                               policies, corridors, examples)

    # ---- sets --------------------------------------------------------------------------------

    def _sets(self, definitions: Iterable[ast.SetDef]) -> dict[str, ir.Const]:
        constants: dict[str, ir.Const] = {}
        for definition in definitions:
            scope = Scope(constants, None, facts_allowed=False)
            value = self.resolver.expression(definition.value, scope)
            if definition.name in constants:
                self._duplicate("set", definition.name, definition.name_span)
                continue
            if _is_reserved(definition.name):
                self.report(errors.DUPLICATE_NAME, f"`{definition.name}` already names a fact, "
                            "role, channel, operation or currency", definition.name_span,
                            help="choose another name for the set")
                continue
            if isinstance(value, ir.Const) and not value.type.is_error:
                constants[definition.name] = value
            elif not value.type.is_error:
                self.report(errors.TYPE_MISMATCH, "a set must be known before any payment",
                            definition.value.span)
        return constants

    def _duplicate(self, what: str, name: str, span: Span) -> None:
        self.report(errors.DUPLICATE_NAME, f"{what} `{name}` is defined twice", span,
                    "second definition", "rename one of them")

    # ---- tokens ------------------------------------------------------------------------------

    def _tokens(self, definitions: Iterable[ast.TokenDef]) -> dict[str, TokenSpec]:
        tokens: dict[str, TokenSpec] = {}
        seen: set[str] = set()
        for definition in definitions:
            token = self._token(definition)
            if definition.name in seen:
                self._duplicate("token", definition.name, definition.name_span)
            elif token is not None:
                tokens[definition.name] = token
            seen.add(definition.name)
        return tokens

    def _token(self, definition: ast.TokenDef) -> TokenSpec | None:
        fields: dict[str, ast.TokenField] = {}
        for token_field in definition.fields:
            if token_field.key in fields:
                self.report(errors.DUPLICATE_FIELD, f"`{token_field.key}` is given twice",
                            token_field.span, "second one")
            fields.setdefault(token_field.key, token_field)
        currency = self._token_currency(definition, fields.get("currency"))
        issuer = fields.get("issuer")
        if issuer is None:
            self.report(errors.MISSING_FIELD, f"token {definition.name} has no issuer",
                        definition.name_span, help='add `issuer "ministry-of-health"`')
        expires = fields.get("expires")
        expiry = self._expiry(expires.value) if expires is not None else None
        bridged = fields.get("bridged")
        if bridged is not None and expires is not None:
            # An expiring note would leave the ledger while its backing stays in the vault.
            self.report(errors.BRIDGED_EXPIRY, f"the bridged token {definition.name} cannot "
                        f"expire: its supply always equals the vault's balance", expires.span,
                        help="remove `expires`, or make the token an ordinary one")
        if currency is None or issuer is None or not isinstance(issuer.value, ast.String):
            return None
        return TokenSpec(definition.name, currency, issuer.value.value, expiry, definition.span,
                         bridged is not None)

    def _token_currency(self, definition: ast.TokenDef,
                        found: ast.TokenField | None) -> str | None:
        if found is None:
            self.report(errors.MISSING_FIELD, f"token {definition.name} has no currency",
                        definition.name_span, help="add `currency KZT` (an ISO 4217 code)")
            return None
        if not isinstance(found.value, ast.Name):
            raise errors.InternalError("the grammar gives a token's currency as a name")
        code = found.value.name
        if not money.is_currency(code):
            self.report(errors.UNKNOWN_CURRENCY, f"`{code}` is not an ISO 4217 currency",
                        found.value.span, help=suggest(code, money.CURRENCY_EXPONENTS))
            return None
        return code

    def _expiry(self, value: ast.Name | ast.String | ast.Expiry | None) -> ExpirySpec | None:
        if not isinstance(value, ast.Expiry):
            return None
        moment = value.moment
        if isinstance(moment, ast.Date):
            start = date_seconds(moment.text)
            if start is None:
                self.report(errors.BAD_LITERAL, f"{moment.text} is not a calendar date",
                            moment.span, "no such day")
                return None
            # A token "expires 2027-01-31" can still be spent on that day (UTC).
            return ExpirySpec(start + _DAY_S, None, value.then, value.span)
        duration = self.resolver.literal_quantity(moment)
        if duration.type.is_error:
            return None
        if duration.type.kind is not Kind.DURATION:
            self.report(errors.TYPE_MISMATCH, f"an expiry is a duration or a date, not "
                        f"{duration.type.describe()}", moment.span, help="e.g. `90 days`")
            return None
        if not isinstance(duration.value, int):
            raise errors.InternalError(f"duration {duration.value!r} is not whole seconds")
        return ExpirySpec(None, duration.value, value.then, value.span)

    # ---- policies ----------------------------------------------------------------------------

    def _policies(self, definitions: Iterable[ast.PolicyDef], tokens: dict[str, TokenSpec],
                  written: set[str], constants: dict[str, ir.Const]) -> dict[str, PolicySpec]:
        policies: dict[str, PolicySpec] = {}
        for definition in definitions:
            token = tokens.get(definition.token)
            if token is None and definition.token in written:
                continue  # the token's own error was reported; its policy cannot be checked
            if token is None:
                self.report(errors.UNKNOWN_TOKEN, f"no token `{definition.token}` in this "
                            "contract", definition.token_span, help=suggest(definition.token,
                                                                            tokens))
                continue
            if len(definition.items) > POLICY_ITEMS_MAX:
                self.report(errors.TOO_MANY_ITEMS, f"policy {definition.token} has "
                            f"{len(definition.items)} rules; the limit is {POLICY_ITEMS_MAX}",
                            definition.token_span)
            policy = self._policy(definition, token, constants)
            if definition.token in policies:
                self._duplicate("policy", definition.token, definition.token_span)
            else:
                policies[definition.token] = policy
        return policies

    def _policy(self, definition: ast.PolicyDef, token: TokenSpec,
                constants: dict[str, ir.Const]) -> PolicySpec:
        rules = [self._rule(item, token, constants) for item in _of(definition.items, ast.Rule)]
        limits = [self._limit(item, token) for item in _of(definition.items, ast.Limit)]
        holds = [self._hold(item, token) for item in _of(definition.items, ast.Hold)]
        releases = frozenset(self._release(item) for item in _of(definition.items, ast.Release))
        kept_rules = tuple(rule for rule in rules if rule is not None)
        self._warn_dead_rules(kept_rules)
        return PolicySpec(
            token, kept_rules, tuple(x for x in limits if x is not None),
            tuple(x for x in holds if x is not None), releases - {""}, definition.span,
        )

    def _operation(self, name: str, span: Span) -> bool:
        if name in OPERATIONS:
            return True
        self.report(errors.UNKNOWN_OPERATION, f"unknown operation `{name}`", span,
                    help=suggest(name, OPERATIONS) or f"operations: {', '.join(OPERATIONS)}")
        return False

    def _rule(self, rule: ast.Rule, token: TokenSpec,
              constants: dict[str, ir.Const]) -> RuleSpec | None:
        known = self._operation(rule.operation, rule.operation_span)
        scope = Scope(constants, token.currency, token.name, rule.operation if known else None)
        condition = self.resolver.condition(rule.condition, scope) if rule.condition else None
        targets = self._convert_clause(rule, rule.targets, types.CURRENCY, constants)
        providers = self._convert_clause(rule, rule.providers, types.STRING, constants)
        if not known or (condition is not None and condition.type.is_error):
            return None
        because = rule.because.value if rule.because else None
        return RuleSpec(rule.kind, rule.operation, targets, providers, condition, because,
                        rule.span)

    def _convert_clause(self, rule: ast.Rule, expr: ast.Expr | None, element: types.Type,
                        constants: dict[str, ir.Const]) -> frozenset[str] | None:
        if expr is None:
            return None
        keyword = "to" if element == types.CURRENCY else "via"
        if rule.operation != "convert":
            self.report(errors.CONVERT_CLAUSE_MISPLACED, f"`{keyword}` belongs to convert "
                        f"rules, not to {rule.operation}", expr.span)
            return None
        scope = Scope(constants, None, operation="convert", facts_allowed=False)
        node = self.resolver.expression(expr, scope)
        if node.type.is_error or not isinstance(node, ir.Const):
            return None
        if node.type == element:
            return frozenset({str(node.value)})
        if node.type == types.set_of(element) and isinstance(node.value, frozenset):
            return frozenset(str(value) for value in node.value)
        wanted = "currencies" if keyword == "to" else "FX provider names (strings)"
        self.report(errors.TYPE_MISMATCH, f"`{keyword}` takes {wanted}, not "
                    f"{node.type.describe()}", expr.span)
        return None

    def _amount(self, quantity: ast.Quantity, token: TokenSpec, what: str) -> int | None:
        amount = self.resolver.literal_quantity(quantity)
        if amount.type.is_error:
            return None
        if amount.type.kind is not Kind.MONEY:
            self.report(errors.TYPE_MISMATCH, f"{what} is an amount, not "
                        f"{amount.type.describe()}", quantity.span)
            return None
        if amount.type.currency != token.currency:
            self.report(errors.CURRENCY_MISMATCH, f"{what} is in {amount.type.currency}; the "
                        f"token {token.name} is {token.currency}", quantity.span,
                        f"this is {amount.type.currency}")
            return None
        if not isinstance(amount.value, int):
            raise errors.InternalError(f"amount {amount.value!r} is not in minor units")
        if amount.value <= 0:
            self.report(errors.BAD_LIMIT, f"{what} must be more than zero", quantity.span)
            return None
        return amount.value

    def _limit(self, limit: ast.Limit, token: TokenSpec) -> LimitSpec | None:
        amount = self._amount(limit.amount, token, "a limit")
        if amount is None:
            return None
        return LimitSpec(amount, limit.scope, limit.period, limit.span)

    def _hold(self, hold: ast.Hold, token: TokenSpec) -> HoldSpec | None:
        amount = self._amount(hold.amount, token, "a holding limit")
        return HoldSpec(amount, hold.span) if amount is not None else None

    def _release(self, release: ast.Release) -> str:
        if release.operation in RELEASE_OPERATIONS:
            return release.operation
        if self._operation(release.operation, release.operation_span):
            self.report(errors.BAD_RELEASE, f"money is released to a merchant or a bank, on "
                        f"purchase or cash_out; not on {release.operation}",
                        release.operation_span)
        return ""

    def _warn_dead_rules(self, rules: tuple[RuleSpec, ...]) -> None:
        blocked: dict[str, RuleSpec] = {}
        for rule in rules:
            if rule.operation == "return":
                self.report(errors.NEVER_FIRES, f"`{rule.name}` changes nothing: a return to "
                            "the issuer is always allowed", rule.span)
            elif _never(rule.condition):
                self.report(errors.NEVER_FIRES, f"`{rule.name}` can never fire: its condition "
                            "is always false", rule.span)
            elif rule.kind == "deny" and _always(rule):
                blocked.setdefault(rule.operation, rule)
        for rule in rules:
            deny = blocked.get(rule.operation)
            if rule.kind == "allow" and deny is not None:
                self.report(errors.SHADOWED_ALLOW, f"`{rule.name}` can never admit anything: "
                            f"`{deny.name}` on line {deny.span.line} refuses every "
                            f"{rule.operation}",
                            rule.span, help="deny wins over allow; remove one of the two")

    # ---- FX corridors ------------------------------------------------------------------------

    def _corridors(self, definitions: Iterable[ast.FxDef]) -> dict[tuple[str, str], CorridorSpec]:
        corridors: dict[tuple[str, str], CorridorSpec] = {}
        for definition in definitions:
            corridor = self._corridor(definition)
            key = (definition.source, definition.target)
            if key in corridors:
                self._duplicate("corridor", definition.label, definition.currencies_span)
            elif corridor is not None:
                corridors[key] = corridor
        return corridors

    def _corridor(self, definition: ast.FxDef) -> CorridorSpec | None:
        valid = True
        for code in (definition.source, definition.target):
            if not money.is_currency(code):
                self.report(errors.UNKNOWN_CURRENCY, f"`{code}` is not an ISO 4217 currency",
                            definition.currencies_span,
                            help=suggest(code, money.CURRENCY_EXPONENTS))
                valid = False
        if valid and definition.source == definition.target:
            self.report(errors.BAD_CORRIDOR, f"a corridor converts between two currencies; "
                        f"this one is {definition.label}", definition.currencies_span)
            valid = False
        clauses: dict[str, CorridorClause] = {}
        for clause in definition.clauses:
            checked = self._corridor_clause(clause, definition.source) if valid else None
            if clause.key in clauses:
                self.report(errors.DUPLICATE_FIELD, f"`{clause.key.replace('_', ' ')}` is given "
                            "twice", clause.span, "second one")
            elif checked is not None:
                clauses[clause.key] = checked
        if not valid:
            return None
        return CorridorSpec(definition.source, definition.target, tuple(clauses.values()),
                            definition.span)

    def _corridor_clause(self, clause: ast.FxClause, source: str) -> CorridorClause | None:
        node = self.resolver.expression(clause.value, Scope({}, None, facts_allowed=False))
        if node.type.is_error or not isinstance(node, ir.Const):
            return None
        expected = {
            "providers": types.set_of(types.STRING), "max_spread": types.PERCENT,
            "max_fee": types.PERCENT, "max_amount": types.money(source),
            "quote_valid": types.DURATION,
        }[clause.key]
        if node.type.kind is Kind.MONEY and expected.kind is Kind.MONEY:
            if node.type != expected:
                self.report(errors.CURRENCY_MISMATCH, f"the corridor converts from {source}; "
                            f"this amount is in {node.type.currency}", clause.value.span)
                return None
        elif node.type != expected:
            self.report(errors.TYPE_MISMATCH, f"`{clause.key.replace('_', ' ')}` takes "
                        f"{expected.describe()}, not {node.type.describe()}", clause.value.span)
            return None
        value = node.value
        if not isinstance(value, frozenset | Decimal | int):
            raise errors.InternalError(f"corridor clause value {value!r}")
        return CorridorClause(clause.key, value, clause.span)


def _of(items: Iterable[object], kind: type[_T]) -> list[_T]:
    return [item for item in items if isinstance(item, kind)]


def _is_reserved(name: str) -> bool:
    """Whether a bare `name` already means something: a fact, role, channel, operation, currency."""
    vocabulary = (*FACTS, *ROLES, *CHANNELS, *OPERATIONS)
    return name in vocabulary or money.is_currency(name)


def _never(condition: ir.Node | None) -> bool:
    return isinstance(condition, ir.Const) and condition.value is False


def _always(rule: RuleSpec) -> bool:
    unconditional = rule.condition is None or (
        isinstance(rule.condition, ir.Const) and rule.condition.value is True
    )
    return unconditional and rule.targets is None and rule.providers is None
