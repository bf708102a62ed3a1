"""The breach register: records, deadlines, the assessment, decisions and reports."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources

import attrs
import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from avgkit import Kit
from avgkit.breach import (
    AUTHORITY_DEADLINE,
    Breach,
    BreachFacts,
    BreachKind,
    BreachOptions,
    BreachRegister,
    Exemption,
    Headcount,
    Protection,
    RiskFactor,
    assess,
)
from avgkit.errors import AvgkitError, NotFound, PolicyError, StorageError, ValidationError
from avgkit.presets import ticketing
from avgkit.storage import StoreSet, open_stores
from avgkit.storage._bound import breach_version_digest
from avgkit.storage.memory import MemoryAuditStore, MemoryBreachStore
from avgkit.testing import ManualClock
from avgkit.testing.conformance._breaches import make_breach
from avgkit.testing.strategies import breach_facts

NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)
BEGAN = datetime(2026, 1, 6, 14, 0, tzinfo=UTC)
FOUND = datetime(2026, 1, 6, 18, 0, tzinfo=UTC)
PERSONAL_CONTACT = "Jan Jansen, jan@venue.example"


def facts(**changes):
    values = {
        "summary": "A mailing list went to the wrong partner.",
        "system": "mail platform",
        "categories": ("EmailAddress", "Name"),
        "subjects": Headcount(minimum=200, maximum=350),
        "subject_group": "visitors (customers)",
        "contact_details_known": True,
        "root_cause": "The list was selected by hand.",
        "occurred_from": BEGAN,
        "kinds": (BreachKind.CONFIDENTIALITY,),
        "likely_consequences": "Unwanted mail and phishing attempts.",
        "measures_taken": "The partner confirmed deleting the list.",
        "contact_point": PERSONAL_CONTACT,
    }
    values.update(changes)
    return BreachFacts(**values)


@pytest.fixture
def clock():
    return ManualClock(NOW)


@pytest.fixture
def kit(clock):
    with Kit.open("memory://", inventory=ticketing.inventory(), clock=clock) as kit:
        yield kit
        kit.audit.verify()


def record(kit, **changes):
    options = {"discovered_at": FOUND, "became_aware_at": NOW, "processor": "mail_platform"}
    options.update(changes)
    return kit.breaches.record(facts(), **options)


def audit_actions(kit):
    return [entry.action for entry in kit.stores.audit.entries()]


# --------------------------------------------------------------------------- values


def test_a_minimum_larger_than_the_maximum_is_refused():
    with pytest.raises(ValidationError, match=r"minimum .* larger than the maximum"):
        Headcount(minimum=10, maximum=5)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_headcounts_are_non_negative_whole_numbers(bad):
    with pytest.raises(ValidationError):
        Headcount(minimum=bad, maximum=10)


def test_an_exact_headcount_prints_as_one_number():
    assert str(Headcount.exactly(12)) == "12"
    assert str(Headcount(minimum=3, maximum=9)) == "3-9"


def test_a_naive_datetime_is_refused_with_a_hint():
    with pytest.raises(ValidationError, match="naive"):
        facts(occurred_from=datetime(2026, 1, 6, 14, 0))  # noqa: DTZ001


def test_categories_must_be_dpv_terms():
    with pytest.raises(ValidationError, match="not supported DPV"):
        facts(categories=("EmailAddress", "ShoeSize"))
    with pytest.raises(ValidationError, match="at least one"):
        facts(categories=())


def test_a_period_cannot_end_before_it_begins():
    with pytest.raises(ValidationError, match="end after it begins"):
        facts(occurred_until=BEGAN - timedelta(minutes=1))


def test_the_nature_needs_at_least_one_kind_and_known_kinds():
    with pytest.raises(ValidationError, match="at least one"):
        facts(kinds=())
    with pytest.raises(ValidationError):
        facts(kinds=("leak",))
    assert facts(kinds=("availability", "confidentiality")).kinds == (
        BreachKind.CONFIDENTIALITY,
        BreachKind.AVAILABILITY,
    )


def test_instants_in_other_zones_are_kept_as_the_same_instant_in_utc():
    amsterdam = timezone(timedelta(hours=1))
    value = facts(occurred_from=datetime(2026, 1, 6, 15, 0, tzinfo=amsterdam))
    assert value.occurred_from == BEGAN
    assert value.occurred_from.tzinfo == UTC


def test_free_texts_and_the_contact_point_stay_out_of_repr():
    text = repr(facts())
    assert PERSONAL_CONTACT not in text
    assert "wrong partner" not in text
    assert "mail platform" in text


def test_special_categories_follow_from_the_data_categories():
    assert facts(categories=("Health", "Name", "EthnicOrigin")).special_categories == (
        "health",
        "racial_or_ethnic_origin",
    )


def test_a_breach_cannot_be_known_before_it_began():
    began = make_breach("br_x").facts.occurred_from
    with pytest.raises(ValidationError, match="became_aware_at is before the breach began"):
        make_breach("br_x", discovered_at=began, became_aware_at=began - timedelta(hours=1))
    with pytest.raises(ValidationError, match="discovered_at is before"):
        make_breach("br_x", discovered_at=datetime(2000, 1, 1, tzinfo=UTC))


def test_awareness_cannot_precede_discovery():
    with pytest.raises(ValidationError, match="before discovered_at"):
        make_breach("br_x", discovered_at=datetime(2026, 2, 3, 11, 0, tzinfo=UTC))


def test_a_breach_round_trips_through_json():
    breach = make_breach("br_json")
    assert Breach.from_json(breach.to_json()) == breach


def test_malformed_stored_json_is_a_validation_error():
    data = make_breach("br_bad").to_mapping()
    del data["facts"]
    with pytest.raises(ValidationError, match="malformed"):
        Breach.from_mapping(data)


# --------------------------------------------------------------------------- recording


def test_recording_stores_version_one_and_audits_it_without_personal_data(kit):
    breach = record(kit)
    assert breach.version == 1
    assert kit.breaches.get(breach.id) == breach
    assert breach.processor_notice_within == timedelta(hours=36)
    (entry,) = list(kit.stores.audit.entries())
    assert entry.action == "breach.recorded"
    assert entry.details["breach"] == breach.id
    assert entry.details["processor"] == "mail_platform"
    assert PERSONAL_CONTACT not in json.dumps(dict(entry.details))


def test_became_aware_defaults_to_the_clock(kit):
    breach = kit.breaches.record(facts(), discovered_at=FOUND)
    assert breach.became_aware_at == NOW
    assert breach.processor is None
    assert breach.processor_notice_due is None


def test_an_undeclared_category_is_refused_and_nothing_is_written(kit):
    with pytest.raises(PolicyError, match="not declared in the inventory"):
        kit.breaches.record(facts(categories=("Health",)), discovered_at=FOUND)
    assert kit.stores.breaches.count() == 0
    assert audit_actions(kit) == []


def test_awareness_before_the_breach_began_is_refused_and_nothing_is_written(kit):
    with pytest.raises(ValidationError, match="before the breach began"):
        record(kit, discovered_at=BEGAN, became_aware_at=BEGAN - timedelta(hours=3))
    assert kit.stores.breaches.count() == 0
    assert audit_actions(kit) == []


@pytest.mark.parametrize("name", ["discovered_at", "became_aware_at", "processor_notified_at"])
def test_naive_instants_are_refused_when_recording(kit, name):
    with pytest.raises(ValidationError, match="naive"):
        record(kit, **{name: datetime(2026, 1, 7, 9, 0)})  # noqa: DTZ001
    assert kit.stores.breaches.count() == 0


def test_instants_in_the_future_are_refused(kit):
    with pytest.raises(ValidationError, match="in the future"):
        record(kit, became_aware_at=NOW + timedelta(minutes=1))
    assert kit.stores.breaches.count() == 0


def test_an_unknown_processor_is_refused(kit):
    with pytest.raises(PolicyError):
        record(kit, processor="no_such_vendor")
    assert kit.stores.breaches.count() == 0


def test_every_refusal_is_an_avgkit_error(kit):
    with pytest.raises(AvgkitError):
        Headcount(minimum=2, maximum=1)
    with pytest.raises(AvgkitError):
        kit.breaches.record(facts(categories=("Health",)), discovered_at=FOUND)
    with pytest.raises(NotFound):
        kit.breaches.get("br_missing")
    with pytest.raises(NotFound):
        kit.breaches.history("br_missing")


# --------------------------------------------------------------------------- deadlines


def test_the_deadlines_are_36_hours_after_discovery_and_72_after_awareness(kit):
    breach = record(kit)
    assert breach.processor_notice_due == FOUND + timedelta(hours=36)
    assert breach.authority_due == NOW + timedelta(hours=72)


def test_the_processor_term_is_configurable_per_agreement(clock):
    stores = open_stores("memory://")
    inventory = ticketing.inventory()
    with Kit(stores=stores, inventory=inventory, clock=clock) as kit:
        register = BreachRegister(
            stores.breaches,
            inventory,
            clock,
            kit.audit,
            processor_notice=timedelta(hours=48),
            processor_notice_by_recipient={"mail_platform": timedelta(hours=24)},
        )
        assert register.processor_term("mail_platform") == timedelta(hours=24)
        assert register.processor_term("ticketing_vendor") == timedelta(hours=48)
        breach = register.record(facts(), discovered_at=FOUND, processor="mail_platform")
        assert breach.processor_notice_due == FOUND + timedelta(hours=24)


def test_the_kit_passes_its_processor_term_on(clock):
    inventory = ticketing.inventory()
    with Kit.open(
        "memory://",
        inventory=inventory,
        clock=clock,
        breaches=BreachOptions(processor_notice=timedelta(hours=12)),
    ) as kit:
        assert kit.breaches.processor_term("printer") == timedelta(hours=12)


def test_the_options_value_refuses_bad_terms_before_any_store_is_opened():
    with pytest.raises(ValidationError, match="positive timedelta"):
        BreachOptions(processor_notice=timedelta(0))
    with pytest.raises(ValidationError, match=r"processor_notice_by_recipient\['printer'\]"):
        BreachOptions(processor_notice_by_recipient={"printer": timedelta(hours=-1)})
    with pytest.raises(ValidationError, match="large_volume"):
        BreachOptions(large_volume=0)


def test_the_kit_refuses_an_options_value_of_the_wrong_kind():
    with pytest.raises(ValidationError, match="breaches= takes a BreachOptions"):
        Kit.open("memory://", inventory=ticketing.inventory(), breaches={"large_volume": 5})


def test_bad_processor_terms_are_refused(clock):
    stores = open_stores("memory://")
    with Kit(stores=stores, inventory=ticketing.inventory(), clock=clock) as kit:
        with pytest.raises(ValidationError, match="positive timedelta"):
            BreachRegister(
                stores.breaches, kit.inventory, clock, kit.audit, processor_notice=timedelta(0)
            )
        with pytest.raises(PolicyError):
            BreachRegister(
                stores.breaches,
                kit.inventory,
                clock,
                kit.audit,
                processor_notice_by_recipient={"nobody": timedelta(hours=1)},
            )


def test_status_flags_overdue_notices_by_the_clock(kit, clock):
    breach = record(kit)
    status = kit.breaches.status(breach.id)
    assert not status.processor_notice_overdue
    assert not status.authority_overdue
    assert status.authority_time_left == timedelta(hours=72)
    clock.set(FOUND + timedelta(hours=36, seconds=1))
    assert kit.breaches.status(breach.id).processor_notice_overdue
    clock.set(NOW + timedelta(hours=72))
    assert not kit.breaches.status(breach.id).authority_overdue  # on the deadline: in time
    clock.advance(seconds=1)
    status = kit.breaches.status(breach.id)
    assert status.authority_overdue
    assert status.authority_time_left == timedelta(seconds=-1)
    assert [b.id for b in kit.breaches.overdue()] == [breach.id]


def test_a_recorded_processor_notice_stops_its_clock(kit, clock):
    breach = record(kit)
    clock.set(FOUND + timedelta(hours=40))
    breach = kit.breaches.record_processor_notice(breach.id, at=FOUND + timedelta(hours=30))
    assert not breach.processor_notice_late
    assert not kit.breaches.status(breach).processor_notice_overdue
    assert audit_actions(kit)[-1] == "breach.processor_notified"


def test_a_processor_notice_needs_a_processor(kit):
    breach = kit.breaches.record(facts(), discovered_at=FOUND)
    with pytest.raises(ValidationError, match="needs a processor"):
        kit.breaches.record_processor_notice(breach.id)
    assert kit.breaches.get(breach.id).version == 1


def test_a_late_authority_notification_without_a_reason_is_refused(kit, clock):
    breach = record(kit)
    clock.advance(hours=73)
    with pytest.raises(ValidationError, match="reasons for the delay"):
        kit.breaches.record_authority_notification(breach.id)
    assert kit.breaches.get(breach.id) == breach
    assert audit_actions(kit) == ["breach.recorded"]
    late = kit.breaches.record_authority_notification(
        breach.id, reference="AP-2026-1", delay_reason="The processor's report came late."
    )
    assert late.authority_late
    assert not kit.breaches.status(late).authority_overdue
    entry = list(kit.stores.audit.entries())[-1]
    assert (entry.action, entry.details["late"]) == ("breach.authority_notified", True)


def test_a_notification_in_time_needs_no_reason(kit, clock):
    breach = record(kit)
    clock.advance(hours=71)
    done = kit.breaches.record_authority_notification(breach.id)
    assert not done.authority_late
    assert done.delay_reason is None
    assert list(kit.breaches.overdue(at=NOW + timedelta(days=10))) == []


def test_a_notification_cannot_predate_awareness(kit):
    breach = record(kit)
    with pytest.raises(ValidationError, match="before became_aware_at"):
        kit.breaches.record_authority_notification(breach.id, at=NOW - timedelta(hours=1))


ZONES = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(
    aware=st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2030, 1, 1),  # noqa: DTZ001
        timezones=ZONES,
    ),
)
def test_the_authority_deadline_is_always_awareness_plus_72_hours(aware):
    breach = make_breach("br_p", aware.astimezone(UTC)).to_mapping()
    rebuilt = attrs.evolve(
        Breach.from_mapping(breach),
        became_aware_at=aware,
        recorded_at=aware,
        updated_at=aware,
        processor_notified_at=aware,
    )
    assert rebuilt.authority_due == aware + AUTHORITY_DEADLINE
    assert rebuilt.authority_due.tzinfo == UTC
    assert rebuilt.authority_due - rebuilt.became_aware_at == timedelta(hours=72)


@given(
    offset=st.integers(min_value=-200 * 3600, max_value=200 * 3600),
    notified_after=st.one_of(st.none(), st.integers(min_value=0, max_value=71 * 3600)),
    decided=st.sampled_from([None, True, False]),
)
def test_overdue_iff_past_the_deadline_and_still_pending(offset, notified_after, decided):
    from avgkit.breach import Assessment, BreachDecision

    base = make_breach("br_p")
    changes = {}
    if notified_after is not None:
        changes["authority_notified_at"] = base.became_aware_at + timedelta(seconds=notified_after)
    if decided is not None:
        changes["decision"] = BreachDecision(
            decided_at=base.became_aware_at,
            actor="dpo",
            notify_authority=decided,
            notify_subjects=False,
            public_communication=False,
            reason="test",
            proposal=Assessment(
                notify_authority=True,
                notify_subjects=False,
                public_communication=False,
                high_risk=False,
                factors=(),
                exemptions=(),
            ),
        )
    breach = attrs.evolve(base, **changes)
    now = breach.authority_due + timedelta(seconds=offset)
    pending = notified_after is None and decided is not False
    assert breach.status(at=now).authority_overdue == (now > breach.authority_due and pending)


# --------------------------------------------------------------------------- updates


def test_an_update_makes_a_timestamped_new_version(kit, clock):
    breach = record(kit)
    clock.advance(hours=5)
    updated = kit.breaches.update(
        breach.id,
        note="The partner had forwarded the list once.",
        subjects=Headcount(minimum=300, maximum=900),
        root_cause="The list was selected by hand.",  # unchanged: not listed as changed
    )
    assert updated.version == 2
    (update,) = updated.updates
    assert update.at == NOW + timedelta(hours=5)
    assert update.changed == ("subjects",)
    assert updated.facts.subjects.maximum == 900
    assert kit.breaches.history(breach.id) == (breach, updated)
    assert audit_actions(kit) == ["breach.recorded", "breach.updated"]


def test_a_bad_update_writes_nothing(kit):
    breach = record(kit)
    with pytest.raises(ValidationError, match="unknown breach facts"):
        kit.breaches.update(breach.id, note="x", shoe_size=3)
    with pytest.raises(ValidationError, match="larger than the maximum"):
        kit.breaches.update(breach.id, note="x", subjects=Headcount(minimum=5, maximum=1))
    with pytest.raises(PolicyError):
        kit.breaches.update(breach.id, note="x", categories=("Health",))
    with pytest.raises(ValidationError):
        kit.breaches.update(breach.id, note="")
    assert kit.breaches.history(breach.id) == (breach,)
    assert audit_actions(kit) == ["breach.recorded"]


def test_an_update_from_a_stale_version_conflicts(kit):
    from avgkit.errors import ConflictError

    breach = record(kit)
    kit.breaches.update(breach.id, note="first")
    with pytest.raises(ConflictError):
        kit.stores.breaches.put(attrs.evolve(breach, version=2))


# --------------------------------------------------------------------------- assessment


def test_a_small_unencrypted_leak_of_contact_data_goes_to_the_authority_only():
    proposal = assess(facts())
    assert proposal.notify_authority
    assert not proposal.notify_subjects
    assert not proposal.high_risk
    assert proposal.factors == (RiskFactor.UNPROTECTED,)


@pytest.mark.parametrize(
    ("changes", "factor"),
    [
        ({"categories": ("Health", "Name")}, RiskFactor.SPECIAL_CATEGORIES),
        ({"categories": ("BankAccount", "Name")}, RiskFactor.IDENTITY_FRAUD),
        ({"vulnerable_subjects": True}, RiskFactor.VULNERABLE_SUBJECTS),
        ({"subjects": Headcount(minimum=10, maximum=5000)}, RiskFactor.LARGE_VOLUME),
    ],
)
def test_each_risk_factor_makes_the_risk_high_and_proposes_telling_people(changes, factor):
    proposal = assess(facts(**changes))
    assert factor in proposal.factors
    assert proposal.high_risk
    assert proposal.notify_authority
    assert proposal.notify_subjects
    assert not proposal.public_communication


def test_the_volume_threshold_is_configurable():
    small = facts(subjects=Headcount(minimum=1, maximum=60))
    assert RiskFactor.LARGE_VOLUME in assess(small, large_volume=50).factors
    assert RiskFactor.LARGE_VOLUME not in assess(small).factors


def test_encrypted_data_needs_no_message_to_people_art_34_3_a():
    proposal = assess(facts(categories=("BankAccount",), protection=Protection.ENCRYPTED))
    assert not proposal.high_risk
    assert not proposal.notify_subjects
    assert Exemption.ENCRYPTED in proposal.exemptions
    assert RiskFactor.UNPROTECTED not in proposal.factors


def test_encrypted_but_lost_data_still_goes_to_the_authority():
    lost = facts(protection=Protection.ENCRYPTED, kinds=(BreachKind.AVAILABILITY,))
    assert assess(lost).notify_authority


def test_pseudonymised_data_is_not_an_exemption():
    proposal = assess(facts(categories=("BankAccount",), protection=Protection.PSEUDONYMISED))
    assert proposal.high_risk
    assert proposal.notify_subjects


def test_measures_that_removed_the_high_risk_exempt_art_34_3_b():
    proposal = assess(facts(vulnerable_subjects=True, high_risk_removed=True))
    assert proposal.high_risk
    assert not proposal.notify_subjects
    assert proposal.exemptions == (Exemption.RISK_REMOVED,)


def test_unknown_contact_details_propose_a_public_communication_art_34_3_c():
    proposal = assess(facts(vulnerable_subjects=True, contact_details_known=False))
    assert not proposal.notify_subjects
    assert proposal.public_communication
    assert Exemption.DISPROPORTIONATE_EFFORT in proposal.exemptions


def test_the_inventory_s_special_category_fields_count_as_special():
    from avgkit import Art9Condition, Field, IdentifierKind, Inventory, SpecialCategory

    base = ticketing.inventory()
    extra = Field(
        key="access_needs",
        category="Disability",
        identifier=IdentifierKind.SENSITIVE,
        purposes=("ticket_sale",),
        special_category=SpecialCategory.HEALTH,
        art9_condition=Art9Condition.EXPLICIT_CONSENT,
    )
    inventory = attrs.evolve(base, fields=(*base.fields, extra))
    assert isinstance(inventory, Inventory)
    proposal = assess(facts(categories=("Disability",)), inventory)
    assert RiskFactor.SPECIAL_CATEGORIES in proposal.factors


def test_the_proposal_explains_itself_in_both_languages():
    proposal = assess(facts(vulnerable_subjects=True, contact_details_known=False))
    assert any("kinderen" in line for line in proposal.explain("nl"))
    assert any("children" in line for line in proposal.explain("en"))
    with pytest.raises(ValidationError):
        proposal.explain("de")


def test_deciding_records_the_human_decision_beside_the_proposal(kit, clock):
    breach = record(kit)
    clock.advance(hours=2)
    decided = kit.breaches.decide(
        breach.id,
        notify_authority=True,
        notify_subjects=True,
        reason="We inform visitors anyway: phishing mails are expected.",
        actor="dpo",
    )
    decision = decided.decision
    assert decision.decided_at == NOW + timedelta(hours=2)
    assert decision.actor == "dpo"
    assert decision.proposal == kit.breaches.assess(breach)
    assert not decision.follows_proposal  # the proposal did not ask to tell people
    assert decided.subjects_pending
    entry = list(kit.stores.audit.entries())[-1]
    assert entry.action == "breach.decided"
    assert entry.details["follows_proposal"] is False
    assert "phishing" not in json.dumps(dict(entry.details))


def test_a_decision_needs_a_reason_and_writes_nothing_without_one(kit):
    breach = record(kit)
    with pytest.raises(ValidationError, match="reason"):
        kit.breaches.decide(breach.id, notify_authority=True, notify_subjects=False, reason=" ")
    with pytest.raises(ValidationError):
        kit.breaches.decide(breach.id, notify_authority="yes", notify_subjects=False, reason="x")
    assert kit.breaches.get(breach.id) == breach


def test_deciding_not_to_notify_stops_the_authority_clock(kit, clock):
    breach = record(kit)
    kit.breaches.decide(
        breach.id,
        notify_authority=False,
        notify_subjects=False,
        reason="Encrypted backup, key safe.",
    )
    clock.advance(days=5)
    assert not kit.breaches.status(breach.id).authority_overdue
    assert list(kit.breaches.overdue()) == []


def test_informing_people_is_recorded(kit):
    breach = record(kit)
    kit.breaches.decide(
        breach.id,
        notify_authority=True,
        notify_subjects=False,
        public_communication=True,
        reason="No addresses known.",
    )
    done = kit.breaches.record_subject_notification(breach.id, public=True)
    assert done.subjects_notified_at == NOW
    assert done.subjects_public
    assert not done.subjects_pending
    assert audit_actions(kit)[-1] == "breach.subjects_notified"


# --------------------------------------------------------------------------- reports


def schema(name):
    path = resources.files("avgkit").joinpath(f"schemas/{name}.schema.json")
    return json.loads(path.read_text("utf-8"))


@pytest.mark.parametrize("name", ["breach-notice", "breach-notification"])
def test_the_shipped_schemas_are_valid_draft_2020_12(name):
    jsonschema.Draft202012Validator.check_schema(schema(name))


def lifecycle(kit, clock):
    """A breach in each state of its life, for the reports."""
    breach = record(kit)
    yield breach
    clock.advance(hours=3)
    yield kit.breaches.update(
        breach.id, note="More visitors.", records=Headcount(minimum=200, maximum=800)
    )
    yield kit.breaches.decide(
        breach.id, notify_authority=True, notify_subjects=False, reason="No high risk."
    )
    clock.advance(hours=80)
    yield kit.breaches.record_authority_notification(
        breach.id, reference="AP-1", delay_reason="Waited for the processor."
    )


def test_the_json_reports_match_their_schemas_in_every_state(kit, clock):
    checker = jsonschema.Draft202012Validator(
        schema("breach-notice"), format_checker=jsonschema.FormatChecker()
    )
    notification = jsonschema.Draft202012Validator(
        schema("breach-notification"), format_checker=jsonschema.FormatChecker()
    )
    bare = kit.breaches.record(facts(occurred_until=FOUND), discovered_at=FOUND)
    for breach in (bare, *lifecycle(kit, clock)):
        checker.validate(json.loads(json.dumps(kit.breaches.notice_json(breach))))
        notification.validate(json.loads(json.dumps(kit.breaches.notification_json(breach))))


def test_the_notice_answers_the_seven_questions(kit):
    notice = kit.breaches.notice_json(record(kit))
    assert notice["what_happened"] == {
        "summary": "A mailing list went to the wrong partner.",
        "system": "mail platform",
    }
    assert [item["category"] for item in notice["personal_data"]] == ["EmailAddress", "Name"]
    assert notice["personal_data"][0]["label"] == {"nl": "E-mailadres", "en": "Email Address"}
    assert notice["people"] == {"minimum": 200, "maximum": 350}
    assert notice["group"]["description"] == "visitors (customers)"
    assert notice["contact_details_known"] is True
    assert notice["root_cause"] == "The list was selected by hand."
    assert notice["period"] == {"from": "2026-01-06T14:00:00Z", "until": None}
    assert notice["deadline"] == "2026-01-08T06:00:00Z"


def test_a_late_notification_without_a_reason_fails_the_schema():
    doc = {"late": True, "delay_reason": None}
    timeline = schema("breach-notification")["properties"]["timeline"]
    sub = {**timeline, "required": ["late", "delay_reason"], "additionalProperties": True}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, sub)


@pytest.mark.parametrize(
    ("lang", "phrases"),
    [
        ("nl", ["Wat is er gebeurd", "Van hoeveel personen", "root cause", "E-mailadres"]),
        ("en", ["What happened", "How many people", "root cause", "Email Address"]),
    ],
)
def test_the_notice_renders_in_both_languages(kit, lang, phrases):
    page = kit.breaches.notice_html(record(kit), lang)
    assert page.startswith("<!DOCTYPE html>")
    assert f'<html lang="{lang}">' in page
    for phrase in phrases:
        assert phrase in page


@pytest.mark.parametrize(
    ("lang", "phrases"),
    [
        ("nl", ["artikel 33 lid 3", "Waarschijnlijke gevolgen", "Reden van de vertraging"]),
        ("en", ["Article 33(3)", "Likely consequences", "Reasons for delay"]),
    ],
)
def test_the_authority_notification_renders_in_both_languages(kit, clock, lang, phrases):
    *_, notified = lifecycle(kit, clock)
    page = kit.breaches.notification_html(notified.id, lang)
    for phrase in phrases:
        assert phrase in page
    assert "More visitors." in page  # the phased update
    assert "@media print" in page


def test_reports_escape_what_people_typed(kit):
    breach = kit.breaches.record(
        facts(summary='<script>alert("x")</script>', system="box & office"), discovered_at=FOUND
    )
    for lang in ("nl", "en"):
        for page in (
            kit.breaches.notice_html(breach, lang),
            kit.breaches.notification_html(breach, lang),
        ):
            assert "<script>" not in page
            assert "&lt;script&gt;" in page
            assert "box &amp; office" in page


def test_the_register_csv_has_one_row_per_breach_and_guards_against_formulas(kit, clock):
    first = record(kit)
    clock.advance(hours=1)
    second = kit.breaches.record(facts(system="=HYPERLINK(1)"), discovered_at=FOUND)
    kit.breaches.update(first.id, note="again")
    rows = list(csv.reader(io.StringIO(kit.breaches.register_csv())))
    assert rows[0][:3] == ["id", "version", "recorded_at"]
    assert [row[0] for row in rows[1:]] == [first.id, second.id]
    assert rows[1][1] == "2"
    assert rows[2][3] == "'=HYPERLINK(1)"
    dutch = next(csv.reader(io.StringIO(kit.breaches.register_csv("nl"))))
    assert dutch[:2] == ["Kenmerk", "Versie"]


def test_a_store_set_without_breaches_says_so(clock):
    stores = StoreSet(url="memory://", audit=MemoryAuditStore())
    kit = Kit(stores=stores, inventory=ticketing.inventory(), clock=clock)
    with pytest.raises(StorageError, match="no breach register"):
        _ = kit.breaches


def test_the_register_persists_in_sqlite(tmp_path, clock):
    url = f"sqlite:///{tmp_path}/avg.db"
    with Kit.open(url, inventory=ticketing.inventory(), clock=clock) as kit:
        breach = record(kit)
        kit.breaches.update(breach.id, note="later")
    with Kit.open(url, inventory=ticketing.inventory(), clock=clock) as kit:
        assert [b.version for b in kit.breaches.history(breach.id)] == [1, 2]
        assert [b.id for b in kit.breaches.breaches()] == [breach.id]
        kit.audit.verify()


# --------------------------------------------------------------------------- generated facts


INVENTORY = ticketing.inventory()
NOTICE = jsonschema.Draft202012Validator(schema("breach-notice"))
NOTIFICATION = jsonschema.Draft202012Validator(schema("breach-notification"))


@given(value=breach_facts())
def test_any_valid_breach_round_trips_and_its_reports_match_the_schemas(value):
    clock = ManualClock(value.occurred_from + timedelta(days=2))
    stores = StoreSet(url="memory://", audit=MemoryAuditStore(), breaches=MemoryBreachStore())
    kit = Kit(stores=stores, inventory=INVENTORY, clock=clock)
    breach = kit.breaches.record(value, discovered_at=value.occurred_from)
    assert Breach.from_json(breach.to_json()) == breach
    assert kit.breaches.get(breach.id) == breach
    proposal = kit.breaches.assess(breach)
    # Encrypted data in a confidentiality breach never leads to a message to each person
    # (Art. 34(3)(a)); the authority is always proposed (seed 003, annex 3).
    assert proposal.notify_authority
    if value.protection is Protection.ENCRYPTED and value.kinds == (BreachKind.CONFIDENTIALITY,):
        assert not proposal.notify_subjects
        assert not proposal.public_communication
    assert not (proposal.notify_subjects and proposal.public_communication)
    NOTICE.validate(kit.breaches.notice_json(breach))
    NOTIFICATION.validate(kit.breaches.notification_json(breach))


@pytest.mark.parametrize(
    "call",
    [
        lambda r, b: r.record_processor_notice(b, actor="Jan Jansen"),
        lambda r, b: r.record_authority_notification(b, actor="Jan Jansen"),
        lambda r, b: r.record_subject_notification(b, actor="Jan Jansen"),
        lambda r, b: r.update(b, note="x", actor="Jan Jansen"),
        lambda r, b: r.decide(
            b, notify_authority=True, notify_subjects=False, reason="x", actor="Jan Jansen"
        ),
    ],
)
def test_an_actor_that_is_not_a_role_key_is_refused_before_anything_is_written(kit, call):
    breach = record(kit)
    with pytest.raises(ValidationError, match="actor"):
        call(kit.breaches, breach.id)
    assert kit.breaches.history(breach.id) == (breach,)
    assert audit_actions(kit) == ["breach.recorded"]


# --------------------------------------------------------------------------- review fixes


def test_awareness_defaults_to_when_the_processor_s_notice_arrived(kit):
    notice = FOUND + timedelta(hours=2)
    breach = kit.breaches.record(
        facts(), discovered_at=FOUND, processor="mail_platform", processor_notified_at=notice
    )
    assert breach.became_aware_at == notice
    assert breach.authority_due == notice + AUTHORITY_DEADLINE


def test_awareness_after_the_processor_s_notice_arrived_is_refused(kit):
    with pytest.raises(ValidationError, match=r"Art\. 33\(1\)"):
        kit.breaches.record(
            facts(),
            discovered_at=FOUND,
            became_aware_at=NOW,
            processor="mail_platform",
            processor_notified_at=FOUND + timedelta(hours=1),
        )
    assert list(kit.breaches.breaches()) == []
    assert audit_actions(kit) == []


def test_a_processor_notice_dated_before_awareness_is_refused(kit):
    breach = record(kit)
    with pytest.raises(ValidationError, match="became_aware_at"):
        kit.breaches.record_processor_notice(breach.id, at=NOW - timedelta(hours=1))
    assert kit.breaches.history(breach.id) == (breach,)


def test_adding_the_authority_s_reference_later_keeps_the_notification(kit, clock):
    breach = record(kit)
    notified = kit.breaches.record_authority_notification(breach.id)
    clock.advance(days=4)
    referenced = kit.breaches.add_authority_reference(breach.id, "AP-2026-123")
    assert referenced.authority_notified_at == notified.authority_notified_at == NOW
    assert referenced.authority_reference == "AP-2026-123"
    assert not referenced.authority_late
    assert referenced.delay_reason is None
    assert referenced.version == notified.version + 1
    entry = list(kit.stores.audit.entries())[-1]
    assert entry.action == "breach.authority_reference_added"
    assert entry.details == {
        "breach": breach.id,
        "version": referenced.version,
        "corrected": False,
        "bound": "breach_version",
        "bound_digest": breach_version_digest(breach.id, referenced.version, referenced.to_json()),
        "bound_records": 1,
    }
    corrected = kit.breaches.add_authority_reference(breach.id, "AP-2026-124")
    assert corrected.authority_reference == "AP-2026-124"
    assert list(kit.stores.audit.entries())[-1].details["corrected"] is True


def test_a_reference_needs_a_recorded_notification_and_writes_nothing_without(kit):
    breach = record(kit)
    with pytest.raises(ValidationError, match="record_authority_notification"):
        kit.breaches.add_authority_reference(breach.id, "AP-1")
    assert kit.breaches.history(breach.id) == (breach,)
    assert audit_actions(kit) == ["breach.recorded"]


def test_notifying_again_keeps_the_time_reason_and_reference_not_passed(kit, clock):
    breach = record(kit)
    clock.advance(hours=80)
    late = kit.breaches.record_authority_notification(
        breach.id, reference="AP-1", delay_reason="Waited for the processor."
    )
    clock.advance(days=2)
    again = kit.breaches.record_authority_notification(breach.id, reference="AP-2")
    assert again.authority_notified_at == late.authority_notified_at
    assert again.delay_reason == "Waited for the processor."
    assert again.authority_reference == "AP-2"
    again = kit.breaches.record_authority_notification(breach.id)
    assert again.authority_reference == "AP-2"


def test_encrypted_data_is_still_proposed_for_the_authority_seed_003_annex_3():
    proposal = assess(facts(categories=("Health",), protection=Protection.ENCRYPTED))
    assert proposal.notify_authority
    assert not proposal.notify_subjects
    assert Exemption.ENCRYPTED in proposal.exemptions
    assert any("Autoriteit Persoonsgegevens" in line for line in proposal.explain("nl"))
    assert not any("unlikely" in line for line in proposal.explain("en"))


@pytest.mark.parametrize(
    "kinds",
    [
        (BreachKind.AVAILABILITY,),
        (BreachKind.INTEGRITY,),
        (BreachKind.CONFIDENTIALITY, BreachKind.AVAILABILITY),
    ],
)
def test_encryption_exempts_only_confidentiality_breaches(kinds):
    proposal = assess(facts(categories=("Health",), protection=Protection.ENCRYPTED, kinds=kinds))
    assert Exemption.ENCRYPTED not in proposal.exemptions
    assert proposal.high_risk
    assert proposal.notify_subjects


@pytest.mark.parametrize(
    "term", [timedelta(milliseconds=500), timedelta(hours=36, microseconds=900_001)]
)
def test_sub_second_processor_terms_round_trip_through_sqlite(tmp_path, clock, term):
    url = f"sqlite:///{tmp_path}/avg.db"
    options = BreachOptions(processor_notice=term)
    with Kit.open(url, inventory=ticketing.inventory(), clock=clock, breaches=options) as kit:
        breach = record(kit)
        assert breach.processor_notice_within == term
    with Kit.open(url, inventory=ticketing.inventory(), clock=clock) as kit:
        stored = kit.breaches.get(breach.id)
    assert stored == breach
    assert stored.processor_notice_due == FOUND + term
    assert Breach.from_json(breach.to_json()) == breach


def test_breaches_stored_with_whole_second_terms_still_read():
    breach = make_breach("br_old")
    data = breach.to_mapping()
    data.pop("processor_notice_within_us")
    data["processor_notice_within_seconds"] = 36 * 3600
    assert Breach.from_mapping(data) == breach


@pytest.mark.parametrize(
    ("build", "name", "kind"),
    [
        (lambda: facts(subjects={"minimum": 1, "maximum": 2}), "subjects", "Headcount"),
        (lambda: facts(subjects=(1, 2)), "subjects", "Headcount"),
        (lambda: facts(records=(1, 2)), "records", "Headcount"),
        (lambda: make_breach("br_x", facts={"summary": "x"}), "facts", "BreachFacts"),
        (lambda: make_breach("br_x", decision="notify"), "decision", "BreachDecision"),
        (lambda: make_breach("br_x", updates=("later",)), "updates", "BreachUpdate"),
    ],
)
def test_wrong_typed_values_are_validation_errors_naming_attribute_and_type(build, name, kind):
    with pytest.raises(ValidationError, match=rf"{name} must (be|hold only) .*{kind}"):
        build()


def test_an_update_with_a_wrong_typed_headcount_writes_nothing(kit):
    breach = record(kit)
    with pytest.raises(ValidationError, match=r"subjects must be .*Headcount"):
        kit.breaches.update(breach.id, note="n", subjects=(1, 2))
    assert kit.breaches.history(breach.id) == (breach,)


@pytest.mark.parametrize(
    ("key", "role"), [("artist", "third_party"), ("coorganiser", "joint_controller")]
)
def test_only_processors_and_sub_processors_report_as_processor(kit, clock, key, role):
    with pytest.raises(PolicyError, match=rf"{key}.*{role}"):
        record(kit, processor=key)
    assert audit_actions(kit) == []
    with pytest.raises(PolicyError, match=rf"{key}.*{role}"):
        BreachRegister(
            kit.stores.breaches,
            kit.inventory,
            clock,
            kit.audit,
            processor_notice_by_recipient={key: timedelta(hours=1)},
        )
    assert record(kit, processor="database_hosting").processor == "database_hosting"


def test_the_kit_passes_per_agreement_processor_terms_on(clock):
    terms = {"mail_platform": timedelta(hours=24)}
    inventory = ticketing.inventory()
    with Kit.open(
        "memory://",
        inventory=inventory,
        clock=clock,
        breaches=BreachOptions(processor_notice_by_recipient=terms),
    ) as kit:
        assert kit.breaches.processor_term("mail_platform") == timedelta(hours=24)
        assert kit.breaches.processor_term("printer") == timedelta(hours=36)
    with Kit(
        stores=open_stores("memory://"),
        inventory=inventory,
        clock=clock,
        breaches=BreachOptions(processor_notice_by_recipient=terms),
    ) as kit:
        assert record(kit).processor_notice_due == FOUND + timedelta(hours=24)


def _with_access_needs():
    from avgkit import Art9Condition, Field, IdentifierKind, SpecialCategory

    base = ticketing.inventory()
    extra = Field(
        key="access_needs",
        category="Disability",
        identifier=IdentifierKind.SENSITIVE,
        purposes=("ticket_sale",),
        special_category=SpecialCategory.HEALTH,
        art9_condition=Art9Condition.EXPLICIT_CONSENT,
    )
    return attrs.evolve(base, fields=(*base.fields, extra))


def test_the_notification_s_special_categories_agree_with_the_assessment(clock):
    stores = open_stores("memory://")
    with Kit(stores=stores, inventory=_with_access_needs(), clock=clock) as kit:
        breach = kit.breaches.record(facts(categories=("Disability",)), discovered_at=FOUND)
        assert RiskFactor.SPECIAL_CATEGORIES in kit.breaches.assess(breach).factors
        assert kit.breaches.notification_json(breach)["special_categories"] == ["health"]
        page = kit.breaches.notification_html(breach, "nl")
        assert "Gegevens over gezondheid" in page  # the label, not the raw value
        assert "<td>health</td>" not in page
        assert "Data concerning health" in kit.breaches.notification_html(breach, "en")
        row = next(csv.DictReader(io.StringIO(kit.breaches.register_csv())))
        assert row["special_categories"] == "health"


def test_status_refuses_a_naive_instant(kit):
    breach = record(kit)
    with pytest.raises(ValidationError, match="naive"):
        kit.breaches.status(breach.id, at=datetime(2026, 1, 7))  # noqa: DTZ001
    with pytest.raises(ValidationError, match="naive"):
        list(kit.breaches.overdue(at=datetime(2026, 1, 7)))  # noqa: DTZ001
