"""kit.dsar: requests from receipt to answer, the access export, and the feed, on every adapter."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta

import jsonschema
import pytest
from dateutil.relativedelta import relativedelta

from avgkit import Kit
from avgkit.consent import Channel, ConsentStatus, DecisionCode, Evidence, hash_wording
from avgkit.dsar import (
    DsarOptions,
    ExtensionReason,
    RefusalReason,
    RequestKind,
    RequestStatus,
    export_schema,
)
from avgkit.dsar._deadlines import zone
from avgkit.errors import (
    ConfigurationError,
    IntegrityError,
    NotFound,
    NotPermitted,
    PolicyError,
    ValidationError,
)
from avgkit.feed import FeedKind
from avgkit.host import HostRecord, HostSubject, SubjectKind
from avgkit.inventory import AUTHORITIES
from avgkit.presets import ticketing
from avgkit.pseudonym import SealCost, open_bytes
from avgkit.retention import HoldReason
from avgkit.testing import ManualClock
from test_dpv import DPV_DIR
from test_host import ATTENDEE, BUYER, NOW, shop

AMS = zone("Europe/Amsterdam")
EVIDENCE = Evidence(
    channel=Channel.WEBSHOP,
    notice_version="2024-01",
    wording_sha256=hash_wording("Yes, send me the newsletter"),
)
VALIDATOR = jsonschema.Draft202012Validator(export_schema())
PASSPHRASE = "correct horse battery staple"  # noqa: S105 - a test fixture


class Told:
    """A notifier that remembers what the subject was told."""

    def __init__(self):
        self.messages = []

    def __call__(self, request, transition):
        self.messages.append((request.id, transition.status, transition.reason))


def open_kit(url, host, *, clock=None, **options):
    return Kit.open(
        url,
        inventory=ticketing.inventory(),
        clock=clock or ManualClock(NOW),
        host=host,
        retention_policy=ticketing.retention_policy(),
        dsar=DsarOptions(**options),
    )


@pytest.fixture
def world(store_url):
    host, scenario = shop()
    told = Told()
    kit = open_kit(store_url, host, notifier=told, verifier=verifier)
    yield kit, host, scenario, told
    kit.close()


def verifier(_subject, proof):
    return proof.get("order") == "T-1" and proof.get("email") == BUYER["email"]


def verified(kit, subject, kind, **kw):
    request = kit.dsar.receive(subject, kind, **kw)
    return kit.dsar.verify(request.id, verified=True, actor="staff:desk_1")


# --------------------------------------------------------------------------- lifecycle


def test_a_request_is_due_one_calendar_month_after_receipt(world):
    kit, _host, s, told = world
    request = kit.dsar.receive(s.buyer, RequestKind.ACCESS)
    assert request.status is RequestStatus.RECEIVED
    assert request.due_at.astimezone(AMS).date() == date(2024, 7, 1)
    assert told.messages == [(request.id, RequestStatus.RECEIVED, None)]
    assert [e.action for e in kit.audit.entries()][-1] == "dsar.received"


def test_a_request_received_on_31_january_is_due_on_29_february(store_url):
    host, s = shop()
    clock = ManualClock(datetime(2024, 1, 31, 15, tzinfo=UTC))
    with open_kit(store_url, host, clock=clock) as kit:
        request = kit.dsar.receive(s.buyer, "erasure")
        assert request.due_at.astimezone(AMS).date() == date(2024, 2, 29)


def test_a_shorter_service_level_is_honoured(store_url):
    host, s = shop()
    with open_kit(store_url, host, service_level=relativedelta(weeks=4)) as kit:
        request = kit.dsar.receive(s.buyer, "access")
        assert request.due_at.astimezone(AMS).date() == date(2024, 6, 29)


def test_an_unknown_subject_is_refused_and_nothing_is_written(world):
    kit, _host, _s, _told = world
    before = kit.audit.count() if hasattr(kit.audit, "count") else len(list(kit.audit.entries()))
    with pytest.raises(NotFound, match="knows no such subject"):
        kit.dsar.receive("nobody-99", "access")
    after = kit.audit.count() if hasattr(kit.audit, "count") else len(list(kit.audit.entries()))
    assert before == after
    assert kit.dsar.for_subject("nobody-99") == ()


def test_an_unverified_request_is_not_worked_on(world):
    kit, _host, s, _told = world
    request = kit.dsar.receive(s.buyer, "access")
    for work in (kit.dsar.fulfil, kit.dsar.start, kit.dsar.complete):
        with pytest.raises(NotPermitted, match="not verified"):
            work(request.id)
    assert kit.dsar.get(request.id).status is RequestStatus.RECEIVED
    assert len(kit.dsar.history(request.id)) == 1


def test_identity_is_verified_through_the_hosts_callback(world):
    kit, _host, s, _told = world
    request = kit.dsar.receive(s.buyer, "access")
    with pytest.raises(NotPermitted, match="does not establish the identity"):
        kit.dsar.verify(request.id, proof={"order": "T-1", "email": "someone@else.example"})
    assert kit.dsar.get(request.id).verified_at is None
    done = kit.dsar.verify(request.id, proof={"order": "T-1", "email": BUYER["email"]})
    assert done.status is RequestStatus.VERIFIED
    assert done.verified_at == NOW
    assert "dsar.verification_failed" in [e.action for e in kit.audit.entries()]


def test_verification_needs_proof_or_staff_and_a_verifier_for_proof(store_url):
    host, s = shop()
    with open_kit(store_url, host) as kit:
        request = kit.dsar.receive(s.buyer, "access")
        with pytest.raises(ValidationError, match="proof="):
            kit.dsar.verify(request.id)
        with pytest.raises(ConfigurationError, match="no verifier"):
            kit.dsar.verify(request.id, proof={"order": "T-1"})


def test_every_transition_is_timestamped_audited_and_mapped_to_dpv(world):
    kit, _host, s, told = world
    request = verified(kit, s.buyer, "access")
    kit.clock.advance(timedelta(hours=2))
    kit.dsar.fulfil(request.id)
    steps = kit.dsar.history(request.id)
    assert [t.status for t in steps] == [
        RequestStatus.RECEIVED,
        RequestStatus.VERIFIED,
        RequestStatus.IN_PROGRESS,
        RequestStatus.COMPLETED,
    ]
    assert [t.seq for t in steps] == [1, 2, 3, 4]
    assert steps[-1].at == NOW + timedelta(hours=2)
    assert steps[1].actor == "staff:desk_1"
    assert [t.status.dpv.rsplit("#")[1] for t in steps] == [
        "RequestInitiated",
        "RequestAcknowledged",
        "RequestAccepted",
        "RequestFulfilled",
    ]
    actions = [e.action for e in kit.audit.entries()]
    for action in ("dsar.received", "dsar.verified", "dsar.in_progress", "dsar.completed"):
        assert action in actions
    assert told.messages[-1][1] is RequestStatus.COMPLETED


def test_one_extension_by_up_to_two_months_with_a_reason_and_the_subject_told(world):
    kit, _host, s, told = world
    request = verified(kit, s.buyer, "access")
    with pytest.raises(ValidationError, match="listed reasons"):
        kit.dsar.extend(request.id, reason="busy")
    with pytest.raises(ValidationError, match="1 or 2 further months"):
        kit.dsar.extend(request.id, reason=ExtensionReason.COMPLEXITY, by=relativedelta(months=3))
    extended = kit.dsar.extend(request.id, reason=ExtensionReason.NUMBER_OF_REQUESTS)
    assert extended.status is RequestStatus.EXTENDED
    assert extended.extended
    assert extended.reason is ExtensionReason.NUMBER_OF_REQUESTS
    assert extended.due_at.astimezone(AMS).date() == date(2024, 9, 1)
    assert told.messages[-1] == (
        request.id,
        RequestStatus.EXTENDED,
        ExtensionReason.NUMBER_OF_REQUESTS,
    )
    with pytest.raises(ValidationError, match="extended already"):
        kit.dsar.extend(request.id, reason=ExtensionReason.COMPLEXITY)
    assert kit.dsar.get(request.id).due_at == extended.due_at


def test_an_extension_after_the_first_month_is_refused(world):
    kit, _host, s, _told = world
    request = verified(kit, s.buyer, "access")
    kit.clock.set(request.due_at + timedelta(seconds=1))
    with pytest.raises(ValidationError, match="first month ended"):
        kit.dsar.extend(request.id, reason=ExtensionReason.COMPLEXITY)
    assert not kit.dsar.get(request.id).extended


def test_an_extension_needs_a_way_to_tell_the_subject(store_url):
    host, s = shop()
    with open_kit(store_url, host) as kit:
        request = verified(kit, s.buyer, "access")
        with pytest.raises(ConfigurationError, match="must be told"):
            kit.dsar.extend(request.id, reason=ExtensionReason.COMPLEXITY)


def test_refusal_needs_a_listed_reason(world):
    kit, _host, s, told = world
    request = kit.dsar.receive(s.buyer, "erasure")
    with pytest.raises(ValidationError, match="listed reasons"):
        kit.dsar.refuse(request.id, reason="we would rather not")
    refused = kit.dsar.refuse(request.id, reason=RefusalReason.IDENTITY_NOT_ESTABLISHED)
    assert refused.status is RequestStatus.REFUSED
    assert refused.reason.dpv.endswith("JustificationA12IdentityFailure")
    assert told.messages[-1][2] is RefusalReason.IDENTITY_NOT_ESTABLISHED
    with pytest.raises(ValidationError, match="already"):
        kit.dsar.refuse(request.id, reason=RefusalReason.MANIFESTLY_EXCESSIVE)


def test_a_duplicate_open_request_is_linked_not_lost(world):
    kit, _host, s, _told = world
    first = kit.dsar.receive(s.buyer, "access")
    second = kit.dsar.receive(s.buyer, "access")
    other = kit.dsar.receive(s.buyer, "restriction")
    assert second.duplicate_of == first.id
    assert other.duplicate_of is None
    assert [r.id for r in kit.dsar.for_subject(s.buyer)] == [first.id, second.id, other.id]


def test_an_open_access_or_erasure_request_holds_the_data_until_answered(world):
    kit, _host, s, _told = world
    request = verified(kit, s.buyer, "access")
    assert HoldReason.OPEN_REQUEST in {h.reason for h in kit.retention.holds(s.buyer)}
    kit.dsar.fulfil(request.id)
    assert HoldReason.OPEN_REQUEST not in {h.reason for h in kit.retention.holds(s.buyer)}


def test_the_hold_stays_while_another_holding_request_is_open(world):
    kit, _host, s, _told = world
    first = verified(kit, s.buyer, "access")
    verified(kit, s.buyer, "portability")
    kit.dsar.fulfil(first.id)
    assert HoldReason.OPEN_REQUEST in {h.reason for h in kit.retention.holds(s.buyer)}


def test_requests_nearing_or_past_their_deadline(world):
    kit, _host, s, _told = world
    early = kit.dsar.receive(s.buyer, "access")
    kit.clock.advance(timedelta(days=10))
    late = kit.dsar.receive(s.bystander, "access")
    answered = verified(kit, s.bystander, "restriction")
    kit.dsar.fulfil(answered.id)
    kit.clock.set(early.due_at - timedelta(days=3))
    assert [r.id for r in kit.dsar.due()] == [early.id]
    kit.clock.set(late.due_at + timedelta(days=1))
    assert [r.id for r in kit.dsar.due()] == [early.id, late.id]
    assert [r.id for r in kit.dsar.overdue()] == [early.id, late.id]


# --------------------------------------------------------------------------- the export


def test_the_access_export_carries_the_article_15_information_and_validates(world):
    kit, _host, s, _told = world
    kit.consent.give(s.buyer, "newsletter", EVIDENCE)
    request = verified(kit, s.buyer, "access")
    done = kit.dsar.fulfil(request.id)
    assert done.done
    doc = json.loads(done.export.to_json())
    VALIDATOR.validate(doc)
    assert doc["processing"] is True
    assert doc["subject"]["reference"].startswith("sr1:")
    assert doc["authority"]["name"]["nl"] == "Autoriteit Persoonsgegevens"
    assert {r["right"] for r in doc["rights"]} >= {
        "access",
        "rectification",
        "erasure",
        "restriction",
        "portability",
        "objection",
        "complaint",
        "withdraw_consent",
    }
    assert {p["key"] for p in doc["purposes"]} >= {"ticket_sale", "newsletter"}
    by_cat = {c["category"]: c for c in doc["categories"]}
    assert by_cat["EmailAddress"]["deletion"]["rule"] == "inactive_accounts"
    assert by_cat["EmailAddress"]["deletion"]["due"].startswith("2026-05-31")
    mail = next(r for r in doc["recipients"] if r["key"] == "mail_platform")
    assert mail["third_country"]
    assert mail["transfer_mechanism"] == "standard_contractual_clauses"
    history = doc["consent"]["history"]
    assert history[0]["notice_version"] == "2024-01"
    assert history[0]["wording_sha256"] == EVIDENCE.wording_sha256
    assert doc["consent"]["current"] == [
        {
            "purpose": "newsletter",
            "status": "given",
            "objected": False,
            "since": "2024-06-01T12:00:00Z",
        }
    ]
    assert doc["automated_decision_making"]["present"] is False
    values = [r["values"] for r in doc["data"]]
    assert {"email": BUYER["email"], "name": BUYER["name"], "phone": BUYER["phone"]} in values
    payment = next(r for r in doc["data"] if r["source"] == "payments")
    assert payment["fiscal"]
    assert payment["deletion"]["action"] == "anonymise"
    assert doc["requests"][0]["id"] == request.id


def test_an_attendees_export_never_shows_the_buyers_data(world):
    kit, _host, s, _told = world
    export = kit.dsar.export(s.attendee)
    text = export.to_json().decode()
    assert ATTENDEE["name"] in text
    for value in BUYER.values():
        assert value not in text
    assert value not in export.to_html("en")


def test_the_portability_export_holds_only_what_the_subject_provided(store_url):
    host, s = shop()
    host.add_record(
        s.buyer,
        HostRecord(
            source="visits",
            key="V-1",
            values={"visit_history": "3 concerts", "birth_date": "1990-04-01"},
        ),
    )
    with open_kit(store_url, host) as kit:
        doc = json.loads(kit.dsar.export(s.buyer, kind="portability").to_json())
        VALIDATOR.validate(doc)
        assert doc["kind"] == "portability"
        assert "purposes" not in doc
        fields = {name for record in doc["data"] for name in record["values"]}
        # visit history is observed and serves the contract; the birth date serves only
        # legitimate-interest analysis: not ported (Art. 20(1)(a)).
        assert "visit_history" in fields
        assert "birth_date" not in fields
        assert "email" in fields


def test_csv_zip_and_html_in_both_languages_escape_the_data(store_url):
    host, _s = shop()
    host.add_subject(HostSubject(id="evil-1", kind=SubjectKind.ACCOUNT))
    host.add_record(
        "evil-1",
        HostRecord(
            source="accounts",
            key="evil-1",
            values={"name": "<script>x()</script>", "city": "=HYPERLINK(1)"},
        ),
    )
    with open_kit(store_url, host) as kit:
        export = kit.dsar.export("evil-1")
        for lang, heading in (
            ("nl", "Inzage in uw persoonsgegevens"),
            ("en", "Access to your personal data"),
        ):
            page = export.to_html(lang)
            assert heading in page
            assert "<script>" not in page
            assert "&lt;script&gt;" in page
        with pytest.raises(ValidationError, match="language"):
            export.to_html("de")
        archive = zipfile.ZipFile(io.BytesIO(export.to_csv_zip()))
        names = set(archive.namelist())
        assert {"accounts.csv", "purposes.csv", "categories.csv", "export.json"} <= names
        assert "'=HYPERLINK(1)" in archive.read("accounts.csv").decode()
        purposes = archive.read("purposes.csv").decode().splitlines()
        assert purposes[0] == "key,basis,basis_article,direct_marketing,profiling,description.en"
        assert any(line.startswith("ticket_sale,contract,Art. 6(1)(b)") for line in purposes)
        categories = archive.read("categories.csv").decode().splitlines()
        assert any(line.startswith("Name,name,provided,") for line in categories)


def test_the_export_can_be_sealed_and_opened_and_tampering_is_caught(world):
    kit, _host, s, _told = world
    export = kit.dsar.export(s.buyer)
    sealed = export.seal(PASSPHRASE)
    assert BUYER["email"].encode() not in sealed
    assert json.loads(open_bytes(sealed, PASSPHRASE)) == json.loads(export.to_json())
    with pytest.raises(IntegrityError) as caught:
        open_bytes(sealed, "the wrong passphrase here")
    assert PASSPHRASE not in str(caught.value)
    flipped = bytearray(sealed)
    flipped[-5] ^= 1
    with pytest.raises(IntegrityError):
        open_bytes(bytes(flipped), PASSPHRASE)


def test_a_venue_in_two_countries_points_a_subject_to_that_countrys_authority(world):
    kit, _host, s, _told = world
    doc = json.loads(kit.dsar.export(s.buyer, country="BE").to_json())
    VALIDATOR.validate(doc)
    assert doc["authority"] == AUTHORITIES["BE"].as_dict()
    default = json.loads(kit.dsar.export(s.buyer).to_json())["authority"]
    assert default["country"] == "NL"  # the controller's own, when no country is given
    html = kit.dsar.export(s.buyer, country="BE").to_html("nl")
    assert AUTHORITIES["BE"].complaint_url in html


def test_an_export_for_a_country_without_a_known_authority_is_refused(world):
    kit, _host, s, _told = world
    with pytest.raises(PolicyError, match="no supervisory authority is known"):
        kit.dsar.export(s.buyer, country="JP")
    with pytest.raises(ValidationError):
        kit.dsar.export(s.buyer, country="belgium")


def test_an_export_of_an_unknown_subject_is_refused(world):
    kit, _host, _s, _told = world
    with pytest.raises(NotFound):
        kit.dsar.export("nobody-99")


def test_no_personal_data_in_reprs(world):
    kit, _host, s, _told = world
    request = kit.dsar.receive(s.buyer, "rectification", details={"email": "new@example.org"})
    export = kit.dsar.export(s.buyer)
    for text in (repr(request), repr(export), repr(kit.dsar)):
        assert "new@example.org" not in text
        assert BUYER["email"] not in text
        assert str(s.buyer) not in text


# --------------------------------------------------------------------------- the kinds


def test_rectification_goes_to_the_host_audited(world):
    kit, host, s, _told = world
    request = verified(kit, s.buyer, "rectification", details={"phone": "+31687654321"})
    done = kit.dsar.fulfil(request.id)
    assert done.done
    assert done.rectified >= 1
    phones = {r.values.get("phone") for r in host.records(s.buyer)}
    assert "+31687654321" in phones
    assert BUYER["phone"] not in phones
    entry = [e for e in kit.audit.entries() if e.action == "dsar.rectified"][-1]
    assert entry.details["fields"] == "phone"
    assert "+31687654321" not in json.dumps(entry.details)


def test_a_rectification_of_an_undeclared_field_is_refused_up_front(world):
    kit, _host, s, _told = world
    with pytest.raises(PolicyError):
        kit.dsar.receive(s.buyer, "rectification", details={"shoe_size": "44"})
    with pytest.raises(ValidationError, match="what to correct"):
        kit.dsar.receive(s.buyer, "rectification")
    assert kit.dsar.for_subject(s.buyer) == ()


def test_restriction_refuses_everything_but_legal_claims_until_lifted(world):
    kit, host, s, _told = world
    kit.consent.give(s.buyer, "newsletter", EVIDENCE)
    assert kit.may_process(s.buyer, "newsletter")
    request = verified(kit, s.buyer, "restriction", details={"ground": "accuracy_contested"})
    kit.dsar.fulfil(request.id)
    assert kit.dsar.restricted(s.buyer)
    assert host.restricted(s.buyer)
    for purpose in ("newsletter", "ticket_sale", "evaluation_mail"):
        decision = kit.may_process(s.buyer, purpose)
        assert not decision
        assert decision.code is DecisionCode.RESTRICTED
    assert kit.may_process(s.bystander, "ticket_sale")
    assert kit.dsar.lift_restriction(s.buyer)
    assert kit.may_process(s.buyer, "newsletter")
    assert not host.restricted(s.buyer)
    assert not kit.dsar.lift_restriction(s.buyer)


def test_an_objection_request_is_recorded_in_the_ledger(world):
    kit, _host, s, _told = world
    request = verified(kit, s.buyer, "objection", details={"purposes": "evaluation_mail"})
    done = kit.dsar.fulfil(request.id)
    assert done.objections == ("evaluation_mail",)
    assert kit.consent.state(s.buyer, "evaluation_mail").objected
    assert not kit.may_process(s.buyer, "evaluation_mail")
    with pytest.raises(ValidationError, match="allows no objection"):
        kit.dsar.receive(s.buyer, "objection", details={"purposes": "ticket_sale"})


def test_an_erasure_request_waits_for_the_visit_and_completes_only_when_done(world):
    kit, host, s, told = world
    request = verified(kit, s.buyer, "erasure")
    first = kit.dsar.fulfil(request.id)
    assert not first.done
    assert first.deferred.reason is HoldReason.UPCOMING_VISIT
    assert first.deferred.until == s.event_at
    assert first.request.status is RequestStatus.IN_PROGRESS
    assert host.subject(s.buyer) is not None
    kit.clock.set(s.event_at + timedelta(hours=3))
    [again] = list(kit.dsar.resume())
    assert again.done
    assert again.erasure.erased
    assert host.subject(s.buyer) is None
    assert kit.dsar.get(request.id).status is RequestStatus.COMPLETED
    assert told.messages[-1][1] is RequestStatus.COMPLETED


def test_after_an_erasure_requests_and_feed_hold_no_raw_subject_id(world):
    kit, _host, s, _told = world
    kit.consent.give(s.bystander, "newsletter", EVIDENCE)
    request = verified(kit, s.bystander, "erasure")
    assert kit.dsar.fulfil(request.id).done
    assert kit.dsar.for_subject(s.bystander) == ()
    stored = kit.dsar.get(request.id)
    assert str(stored.subject).startswith("sr1:")
    assert stored.details == {}
    for notice in kit.feed.pending("crm_vendor"):
        assert notice.subject is None


# --------------------------------------------------------------------------- the feed


def test_a_withdrawal_reaches_the_purposes_recipients_with_the_change(world):
    kit, _host, s, _told = world
    kit.consent.give(s.buyer, "share_with_artist", EVIDENCE)
    kit.consent.withdraw(s.buyer, "share_with_artist", EVIDENCE)
    notices = list(kit.feed.pending("artist"))
    assert [n.kind for n in notices] == [FeedKind.CONSENT_GIVEN, FeedKind.CONSENT_WITHDRAWN]
    assert notices[1].purpose == "share_with_artist"
    assert notices[1].subject == s.buyer
    assert notices[1].subject_ref == kit.audit.subject_ref(s.buyer)
    assert list(kit.feed.pending("printer")) == []


def test_a_rolled_back_change_leaves_no_notice(world):
    kit, _host, s, _told = world

    class BoomError(Exception):
        pass

    def give_then_fail():
        with kit.stores.atomic():
            kit.consent.give(s.buyer, "newsletter", EVIDENCE)
            raise BoomError

    with pytest.raises(BoomError):
        give_then_fail()
    assert list(kit.feed.pending("crm_vendor")) == []
    assert kit.consent.state(s.buyer, "newsletter").status is ConsentStatus.NEVER_GIVEN


def test_notices_come_at_least_once_until_acknowledged(world):
    kit, _host, s, _told = world
    kit.consent.give(s.buyer, "newsletter", EVIDENCE)
    kit.consent.give(s.bystander, "newsletter", EVIDENCE)
    first = list(kit.feed.pending("crm_vendor"))
    assert len(first) == 2
    assert list(kit.feed.pending("crm_vendor")) == first  # not acknowledged: again
    assert kit.feed.acknowledge("crm_vendor", first[0].seq) == first[0].seq
    assert list(kit.feed.pending("crm_vendor")) == first[1:]
    assert len(list(kit.feed.pending("mail_platform"))) == 2  # each recipient its own cursor
    with pytest.raises(ValidationError):
        kit.feed.acknowledge("crm_vendor", first[-1].seq + 1000)
    with pytest.raises(PolicyError):
        kit.feed.pending("nobody")


def test_an_erasure_is_told_to_every_recipient_and_the_feed_exports_sealed(world):
    kit, _host, s, _told = world
    kit.erasure.erase(s.bystander)
    notices = list(kit.feed.pending("crm_vendor"))
    assert [n.kind for n in notices] == [FeedKind.ERASURE]
    assert notices[0].subject is None
    sealed = b"".join(kit.feed.export_sealed("crm_vendor", PASSPHRASE, cost=SealCost.for_tests()))
    lines = open_bytes(sealed, PASSPHRASE).decode().splitlines()
    record = json.loads(lines[0])
    assert record["kind"] == "erasure"
    assert record["subject"] is None
    assert record["subject_ref"] == notices[0].subject_ref
    assert kit.feed.cursor("crm_vendor") == 0  # exporting is not acknowledging


# --------------------------------------------------------------------------- vocabularies


def test_every_iri_the_export_emits_is_a_dpv_term(world):
    terms = set()
    for name in ("dpv", "pd", "eu-gdpr"):
        with (DPV_DIR / f"{name}.csv").open(encoding="utf-8", newline="") as stream:
            terms |= {row["iri"] for row in csv.DictReader(stream)}
    kit, _host, s, _told = world
    kit.consent.give(s.buyer, "newsletter", EVIDENCE)
    verified(kit, s.buyer, "access")
    doc = json.loads(kit.dsar.export(s.buyer).to_json())
    emitted = (
        [r["iri"] for r in doc["rights"]]
        + [c["iri"] for c in doc["categories"]]
        + [p["basis_iri"] for p in doc["purposes"]]
        + [r["status_iri"] for r in doc["requests"]]
    )
    assert emitted
    unknown = sorted({iri for iri in emitted if iri not in terms})
    assert not unknown, unknown
