"""Hypothesis strategies for avgkit values, for the project's and users' property tests.

Each strategy is a plural-noun function returning a ``SearchStrategy``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from avgkit import _dpv
from avgkit.breach import BreachFacts, BreachKind, Headcount, Protection
from avgkit.consent import Actor, Channel, ConsentAction, ConsentEvent, Evidence
from avgkit.inventory import (
    EEA_COUNTRIES,
    SUPPORTED_CATEGORIES,
    Art9Condition,
    Controller,
    Field,
    IdentifierKind,
    Inventory,
    LawfulBasis,
    Purpose,
    Recipient,
    RecipientRole,
    SpecialCategory,
    Texts,
    TransferMechanism,
    Treatment,
)
from avgkit.presets import ticketing
from avgkit.subjects import MAX_SUBJECT_ID_LENGTH, SubjectId

__all__ = [
    "aware_datetimes",
    "breach_facts",
    "consent_events",
    "consent_histories",
    "evidences",
    "inventories",
    "subject_ids",
]

_ID_ALPHABET = st.characters(
    min_codepoint=0x21, max_codepoint=0x2FFF, blacklist_categories=("Cs", "Cc", "Zs")
)


def subject_ids() -> st.SearchStrategy[SubjectId]:
    """Valid subject ids: non-empty, no control characters, at most the maximum length.

    .. versionadded:: 0.1.0
    """
    return st.text(_ID_ALPHABET, min_size=1, max_size=MAX_SUBJECT_ID_LENGTH).map(SubjectId)


def aware_datetimes(
    *,
    min_value: datetime = datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value: datetime = datetime(2099, 12, 31),  # noqa: DTZ001
) -> st.SearchStrategy[datetime]:
    """Timezone-aware UTC datetimes between the bounds.

    .. versionadded:: 0.1.0
    """
    return st.datetimes(min_value=min_value, max_value=max_value, timezones=st.just(UTC))


_KEYS = st.from_regex(r"\A[a-z][a-z0-9_]{0,11}\Z")
_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, exclude_categories=("Cs", "Cc")),
    min_size=1,
    max_size=40,
).filter(str.strip)
_TEXTS = st.builds(Texts, nl=_TEXT, en=_TEXT)
_THIRD_COUNTRIES = st.sampled_from(["CH", "GB", "JP", "US", "IN", "BR"])
_GENERALISERS = st.sampled_from(
    ["birth_date_year", "birth_date_age_band", "postcode_pc4", "ip_prefix", "email_domain"]
)
# Categories that are special-category data by themselves, and the ones that are not.
_SPECIAL_TERMS = {
    "Health": SpecialCategory.HEALTH,
    "Disability": SpecialCategory.HEALTH,
    "Biometric": SpecialCategory.BIOMETRIC_DATA,
}
_PLAIN_TERMS = sorted(
    term for term in SUPPORTED_CATEGORIES if _dpv.DATA_CATEGORIES[term].special is None
)


@st.composite
def _recipient(draw: st.DrawFn, key: str) -> Recipient:
    if draw(st.booleans()):
        country = draw(st.sampled_from(sorted(EEA_COUNTRIES)))
        mechanism = None
    else:
        country = draw(_THIRD_COUNTRIES)
        mechanism = draw(st.sampled_from(TransferMechanism))
    return Recipient(
        key=key,
        name=draw(_TEXT),
        role=draw(st.sampled_from(RecipientRole)),
        country=country,
        transfer_mechanism=mechanism,
    )


@st.composite
def _purpose(draw: st.DrawFn, key: str, recipients: list[str]) -> Purpose:
    basis = draw(st.sampled_from(LawfulBasis))
    marketing_ok = basis in {LawfulBasis.CONSENT, LawfulBasis.LEGITIMATE_INTERESTS}
    return Purpose(
        key=key,
        description=draw(_TEXTS),
        basis=basis,
        direct_marketing=marketing_ok and draw(st.booleans()),
        profiling=draw(st.booleans()),
        recipients=tuple(draw(st.lists(st.sampled_from(recipients), unique=True)))
        if recipients
        else (),
        subject_categories=tuple(draw(st.lists(_KEYS, min_size=1, max_size=3, unique=True))),
        retention=draw(st.none() | _TEXTS),
        dpv_purpose=draw(st.none() | st.sampled_from(["https://w3id.org/dpv#DirectMarketing"])),
    )


@st.composite
def _field(draw: st.DrawFn, key: str, purposes: list[str]) -> Field:
    special: SpecialCategory | None = None
    if draw(st.integers(0, 5)) == 0:
        category = draw(st.sampled_from(sorted(_SPECIAL_TERMS)))
        special = _SPECIAL_TERMS[category]
    else:
        category = draw(st.sampled_from(_PLAIN_TERMS))
        if draw(st.integers(0, 9)) == 0:
            special = draw(st.sampled_from(SpecialCategory))
    identifier = draw(st.sampled_from(IdentifierKind))
    treatments = [
        t for t in Treatment if not (identifier is IdentifierKind.DIRECT and t is Treatment.KEEP)
    ]
    treatment = draw(st.sampled_from(treatments))
    return Field(
        key=key,
        category=category,
        identifier=identifier,
        purposes=tuple(draw(st.lists(st.sampled_from(purposes), min_size=1, unique=True))),
        treatment=treatment,
        generaliser=draw(_GENERALISERS) if treatment is Treatment.GENERALISE else None,
        special_category=special,
        art9_condition=None if special is None else draw(st.sampled_from(Art9Condition)),
        description=draw(st.none() | _TEXTS),
    )


@st.composite
def inventories(draw: st.DrawFn) -> Inventory:
    """Valid, self-consistent inventories: every reference declared, every rule respected.

    .. versionadded:: 0.1.0
    """
    controller = Controller(
        name=draw(_TEXT),
        address=draw(_TEXT),
        email=draw(st.sampled_from(["privacy@example.org", "fg@venue.example"])),
        country=draw(st.sampled_from(sorted(EEA_COUNTRIES))),
        dpo=draw(st.none() | _TEXT),
        representative=draw(st.none() | _TEXT),
    )
    recipient_keys = draw(st.lists(_KEYS, max_size=4, unique=True))
    recipients = [draw(_recipient(key)) for key in recipient_keys]
    purpose_keys = draw(st.lists(_KEYS, min_size=1, max_size=5, unique=True))
    purposes = [draw(_purpose(key, recipient_keys)) for key in purpose_keys]
    field_keys = draw(st.lists(_KEYS, max_size=6, unique=True))
    fields = [draw(_field(key, purpose_keys)) for key in field_keys]
    return Inventory(
        controller=controller,
        purposes=purposes,
        fields=fields,
        recipients=recipients,
        security_measures=draw(st.none() | _TEXTS),
    )


_HEX = "0123456789abcdef"
_CONSENT_START = datetime(2024, 1, 1, tzinfo=UTC)


@st.composite
def evidences(
    draw: st.DrawFn,
    *,
    channels: Sequence[Channel] = tuple(Channel),
    expiring: bool = False,
    after: datetime | None = None,
) -> Evidence:
    """Valid :class:`~avgkit.consent.Evidence`, with every optional item sometimes set.

    ``expiring=True`` sometimes adds an ``expires_at`` (only valid on given consent) and
    ``after`` is the event's instant, which expiry and double opt-in must not precede.

    .. versionadded:: 0.1.0
    """
    start = after or _CONSENT_START
    actor = draw(st.sampled_from(Actor))
    return Evidence(
        channel=draw(st.sampled_from(list(channels))),
        notice_version=draw(st.sampled_from(["2023-11-10", "v2", "privacyverklaring 2024"])),
        wording_sha256=draw(st.text(_HEX, min_size=64, max_size=64)),
        actor=actor,
        staff_key=draw(st.none() | st.just("box_office_1")) if actor is Actor.STAFF else None,
        order_ref=draw(st.none() | st.from_regex(r"\Aord-[0-9]{1,6}\Z")),
        confirmed_at=draw(st.none() | st.just(start + timedelta(minutes=3))),
        expires_at=(
            draw(st.none() | st.integers(1, 30).map(lambda d: start + timedelta(days=d)))
            if expiring
            else None
        ),
    )


@st.composite
def consent_events(
    draw: st.DrawFn,
    *,
    subjects: Sequence[str] = ("cust-1", "cust-2", "cust-3"),
    consent_purposes: Sequence[str] = ("newsletter", "loyalty_programme"),
    objection_purposes: Sequence[str] = ("evaluation_mail", "newsletter"),
    hours: int = 480,
    channels: Sequence[Channel] = tuple(Channel),
) -> ConsentEvent:
    """One valid :class:`~avgkit.consent.ConsentEvent` for the ticketing preset's purposes.

    Given/withdrawn events use ``consent_purposes`` (basis consent), objections use
    ``objection_purposes`` (legitimate interests or direct marketing). Instants fall on whole
    hours from 2024-01-01 up to ``hours`` later, so events often share an instant and the
    order of recording matters (fewer hours, more ties).

    .. versionadded:: 0.1.0
    """
    kind = draw(st.sampled_from(ConsentAction))
    purposes = consent_purposes if kind.is_consent else objection_purposes
    at = _CONSENT_START + timedelta(hours=draw(st.integers(0, hours)))
    return ConsentEvent(
        subject=draw(st.sampled_from(list(subjects))),
        purpose=draw(st.sampled_from(list(purposes))),
        kind=kind,
        at=at,
        evidence=draw(evidences(channels=channels, expiring=kind is ConsentAction.GIVEN, after=at)),
    )


def consent_histories(
    *, min_size: int = 0, max_size: int = 30, **event_options: object
) -> st.SearchStrategy[list[ConsentEvent]]:
    """Lists of events, in recording order, over a few subjects and purposes.

    ``event_options`` go to :func:`consent_events`.

    .. versionadded:: 0.1.0
    """
    return st.lists(
        consent_events(**event_options),  # type: ignore[arg-type]
        min_size=min_size,
        max_size=max_size,
    )


@functools.cache
def _ticketing_categories() -> frozenset[str]:
    return ticketing.inventory().categories


@st.composite
def breach_facts(draw: st.DrawFn, *, categories: frozenset[str] | None = None) -> BreachFacts:
    """Valid :class:`~avgkit.breach.BreachFacts` over ``categories`` (DPV terms).

    ``categories`` defaults to the ticketing preset's, so the facts pass a register built on
    :func:`avgkit.presets.ticketing.inventory`.

    .. versionadded:: 0.1.0
    """
    terms = sorted(categories if categories is not None else _ticketing_categories())
    texts = st.text(min_size=1, max_size=40).filter(str.strip)
    low = draw(st.integers(0, 10_000))
    began = draw(aware_datetimes(max_value=datetime(2090, 1, 1)))  # noqa: DTZ001
    ended = draw(st.one_of(st.none(), st.integers(0, 10**6)))
    records = draw(st.one_of(st.none(), st.integers(0, 100)))
    return BreachFacts(
        summary=draw(texts),
        system=draw(texts),
        categories=tuple(draw(st.lists(st.sampled_from(terms), min_size=1, max_size=4))),
        subjects=Headcount(minimum=low, maximum=low + draw(st.integers(0, 10_000))),
        records=None if records is None else Headcount(minimum=low, maximum=low + records),
        subject_group=draw(texts),
        vulnerable_subjects=draw(st.booleans()),
        contact_details_known=draw(st.booleans()),
        root_cause=draw(texts),
        occurred_from=began,
        occurred_until=None if ended is None else began + timedelta(seconds=ended),
        kinds=tuple(draw(st.sets(st.sampled_from(BreachKind), min_size=1))),
        likely_consequences=draw(texts),
        measures_taken=draw(texts),
        measures_proposed=draw(st.one_of(st.none(), texts)),
        contact_point=draw(texts),
        protection=draw(st.sampled_from(Protection)),
        high_risk_removed=draw(st.booleans()),
    )
