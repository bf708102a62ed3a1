"""The consent ledger's settings, as one value a :class:`~avgkit.Kit` takes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Final

import attrs

from avgkit._countries import ISO_3166_ALPHA2
from avgkit._validators import v_bool
from avgkit.errors import ValidationError

DEFAULT_MINOR_AGE: Final = 16
"""The Art. 8(1) age below which a parent or guardian must consent (16 in the Netherlands).

The ledger takes the age of the controller's country
(:data:`avgkit.inventory.ART8_AGES`) unless ``ConsentOptions(minor_age=...)`` sets one.

.. versionadded:: 0.1.0
.. versionchanged:: 0.2.0
   No longer the ledger's default: the controller's country decides.
"""

DEFAULT_CONFIRMATION_EXPIRY: Final = timedelta(days=3)
"""How long a double opt-in confirmation link works.

.. versionadded:: 0.2.0
"""

DEFAULT_CLOCK_SKEW: Final = timedelta(minutes=5)
"""How far in the future an event may be dated before the ledger refuses it.

.. versionadded:: 0.1.0
"""

_MIN_ART8_AGE: Final = 13
_MAX_MINOR_AGE: Final = 18


def _check_minor_age(_instance: object, _attribute: object, value: int | None) -> None:
    if value is None:
        return
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not _MIN_ART8_AGE <= value <= _MAX_MINOR_AGE
    ):
        msg = (
            f"minor_age must be a whole number of years from {_MIN_ART8_AGE} to "
            f"{_MAX_MINOR_AGE} (Art. 8(1) GDPR allows 13 to 16; 16 in the Netherlands, "
            "13 in Belgium)"
        )
        raise ValidationError(msg)


def _check_country(value: object, what: str) -> str:
    if not isinstance(value, str) or value not in ISO_3166_ALPHA2:
        msg = f"{what} must be an ISO 3166-1 alpha-2 country code in upper case (e.g. 'BE')"
        raise ValidationError(msg)
    return value


def _check_default_country(_instance: object, _attribute: object, value: str | None) -> None:
    if value is not None:
        _check_country(value, "country")


def _to_channel_countries(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): v for k, v in value.items()})
    return value


def _check_channel_countries(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, Mapping):
        msg = "channel_countries maps sale channels to country codes, e.g. {'webshop_be': 'BE'}"
        raise ValidationError(msg)
    for channel, country in value.items():
        if not channel:
            msg = "channel_countries: a sale channel is a non-empty key"
            raise ValidationError(msg)
        _check_country(country, f"channel_countries[{channel!r}]")


def _check_expiry(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        msg = "confirmation_expiry must be a positive timedelta, e.g. timedelta(days=3)"
        raise ValidationError(msg)


def _check_clock_skew(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, timedelta) or value < timedelta(0):
        msg = "clock_skew must be a non-negative timedelta, e.g. timedelta(minutes=5)"
        raise ValidationError(msg)


@attrs.frozen(kw_only=True)
class ConsentOptions:
    """How the consent ledger judges events: pass it as ``Kit.open(..., consent=...)``.

    The Art. 8 age comes from the controller's country (13 for a Belgian venue, 16 for a
    Dutch one; :data:`avgkit.inventory.ART8_AGES`). A Dutch venue that also sells through a
    Belgian box office and web shop names those sale channels::

        options = ConsentOptions(channel_countries={"webshop_be": "BE", "box_office_gent": "BE"})
        kit.consent.give(subject, "newsletter", evidence, age=14, sale_channel="webshop_be")

    Raises:
        ValidationError: ``minor_age`` is outside 13 to 18, ``clock_skew`` is negative, a
            country is not an ISO code, or ``confirmation_expiry`` is not positive.

    .. versionadded:: 0.2.0
    .. versionchanged:: 0.2.0
       ``minor_age`` defaults to the country's age; ``country``, ``channel_countries``,
       ``confirmation_expiry`` and ``strict_wordings``.
    """

    minor_age: int | None = attrs.field(default=None, validator=_check_minor_age)
    """Below this age a parent or guardian must give consent (Art. 8(1) GDPR); ``None``
    takes the age of :attr:`country` (or the controller's) from the table."""
    clock_skew: timedelta = attrs.field(default=DEFAULT_CLOCK_SKEW, validator=_check_clock_skew)
    """How far in the future an event may be dated (clocks of tills and servers differ)."""
    country: str | None = attrs.field(default=None, validator=_check_default_country)
    """The country whose rules apply by default; ``None``: the controller's."""
    channel_countries: Mapping[str, str] = attrs.field(
        factory=dict, converter=_to_channel_countries, validator=_check_channel_countries
    )
    """The country of each sale channel (the host's keys, or a :class:`Channel` value such as
    ``"box_office"``) that is not the default's: a venue operating in two countries."""
    confirmation_expiry: timedelta = attrs.field(
        default=DEFAULT_CONFIRMATION_EXPIRY, validator=_check_expiry
    )
    """How long a double opt-in confirmation link works (3 days by default)."""
    strict_wordings: bool = attrs.field(default=False, validator=v_bool)
    """Refuse consent whose wording or privacy notice is not registered and in force."""
