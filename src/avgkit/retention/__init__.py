"""Retention: how long each kind of data may stay, what defers it, and when it is due.

A :class:`RetentionPolicy` is a set of :class:`RetentionRule` values: "accounts with no
purchase, login or newsletter read for 2 years are deleted" (an inactivity trigger),
"quick registrations at the box office are deleted the day after the performance" (an event
date), "contact persons 7 years after the contract ends". A :class:`Hold` keeps one subject's
data past its date for a stated reason (an upcoming visit, a payment dispute, fiscal
retention, an open request). Periods are calendar periods. The rules can sit in the
inventory's policy file, as its ``retention`` section: :func:`policy_from_file`.

.. versionadded:: 0.2.0
"""

from avgkit.retention._execute import ExecutionSummary, Progress
from avgkit.retention._plan import (
    CONTRACT_END,
    Leftover,
    RetentionPlan,
    RetentionPlanner,
    WarnCallback,
)
from avgkit.retention._policyfile import policy_from_file, policy_from_mapping
from avgkit.retention._values import (
    Action,
    ClaimedAction,
    Hold,
    HoldReason,
    Outcome,
    PlannedAction,
    RetentionPolicy,
    RetentionRule,
    StoredHold,
    Trigger,
    check_period,
)

__all__ = [
    "CONTRACT_END",
    "Action",
    "ClaimedAction",
    "ExecutionSummary",
    "Hold",
    "HoldReason",
    "Leftover",
    "Outcome",
    "PlannedAction",
    "Progress",
    "RetentionPlan",
    "RetentionPlanner",
    "RetentionPolicy",
    "RetentionRule",
    "StoredHold",
    "Trigger",
    "WarnCallback",
    "check_period",
    "policy_from_file",
    "policy_from_mapping",
]
