"""Subject identifiers: the opaque handle a host gives avgkit for one data subject.

A subject id is whatever stable key the host's own database uses for a visitor
(``"cust-1042"``, a UUID). It must not be an e-mail address or a name: avgkit stores ids in
its own state and audit references derive from them.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import re
from typing import NewType

from avgkit._validators import encodable
from avgkit.errors import ValidationError

__all__ = ["MAX_SUBJECT_ID_LENGTH", "SubjectId", "subject_id"]

SubjectId = NewType("SubjectId", str)
"""An opaque, non-empty identifier of one data subject, made by :func:`subject_id`."""

MAX_SUBJECT_ID_LENGTH = 128
"""Longest accepted subject id; anything longer is almost certainly not an id."""

_CONTROL = re.compile("[\x00-\x1f\x7f]")  # the ASCII control characters


def subject_id(value: object) -> SubjectId:
    """Validate ``value`` and return it as a :data:`SubjectId`.

    Raises:
        ValidationError: ``value`` is not a string, is empty or blank, holds control
            characters, or is longer than :data:`MAX_SUBJECT_ID_LENGTH`. The message never
            repeats the value itself, which might be personal data passed by mistake.

    .. versionadded:: 0.1.0
    """
    if not isinstance(value, str):
        msg = f"a subject id must be a string, got {type(value).__name__}"
        raise ValidationError(msg)
    if not value.strip():
        msg = "a subject id must not be empty or blank; pass the host's stable customer key"
        raise ValidationError(msg)
    if len(value) > MAX_SUBJECT_ID_LENGTH:
        msg = (
            f"a subject id is at most {MAX_SUBJECT_ID_LENGTH} characters, got {len(value)}; "
            "pass the host's stable customer key, not a free-text value"
        )
        raise ValidationError(msg)
    if _CONTROL.search(value):
        msg = "a subject id must not contain control characters"
        raise ValidationError(msg)
    return SubjectId(encodable(value, "a subject id"))
