"""The contracts every RetentionStore and ErasureStore adapter passes (private; see the package)."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avgkit.erasure._values import ErasureEntry, ErasureNotice
from avgkit.errors import NotFound, ValidationError
from avgkit.retention._values import (
    Action,
    ClaimedAction,
    Hold,
    HoldReason,
    Outcome,
    PlannedAction,
)
from avgkit.storage import ErasureStore, RetentionStore
from avgkit.subjects import SubjectId
from avgkit.testing.conformance._base import ContractBase, require

T0 = datetime(2025, 4, 7, 8, 30, 15, 123456, tzinfo=UTC)
LEASE = timedelta(minutes=10)
"""How long the contract's executors honour a claim."""
_FINGERPRINT = "0123456789abcdef" * 2
_CEST = timezone(timedelta(hours=2))


def reference(n: int) -> str:
    """The ``n``-th subject reference: ``"sr1:"`` and 32 lower-case hex digits."""
    return f"sr1:{n:032x}"


def subject_action(
    subject: str,
    rule: str = "inactive_accounts",
    *,
    action: Action = Action.DELETE,
    warning: bool = False,
    anchor: datetime = T0,
) -> PlannedAction:
    """A due subject action whose rule's two-year period ran from ``anchor``."""
    return PlannedAction(
        subject=subject,
        rule=rule,
        action=action,
        due=anchor + timedelta(days=730, microseconds=1),
        reason="no purchase, login since 2023-04-07",
        warning=warning,
        anchor=anchor,
    )


def record_action(record_key: str, source: str = "camera_outside") -> PlannedAction:
    """A due record action (footage collected at ``T0``, kept four weeks)."""
    return PlannedAction(
        rule="camera_footage",
        action=Action.DELETE,
        due=T0 + timedelta(days=28),
        reason="collected 2025-04-07, kept 4 weeks",
        source=source,
        record_key=record_key,
        anchor=T0,
    )


def _tracked(actions: list[PlannedAction], taken: list[PlannedAction]) -> Iterator[PlannedAction]:
    """Yield ``actions``, appending each to ``taken`` as the store reads it."""
    for action in actions:
        taken.append(action)
        yield action


def _claim_all(store: RetentionStore, plan_id: str, at: datetime) -> tuple[ClaimedAction, ...]:
    return store.claim(plan_id, "sweeper", at, limit=10_000, stale_before=at - LEASE)


_EXECUTORS = ("exec_a", "exec_b")
_ADVANCES = (
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(minutes=3),
    LEASE - timedelta(microseconds=1),
    LEASE,
)
_OUTCOMES = (Outcome.ERASED, Outcome.SKIPPED, Outcome.DEFERRED)
_claim_steps = st.tuples(
    st.just("claim"),
    st.sampled_from(_EXECUTORS),
    st.integers(min_value=1, max_value=4),
    st.sampled_from(_ADVANCES),
)
_finish_steps = st.tuples(
    st.just("finish"),
    st.sampled_from(_EXECUTORS),
    st.integers(min_value=0, max_value=20),
    st.sampled_from(_ADVANCES),
)


class RetentionStoreContract(ContractBase[RetentionStore]):
    """Subclass this in your adapter's tests and implement :meth:`make_store`.

    Example::

        class TestMyRetentionStore(RetentionStoreContract):
            def make_store(self) -> RetentionStore:
                return MyRetentionStore(self.tmp_path / "retention.db")

    Override :meth:`raw_values` to let the contract prove that an erased subject's host id
    is gone from your backend, not only from the answers.

    .. versionadded:: 0.2.0
    """

    claim_examples: ClassVar[int] = 40
    """How many generated interleavings the claim property test checks (lower it for slow
    backends)."""

    def raw_values(self, store: RetentionStore) -> list[str]:
        """Return every value the backend keeps for holds, warnings and staged actions.

        Read around the adapter (its tables, its dicts), each value as text.
        """
        pytest.skip("the adapter does not implement raw_values()")

    # ------------------------------------------------------------------ holds

    def test_a_new_store_is_empty(self) -> None:
        """A fresh store knows no hold, warning or plan."""
        store = self.store()
        assert store.holds_for(SubjectId("cust-1"), T0) == ()
        assert list(store.active_holds(T0)) == []
        assert store.warned_at(SubjectId("cust-1"), "inactive_accounts", T0) is None
        assert store.plan_fingerprint("plan-unknown") is None
        assert store.claim("plan-unknown", "exec_a", T0, limit=5, stale_before=T0) == ()
        assert store.outcomes("plan-unknown") == {}
        assert store.unfinished("plan-unknown") == 0

    def test_placed_holds_get_increasing_numbers_and_come_back_equal(self) -> None:
        """place_hold() numbers holds in increasing order; stored holds equal what was placed."""
        store = self.store()
        holds = [
            Hold(subject="cust-1", reason=HoldReason.PAYMENT_DISPUTE),
            Hold(
                subject="cust-1",
                reason=HoldReason.UPCOMING_VISIT,
                until=T0 + timedelta(days=3, microseconds=7),
            ),
            Hold(subject="cust-2", reason=HoldReason.OPEN_REQUEST, until=T0 + timedelta(days=30)),
        ]
        stored = [store.place_hold(hold, T0 + timedelta(seconds=n)) for n, hold in enumerate(holds)]
        assert [s.id for s in stored] == sorted({s.id for s in stored})
        for n, (placed, hold) in enumerate(zip(stored, holds, strict=True)):
            assert placed.hold == hold
            assert placed.placed_at == T0 + timedelta(seconds=n)
            assert placed.released_at is None
        mine = store.holds_for(SubjectId("cust-1"), T0)
        assert sorted(mine, key=lambda s: s.id) == stored[:2]
        assert sorted(store.active_holds(T0), key=lambda s: s.id) == stored

    def test_instants_round_trip_to_the_microsecond_in_utc(self) -> None:
        """A hold's until and placed_at come back equal to the microsecond, as UTC instants."""
        store = self.store()
        until = datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
        placed = store.place_hold(
            Hold(subject="cust-1", reason=HoldReason.FISCAL_RETENTION, until=until),
            T0.replace(microsecond=1),
        )
        (found,) = store.holds_for(SubjectId("cust-1"), T0)
        assert found == placed
        assert found.hold.until == until
        assert found.placed_at == T0.replace(microsecond=1)
        assert found.placed_at.utcoffset() == timedelta(0)
        assert found.hold.until is not None
        assert found.hold.until.utcoffset() == timedelta(0)

    def test_holds_for_answers_one_subject_only(self) -> None:
        """holds_for() never returns another subject's holds."""
        store = self.store()
        store.place_hold(Hold(subject="cust-1", reason=HoldReason.OPEN_REQUEST), T0)
        theirs = store.place_hold(Hold(subject="cust-10", reason=HoldReason.OPEN_REQUEST), T0)
        assert store.holds_for(SubjectId("cust-10"), T0) == (theirs,)
        assert store.holds_for(SubjectId("cust-2"), T0) == ()

    def test_a_hold_lapses_at_exactly_its_until(self) -> None:
        """A hold is in force before ``until`` and lapsed at ``until`` itself."""
        store = self.store()
        until = T0 + timedelta(days=1)
        hold = store.place_hold(
            Hold(subject="cust-1", reason=HoldReason.UPCOMING_VISIT, until=until), T0
        )
        just_before = until - timedelta(microseconds=1)
        assert store.holds_for(SubjectId("cust-1"), just_before) == (hold,)
        assert list(store.active_holds(just_before)) == [hold]
        assert store.holds_for(SubjectId("cust-1"), until) == ()
        assert list(store.active_holds(until)) == []
        # The same instant in another zone is the same instant.
        assert store.holds_for(SubjectId("cust-1"), until.astimezone(_CEST)) == ()

    def test_a_released_hold_is_no_longer_in_force(self) -> None:
        """release_hold() returns the hold with its release time; it then holds nothing."""
        store = self.store()
        kept = store.place_hold(Hold(subject="cust-1", reason=HoldReason.OPEN_REQUEST), T0)
        hold = store.place_hold(Hold(subject="cust-1", reason=HoldReason.PAYMENT_DISPUTE), T0)
        released = store.release_hold(hold.id, T0 + timedelta(hours=1))
        assert released.id == hold.id
        assert released.hold == hold.hold
        assert released.placed_at == hold.placed_at
        assert released.released_at == T0 + timedelta(hours=1)
        later = T0 + timedelta(hours=2)
        assert store.holds_for(SubjectId("cust-1"), later) == (kept,)
        assert list(store.active_holds(later)) == [kept]

    def test_releasing_twice_keeps_the_first_release_time(self) -> None:
        """A second release changes nothing and returns the first release."""
        store = self.store()
        hold = store.place_hold(Hold(subject="cust-1", reason=HoldReason.OPEN_REQUEST), T0)
        first = store.release_hold(hold.id, T0 + timedelta(minutes=5))
        again = store.release_hold(hold.id, T0 + timedelta(minutes=9))
        assert again == first
        assert again.released_at == T0 + timedelta(minutes=5)

    def test_releasing_an_unknown_hold_is_not_found(self) -> None:
        """release_hold() of a number never given raises NotFound."""
        store = self.store()
        hold = store.place_hold(Hold(subject="cust-1", reason=HoldReason.OPEN_REQUEST), T0)
        with pytest.raises(NotFound):
            store.release_hold(hold.id + 1000, T0)
        assert store.holds_for(SubjectId("cust-1"), T0) == (hold,)

    # ------------------------------------------------------------------ warnings

    def test_a_warning_is_remembered_for_its_subject_rule_and_anchor(self) -> None:
        """warned_at() finds the warning for the same subject, rule and trigger instant only."""
        store = self.store()
        anchor = T0 - timedelta(days=700, microseconds=3)
        sent = T0 + timedelta(microseconds=42)
        store.record_warning(SubjectId("cust-1"), "inactive_accounts", anchor, sent)
        assert store.warned_at(SubjectId("cust-1"), "inactive_accounts", anchor) == sent
        in_cest = anchor.astimezone(_CEST)  # the same instant, written in another zone
        assert store.warned_at(SubjectId("cust-1"), "inactive_accounts", in_cest) == sent
        moved = anchor + timedelta(microseconds=1)  # new activity moves the trigger instant
        assert store.warned_at(SubjectId("cust-1"), "inactive_accounts", moved) is None
        assert store.warned_at(SubjectId("cust-1"), "quick_registrations", anchor) is None
        assert store.warned_at(SubjectId("cust-2"), "inactive_accounts", anchor) is None

    def test_warnings_for_answers_a_page_of_subjects_at_once(self) -> None:
        """warnings_for() gives every warning of one rule to the subjects asked, keyed exactly."""
        store = self.store()
        anchor = T0 - timedelta(days=700, microseconds=3)
        sent = T0 + timedelta(microseconds=42)
        store.record_warning(SubjectId("cust-1"), "inactive_accounts", anchor, sent)
        store.record_warning(SubjectId("cust-2"), "inactive_accounts", T0, sent)
        store.record_warning(SubjectId("cust-1"), "quick_registrations", anchor, sent)
        found = store.warnings_for("inactive_accounts", [SubjectId("cust-1"), SubjectId("x")])
        assert found == {(SubjectId("cust-1"), anchor): sent}
        both = store.warnings_for("inactive_accounts", [SubjectId("cust-1"), SubjectId("cust-2")])
        assert set(both) == {(SubjectId("cust-1"), anchor), (SubjectId("cust-2"), T0)}
        assert store.warnings_for("inactive_accounts", []) == {}

    def test_recording_a_warning_twice_keeps_the_first(self) -> None:
        """A second record_warning() for the same trigger changes nothing."""
        store = self.store()
        store.record_warning(SubjectId("cust-1"), "inactive_accounts", T0, T0 + timedelta(days=1))
        store.record_warning(SubjectId("cust-1"), "inactive_accounts", T0, T0 + timedelta(days=2))
        found = store.warned_at(SubjectId("cust-1"), "inactive_accounts", T0)
        assert found == T0 + timedelta(days=1)

    # ------------------------------------------------------------------ forgetting

    def _stage_for_forgetting(self, store: RetentionStore) -> list[PlannedAction]:
        actions = [
            subject_action("cust-forget-me"),
            subject_action("cust-keep"),
            subject_action("cust-forget-me", "quick_registrations", warning=True),
            record_action("2025/04/07/cam1.mp4"),
        ]
        store.place_hold(Hold(subject="cust-forget-me", reason=HoldReason.OPEN_REQUEST), T0)
        store.place_hold(
            Hold(subject="cust-forget-me", reason=HoldReason.UPCOMING_VISIT, until=T0 + LEASE),
            T0,
        )
        store.place_hold(Hold(subject="cust-keep", reason=HoldReason.OPEN_REQUEST), T0)
        store.record_warning(SubjectId("cust-forget-me"), "inactive_accounts", T0, T0)
        store.record_warning(SubjectId("cust-keep"), "inactive_accounts", T0, T0)
        assert store.stage("plan-f", _FINGERPRINT, T0, iter(actions)) == len(actions)
        return actions

    def test_forgetting_a_subject_drops_its_holds_and_warnings_and_rekeys_its_actions(
        self,
    ) -> None:
        """forget_subject() touches only that subject; its staged actions name the reference."""
        store = self.store()
        actions = self._stage_for_forgetting(store)
        ref = reference(7)
        # Two holds, one warning and two staged actions.
        assert store.forget_subject(SubjectId("cust-forget-me"), ref) == 5
        assert store.holds_for(SubjectId("cust-forget-me"), T0) == ()
        assert store.warned_at(SubjectId("cust-forget-me"), "inactive_accounts", T0) is None
        assert [h.hold.subject for h in store.active_holds(T0)] == ["cust-keep"]
        assert store.warned_at(SubjectId("cust-keep"), "inactive_accounts", T0) == T0
        claimed = [c.action for c in _claim_all(store, "plan-f", T0)]
        assert claimed[0].subject == ref
        assert claimed[0].rule == actions[0].rule
        assert claimed[0].due == actions[0].due
        assert claimed[1] == actions[1]
        assert claimed[2].subject == ref
        assert claimed[2].warning
        assert claimed[3] == actions[3]
        # Nothing is left to change: a repeated erasure converges.
        assert store.forget_subject(SubjectId("cust-forget-me"), ref) == 0
        assert store.unfinished("plan-f") == 4

    @pytest.mark.parametrize(
        ("subject", "ref"),
        [("cust-forget-me", "not a reference"), ("sr1:" + "a" * 32, "sr1:" + "b" * 32)],
    )
    def test_forgetting_with_a_malformed_reference_or_subject_changes_nothing(
        self, subject: str, ref: str
    ) -> None:
        """A reference that is not ``sr1:...``, or a subject that is one: ValidationError."""
        store = self.store()
        self._stage_for_forgetting(store)
        with pytest.raises(ValidationError):
            store.forget_subject(SubjectId(subject), ref)
        assert len(store.holds_for(SubjectId("cust-forget-me"), T0)) == 2
        assert store.warned_at(SubjectId("cust-forget-me"), "inactive_accounts", T0) == T0

    def test_a_forgotten_subjects_host_id_is_gone_from_the_backend(self) -> None:
        """After forget_subject() no stored value names the host's id (read around the store)."""
        store = self.store()
        self._stage_for_forgetting(store)
        assert any("cust-forget-me" in value for value in self.raw_values(store))
        store.forget_subject(SubjectId("cust-forget-me"), reference(7))
        left = [value for value in self.raw_values(store) if "cust-forget-me" in value]
        assert left == [], "the erased subject's host id is still stored"
        assert any("cust-keep" in value for value in self.raw_values(store))

    def test_a_finished_action_keeps_only_the_subjects_reference(self) -> None:
        """finish(subject_ref=...) replaces the stored subject id with the reference."""
        store = self.store()
        store.stage(
            "plan-r",
            _FINGERPRINT,
            T0,
            iter([subject_action("cust-erased"), subject_action("cust-erased", "other_rule")]),
        )
        first, _second = _claim_all(store, "plan-r", T0)
        assert store.finish("plan-r", first.number, Outcome.ERASED, T0, subject_ref=reference(3))
        # Only the open action still names the host id.
        assert store.forget_subject(SubjectId("cust-erased"), reference(3)) == 1
        with_raw = self._raw_or_none(store)
        if with_raw is not None:
            assert not [value for value in with_raw if "cust-erased" in value]

    def _raw_or_none(self, store: RetentionStore) -> list[str] | None:
        try:
            return self.raw_values(store)
        except pytest.skip.Exception:
            return None

    # ------------------------------------------------------------------ staging

    def test_staging_returns_the_count_and_remembers_the_fingerprint(self) -> None:
        """stage() stores every action and the fingerprint; unknown plans have none."""
        store = self.store()
        actions = [subject_action(f"cust-{n}") for n in range(5)]
        assert store.stage("plan-1", _FINGERPRINT, T0, iter(actions)) == 5
        assert store.plan_fingerprint("plan-1") == _FINGERPRINT
        assert store.plan_fingerprint("plan-2") is None
        assert store.unfinished("plan-1") == 5
        assert store.outcomes("plan-1") == {}

    def test_staging_a_plan_again_stages_nothing_and_reads_nothing(self) -> None:
        """A second stage() of the same plan id returns 0 without consuming the iterator."""
        store = self.store()
        first = [subject_action("cust-1"), subject_action("cust-2")]
        store.stage("plan-1", _FINGERPRINT, T0, iter(first))
        taken: list[PlannedAction] = []
        again = [subject_action("cust-3"), subject_action("cust-4"), subject_action("cust-5")]
        staged = store.stage("plan-1", "f" * 32, T0 + LEASE, _tracked(again, taken))
        assert staged == 0
        assert taken == []
        assert store.plan_fingerprint("plan-1") == _FINGERPRINT
        assert store.unfinished("plan-1") == 2
        assert [c.action for c in _claim_all(store, "plan-1", T0)] == first

    def test_an_empty_plan_is_staged_with_nothing_to_claim(self) -> None:
        """stage() of no actions returns 0 but records the plan."""
        store = self.store()
        assert store.stage("plan-empty", _FINGERPRINT, T0, iter([])) == 0
        assert store.plan_fingerprint("plan-empty") == _FINGERPRINT
        assert _claim_all(store, "plan-empty", T0) == ()
        assert store.unfinished("plan-empty") == 0

    def test_staged_actions_round_trip_with_every_field(self) -> None:
        """Subject, warning and record actions come back equal, instants to the microsecond."""
        store = self.store()
        actions = [
            subject_action("cust-1", anchor=T0.replace(microsecond=999999)),
            subject_action(
                "cust-2", "inactive_accounts", warning=True, anchor=T0.replace(microsecond=1)
            ),
            subject_action("cust-3", "business_contacts", action=Action.REVIEW),
            subject_action("cust-4", "quick_registrations", action=Action.ANONYMISE),
            record_action("2025/04/07/cam1-00:00.mp4"),
        ]
        store.stage("plan-rt", _FINGERPRINT, T0, iter(actions))
        claimed = _claim_all(store, "plan-rt", T0)
        assert [c.action for c in claimed] == actions
        assert {c.plan_id for c in claimed} == {"plan-rt"}
        record = claimed[-1].action
        assert record.subject is None
        assert record.source == "camera_outside"
        assert record.record_key == "2025/04/07/cam1-00:00.mp4"
        assert record.due == T0 + timedelta(days=28)
        assert record.anchor == T0
        assert record.reason == "collected 2025-04-07, kept 4 weeks"
        assert record.warning is False
        assert claimed[1].action.warning is True
        assert claimed[0].action.anchor == T0.replace(microsecond=999999)
        assert claimed[0].action.due.utcoffset() == timedelta(0)

    def test_a_long_plan_is_staged_whole_and_claimed_in_staging_order(self) -> None:
        """Hundreds of actions (more than a SQL batch of 200) are staged, numbered in order."""
        store = self.store()
        actions = [subject_action(f"cust-{n:04d}") for n in range(250)]
        assert store.stage("plan-long", _FINGERPRINT, T0, iter(actions)) == 250
        claimed = _claim_all(store, "plan-long", T0)
        assert [c.action for c in claimed] == actions
        numbers = [c.number for c in claimed]
        assert numbers == sorted(set(numbers))

    def test_plans_are_kept_apart(self) -> None:
        """Claims, outcomes and counts are per plan; the same action may be in two plans."""
        store = self.store()
        store.stage("plan-a", _FINGERPRINT, T0, iter([subject_action("cust-1")]))
        store.stage("plan-b", "f" * 32, T0, iter([subject_action("cust-1")]))
        (claimed,) = _claim_all(store, "plan-a", T0)
        assert store.finish("plan-a", claimed.number, Outcome.SKIPPED, T0, subject_ref=None)
        assert store.unfinished("plan-a") == 0
        assert store.unfinished("plan-b") == 1
        assert store.outcomes("plan-b") == {}
        assert store.plan_fingerprint("plan-b") == "f" * 32
        assert [c.plan_id for c in _claim_all(store, "plan-b", T0)] == ["plan-b"]

    # ------------------------------------------------------------------ claims

    def test_claims_come_in_number_order_up_to_the_limit(self) -> None:
        """claim() hands out the lowest-numbered free actions, at most ``limit``."""
        store = self.store()
        actions = [subject_action(f"cust-{n}") for n in range(8)]
        store.stage("plan-1", _FINGERPRINT, T0, iter(actions))
        stale = T0 - LEASE
        first = store.claim("plan-1", "exec_a", T0, limit=3, stale_before=stale)
        second = store.claim("plan-1", "exec_b", T0, limit=3, stale_before=stale)
        third = store.claim("plan-1", "exec_a", T0, limit=3, stale_before=stale)
        assert [c.action for c in first + second + third] == actions
        numbers = [c.number for c in first + second + third]
        assert numbers == sorted(set(numbers))
        assert store.claim("plan-1", "exec_b", T0, limit=3, stale_before=stale) == ()
        assert store.claim("plan-1", "exec_a", T0, limit=3, stale_before=stale) == ()

    def test_a_fresh_claim_is_never_handed_out_again(self) -> None:
        """An action claimed after ``stale_before`` is not free, to anyone."""
        store = self.store()
        store.stage("plan-1", _FINGERPRINT, T0, iter([subject_action("cust-1")]))
        assert len(store.claim("plan-1", "exec_a", T0, limit=5, stale_before=T0 - LEASE)) == 1
        later = T0 + LEASE - timedelta(microseconds=1)
        assert store.claim("plan-1", "exec_b", later, limit=5, stale_before=later - LEASE) == ()
        assert store.claim("plan-1", "exec_a", later, limit=5, stale_before=later - LEASE) == ()

    def test_a_claim_made_at_or_before_stale_before_is_taken_over(self) -> None:
        """A claim made exactly at ``stale_before`` (or earlier) is free again."""
        store = self.store()
        store.stage("plan-1", _FINGERPRINT, T0, iter([subject_action("cust-1")]))
        (mine,) = store.claim("plan-1", "exec_a", T0, limit=5, stale_before=T0 - LEASE)
        at = T0 + LEASE
        (taken,) = store.claim("plan-1", "exec_b", at, limit=5, stale_before=at - LEASE)
        assert taken == mine
        # exec_b's claim is fresh now: nobody gets the action until it goes stale in turn.
        assert store.claim("plan-1", "exec_a", at, limit=5, stale_before=at - LEASE) == ()
        much_later = at + 2 * LEASE
        assert len(store.claim("plan-1", "exec_a", much_later, limit=5, stale_before=at)) == 1

    def test_finished_actions_are_never_claimed(self) -> None:
        """Once finished, an action is not handed out, however stale its claim."""
        store = self.store()
        store.stage(
            "plan-1", _FINGERPRINT, T0, iter([subject_action("cust-1"), subject_action("cust-2")])
        )
        first, second = _claim_all(store, "plan-1", T0)
        assert store.finish("plan-1", first.number, Outcome.FLAGGED, T0, subject_ref=None)
        much_later = T0 + 100 * LEASE
        again = store.claim("plan-1", "exec_b", much_later, limit=5, stale_before=much_later)
        assert again == (second,)

    # ------------------------------------------------------------------ finishing

    def test_finish_is_true_once_and_the_outcomes_are_counted(self) -> None:
        """finish() answers True the first time only; outcomes() counts, unfinished() the rest."""
        store = self.store()
        actions = [
            subject_action("cust-1"),
            subject_action("cust-2"),
            subject_action("cust-3", warning=True),
            subject_action("cust-4", "business_contacts", action=Action.REVIEW),
            record_action("cam1.mp4"),
            record_action("cam2.mp4"),
        ]
        store.stage("plan-1", _FINGERPRINT, T0, iter(actions))
        claimed = _claim_all(store, "plan-1", T0)
        outcomes = [
            Outcome.ERASED,
            Outcome.DEFERRED,
            Outcome.WARNED,
            Outcome.FLAGGED,
            Outcome.RECORD_REMOVED,
        ]
        for item, outcome in zip(claimed, outcomes, strict=False):
            ref = reference(item.number) if outcome is Outcome.ERASED else None
            assert store.finish("plan-1", item.number, outcome, T0, subject_ref=ref)
        assert not store.finish("plan-1", claimed[0].number, Outcome.SKIPPED, T0, subject_ref=None)
        assert store.outcomes("plan-1") == {
            ("inactive_accounts", "delete", "erased"): 1,
            ("inactive_accounts", "delete", "deferred"): 1,
            ("inactive_accounts", "delete", "warned"): 1,
            ("business_contacts", "review", "flagged"): 1,
            ("camera_footage", "delete", "record_removed"): 1,
        }
        assert store.unfinished("plan-1") == 1

    def test_outcomes_count_several_actions_under_one_key(self) -> None:
        """outcomes() adds up actions of the same rule, action and outcome."""
        store = self.store()
        store.stage("plan-1", _FINGERPRINT, T0, (subject_action(f"c-{n}") for n in range(7)))
        claimed = _claim_all(store, "plan-1", T0)
        for item in claimed[:4]:
            store.finish("plan-1", item.number, Outcome.SKIPPED, T0, subject_ref=None)
        store.finish("plan-1", claimed[4].number, Outcome.ERASED, T0, subject_ref=reference(1))
        assert store.outcomes("plan-1") == {
            ("inactive_accounts", "delete", "skipped"): 4,
            ("inactive_accounts", "delete", "erased"): 1,
        }
        assert store.unfinished("plan-1") == 2

    def test_two_executors_never_share_a_freshly_claimed_action(self) -> None:
        """Any interleaving of claims and finishes by two executors follows the claim rules.

        Every claim hands out exactly the lowest-numbered actions that are unfinished and
        unclaimed or claimed at or before ``stale_before`` (so never one the other executor
        holds freshly); finish() is True once per action; outcomes() sums to the actions
        finished and unfinished() counts the rest.
        """
        # One store for all examples (opening one can be slow, e.g. a new schema); each
        # example stages a plan of its own.
        store = self.store()
        examples = itertools.count()

        @settings(
            max_examples=self.claim_examples,
            deadline=None,
            suppress_health_check=[
                HealthCheck.differing_executors,
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
            ],
        )
        @given(
            size=st.integers(min_value=1, max_value=10),
            steps=st.lists(st.one_of(_claim_steps, _finish_steps), max_size=25),
            outcome=st.sampled_from(_OUTCOMES),
        )
        def check(
            size: int, steps: list[tuple[str, str, int, timedelta]], outcome: Outcome
        ) -> None:
            plan_id = f"plan-{next(examples)}"
            actions = [subject_action(f"cust-{n}") for n in range(size)]
            store.stage(plan_id, _FINGERPRINT, T0, iter(actions))
            _run_claims(store, plan_id, actions, steps, outcome)

        check()

    def test_concurrent_executors_finish_every_action_once(self) -> None:
        """Threads claiming and finishing from one store never get the same action twice."""
        require(self.capabilities, "thread_safe")
        store = self.store()
        total = 60
        store.stage(
            "plan-race", _FINGERPRINT, T0, (subject_action(f"c-{n:03d}") for n in range(total))
        )
        barrier = threading.Barrier(3)
        got: list[int] = []
        finished: list[int] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def execute(name: str) -> None:
            try:
                barrier.wait()
                while claimed := store.claim(
                    "plan-race", name, T0, limit=5, stale_before=T0 - LEASE
                ):
                    for item in claimed:
                        done = store.finish(
                            "plan-race", item.number, Outcome.SKIPPED, T0, subject_ref=None
                        )
                        with lock:
                            got.append(item.number)
                            if done:
                                finished.append(item.number)
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=execute, args=(f"exec_{n}",)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(got) == total, "an action was handed out twice"
        assert sorted(finished) == sorted(set(got))
        assert store.outcomes("plan-race") == {("inactive_accounts", "delete", "skipped"): total}
        assert store.unfinished("plan-race") == 0

    # ------------------------------------------------------------------ persistence

    def test_holds_warnings_and_plans_survive_reopening(self) -> None:
        """A persistent adapter keeps holds, warnings, claims and outcomes across a restart."""
        require(self.capabilities, "persistent")
        store = self.store()
        hold = store.place_hold(Hold(subject="cust-1", reason=HoldReason.OPEN_REQUEST), T0)
        store.record_warning(SubjectId("cust-1"), "inactive_accounts", T0, T0 + LEASE)
        actions = [subject_action("cust-1"), record_action("cam.mp4")]
        store.stage("plan-1", _FINGERPRINT, T0, iter(actions))
        first, _second = store.claim("plan-1", "exec_a", T0, limit=2, stale_before=T0 - LEASE)
        store.finish("plan-1", first.number, Outcome.DEFERRED, T0, subject_ref=None)
        again = self.reopened(store)
        assert again.holds_for(SubjectId("cust-1"), T0) == (hold,)
        assert again.warned_at(SubjectId("cust-1"), "inactive_accounts", T0) == T0 + LEASE
        assert again.plan_fingerprint("plan-1") == _FINGERPRINT
        assert again.outcomes("plan-1") == {("inactive_accounts", "delete", "deferred"): 1}
        assert again.unfinished("plan-1") == 1
        # The open action's claim survived too: it is not free until it goes stale.
        assert again.claim("plan-1", "exec_b", T0, limit=5, stale_before=T0 - LEASE) == ()
        later = T0 + LEASE
        (taken,) = again.claim("plan-1", "exec_b", later, limit=5, stale_before=T0)
        assert taken.action == actions[1]
        assert again.release_hold(hold.id, later).released_at == later


def _run_claims(
    store: RetentionStore,
    plan_id: str,
    actions: list[PlannedAction],
    steps: list[tuple[str, str, int, timedelta]],
    outcome: Outcome,
) -> None:
    """Play ``steps`` against the store and a model of the claim rules, comparing each answer."""
    position = {action.subject: n for n, action in enumerate(actions)}
    numbers: dict[int, int] = {}  # staging position -> the store's number
    claims: dict[int, tuple[str, datetime]] = {}  # position -> (executor, claimed at)
    finished: set[int] = set()
    now = T0
    for kind, executor, amount, advance in steps:
        now += advance
        stale_before = now - LEASE
        if kind == "claim":
            free = [
                n
                for n in range(len(actions))
                if n not in finished and (n not in claims or claims[n][1] <= stale_before)
            ]
            got = store.claim(plan_id, executor, now, limit=amount, stale_before=stale_before)
            taken = [position[c.action.subject] for c in got]
            for n in taken:
                holder = claims.get(n)
                assert holder is None or holder[1] <= stale_before, (
                    f"action {n} was handed to {executor} while {holder} held it freshly"
                )
            assert taken == free[:amount]
            assert [c.action for c in got] == [actions[n] for n in taken]
            assert all(c.plan_id == plan_id for c in got)
            assert [c.number for c in got] == sorted({c.number for c in got})
            for item, n in zip(got, taken, strict=True):
                assert numbers.setdefault(n, item.number) == item.number
                claims[n] = (executor, now)
        else:
            held = sorted(n for n, (who, _) in claims.items() if who == executor)
            n = held[amount % len(held)] if held else amount % len(actions)
            if n not in numbers:
                continue  # never claimed: the model does not know its number
            done = store.finish(plan_id, numbers[n], outcome, now, subject_ref=None)
            assert done == (n not in finished)
            finished.add(n)
    counts = store.outcomes(plan_id)
    assert sum(counts.values()) == len(finished)
    if finished:
        assert counts == {("inactive_accounts", "delete", str(outcome)): len(finished)}
    assert store.unfinished(plan_id) == len(actions) - len(finished)


def _entry(n: int, started: datetime = T0, cause: str = "request") -> ErasureEntry:
    return ErasureEntry(subject_ref=reference(n), started_at=started, cause=cause)


def _pseudonym(n: int) -> str:
    return f"em1:{n:064x}"


class ErasureStoreContract(ContractBase[ErasureStore]):
    """Subclass this in your adapter's tests and implement :meth:`make_store`.

    Example::

        class TestMyErasureStore(ErasureStoreContract):
            def make_store(self) -> ErasureStore:
                return MyErasureStore(self.tmp_path / "erasures.db")

    .. versionadded:: 0.2.0
    """

    log_examples: ClassVar[int] = 30
    """How many generated sequences of erasures the log property test checks."""

    def test_a_new_store_is_empty(self) -> None:
        """A fresh store logs nothing, suppresses nothing and has no notices."""
        store = self.store()
        assert store.count() == 0
        assert store.get(reference(1)) is None
        assert list(store.entries()) == []
        assert list(store.notices()) == []
        assert not store.is_suppressed(_pseudonym(1))
        assert store.erased_among([reference(1)]) == frozenset()
        assert store.erased_among([]) == frozenset()

    def test_a_begun_erasure_is_logged_with_its_suppressions_and_notices(self) -> None:
        """begin() stores the entry, its pseudonyms and one notice per recipient."""
        store = self.store()
        entry = _entry(1, T0.replace(microsecond=654321), "retention:inactive_accounts")
        assert store.begin(
            entry,
            suppressions=[_pseudonym(1), _pseudonym(2)],
            recipients=["crm", "mail_platform", "crm"],
        )
        assert store.get(reference(1)) == entry
        stored = store.get(reference(1))
        assert stored is not None
        assert not stored.complete
        assert stored.started_at.utcoffset() == timedelta(0)
        assert store.count() == 1
        assert store.is_suppressed(_pseudonym(1))
        assert store.is_suppressed(_pseudonym(2))
        assert not store.is_suppressed(_pseudonym(3))
        notices = list(store.notices())
        assert [(n.recipient, n.subject_ref) for n in notices] == [
            ("crm", reference(1)),
            ("mail_platform", reference(1)),
        ]
        assert all(n.at == entry.started_at for n in notices)
        assert notices[0].seq < notices[1].seq

    def test_beginning_again_changes_nothing(self) -> None:
        """A second begin() for the subject is False and adds no notice or suppression."""
        store = self.store()
        entry = _entry(1)
        assert store.begin(entry, suppressions=[_pseudonym(1)], recipients=["crm"])
        later = _entry(1, T0 + LEASE, "replay")
        again = store.begin(
            later, suppressions=[_pseudonym(1), _pseudonym(2)], recipients=["crm", "mail_platform"]
        )
        assert again is False
        assert store.get(reference(1)) == entry
        assert store.count() == 1
        assert [n.recipient for n in store.notices()] == ["crm"]
        assert not store.is_suppressed(_pseudonym(2))

    def test_an_erasure_without_recipients_or_suppressions_is_logged(self) -> None:
        """begin() with nothing to suppress or tell still logs the subject."""
        store = self.store()
        assert store.begin(_entry(1), suppressions=[], recipients=[])
        assert store.count() == 1
        assert list(store.notices()) == []

    def test_completing_is_true_once(self) -> None:
        """complete() sets completed_at the first time and answers False afterwards."""
        store = self.store()
        store.begin(_entry(1), suppressions=[], recipients=[])
        done_at = T0 + timedelta(seconds=3, microseconds=5)
        assert store.complete(reference(1), done_at)
        assert not store.complete(reference(1), done_at + LEASE)
        entry = store.get(reference(1))
        assert entry is not None
        assert entry.complete
        assert entry.completed_at == done_at

    def test_completing_an_unknown_erasure_logs_nothing(self) -> None:
        """complete() of a subject never begun is False and creates no entry."""
        store = self.store()
        assert not store.complete(reference(9), T0)
        assert store.get(reference(9)) is None
        assert store.count() == 0

    def test_the_log_streams_by_start_time_then_reference(self) -> None:
        """entries() is ordered by started_at, ties by subject reference."""
        store = self.store()
        made = [
            _entry(5, T0 + timedelta(hours=1)),
            _entry(3, T0),
            _entry(4, T0 + timedelta(microseconds=1)),
            _entry(1, T0 + timedelta(hours=1)),
            _entry(2, T0),
        ]
        for entry in made:
            store.begin(entry, suppressions=[], recipients=[])
        store.complete(reference(2), T0 + LEASE)
        order = [e.subject_ref for e in store.entries()]
        assert order == [reference(n) for n in (2, 3, 4, 1, 5)]
        assert next(iter(store.entries())).completed_at == T0 + LEASE
        assert store.count() == 5

    def test_notices_have_increasing_numbers_and_after_skips_the_read_ones(self) -> None:
        """notices(after=seq) yields only later notices, in seq order."""
        store = self.store()
        for n in range(1, 4):
            store.begin(_entry(n, T0 + timedelta(minutes=n)), suppressions=[], recipients=["crm"])
        every = list(store.notices())
        assert [n.subject_ref for n in every] == [reference(1), reference(2), reference(3)]
        seqs = [n.seq for n in every]
        assert seqs == sorted(set(seqs))
        assert list(store.notices(after=seqs[0])) == every[1:]
        assert list(store.notices(after=seqs[-1])) == []
        assert list(store.notices(after=0)) == every

    def test_erased_among_picks_the_logged_references(self) -> None:
        """erased_among() returns only the references the log holds."""
        store = self.store()
        for n in (1, 2, 3):
            store.begin(_entry(n), suppressions=[], recipients=[])
        asked = [reference(2), reference(7), reference(3), reference(2)]
        assert store.erased_among(asked) == frozenset({reference(2), reference(3)})
        assert store.erased_among([reference(8)]) == frozenset()
        assert store.erased_among([]) == frozenset()
        many = [reference(n) for n in range(1, 301)]
        assert store.erased_among(many) == frozenset({reference(1), reference(2), reference(3)})

    def test_a_pseudonym_shared_by_two_subjects_stays_suppressed(self) -> None:
        """is_suppressed() holds for a pseudonym whichever erasure brought it."""
        store = self.store()
        assert store.begin(_entry(1), suppressions=[_pseudonym(1)], recipients=[])
        assert store.begin(_entry(2), suppressions=[_pseudonym(1), _pseudonym(2)], recipients=[])
        assert store.is_suppressed(_pseudonym(1))
        assert store.is_suppressed(_pseudonym(2))
        assert store.count() == 2

    def test_the_log_follows_any_sequence_of_erasures(self) -> None:
        """Against a model: begin() is True once per subject, complete() once, notices counted."""
        store = self.store()
        examples = itertools.count()
        step = st.tuples(
            st.sampled_from(("begin", "complete")),
            st.integers(min_value=0, max_value=4),
            st.integers(min_value=0, max_value=90),
        )

        @settings(
            max_examples=self.log_examples,
            deadline=None,
            suppress_health_check=[
                HealthCheck.differing_executors,
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
            ],
        )
        @given(steps=st.lists(step, max_size=15))
        def check(steps: list[tuple[str, int, int]]) -> None:
            base = next(examples) * 100  # each example's references are its own
            before = list(store.notices())
            cursor = before[-1].seq if before else 0
            begun: dict[str, ErasureEntry] = {}
            completed: set[str] = set()
            for kind, n, minutes in steps:
                ref = reference(base + n)
                at = T0 + timedelta(minutes=minutes, microseconds=n)
                if kind == "begin":
                    entry = ErasureEntry(subject_ref=ref, started_at=at, cause="request")
                    result = store.begin(entry, suppressions=[f"em1:{ref}"], recipients=["crm"])
                    assert result == (ref not in begun)
                    begun.setdefault(ref, entry)
                else:
                    assert store.complete(ref, at) == (ref in begun and ref not in completed)
                    if ref in begun:
                        completed.add(ref)
            mine = [reference(base + n) for n in range(5)]
            assert store.erased_among(mine) == frozenset(begun)
            for ref in mine:
                found = store.get(ref)
                assert (found is not None) == (ref in begun)
                assert store.is_suppressed(f"em1:{ref}") == (ref in begun)
                if found is not None:
                    assert found.started_at == begun[ref].started_at
                    assert found.complete == (ref in completed)
            new = list(store.notices(after=cursor))
            assert Counter(n.subject_ref for n in new) == Counter(dict.fromkeys(begun, 1))
            logged = [e for e in store.entries() if e.subject_ref in begun]
            assert logged == sorted(logged, key=lambda e: (e.started_at, e.subject_ref))

        check()

    def test_the_log_survives_reopening(self) -> None:
        """A persistent adapter keeps the log, suppressions and notices across a restart."""
        require(self.capabilities, "persistent")
        store = self.store()
        store.begin(_entry(1), suppressions=[_pseudonym(1)], recipients=["crm"])
        store.complete(reference(1), T0 + LEASE)
        notices = list(store.notices())
        again = self.reopened(store)
        assert again.get(reference(1)) == ErasureEntry(
            subject_ref=reference(1), started_at=T0, cause="request", completed_at=T0 + LEASE
        )
        assert again.is_suppressed(_pseudonym(1))
        assert list(again.notices()) == notices
        assert not again.begin(_entry(1), suppressions=[], recipients=["crm"])
        assert again.begin(_entry(2), suppressions=[], recipients=["crm"])
        newest = list(again.notices(after=notices[-1].seq))
        assert [n.subject_ref for n in newest] == [reference(2)]
        assert all(isinstance(n, ErasureNotice) for n in newest)
