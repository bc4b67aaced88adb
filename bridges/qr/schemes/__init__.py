"""The scheme profiles, in the order decoding tries them, and lookup by name.

Recognition goes from the most specific identifier to the least: KHQR's Bakong account IDs,
PromptPay's AIDs, PayNet's AID, NAPAS's AID, SG.PAYNOW and SG.SGQR, and last the generic EMVCo
profile, which takes any payload.
"""

from __future__ import annotations

from bridges.qr import errors
from bridges.qr.errors import QrError
from bridges.qr.schemes import duitnow, generic, khqr, promptpay, sgqr, vietqr
from bridges.qr.schemes.profile import Profile
from bridges.qr.tlv import DataObject

PROFILES: tuple[Profile, ...] = (khqr.PROFILE, promptpay.PROFILE, duitnow.PROFILE,
                                 vietqr.PROFILE, sgqr.PROFILE, generic.PROFILE)
SCHEME_NAMES: tuple[str, ...] = tuple(profile.name for profile in PROFILES)
_BY_NAME = {profile.name: profile for profile in PROFILES}


def profile(name: str) -> Profile:
    """The profile called `name` (`khqr`, `promptpay`, …), or a Q0302 error."""
    found = _BY_NAME.get(name)
    if found is None:
        raise QrError(errors.UNKNOWN_SCHEME,
                      f"unknown scheme {name!r}; known: {', '.join(SCHEME_NAMES)}",
                      field="scheme", rule="one_of", value=name)
    return found


def recognise(objects: tuple[DataObject, ...]) -> Profile:
    """The first profile, in `PROFILES` order, that recognises a payload's root objects."""
    for candidate in PROFILES:
        if candidate.recognises(objects):
            return candidate
    return generic.PROFILE


__all__ = ["PROFILES", "SCHEME_NAMES", "Profile", "profile", "recognise"]
