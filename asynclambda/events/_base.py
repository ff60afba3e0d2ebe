"""The Struct base that every AWS event shape in :mod:`asynclambda.events` derives from.

Events are frozen, keyword-only msgspec Structs. Optional members are typed
``T | UnsetType = UNSET`` and the base sets ``omit_defaults=True``, so a member absent from the JSON
stays absent when re-encoded while a present ``null`` stays ``null``: decoding then encoding an AWS
event gives back the same JSON. ``omit_defaults`` is inherited; every subclass repeats
``frozen=True`` (so type checkers see it too) and ``kw_only=True`` (msgspec applies it only to the
fields a class itself defines).
"""

from __future__ import annotations

import base64
import binascii

import msgspec

__all__ = ["EventStruct", "b64decode"]


class EventStruct(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Base of every event Struct: frozen, keyword-only, unset members left out of the JSON."""


def b64decode(text: str, *, what: str) -> bytes:
    """Decode standard base64 ``text``; a ``ValueError`` names ``what`` and shows the bad value."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} is not valid base64: {text!r} ({exc})") from None
