"""Errors of the ISO 20022 bridge: stable codes, where in the message, and the layer's exception.

Every problem is an `Iso20022Error` carrying a `Code` from `CATALOGUE`. Codes are stable: callers,
tests and `docs/iso20022.md` key on them, and a code never changes its meaning. Families:

* `I00xx` internal: a bug in Earmark, never the caller's fault;
* `I01xx` reading: the bytes are not an XML document of the expected message;
* `I02xx` schema: the document does not validate against the message's official XSD;
* `I03xx` rules: the document validates, but breaks a rule that the XSD cannot express (an amount
  with more decimals than its currency has, a status outside the external code set, …);
* `I04xx` building: a value that the message cannot carry.

An error names the place (`path`, an XPath-like `/Document/…` string) and the `reason`.
"""

from __future__ import annotations

from bridges.catalogue import Code, catalogue

# Internal.
INTERNAL = Code("I0001", "internal", "internal error of the ISO 20022 bridge (a bug in Earmark)")
# Reading the bytes.
NOT_XML = Code("I0101", "not_xml", "the bytes are not a well-formed XML document")
FORBIDDEN_XML = Code(
    "I0102", "forbidden_xml", "the document declares entities or refers to outside resources"
)
MESSAGE_TOO_LARGE = Code(
    "I0103", "message_too_large", "the message is larger or nested deeper than the limit"
)
WRONG_MESSAGE = Code("I0104", "wrong_message", "the document is another message (or version)")
# The official schema.
SCHEMA_INVALID = Code("I0201", "schema_invalid", "the document does not validate against the XSD")
# Rules beyond the schema.
UNKNOWN_CURRENCY = Code("I0301", "unknown_currency", "not an ISO 4217 currency with minor units")
AMOUNT_DECIMALS = Code(
    "I0302", "amount_decimals", "an amount with more decimals than its currency has"
)
UNKNOWN_CODE = Code("I0303", "unknown_code", "a code outside the external code set the bridge uses")
REASON_MISMATCH = Code(
    "I0304", "reason_mismatch", "a reason missing where required, or present where not allowed"
)
UNSUPPORTED = Code("I0305", "unsupported", "a valid construct that the bridge does not model")
TIME_WITHOUT_OFFSET = Code("I0306", "time_without_offset", "a date and time without a UTC offset")
TOO_MANY = Code("I0307", "too_many", "more repetitions of an element than the limit")
# Building.
REFUSED = Code("I0401", "refused", "a value that the message cannot carry")

CATALOGUE: dict[str, Code] = catalogue(globals().copy())


class Iso20022Error(ValueError):
    """Everything the ISO 20022 bridge raises: a code, the path in the message, and why.

    `path` is `/Document/…` for reading errors (empty when the whole input is at fault) and the
    field name of the typed object for building errors.
    """

    def __init__(self, code: Code, path: str, reason: str) -> None:
        where = f" at {path}" if path else ""
        super().__init__(f"{code.code} {code.name}{where}: {reason}")
        self.code = code
        self.path = path
        self.reason = reason

    def to_json(self) -> dict[str, str]:
        """The error as one JSON object."""
        return {"code": self.code.code, "name": self.code.name, "path": self.path,
                "reason": self.reason}


def refuse(field: str, reason: str) -> Iso20022Error:
    """A value of the typed object that the message cannot carry (code I0401)."""
    return Iso20022Error(REFUSED, field, reason)


def internal(reason: str) -> Iso20022Error:
    """A broken invariant of the bridge itself: reported as I0001, never blamed on the input."""
    return Iso20022Error(INTERNAL, "", f"{reason} (this is a bug in Earmark)")
