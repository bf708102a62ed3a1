"""The breach register's settings, as one value a :class:`~avgkit.Kit` takes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType

import attrs

from avgkit import _validators
from avgkit.breach._values import DEFAULT_LARGE_VOLUME, PROCESSOR_NOTICE_DEADLINE
from avgkit.errors import ValidationError


def _positive(name: str, value: object) -> None:
    _validators.positive_timedelta(value, name)


def _check_notice(_instance: object, _attribute: object, value: object) -> None:
    _positive("processor_notice", value)


def _to_terms(value: object) -> Mapping[str, timedelta]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        msg = (
            "processor_notice_by_recipient must map recipient keys to timedeltas, "
            f"got {type(value).__name__}"
        )
        raise ValidationError(msg)
    return MappingProxyType(dict(value))


def _check_terms(_instance: object, _attribute: object, value: Mapping[object, object]) -> None:
    for key, term in value.items():
        if not isinstance(key, str):
            msg = "processor_notice_by_recipient keys must be recipient keys (strings)"
            raise ValidationError(msg)
        _positive(f"processor_notice_by_recipient[{key!r}]", term)


def _check_volume(_instance: object, _attribute: object, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = "large_volume must be a positive whole number of people"
        raise ValidationError(msg)


@attrs.frozen(kw_only=True)
class BreachOptions:
    """The breach register's terms and thresholds: pass it as ``Kit.open(..., breaches=...)``.

    ::

        kit = Kit.open(url, inventory=inventory, breaches=BreachOptions(
            processor_notice_by_recipient={"mail_platform": timedelta(hours=24)}))

    Recipient keys in ``processor_notice_by_recipient`` are checked against the inventory
    when the register is built.

    Raises:
        ValidationError: a term is not a positive timedelta, or ``large_volume`` is not a
            positive whole number.

    .. versionadded:: 0.2.0
    """

    processor_notice: timedelta = attrs.field(
        default=PROCESSOR_NOTICE_DEADLINE, validator=_check_notice
    )
    """The processors' default term to report a breach to the controller (36 hours)."""
    processor_notice_by_recipient: Mapping[str, timedelta] = attrs.field(
        factory=dict, converter=_to_terms, validator=_check_terms
    )
    """Terms agreed in particular processing agreements, by the recipient's inventory key."""
    large_volume: int = attrs.field(default=DEFAULT_LARGE_VOLUME, validator=_check_volume)
    """From how many people a breach counts as large in the assessment."""
