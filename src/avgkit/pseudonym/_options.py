"""The pseudonym service's settings, as one value a :class:`~avgkit.Kit` takes."""

from __future__ import annotations

import attrs

from avgkit.errors import ValidationError
from avgkit.pseudonym._pseudo import PHONE_COUNTRIES


def _check_country(_instance: object, _attribute: object, value: object) -> None:
    if value not in PHONE_COUNTRIES:
        msg = f"default_country must be one of {sorted(PHONE_COUNTRIES)}"
        raise ValidationError(msg)


@attrs.frozen(kw_only=True)
class PseudonymOptions:
    """How the pseudonym service reads values: pass it as ``Kit.open(..., pseudonyms=...)``.

    Raises:
        ValidationError: ``default_country`` is not a country whose national phone numbers
            avgkit can read.

    .. versionadded:: 0.2.0
    """

    default_country: str = attrs.field(default="NL", validator=_check_country)
    """How national phone numbers (``06 12345678``) are read: ``"NL"`` or ``"BE"``."""
