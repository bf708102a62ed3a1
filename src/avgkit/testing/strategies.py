"""Hypothesis strategies for avgkit values, for the project's and users' property tests.

Each strategy is a plural-noun function returning a ``SearchStrategy``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

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
from avgkit.subjects import MAX_SUBJECT_ID_LENGTH, SubjectId

__all__ = ["aware_datetimes", "inventories", "subject_ids"]

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
    SUPPORTED_CATEGORIES
    - {
        "Health",
        "Disability",
        "Biometric",
        "Genetic",
        "EthnicOrigin",
        "PoliticalOpinion",
        "ReligiousBelief",
        "PhilosophicalBelief",
        "TradeUnionMembership",
        "Sexual",
    }
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
