"""Hypothesis strategies for avgkit values, for the project's and users' property tests.

Each strategy is a plural-noun function returning a ``SearchStrategy``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta
from hypothesis import strategies as st

from avgkit import _dpv
from avgkit.breach import BreachFacts, BreachKind, Headcount, Protection
from avgkit.consent import Actor, Channel, ConsentAction, ConsentEvent, Evidence
from avgkit.errors import ValidationError
from avgkit.host import SubjectKind
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
from avgkit.retention import Action, RetentionPolicy, RetentionRule, Trigger
from avgkit.subjects import MAX_SUBJECT_ID_LENGTH, SubjectId
from avgkit.testing._clock import DEFAULT_START

__all__ = [
    "aware_datetimes",
    "breach_facts",
    "consent_events",
    "consent_histories",
    "evidences",
    "inventories",
    "retention_policies",
    "retention_rules",
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
    before: datetime | None = None,
) -> Evidence:
    """Valid :class:`~avgkit.consent.Evidence`, with every optional item sometimes set.

    ``after`` is the instant of the event the evidence goes with. Only with it does the
    evidence sometimes carry a double opt-in ``confirmed_at`` (a few minutes after the
    event, never before it, and not after ``before``, the clock's now, when given) and, with
    ``expiring=True``, an ``expires_at`` (only valid on given consent): without the event's
    instant no confirmation time can be right for every event, so none is drawn and the
    evidence is accepted with any event.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Without ``after``, no ``confirmed_at`` or ``expires_at`` is drawn (a confirmation
       drawn against a fixed instant could precede the event, which the ledger refuses).
    """
    actor = draw(st.sampled_from(Actor))
    confirmed_at: datetime | None = None
    expires_at: datetime | None = None
    if after is not None:
        latest = 59 if before is None else min(59, int((before - after) // timedelta(minutes=1)))
        if latest >= 0:
            confirmed_at = draw(
                st.none() | st.integers(0, latest).map(lambda m: after + timedelta(minutes=m))
            )
        if expiring:
            expires_at = draw(
                st.none() | st.integers(1, 30).map(lambda d: after + timedelta(days=d))
            )
    return Evidence(
        channel=draw(st.sampled_from(list(channels))),
        notice_version=draw(st.sampled_from(["2023-11-10", "v2", "privacyverklaring 2024"])),
        wording_sha256=draw(st.text(_HEX, min_size=64, max_size=64)),
        actor=actor,
        staff_key=draw(st.none() | st.just("box_office_1")) if actor is Actor.STAFF else None,
        order_ref=draw(st.none() | st.from_regex(r"\Aord-[0-9]{1,6}\Z")),
        confirmed_at=confirmed_at,
        expires_at=expires_at,
    )


def _purposes_of(inventory: Inventory) -> tuple[list[str], list[str]]:
    consent = sorted(p.key for p in inventory.purposes if p.needs_consent)
    objection = sorted(p.key for p in inventory.purposes if p.objection_allowed)
    if not consent and not objection:
        msg = (
            "consent_events() needs an inventory with at least one purpose whose basis is "
            "consent or that allows an objection (legitimate interests, public task or direct "
            "marketing); this one has neither"
        )
        raise ValidationError(msg)
    return consent, objection


@st.composite
def consent_events(
    draw: st.DrawFn,
    *,
    inventory: Inventory | None = None,
    subjects: Sequence[str] = ("cust-1", "cust-2", "cust-3"),
    consent_purposes: Sequence[str] | None = None,
    objection_purposes: Sequence[str] | None = None,
    hours: int = 480,
    until: datetime = DEFAULT_START,
    channels: Sequence[Channel] = tuple(Channel),
) -> ConsentEvent:
    """One valid :class:`~avgkit.consent.ConsentEvent` that a ledger over ``inventory`` accepts.

    Given/withdrawn events use ``consent_purposes`` (default: the inventory's purposes whose
    basis is consent), objections use ``objection_purposes`` (default: the purposes that allow
    an objection: legitimate interests, public task or direct marketing). ``inventory``
    defaults to the ticketing preset's. Instants fall on whole hours in the ``hours`` before
    ``until`` (default: the start of the plugin's ``avgkit_clock``, so the clock accepts
    every event), so events often share an instant and the order of recording matters (fewer
    hours, more ties).

    Raises:
        ValidationError: the inventory has no purpose an event could be about.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Takes ``inventory=`` and ``until=``; instants end at ``until`` instead of starting at
       2024-01-01 00:00 UTC, so none lies in the future of the default clock.
    """
    if consent_purposes is None or objection_purposes is None:
        consent, objection = _purposes_of(inventory or _ticketing())
        consent_purposes = consent if consent_purposes is None else consent_purposes
        objection_purposes = objection if objection_purposes is None else objection_purposes
    kinds = [k for k in ConsentAction if (consent_purposes if k.is_consent else objection_purposes)]
    if not kinds:
        msg = "consent_events() was given no purposes to draw events for"
        raise ValidationError(msg)
    kind = draw(st.sampled_from(kinds))
    purposes = consent_purposes if kind.is_consent else objection_purposes
    at = _validators_aware(until) - timedelta(hours=draw(st.integers(0, hours)))
    return ConsentEvent(
        subject=draw(st.sampled_from(list(subjects))),
        purpose=draw(st.sampled_from(list(purposes))),
        kind=kind,
        at=at,
        evidence=draw(
            evidences(
                channels=channels, expiring=kind is ConsentAction.GIVEN, after=at, before=until
            )
        ),
    )


def consent_histories(
    *, min_size: int = 0, max_size: int = 30, **event_options: object
) -> st.SearchStrategy[list[ConsentEvent]]:
    """Lists of events, in recording order, over a few subjects and purposes.

    ``event_options`` go to :func:`consent_events` (``inventory=`` among them).

    .. versionadded:: 0.1.0
    """
    return st.lists(
        consent_events(**event_options),  # type: ignore[arg-type]
        min_size=min_size,
        max_size=max_size,
    )


@functools.cache
def _ticketing() -> Inventory:
    return ticketing.inventory()


def _ticketing_categories() -> frozenset[str]:
    return _ticketing().categories


def _validators_aware(when: datetime) -> datetime:
    if not isinstance(when, datetime) or when.tzinfo is None:
        msg = "until= must be an aware datetime, e.g. datetime(2024, 1, 1, tzinfo=UTC)"
        raise ValidationError(msg)
    return when


@st.composite
def breach_facts(draw: st.DrawFn, *, categories: frozenset[str] | None = None) -> BreachFacts:
    """Valid :class:`~avgkit.breach.BreachFacts` over ``categories`` (DPV terms).

    ``categories`` defaults to the ticketing preset's, so the facts pass a register built on
    :func:`avgkit.presets.ticketing.inventory`.

    .. versionadded:: 0.1.0
    """
    terms = sorted(categories if categories is not None else _ticketing_categories())
    # Any text a person might type, NUL aside (no database stores it as text).
    texts = st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=40).filter(
        str.strip
    )
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


_PERIODS = st.builds(
    relativedelta,
    years=st.integers(0, 7),
    months=st.integers(0, 11),
    days=st.integers(0, 30),
).filter(lambda p: bool(p.years or p.months or p.days))
_ACTIVITY_TYPES = st.frozensets(
    st.sampled_from(["purchase", "login", "newsletter_read", "ticket_scan"]), min_size=1
)
_SOURCES = st.frozensets(
    st.sampled_from(["camera_outside", "support_mail", "support_mail_bank_details"]), min_size=1
)


@st.composite
def retention_rules(draw: st.DrawFn, *, key: str | None = None) -> RetentionRule:
    """Valid :class:`~avgkit.retention.RetentionRule` values, over subject kinds or records.

    Every combination the rule accepts can come out: each trigger with the subject kinds it
    suits (no contract end for attendees), activity types only with inactivity, a warning
    shorter than the period, record rules deleted or anonymised on collection.

    .. versionadded:: 0.2.0
    """
    name = key if key is not None else draw(_KEYS)
    period = draw(_PERIODS)
    if draw(st.integers(0, 4)) == 0:
        return RetentionRule(
            key=name,
            records=draw(_SOURCES),
            trigger=Trigger.COLLECTION,
            period=period,
            action=draw(st.sampled_from([Action.DELETE, Action.ANONYMISE])),
        )
    trigger = draw(st.sampled_from([t for t in Trigger if t is not Trigger.COLLECTION]))
    kinds = list(SubjectKind)
    if trigger is Trigger.CONTRACT_END:
        kinds.remove(SubjectKind.ATTENDEE)
    warn_before: relativedelta | None = None
    if draw(st.booleans()):
        # Strictly shorter than the period whatever the calendar: at most the period's
        # length in whole days minus one, and a period of at least two days.
        shortest_days = period.years * 365 + period.months * 28 + period.days
        if shortest_days >= 2:
            warn_before = relativedelta(days=draw(st.integers(1, shortest_days - 1)))
    return RetentionRule(
        key=name,
        applies_to=draw(st.frozensets(st.sampled_from(kinds), min_size=1)),
        trigger=trigger,
        period=period,
        action=draw(st.sampled_from(Action)),
        activity_types=draw(_ACTIVITY_TYPES) if trigger is Trigger.INACTIVITY else frozenset(),
        warn_before=warn_before,
    )


@st.composite
def retention_policies(draw: st.DrawFn, *, max_rules: int = 5) -> RetentionPolicy:
    """Valid :class:`~avgkit.retention.RetentionPolicy` values: unique keys, no contradictions.

    Rules that would contradict an earlier one (same kinds or records, trigger and activity
    types, but another period or action) are left out, so every policy drawn loads.

    .. versionadded:: 0.2.0
    """
    keys = draw(st.lists(_KEYS, min_size=1, max_size=max_rules, unique=True))
    rules: list[RetentionRule] = []
    for key in keys:
        rule = draw(retention_rules(key=key))
        if not any(_contradicts(rule, earlier) for earlier in rules):
            rules.append(rule)
    return RetentionPolicy(tuple(rules))


def _contradicts(first: RetentionRule, second: RetentionRule) -> bool:
    shared = (first.applies_to & second.applies_to) or (first.records & second.records)
    return bool(
        shared
        and first.trigger is second.trigger
        and first.activity_types == second.activity_types
        and (first.period != second.period or first.action != second.action)
    )
