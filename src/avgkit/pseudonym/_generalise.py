"""Generalisers: coarser values for quasi-identifiers (private; see avgkit.pseudonym).

Every generaliser takes ``(value, now)`` and is idempotent: handed its own output, it returns
it unchanged, which makes the record anonymiser idempotent. Errors never repeat the value.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from avgkit import _validators
from avgkit.errors import ValidationError

__all__ = [
    "AGE_BANDS",
    "GENERALISERS",
    "AgeBands",
    "AmountBands",
    "Generaliser",
    "IpPrefix",
    "birth_year",
    "email_domain",
    "postcode_area",
]


@runtime_checkable
class Generaliser(Protocol):
    """A function from a value to a coarser value, given the current instant.

    It must be idempotent (``g(g(v, now), now) == g(v, now)``) and raise
    :class:`~avgkit.errors.ValidationError` without repeating the value when it cannot
    read it.

    .. versionadded:: 0.1.0
    """

    def __call__(self, value: object, now: datetime) -> object:
        """Return the generalised value."""
        ...


def _birth_date(value: object, now: datetime) -> date:
    if isinstance(value, datetime):
        value = value.date()
    elif isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            msg = "a birth date must be a date or an ISO 8601 date text such as '1990-05-17'"
            raise ValidationError(msg) from None
    if not isinstance(value, date):
        msg = f"a birth date must be a date or ISO 8601 text, got {type(value).__name__}"
        raise ValidationError(msg)
    if value > _validators.aware(now, "now").date():
        msg = "a birth date lies in the future; check the field's source"
        raise ValidationError(msg)
    return value


_MIN_YEAR = 1850


def birth_year(value: object, now: datetime) -> int:
    """Generalise a birth date to its year (``date(1990, 5, 17)`` -> ``1990``).

    Generaliser ``"birth_date_year"``. A year (an ``int``) is returned as it is.

    .. versionadded:: 0.1.0
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if not _MIN_YEAR <= value <= _validators.aware(now, "now").year:
            msg = f"a birth year must lie between {_MIN_YEAR} and the current year"
            raise ValidationError(msg)
        return value
    return _birth_date(value, now).year


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _int_tuple(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(value)


def _decimal_tuple(value: Iterable[object]) -> tuple[Decimal, ...]:
    return tuple(Decimal(str(edge)) for edge in value)


@attrs.frozen
class AgeBands:
    """Generalise a birth date to an age band at the current instant (``"25-34"``).

    Ages are counted at ``now`` (the injected clock), never the wall clock.

    Args:
        starts: the first age of each band, ascending, starting at 0; the last band is
            open (``"65+"``).

    .. versionadded:: 0.1.0
    """

    starts: tuple[int, ...] = attrs.field(converter=_int_tuple)

    @starts.validator
    def _check(self, _attribute: object, value: tuple[int, ...]) -> None:
        if (
            not value
            or value[0] != 0
            or any(not isinstance(v, int) for v in value)
            or list(value) != sorted(set(value))
        ):
            msg = "age band starts must be ascending whole ages beginning with 0, e.g. (0, 18, 25)"
            raise ValidationError(msg)

    @property
    def labels(self) -> tuple[str, ...]:
        """The band labels, youngest first."""
        bounds = [*self.starts[1:], None]
        return tuple(
            f"{lo}+" if hi is None else f"{lo}-{hi - 1}"
            for lo, hi in zip(self.starts, bounds, strict=True)
        )

    def __call__(self, value: object, now: datetime) -> str:
        """Return the band of the age the birth date gives at ``now``."""
        if isinstance(value, str) and value in self.labels:
            return value
        age = _age(_birth_date(value, now), _validators.aware(now, "now").date())
        index = sum(1 for start in self.starts if start <= age) - 1
        return self.labels[index]


AGE_BANDS: Final = AgeBands((0, 18, 25, 35, 45, 55, 65))
"""The default age bands: 0-17, 18-24, 25-34, 35-44, 45-54, 55-64, 65+ (generaliser
``"birth_date_age_band"``).

.. versionadded:: 0.1.0
"""

_NL_POSTCODE: Final = re.compile(r"^(?:NL-?)?([1-9][0-9]{3}) ?[A-Z]{2}$")
_PC4: Final = re.compile(r"^(?:NL-?|BE-?|B-)?([1-9][0-9]{3})$")


def postcode_area(value: object, now: datetime) -> str:  # noqa: ARG001 - the Generaliser signature
    """Generalise a Dutch or Belgian postcode to its four-digit area (PC4).

    Generaliser ``"postcode_pc4"``: ``"9711 AA"`` and ``"9711aa"`` give ``"9711"``; a
    Belgian postcode (``"1000"``, ``"B-1000"``) is already four digits and gives ``"1000"``.

    .. versionadded:: 0.1.0
    """
    if not isinstance(value, str):
        msg = f"a postcode must be a string, got {type(value).__name__}"
        raise ValidationError(msg)
    text = value.strip().upper()
    match = _NL_POSTCODE.match(text) or _PC4.match(text)
    if match is None:
        msg = "a postcode must be Dutch ('1234 AB') or Belgian ('1000'); no area can be derived"
        raise ValidationError(msg)
    return match.group(1)


def _prefix_length(most: int) -> Any:  # the attrs validator signature is untyped
    def check(_instance: object, attribute: Any, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            msg = (
                f"IpPrefix {attribute.name} must be a whole number of bits (0 to {most}), "
                f"got {type(value).__name__}"
            )
            raise ValidationError(msg)
        if not 0 <= value <= most:
            msg = f"IpPrefix {attribute.name} must be 0 to {most} bits, got {value}"
            raise ValidationError(msg)

    return check


_MAPPED_BITS: Final = 96  # ::ffff:0:0/96 holds the IPv4-mapped addresses (RFC 4291 2.5.5.2)


def _unmapped(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if not isinstance(network, ipaddress.IPv6Network) or network.prefixlen < _MAPPED_BITS:
        return network
    mapped = network.network_address.ipv4_mapped
    if mapped is None:
        return network
    return ipaddress.IPv4Network((mapped, network.prefixlen - _MAPPED_BITS))


@attrs.frozen
class IpPrefix:
    """Generalise an IP address to its network (``"192.0.2.0/24"``, ``"2001:db8:1::/48"``).

    Args:
        v4: the IPv4 prefix length kept (default 24).
        v6: the IPv6 prefix length kept (default 48).

    .. versionadded:: 0.1.0
    """

    v4: int = attrs.field(default=24, validator=_prefix_length(32))
    v6: int = attrs.field(default=48, validator=_prefix_length(128))

    def __call__(self, value: object, now: datetime) -> str:  # noqa: ARG002
        """Return the network of ``value`` at the configured prefix length.

        An IPv4-mapped IPv6 address (``"::ffff:192.0.2.7"``, as dual-stack servers log IPv4
        clients) is generalised as the IPv4 address it carries.
        """
        if not isinstance(value, str | ipaddress.IPv4Address | ipaddress.IPv6Address):
            msg = f"an IP address must be a string or ipaddress value, got {type(value).__name__}"
            raise ValidationError(msg)
        try:
            network = ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            msg = "an IP address must be IPv4 ('192.0.2.7') or IPv6 ('2001:db8::7')"
            raise ValidationError(msg) from None
        network = _unmapped(network)
        keep = self.v4 if network.version == 4 else self.v6  # noqa: PLR2004
        if network.prefixlen > keep:
            network = network.supernet(new_prefix=keep)
        return str(network)


def email_domain(value: object, now: datetime) -> str:  # noqa: ARG001
    """Generalise an e-mail address to its domain (``"Anna@Example.NL"`` -> ``"example.nl"``).

    Generaliser ``"email_domain"``. A bare domain is returned lower-cased.

    .. versionadded:: 0.1.0
    """
    if not isinstance(value, str):
        msg = f"an e-mail address must be a string, got {type(value).__name__}"
        raise ValidationError(msg)
    domain = value.strip().rpartition("@")[2].lower()
    if not domain or "." not in domain or any(c.isspace() for c in domain):
        msg = "an e-mail address must end in a domain such as 'example.nl'"
        raise ValidationError(msg)
    return domain


@attrs.frozen
class AmountBands:
    """Generalise an exact amount (a :class:`~decimal.Decimal`) to a band (``"25-50"``).

    Bands are half-open: ``[lo, hi)``; amounts from the last edge up are ``"<last>+"`` and
    negative amounts (refunds) ``"<0"``. Floats are refused: money is a Decimal.

    Args:
        edges: ascending band edges, starting at 0.

    .. versionadded:: 0.1.0
    """

    edges: tuple[Decimal, ...] = attrs.field(converter=_decimal_tuple)

    @edges.validator
    def _check(self, _attribute: object, value: tuple[Decimal, ...]) -> None:
        if not value or value[0] != 0 or list(value) != sorted(set(value)):
            msg = "amount band edges must be ascending and start at 0, e.g. (0, 10, 25)"
            raise ValidationError(msg)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label this generaliser can return."""
        bounds = [*self.edges[1:], None]
        return (
            "<0",
            *(
                f"{lo}+" if hi is None else f"{lo}-{hi}"
                for lo, hi in zip(self.edges, bounds, strict=True)
            ),
        )

    def __call__(self, value: object, now: datetime) -> str:  # noqa: ARG002
        """Return the band ``value`` falls in."""
        if isinstance(value, str) and value in self.labels:
            return value
        if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
            msg = f"an amount must be a Decimal, int or numeric text, got {type(value).__name__}"
            raise ValidationError(msg)
        try:
            amount = Decimal(value)
        except InvalidOperation:
            msg = "an amount text must be a number such as '12.50'"
            raise ValidationError(msg) from None
        if not amount.is_finite():
            msg = "an amount must be a finite number"
            raise ValidationError(msg)
        if amount < 0:
            return "<0"
        index = sum(1 for edge in self.edges if edge <= amount) - 1
        return self.labels[index + 1]


AMOUNT_BANDS: Final = AmountBands((0, 10, 25, 50, 100, 250, 500, 1000))
"""The default amount bands (generaliser ``"amount_band"``)."""


def _registry(entries: Mapping[str, Generaliser]) -> Mapping[str, Generaliser]:
    return MappingProxyType(dict(entries))


GENERALISERS: Final[Mapping[str, Generaliser]] = _registry(
    {
        "birth_date_year": birth_year,
        "birth_date_age_band": AGE_BANDS,
        "postcode_pc4": postcode_area,
        "ip_prefix": IpPrefix(),
        "email_domain": email_domain,
        "amount_band": AMOUNT_BANDS,
    }
)
"""The built-in generalisers by the name a :class:`~avgkit.inventory.Field` gives.

.. versionadded:: 0.1.0
"""


def names(extra: Sequence[str] = ()) -> list[str]:
    """The known generaliser names, sorted (for error messages)."""
    return sorted({*GENERALISERS, *extra})
