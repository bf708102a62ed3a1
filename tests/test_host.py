"""The host's data: values, the memory reference implementation and its contract."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from avgkit import HostData, Kit
from avgkit.errors import NotFound, PolicyError, ValidationError
from avgkit.host import HostErasure, HostRecord, HostSubject, SubjectKind
from avgkit.host.memory import MemoryHostData
from avgkit.presets import ticketing
from avgkit.subjects import SubjectId
from avgkit.testing.conformance import HostDataContract, HostScenario

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
EVENT = NOW + timedelta(days=20)

BUYER = {"name": "Anna de Vries", "email": "anna@example.nl", "phone": "+31612345678"}
ATTENDEE = {"name": "Bram Jansen"}
BYSTANDER = {"name": "Carla Peeters", "email": "carla@example.be"}


def shop() -> tuple[MemoryHostData, HostScenario]:
    host = MemoryHostData(ticketing.inventory())
    buyer, attendee, bystander = SubjectId("cust-1"), SubjectId("att-7"), SubjectId("cust-2")
    host.add_subject(
        HostSubject(
            id=buyer,
            kind=SubjectKind.ACCOUNT,
            last_activity={"purchase": NOW - timedelta(days=2), "login": NOW - timedelta(days=1)},
        )
    )
    host.add_subject(HostSubject(id=attendee, kind=SubjectKind.ATTENDEE))
    host.add_subject(
        HostSubject(
            id=bystander,
            kind=SubjectKind.GUEST,
            last_activity={"purchase": NOW - timedelta(days=900)},
        )
    )
    at = NOW - timedelta(days=2)
    host.add_record(buyer, HostRecord(source="accounts", key="cust-1", values=BUYER, at=at))
    host.add_record(
        buyer,
        HostRecord(
            source="tickets",
            key="T-1",
            values={"email": BUYER["email"], **ATTENDEE},  # sent to the buyer, names the attendee
            at=at,
        ),
        others={"name": attendee},
    )
    host.add_record(
        buyer,
        HostRecord(
            source="payments", key="P-1", values={"name": BUYER["name"]}, fiscal=True, at=at
        ),
    )
    host.add_record(bystander, HostRecord(source="accounts", key="cust-2", values=BYSTANDER))
    host.add_event(buyer, EVENT)
    host.add_event(attendee, EVENT)
    scenario = HostScenario(
        buyer=buyer,
        attendee=attendee,
        bystander=bystander,
        personal={
            buyer: frozenset(BUYER.values()),
            attendee: frozenset(ATTENDEE.values()),
            bystander: frozenset(BYSTANDER.values()),
        },
        event_at=EVENT,
        categories=frozenset({"EmailAddress"}),
        now=NOW,
    )
    return host, scenario


class TestMemoryHostData(HostDataContract):
    def make_host(self):
        return shop()


class LeakyHost(MemoryHostData):
    """Forgets the subject but leaves their values on the records (the usual bug)."""

    def delete(self, subject):
        self._subjects.pop(subject, None)
        return HostErasure()


def test_the_contract_catches_a_host_that_leaves_an_attendee_behind():
    class TestLeaky(HostDataContract):
        def make_host(self):
            host, scenario = shop()
            leaky = LeakyHost(ticketing.inventory())
            leaky.__dict__.update(host.__dict__)
            return leaky, scenario

    with pytest.raises(AssertionError, match="personal value"):
        TestLeaky().test_nothing_of_an_erased_attendee_remains()


def test_the_memory_host_is_a_host_data():
    host, _ = shop()
    assert isinstance(host, HostData)


def test_a_record_never_shows_its_values():
    record = HostRecord(source="accounts", key="cust-1", values=BUYER)
    assert "anna" not in repr(record).lower()
    assert "cust-1" not in repr(record)


def test_a_subject_refuses_naive_activity_and_unknown_kinds():
    with pytest.raises(ValidationError, match="naive"):
        HostSubject(id="c", kind="account", last_activity={"login": datetime(2024, 1, 1)})  # noqa: DTZ001
    with pytest.raises(ValidationError, match="subject kind"):
        HostSubject(id="c", kind="customer")
    with pytest.raises(ValidationError, match="activity type"):
        HostSubject(id="c", kind="guest", last_activity={"Bought Tickets": NOW})


def test_last_active_takes_the_latest_of_the_types_asked():
    subject = HostSubject(
        id="c", kind="account", last_activity={"purchase": NOW, "login": NOW + timedelta(1)}
    )
    assert subject.last_active(frozenset({"purchase"})) == NOW
    assert subject.last_active() == NOW + timedelta(1)
    assert subject.last_active(frozenset({"newsletter_read"})) is None


def test_the_memory_host_refuses_undeclared_fields_and_unknown_subjects():
    host, scenario = shop()
    with pytest.raises(PolicyError):
        host.add_record(scenario.buyer, HostRecord(source="x", key="1", values={"shoe_size": "44"}))
    with pytest.raises(NotFound):
        host.add_record("ghost", HostRecord(source="x", key="1", values={"name": "Ghost"}))


def test_the_kit_takes_the_hosts_data():
    host, _ = shop()
    with Kit.open("memory://", inventory=ticketing.inventory(), host=host) as kit:
        assert kit.host is host


def test_the_kit_refuses_a_host_that_is_not_host_data():
    with pytest.raises(ValidationError, match="HostData"):
        Kit.open("memory://", inventory=ticketing.inventory(), host=object())


def test_a_kit_without_host_data_says_how_to_give_it():
    with (
        Kit.open("memory://", inventory=ticketing.inventory()) as kit,
        pytest.raises(ValidationError, match="host="),
    ):
        _ = kit.host


class Instant(datetime):
    """A datetime subclass (as some drivers return): checked like any other."""


def test_a_subjects_activity_is_held_in_utc_however_it_was_given():
    cet = timezone(timedelta(hours=1))
    given = {
        "login": NOW,
        "purchase": datetime(2024, 1, 1, 13, tzinfo=cet),
        "newsletter_read": Instant(2024, 2, 1, tzinfo=cet),
    }
    subject = HostSubject(id="c", kind=SubjectKind.ACCOUNT, last_activity=given)
    assert subject.kind is SubjectKind.ACCOUNT
    assert HostSubject(id="c", kind="account").kind is SubjectKind.ACCOUNT
    assert dict(subject.last_activity) == given
    assert all(at.tzinfo is UTC for at in subject.last_activity.values())
    assert subject.last_activity["purchase"].hour == 12


def test_an_activity_type_or_kind_seen_before_does_not_let_a_bad_one_through():
    for _ in range(2):  # the second time, "login" and "account" were seen already
        HostSubject(id="c", kind="account", last_activity={"login": NOW})
        with pytest.raises(ValidationError, match="activity type"):
            HostSubject(id="c", kind="account", last_activity={"login": NOW, "Login!": NOW})
        with pytest.raises(ValidationError, match="activity type"):
            HostSubject(id="c", kind="account", last_activity={7: NOW})
        with pytest.raises(ValidationError, match="naive"):
            HostSubject(id="c", kind="account", last_activity={"login": NOW.replace(tzinfo=None)})
        with pytest.raises(ValidationError, match="subject kind"):
            HostSubject(id="c", kind="Account")
        with pytest.raises(ValidationError, match="subject kind"):
            HostSubject(id="c", kind=["account"])


@given(
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40).filter(str.strip)
)
def test_a_subject_id_is_refused_exactly_when_it_holds_an_ascii_control_character(text):
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        with pytest.raises(ValidationError, match="control characters"):
            HostSubject(id=text, kind="account")
    else:
        assert HostSubject(id=text, kind="account").id == text
