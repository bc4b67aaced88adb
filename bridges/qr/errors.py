"""Errors of the QR bridge: stable codes, where in the payload, and the layer's one exception.

Every problem is a `QrError` carrying a `Code` from `CATALOGUE`. Codes are stable: the CLI, the
tests and the docs key on them, and a code never changes its meaning. Families:

* `Q00xx` internal: a bug in Earmark, never the caller's fault;
* `Q01xx` reading: the text is not a well-formed ID-length-value payload (with offset and tag);
* `Q02xx` structure: well-formed data objects that do not make a merchant-presented payload
  (a wrong CRC names the expected and the found value);
* `Q03xx` refusals: what a scheme does not allow when encoding (with field, rule and value);
* `Q04xx` images: files that cannot be read or hold no QR code.
"""

from __future__ import annotations

from bridges.catalogue import Code, catalogue

# Internal.
INTERNAL = Code("Q0001", "internal", "internal error of the QR bridge (a bug in Earmark)")
# Reading the ID-length-value text.
EMPTY_PAYLOAD = Code("Q0101", "empty_payload", "the payload is empty")
PAYLOAD_TOO_LONG = Code("Q0102", "payload_too_long", "the payload is longer than the limit")
BAD_ID = Code("Q0103", "bad_id", "a data object ID that is not two digits")
BAD_LENGTH = Code("Q0104", "bad_length", "a length that is not two digits from 01 to 99")
TRUNCATED = Code("Q0105", "truncated", "a value that runs past the end of its payload or template")
DUPLICATE_ID = Code("Q0106", "duplicate_id", "the same ID twice in one template")
UNENCODABLE = Code("Q0107", "unencodable", "a character UTF-8 cannot encode (a lone surrogate)")
# Structure of a merchant-presented payload.
FORMAT_INDICATOR = Code(
    "Q0201", "format_indicator", "the payload does not start with a payload format indicator"
)
CRC_PLACEMENT = Code("Q0202", "crc_placement", "the CRC (ID 63) is missing, misplaced or not 4 hex")
CRC_MISMATCH = Code("Q0203", "crc_mismatch", "the CRC does not match the payload")
MISSING_FIELD = Code("Q0204", "missing_field", "a mandatory data object is missing")
BAD_FIELD = Code("Q0205", "bad_field", "a data object whose value has the wrong format")
UNKNOWN_CURRENCY = Code("Q0206", "unknown_currency", "a currency that ISO 4217 does not define")
BAD_AMOUNT = Code("Q0207", "bad_amount", "an amount that is not an exact decimal of the currency")
# Refusals when encoding.
REFUSED = Code("Q0301", "refused", "the scheme refuses a value")
UNKNOWN_SCHEME = Code("Q0302", "unknown_scheme", "a scheme that the bridge does not know")
# Images.
IMAGE_UNREADABLE = Code("Q0401", "image_unreadable", "an image file that cannot be read")
NO_QR_CODE = Code("Q0402", "no_qr_code", "an image that holds no readable QR code")
PAYLOAD_NOT_IMAGEABLE = Code(
    "Q0403", "payload_not_imageable", "a payload that does not fit in a QR code"
)
SEVERAL_QR_CODES = Code("Q0404", "several_qr_codes", "an image that holds different QR codes")

CATALOGUE: dict[str, Code] = catalogue(globals().copy())


class QrError(ValueError):
    """Everything the QR bridge raises: a code, a message, and where or what it is about.

    Reading errors set `offset` (characters from the start of the payload) and `tag` (the path
    of IDs, such as `62.05`); a CRC mismatch sets `expected` and `found`; a refusal sets `field`,
    `rule` and `value`. Unset attributes are None.
    """

    def __init__(
        self,
        code: Code,
        message: str,
        *,
        offset: int | None = None,
        tag: str | None = None,
        field: str | None = None,
        rule: str | None = None,
        value: str | None = None,
        expected: str | None = None,
        found: str | None = None,
    ) -> None:
        super().__init__(f"{code.code} {code.name}: {message}")
        self.code = code
        self.message = message
        self.offset = offset
        self.tag = tag
        self.field = field
        self.rule = rule
        self.value = value
        self.expected = expected
        self.found = found

    def to_json(self) -> dict[str, object]:
        """The error as one JSON object; attributes that do not apply are left out."""
        shape: dict[str, object] = {"code": self.code.code, "name": self.code.name,
                                    "message": self.message}
        extras = {"offset": self.offset, "tag": self.tag, "field": self.field, "rule": self.rule,
                  "value": self.value, "expected": self.expected, "found": self.found}
        shape.update({key: value for key, value in extras.items() if value is not None})
        return shape


def refuse(scheme: str, field: str, rule: str, value: object, why: str) -> QrError:
    """A refusal of `value` for `field` under `rule`, worded the same way for every scheme."""
    shown = str(value)
    return QrError(REFUSED, f"{scheme} refuses {field} {shown!r}: {why} (rule {rule})",
                   field=field, rule=rule, value=shown)


def internal(message: str) -> QrError:
    """A broken invariant of the bridge itself: reported as Q0001, never blamed on the input."""
    return QrError(INTERNAL, f"{message} (this is a bug in Earmark)")
