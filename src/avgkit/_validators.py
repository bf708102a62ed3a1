"""avgkit's input checks, written once (private).

Each rule has one wording, used in two forms:

* plain checks for function and method arguments (:func:`aware`, :func:`key`, :func:`text`,
  :func:`encodable`): they return the value and raise
  :class:`~avgkit.errors.ValidationError` with ``"<what> <problem>"``;
* attrs validators (``v_*``) for the value classes: they raise
  :class:`InvalidAttributeError`, ``"<Owner>.<attribute> <problem>"``, which the policy-file
  loader turns into a dotted path inside the file. Converters (``to_*``) only normalise and
  leave the refusing to a validator.

A problem is phrased to follow the name ("must be ...", "is a naive datetime ...") and never
repeats the rejected value unless :func:`shown` finds it key-like: values may be personal data.

Sequences: an ordered field takes a list or a tuple (:func:`to_tuple`; a set would give an
arbitrary order and a string would split into characters); an unordered one is put in a
fixed order on the way in (:func:`member_set`) and takes any iterable but a string.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NoReturn, TypeVar

import attrs

from avgkit.errors import ValidationError

KEY_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")
"""Keys of purposes, fields and recipients: lower snake case, at most 64 characters."""

MAX_TEXT: Final = 2000
"""Default upper bound on free-text values."""

LATEST_INSTANT: Final = datetime(9000, 1, 1, tzinfo=UTC)
"""The first instant :func:`aware` refuses: periods added to later ones could overflow."""

_ANY_KEY: Final = re.compile(r"[a-zA-Z0-9_.-]{1,64}\Z")
_SHA256_HEX: Final = re.compile(r"\A[0-9a-f]{64}\Z")
_KEY_EXPECTED: Final = (
    "a lower snake-case key starting with a letter, at most 64 characters (e.g. 'ticket_sale')"
)

_T = TypeVar("_T")
_A = TypeVar("_A", bound=attrs.AttrsInstance)
_E = TypeVar("_E", bound=enum.Enum)

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]
"""The shape of an attrs validator."""

opt: Final = attrs.validators.optional
"""Make a validator accept ``None`` as well."""


class InvalidAttributeError(ValidationError):
    """A value's attribute is malformed: ``"<Owner>.<attribute> <problem>"``.

    ``attribute`` and ``problem`` are kept apart so the policy-file loader can name the
    dotted path inside the file instead of the class.
    """

    def __init__(self, owner: str, attribute: str, problem: str) -> None:
        super().__init__(f"{owner}.{attribute} {problem}")
        self.attribute = attribute
        self.problem = problem


class _RuleError(Exception):
    """A rule's verdict, raised inside this module only; the forms below phrase it."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


# --------------------------------------------------------------------------- wording


def shown(value: object) -> str:
    """How a rejected value may appear in an error message: never as personal data.

    Key-like text (letters, digits, ``_ . -``; at most 64 characters) is quoted, so a typo
    such as ``'newsleter'`` is easy to spot; anything else (an e-mail address, a name, text
    with spaces or newlines) is described only by its type and length.
    """
    if isinstance(value, str):
        if _ANY_KEY.match(value):
            return repr(value)
        return f"a {len(value)}-character string"
    return f"a {type(value).__name__}"


def _allowed(kind: type[enum.Enum]) -> list[object]:
    return [member.value for member in kind]


# --------------------------------------------------------------------------- rules


def _is_aware(value: object) -> bool:
    return (
        isinstance(value, datetime)
        and value.tzinfo is not None
        and value.tzinfo.utcoffset(value) is not None
    )


def _aware(value: object) -> datetime:
    if not isinstance(value, datetime):
        msg = f"must be a timezone-aware datetime, got {type(value).__name__}"
        raise _RuleError(msg)
    if not _is_aware(value):
        msg = (
            "is a naive datetime; avgkit refuses those because their instant is ambiguous. "
            "Pass an aware one, e.g. datetime(..., tzinfo=datetime.UTC)"
        )
        raise _RuleError(msg)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # an offset that pushes it past year 1 or 9999
        msg = "is outside the range of dates Python can represent in UTC"
        raise _RuleError(msg) from None


def _instant(value: object) -> datetime:
    utc = _aware(value)
    if utc >= LATEST_INSTANT:
        msg = (
            f"is in the year {utc.year}, after the years avgkit works with (up to "
            f"{LATEST_INSTANT.year - 1}): deadlines and retention periods added to it would "
            "overflow the calendar"
        )
        raise _RuleError(msg)
    return utc


def _key(value: object) -> str:
    if not isinstance(value, str) or not KEY_PATTERN.match(value):
        msg = f"must be {_KEY_EXPECTED}; got {shown(value)}"
        raise _RuleError(msg)
    return value


def _keys(value: object, *, non_empty: bool) -> tuple[str, ...]:
    if not isinstance(value, tuple):
        msg = f"must be a tuple of keys, got {type(value).__name__}"
        raise _RuleError(msg)
    if non_empty and not value:
        msg = "must name at least one key"
        raise _RuleError(msg)
    for item in value:
        if not isinstance(item, str) or not KEY_PATTERN.match(item):
            msg = f"entries must be {_KEY_EXPECTED}; got {shown(item)}"
            raise _RuleError(msg)
    duplicates = sorted({item for item in value if value.count(item) > 1})
    if duplicates:
        msg = f"names {duplicates} more than once; list each once"
        raise _RuleError(msg)
    return value


def _text(value: object, *, max_length: int) -> str:
    # The value itself is never echoed: it may be free text with personal data in it.
    if not isinstance(value, str):
        msg = f"must be a string, got {type(value).__name__}"
        raise _RuleError(msg)
    if not value.strip():
        msg = "must be non-empty text"
        raise _RuleError(msg)
    if len(value) > max_length:
        msg = f"is {len(value)} characters long; at most {max_length} are allowed"
        raise _RuleError(msg)
    if "\x00" in value:  # PostgreSQL text cannot hold it: refused alike on every adapter
        msg = "holds a NUL character (\\x00), which a database cannot store as text"
        raise _RuleError(msg)
    return value


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        msg = "holds characters that are not valid Unicode text (lone surrogates)"
        raise _RuleError(msg) from None
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        msg = f"must be True or False, got {type(value).__name__}"
        raise _RuleError(msg)
    return value


def _whole(value: object, *, minimum: int, maximum: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"must be a whole number, got {type(value).__name__}"
        raise _RuleError(msg)
    if maximum is None and value < minimum:
        msg = f"must be at least {minimum}, got {value}"
        raise _RuleError(msg)
    if maximum is not None and not minimum <= value <= maximum:
        msg = f"must be between {minimum} and {maximum}, got {value}"
        raise _RuleError(msg)
    return value


def _sha256(value: object) -> str:
    if not isinstance(value, str) or not _SHA256_HEX.match(value):
        msg = "must be 64 lower-case hex characters (a SHA-256)"
        raise _RuleError(msg)
    return value


def _positive_timedelta(value: object) -> timedelta:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        msg = "must be a positive timedelta, e.g. timedelta(hours=36)"
        raise _RuleError(msg)
    return value


def _instance(value: object, *, kind: type, expected: str) -> object:
    if not isinstance(value, kind):
        msg = f"must be {expected}, got {type(value).__name__}"
        raise _RuleError(msg)
    return value


def _is_member(value: object, *, kind: type[enum.Enum]) -> object:
    if not isinstance(value, kind):
        msg = f"must be a {kind.__name__} (one of {_allowed(kind)}), got {type(value).__name__}"
        raise _RuleError(msg)
    return value


def _as_member(value: object, *, kind: type[_E]) -> _E:
    if isinstance(value, kind):
        return value
    if not isinstance(value, str):
        msg = f"must be one of {_allowed(kind)}, got {type(value).__name__}"
        raise _RuleError(msg)
    try:
        return kind(value)
    except ValueError:
        msg = f"{shown(value)} is not one of {_allowed(kind)}"
        raise _RuleError(msg) from None


def _items(value: object, *, kind: type, expected: str, non_empty: bool) -> object:
    if not isinstance(value, tuple):
        msg = f"must be a tuple of {expected}, got {type(value).__name__}"
        raise _RuleError(msg)
    if non_empty and not value:
        msg = f"must hold at least one item ({expected})"
        raise _RuleError(msg)
    for number, item in enumerate(value, start=1):
        if not isinstance(item, kind):
            msg = f"must hold only {expected}; item {number} is a {type(item).__name__}"
            raise _RuleError(msg)
    return value


# --------------------------------------------------------------------------- the two forms


def _checked(rule: Callable[[Any], _T], value: object, what: str) -> _T:
    try:
        return rule(value)
    except _RuleError as exc:
        problem = exc.problem
    # Raised outside the except block: nothing is chained to the error.
    raise ValidationError(f"{what} {problem}")


def fail(instance: object, attribute: attrs.Attribute[Any], problem: str) -> NoReturn:
    """Refuse ``attribute`` of ``instance``: raise :class:`InvalidAttributeError`."""
    raise InvalidAttributeError(type(instance).__name__, attribute.name, problem)


def _validator(rule: Callable[[Any], object]) -> Validator:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        try:
            rule(value)
        except _RuleError as exc:
            problem = exc.problem
        else:
            return
        fail(instance, attribute, problem)

    return check


# --------------------------------------------------------------------------- plain checks


def aware(value: object, what: str) -> datetime:
    """Return ``value`` converted to UTC, refusing anything but an aware datetime.

    For the instants callers hand to services (``at=``, ``since=``, ...), which must also
    lie before :data:`LATEST_INSTANT`: deadlines and periods are added to them, which must
    not overflow Python's calendar.
    """
    return _checked(_instant, value, what)


def key(value: object, what: str) -> str:
    """Return ``value`` if it is a valid snake-case key, else raise :class:`ValidationError`."""
    return _checked(_key, value, what)


def text(value: object, what: str, *, max_length: int = MAX_TEXT) -> str:
    """Return ``value`` if it is a non-empty, non-blank string of bounded length."""
    return _checked(functools.partial(_text, max_length=max_length), value, what)


def encodable(value: str, what: str) -> str:
    """Return ``value`` if it encodes as UTF-8 (no lone surrogates), else refuse it.

    Lone surrogates (left behind by mis-decoded bytes) cannot be stored or hashed; they are
    refused here rather than failing later inside a driver or a digest.
    """
    return _checked(_encodable, value, what)


def member(kind: type[_E], value: object, what: str) -> _E:
    """Return the member of ``kind`` that ``value`` is or names (``"webshop"``)."""
    return _checked(functools.partial(_as_member, kind=kind), value, what)


def positive_timedelta(value: object, what: str) -> timedelta:
    """Return ``value`` if it is a :class:`~datetime.timedelta` longer than zero."""
    return _checked(_positive_timedelta, value, what)


def utc_text(value: datetime) -> str:
    """Encode an aware instant as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC, fixed width.

    Written out by hand because ``strftime("%Y")`` does not zero-pad years before 1000 on
    every platform; the fixed width keeps text order equal to time order and keeps the
    audit chain's canonical encoding the same everywhere.
    """
    v = value.astimezone(UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T"
        f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}Z"
    )


# --------------------------------------------------------------------------- attrs validators

v_aware: Final = _validator(_aware)
"""A timezone-aware datetime; pair it with the converter :func:`to_utc`."""

v_key: Final = _validator(_key)
"""A snake-case key (see :data:`KEY_PATTERN`)."""

v_bool: Final = _validator(_bool)
"""``True`` or ``False`` (not ``1``, not ``"yes"``)."""

v_sha256: Final = _validator(_sha256)
"""64 lower-case hex characters."""

v_positive_timedelta: Final = _validator(_positive_timedelta)
"""A :class:`~datetime.timedelta` longer than zero."""


def v_keys(*, non_empty: bool) -> Validator:
    """A tuple of distinct snake-case keys (at least one with ``non_empty``)."""
    return _validator(functools.partial(_keys, non_empty=non_empty))


def v_text(max_length: int = MAX_TEXT) -> Validator:
    """Non-blank text of at most ``max_length`` characters; the text is never echoed."""
    return _validator(functools.partial(_text, max_length=max_length))


def v_whole(*, minimum: int = 0, maximum: int | None = None) -> Validator:
    """A whole number (not a bool) from ``minimum`` to ``maximum`` (unbounded if ``None``)."""
    return _validator(functools.partial(_whole, minimum=minimum, maximum=maximum))


def v_instance(kind: type, expected: str | None = None) -> Validator:
    """An instance of ``kind``; ``expected`` says what in the message (``"a Kind"``)."""
    wanted = f"a {kind.__name__}" if expected is None else expected
    return _validator(functools.partial(_instance, kind=kind, expected=wanted))


def v_member(kind: type[enum.Enum]) -> Validator:
    """A member of the enum ``kind`` (its value alone is refused: use a converter for that)."""
    return _validator(functools.partial(_is_member, kind=kind))


def v_items(kind: type, *, expected: str | None = None, non_empty: bool = False) -> Validator:
    """A tuple of ``kind`` instances (at least one with ``non_empty``)."""
    if expected is None:
        wanted = (
            f"{kind.__name__} members (one of {_allowed(kind)})"
            if issubclass(kind, enum.Enum)
            else f"{kind.__name__} values"
        )
    else:
        wanted = expected
    return _validator(functools.partial(_items, kind=kind, expected=wanted, non_empty=non_empty))


# --------------------------------------------------------------------------- attrs converters
# Converters are named functions (mypy's attrs plugin types ``__init__`` from them) that only
# normalise; what they cannot normalise they pass on for a validator to refuse by name.


def to_utc(value: Any) -> Any:
    """An aware datetime in UTC; anything else is left for :data:`v_aware` to refuse."""
    if not _is_aware(value):
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return value  # v_aware says why


def trusted(cls: type[_T], **values: object) -> _T:
    """An instance of the frozen attrs class ``cls`` from values that are already checked.

    Converters, validators and ``__attrs_post_init__`` are skipped, so it is only for
    values just checked by the caller or copied from a valid instance of the same class
    (a stored event given its seq). Every field must be given.
    """
    instance = object.__new__(cls)
    for name, value in values.items():
        object.__setattr__(instance, name, value)
    return instance


def replaced(instance: _A, **changes: object) -> _A:
    """``attrs.evolve(instance, **changes)`` without checking again what did not change.

    For a valid value given a field its store just assigned (a ``seq``), where evolve
    would re-run every converter and validator of the class. ``changes`` must be valid.
    """
    cls = type(instance)
    new = object.__new__(cls)
    for field in attrs.fields(cls):
        name = field.name
        object.__setattr__(new, name, changes[name] if name in changes else getattr(instance, name))
    return new


def to_tuple(value: Any) -> Any:
    """Accept a list or tuple as a tuple; anything else is left for the validator to refuse."""
    if isinstance(value, list | tuple):
        return tuple(value)
    return value


def member_set(kind: type[_E], value: Any) -> Any:
    """Members of ``kind`` (or their values), once each, in declaration order.

    For a converter of an unordered field: takes any iterable but a string; what does not
    convert is left for the validator (:func:`v_items`) to refuse.
    """
    if isinstance(value, str) or not isinstance(value, Iterable):
        return value
    items = list(value)
    try:
        members = {kind(item) for item in items}
    except ValueError:
        return tuple(items)
    order = list(kind)
    return tuple(sorted(members, key=order.index))
