"""The reader's two validators agree: libxml2's quick check accepts only what xmlschema accepts.

Method: hypothesis builds every kind of message and checks that the quick path
(`schemas._plainly_valid`) takes it, so valid traffic really is read the quick way. Then it
breaks built documents (an element's text replaced by a hostile or ill-typed value, an element
dropped or repeated) and checks that whenever the quick path accepts the result, xmlschema, asked
directly, finds no error: the quick path never lets through what the careful one refuses. A
document carrying a markup declaration never takes the quick path.
"""

from __future__ import annotations

from xml.etree import ElementTree

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iso20022_samples import samples
from iso20022_strategies import (
    credit_transfers,
    status_reports,
    verification_reports,
    verification_requests,
)

from bridges.iso20022 import (
    build_credit_transfer,
    build_status_report,
    build_verification_report,
    build_verification_request,
)
from bridges.iso20022.schemas import (
    ACMT_023,
    ACMT_024,
    PACS_002,
    PACS_008,
    MessageDefinition,
    _plainly_valid,
    schema,
)

CHECKS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BUILT = st.one_of(
    credit_transfers.map(lambda m: (PACS_008, build_credit_transfer(m))),
    status_reports.map(lambda m: (PACS_002, build_status_report(m))),
    verification_requests.map(lambda m: (ACMT_023, build_verification_request(m))),
    verification_reports.map(lambda m: (ACMT_024, build_verification_report(m))),
)
# Values that break some element's type: too long, wrong characters, wrong shape, empty.
HOSTILE_TEXTS = st.one_of(
    st.sampled_from(["", " ", "X" * 141, "1.2.3", "-5", "1e3", "ABCD", "zz", "12345678901234567890",
                     "2026-13-45T25:61:00Z", "eb6305c9-1f7e-4b0d-b1a8", "XXX", "ACCCC", "0.001"]),
    st.text(max_size=40),
)
BY_PREFIX = {"pacs008": PACS_008, "pacs002": PACS_002, "acmt023": ACMT_023, "acmt024": ACMT_024}
SAMPLES = [(BY_PREFIX[name.split("-")[0]], build()) for name, build in samples().items()]


def _xmlschema_accepts(message: MessageDefinition, data: bytes) -> bool:
    return next(schema(message).iter_errors(data), None) is None


@CHECKS
@given(BUILT)
def test_every_built_message_takes_the_quick_path(built: tuple[MessageDefinition, bytes]
                                                  ) -> None:
    """What the builders write, libxml2 accepts at once."""
    message, data = built
    assert _plainly_valid(message, data)


@CHECKS
@given(st.sampled_from(SAMPLES), st.integers(min_value=0), HOSTILE_TEXTS,
       st.sampled_from(["text", "drop", "repeat"]))
def test_the_quick_path_accepts_nothing_xmlschema_refuses(
        sample: tuple[MessageDefinition, bytes], index: int, text: str, how: str) -> None:
    """A broken document is accepted by the quick path only if xmlschema accepts it too."""
    message, data = sample
    root = ElementTree.fromstring(data)
    parents = {child: parent for parent in root.iter() for child in parent}
    element = list(root.iter())[1:][index % (len(parents))]
    if how == "text":
        element.text = text
    elif how == "drop":
        parents[element].remove(element)
    else:
        parents[element].append(ElementTree.fromstring(ElementTree.tostring(element)))
    broken = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    if _plainly_valid(message, broken):
        assert _xmlschema_accepts(message, broken)


def test_a_document_with_a_declaration_takes_the_careful_path() -> None:
    """A comment, a DTD or an entity sends even a valid document to xmlschema's reader."""
    message, data = next(sample for sample in SAMPLES if sample[0] is PACS_008)
    commented = data.replace(b"<Document", b"<!-- a note --><Document", 1)
    assert _xmlschema_accepts(message, commented)
    assert not _plainly_valid(message, commented)
