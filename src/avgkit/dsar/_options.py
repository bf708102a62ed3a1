"""The settings of ``kit.dsar``: the time zone of deadlines, a service level, two callbacks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import attrs
from dateutil.relativedelta import relativedelta

from avgkit.dsar._deadlines import zone
from avgkit.dsar._values import RequestTransition, SubjectRequest
from avgkit.errors import ValidationError
from avgkit.subjects import SubjectId

__all__ = ["DsarOptions", "Notifier", "Verifier"]

Verifier = Callable[[SubjectId, Mapping[str, str]], bool]
"""``verifier(subject, proof) -> bool``: whether ``proof`` (an order code and an e-mail
address, a login session) shows that the requester is ``subject``. The host implements it;
avgkit keeps neither the proof nor anything of it."""

Notifier = Callable[[SubjectRequest, RequestTransition], None]
"""``notifier(request, transition)``: tell the subject that their request changed (received,
extended with the reason, completed, refused with the reason), e.g. by e-mail. Called after
the change is committed."""


def _check_zone(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str):
        msg = "timezone is an IANA zone name such as 'Europe/Amsterdam'"
        raise ValidationError(msg)
    zone(value)


def _check_level(_instance: object, _attribute: object, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            msg = "service_level must be a positive period, e.g. timedelta(days=21)"
            raise ValidationError(msg)
        return
    if isinstance(value, relativedelta):
        if (value.years, value.months, value.weeks, value.days) <= (0, 0, 0, 0):
            msg = "service_level must be a positive period, e.g. relativedelta(weeks=4)"
            raise ValidationError(msg)
        return
    msg = "service_level is a relativedelta or a timedelta (e.g. relativedelta(weeks=4))"
    raise ValidationError(msg)


def _check_callable(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not callable(value):
        msg = f"{attribute.name} must be a callable or None"
        raise ValidationError(msg)


def _check_nearing(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, timedelta) or value < timedelta(0):
        msg = "nearing is a non-negative timedelta (how early a deadline counts as near)"
        raise ValidationError(msg)


@attrs.frozen(kw_only=True)
class DsarOptions:
    """How ``kit.dsar`` counts deadlines and reaches the host and the subject.

    Args:
        timezone: the controller's IANA time zone: deadlines end with a day there.
        service_level: a shorter promise than the month (four weeks, 21 days), or ``None``.
        verifier: checks a requester's proof of identity (see :data:`Verifier`); without
            one, staff confirm identity with ``verify(..., verified=True)``.
        notifier: tells the subject of each change of their request (see
            :data:`Notifier`); an extension needs one, because the subject must be told.
        nearing: how long before its deadline a request shows as nearing it.

    .. versionadded:: 0.2.0
    """

    timezone: str = attrs.field(default="Europe/Amsterdam", validator=_check_zone)
    service_level: relativedelta | timedelta | None = attrs.field(
        default=None, validator=_check_level
    )
    verifier: Verifier | None = attrs.field(default=None, validator=_check_callable, eq=False)
    notifier: Notifier | None = attrs.field(default=None, validator=_check_callable, eq=False)
    nearing: timedelta = attrs.field(default=timedelta(days=7), validator=_check_nearing)
