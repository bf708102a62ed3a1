"""Carrying out a retention plan: claims, per-subject erasure, warnings, the summary (service)."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Protocol

import attrs

from avgkit import _validators
from avgkit.consent._values import subject_reference
from avgkit.errors import NotFound, PolicyError, ValidationError
from avgkit.retention._values import Action, ClaimedAction, Outcome, PlannedAction

if TYPE_CHECKING:
    from avgkit.audit import AuditLog
    from avgkit.erasure import Erasure
    from avgkit.host import HostErasure, HostSubject
    from avgkit.retention._values import RetentionPolicy
    from avgkit.storage import RetentionStore
    from avgkit.subjects import SubjectId

WarnCallback = Callable[["SubjectId", PlannedAction], None]
"""What ``execute(warn=...)`` calls to warn a subject (send the e-mail): the host's id and
the warning action (whose ``reason`` says when the data goes)."""


class _Plan(Protocol):
    """What the executor needs of a plan."""

    id: str
    fingerprint: str
    at: datetime

    def due(self) -> Iterator[PlannedAction]: ...


class _Planner(Protocol):
    """What the executor needs of the planner."""

    policy: RetentionPolicy

    def host_subject(self, subject: SubjectId) -> HostSubject | None: ...

    def subject_action(
        self, subject: HostSubject, rule_key: str, now: datetime
    ) -> PlannedAction | None: ...

    def erase_record(self, source: str, key: str, *, keep: bool) -> HostErasure: ...


DEFAULT_LEASE: Final = timedelta(minutes=15)
DEFAULT_BATCH: Final = 50


def _frozen_counts(value: Mapping[tuple[str, str, str], int]) -> Mapping[tuple[str, str, str], int]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class Progress:
    """How far an execution is: passed to ``execute(progress=...)`` after every action.

    .. versionadded:: 0.2.0
    """

    done: int
    """Actions this executor finished so far."""
    remaining: int
    """Actions of the plan no executor has finished, as of the last claim."""


@attrs.frozen(kw_only=True)
class ExecutionSummary:
    """The outcome of a plan: finished actions per (rule, action, outcome), over all executors.

    Counted in the store, so several executors (or a rerun after a crash) never count an
    action twice.

    .. versionadded:: 0.2.0
    """

    plan_id: str
    counts: Mapping[tuple[str, str, str], int] = attrs.field(converter=_frozen_counts)
    """``{("inactive_accounts", "delete", "erased"): 12, ...}``."""
    done_here: int
    """Actions this call carried out."""
    remaining: int
    """Actions not finished (another executor holds them, or their claim is not stale yet)."""

    def total(self, outcome: Outcome | str | None = None) -> int:
        """Finished actions, of one outcome or all."""
        return sum(n for (_, _, o), n in self.counts.items() if outcome is None or o == outcome)


def _is_reference(value: str) -> bool:
    try:
        subject_reference(value)
    except ValidationError:
        return False
    return True


def _executor_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Executor:
    """Works through one staged plan; see :meth:`RetentionPlanner.execute`."""

    def __init__(
        self,
        planner: _Planner,
        store: RetentionStore,
        erasure: Erasure,
        audit: AuditLog,
        *,
        now: Callable[[], datetime],
        warn: WarnCallback | None,
    ) -> None:
        self._planner = planner
        self._store = store
        self._erasure = erasure
        self._audit = audit
        self._now = now
        self._warn = warn

    def stage(self, plan: _Plan | str) -> str:
        """Stage ``plan`` (a plan, or the id of one staged before); return its id."""
        fingerprint = self._planner.policy.fingerprint
        if isinstance(plan, str):
            stored = self._store.plan_fingerprint(plan)
            if stored is None:
                msg = "no retention plan with that id was staged; pass the plan itself"
                raise NotFound(msg)
            plan_id = plan
        else:
            stored = plan.fingerprint
            plan_id = plan.id
        if stored != fingerprint:
            msg = (
                "the plan was made under another retention policy than this kit's; make a new "
                "plan with kit.retention.plan() (rules changed in between decide differently)"
            )
            raise PolicyError(msg)
        if not isinstance(plan, str):
            with self._audit.atomic():
                staged = self._store.stage(plan.id, fingerprint, plan.at, plan.due())
                if staged:
                    self._audit.record(
                        "retention.plan_staged",
                        details={"plan": plan.id, "actions": staged, "at": plan.at.isoformat()},
                    )
        return plan_id

    def run(
        self,
        plan_id: str,
        *,
        executor: str | None,
        batch: int,
        lease: timedelta,
        progress: Callable[[Progress], None] | None,
    ) -> ExecutionSummary:
        """Claim and carry out actions until none is left to claim."""
        name = _executor_name() if executor is None else _validators.key(executor, "executor")
        if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
            msg = f"batch must be a positive number of actions, got {batch!r}"
            raise ValidationError(msg)
        if not isinstance(lease, timedelta) or lease < timedelta(0):
            msg = "lease must be a non-negative timedelta (how long a claim is honoured)"
            raise ValidationError(msg)
        done = 0
        while True:
            now = self._now()
            claimed = self._store.claim(plan_id, name, now, limit=batch, stale_before=now - lease)
            if not claimed:
                break
            done = self._batch(claimed, done, self._store.unfinished(plan_id), progress)
        return ExecutionSummary(
            plan_id=plan_id,
            counts=self._store.outcomes(plan_id),
            done_here=done,
            remaining=self._store.unfinished(plan_id),
        )

    def _batch(
        self,
        claimed: tuple[ClaimedAction, ...],
        done: int,
        remaining: int,
        progress: Callable[[Progress], None] | None,
    ) -> int:
        """Carry out one claimed batch; return the running count of actions done."""
        records = [item for item in claimed if item.action.subject is None]
        if records:
            # Records go one by one in the host (each idempotent), and are marked done
            # together: one commit for the batch instead of one per record.
            for item in records:
                self._remove_record(item)
            with self._audit.atomic():
                for item in records:
                    self._finish(item, Outcome.RECORD_REMOVED, None)
        for item in claimed:
            if item.action.subject is not None:
                self._carry_out(item)
            done += 1
            remaining -= 1
            if progress is not None:
                progress(Progress(done=done, remaining=max(remaining, 0)))
        return done

    # ------------------------------------------------------------------ one action

    def _finish(
        self, item: ClaimedAction, outcome: Outcome, ref: str | None, *, known: bool = True
    ) -> None:
        """Mark the action finished, audited under the subject's reference."""
        action = item.action
        details: dict[str, str | int | bool] = {
            "plan": item.plan_id,
            "rule": action.rule,
            "action": action.action.value,
            "outcome": outcome.value,
        }
        subject = action.subject if known else None
        if not known and ref is not None:
            details["erased"] = ref  # the row holds the reference already, not the id
        with self._audit.atomic():
            if self._store.finish(item.plan_id, item.number, outcome, self._now(), subject_ref=ref):
                self._audit.record("retention.action_finished", subject=subject, details=details)

    def _carry_out(self, item: ClaimedAction) -> None:
        action = item.action
        assert action.subject is not None  # noqa: S101 - records are handled per batch
        if _is_reference(action.subject):
            # The erasure itself re-keyed this row to the reference: it happened already.
            self._finish(item, Outcome.ERASED, action.subject, known=False)
            return
        sid = action.subject
        subject_ref = self._audit.subject_ref(sid)
        entry = self._erasure.entry(sid)
        if entry is not None and not entry.complete:
            # A crash came between the erasure's steps: complete it.
            self._erasure.erase(
                sid,
                cause=entry.cause,
                honour_holds=False,
                and_then=lambda: self._finish(item, Outcome.ERASED, subject_ref),
            )
            return
        current = self._still_due(action)
        if current is None:
            self._finish(item, Outcome.SKIPPED, None)
        elif current.deferred:
            self._finish(item, Outcome.DEFERRED, None)
        elif current.warning:
            self._warn_subject(item, current)
        elif current.action is Action.REVIEW:
            self._finish(item, Outcome.FLAGGED, None)
        else:
            outcome = self._erasure.erase(
                sid,
                cause=f"retention:{action.rule}",
                keep_records=current.action is Action.ANONYMISE,
                and_then=lambda: self._finish(item, Outcome.ERASED, subject_ref),
            )
            if outcome.deferred is not None:
                self._finish(item, Outcome.DEFERRED, None)

    def _still_due(self, action: PlannedAction) -> PlannedAction | None:
        """The action as the host and the holds say now, or ``None`` if it is not due."""
        assert action.subject is not None  # noqa: S101 - subject actions only
        subject = self._planner.host_subject(action.subject)
        if subject is None:
            return None
        now = self._now()
        current = self._planner.subject_action(subject, action.rule, now)
        if current is None or current.due > now or current.warning != action.warning:
            return None
        return current

    def _warn_subject(self, item: ClaimedAction, current: PlannedAction) -> None:
        if self._warn is None:
            msg = (
                f"retention rule {current.rule!r} promises a warning before it acts; pass "
                "warn= to execute() (a callback that sends the subject the e-mail)"
            )
            raise ValidationError(msg)
        assert current.subject is not None  # noqa: S101 - subject actions only
        assert current.anchor is not None  # noqa: S101 - set for every subject action
        self._warn(current.subject, current)
        with self._audit.atomic():
            self._store.record_warning(current.subject, current.rule, current.anchor, self._now())
            self._finish(item, Outcome.WARNED, None)

    def _remove_record(self, item: ClaimedAction) -> None:
        action = item.action
        assert action.source is not None  # noqa: S101 - record actions name their source
        assert action.record_key is not None  # noqa: S101
        self._planner.erase_record(
            action.source, action.record_key, keep=action.action is Action.ANONYMISE
        )
