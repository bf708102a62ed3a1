"""Retention rules in the policy file: its ``retention`` section to a policy (private).

The section sits in the same ``.toml`` or ``.json`` file as the inventory and is checked
against the same shipped JSON Schema, with the inventory's reader and messages: every error
names the dotted path inside the file (``retention[1].period``) and what was expected, and
never repeats a value from the file. Values only: no I/O beyond reading the file.
"""

from __future__ import annotations

import os
import re
from typing import Any, Final

from dateutil.relativedelta import relativedelta

from avgkit.errors import PolicyError, ValidationError
from avgkit.inventory import _policyfile
from avgkit.retention._values import RetentionPolicy, RetentionRule, Trigger

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

    The first problem is raised, saying how many more there are (``avgkit policy check``
    lists them all).

    Raises:
        PolicyError: The mapping has no ``retention`` section, or two rules share a key or
            contradict each other (the message names the later one: ``retention[3]``).
        ValidationError: The section does not match the shipped JSON Schema or holds a
            value no rule can have (a zero period, activity types on a rule not triggered
            by inactivity, a warning no shorter than the period); the message names the
            dotted path (``retention[1].period``) and what was expected.

    .. versionadded:: 0.2.0
    """
    section, found = _policyfile.section_problems(data, SECTION)
    if section is None and not found:
        raise PolicyError(NO_SECTION)
    if not found and isinstance(section, list):
        try:
            rules = tuple(_rule(f"{SECTION}[{i}]", e) for i, e in enumerate(section))
            return RetentionPolicy(rules)
        except (ValidationError, PolicyError):
            pass  # collected below, with every other problem of the section
    raise _policyfile.first_error(problems(data) or found) from None


NO_SECTION: Final = (
    f"the policy file has no {SECTION} section; add a list of rules ([[retention]] tables in TOML)"
)


def problems(data: object) -> list[_policyfile.Problem]:
    """Every problem of a parsed policy file's ``retention`` section, in order.

    Empty when the section is valid, or when there is none (the inventory needs none;
    :func:`policy_from_mapping` refuses a file without it). Each rule that matches the
    schema is built on its own, then added to the rules before it that agree with each
    other, so every contradiction names the later rule.
    """
    section, found = _policyfile.section_problems(data, SECTION)
    if not isinstance(section, list):
        return found
    rules: list[tuple[int, RetentionRule]] = []
    for index, entry in enumerate(section):
        path = (SECTION, index)
        if any(p.path[:2] == path for p in found):
            continue
        try:
            rules.append((index, _rule(f"{SECTION}[{index}]", entry)))
        except ValidationError as exc:
            found.append(_policyfile.Problem(path, str(exc)))
    agreed: list[RetentionRule] = []
    for index, rule in rules:
        try:
            RetentionPolicy((*agreed, rule))
        except PolicyError as exc:
            message = f"{SECTION}[{index}]: {exc}"
            found.append(_policyfile.Problem((SECTION, index), message, policy=True))
        else:
            agreed.append(rule)
    return _policyfile.ordered({SECTION: section}, found)


def policy_from_file(path: str | os.PathLike[str]) -> RetentionPolicy:
    """Load the retention policy of a ``.toml`` or ``.json`` policy file.

    The file is read as :meth:`Inventory.from_file <avgkit.inventory.Inventory.from_file>`
    reads it; every error starts with the file's path as given
    (``venue/avg.toml: retention[1].period: ...``). See :func:`policy_from_mapping`.

    Raises:
        ValidationError: The file cannot be read or parsed, or its section is invalid.
        PolicyError: The file has no ``retention`` section, or its rules contradict each
            other.

    .. versionadded:: 0.2.0
    """
    name = os.fspath(path)
    document = _policyfile.document_from_file(path)  # its errors name the file already
    try:
        return policy_from_mapping(document)
    except PolicyError as exc:
        raise PolicyError(_named(name, exc)) from None
    except ValidationError as exc:
        raise ValidationError(_named(name, exc)) from None


def _named(name: str, exc: Exception) -> str:
    text = str(exc).replace(": avgkit policy check lists", f": avgkit policy check {name} lists")
    return f"{name}: {text}"


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
