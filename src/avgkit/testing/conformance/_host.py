"""The contract a :class:`~avgkit.host.HostData` implementation must pass (private module)."""

from __future__ import annotations

import abc
import itertools
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

import attrs
import pytest

from avgkit.host import HostData, HostErasure, HostLastActivity, HostSubject, SubjectKind
from avgkit.subjects import SubjectId


@attrs.frozen(kw_only=True)
class HostScenario:
    """What a contract's host holds, so the tests know what to look for.

    The host must hold: a ``buyer`` (an account) with an order whose ticket names an
    ``attendee`` (another subject) and is for an event starting at ``event_at``; a
    ``bystander`` with records of their own; and at least one fiscal record of the buyer's
    (a payment) with a personal value. ``personal`` gives each subject's original text values
    (name, e-mail, phone ...), which the erasure tests then search for.

    .. versionadded:: 0.2.0
    """

    buyer: SubjectId
    attendee: SubjectId
    bystander: SubjectId
    personal: Mapping[SubjectId, frozenset[str]] = attrs.field(repr=False)
    event_at: datetime
    categories: frozenset[str]
    """DPV categories the buyer's records hold a value of (``{"EmailAddress"}``)."""
    now: datetime
    """An instant after every record was made and before ``event_at``."""


ACCOUNTS = frozenset({SubjectKind.ACCOUNT})


class HostDataContract(abc.ABC):
    """Tests for a :class:`~avgkit.host.HostData`; subclass it and implement :meth:`make_host`.

    Above all: after a subject's erasure, nothing personal of theirs remains anywhere the host
    reports (every text value of every record of every subject is searched for their original
    values), and a buyer's data survives the erasure of an attendee on the same order.

    .. versionadded:: 0.2.0
    """

    @abc.abstractmethod
    def make_host(self) -> tuple[HostData, HostScenario]:
        """Return a new host filled as :class:`HostScenario` describes, and the scenario."""

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def reported_texts(host: HostData, *extra: SubjectId) -> Iterator[str]:
        """Every text value of every record the host reports, for all subjects and ``extra``."""
        ids = [s.id for s in host.subjects()]
        for sid in dict.fromkeys([*ids, *extra]):
            for record in host.records(sid):
                yield from record.texts()

    def assert_nothing_left(self, host: HostData, scenario: HostScenario, gone: SubjectId) -> None:
        """Fail if any reported text value contains one of ``gone``'s original values."""
        originals = scenario.personal[gone]
        for text in self.reported_texts(host, gone):
            leaked = [value for value in originals if value and value in text]
            assert not leaked, f"{len(leaked)} personal value(s) of the erased subject remain"

    # -- the contract ---------------------------------------------------------------------

    def test_subjects_report_their_kind_and_activity(self) -> None:
        """subjects() and subject() agree, with kinds and aware activity instants."""
        host, scenario = self.make_host()
        listed = {s.id: s for s in host.subjects()}
        assert {scenario.buyer, scenario.attendee, scenario.bystander} <= set(listed)
        for sid, subject in listed.items():
            assert isinstance(subject, HostSubject)
            assert isinstance(subject.kind, SubjectKind)
            assert host.subject(sid) == subject
        assert host.subject(SubjectId("avgkit-contract-nobody")) is None

    def test_each_subject_sees_its_own_values(self) -> None:
        """records() of each subject hold that subject's original values."""
        host, scenario = self.make_host()
        for sid in (scenario.buyer, scenario.attendee, scenario.bystander):
            texts = {t for r in host.records(sid) for t in r.texts()}
            assert scenario.personal[sid] <= texts

    def test_nothing_of_an_erased_attendee_remains(self) -> None:
        """delete(attendee): no reported record holds any of the attendee's values."""
        host, scenario = self.make_host()
        host.delete(scenario.attendee)
        self.assert_nothing_left(host, scenario, scenario.attendee)
        assert host.subject(scenario.attendee) is None

    def test_a_buyer_keeps_their_data_when_an_attendee_is_erased(self) -> None:
        """The buyer's values on the shared order survive the attendee's erasure."""
        host, scenario = self.make_host()
        before = {t for r in host.records(scenario.buyer) for t in r.texts()}
        host.delete(scenario.attendee)
        after = {t for r in host.records(scenario.buyer) for t in r.texts()}
        assert scenario.personal[scenario.buyer] <= after
        assert after == before - scenario.personal[scenario.attendee]

    def test_a_deleted_buyer_leaves_fiscal_records_without_personal_data(self) -> None:
        """delete(buyer) anonymises the fiscal records instead of deleting them."""
        host, scenario = self.make_host()
        outcome = host.delete(scenario.buyer)
        assert outcome.anonymised >= 1
        assert outcome.deleted >= 1
        self.assert_nothing_left(host, scenario, scenario.buyer)
        bystander = {t for r in host.records(scenario.bystander) for t in r.texts()}
        assert scenario.personal[scenario.bystander] <= bystander

    def test_anonymise_keeps_the_records_but_none_of_the_values(self) -> None:
        """anonymise(subject) leaves no personal value of theirs, and deletes nothing."""
        host, scenario = self.make_host()
        outcome = host.anonymise(scenario.bystander)
        assert outcome.deleted == 0
        assert outcome.anonymised >= 1
        self.assert_nothing_left(host, scenario, scenario.bystander)

    def test_erasing_twice_converges(self) -> None:
        """A repeated erasure (after a crash, say) finds nothing more and does not fail."""
        host, scenario = self.make_host()
        host.delete(scenario.attendee)
        again = host.delete(scenario.attendee)
        assert (again.anonymised, again.deleted) == (0, 0)
        assert host.anonymise(scenario.attendee).anonymised == 0

    def test_event_dates_are_sorted_and_after_filters_them(self) -> None:
        """event_dates(subject) lists the subject's events in order; after= the later ones."""
        host, scenario = self.make_host()
        assert scenario.event_at in host.event_dates(scenario.attendee, after=scenario.now)
        assert scenario.event_at in host.event_dates(scenario.attendee)
        assert host.event_dates(scenario.attendee, after=scenario.event_at) == ()
        dates = host.event_dates(scenario.buyer)
        assert list(dates) == sorted(dates)

    def test_subjects_with_finds_the_holders_of_a_category(self) -> None:
        """subjects_with() finds the buyer by a category of their data, each subject once."""
        host, scenario = self.make_host()
        found = list(
            host.subjects_with(
                scenario.categories, since=scenario.now - timedelta(days=1), until=scenario.now
            )
        )
        assert scenario.buyer in found
        assert len(found) == len(set(found))
        assert not list(
            host.subjects_with(
                frozenset({"avgkit-contract-no-such-category"}),
                since=scenario.now - timedelta(days=1),
                until=scenario.now,
            )
        )

    def test_inactive_since_agrees_with_the_activity_listed(self) -> None:
        """The fast path, where offered, finds exactly the subjects subjects() says are idle."""
        host, scenario = self.make_host()
        if not host.capabilities.inactive_since:
            pytest.skip("the host does not declare the 'inactive_since' capability")
        types = frozenset({"purchase", "login", "newsletter_read"})
        listed = {s.id: s for s in host.subjects()}
        for cutoff in (scenario.now - timedelta(days=3650), scenario.now, scenario.event_at):
            expected = {
                s.id
                for s in host.subjects()
                if (last := s.last_active(types)) is None or last < cutoff
            }
            found = list(host.inactive_since(types, before=cutoff))
            assert {s.id for s in found} == expected
            assert len(found) == len(expected), "each subject once"
            for subject in found:
                assert subject == host.subject(subject.id)
            accounts = {s.id for s in host.inactive_since(types, before=cutoff, kinds=ACCOUNTS)}
            assert accounts == {sid for sid in expected if listed[sid].kind in ACCOUNTS}

    def test_last_active_before_lists_the_idle_with_their_last_activity(self) -> None:
        """The rows fast path, where offered, agrees with subjects(): id, kind, last activity."""
        host, scenario = self.make_host()
        if not host.capabilities.last_active_before:
            pytest.skip("the host does not declare the 'last_active_before' capability")
        assert isinstance(host, HostLastActivity), "declared, so it must be implemented"
        listed = list(host.subjects())
        cutoffs = (scenario.now - timedelta(days=3650), scenario.now, scenario.event_at)
        for types in (frozenset({"purchase", "login", "newsletter_read"}), frozenset({"login"})):
            for cutoff, kinds in itertools.product(cutoffs, (None, ACCOUNTS)):
                expected = {
                    (s.id, s.kind, last)
                    for s in listed
                    if (kinds is None or s.kind in kinds)
                    and (last := s.last_active(types)) is not None
                    and last < cutoff
                }
                found = list(host.last_active_before(types, before=cutoff, kinds=kinds))
                assert set(found) == expected
                assert len(found) == len(expected), "each subject once"
                for sid, kind, last in found:
                    assert isinstance(sid, str)
                    assert kind in set(SubjectKind)
                    assert last.utcoffset() is not None
        everyone = list(host.last_active_before(frozenset({"login"}), before=scenario.event_at))
        assert {sid for sid, _, _ in everyone} <= {s.id for s in listed}
        assert list(host.last_active_before(frozenset({"no_such_activity"}), before=cutoff)) == []

    def test_upcoming_gives_each_subjects_last_event_to_come(self) -> None:
        """upcoming() answers for a batch: the last event after the instant, or nothing."""
        host, scenario = self.make_host()
        ids = [scenario.buyer, scenario.attendee, scenario.bystander]
        found = host.upcoming(ids, after=scenario.now)
        assert found[scenario.attendee] == max(
            host.event_dates(scenario.attendee, after=scenario.now)
        )
        for sid in ids:
            dates = host.event_dates(sid, after=scenario.now)
            assert found.get(sid) == (max(dates) if dates else None)
        assert host.upcoming(ids, after=scenario.event_at) == {}
        assert host.upcoming([], after=scenario.now) == {}

    def test_collected_before_lists_dated_records_of_the_sources_asked(self) -> None:
        """collected_before() finds the buyer's dated records by source, and only before."""
        host, scenario = self.make_host()
        mine = [r for r in host.records(scenario.buyer) if r.at is not None]
        assert mine, "the scenario's buyer must have at least one dated record"
        sources = frozenset(r.source for r in mine)
        later = max(r.at for r in mine if r.at is not None) + timedelta(seconds=1)
        found = list(host.collected_before(sources, before=later))
        assert all(r.source in sources and r.at is not None and r.at < later for r in found)
        assert {(r.source, r.key) for r in mine} <= {(r.source, r.key) for r in found}
        earliest = min(r.at for r in mine if r.at is not None)
        assert not [r for r in host.collected_before(sources, before=earliest) if r.at == earliest]
        assert not list(host.collected_before(frozenset({"avgkit-no-such-source"}), before=later))

    def test_erase_record_deletes_one_record_and_converges(self) -> None:
        """erase_record() removes one record (a fiscal one is kept stripped); twice is a no-op."""
        host, scenario = self.make_host()
        dated = list(host.records(scenario.bystander)) + [
            r for r in host.records(scenario.buyer) if r.fiscal
        ]
        for record in dated:
            outcome = host.erase_record(record.source, record.key)
            if record.fiscal:
                assert (outcome.anonymised, outcome.deleted) == (1, 0)
            else:
                assert (outcome.anonymised, outcome.deleted) == (0, 1)
            again = host.erase_record(record.source, record.key)
            assert (again.anonymised, again.deleted) == (0, 0)
        self.assert_nothing_left(host, scenario, scenario.bystander)
        assert host.erase_record("avgkit-no-such-source", "x") == HostErasure()

    def test_rectify_corrects_only_the_subjects_own_values(self) -> None:
        """rectify() replaces the buyer's value everywhere they hold it, and no one else's."""
        host, scenario = self.make_host()
        old = scenario.personal[scenario.buyer]
        held = [
            (name, value)
            for record in host.records(scenario.buyer)
            for name, value in record.values.items()
            if isinstance(value, str) and value in old
        ]
        assert held, "the scenario's buyer must hold a text value of their own"
        name, value = held[0]
        new = "rectified@example.org" if "@" in value else "Rectified Value"
        others = {s: list(host.records(s)) for s in (scenario.attendee, scenario.bystander)}
        assert host.rectify(scenario.buyer, {name: new}) >= 1
        now_held = {
            v
            for record in host.records(scenario.buyer)
            for k, v in record.values.items()
            if k == name
        }
        assert new in now_held
        assert value not in now_held
        for subject, before in others.items():
            assert list(host.records(subject)) == before, "another subject's data changed"

    def test_restrict_marks_and_lifts_idempotently_changing_no_record(self) -> None:
        """restrict() and its lifting can be repeated; the subject's records stay as they are."""
        host, scenario = self.make_host()
        before = list(host.records(scenario.buyer))
        host.restrict(scenario.buyer, restricted=True)
        host.restrict(scenario.buyer, restricted=True)
        host.restrict(scenario.buyer, restricted=False)
        host.restrict(scenario.buyer, restricted=False)
        assert list(host.records(scenario.buyer)) == before
