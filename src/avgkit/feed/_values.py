"""The downstream feed: what each recipient (a CRM, a mailing tool) must be told (values).

A :class:`FeedNotice` tells one recipient that something changed about one subject: consent
given or withdrawn, an objection, an erasure, a restriction begun or lifted, a
rectification (Art. 19: recipients are told of rectifications, erasures and restrictions).
Notices name the subject by its pseudonymous reference always, and by the host's id only
while the subject exists; a rectification names the fields corrected, never their values.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Final, NoReturn

import attrs

from avgkit._validators import (
    InvalidAttributeError,
    opt,
    to_tuple,
    to_utc,
    v_aware,
    v_key,
    v_keys,
    v_whole,
)
from avgkit.consent._values import subject_reference
from avgkit.errors import ValidationError
from avgkit.subjects import SubjectId, subject_id

__all__ = ["FeedKind", "FeedNotice", "check_notices"]

_REFERENCE_PREFIX: Final = "sr1:"


class FeedKind(enum.StrEnum):
    """What a feed notice tells its recipient.

    .. versionadded:: 0.2.0
    """

    CONSENT_GIVEN = "consent_given"
    """The subject consented to a purpose (the notice names it)."""
    CONSENT_WITHDRAWN = "consent_withdrawn"
    """The subject withdrew consent for a purpose: stop using the data for it."""
    OBJECTION = "objection"
    """The subject objected (Art. 21), to one purpose or to all direct marketing."""
    OBJECTION_LIFTED = "objection_lifted"
    """The subject withdrew an objection to a purpose."""
    ERASURE = "erasure"
    """The subject was erased (Art. 17, 19): erase them in the recipient's system too."""
    RESTRICTION = "restriction"
    """Processing of the subject's data is restricted (Art. 18): store it, use it no more."""
    RESTRICTION_LIFTED = "restriction_lifted"
    """The restriction ended."""
    RECTIFICATION = "rectification"
    """Fields of the subject's data were corrected (Art. 16, 19): fetch them again."""

    @property
    def needs_purpose(self) -> bool:
        """Whether a notice of this kind must name a purpose (consent is per purpose)."""
        return self in {FeedKind.CONSENT_GIVEN, FeedKind.CONSENT_WITHDRAWN}


def _to_kind(value: object) -> FeedKind:
    if isinstance(value, FeedKind):
        return value
    try:
        return FeedKind(str(value))
    except ValueError:
        msg = f"must be one of {[k.value for k in FeedKind]}"
        raise InvalidAttributeError("FeedNotice", "kind", msg) from None


def _to_reference(value: object) -> str:
    return subject_reference(value)


def _to_subject(value: object) -> SubjectId | None:
    if value is None:
        return None
    sid = subject_id(value)
    if sid.startswith(_REFERENCE_PREFIX):
        msg = "is the host's id of the subject; a reference belongs in subject_ref"
        raise InvalidAttributeError("FeedNotice", "subject", msg)
    return sid


@attrs.frozen(kw_only=True)
class FeedNotice:
    """One entry of the feed: a change one recipient must hear about.

    Args:
        seq: the notice's position in the feed; 0 until stored (the store assigns
            increasing positions, which a recipient's cursor remembers).
        recipient: the inventory's key of the recipient.
        kind: what changed.
        subject_ref: the subject's pseudonymous reference (``"sr1:"`` and 32 hex digits).
        subject: the host's id of the subject while it exists (never shown in ``repr``);
            ``None`` after its erasure.
        purpose: the purpose key concerned (required for consent given or withdrawn).
        at: when the change happened (aware).
        fields: for a rectification, the inventory field keys corrected (at least one);
            empty for every other kind. Never the values.

    Raises:
        ValidationError: a value is malformed, or the kind and the purpose or fields do not
            fit together.

    .. versionadded:: 0.2.0
    """

    seq: int = attrs.field(default=0, validator=v_whole(minimum=0))
    recipient: str = attrs.field(validator=v_key)
    kind: FeedKind = attrs.field(converter=_to_kind)
    subject_ref: str = attrs.field(converter=_to_reference)
    subject: SubjectId | None = attrs.field(default=None, converter=_to_subject, repr=False)
    purpose: str | None = attrs.field(default=None, validator=opt(v_key))
    at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    fields: tuple[str, ...] = attrs.field(
        default=(), converter=to_tuple, validator=v_keys(non_empty=False)
    )

    def __attrs_post_init__(self) -> None:
        """Refuse a purpose or fields the kind cannot have."""
        if self.kind.needs_purpose and self.purpose is None:
            _refuse("purpose", f"must name the purpose of a {self.kind.value!r} notice")
        if self.kind is FeedKind.RECTIFICATION and not self.fields:
            _refuse("fields", "must name the rectified fields of a 'rectification' notice")
        if self.kind is not FeedKind.RECTIFICATION and self.fields:
            _refuse(
                "fields", f"are only named by a 'rectification' notice, not {self.kind.value!r}"
            )


def _refuse(attribute: str, problem: str) -> NoReturn:
    raise InvalidAttributeError("FeedNotice", attribute, problem)


def check_notices(notices: object) -> tuple[FeedNotice, ...]:
    """Return a batch for :meth:`FeedStore.append <avgkit.storage.FeedStore.append>`, checked.

    Every item must be a :class:`FeedNotice` not stored yet (``seq`` 0). Stores call it
    before writing, so a bad item stores nothing.

    Raises:
        ValidationError: the batch is not a list or tuple, or an item is refused (named by
            its position).

    .. versionadded:: 0.2.0
    """
    if not isinstance(notices, Sequence) or isinstance(notices, str | bytes):
        msg = f"append() takes a list or tuple of FeedNotice values, got {type(notices).__name__}"
        raise ValidationError(msg)
    batch = tuple(notices)
    for number, notice in enumerate(batch, start=1):
        if not isinstance(notice, FeedNotice):
            msg = f"feed item {number} is a {type(notice).__name__}, not a FeedNotice"
            raise ValidationError(msg)
        if notice.seq != 0:
            msg = (
                f"feed item {number} was stored before (its seq is {notice.seq}); append "
                "new notices, whose seq is 0"
            )
            raise ValidationError(msg)
    return batch
