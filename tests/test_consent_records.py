"""The consent report, Kantara receipts and ISO/IEC TS 27560 records (avgkit.consent_records)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avgkit import Kit, _dpv
from avgkit.consent import Actor, ConsentAction, Evidence, hash_wording
from avgkit.consent import _terms as vocab
from avgkit.consent_records import (
    ISO27560_SCHEMA_VERSION,
    KANTARA_VERSION,
    ConsentReport,
    iso27560_records,
    kantara_receipts,
)
from avgkit.errors import PolicyError, ValidationError
from avgkit.inventory import Inventory
from avgkit.presets import ticketing
from avgkit.testing import ManualClock

START = datetime(2024, 5, 1, tzinfo=UTC)
NOW = datetime(2024, 7, 1, 12, tzinfo=UTC)
MAY = {"since": START, "until": datetime(2024, 6, 1, tzinfo=UTC)}
POLICY = "https://voorbeeldpodium.example/privacy"
SCRIPT = "<script>alert(1)</script>"

# The Kantara Consent Receipt 1.1 MVCR code lists (specification appendices B and C).
MVCR_PURPOSES = {
    "1 - Core Function",
    "2 - Contracted Service",
    "3 - Delivery",
    "4 - Contact Requested",
    "5 - Personalized Experience",
    "6 - Marketing",
    "7 - Marketing Third Parties",
    "8 - Sharing for Delivery",
    "9 - Sharing for Marketing",
    "10 - 3rd Party Sharing for Core Function",
    "11 - 3rd Party Sharing for ...",
    "12 - Legally Required Data Retention",
    "13 - Required by Law Enforcement or Government",
    "14 - Protecting Your Health",
    "15 - Protecting Our Interests",
    "16 - Improve Performance",
}
MVCR_PII = {
    "1 - Biographical",
    "2 - Contact",
    "3 - Biometric",
    "4 - Communications/Social",
    "5 - Network/Service",
    "6 - Health",
    "7 - Financial",
    "8 - Official/Government Identifiers",
    "9 - Social Services/Welfare",
    "10 - Judicial",
    "11 - Property/Asset",
    "12 - Human Resources",
    "13 - Psychological/Attitudinal",
    "14 - Membership",
    "15 - Behavioural",
    "16 - Profile",
}


def evidence(**overrides: object) -> Evidence:
    values: dict[str, object] = {
        "channel": "webshop",
        "notice_version": "2023-11-10",
        "wording_sha256": hash_wording("Ja, stuur mij de nieuwsbrief."),
    }
    values.update(overrides)
    return Evidence(**values)  # type: ignore[arg-type]


def open_kit(url: str = "memory://", inventory: Inventory | None = None) -> Kit:
    return Kit.open(url, inventory=inventory or ticketing.inventory(), clock=ManualClock(NOW))


@pytest.fixture
def kit():
    with open_kit() as opened:
        yield opened


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return START + timedelta(days=day - 1, hours=hour, minutes=minute)


def fill(kit: Kit) -> None:
    """A small May: consents, a withdrawal, objections, on three days."""
    ledger = kit.consent
    ledger.give("cust-1", "newsletter", evidence(order_ref="ord-1"), at=at(1, 9))
    ledger.give("cust-2", "newsletter", evidence(channel="box_office", actor="staff"), at=at(1))
    ledger.give("cust-3", "loyalty_programme", evidence(), at=at(1, 11))
    ledger.withdraw("cust-1", "newsletter", evidence(channel="email_link"), at=at(3))
    ledger.object("cust-2", "evaluation_mail", evidence(), at=at(3, 12))
    ledger.object("cust-3", "evaluation_mail", evidence(), at=at(3, 13))
    ledger.lift_objection("cust-3", "evaluation_mail", evidence(), at=at(5))
    ledger.give("cust-4", "newsletter", evidence(), at=at(40))  # June: outside the report


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# --------------------------------------------------------------------------- the report


def test_report_counts_given_withdrawn_and_objections_per_purpose_and_day(kit):
    fill(kit)
    report = ConsentReport.build(kit.consent, kit.inventory, **MAY)
    assert list(report.counts()) == [
        ("evaluation_mail", at(3).date(), 0, 0, 2, 0),
        ("evaluation_mail", at(5).date(), 0, 0, 0, 1),
        ("newsletter", at(1).date(), 2, 0, 0, 0),
        ("newsletter", at(3).date(), 0, 1, 0, 0),
        ("loyalty_programme", at(1).date(), 1, 0, 0, 0),
    ]
    assert report.events == 7


def test_report_lists_the_subjects_of_each_day_with_their_evidence(kit):
    fill(kit)
    report = ConsentReport.build(kit.consent, kit.inventory, **MAY)
    newsletter = next(s for s in report.sections if s.purpose.key == "newsletter")
    first_day = newsletter.days[0]
    assert [e.subject for e in first_day.events] == ["cust-1", "cust-2"]
    assert [e.evidence.channel.value for e in first_day.events] == ["webshop", "box_office"]
    assert first_day.events[1].evidence.actor is Actor.STAFF
    assert (newsletter.given, newsletter.withdrawn) == (2, 1)


def test_report_period_includes_since_and_excludes_until(kit):
    kit.consent.give("cust-1", "newsletter", evidence(), at=START)
    kit.consent.give("cust-2", "newsletter", evidence(), at=MAY["until"])
    report = ConsentReport.build(kit.consent, kit.inventory, **MAY)
    assert [e.subject for s in report.sections for d in s.days for e in d.events] == ["cust-1"]


def test_report_days_are_utc_calendar_days(kit):
    amsterdam = timezone(timedelta(hours=2))
    # 00:30 on 2 May in Amsterdam is still 1 May in UTC.
    kit.consent.give(
        "cust-1", "newsletter", evidence(), at=datetime(2024, 5, 2, 0, 30, tzinfo=amsterdam)
    )
    report = ConsentReport.build(kit.consent, kit.inventory, **MAY)
    assert [row[1] for row in report.counts()] == [datetime(2024, 5, 1).date()]  # noqa: DTZ001


def test_report_lists_every_consent_or_objection_purpose_even_without_events(kit):
    report = ConsentReport.build(kit.consent, kit.inventory, **MAY)
    keys = [section.purpose.key for section in report.sections]
    expected = [p.key for p in kit.inventory.purposes if p.needs_consent or p.objection_allowed]
    assert keys == expected
    assert "ticket_sale" not in keys
    assert all(section.days == () for section in report.sections)


def test_report_limited_to_one_purpose_has_one_section(kit):
    fill(kit)
    report = ConsentReport.build(kit.consent, kit.inventory, purpose="newsletter", **MAY)
    assert [s.purpose.key for s in report.sections] == ["newsletter"]
    assert report.events == 3
    assert report.purpose == "newsletter"


@pytest.mark.parametrize("purpose", ["ticket_sale", "no_such_purpose"])
def test_report_refuses_purposes_the_ledger_holds_nothing_for(kit, purpose):
    with pytest.raises(PolicyError, match=purpose):
        ConsentReport.build(kit.consent, kit.inventory, purpose=purpose, **MAY)


def test_report_refuses_naive_and_reversed_periods(kit):
    with pytest.raises(ValidationError, match="naive"):
        ConsentReport.build(
            kit.consent,
            kit.inventory,
            since=datetime(2024, 5, 1),  # noqa: DTZ001 - the point of the test
            until=MAY["until"],
        )
    with pytest.raises(ValidationError, match="earlier"):
        ConsentReport.build(kit.consent, kit.inventory, since=MAY["until"], until=START)


def test_report_reads_the_ledger_in_one_streamed_pass(kit):
    fill(kit)
    calls = []

    class CountingLedger:
        def events(self, **kwargs):
            calls.append(kwargs)
            yield from kit.consent.events(**kwargs)

        def history(self, _subject):  # pragma: no cover - must not be called
            raise AssertionError

    report = ConsentReport.build(CountingLedger(), kit.inventory, **MAY)  # type: ignore[arg-type]
    assert len(calls) == 1
    assert report.events == 7


def test_report_csv_has_one_line_per_event_with_evidence(kit):
    fill(kit)
    lines = rows(ConsentReport.build(kit.consent, kit.inventory, **MAY).to_csv("en"))
    header, body = lines[0], lines[1:]
    assert header[:5] == ["purpose", "day", "at", "subject", "action"]
    assert len(body) == 7
    records = [dict(zip(header, row, strict=True)) for row in body]
    assert [r["purpose"] for r in records] == ["evaluation_mail"] * 3 + ["newsletter"] * 3 + [
        "loyalty_programme"
    ]
    first = records[3]
    assert first["subject"] == "cust-1"
    assert first["action"] == "given"
    assert first["channel"] == "webshop"
    assert first["notice version"] == "2023-11-10"
    assert first["wording sha256"] == hash_wording("Ja, stuur mij de nieuwsbrief.")
    assert first["order"] == "ord-1"
    assert first["at"] == "2024-05-01T09:00:00Z"


def test_report_csv_header_follows_the_language(kit):
    report = ConsentReport.build(kit.consent, kit.inventory, **MAY)
    assert rows(report.to_csv("nl"))[0][:4] == ["doel", "dag", "tijdstip", "betrokkene"]
    assert rows(report.counts_csv("nl"))[0][2] == "gegeven"


def test_report_counts_csv_matches_the_counts(kit):
    fill(kit)
    report = ConsentReport.build(kit.consent, kit.inventory, **MAY)
    body = rows(report.counts_csv("en"))[1:]
    assert body == [
        [p, d.isoformat(), str(g), str(w), str(o), str(lifted)]
        for p, d, g, w, o, lifted in report.counts()
    ]


def test_report_csv_cells_cannot_start_a_formula(kit):
    kit.consent.give(
        '=HYPERLINK("http://x")', "newsletter", evidence(order_ref="+31612345678"), at=at(2)
    )
    kit.consent.give("@SUM(A1)", "newsletter", evidence(order_ref="-1"), at=at(2, 11))
    text = ConsentReport.build(kit.consent, kit.inventory, **MAY).to_csv("en")
    cells = [cell for row in rows(text)[1:] for cell in row]
    assert '\'=HYPERLINK("http://x")' in cells
    assert "'+31612345678" in cells
    assert "'@SUM(A1)" in cells
    assert not any(cell[:1] in {"=", "+", "-", "@"} for cell in cells)


def test_report_html_escapes_subject_ids_and_order_references(kit):
    kit.consent.give(
        SCRIPT, "newsletter", evidence(order_ref="<img src=x onerror=alert(2)>"), at=at(2)
    )
    html = ConsentReport.build(kit.consent, kit.inventory, **MAY).to_html("en")
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html


def test_report_html_is_printable_with_a_page_per_purpose_and_a_header(kit):
    fill(kit)
    report = ConsentReport.build(kit.consent, kit.inventory, **MAY)
    html = report.to_html("en")
    assert "@media print" in html
    assert "page-break-before: always" in html
    assert html.count('<section class="purpose"') == len(report.sections) == 7
    assert "Voorbeeldpodium Groningen (sample data)" in html
    assert "2024-05-01 00:00:00 UTC" in html
    assert "2024-06-01 00:00:00 UTC" in html


def test_report_html_speaks_dutch_and_english(kit):
    fill(kit)
    report = ConsentReport.build(kit.consent, kit.inventory, **MAY)
    dutch, english = report.to_html("nl"), report.to_html("en")
    assert '<html lang="nl">' in dutch
    assert "Toestemmingsrapport" in dutch
    assert "toestemming ingetrokken" in dutch
    assert "Consent report" in english
    assert "consent withdrawn" in english
    assert "Geen handelingen in deze periode." in dutch  # share_with_artist had none
    with pytest.raises(ValidationError, match="language"):
        report.to_html("de")  # type: ignore[arg-type]


_KINDS = st.sampled_from(
    [
        ("newsletter", ConsentAction.GIVEN),
        ("newsletter", ConsentAction.WITHDRAWN),
        ("loyalty_programme", ConsentAction.GIVEN),
        ("newsletter", ConsentAction.OBJECTED),
        ("evaluation_mail", ConsentAction.OBJECTED),
        ("evaluation_mail", ConsentAction.OBJECTION_LIFTED),
    ]
)
_EVENTS = st.lists(
    st.tuples(st.sampled_from(["cust-1", "cust-2", "cust-3"]), _KINDS, st.integers(0, 24 * 45)),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=_EVENTS)
def test_report_counts_equal_a_direct_count_of_the_events_in_the_period(events):
    """Property: per purpose, day and kind, the report counts exactly the events in the period."""
    with open_kit() as kit:
        record = {
            ConsentAction.GIVEN: kit.consent.give,
            ConsentAction.WITHDRAWN: kit.consent.withdraw,
            ConsentAction.OBJECTED: kit.consent.object,
            ConsentAction.OBJECTION_LIFTED: kit.consent.lift_objection,
        }
        expected: Counter[tuple[str, object, ConsentAction]] = Counter()
        for subject, (purpose, kind), hours in events:
            when = START + timedelta(hours=hours)
            record[kind](subject, purpose, evidence(), at=when)
            if when < MAY["until"]:
                expected[purpose, when.date(), kind] += 1
        report = ConsentReport.build(kit.consent, kit.inventory, **MAY)
        counted: Counter[tuple[str, object, ConsentAction]] = Counter()
        for purpose, day, given_, withdrawn, objected, lifted in report.counts():
            for kind, n in zip(ConsentAction, (given_, withdrawn, objected, lifted), strict=True):
                if n:
                    counted[purpose, day, kind] += n
        assert counted == expected
        assert report.events == sum(expected.values())


def test_report_over_sqlite_matches_memory(tmp_path):
    reports = []
    for url in ("memory://", f"sqlite:///{tmp_path / 'avg.db'}"):
        with open_kit(url) as kit:
            fill(kit)
            reports.append(ConsentReport.build(kit.consent, kit.inventory, **MAY).to_csv("en"))
    assert reports[0] == reports[1]


# --------------------------------------------------------------------------- Kantara


@pytest.fixture
def kantara_validator(shared_data):
    folder = shared_data / "kantara-cr-1.1"
    schema = json.loads((folder / "consent-receipt-v1_1.schema.json").read_text("utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    validator = jsonschema.Draft4Validator(schema)
    # The specification's own example passes, so the validator is the real one.
    validator.validate(json.loads((folder / "example.json").read_text("utf-8")))
    return validator


def receipts_for(kit: Kit, subject: str, **options: object) -> list[dict]:
    return kantara_receipts(kit.consent, kit.inventory, subject, policy_url=POLICY, **options)  # type: ignore[arg-type]


def test_kantara_receipts_validate_against_the_schema(kit, kantara_validator):
    fill(kit)
    kit.consent.give("cust-1", "share_with_artist", evidence(confirmed_at=at(7, 10, 5)), at=at(7))
    kit.consent.give("cust-1", "newsletter", evidence(expires_at=at(300)), at=at(8))
    receipts = receipts_for(kit, "cust-1") + receipts_for(kit, "cust-3", lang="nl")
    assert len(receipts) == 4
    for receipt in receipts:
        kantara_validator.validate(receipt)


def test_kantara_validator_catches_a_third_party_disclosure_without_a_name(kit, kantara_validator):
    kit.consent.give("cust-1", "share_with_artist", evidence(), at=at(2))
    receipt = receipts_for(kit, "cust-1")[0]
    del receipt["services"][0]["purposes"][0]["thirdPartyName"]
    with pytest.raises(jsonschema.ValidationError):
        kantara_validator.validate(receipt)


def test_kantara_receipt_per_consent_given_only(kit):
    fill(kit)  # cust-1 gave and withdrew the newsletter; cust-2 objected
    assert [r["services"][0]["service"] for r in receipts_for(kit, "cust-1")] == ["newsletter"]
    assert [r["services"][0]["service"] for r in receipts_for(kit, "cust-2")] == ["newsletter"]
    assert receipts_for(kit, "nobody") == []


def test_kantara_receipt_fields_come_from_the_event_and_the_inventory(kit):
    event = kit.consent.give(
        "cust-1", "newsletter", evidence(channel="box_office"), at=at(2, 14, 30)
    )
    (receipt,) = receipts_for(kit, "cust-1")
    assert receipt["version"] == KANTARA_VERSION
    assert receipt["consentTimestamp"] == int(event.at.timestamp())
    assert isinstance(receipt["consentTimestamp"], int)
    assert receipt["jurisdiction"] == "NL"
    assert receipt["piiPrincipalId"] == "cust-1"
    assert receipt["policyUrl"] == POLICY
    assert receipt["piiControllers"][0]["piiController"] == kit.inventory.controller.name
    assert receipt["piiControllers"][0]["email"] == kit.inventory.controller.email
    assert "box office" in receipt["collectionMethod"]
    assert "2023-11-10" in receipt["collectionMethod"]
    purpose = receipt["services"][0]["purposes"][0]
    assert purpose["purposeCategory"] == ["6 - Marketing"]
    assert purpose["piiCategory"] == ["1 - Biographical", "2 - Contact"]
    assert purpose["consentType"] == "EXPLICIT"
    # The mail platform is a processor, not a third party (Art. 4(10)).
    assert purpose["thirdPartyDisclosure"] is False
    assert "thirdPartyName" not in purpose
    assert receipt["sensitive"] is False
    assert receipt["spiCat"] == []


def test_kantara_third_party_disclosure_names_the_recipients(kit):
    kit.consent.give("cust-1", "share_with_artist", evidence(), at=at(2))
    purpose = receipts_for(kit, "cust-1")[0]["services"][0]["purposes"][0]
    assert purpose["thirdPartyDisclosure"] is True
    assert purpose["thirdPartyName"] == "The performing artist"
    assert purpose["purposeCategory"] == ["9 - Sharing for Marketing"]


def test_kantara_receipt_ids_are_stable_across_exports_and_distinct_per_event(kit):
    kit.consent.give("cust-1", "newsletter", evidence(), at=at(2))
    kit.consent.give("cust-1", "newsletter", evidence(), at=at(2))  # same instant, new event
    first, second = receipts_for(kit, "cust-1"), receipts_for(kit, "cust-1")
    assert first == second
    ids = [r["consentReceiptID"] for r in first]
    assert len(set(ids)) == 2


def test_kantara_receipt_is_in_the_requested_language(kit):
    kit.consent.give("cust-1", "newsletter", evidence(), at=at(2))
    (receipt,) = receipts_for(kit, "cust-1", lang="nl")
    assert receipt["language"] == "nl"
    assert receipt["services"][0]["purposes"][0]["purpose"].startswith("Nieuwsbrieven")
    assert "webwinkel" in receipt["collectionMethod"]


def test_kantara_marks_special_category_data_sensitive(kantara_validator):
    mapping = ticketing.inventory().to_mapping()
    mapping["fields"]["dietary_needs"] = {
        "category": "Health",
        "identifier": "sensitive",
        "treatment": "drop",
        "purposes": ["loyalty_programme"],
        "special_category": "health",
        "art9_condition": "explicit_consent",
    }
    with open_kit(inventory=Inventory.from_mapping(mapping)) as kit:
        kit.consent.give("cust-1", "loyalty_programme", evidence(), at=at(2))
        (receipt,) = receipts_for(kit, "cust-1")
    kantara_validator.validate(receipt)
    assert receipt["sensitive"] is True
    assert receipt["spiCat"] == ["6 - Health"]
    assert "6 - Health" in receipt["services"][0]["purposes"][0]["piiCategory"]


@pytest.mark.parametrize("url", ["", "privacy.html", "javascript:alert(1)", "https://x y"])
def test_kantara_refuses_a_policy_url_that_is_not_http(kit, url):
    with pytest.raises(ValidationError, match="policy_url"):
        kantara_receipts(kit.consent, kit.inventory, "cust-1", policy_url=url)


def test_every_dpv_category_has_an_mvcr_category():
    assert set(vocab.PII_CATEGORIES) <= set(_dpv.DATA_CATEGORIES)
    assert set(vocab.PII_BRANCHES) <= set(_dpv.DATA_CATEGORIES)
    assert set(vocab.PII_CATEGORIES.values()) | set(vocab.PII_BRANCHES.values()) <= MVCR_PII
    assert {vocab.pii_category(term) for term in _dpv.DATA_CATEGORIES} <= MVCR_PII
    assert vocab.pii_category("BloodType") == "6 - Health"  # through MedicalHealth
    assert vocab.pii_category("Nationality") == "1 - Biographical"  # through External


def test_every_purpose_category_avgkit_emits_is_an_mvcr_code():
    emitted = set(vocab.DPV_PURPOSE_CATEGORIES.values()) | set(vocab.BASIS_CATEGORIES.values())
    emitted |= {vocab.MARKETING, vocab.SHARING_FOR_MARKETING, vocab.THIRD_PARTY_CORE_FUNCTION}
    assert emitted <= MVCR_PURPOSES


# --------------------------------------------------------------------------- ISO/IEC TS 27560


@pytest.fixture
def dpv_terms(shared_data):
    terms = set()
    for name in ("dpv", "pd", "eu-gdpr"):
        with (shared_data / "dpv-2.3" / f"{name}.csv").open(encoding="utf-8", newline="") as f:
            terms.update(row["iri"] for row in csv.DictReader(f))
    return terms


def iris_in(value: object) -> set[str]:
    if isinstance(value, str):
        return {value} if value.startswith("https://w3id.org/dpv") else set()
    if isinstance(value, dict):
        return set().union(*(iris_in(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(iris_in(v) for v in value)) if value else set()
    return set()


def records_for(kit: Kit, subject: str, **options: object) -> dict[str, dict]:
    records = iso27560_records(kit.consent, kit.inventory, subject, **options)  # type: ignore[arg-type]
    return {record["purpose"]["purpose_id"]: record for record in records}


def test_iso27560_every_iri_emitted_exists_in_dpv(kit, dpv_terms):
    fill(kit)
    kit.consent.give("cust-5", "newsletter", evidence(expires_at=at(4)), at=at(2))
    kit.consent.give("cust-5", "newsletter", evidence(), at=at(3))
    kit.consent.withdraw("cust-6", "newsletter", evidence(), at=at(2))
    kit.consent.give("cust-6", "share_with_artist", evidence(expires_at=at(3)), at=at(2))
    emitted = set()
    for subject in ("cust-1", "cust-2", "cust-3", "cust-5", "cust-6"):
        emitted |= iris_in(iso27560_records(kit.consent, kit.inventory, subject))
    assert emitted
    assert sorted(emitted - dpv_terms) == []
    assert sorted(vocab.STATUS_IRIS - dpv_terms) == []
    assert sorted(set(vocab.DPV_PURPOSE_CATEGORIES) - dpv_terms) == []


def test_iso27560_record_per_purpose_with_subject_purpose_basis_and_status(kit):
    fill(kit)
    records = records_for(kit, "cust-2")
    assert list(records) == ["evaluation_mail", "newsletter"]  # the inventory's order
    newsletter = records["newsletter"]
    assert newsletter["schema_version"] == ISO27560_SCHEMA_VERSION
    assert newsletter["pii_principal_id"] == "cust-2"
    assert newsletter["purpose"]["purpose_iri"] == "https://w3id.org/dpv#DirectMarketing"
    assert newsletter["purpose"]["lawful_basis"] == "https://w3id.org/dpv/legal/eu/gdpr#A6-1-a"
    assert "https://w3id.org/dpv/pd#EmailAddress" in newsletter["purpose"]["personal_data"]
    assert newsletter["consent_status"] == vocab.CONSENT_GIVEN
    assert newsletter["objection_status"] is None
    assert newsletter["state_at"] == "2024-07-01T12:00:00Z"
    evaluation = records["evaluation_mail"]
    assert evaluation["purpose"]["lawful_basis"] == "https://w3id.org/dpv/legal/eu/gdpr#A6-1-f"
    assert evaluation["consent_status"] is None
    assert evaluation["objection_status"] == vocab.LEGITIMATE_INTEREST_OBJECTED


def test_iso27560_purpose_without_a_dpv_purpose_has_none(kit):
    kit.consent.give("cust-1", "share_with_artist", evidence(), at=at(2))
    assert records_for(kit, "cust-1")["share_with_artist"]["purpose"]["purpose_iri"] is None


def test_iso27560_history_holds_every_event_with_its_evidence_oldest_first(kit):
    fill(kit)
    record = records_for(kit, "cust-1")["newsletter"]
    history = record["history"]
    assert [e["event_type"] for e in history] == ["given", "withdrawn"]
    assert [e["event_time"] for e in history] == ["2024-05-01T09:00:00Z", "2024-05-03T10:00:00Z"]
    assert [e["event_state"] for e in history] == [vocab.CONSENT_GIVEN, vocab.CONSENT_WITHDRAWN]
    assert history[1]["right"] == vocab.RIGHT_TO_WITHDRAW
    assert history[0]["evidence"] == {
        "channel": "webshop",
        "notice_version": "2023-11-10",
        "wording_sha256": hash_wording("Ja, stuur mij de nieuwsbrief."),
        "staff_key": None,
        "order_ref": "ord-1",
        "confirmed_at": None,
        "expires_at": None,
        "presentation": None,
        "requested_at": None,
        "confirmed_via": None,
        "wording": None,
        "notice": None,
    }
    assert record["event"] == history[-1]
    assert record["consent_status"] == vocab.CONSENT_WITHDRAWN


def test_iso27560_consent_given_again_while_live_is_renewed(kit):
    kit.consent.give("cust-1", "newsletter", evidence(), at=at(1))
    kit.consent.give("cust-1", "newsletter", evidence(), at=at(2))
    kit.consent.withdraw("cust-1", "newsletter", evidence(), at=at(3))
    kit.consent.give("cust-1", "newsletter", evidence(), at=at(4))
    states = [e["event_state"] for e in records_for(kit, "cust-1")["newsletter"]["history"]]
    assert states == [
        vocab.CONSENT_GIVEN,
        vocab.RENEWED_CONSENT_GIVEN,
        vocab.CONSENT_WITHDRAWN,
        vocab.CONSENT_GIVEN,
    ]


def test_iso27560_consent_given_after_expiry_is_not_a_renewal(kit):
    kit.consent.give("cust-1", "newsletter", evidence(expires_at=at(3)), at=at(1))
    kit.consent.give("cust-1", "newsletter", evidence(), at=at(5))
    states = [e["event_state"] for e in records_for(kit, "cust-1")["newsletter"]["history"]]
    assert states == [vocab.CONSENT_GIVEN, vocab.CONSENT_GIVEN]


def test_iso27560_expired_consent_has_the_expired_status(kit):
    kit.consent.give("cust-1", "newsletter", evidence(expires_at=at(10)), at=at(1))
    assert records_for(kit, "cust-1")["newsletter"]["consent_status"] == vocab.CONSENT_EXPIRED
    then = records_for(kit, "cust-1", at=at(5))["newsletter"]
    assert then["consent_status"] == vocab.CONSENT_GIVEN


def test_iso27560_withdrawal_without_consent_is_a_refusal(kit):
    kit.consent.withdraw("cust-1", "newsletter", evidence(), at=at(1))
    record = records_for(kit, "cust-1")["newsletter"]
    assert record["consent_status"] == vocab.CONSENT_REFUSED
    assert record["history"][0]["event_state"] == vocab.CONSENT_REFUSED


def test_iso27560_objection_to_consent_based_marketing_names_the_right_only(kit):
    kit.consent.object("cust-1", "newsletter", evidence(), at=at(1))
    record = records_for(kit, "cust-1")["newsletter"]
    assert record["history"][0]["event_state"] is None
    assert record["history"][0]["right"] == vocab.RIGHT_TO_OBJECT
    assert record["consent_status"] is None
    assert record["objection_status"] is None


def test_iso27560_lifted_objection_is_not_objected(kit):
    fill(kit)
    record = records_for(kit, "cust-3")["evaluation_mail"]
    assert record["objection_status"] == vocab.LEGITIMATE_INTEREST_NOT_OBJECTED
    assert [e["event_state"] for e in record["history"]] == [
        vocab.LEGITIMATE_INTEREST_OBJECTED,
        vocab.LEGITIMATE_INTEREST_NOT_OBJECTED,
    ]


def test_iso27560_at_a_past_instant_leaves_out_later_events(kit):
    fill(kit)
    record = records_for(kit, "cust-1", at=at(2))["newsletter"]
    assert [e["event_type"] for e in record["history"]] == ["given"]
    assert record["consent_status"] == vocab.CONSENT_GIVEN
    assert record["state_at"] == "2024-05-02T10:00:00Z"
    assert records_for(kit, "cust-3", at=at(1, 10)) == {}


def test_iso27560_ids_are_stable_and_records_are_json(kit):
    fill(kit)
    first = iso27560_records(kit.consent, kit.inventory, "cust-1")
    again = iso27560_records(kit.consent, kit.inventory, "cust-1")
    assert first == again
    assert json.loads(json.dumps(first)) == first
    ids = {first[0]["record_id"], *(e["event_id"] for e in first[0]["history"])}
    assert len(ids) == 3


def test_iso27560_refuses_a_naive_instant_and_a_bad_subject(kit):
    with pytest.raises(ValidationError, match="naive"):
        iso27560_records(kit.consent, kit.inventory, "cust-1", at=datetime(2024, 5, 1))  # noqa: DTZ001
    with pytest.raises(ValidationError, match="subject id"):
        iso27560_records(kit.consent, kit.inventory, "")


def test_exports_hold_no_events_of_other_subjects(kit):
    fill(kit)
    assert {r["piiPrincipalId"] for r in receipts_for(kit, "cust-2")} == {"cust-2"}
    assert {r["pii_principal_id"] for r in records_for(kit, "cust-2").values()} == {"cust-2"}


def test_report_keeps_events_of_a_purpose_whose_basis_changed_since(tmp_path):
    url = f"sqlite:///{tmp_path / 'avg.db'}"
    with open_kit(url) as kit:
        kit.consent.give("cust-1", "share_with_artist", evidence(), at=at(2))
    mapping = ticketing.inventory().to_mapping()
    mapping["purposes"]["share_with_artist"]["basis"] = "contract"
    with open_kit(url, inventory=Inventory.from_mapping(mapping)) as kit:
        report = ConsentReport.build(kit.consent, kit.inventory, **MAY)
    assert ("share_with_artist", at(2).date(), 1, 0, 0, 0) in list(report.counts())


def test_exports_refuse_events_of_purposes_the_inventory_no_longer_declares(tmp_path):
    url = f"sqlite:///{tmp_path / 'avg.db'}"
    with open_kit(url) as kit:
        kit.consent.give("cust-1", "share_with_artist", evidence(), at=at(2))
    mapping = ticketing.inventory().to_mapping()
    del mapping["purposes"]["share_with_artist"]
    for field in mapping["fields"].values():
        field["purposes"] = [p for p in field["purposes"] if p != "share_with_artist"]
    with open_kit(url, inventory=Inventory.from_mapping(mapping)) as kit:
        with pytest.raises(PolicyError, match="share_with_artist"):
            ConsentReport.build(kit.consent, kit.inventory, **MAY)
        with pytest.raises(PolicyError, match="share_with_artist"):
            iso27560_records(kit.consent, kit.inventory, "cust-1")
        with pytest.raises(PolicyError, match="share_with_artist"):
            receipts_for(kit, "cust-1")


def test_the_ledger_offers_the_report_receipts_and_records_directly(kit):
    """kit.consent.report / kantara_receipts / iso27560_records equal the module functions."""
    fill(kit)
    inventory = kit.inventory
    since, until = at(1, 0), at(20, 0)
    direct = ConsentReport.build(kit.consent, inventory, since=since, until=until)
    assert kit.consent.report(since=since, until=until).to_csv("en") == direct.to_csv("en")
    url = "https://venue.example/privacy"
    assert kit.consent.kantara_receipts("cust-1", policy_url=url) == kantara_receipts(
        kit.consent, inventory, "cust-1", policy_url=url
    )
    assert kit.consent.iso27560_records("cust-1") == iso27560_records(
        kit.consent, inventory, "cust-1"
    )
