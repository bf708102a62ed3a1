"""The contract every BreachStore adapter passes (private; see the package docs)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from avgkit.breach import (
    Assessment,
    Breach,
    BreachDecision,
    BreachFacts,
    BreachKind,
    BreachUpdate,
    Headcount,
)
from avgkit.errors import ConflictError, NotFound
from avgkit.storage import BreachStore
from avgkit.testing.conformance._base import ContractBase, require

T0 = datetime(2026, 2, 3, 10, 15, 30, 123456, tzinfo=UTC)

_PROPOSAL = Assessment(
    notify_authority=True,
    notify_subjects=False,
    public_communication=False,
    high_risk=False,
    factors=(),
    exemptions=(),
)


def make_breach(breach_id: str, aware: datetime = T0, **changes: Any) -> Breach:
    """A complete version-1 breach whose controller became aware at ``aware``."""
    facts = BreachFacts(
        summary="A visitor list was mailed to the wrong partner.",
        system="mail platform",
        categories=("EmailAddress", "Name"),
        subjects=Headcount(minimum=10, maximum=20),
        records=Headcount(minimum=10, maximum=40),
        subject_group="visitors",
        contact_details_known=True,
        root_cause="A list was selected by hand.",
        occurred_from=aware - timedelta(days=1),
        occurred_until=aware - timedelta(hours=20),
        kinds=(BreachKind.CONFIDENTIALITY,),
        likely_consequences="Unwanted mail.",
        measures_taken="The partner deleted the list.",
        contact_point="Privacy desk",
    )
    fields: dict[str, Any] = {
        "id": breach_id,
        "version": 1,
        "recorded_at": aware,
        "updated_at": aware,
        "facts": facts,
        "discovered_at": aware - timedelta(hours=2),
        "became_aware_at": aware,
        "processor": "mail_platform",
        "processor_notice_within": timedelta(hours=36),
        "processor_notified_at": aware,
    }
    fields.update(changes)
    return Breach(**fields)


def next_version(breach: Breach, **changes: Any) -> Breach:
    """The breach's next version, one minute later, with a phased update and ``changes``."""
    at = breach.updated_at + timedelta(minutes=1)
    update = BreachUpdate(
        at=at, version=breach.version + 1, note="More is known.", changed=(), actor="staff"
    )
    return attrs.evolve(
        breach,
        version=breach.version + 1,
        updated_at=at,
        updates=(*breach.updates, update),
        **changes,
    )


class BreachStoreContract(ContractBase[BreachStore]):
    """Subclass this in your adapter's tests and implement :meth:`make_store`.

    Example::

        class TestMyBreachStore(BreachStoreContract):
            def make_store(self) -> BreachStore:
                return MyBreachStore(self.tmp_path / "breaches.db")

    .. versionadded:: 0.1.0
    """

    def test_a_new_store_is_empty(self) -> None:
        """A fresh store counts zero, lists nothing and raises NotFound for any id."""
        store = self.store()
        assert store.count() == 0
        assert list(store.breaches()) == []
        assert list(store.history("br_unknown")) == []
        assert list(store.overdue(T0 + timedelta(days=30))) == []
        with pytest.raises(NotFound):
            store.get("br_unknown")

    def test_a_stored_breach_comes_back_equal(self) -> None:
        """get() returns exactly what put() stored, instants in UTC to the microsecond."""
        store = self.store()
        breach = make_breach("br_one")
        store.put(breach)
        assert store.get("br_one") == breach
        assert store.get("br_one").became_aware_at.tzinfo == UTC
        assert store.count() == 1

    def test_a_breach_with_a_decision_and_notifications_round_trips(self) -> None:
        """Decisions, proposals, updates and notifications survive storage unchanged."""
        store = self.store()
        first = make_breach("br_full")
        store.put(first)
        decision = BreachDecision(
            decided_at=T0 + timedelta(hours=1),
            actor="dpo",
            notify_authority=True,
            notify_subjects=False,
            public_communication=False,
            reason="No high risk.",
            proposal=_PROPOSAL,
        )
        second = next_version(
            first,
            decision=decision,
            authority_notified_at=T0 + timedelta(hours=80),
            authority_reference="AP-123",
            delay_reason="Waited for the processor's full report.",
            subjects_notified_at=T0 + timedelta(hours=81),
            subjects_public=True,
        )
        store.put(second)
        assert store.get("br_full") == second

    def test_version_one_of_an_existing_breach_is_a_conflict(self) -> None:
        """A second version 1 raises ConflictError and leaves the first untouched."""
        store = self.store()
        breach = make_breach("br_dup")
        store.put(breach)
        with pytest.raises(ConflictError):
            store.put(attrs.evolve(breach, authority_reference="other"))
        assert store.get("br_dup") == breach
        assert list(store.history("br_dup")) == [breach]

    def test_versions_follow_each_other_and_the_history_keeps_them_all(self) -> None:
        """get() answers the newest version; history() every version, oldest first."""
        store = self.store()
        v1 = make_breach("br_hist")
        v2 = next_version(v1)
        v3 = next_version(v2)
        for version in (v1, v2, v3):
            store.put(version)
        assert store.get("br_hist") == v3
        assert list(store.history("br_hist")) == [v1, v2, v3]
        assert store.count() == 1

    def test_a_version_that_skips_or_repeats_is_a_conflict(self) -> None:
        """Version n is refused unless n - 1 is the newest; nothing is stored then."""
        store = self.store()
        v1 = make_breach("br_gap")
        v2 = next_version(v1)
        store.put(v1)
        with pytest.raises(ConflictError):
            store.put(next_version(v2))  # version 3 without version 2
        store.put(v2)
        with pytest.raises(ConflictError):
            store.put(attrs.evolve(v2, authority_reference="again"))  # version 2 again
        assert store.get("br_gap") == v2
        assert list(store.history("br_gap")) == [v1, v2]

    def test_a_later_version_of_an_unknown_breach_is_not_found(self) -> None:
        """Version 2 of an id never stored raises NotFound and stores nothing."""
        store = self.store()
        with pytest.raises(NotFound):
            store.put(next_version(make_breach("br_ghost")))
        assert store.count() == 0

    def test_the_register_lists_newest_versions_by_awareness_then_id(self) -> None:
        """breaches() yields each breach once, newest version, ordered by awareness, id."""
        store = self.store()
        late = make_breach("br_a", T0 + timedelta(days=2))
        early = make_breach("br_z", T0)
        same_b = make_breach("br_b", T0 + timedelta(days=1))
        same_c = make_breach("br_c", T0 + timedelta(days=1))
        for breach in (late, early, same_c, same_b):
            store.put(breach)
        updated = next_version(early)
        store.put(updated)
        assert [b.id for b in store.breaches()] == ["br_z", "br_b", "br_c", "br_a"]
        assert next(iter(store.breaches())) == updated

    def test_overdue_selects_pending_breaches_past_their_deadline(self) -> None:
        """overdue(now) finds pending breaches whose 72 hours ended before now, by due."""
        store = self.store()
        now = T0 + timedelta(days=10)
        old = make_breach("br_old", T0)
        older = make_breach("br_older", T0 - timedelta(days=1))
        recent = make_breach("br_recent", now - timedelta(hours=71))
        notified = make_breach("br_notified", T0)
        declined = make_breach("br_declined", T0)
        for breach in (old, older, recent, notified, declined):
            store.put(breach)
        store.put(next_version(notified, authority_notified_at=T0 + timedelta(hours=5)))
        decision = BreachDecision(
            decided_at=T0 + timedelta(hours=1),
            actor="dpo",
            notify_authority=False,
            notify_subjects=False,
            public_communication=False,
            reason="Encrypted; no risk.",
            proposal=_PROPOSAL,
        )
        store.put(next_version(declined, decision=decision))
        assert [b.id for b in store.overdue(now)] == ["br_older", "br_old"]
        # The deadline itself is not yet overdue: only instants after it.
        assert [b.id for b in store.overdue(T0 + timedelta(hours=72))] == ["br_older"]

    def test_long_registers_stream_completely(self) -> None:
        """Hundreds of breaches (more than any page) come back once each, in order."""
        store = self.store()
        made = [make_breach(f"br_{n:04d}", T0 + timedelta(minutes=n % 7)) for n in range(450)]
        for breach in made:
            store.put(breach)
        expected = sorted(made, key=lambda b: (b.became_aware_at, b.id))
        assert [b.id for b in store.breaches()] == [b.id for b in expected]
        overdue = list(store.overdue(T0 + timedelta(days=5)))
        assert len(overdue) == 450
        assert store.count() == 450

    def test_breaches_survive_reopening(self) -> None:
        """A persistent adapter returns every version after the store is reopened."""
        require(self.capabilities, "persistent")
        store = self.store()
        v1 = make_breach("br_kept")
        v2 = next_version(v1)
        store.put(v1)
        store.put(v2)
        again = self.reopened(store)
        assert again.get("br_kept") == v2
        assert list(again.history("br_kept")) == [v1, v2]

    def test_concurrent_writers_of_the_same_version_conflict(self) -> None:
        """Of two threads storing version 2 at once, exactly one succeeds."""
        require(self.capabilities, "thread_safe")
        store = self.store()
        v1 = make_breach("br_race")
        store.put(v1)
        candidates = [next_version(v1, authority_reference=f"ref-{n}") for n in range(2)]
        outcomes: list[str] = []
        barrier = threading.Barrier(2)

        def write(breach: Breach) -> None:
            barrier.wait()
            try:
                store.put(breach)
            except ConflictError:
                outcomes.append("conflict")
            else:
                outcomes.append("stored")

        threads = [threading.Thread(target=write, args=(c,)) for c in candidates]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["conflict", "stored"]
        assert store.get("br_race").version == 2
        assert len(list(store.history("br_race"))) == 2
