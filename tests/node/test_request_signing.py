"""Signed requests: what `sign_request` produces `authenticate` accepts, and nothing else.

Each test signs a request with a fixed key and clock, changes one thing, and checks the code of
the refusal; a property test changes any one part of a signed request and expects a refusal.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.keys import KeyPair
from node.errors import NodeError
from node.request_signing import (
    KEY_HEADER,
    NONCE_CHARS_MAX,
    NONCE_HEADER,
    REQUEST_AGE_MAX_S,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    NonceCache,
    authenticate,
    sign_request,
)

KEY = KeyPair.from_seed(bytes(range(32)))
OTHER = KeyPair.from_seed(bytes(32))
NOW_S = 1_750_000_000
METHOD, PATH, BODY = "POST", "/payments?x=1", b'{"amount_minor":1250}'


def signed(**changes: str) -> dict[str, str]:
    """The headers of the standard request, with some replaced."""
    return sign_request(KEY, METHOD, PATH, BODY, now_s=NOW_S) | changes


def refusal(headers: dict[str, str], method: str = METHOD, path: str = PATH,
            body: bytes = BODY, *, nonces: NonceCache | None = None, now_s: float = NOW_S) -> str:
    """The code `authenticate` refuses with (the test fails if it accepts)."""
    with pytest.raises(NodeError) as raised:
        authenticate(headers, method, path, body, nonces or NonceCache(), now_s=now_s)
    assert raised.value.problem.status == 401
    return raised.value.problem.code


def test_good_signature_accepted() -> None:
    """A request signed now is accepted and names its signer, also with a lower-case method."""
    caller = authenticate(signed(), "post", PATH, BODY, NonceCache(), now_s=NOW_S + 5)
    assert caller == KEY.participant


@pytest.mark.parametrize(("part", "value"), [
    ("method", "PUT"), ("path", "/payments?x=2"), ("path", "/payment?x=1"),
    ("body", b'{"amount_minor":1251}'), ("body", b""),
])
def test_tampered_request_refused(part: str, value: str | bytes) -> None:
    """Another method, path, query or body than the one signed: auth_bad_signature."""
    request: dict[str, object] = {"method": METHOD, "path": PATH, "body": BODY, part: value}
    code = refusal(signed(), str(request["method"]), str(request["path"]),
                   request["body"] if isinstance(request["body"], bytes) else BODY)
    assert code == "auth_bad_signature"


def test_wrong_key_refused() -> None:
    """A signature by one key presented under another: auth_bad_signature."""
    assert refusal(signed(**{KEY_HEADER: OTHER.participant})) == "auth_bad_signature"


@pytest.mark.parametrize("signature", ["zz" * 64, "ab", "00" * 64])
def test_malformed_signature_refused(signature: str) -> None:
    """A signature that is not hex, too short, or just wrong: auth_bad_signature."""
    assert refusal(signed(**{SIGNATURE_HEADER: signature})) == "auth_bad_signature"


@pytest.mark.parametrize("offset_s", [REQUEST_AGE_MAX_S + 1, -REQUEST_AGE_MAX_S - 1, 10**6])
def test_stale_timestamp_refused(offset_s: int) -> None:
    """A request older or newer than the window, by the server's clock: auth_stale."""
    assert refusal(signed(), now_s=NOW_S + offset_s) == "auth_stale"


@pytest.mark.parametrize("timestamp", ["\u00b2", "\u00b9\u00b9\u00b9", "1" * 4_301, "1" * 13, "-5",
                                       " 1750000000"])
def test_a_timestamp_of_other_digits_is_refused_not_a_crash(timestamp: str) -> None:
    """Superscript digits (which str.isdigit takes and int() refuses), more digits than
    int() reads, a sign or a space: auth_stale, never an exception."""
    assert refusal(signed(**{TIMESTAMP_HEADER: timestamp})) == "auth_stale"


def test_timestamp_at_the_edge_accepted() -> None:
    """Exactly the window's age is still accepted: the bound is inclusive."""
    caller = authenticate(signed(), METHOD, PATH, BODY, NonceCache(),
                          now_s=NOW_S + REQUEST_AGE_MAX_S)
    assert caller == KEY.participant


@pytest.mark.parametrize("timestamp", ["-5", "1.5e9", "", "now"])
def test_unreadable_timestamp_refused(timestamp: str) -> None:
    """A timestamp that is not whole seconds is refused, never parsed loosely."""
    code = refusal(signed(**{TIMESTAMP_HEADER: timestamp}))
    assert code in {"auth_stale", "auth_missing"}


def test_replayed_nonce_refused() -> None:
    """The same signed request twice: the first is accepted, the second auth_replayed."""
    nonces, headers = NonceCache(), signed()
    authenticate(headers, METHOD, PATH, BODY, nonces, now_s=NOW_S)
    assert refusal(headers, nonces=nonces) == "auth_replayed"


def test_replay_under_upper_case_key_refused() -> None:
    """The same request again with the key written in upper case is the same caller: refused."""
    nonces, headers = NonceCache(), signed()
    authenticate(headers, METHOD, PATH, BODY, nonces, now_s=NOW_S)
    shouting = headers | {KEY_HEADER: headers[KEY_HEADER].upper()}
    assert refusal(shouting, nonces=nonces) == "auth_replayed"


def test_nonces_are_per_caller() -> None:
    """Two callers may happen to use the same nonce: each is accepted once."""
    nonces = NonceCache()
    first = sign_request(KEY, METHOD, PATH, BODY, now_s=NOW_S)
    authenticate(first, METHOD, PATH, BODY, nonces, now_s=NOW_S)
    other = sign_request(OTHER, METHOD, PATH, BODY, now_s=NOW_S)
    assert other[NONCE_HEADER] != first[NONCE_HEADER]
    assert authenticate(other, METHOD, PATH, BODY, nonces, now_s=NOW_S) == OTHER.participant


def test_nonce_forgotten_after_window() -> None:
    """A nonce older than the cache's window is forgotten (the timestamp check covers it)."""
    nonces = NonceCache(window_s=10)
    nonces.admit("caller", "n1", 100.0)
    nonces.admit("caller", "n2", 111.0)
    nonces.admit("caller", "n1", 112.0)
    with pytest.raises(NodeError) as raised:
        nonces.admit("caller", "n2", 113.0)
    assert raised.value.problem.code == "auth_replayed"


def test_nonce_cache_full_is_busy() -> None:
    """Beyond its bound the cache refuses with 503 busy rather than forgetting early."""
    nonces = NonceCache(most=2)
    nonces.admit("caller", "a", 1.0)
    nonces.admit("caller", "b", 1.0)
    with pytest.raises(NodeError) as raised:
        nonces.admit("caller", "c", 1.0)
    assert (raised.value.problem.status, raised.value.problem.code) == (503, "busy")


def test_long_nonce_refused() -> None:
    """A nonce beyond the limit is refused before it is remembered."""
    assert refusal(signed(**{NONCE_HEADER: "n" * (NONCE_CHARS_MAX + 1)})) == "auth_bad_signature"


@pytest.mark.parametrize("missing", [KEY_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER])
def test_missing_header_refused(missing: str) -> None:
    """Any one of the four headers missing: auth_missing."""
    headers = signed()
    del headers[missing]
    assert refusal(headers) == "auth_missing"


_PARTS = st.sampled_from(["method", "path", "body", KEY_HEADER, TIMESTAMP_HEADER,
                          NONCE_HEADER, SIGNATURE_HEADER])


@given(part=_PARTS, text=st.text(max_size=80), data=st.binary(max_size=80))
def test_any_mutation_refused(part: str, text: str, data: bytes) -> None:
    """Replace any one part of a signed request by something else: never accepted."""
    headers = signed()
    request: dict[str, object] = {"method": METHOD, "path": PATH, "body": BODY}
    if part == "body":
        request["body"] = BODY + data + b"!"
    elif part in request:
        request[part] = f"{request[part]}{text}!"
    else:
        headers[part] = text if text != headers[part] else text + "0"
    body = request["body"]
    assert isinstance(body, bytes)
    with pytest.raises(NodeError) as raised:
        authenticate(headers, str(request["method"]), str(request["path"]), body, NonceCache(),
                     now_s=NOW_S)
    assert raised.value.problem.status == 401
