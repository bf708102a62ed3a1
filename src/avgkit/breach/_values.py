"""Breach values: the facts, headcounts, updates, decisions, the versioned record and its status.

Pure: no I/O. A :class:`Breach` encodes itself as versioned JSON for the stores.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from avgkit import _dpv, _validators
from avgkit._render import Lang, language
from avgkit._validators import (
    fail,
    member_set,
    opt,
    shown,
    to_tuple,
    to_utc,
    v_aware,
    v_bool,
    v_instance,
    v_items,
    v_key,
    v_member,
    v_positive_timedelta,
    v_text,
    v_whole,
)
from avgkit._vocab import Bilingual, Term
from avgkit.errors import ValidationError
from avgkit.inventory._vocab import RecipientRole

AUTHORITY_DEADLINE: Final = timedelta(hours=72)
"""Art. 33(1): notify the supervisory authority within 72 hours of becoming aware."""

PROCESSOR_NOTICE_DEADLINE: Final = timedelta(hours=36)
"""The processor's term to tell the controller, as in a ticketing vendor's processing agreement."""

FRAUD_RISK_CATEGORIES: Final = frozenset(
    {"BankAccount", "PaymentCardNumber", "Password", "Username", "Identifier"}
)
"""DPV terms whose loss enables identity fraud or account takeover (a breach checklist's)."""

DEFAULT_LARGE_VOLUME: Final = 1000
"""From how many people a breach counts as large for the assessment, unless configured."""

PROCESSOR_ROLES: Final = frozenset({RecipientRole.PROCESSOR, RecipientRole.SUB_PROCESSOR})
MAX_NOTE = 4000
_MICROSECOND = timedelta(microseconds=1)
_MAX_HEADCOUNT = 10**10
_SCHEMA_VERSION = 1


class BreachKind(Bilingual):
    """What the breach did to the data (the nature of the breach, Art. 33(3)(a)).

    .. versionadded:: 0.1.0
    """

    CONFIDENTIALITY = Term(
        "confidentiality",
        nl="Inbreuk op vertrouwelijkheid (onbevoegde toegang of verstrekking)",
        en="Confidentiality breach (unauthorised access or disclosure)",
    )
    """Data was disclosed to or accessed by someone who should not have it."""
    INTEGRITY = Term(
        "integrity",
        nl="Inbreuk op integriteit (onbevoegde of onbedoelde wijziging)",
        en="Integrity breach (unauthorised or accidental alteration)",
    )
    """Data was altered without authorisation or by accident."""
    AVAILABILITY = Term(
        "availability",
        nl="Inbreuk op beschikbaarheid (verlies of vernietiging)",
        en="Availability breach (loss or destruction)",
    )
    """Data was lost or destroyed, or could not be reached for a while."""


class Protection(Bilingual):
    """How the data concerned was protected when the breach happened.

    .. versionadded:: 0.1.0
    """

    NONE = Term("none", nl="Niet versleuteld of gepseudonimiseerd", en="Not encrypted")
    """Readable by whoever got it."""
    PSEUDONYMISED = Term("pseudonymised", nl="Gepseudonimiseerd", en="Pseudonymised")
    """Pseudonymised: still personal data, but not directly identifying."""
    ENCRYPTED = Term(
        "encrypted",
        nl="Versleuteld, sleutel niet gelekt (onbegrijpelijk voor derden)",
        en="Encrypted, key not compromised (unintelligible to others)",
    )
    """Encrypted with a state-of-the-art method and a key that was *not* compromised, so the
    data is unintelligible to anyone who got it (Art. 34(3)(a))."""


class RiskFactor(Bilingual):
    """A circumstance that raises the risk of a breach (a processing agreement's breach checklist).

    .. versionadded:: 0.1.0
    """

    SPECIAL_CATEGORIES = Term(
        "special_categories",
        nl="Bijzondere persoonsgegevens (art. 9 AVG)",
        en="Special categories of personal data (Art. 9 GDPR)",
    )
    IDENTITY_FRAUD = Term(
        "identity_fraud",
        nl="Gegevens waarmee (identiteits)fraude kan worden gepleegd",
        en="Data that enables (identity) fraud or account takeover",
    )
    VULNERABLE_SUBJECTS = Term(
        "vulnerable_subjects",
        nl="Kwetsbare groepen, zoals kinderen",
        en="Vulnerable people, such as children",
    )
    LARGE_VOLUME = Term(
        "large_volume", nl="Grote aantallen betrokkenen", en="A large number of people"
    )
    UNPROTECTED = Term(
        "unprotected", nl="Gegevens waren niet versleuteld", en="The data was not encrypted"
    )


class Exemption(Bilingual):
    """An Art. 34(3) ground for not informing each person concerned individually.

    .. versionadded:: 0.1.0
    """

    ENCRYPTED = Term(
        "encrypted",
        nl="Art. 34 lid 3 onder a: gegevens onbegrijpelijk (versleuteld)",
        en="Art. 34(3)(a): data unintelligible (encrypted)",
    )
    """Art. 34(3)(a): the data was unintelligible to anyone not authorised to see it; it
    applies to breaches of confidentiality only, and never waives notifying the authority."""
    RISK_REMOVED = Term(
        "risk_removed",
        nl="Art. 34 lid 3 onder b: hoog risico weggenomen door maatregelen",
        en="Art. 34(3)(b): later measures removed the high risk",
    )
    """Art. 34(3)(b): later measures ensure the high risk is no longer likely to occur."""
    DISPROPORTIONATE_EFFORT = Term(
        "disproportionate_effort",
        nl="Art. 34 lid 3 onder c: onevenredige inspanning; openbare mededeling",
        en="Art. 34(3)(c): disproportionate effort; public communication instead",
    )
    """Art. 34(3)(c): reaching everyone is disproportionate; a public communication instead."""


# --------------------------------------------------------------------------- validators
# The generic checks live in avgkit._validators; these are the breach record's own.

_v_count: Final = v_whole(maximum=_MAX_HEADCOUNT)


def _to_categories(value: object) -> Any:
    # A set of terms: once each, sorted, from any iterable but a string.
    if isinstance(value, str) or not isinstance(value, Iterable):
        return value
    items = list(value)
    if all(isinstance(item, str) for item in items):
        return tuple(sorted(set(items)))
    return tuple(items)


def _to_kinds(value: object) -> Any:
    return member_set(BreachKind, value)


def _v_categories(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
        fail(instance, attribute, "must be a sequence of DPV personal-data terms, e.g. ('Name',)")
    if not value:
        fail(instance, attribute, "must name at least one category of personal data")
    unknown = sorted(term for term in value if term not in _dpv.DATA_CATEGORIES)
    if unknown:
        fail(
            instance,
            attribute,
            f"names {[shown(term) for term in unknown]}, which are not supported DPV "
            "personal-data terms; use the categories your inventory declares "
            "(Inventory.categories), e.g. 'EmailAddress'",
        )


def v_positive_delta(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """A positive timedelta or ``None``, named by the attribute alone.

    Kept for :class:`BreachRegister`, which names its own arguments through it.
    """
    if value is not None:
        _validators.positive_timedelta(value, attribute.name)


def _stored_term(data: Mapping[str, Any]) -> timedelta | None:
    # Versions written before terms were kept in microseconds hold whole seconds.
    if "processor_notice_within_us" in data:
        micros = data["processor_notice_within_us"]
        return None if micros is None else timedelta(microseconds=_whole(micros))
    seconds = data["processor_notice_within_seconds"]
    return None if seconds is None else timedelta(seconds=_whole(seconds))


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"a stored processor term must be a whole number, got {type(value).__name__}"
        raise ValidationError(msg)
    return value


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _parse_time(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        msg = f"{name} must be an ISO 8601 instant string"
        raise ValidationError(msg)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        msg = f"{name} is not an ISO 8601 instant"
        raise ValidationError(msg) from exc
    return _validators.aware(parsed, name)


def _parse_opt_time(value: object, name: str) -> datetime | None:
    return None if value is None else _parse_time(value, name)


# --------------------------------------------------------------------------- values


@attrs.frozen(kw_only=True)
class Headcount:
    """A number known only within bounds: question 3's "a minimum and a maximum".

    Raises:
        ValidationError: a bound is negative, not a whole number, or the minimum is larger
            than the maximum.

    .. versionadded:: 0.1.0
    """

    minimum: int = attrs.field(validator=_v_count)
    maximum: int = attrs.field(validator=_v_count)

    def __attrs_post_init__(self) -> None:
        if self.minimum > self.maximum:
            msg = (
                f"the minimum ({self.minimum}) is larger than the maximum ({self.maximum}); "
                "give the lowest and the highest number the breach may concern"
            )
            raise ValidationError(msg)

    @classmethod
    def exactly(cls, count: int) -> Headcount:
        """A headcount known exactly."""
        return cls(minimum=count, maximum=count)

    def __str__(self) -> str:
        if self.minimum == self.maximum:
            return str(self.minimum)
        return f"{self.minimum}-{self.maximum}"


@attrs.frozen(kw_only=True)
class BreachFacts:
    """What is known about a breach: annex 3's seven questions and the Art. 33(3) contents.

    Free texts may mention people (a contact point, a description) and are left out of
    ``repr``. Facts change over time (Art. 33(4)); :meth:`BreachRegister.update` records each
    change as a new version.

    Args:
        summary: Question 1: what happened.
        system: Question 1: the name of the system concerned.
        categories: Question 2 / Art. 33(3)(a): the types of personal data, as DPV terms
            (``"EmailAddress"``); the register accepts only categories its inventory declares.
        subjects: Question 3 / Art. 33(3)(a): how many people, a minimum and a maximum.
        records: Art. 33(3)(a): the approximate number of records concerned, if known.
        subject_group: Question 4: the group of people (visitors, staff, ...).
        vulnerable_subjects: Whether the group includes children or other vulnerable people.
        contact_details_known: Question 5: can the people concerned be reached?
        root_cause: Question 6: the cause of the breach.
        occurred_from: Question 7: when the breach began (aware).
        occurred_until: Question 7: when it ended, if it was a period and has ended.
        kinds: Art. 33(3)(a): the nature (confidentiality, integrity, availability).
        likely_consequences: Art. 33(3)(c).
        measures_taken: Art. 33(3)(d): measures taken to address the breach and mitigate
            its effects.
        measures_proposed: Art. 33(3)(d): measures proposed, if any.
        contact_point: Art. 33(3)(b): the DPO or other contact point for more information.
        protection: Whether the data was encrypted or pseudonymised.
        high_risk_removed: Art. 34(3)(b): later measures ensure a high risk is no longer
            likely to materialise (describe them in ``measures_taken``).

    Raises:
        ValidationError: a text is empty, a category is not a DPV term, a datetime is naive,
            or the period ends before it begins.

    .. versionadded:: 0.1.0
    """

    summary: str = attrs.field(repr=False, validator=v_text(MAX_NOTE))
    system: str = attrs.field(validator=v_text(200))
    categories: tuple[str, ...] = attrs.field(converter=_to_categories, validator=_v_categories)
    subjects: Headcount = attrs.field(validator=v_instance(Headcount))
    subject_group: str = attrs.field(validator=v_text(500))
    contact_details_known: bool = attrs.field(validator=v_bool)
    root_cause: str = attrs.field(repr=False, validator=v_text(MAX_NOTE))
    occurred_from: datetime = attrs.field(converter=to_utc, validator=v_aware)
    kinds: tuple[BreachKind, ...] = attrs.field(
        converter=_to_kinds, validator=v_items(BreachKind, non_empty=True)
    )
    likely_consequences: str = attrs.field(repr=False, validator=v_text(MAX_NOTE))
    measures_taken: str = attrs.field(repr=False, validator=v_text(MAX_NOTE))
    contact_point: str = attrs.field(repr=False, validator=v_text(500))
    occurred_until: datetime | None = attrs.field(
        default=None, converter=to_utc, validator=opt(v_aware)
    )
    records: Headcount | None = attrs.field(default=None, validator=opt(v_instance(Headcount)))
    vulnerable_subjects: bool = attrs.field(default=False, validator=v_bool)
    measures_proposed: str | None = attrs.field(
        default=None, repr=False, validator=opt(v_text(MAX_NOTE))
    )
    protection: Protection = attrs.field(default=Protection.NONE, validator=v_member(Protection))
    high_risk_removed: bool = attrs.field(default=False, validator=v_bool)

    def __attrs_post_init__(self) -> None:
        if self.occurred_until is not None and self.occurred_until < self.occurred_from:
            msg = (
                "occurred_until is before occurred_from; the period of the breach must end "
                "after it begins"
            )
            raise ValidationError(msg)

    @property
    def special_categories(self) -> tuple[str, ...]:
        """The Art. 9(1) special categories the data categories imply (values, sorted)."""
        found = {_dpv.DATA_CATEGORIES[term].special for term in self.categories}
        return tuple(sorted(value for value in found if value is not None))

    def to_mapping(self) -> dict[str, Any]:
        """A JSON-ready dict (instants as ISO 8601 UTC strings)."""
        return {
            "summary": self.summary,
            "system": self.system,
            "categories": list(self.categories),
            "subjects": {"minimum": self.subjects.minimum, "maximum": self.subjects.maximum},
            "records": None
            if self.records is None
            else {"minimum": self.records.minimum, "maximum": self.records.maximum},
            "subject_group": self.subject_group,
            "vulnerable_subjects": self.vulnerable_subjects,
            "contact_details_known": self.contact_details_known,
            "root_cause": self.root_cause,
            "occurred_from": _iso(self.occurred_from),
            "occurred_until": _iso(self.occurred_until),
            "kinds": [kind.value for kind in self.kinds],
            "likely_consequences": self.likely_consequences,
            "measures_taken": self.measures_taken,
            "measures_proposed": self.measures_proposed,
            "contact_point": self.contact_point,
            "protection": self.protection.value,
            "high_risk_removed": self.high_risk_removed,
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> BreachFacts:
        """Rebuild facts from :meth:`to_mapping`'s form.

        Raises:
            ValidationError: ``data`` is not such a mapping (a key missing, a value of the
                wrong type); the message names the key, never a value.
        """
        _mapping(data, "breach facts")
        try:
            return cls._from_mapping(data)
        except KeyError as exc:
            msg = f"breach facts lack the key {str(exc.args[0])[:40]!r}"
            raise ValidationError(msg) from None
        except (TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, ValidationError):
                raise
            msg = f"breach facts are malformed ({type(exc).__name__} in a value)"
            raise ValidationError(msg) from None

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any]) -> BreachFacts:
        records = data.get("records")
        return cls(
            summary=data["summary"],
            system=data["system"],
            categories=tuple(data["categories"]),
            subjects=Headcount(**data["subjects"]),
            records=None if records is None else Headcount(**records),
            subject_group=data["subject_group"],
            vulnerable_subjects=data["vulnerable_subjects"],
            contact_details_known=data["contact_details_known"],
            root_cause=data["root_cause"],
            occurred_from=_parse_time(data["occurred_from"], "occurred_from"),
            occurred_until=_parse_opt_time(data.get("occurred_until"), "occurred_until"),
            kinds=tuple(BreachKind(kind) for kind in data["kinds"]),
            likely_consequences=data["likely_consequences"],
            measures_taken=data["measures_taken"],
            measures_proposed=data.get("measures_proposed"),
            contact_point=data["contact_point"],
            protection=Protection(data["protection"]),
            high_risk_removed=data["high_risk_removed"],
        )


FACT_NAMES: Final = frozenset(attribute.name for attribute in attrs.fields(BreachFacts))


def _v_fact_names(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple) or not all(item in FACT_NAMES for item in value):
        fail(
            instance, attribute, "must be a sequence of BreachFacts field names, e.g. ('subjects',)"
        )


@attrs.frozen(kw_only=True)
class BreachUpdate:
    """One phased update of a breach record (Art. 33(4)): when, what changed, and a note.

    .. versionadded:: 0.1.0
    """

    at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    version: int = attrs.field(validator=_v_count)
    """The breach version this update produced."""
    note: str = attrs.field(repr=False, validator=v_text(MAX_NOTE))
    changed: tuple[str, ...] = attrs.field(
        converter=to_tuple,
        validator=_v_fact_names,
    )
    """Names of the :class:`BreachFacts` fields the update changed (may be empty)."""
    actor: str = attrs.field(validator=v_key)


@attrs.frozen(kw_only=True)
class Assessment:
    """The register's *proposal* on notification. It never decides: a person does.

    .. versionadded:: 0.1.0
    """

    notify_authority: bool
    """Propose notifying the supervisory authority (Art. 33). Always proposed: the processing
    agreement requires it even for encrypted data; a person may still
    decide otherwise, with a reason, through :meth:`BreachRegister.decide`."""
    notify_subjects: bool
    """Propose informing each person concerned (Art. 34): a high risk and no exemption."""
    public_communication: bool
    """Propose a public communication instead (Art. 34(3)(c))."""
    high_risk: bool
    """Whether the breach is likely to result in a high risk to people."""
    factors: tuple[RiskFactor, ...]
    """The circumstances found that raise the risk."""
    exemptions: tuple[Exemption, ...]
    """The Art. 34(3) exemptions that apply."""

    def explain(self, lang: Lang = "en") -> tuple[str, ...]:
        """The proposal's reasons as sentences in ``lang``."""
        nl = language(lang) == "nl"
        lines: list[str] = [factor.label(lang) for factor in self.factors]
        if self.notify_authority and Exemption.ENCRYPTED in self.exemptions:
            lines.append(
                "Ook versleutelde gegevens worden gemeld bij de Autoriteit Persoonsgegevens "
                "(verwerkersovereenkomst, bijlage 3); versleuteling ontheft alleen van het "
                "informeren van de betrokkenen (art. 34 lid 3 onder a)."
                if nl
                else "Encrypted data is still notified to the Autoriteit Persoonsgegevens "
                "(the processing agreement, annex 3); encryption only exempts informing the "
                "people concerned (Art. 34(3)(a))."
            )
        if self.high_risk:
            lines.append(
                "Waarschijnlijk een hoog risico voor de betrokkenen (art. 34 lid 1)."
                if nl
                else "Likely to result in a high risk to the people concerned (Art. 34(1))."
            )
        lines.extend(exemption.label(lang) for exemption in self.exemptions)
        return tuple(lines)

    def to_mapping(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "notify_authority": self.notify_authority,
            "notify_subjects": self.notify_subjects,
            "public_communication": self.public_communication,
            "high_risk": self.high_risk,
            "factors": [factor.value for factor in self.factors],
            "exemptions": [exemption.value for exemption in self.exemptions],
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Assessment:
        """Rebuild an assessment from :meth:`to_mapping`'s form."""
        return cls(
            notify_authority=bool(data["notify_authority"]),
            notify_subjects=bool(data["notify_subjects"]),
            public_communication=bool(data["public_communication"]),
            high_risk=bool(data["high_risk"]),
            factors=tuple(RiskFactor(value) for value in data["factors"]),
            exemptions=tuple(Exemption(value) for value in data["exemptions"]),
        )


@attrs.frozen(kw_only=True)
class BreachDecision:
    """The human decision on notification, its reason, and the proposal it was made against.

    .. versionadded:: 0.1.0
    """

    decided_at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    actor: str = attrs.field(validator=v_key)
    notify_authority: bool = attrs.field(validator=v_bool)
    notify_subjects: bool = attrs.field(validator=v_bool)
    public_communication: bool = attrs.field(validator=v_bool)
    reason: str = attrs.field(repr=False, validator=v_text(MAX_NOTE))
    proposal: Assessment = attrs.field(validator=v_instance(Assessment))

    @property
    def follows_proposal(self) -> bool:
        """Whether the decision is the one the assessment proposed."""
        return (
            self.notify_authority == self.proposal.notify_authority
            and self.notify_subjects == self.proposal.notify_subjects
            and self.public_communication == self.proposal.public_communication
        )

    def to_mapping(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "decided_at": _iso(self.decided_at),
            "actor": self.actor,
            "notify_authority": self.notify_authority,
            "notify_subjects": self.notify_subjects,
            "public_communication": self.public_communication,
            "reason": self.reason,
            "proposal": self.proposal.to_mapping(),
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> BreachDecision:
        """Rebuild a decision from :meth:`to_mapping`'s form."""
        return cls(
            decided_at=_parse_time(data["decided_at"], "decided_at"),
            actor=data["actor"],
            notify_authority=data["notify_authority"],
            notify_subjects=data["notify_subjects"],
            public_communication=data["public_communication"],
            reason=data["reason"],
            proposal=Assessment.from_mapping(data["proposal"]),
        )


@attrs.frozen(kw_only=True)
class Breach:
    """One version of a breach record. Change it through :class:`BreachRegister`.

    Args:
        id: The register's key for the breach (``"br_…"``).
        version: 1 when recorded, one more for every change.
        recorded_at: When the breach was entered in the register.
        updated_at: When this version was made.
        facts: What is known (see :class:`BreachFacts`).
        discovered_at: When the breach was first discovered, by whoever found it.
        became_aware_at: When the controller became aware of it (the 72-hour clock starts).
        processor: The inventory key of the processor that reported it, if any.
        processor_notice_within: The processor's term to notify (from its agreement).
        processor_notified_at: When the processor's notice reached the controller.
        updates: The phased updates (Art. 33(4)), oldest first.
        decision: The human decision on notification, once made.
        authority_notified_at: When the supervisory authority was notified.
        authority_reference: The authority's reference for the notification, if given.
        delay_reason: Why the authority was notified after the 72 hours (Art. 33(1)).
        subjects_notified_at: When the people concerned were informed (Art. 34).
        subjects_public: Whether that was a public communication (Art. 34(3)(c)).

    Raises:
        ValidationError: a value has the wrong type, the instants are out of order
            (discovered or aware before the breach began, aware before discovered or after
            the processor's notice arrived, a notification before awareness), or a late
            authority notification lacks its ``delay_reason``.

    .. versionadded:: 0.1.0
    """

    id: str = attrs.field(validator=v_key)
    version: int = attrs.field(validator=_v_count)
    recorded_at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    updated_at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    facts: BreachFacts = attrs.field(validator=v_instance(BreachFacts))
    discovered_at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    became_aware_at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    processor: str | None = attrs.field(default=None, validator=opt(v_key))
    processor_notice_within: timedelta | None = attrs.field(
        default=None, validator=opt(v_positive_timedelta)
    )
    processor_notified_at: datetime | None = attrs.field(
        default=None, converter=to_utc, validator=opt(v_aware)
    )
    updates: tuple[BreachUpdate, ...] = attrs.field(
        default=(),
        converter=to_tuple,
        validator=v_items(BreachUpdate),
    )
    decision: BreachDecision | None = attrs.field(
        default=None,
        validator=opt(v_instance(BreachDecision)),
    )
    authority_notified_at: datetime | None = attrs.field(
        default=None, converter=to_utc, validator=opt(v_aware)
    )
    authority_reference: str | None = attrs.field(default=None, validator=opt(v_text(200)))
    delay_reason: str | None = attrs.field(
        default=None, repr=False, validator=opt(v_text(MAX_NOTE))
    )
    subjects_notified_at: datetime | None = attrs.field(
        default=None, converter=to_utc, validator=opt(v_aware)
    )
    subjects_public: bool = attrs.field(default=False, validator=v_bool)

    def __attrs_post_init__(self) -> None:
        began = self.facts.occurred_from
        if self.version < 1:
            msg = f"breach {self.id}: version must be 1 or more"
            raise ValidationError(msg)
        if self.discovered_at < began:
            msg = (
                f"breach {self.id}: discovered_at is before the breach began (occurred_from); "
                "a breach cannot be discovered before it happens"
            )
            raise ValidationError(msg)
        if self.became_aware_at < began:
            msg = (
                f"breach {self.id}: became_aware_at is before the breach began "
                "(occurred_from); check both instants and their time zones"
            )
            raise ValidationError(msg)
        if self.became_aware_at < self.discovered_at:
            msg = (
                f"breach {self.id}: became_aware_at is before discovered_at; the controller "
                "becomes aware when, or after, the breach is first discovered"
            )
            raise ValidationError(msg)
        self._check_processor()
        for name in ("authority_notified_at", "subjects_notified_at"):
            value: datetime | None = getattr(self, name)
            if value is not None and value < self.became_aware_at:
                msg = f"breach {self.id}: {name} is before became_aware_at"
                raise ValidationError(msg)
        if self.authority_late and self.delay_reason is None:
            msg = (
                f"breach {self.id}: the authority was notified after the 72-hour deadline; "
                "Art. 33(1) requires the reasons for the delay: pass delay_reason"
            )
            raise ValidationError(msg)
        if self.updated_at < self.recorded_at:
            msg = f"breach {self.id}: updated_at is before recorded_at"
            raise ValidationError(msg)

    def _check_processor(self) -> None:
        if (self.processor is None) != (self.processor_notice_within is None):
            msg = f"breach {self.id}: processor and processor_notice_within go together"
            raise ValidationError(msg)
        if self.processor_notified_at is not None:
            if self.processor is None:
                msg = f"breach {self.id}: processor_notified_at needs a processor"
                raise ValidationError(msg)
            if self.processor_notified_at < self.discovered_at:
                msg = f"breach {self.id}: the processor's notice is dated before the discovery"
                raise ValidationError(msg)
            if self.became_aware_at > self.processor_notified_at:
                msg = (
                    f"breach {self.id}: became_aware_at is after the processor's notice "
                    "reached the controller (processor_notified_at); the controller is aware "
                    "at the latest when that notice arrives (Art. 33(1) and (2)), so its "
                    "72 hours cannot start later. Leave became_aware_at out or date it no "
                    "later than the notice"
                )
                raise ValidationError(msg)

    # -- deadlines -------------------------------------------------------------------

    @property
    def processor_notice_due(self) -> datetime | None:
        """The processor's deadline: discovery plus its agreed term (``None`` without one)."""
        if self.processor_notice_within is None:
            return None
        return self.discovered_at + self.processor_notice_within

    @property
    def authority_due(self) -> datetime:
        """Art. 33(1): 72 hours after the controller became aware."""
        return self.became_aware_at + AUTHORITY_DEADLINE

    @property
    def authority_late(self) -> bool:
        """Whether the authority was notified after :attr:`authority_due`."""
        return self.authority_notified_at is not None and self.authority_notified_at > (
            self.authority_due
        )

    @property
    def processor_notice_late(self) -> bool:
        """Whether the processor's notice arrived after its deadline."""
        due = self.processor_notice_due
        notified = self.processor_notified_at
        return due is not None and notified is not None and notified > due

    @property
    def authority_pending(self) -> bool:
        """The authority is not notified and nobody decided that it need not be."""
        if self.authority_notified_at is not None:
            return False
        return self.decision is None or self.decision.notify_authority

    @property
    def subjects_pending(self) -> bool:
        """The decision is to inform the people concerned and that has not happened yet."""
        return (
            self.decision is not None
            and (self.decision.notify_subjects or self.decision.public_communication)
            and self.subjects_notified_at is None
        )

    def status(self, *, at: datetime) -> BreachStatus:
        """The deadlines and overdue flags at the instant ``at`` (aware).

        .. versionchanged:: 0.2.0
           The instant is the keyword ``at=``.
        """
        now = _validators.aware(at, "at")
        processor_due = self.processor_notice_due
        return BreachStatus(
            at=now,
            processor_notice_due=processor_due,
            processor_notice_overdue=processor_due is not None
            and self.processor_notified_at is None
            and now > processor_due,
            authority_due=self.authority_due,
            authority_overdue=self.authority_pending and now > self.authority_due,
            authority_time_left=self.authority_due - now if self.authority_pending else None,
            subjects_pending=self.subjects_pending,
        )

    # -- serialisation ----------------------------------------------------------------

    def to_mapping(self) -> dict[str, Any]:
        """A JSON-ready dict of this version (what adapters store)."""
        within = self.processor_notice_within
        return {
            "id": self.id,
            "version": self.version,
            "recorded_at": _iso(self.recorded_at),
            "updated_at": _iso(self.updated_at),
            "facts": self.facts.to_mapping(),
            "discovered_at": _iso(self.discovered_at),
            "became_aware_at": _iso(self.became_aware_at),
            "processor": self.processor,
            # Whole microseconds: a timedelta's own resolution, so any term round-trips.
            "processor_notice_within_us": None if within is None else within // _MICROSECOND,
            "processor_notified_at": _iso(self.processor_notified_at),
            "updates": [
                {
                    "at": _iso(update.at),
                    "version": update.version,
                    "note": update.note,
                    "changed": list(update.changed),
                    "actor": update.actor,
                }
                for update in self.updates
            ],
            "decision": None if self.decision is None else self.decision.to_mapping(),
            "authority_notified_at": _iso(self.authority_notified_at),
            "authority_reference": self.authority_reference,
            "delay_reason": self.delay_reason,
            "subjects_notified_at": _iso(self.subjects_notified_at),
            "subjects_public": self.subjects_public,
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Breach:
        """Rebuild a breach from :meth:`to_mapping`'s form.

        Raises:
            ValidationError: the data is malformed.
        """
        _mapping(data, "a breach record")
        try:
            within = _stored_term(data)
            decision = data["decision"]
            return cls(
                id=data["id"],
                version=data["version"],
                recorded_at=_parse_time(data["recorded_at"], "recorded_at"),
                updated_at=_parse_time(data["updated_at"], "updated_at"),
                facts=BreachFacts.from_mapping(data["facts"]),
                discovered_at=_parse_time(data["discovered_at"], "discovered_at"),
                became_aware_at=_parse_time(data["became_aware_at"], "became_aware_at"),
                processor=data["processor"],
                processor_notice_within=within,
                processor_notified_at=_parse_opt_time(
                    data["processor_notified_at"], "processor_notified_at"
                ),
                updates=tuple(
                    BreachUpdate(
                        at=_parse_time(item["at"], "update at"),
                        version=item["version"],
                        note=item["note"],
                        changed=tuple(item["changed"]),
                        actor=item["actor"],
                    )
                    for item in data["updates"]
                ),
                decision=None if decision is None else BreachDecision.from_mapping(decision),
                authority_notified_at=_parse_opt_time(
                    data["authority_notified_at"], "authority_notified_at"
                ),
                authority_reference=data["authority_reference"],
                delay_reason=data["delay_reason"],
                subjects_notified_at=_parse_opt_time(
                    data["subjects_notified_at"], "subjects_notified_at"
                ),
                subjects_public=data["subjects_public"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ValidationError):
                raise
            msg = f"a stored breach record is malformed ({type(exc).__name__}: {exc})"
            raise ValidationError(msg) from exc

    def to_json(self) -> str:
        """:meth:`to_mapping` as compact, key-sorted JSON text."""
        return json.dumps(self.to_mapping(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Breach:
        """Rebuild a breach from :meth:`to_json`'s text.

        Raises:
            ValidationError: ``text`` is not JSON text of a breach record.
        """
        if not isinstance(text, str | bytes | bytearray):
            msg = f"Breach.from_json() takes JSON text, got {type(text).__name__}"
            raise ValidationError(msg)
        try:
            data = json.loads(text)
        except ValueError:  # not JSON, or bytes that are not UTF-8/16/32
            msg = "Breach.from_json() was given text that is not valid JSON"
            raise ValidationError(msg) from None
        return cls.from_mapping(data)


def _mapping(data: object, what: str) -> None:
    if not isinstance(data, Mapping):
        msg = f"{what} must be a mapping (as to_mapping() gives), got {type(data).__name__}"
        raise ValidationError(msg)


@attrs.frozen(kw_only=True)
class BreachStatus:
    """A breach's deadlines and overdue flags at one instant.

    .. versionadded:: 0.1.0
    """

    at: datetime
    """The instant the status was taken at."""
    processor_notice_due: datetime | None
    """When the processor's notice is due (``None`` when no processor reported it)."""
    processor_notice_overdue: bool
    """The processor's deadline passed and no notice was recorded."""
    authority_due: datetime
    """72 hours after the controller became aware (Art. 33(1))."""
    authority_overdue: bool
    """The 72 hours passed, the authority was not notified, and nobody decided it need not be."""
    authority_time_left: timedelta | None
    """Time until the authority deadline (negative when overdue; ``None`` when settled)."""
    subjects_pending: bool
    """People are to be informed (decision made) and that is not recorded yet."""
