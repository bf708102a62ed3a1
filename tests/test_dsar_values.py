"""Request and feed values: validation, DPV terms, no personal data in repr or errors."""

import pickle
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from avgkit.dsar import (
    OPEN_STATUSES,
    DueRequest,
    ExtensionReason,
    RefusalReason,
    RequestKind,
    RequestStatus,
    RequestTransition,
    SubjectRequest,
)
from avgkit.dsar._values import (
    DUE_FLAGS,
    MAX_DETAIL_LENGTH,
    MAX_DETAILS,
    check_actor,
    check_change,
    check_request_id,
    reason_from_value,
    stored_due,
    stored_request,
)
from avgkit.errors import ValidationError
from avgkit.feed import FeedKind, FeedNotice
from avgkit.feed._values import check_notices
from avgkit.subjects import SubjectId

T0 = datetime(2025, 4, 7, 8, 30, tzinfo=UTC)
GDPR = "https://w3id.org/dpv/legal/eu/gdpr#"
DPV = "https://w3id.org/dpv#"
REF = "sr1:" + "ab" * 16
PERSONAL = "jan.jansen@voorbeeld.nl"


def request(**changes):
    fields = {
        "id": "req_1",
        "kind": RequestKind.ACCESS,
        "subject": "cust-1042",
        "received_at": T0,
        "due_at": T0 + timedelta(days=30),
        "status": RequestStatus.RECEIVED,
        "updated_at": T0,
    }
    fields.update(changes)
    return SubjectRequest(**fields)


def transition(**changes):
    fields = {
        "request_id": "req_1",
        "seq": 1,
        "status": RequestStatus.RECEIVED,
        "at": T0,
        "actor": "subject",
    }
    fields.update(changes)
    return RequestTransition(**fields)


def feed_notice(**changes):
    fields = {
        "recipient": "crm",
        "kind": FeedKind.ERASURE,
        "subject_ref": REF,
        "subject": "cust-1042",
        "at": T0,
    }
    fields.update(changes)
    return FeedNotice(**fields)


# -- the vocabularies and their DPV terms ---------------------------------------------------


def test_each_kind_names_its_right_and_article():
    expected = {
        RequestKind.ACCESS: ("A15", "Art. 15"),
        RequestKind.PORTABILITY: ("A20", "Art. 20"),
        RequestKind.RECTIFICATION: ("A16", "Art. 16"),
        RequestKind.ERASURE: ("A17", "Art. 17"),
        RequestKind.RESTRICTION: ("A18", "Art. 18"),
        RequestKind.OBJECTION: ("A21", "Art. 21"),
    }
    assert set(expected) == set(RequestKind)
    for kind, (term, article) in expected.items():
        assert kind.right == GDPR + term
        assert kind.article == article
    assert [k.value for k in RequestKind] == [
        "access",
        "portability",
        "rectification",
        "erasure",
        "restriction",
        "objection",
    ]


def test_each_status_is_a_dpv_request_status_and_knows_whether_it_is_open():
    expected = {
        RequestStatus.RECEIVED: ("RequestInitiated", True),
        RequestStatus.VERIFIED: ("RequestAcknowledged", True),
        RequestStatus.IN_PROGRESS: ("RequestAccepted", True),
        RequestStatus.EXTENDED: ("RequestActionDelayed", True),
        RequestStatus.COMPLETED: ("RequestFulfilled", False),
        RequestStatus.REFUSED: ("RequestRejected", False),
    }
    assert set(expected) == set(RequestStatus)
    for status, (term, is_open) in expected.items():
        assert status.dpv == DPV + term
        assert status.open is is_open
    assert tuple(s for s, (_, o) in expected.items() if o) == OPEN_STATUSES


def test_refusal_and_extension_reasons_carry_their_article_and_dpv_justification():
    refusals = {
        RefusalReason.MANIFESTLY_UNFOUNDED: (
            GDPR + "JustificationA12ManifestlyUnfounded",
            "Art. 12(5)",
        ),
        RefusalReason.MANIFESTLY_EXCESSIVE: (
            GDPR + "JustificationA12ManifestlyExcessive",
            "Art. 12(5)",
        ),
        RefusalReason.IDENTITY_NOT_ESTABLISHED: (
            GDPR + "JustificationA12IdentityFailure",
            "Art. 12(6)",
        ),
        RefusalReason.LEGAL_OBLIGATION: (DPV + "LegalObligation", "Art. 17(3)(b)"),
    }
    assert set(refusals) == set(RefusalReason)
    for reason, (iri, article) in refusals.items():
        assert reason.dpv == iri
        assert reason.article == article
    assert ExtensionReason.COMPLEXITY.dpv == GDPR + "JustificationA12Complexity"
    assert ExtensionReason.NUMBER_OF_REQUESTS.dpv == GDPR + "JustificationA12HighVolume"
    assert {r.article for r in ExtensionReason} == {"Art. 12(3)"}


@pytest.mark.parametrize("vocabulary", [RequestKind, RequestStatus, RefusalReason, ExtensionReason])
def test_every_member_has_a_dutch_and_an_english_label(vocabulary):
    for member in vocabulary:
        assert member.label("nl")
        assert member.label("en")


def test_a_reason_is_found_by_its_value_and_an_unknown_one_refused():
    assert reason_from_value("complexity") is ExtensionReason.COMPLEXITY
    assert reason_from_value("legal_obligation") is RefusalReason.LEGAL_OBLIGATION
    with pytest.raises(ValidationError, match="request reason"):
        reason_from_value("whim")
    assert not {r.value for r in RefusalReason} & {r.value for r in ExtensionReason}


# -- SubjectRequest -------------------------------------------------------------------------


def test_a_request_converts_values_to_members_and_instants_to_utc():
    cest = timezone(timedelta(hours=2))
    made = request(
        kind="erasure",
        status="refused",
        reason="manifestly_excessive",
        received_at=T0.astimezone(cest),
    )
    assert made.kind is RequestKind.ERASURE
    assert made.status is RequestStatus.REFUSED
    assert made.reason is RefusalReason.MANIFESTLY_EXCESSIVE
    assert made.received_at == T0
    assert made.received_at.utcoffset() == timedelta(0)
    assert not made.open
    assert request().open


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"received_at": datetime(2025, 4, 7)}, id="naive-received"),  # noqa: DTZ001
        pytest.param({"due_at": T0}, id="due-at-received"),
        pytest.param({"due_at": T0 - timedelta(days=1)}, id="due-before-received"),
        pytest.param({"updated_at": T0 - timedelta(seconds=1)}, id="updated-before-received"),
        pytest.param({"id": ""}, id="empty-id"),
        pytest.param({"id": "x" * 65}, id="long-id"),
        pytest.param({"id": "req 1"}, id="space-in-id"),
        pytest.param({"id": "req/1"}, id="slash-in-id"),
        pytest.param({"kind": "complaint"}, id="unknown-kind"),
        pytest.param({"status": "lost"}, id="unknown-status"),
        pytest.param({"subject": ""}, id="empty-subject"),
        pytest.param({"extended": 1}, id="extended-not-a-bool"),
        pytest.param({"duplicate_of": "req_1"}, id="duplicate-of-itself"),
        pytest.param({"duplicate_of": "req 0"}, id="duplicate-of-a-non-id"),
        pytest.param({"reason": 3}, id="reason-of-another-type"),
    ],
)
def test_a_malformed_request_is_refused(changes):
    with pytest.raises(ValidationError):
        request(**changes)


def test_details_are_a_read_only_copy_kept_out_of_repr():
    source = {"email": PERSONAL, "postal_address": "Dorpsstraat 1"}
    made = request(kind=RequestKind.RECTIFICATION, details=source)
    source["email"] = "changed"
    assert made.details == {"email": PERSONAL, "postal_address": "Dorpsstraat 1"}
    with pytest.raises(TypeError):
        made.details["email"] = "x"  # type: ignore[index]
    assert hash(made) == hash(attrs.evolve(made))
    assert made == request(kind=RequestKind.RECTIFICATION, details=dict(made.details))
    assert made != request(kind=RequestKind.RECTIFICATION, details={"email": "other"})
    shown = repr(made)
    assert PERSONAL not in shown
    assert "Dorpsstraat" not in shown
    assert "cust-1042" not in shown
    assert "req_1" in shown


@pytest.mark.parametrize(
    "details",
    [
        pytest.param([("email", PERSONAL)], id="not-a-mapping"),
        pytest.param({"E-mail": PERSONAL}, id="key-not-snake-case"),
        pytest.param({"email": 42}, id="value-not-text"),
        pytest.param({"email": "x" * (MAX_DETAIL_LENGTH + 1)}, id="value-too-long"),
        pytest.param({"email": "a\udc80b"}, id="lone-surrogate"),
        pytest.param({f"f{n}": "x" for n in range(MAX_DETAILS + 1)}, id="too-many"),
    ],
)
def test_malformed_details_are_refused_without_quoting_the_values(details):
    with pytest.raises(ValidationError) as caught:
        request(details=details)
    assert PERSONAL not in str(caught.value)
    assert "xxxxxxxx" not in str(caught.value)


def _model_accepts(status, verified, extended, reason):
    """The consistency rules a request's status, verification, extension and reason obey."""
    if status not in {RequestStatus.RECEIVED, RequestStatus.REFUSED} and not verified:
        return False
    if status is RequestStatus.RECEIVED and (verified or extended):
        return False
    if status is RequestStatus.EXTENDED and not extended:
        return False
    if isinstance(reason, ExtensionReason) and not extended:
        return False
    return (status is RequestStatus.REFUSED) == isinstance(reason, RefusalReason)


@given(
    status=st.sampled_from(list(RequestStatus)),
    verified=st.booleans(),
    extended=st.booleans(),
    reason=st.sampled_from([None, *RefusalReason, *ExtensionReason]),
)
def test_status_verification_extension_and_reason_must_agree(status, verified, extended, reason):
    changes = {
        "status": status,
        "verified_at": T0 + timedelta(hours=1) if verified else None,
        "extended": extended,
        "reason": reason,
        "updated_at": T0 + timedelta(hours=2),
    }
    if _model_accepts(status, verified, extended, reason):
        made = request(**changes)
        assert (made.status, made.extended, made.reason) == (status, extended, reason)
    else:
        with pytest.raises(ValidationError):
            request(**changes)


@given(
    status=st.sampled_from(list(RequestStatus)),
    verified=st.booleans(),
    extended=st.booleans(),
    reason=st.sampled_from([None, *RefusalReason, *ExtensionReason]),
    details=st.dictionaries(st.sampled_from(["email", "name", "note"]), st.text(max_size=9)),
    duplicate_of=st.sampled_from([None, "req_0"]),
)
def test_a_stored_request_equals_the_one_the_class_makes(
    *, status, verified, extended, reason, details, duplicate_of
):
    fields = {
        "id": "req_1",
        "kind": RequestKind.RECTIFICATION,
        "subject": SubjectId("cust-1042"),
        "received_at": T0,
        "due_at": T0 + timedelta(days=30),
        "status": status,
        "updated_at": T0 + timedelta(hours=2),
        "verified_at": T0 + timedelta(hours=1) if verified else None,
        "extended": extended,
        "duplicate_of": duplicate_of,
        "details": details,
        "reason": reason,
    }
    if _model_accepts(status, verified, extended, reason):
        rebuilt = stored_request(**fields)
        made = SubjectRequest(**fields)
        assert rebuilt == made
        assert all(
            getattr(rebuilt, f.name) == getattr(made, f.name) for f in attrs.fields(SubjectRequest)
        )
        assert dict(rebuilt.details) == dict(made.details)
        assert repr(rebuilt) == repr(made)
        assert hash(rebuilt) == hash(made)
    else:
        with pytest.raises(ValidationError):
            stored_request(**fields)


def test_a_stored_request_with_a_malformed_id_or_details_is_refused():
    fields = attrs.asdict(request(), recurse=False)
    with pytest.raises(ValidationError):
        stored_request(**{**fields, "id": "req 1"})
    with pytest.raises(ValidationError):
        stored_request(**{**fields, "details": ["email"]})
    with pytest.raises(ValidationError):
        stored_request(**{**fields, "due_at": T0})


def test_verification_cannot_come_before_the_request():
    with pytest.raises(ValidationError, match="verified_at"):
        request(status=RequestStatus.VERIFIED, verified_at=T0 - timedelta(seconds=1))


@given(
    details=st.dictionaries(
        st.from_regex(r"\A[a-z][a-z0-9_]{0,20}\Z"), st.text(max_size=50), max_size=8
    )
)
def test_any_mapping_of_field_keys_to_text_is_kept_exactly(details):
    made = request(kind=RequestKind.RECTIFICATION, details=details)
    assert dict(made.details) == details
    assert list(made.details) == list(details)


# -- RequestTransition ----------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["subject", "system", "staff:box_office_3", "staff:Jan.J-2"])
def test_a_transition_names_a_role_or_staff_key(actor):
    assert transition(actor=actor).actor == actor
    assert check_actor(actor) == actor


@pytest.mark.parametrize(
    "actor", ["", "Jan Jansen", PERSONAL, "staff:", "staff:jan jansen", "Subject", "x" * 40]
)
def test_a_transition_actor_that_could_be_personal_data_is_refused(actor):
    with pytest.raises(ValidationError) as caught:
        transition(actor=actor)
    assert PERSONAL not in str(caught.value)
    assert "Jan Jansen" not in str(caught.value)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"seq": 0}, id="seq-0"),
        pytest.param({"seq": True}, id="seq-bool"),
        pytest.param({"at": datetime(2025, 4, 7)}, id="naive"),  # noqa: DTZ001
        pytest.param({"status": RequestStatus.REFUSED}, id="refused-without-ground"),
        pytest.param({"status": RequestStatus.EXTENDED}, id="extended-without-reason"),
        pytest.param({"reason": ExtensionReason.COMPLEXITY}, id="extension-reason-elsewhere"),
        pytest.param({"reason": RefusalReason.MANIFESTLY_UNFOUNDED}, id="refusal-elsewhere"),
        pytest.param({"note": ""}, id="empty-note"),
        pytest.param({"note": "x" * 2001}, id="long-note"),
        pytest.param({"request_id": "req 1"}, id="bad-request-id"),
    ],
)
def test_a_malformed_transition_is_refused(changes):
    with pytest.raises(ValidationError):
        transition(**changes)


def test_a_transitions_note_is_kept_out_of_repr():
    made = transition(
        status=RequestStatus.EXTENDED,
        reason=ExtensionReason.NUMBER_OF_REQUESTS,
        note=f"called {PERSONAL}",
    )
    assert made.reason is ExtensionReason.NUMBER_OF_REQUESTS
    assert PERSONAL not in repr(made)
    assert transition(status="refused", reason="identity_not_established").reason is (
        RefusalReason.IDENTITY_NOT_ESTABLISHED
    )


def test_check_change_pairs_a_request_with_its_own_transition():
    made = request()
    assert check_change(made, transition(), first=True) == (made, transition())
    assert check_change(made, transition(seq=4), first=False)[1].seq == 4
    with pytest.raises(ValidationError, match="number 1"):
        check_change(made, transition(seq=2), first=True)
    with pytest.raises(ValidationError, match="req_2"):
        check_change(made, transition(request_id="req_2"), first=True)
    with pytest.raises(ValidationError, match="agree"):
        check_change(made, transition(status=RequestStatus.IN_PROGRESS), first=False)
    with pytest.raises(ValidationError, match="SubjectRequest"):
        check_change(attrs.asdict(made), transition(), first=True)
    with pytest.raises(ValidationError, match="RequestTransition"):
        check_change(made, None, first=True)


def test_a_request_id_is_quoted_only_when_it_looks_like_a_key():
    assert check_request_id("req_7f3a-01") == "req_7f3a-01"
    with pytest.raises(ValidationError) as caught:
        check_request_id(PERSONAL)
    assert PERSONAL not in str(caught.value)
    with pytest.raises(ValidationError):
        check_request_id(7)


# -- FeedNotice -----------------------------------------------------------------------------


def test_a_notice_keeps_the_subjects_host_id_out_of_repr():
    made = feed_notice(kind="rectification", fields=["email", "postal_address"])
    assert made.kind is FeedKind.RECTIFICATION
    assert made.fields == ("email", "postal_address")
    assert made.seq == 0
    assert "cust-1042" not in repr(made)
    assert REF in repr(made)
    assert feed_notice(subject=None).subject is None
    assert hash(made) == hash(attrs.evolve(made))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"subject_ref": "cust-1042"}, id="raw-id-as-reference"),
        pytest.param({"subject": REF}, id="reference-as-subject"),
        pytest.param({"recipient": "CRM System"}, id="recipient-not-a-key"),
        pytest.param({"kind": "gossip"}, id="unknown-kind"),
        pytest.param({"kind": FeedKind.CONSENT_GIVEN}, id="consent-without-purpose"),
        pytest.param({"kind": FeedKind.RECTIFICATION}, id="rectification-without-fields"),
        pytest.param({"fields": ("email",)}, id="fields-on-an-erasure"),
        pytest.param(
            {"kind": FeedKind.RECTIFICATION, "fields": ("email", "email")}, id="repeated-field"
        ),
        pytest.param({"kind": FeedKind.RECTIFICATION, "fields": (PERSONAL,)}, id="value-as-field"),
        pytest.param({"seq": -1}, id="negative-seq"),
        pytest.param({"at": datetime(2025, 4, 7)}, id="naive"),  # noqa: DTZ001
        pytest.param({"purpose": "News Letter"}, id="purpose-not-a-key"),
    ],
)
def test_a_malformed_notice_is_refused(changes):
    with pytest.raises(ValidationError) as caught:
        feed_notice(**changes)
    assert PERSONAL not in str(caught.value)
    assert "cust-1042" not in str(caught.value)


@pytest.mark.parametrize("kind", [FeedKind.CONSENT_GIVEN, FeedKind.CONSENT_WITHDRAWN])
def test_a_consent_notice_names_its_purpose(kind):
    assert feed_notice(kind=kind, purpose="newsletter").purpose == "newsletter"
    assert kind.needs_purpose
    assert not FeedKind.OBJECTION.needs_purpose


def test_check_notices_takes_a_list_of_unstored_notices():
    made = feed_notice()
    assert check_notices([made, made]) == (made, made)
    assert check_notices(()) == ()
    with pytest.raises(ValidationError, match="item 2"):
        check_notices([made, {"recipient": "crm"}])
    with pytest.raises(ValidationError, match="stored before"):
        check_notices([attrs.evolve(made, seq=3)])
    with pytest.raises(ValidationError, match="list or tuple"):
        check_notices(made)
    with pytest.raises(ValidationError, match="list or tuple"):
        check_notices("crm")


# -- the deadline queue's entries -------------------------------------------------------------


def due(**changes):
    fields = {
        "id": "req_1",
        "kind": RequestKind.ERASURE,
        "subject": "cust-1042",
        "status": RequestStatus.VERIFIED,
        "due_at": T0 + timedelta(days=30),
        "extended": False,
    }
    fields.update(changes)
    return DueRequest(**fields)


def _due_accepts(status, extended):
    return status.open and not (
        (status is RequestStatus.RECEIVED and extended)
        or (status is RequestStatus.EXTENDED and not extended)
    )


def _id_ok(request_id):
    try:
        check_request_id(request_id)
    except ValidationError:
        return False
    return True


@given(
    status=st.sampled_from(list(RequestStatus)),
    extended=st.booleans(),
    request_id=st.sampled_from(["req_1", "R-2_x", "a" * 64, "a" * 65, "req 1", "", "req_é"]),
)
def test_a_stored_queue_entry_equals_the_one_the_class_makes(status, extended, request_id):
    fields = {
        "id": request_id,
        "kind": RequestKind.RECTIFICATION,
        "subject": SubjectId("cust-1042"),
        "status": status,
        "due_at": T0 + timedelta(days=30),
        "extended": extended,
    }
    if _due_accepts(status, extended) and _id_ok(request_id):
        rebuilt = stored_due(*fields.values())
        made = DueRequest(**fields)
        assert type(rebuilt) is DueRequest
        assert rebuilt == made
        assert all(
            getattr(rebuilt, f.name) == getattr(made, f.name) for f in attrs.fields(DueRequest)
        )
        assert repr(rebuilt) == repr(made)
        assert hash(rebuilt) == hash(made)
        assert pickle.loads(pickle.dumps(rebuilt)) == made  # noqa: S301 - our own bytes
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            rebuilt.status = RequestStatus.COMPLETED
    else:
        with pytest.raises(ValidationError):
            stored_due(*fields.values())
        with pytest.raises(ValidationError):
            DueRequest(**fields)


def test_the_flags_each_open_status_allows_are_the_ones_the_class_accepts():
    assert set(DUE_FLAGS) == set(OPEN_STATUSES)
    for status in RequestStatus:
        for extended in (False, True):
            allowed = extended in DUE_FLAGS.get(status, {})
            assert allowed == _due_accepts(status, extended)
            if allowed:
                assert DUE_FLAGS[status][int(extended)] is extended


def test_a_queue_entry_is_the_open_request_s_deadline_and_nothing_personal():
    made = request(
        kind=RequestKind.RECTIFICATION,
        subject=PERSONAL,
        status=RequestStatus.EXTENDED,
        verified_at=T0,
        extended=True,
        reason=ExtensionReason.COMPLEXITY,
        due_at=(T0 + timedelta(days=90)).astimezone(timezone(timedelta(hours=2))),
        details={"email": PERSONAL},
    )
    entry = DueRequest.of(made)
    assert entry == due(
        kind=RequestKind.RECTIFICATION,
        subject=PERSONAL,
        status=RequestStatus.EXTENDED,
        due_at=T0 + timedelta(days=90),
        extended=True,
    )
    assert entry.due_at.tzinfo is UTC
    assert PERSONAL not in repr(entry)
    assert [f.name for f in attrs.fields(DueRequest)] == [
        "id",
        "kind",
        "subject",
        "status",
        "due_at",
        "extended",
    ]


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"status": RequestStatus.COMPLETED}, id="closed"),
        pytest.param({"status": RequestStatus.REFUSED}, id="refused"),
        pytest.param({"status": RequestStatus.EXTENDED}, id="extended-status-unflagged"),
        pytest.param(
            {"status": RequestStatus.RECEIVED, "extended": True}, id="unverified-extended"
        ),
        pytest.param({"due_at": datetime(2025, 5, 7, 8, 30)}, id="naive"),  # noqa: DTZ001
        pytest.param({"extended": 1}, id="flag-not-bool"),
        pytest.param({"id": "req 1"}, id="id"),
        pytest.param({"kind": "wish"}, id="kind"),
        pytest.param({"subject": ""}, id="subject"),
    ],
)
def test_a_queue_entry_that_contradicts_itself_is_refused_naming_no_subject(changes):
    fields = {"subject": PERSONAL, **changes}
    with pytest.raises(ValidationError) as caught:
        due(**fields)
    assert PERSONAL not in str(caught.value)


def test_only_an_open_request_has_a_queue_entry():
    with pytest.raises(ValidationError, match="open requests"):
        DueRequest.of(request(status=RequestStatus.COMPLETED, verified_at=T0))
    with pytest.raises(ValidationError, match="SubjectRequest"):
        DueRequest.of(due())
