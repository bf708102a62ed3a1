"""kit.retention.execute: carried out through the host, per subject, idempotently, audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta

from avgkit import Kit
from avgkit.errors import NotFound, PolicyError, ValidationError
from avgkit.host import HostCapabilities, HostRecord, HostSubject, SubjectKind
from avgkit.host.memory import MemoryHostData
from avgkit.presets import ticketing
from avgkit.retention import (
    CONTRACT_END,
    Action,
    RetentionPolicy,
    RetentionRule,
    Trigger,
)
from avgkit.testing import ManualClock

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
EMAILS = {
    "idle": "idle@example.nl",
    "active": "active@example.nl",
    "guest-past": "guest@example.nl",
    "relation": "press@example.nl",
}


def make_host(cls=MemoryHostData):
    shop = cls(ticketing.inventory())

    def add(sid, kind, **activity):
        shop.add_subject(HostSubject(id=sid, kind=kind, last_activity=activity))
        if sid in EMAILS:
            shop.add_record(
                sid,
                HostRecord(
                    source="accounts", key=sid, values={"email": EMAILS[sid]}, at=NOW.replace(2020)
                ),
            )

    add("idle", SubjectKind.ACCOUNT, purchase=datetime(2022, 3, 1, tzinfo=UTC))
    add("active", SubjectKind.ACCOUNT, login=NOW - timedelta(days=3))
    add("guest-past", SubjectKind.GUEST)
    shop.add_event("guest-past", NOW - timedelta(days=2))
    add("relation", SubjectKind.RELATION, **{CONTRACT_END: datetime(2016, 12, 31, tzinfo=UTC)})
    return shop


def open_kit(url, host, policy=None, clock=None):
    return Kit.open(
        url,
        inventory=ticketing.inventory(),
        clock=clock or ManualClock(NOW),
        host=host,
        retention_policy=policy or ticketing.retention_policy(),
    )


class Mailer:
    def __init__(self):
        self.sent = []

    def __call__(self, subject, action):
        assert action.warning
        self.sent.append(subject)


def test_execute_warns_erases_and_sums_up(store_url):
    host = make_host()
    mailer = Mailer()
    with open_kit(store_url, host) as kit:
        plan = kit.retention.plan()
        seen = []
        summary = kit.retention.execute(plan, warn=mailer, progress=seen.append)
        assert mailer.sent == ["idle"]
        assert host.subject("idle") is not None  # warned, not yet deleted
        assert host.subject("guest-past") is None
        assert host.subject("relation") is None
        assert host.subject("active") is not None
        assert summary.counts == {
            ("inactive_accounts", "delete", "warned"): 1,
            ("quick_registrations", "delete", "erased"): 1,
            ("contact_persons", "delete", "erased"): 1,
        }
        assert (summary.done_here, summary.remaining, summary.total()) == (3, 0, 3)
        assert [p.done for p in seen] == [1, 2, 3]
        assert seen[-1].remaining == 0
        assert kit.erasure.entry("relation").cause == "retention:contact_persons"
        assert kit.erasure.is_suppressed("press@example.nl")

        # The same plan again: nothing more is done, nothing counts twice.
        again = kit.retention.execute(plan, warn=mailer)
        assert again.counts == summary.counts
        assert again.done_here == 0
        assert mailer.sent == ["idle"]

        # Within the grace period, nothing; after it, the deletion.
        kit.clock.advance(days=20)
        assert [a.subject for a in kit.retention.plan().due()] == []
        kit.clock.advance(days=11)
        late = kit.retention.execute(kit.retention.plan(), warn=mailer)
        assert late.counts == {("inactive_accounts", "delete", "erased"): 1}
        assert host.subject("idle") is None
        assert mailer.sent == ["idle"]
        kit.audit.verify()


def test_new_activity_after_the_warning_cancels_the_deletion():
    host = make_host()
    mailer = Mailer()
    with open_kit("memory://", host) as kit:
        kit.retention.execute(kit.retention.plan(), warn=mailer)
        kit.clock.advance(days=31)
        host.add_subject(
            HostSubject(id="idle", kind="account", last_activity={"login": kit.clock.now()})
        )
        summary = kit.retention.execute(kit.retention.plan(), warn=mailer)
        assert summary.total() == 0
        assert host.subject("idle") is not None


def test_a_subject_active_again_since_the_plan_is_skipped():
    host = make_host()
    with open_kit("memory://", host) as kit:
        plan = kit.retention.plan()
        kit.retention.stage(plan)  # what is due is fixed when the plan is staged
        host.add_subject(
            HostSubject(id="relation", kind="relation", last_activity={CONTRACT_END: NOW})
        )
        summary = kit.retention.execute(plan, warn=Mailer())
        assert summary.counts[("contact_persons", "delete", "skipped")] == 1
        assert host.subject("relation") is not None


def test_a_hold_placed_after_planning_defers_the_action():
    host = make_host()
    with open_kit("memory://", host) as kit:
        plan = kit.retention.plan()
        kit.retention.stage(plan)
        kit.retention.hold("relation", "payment_dispute")
        summary = kit.retention.execute(plan, warn=Mailer())
        assert summary.counts[("contact_persons", "delete", "deferred")] == 1
        assert host.subject("relation") is not None
        assert [a.hold.value for a in kit.retention.plan() if a.subject == "relation"] == [
            "payment_dispute"
        ]


def test_a_plan_under_another_policy_is_refused_and_nothing_is_done(store_url):
    host = make_host()
    with open_kit(store_url, host) as kit:
        plan = kit.retention.plan()
    stricter = RetentionPolicy(
        [
            RetentionRule(
                key="contact_persons",
                applies_to="relation",
                trigger="contract_end",
                period=relativedelta(years=5),
                action="delete",
            )
        ]
    )
    with open_kit(store_url, host, policy=stricter) as other:
        with pytest.raises(PolicyError, match="another retention policy"):
            other.retention.execute(plan)
        with pytest.raises(NotFound, match="no retention plan"):
            other.retention.execute("0" * 32)
    assert host.subject("relation") is not None


def test_a_due_warning_without_a_mailer_is_refused():
    host = make_host()
    with open_kit("memory://", host) as kit, pytest.raises(ValidationError, match="warn="):
        kit.retention.execute(kit.retention.plan())


def test_bad_batch_and_lease_are_refused():
    with open_kit("memory://", make_host()) as kit:
        plan = kit.retention.plan()
        with pytest.raises(ValidationError, match="batch"):
            kit.retention.execute(plan, batch=0)
        with pytest.raises(ValidationError, match="lease"):
            kit.retention.execute(plan, lease=timedelta(seconds=-1))


class FlakyHost(MemoryHostData):
    """A host whose database fails on the n-th delete."""

    fail_at = 0
    deletes = 0

    def delete(self, subject):
        FlakyHost.deletes += 1
        if FlakyHost.deletes == FlakyHost.fail_at:
            raise OSError("connection lost")
        return super().delete(subject)


def many_relations(cls, count):
    shop = cls(ticketing.inventory())
    for index in range(count):
        sid = f"rel-{index:03d}"
        shop.add_subject(
            HostSubject(
                id=sid, kind="relation", last_activity={CONTRACT_END: NOW.replace(year=2010)}
            )
        )
        shop.add_record(
            sid, HostRecord(source="crm", key=sid, values={"email": f"{sid}@example.nl"})
        )
    return shop


def test_a_crash_half_way_converges_on_a_rerun_and_never_counts_twice(store_url):
    FlakyHost.deletes, FlakyHost.fail_at = 0, 7
    host = many_relations(FlakyHost, 12)
    with open_kit(store_url, host) as kit:
        plan = kit.retention.plan()
        with pytest.raises(OSError, match="connection lost"):
            kit.retention.execute(plan, batch=5)
        assert 0 < len(list(host.subjects())) < 12
        # The crashed executor's claims are honoured for the lease; a rerun after it (or
        # with lease=0 when nothing else runs) takes them over.
        summary = kit.retention.execute(plan, lease=timedelta(0))
        assert list(host.subjects()) == []
        assert summary.counts == {("contact_persons", "delete", "erased"): 12}
        assert len({e.subject_ref for e in kit.erasure.log()}) == 12
        assert all(e.complete for e in kit.erasure.log())
        kit.audit.verify()


def test_claims_of_a_live_executor_are_not_taken_over():
    host = many_relations(MemoryHostData, 4)
    with open_kit("memory://", host) as kit:
        plan = kit.retention.plan()
        plan_id = kit.retention.stage(plan)
        store = kit.stores.retention
        taken = store.claim(plan_id, "other", NOW, limit=3, stale_before=NOW - timedelta(1))
        assert len(taken) == 3
        summary = kit.retention.execute(plan_id)
        assert summary.done_here == 1
        assert summary.remaining == 3


def test_record_rules_sweep_footage_and_mail():
    host = MemoryHostData(ticketing.inventory())
    host.add_subject(HostSubject(id="v1", kind="account", last_activity={"login": NOW}))
    for days, camera in ((8, "camera_outside"), (6, "camera_outside"), (8, "camera_inside")):
        host.add_record(
            "v1",
            HostRecord(
                source=camera,
                key=f"{camera}-{days}",
                values={"name": "Somebody"},
                at=NOW - timedelta(days=days),
            ),
        )
    policy = RetentionPolicy(
        [
            RetentionRule(
                key="camera_outside",
                records="camera_outside",
                trigger=Trigger.COLLECTION,
                period=relativedelta(days=7),
                action=Action.DELETE,
            ),
            RetentionRule(
                key="camera_inside",
                records="camera_inside",
                trigger=Trigger.COLLECTION,
                period=relativedelta(days=30),
                action=Action.DELETE,
            ),
        ]
    )
    with open_kit("memory://", host, policy=policy) as kit:
        plan = list(kit.retention.plan())
        assert [(a.source, a.reason) for a in plan] == [
            ("camera_outside", "collected on 2024-05-24")
        ]
        summary = kit.retention.execute(kit.retention.plan())
        assert summary.counts == {("camera_outside", "delete", "record_removed"): 1}
        left = sorted(r.key for r in host.records("v1"))
        assert left == ["camera_inside-8", "camera_outside-6"]


def test_leftovers_name_the_forgotten_clean_ups_per_event():
    host = MemoryHostData(ticketing.inventory())
    for index, days in enumerate((40, 40, 10, 2)):
        sid = f"g{index}"
        host.add_subject(HostSubject(id=sid, kind=SubjectKind.GUEST))
        host.add_event(sid, NOW - timedelta(days=days))
    with open_kit("memory://", host) as kit:
        leftovers = kit.retention.leftovers(grace=timedelta(days=7))
        assert [(lo.rule, lo.event, lo.count) for lo in leftovers] == [
            ("quick_registrations", "2024-04-22", 2),
            ("quick_registrations", "2024-05-22", 1),
        ]
        with pytest.raises(ValidationError, match="grace"):
            kit.retention.leftovers(grace=timedelta(days=-1))


def test_a_rule_counting_an_activity_the_host_never_records_is_refused():
    class NoNewsletter(MemoryHostData):
        @property
        def capabilities(self):
            return HostCapabilities(inactive_since=True, activity_types={"purchase", "login"})

    with (
        open_kit("memory://", NoNewsletter(ticketing.inventory())) as kit,
        pytest.raises(PolicyError, match="newsletter_read"),
    ):
        _ = kit.retention


def test_old_fiscal_records_are_stripped_once_and_not_listed_again():
    host = MemoryHostData(ticketing.inventory())
    host.add_subject(HostSubject(id="v1", kind="account", last_activity={"login": NOW}))
    for years, key in ((8, "P-old"), (2, "P-new")):
        host.add_record(
            "v1",
            HostRecord(
                source="payments",
                key=key,
                values={"name": "Somebody", "bank_account": "NL91ABNA0417164300"},
                at=NOW.replace(year=NOW.year - years),
                fiscal=True,
            ),
        )
    policy = RetentionPolicy([ticketing.retention_policy().rule("fiscal_records")])
    with open_kit("memory://", host, policy=policy) as kit:
        assert [a.record_key for a in kit.retention.plan()] == ["P-old"]
        summary = kit.retention.execute(kit.retention.plan())
        assert summary.counts == {("fiscal_records", "anonymise", "record_removed"): 1}
        kept = {r.key: r.values for r in host.records("v1")}
        assert kept == {"P-new": kept["P-new"]}  # the stripped one names nobody any more
        assert list(kit.retention.plan()) == []
