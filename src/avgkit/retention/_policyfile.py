"""Retention rules in the policy file: its ``retention`` section to a policy (private).

The section sits in the same ``.toml`` or ``.json`` file as the inventory and is checked
against the same shipped JSON Schema, with the inventory's reader and messages: every error
names the dotted path inside the file (``retention[1].period``) and what was expected, and
never repeats a value from the file. Values only: no I/O beyond reading the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from dateutil.relativedelta import relativedelta

from avgkit.errors import PolicyError, ValidationError
from avgkit.inventory import _policyfile
from avgkit.retention._values import RetentionPolicy, RetentionRule, Trigger

if TYPE_CHECKING:
    import os

SECTION: Final = "retention"
"""The key of the section in the policy file."""

PERIOD_UNITS: Final = {"years": 1000, "months": 12000, "weeks": 52000, "days": 365000}
"""The units of a period in the file, each with the most it may count.

About a thousand years each at most, so that every due date stays within what
:class:`~datetime.datetime` can hold (the schema has the same bounds).
"""

# The schema's pattern, for the amounts: [0-9], not \d, which would take any Unicode digit.
_ISO_PERIOD: Final = re.compile(
    r"P(?=[0-9])(?:([0-9]{1,6})Y)?(?:([0-9]{1,6})M)?(?:([0-9]{1,6})W)?(?:([0-9]{1,6})D)?"
)


def policy_from_mapping(data: object) -> RetentionPolicy:
    """Build the retention policy of a policy-file mapping (parsed TOML or JSON).

    The rules are the mapping's ``retention`` list; the rest of the mapping (the inventory)
    is not looked at. A rule names its subject kinds (``applies_to``) or the host's record
    sources (``records``); periods are tables of ``years``, ``months``, ``weeks`` and
    ``days`` or ISO 8601 durations (``"P2Y"``, ``"P1M"``, ``"P7D"``)::

        [[retention]]
        key = "inactive_accounts"
        applies_to = ["account"]
        trigger = "inactivity"
        activity_types = ["purchase", "login", "newsletter_read"]
        period = { years = 2 }
        warn_before = { days = 30 }
        action = "delete"

    Raises:
        PolicyError: The mapping has no ``retention`` section, or two rules share a key or
            contradict each other (the message names the later one: ``retention[3]``).
        ValidationError: The section does not match the shipped JSON Schema or holds a
            value no rule can have (a zero period, activity types on a rule not triggered
            by inactivity, a warning no shorter than the period); the message names the
            dotted path (``retention[1].period``) and what was expected.

    .. versionadded:: 0.2.0
    """
    section = _policyfile.section_from_mapping(data, SECTION)
    if section is None:
        msg = (
            f"the policy file has no {SECTION} section; add a list of rules "
            "([[retention]] tables in TOML)"
        )
        raise PolicyError(msg)
    if not isinstance(section, list):  # pragma: no cover - the schema requires a list
        msg = f"{SECTION}: expected a list"
        raise ValidationError(msg)
    rules = tuple(_rule(f"{SECTION}[{index}]", entry) for index, entry in enumerate(section))
    return _policy(rules)


def policy_from_file(path: str | os.PathLike[str]) -> RetentionPolicy:
    """Load the retention policy of a ``.toml`` or ``.json`` policy file.

    The file is read as :meth:`Inventory.from_file <avgkit.inventory.Inventory.from_file>`
    reads it; every error starts with the file's name
    (``avg.toml: retention[1].period: ...``). See :func:`policy_from_mapping`.

    Raises:
        ValidationError: The file cannot be read or parsed, or its section is invalid.
        PolicyError: The file has no ``retention`` section, or its rules contradict each
            other.

    .. versionadded:: 0.2.0
    """
    name = Path(path).name
    document = _policyfile.document_from_file(path)  # its errors name the file already
    try:
        return policy_from_mapping(document)
    except PolicyError as exc:
        raise PolicyError(f"{name}: {exc}") from None
    except ValidationError as exc:
        raise ValidationError(f"{name}: {exc}") from None


def _rule(path: str, entry: Any) -> RetentionRule:
    trigger = Trigger(entry["trigger"])
    if trigger is Trigger.INACTIVITY and "activity_types" not in entry:
        msg = (
            f"{path}: missing required key(s) ['activity_types']; a rule triggered by "
            "inactivity says which activities count (e.g. ['purchase', 'login'])"
        )
        raise ValidationError(msg)
    if trigger is not Trigger.INACTIVITY and "activity_types" in entry:
        msg = (
            f"{path}.activity_types: only a rule triggered by inactivity counts activity "
            f"types (this rule's trigger is {trigger.value!r}); remove activity_types"
        )
        raise ValidationError(msg)
    period = _period(f"{path}.period", entry["period"])
    warn_before = entry.get("warn_before")
    warning = None if warn_before is None else _period(f"{path}.warn_before", warn_before)
    try:
        return RetentionRule(
            key=entry["key"],
            applies_to=frozenset(entry.get("applies_to", ())),
            records=frozenset(entry.get("records", ())),
            trigger=trigger,
            period=period,
            action=entry["action"],
            activity_types=frozenset(entry.get("activity_types", ())),
            warn_before=warning,
        )
    except ValidationError as exc:
        raise ValidationError(f"{path}: {exc}") from None


def _period(path: str, value: object) -> relativedelta:
    """A period from its table (``{years = 2}``) or ISO 8601 text (``"P2Y"``)."""
    if isinstance(value, str):
        match = _ISO_PERIOD.fullmatch(value)
        if match is None:
            msg = f"{path}: expected an ISO 8601 period of years, months, weeks, days ('P2Y')"
            raise ValidationError(msg)
        amounts = {
            unit: int(amount)
            for unit, amount in zip(PERIOD_UNITS, match.groups(), strict=True)
            if amount is not None
        }
    elif isinstance(value, dict):
        # The schema admits whole floats (2.0) as integers; the period counts in ints.
        amounts = {unit: int(amount) for unit, amount in value.items()}
    else:  # pragma: no cover - the schema requires a table or text
        msg = f"{path}: expected a period"
        raise ValidationError(msg)
    for unit, amount in amounts.items():
        if amount > PERIOD_UNITS[unit]:
            msg = f"{path}.{unit}: expected at most {PERIOD_UNITS[unit]} {unit}"
            raise ValidationError(msg)
    if not any(amounts.values()):
        msg = f"{path}: expected a period longer than zero; give at least one unit above 0"
        raise ValidationError(msg)
    return relativedelta(
        years=amounts.get("years", 0),
        months=amounts.get("months", 0),
        weeks=amounts.get("weeks", 0),
        days=amounts.get("days", 0),
    )


def _policy(rules: tuple[RetentionRule, ...]) -> RetentionPolicy:
    try:
        return RetentionPolicy(rules)
    except PolicyError:
        # Name the first rule that cannot join the ones before it: the policy's message
        # names both rules by key, the path says where the later one is.
        for end in range(1, len(rules)):
            try:
                RetentionPolicy(rules[: end + 1])
            except PolicyError as exc:
                msg = f"{SECTION}[{end}]: {exc}"
                raise PolicyError(msg) from None
        raise  # pragma: no cover - a policy of one rule cannot contradict itself
