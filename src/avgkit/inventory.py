"""The inventory: what personal data a controller processes, why, on which basis, for whom.

A controller declares once, in Python or in a policy file (TOML or JSON, validated by the
JSON Schema shipped as ``avgkit/schemas/inventory.schema.json``):

- :class:`Purpose` values, each with one :class:`LawfulBasis` (Art. 6(1)), whether it is
  direct marketing or profiling, and the recipients it discloses data to;
- :class:`Field` values, each with a DPV personal-data category, an :class:`IdentifierKind`,
  an Art. 9 :class:`SpecialCategory` (with its :class:`Art9Condition`) if any, the purposes it
  serves and its anonymisation :class:`Treatment`;
- :class:`Recipient` values with their :class:`RecipientRole`, country and, outside the EEA,
  their :class:`TransferMechanism`;
- the :class:`Controller` and its security measures.

An :class:`Inventory` refuses contradictions with :class:`~avgkit.errors.PolicyError`, answers
:meth:`Inventory.may_use`, and renders the Art. 30 record of processing activities
(:meth:`Inventory.register`).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple, NoReturn, TypeVar

import attrs

from avgkit import _dpv
from avgkit._countries import EEA, ISO_3166_ALPHA2
from avgkit._register import ProcessingActivity, ProcessingRegister, RegisterRecipient
from avgkit._render import Lang, language
from avgkit._validate import KEY_PATTERN
from avgkit.errors import PolicyError, ValidationError

if TYPE_CHECKING:
    import os
    from collections.abc import Callable

__all__ = [
    "EEA_COUNTRIES",
    "METADATA_KEY",
    "SUPPORTED_CATEGORIES",
    "Art9Condition",
    "Controller",
    "Field",
    "FieldTag",
    "IdentifierKind",
    "Inventory",
    "LawfulBasis",
    "ProcessingActivity",
    "ProcessingRegister",
    "Purpose",
    "PurposeUse",
    "Recipient",
    "RecipientRole",
    "RegisterRecipient",
    "SpecialCategory",
    "Texts",
    "TransferMechanism",
    "Treatment",
    "category_label",
    "tag",
]

EEA_COUNTRIES: Final[frozenset[str]] = EEA
"""ISO 3166-1 alpha-2 codes of the European Economic Area (EU 27, Iceland, Liechtenstein,
Norway). A recipient in any other country is in a third country (Chapter V GDPR).

.. versionadded:: 0.1.0
"""

SUPPORTED_CATEGORIES: Final[frozenset[str]] = frozenset(_dpv.DATA_CATEGORIES)
"""The DPV personal-data terms (``https://w3id.org/dpv/pd#<term>``) a :class:`Field` may name
as its ``category``, e.g. ``"EmailAddress"``, ``"BirthDate"``, ``"PostalCode"``.

.. versionadded:: 0.1.0
"""

METADATA_KEY: Final = "avgkit.inventory.field"
"""The key under which :func:`tag` stores a :class:`FieldTag` in attrs field metadata.

.. versionadded:: 0.1.0
"""


# --------------------------------------------------------------------------- vocabularies


class _Meta(NamedTuple):
    article: str
    en: str
    nl: str


class _Described(enum.StrEnum):
    """A vocabulary member with a GDPR article and labels in Dutch and English."""

    @property
    def article(self) -> str:
        """The GDPR article this member stands for, e.g. ``"Art. 6(1)(a)"``."""
        return _META[type(self), self.value].article

    def label(self, lang: Lang = "en") -> str:
        """A human-readable label in ``lang`` (``"nl"`` or ``"en"``)."""
        meta = _META[type(self), self.value]
        return meta.nl if language(lang) == "nl" else meta.en


class LawfulBasis(_Described):
    """The six lawful bases of Art. 6(1) GDPR.

    Each member has an :attr:`article`, a DPV :attr:`iri` and a :meth:`label` in Dutch and
    English.

    .. versionadded:: 0.1.0
    """

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"

    @property
    def iri(self) -> str:
        """The DPV term for this basis, e.g. ``https://w3id.org/dpv/legal/eu/gdpr#A6-1-a``."""
        return _dpv.LAWFUL_BASES[self.value]


class SpecialCategory(_Described):
    """The special categories of personal data of Art. 9(1) GDPR.

    .. versionadded:: 0.1.0
    """

    RACIAL_OR_ETHNIC_ORIGIN = "racial_or_ethnic_origin"
    POLITICAL_OPINIONS = "political_opinions"
    RELIGIOUS_OR_PHILOSOPHICAL_BELIEFS = "religious_or_philosophical_beliefs"
    TRADE_UNION_MEMBERSHIP = "trade_union_membership"
    GENETIC_DATA = "genetic_data"
    BIOMETRIC_DATA = "biometric_data"
    HEALTH = "health"
    SEX_LIFE_OR_ORIENTATION = "sex_life_or_orientation"

    @property
    def iri(self) -> str:
        """The DPV term for this category (``pd`` or ``eu-gdpr`` extension)."""
        return _dpv.SPECIAL_CATEGORIES[self.value]


class Art9Condition(_Described):
    """The conditions of Art. 9(2)(a)-(j) under which special-category data may be processed.

    .. versionadded:: 0.1.0
    """

    EXPLICIT_CONSENT = "explicit_consent"
    EMPLOYMENT_AND_SOCIAL_SECURITY = "employment_and_social_security"
    VITAL_INTERESTS = "vital_interests"
    NOT_FOR_PROFIT_BODY = "not_for_profit_body"
    MANIFESTLY_MADE_PUBLIC = "manifestly_made_public"
    LEGAL_CLAIMS = "legal_claims"
    SUBSTANTIAL_PUBLIC_INTEREST = "substantial_public_interest"
    HEALTH_OR_SOCIAL_CARE = "health_or_social_care"
    PUBLIC_HEALTH = "public_health"
    ARCHIVING_RESEARCH_STATISTICS = "archiving_research_statistics"

    @property
    def iri(self) -> str:
        """The DPV term, e.g. ``https://w3id.org/dpv/legal/eu/gdpr#A9-2-a``."""
        return _dpv.ART9_CONDITIONS[self.article[-2]]


class IdentifierKind(enum.StrEnum):
    """How much a field says about who someone is (drives anonymisation and k-anonymity).

    .. versionadded:: 0.1.0
    """

    DIRECT = "direct"
    """Identifies a person on its own: name, e-mail address, phone number, bank account."""
    QUASI = "quasi"
    """Identifies in combination: postcode, birth date, city, IP address."""
    SENSITIVE = "sensitive"
    """Not identifying, but harmful if linked to a person (e.g. special-category data)."""
    NONE = "none"
    """Neither identifying nor sensitive."""


class Treatment(enum.StrEnum):
    """What the anonymiser does with a field.

    .. versionadded:: 0.1.0
    """

    DROP = "drop"
    """Remove the value."""
    GENERALISE = "generalise"
    """Replace the value by a coarser one, using the generaliser the field names."""
    PSEUDONYMISE = "pseudonymise"
    """Replace the value by a keyed pseudonym."""
    KEEP = "keep"
    """Keep the value as it is."""


class RecipientRole(_Described):
    """The role in which a recipient receives personal data.

    .. versionadded:: 0.1.0
    """

    PROCESSOR = "processor"
    SUB_PROCESSOR = "sub_processor"
    THIRD_PARTY = "third_party"
    JOINT_CONTROLLER = "joint_controller"

    @property
    def iri(self) -> str:
        """The DPV term for this role, e.g. ``https://w3id.org/dpv#DataProcessor``."""
        return _dpv.RECIPIENT_ROLES[self.value]


class TransferMechanism(_Described):
    """The Chapter V ground for transferring personal data to a third country.

    .. versionadded:: 0.1.0
    """

    ADEQUACY_DECISION = "adequacy_decision"
    STANDARD_CONTRACTUAL_CLAUSES = "standard_contractual_clauses"
    BINDING_CORPORATE_RULES = "binding_corporate_rules"
    ART49_DEROGATION = "art49_derogation"

    @property
    def iri(self) -> str | None:
        """The DPV term, or ``None`` for Art. 49 derogations (DPV has one per point only)."""
        return _dpv.TRANSFER_MECHANISMS[self.value]


def _k(member: _Described) -> tuple[type[_Described], str]:
    return type(member), member.value


# Keyed by (enum, value): members of different enums share values ("vital_interests") and,
# being str, would collide as plain keys.
_META: Final[dict[tuple[type[_Described], str], _Meta]] = {
    _k(LawfulBasis.CONSENT): _Meta("Art. 6(1)(a)", "Consent", "Toestemming"),
    _k(LawfulBasis.CONTRACT): _Meta(
        "Art. 6(1)(b)", "Performance of a contract", "Uitvoering van een overeenkomst"
    ),
    _k(LawfulBasis.LEGAL_OBLIGATION): _Meta(
        "Art. 6(1)(c)", "Legal obligation", "Wettelijke verplichting"
    ),
    _k(LawfulBasis.VITAL_INTERESTS): _Meta("Art. 6(1)(d)", "Vital interests", "Vitaal belang"),
    _k(LawfulBasis.PUBLIC_TASK): _Meta(
        "Art. 6(1)(e)",
        "Task in the public interest or official authority",
        "Taak van algemeen belang of openbaar gezag",
    ),
    _k(LawfulBasis.LEGITIMATE_INTERESTS): _Meta(
        "Art. 6(1)(f)", "Legitimate interests", "Gerechtvaardigd belang"
    ),
    _k(SpecialCategory.RACIAL_OR_ETHNIC_ORIGIN): _Meta(
        "Art. 9(1)", "Racial or ethnic origin", "Ras of etnische afkomst"
    ),
    _k(SpecialCategory.POLITICAL_OPINIONS): _Meta(
        "Art. 9(1)", "Political opinions", "Politieke opvattingen"
    ),
    _k(SpecialCategory.RELIGIOUS_OR_PHILOSOPHICAL_BELIEFS): _Meta(
        "Art. 9(1)",
        "Religious or philosophical beliefs",
        "Religieuze of levensbeschouwelijke overtuigingen",
    ),
    _k(SpecialCategory.TRADE_UNION_MEMBERSHIP): _Meta(
        "Art. 9(1)", "Trade union membership", "Lidmaatschap van een vakbond"
    ),
    _k(SpecialCategory.GENETIC_DATA): _Meta("Art. 9(1)", "Genetic data", "Genetische gegevens"),
    _k(SpecialCategory.BIOMETRIC_DATA): _Meta(
        "Art. 9(1)",
        "Biometric data for uniquely identifying a person",
        "Biometrische gegevens voor de unieke identificatie van een persoon",
    ),
    _k(SpecialCategory.HEALTH): _Meta(
        "Art. 9(1)", "Data concerning health", "Gegevens over gezondheid"
    ),
    _k(SpecialCategory.SEX_LIFE_OR_ORIENTATION): _Meta(
        "Art. 9(1)",
        "Sex life or sexual orientation",
        "Seksueel gedrag of seksuele gerichtheid",
    ),
    _k(Art9Condition.EXPLICIT_CONSENT): _Meta(
        "Art. 9(2)(a)", "Explicit consent", "Uitdrukkelijke toestemming"
    ),
    _k(Art9Condition.EMPLOYMENT_AND_SOCIAL_SECURITY): _Meta(
        "Art. 9(2)(b)",
        "Employment, social security and social protection law",
        "Arbeidsrecht, socialezekerheidsrecht en sociale bescherming",
    ),
    _k(Art9Condition.VITAL_INTERESTS): _Meta(
        "Art. 9(2)(c)",
        "Vital interests of a person unable to consent",
        "Vitaal belang van iemand die geen toestemming kan geven",
    ),
    _k(Art9Condition.NOT_FOR_PROFIT_BODY): _Meta(
        "Art. 9(2)(d)",
        "Legitimate activities of a not-for-profit body",
        "Gerechtvaardigde activiteiten van een instantie zonder winstoogmerk",
    ),
    _k(Art9Condition.MANIFESTLY_MADE_PUBLIC): _Meta(
        "Art. 9(2)(e)",
        "Manifestly made public by the data subject",
        "Kennelijk openbaar gemaakt door de betrokkene",
    ),
    _k(Art9Condition.LEGAL_CLAIMS): _Meta(
        "Art. 9(2)(f)",
        "Legal claims or courts acting in their judicial capacity",
        "Rechtsvorderingen of gerechten in hun rechtsprekende taak",
    ),
    _k(Art9Condition.SUBSTANTIAL_PUBLIC_INTEREST): _Meta(
        "Art. 9(2)(g)", "Substantial public interest", "Zwaarwegend algemeen belang"
    ),
    _k(Art9Condition.HEALTH_OR_SOCIAL_CARE): _Meta(
        "Art. 9(2)(h)",
        "Preventive or occupational medicine, health or social care",
        "Preventieve of arbeidsgeneeskunde, gezondheidszorg of sociale diensten",
    ),
    _k(Art9Condition.PUBLIC_HEALTH): _Meta(
        "Art. 9(2)(i)",
        "Public interest in the area of public health",
        "Algemeen belang op het gebied van de volksgezondheid",
    ),
    _k(Art9Condition.ARCHIVING_RESEARCH_STATISTICS): _Meta(
        "Art. 9(2)(j)",
        "Archiving in the public interest, scientific or historical research, statistics",
        "Archivering in het algemeen belang, wetenschappelijk of historisch onderzoek, statistiek",
    ),
    _k(RecipientRole.PROCESSOR): _Meta("Art. 28", "Processor", "Verwerker"),
    _k(RecipientRole.SUB_PROCESSOR): _Meta("Art. 28(2)", "Sub-processor", "Subverwerker"),
    _k(RecipientRole.THIRD_PARTY): _Meta("Art. 4(10)", "Third party", "Derde"),
    _k(RecipientRole.JOINT_CONTROLLER): _Meta(
        "Art. 26", "Joint controller", "Gezamenlijke verwerkingsverantwoordelijke"
    ),
    _k(TransferMechanism.ADEQUACY_DECISION): _Meta(
        "Art. 45(3)", "Adequacy decision", "Adequaatheidsbesluit"
    ),
    _k(TransferMechanism.STANDARD_CONTRACTUAL_CLAUSES): _Meta(
        "Art. 46(2)(c)", "Standard contractual clauses", "Modelcontractbepalingen"
    ),
    _k(TransferMechanism.BINDING_CORPORATE_RULES): _Meta(
        "Art. 46(2)(b)", "Binding corporate rules", "Bindende bedrijfsvoorschriften"
    ),
    _k(TransferMechanism.ART49_DEROGATION): _Meta(
        "Art. 49(1)",
        "Derogation for a specific situation",
        "Afwijking voor een specifieke situatie",
    ),
}


def category_label(term: str, lang: Lang = "en") -> str:
    """The label of a supported DPV personal-data term in ``lang`` (DPV's own label in English).

    .. versionadded:: 0.1.0
    """
    category = _dpv.DATA_CATEGORIES[term]
    return category.nl if language(lang) == "nl" else category.en


# --------------------------------------------------------------------------- validation


class _InvalidAttributeError(ValidationError):
    """A value's attribute is malformed; the policy-file loader turns it into a dotted path."""

    def __init__(self, owner: str, attribute: str, problem: str) -> None:
        super().__init__(f"{owner}.{attribute} {problem}")
        self.attribute = attribute
        self.problem = problem


def _fail(instance: object, attribute: attrs.Attribute[Any], problem: str) -> NoReturn:
    raise _InvalidAttributeError(type(instance).__name__, attribute.name, problem)


_KEY_EXPECTED: Final = (
    "must be a lower snake-case key starting with a letter, at most 64 characters "
    "(e.g. 'ticket_sale')"
)


def _shown(value: object) -> str:
    """A safe rendering of a key-like value for an error message (never free text)."""
    if isinstance(value, str) and KEY_PATTERN.match(value):
        return repr(value)
    return f"<{type(value).__name__}>"


def _v_key(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not KEY_PATTERN.match(value):
        _fail(instance, attribute, f"{_KEY_EXPECTED}; got {_shown(value)}")


def _v_keys(*, non_empty: bool) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, tuple):
            _fail(instance, attribute, f"must be a tuple of keys, got {type(value).__name__}")
        if non_empty and not value:
            _fail(instance, attribute, "must name at least one key")
        for item in value:
            if not isinstance(item, str) or not KEY_PATTERN.match(item):
                _fail(instance, attribute, f"entries {_KEY_EXPECTED}; got {_shown(item)}")
        duplicates = sorted({item for item in value if value.count(item) > 1})
        if duplicates:
            _fail(instance, attribute, f"names {duplicates} more than once; list each once")

    return check


def _v_text(max_length: int) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        # The value itself is never echoed: it may be free text with personal data in it.
        if not isinstance(value, str):
            _fail(instance, attribute, f"must be a string, got {type(value).__name__}")
        if not value.strip():
            _fail(instance, attribute, "must be non-empty text")
        if len(value) > max_length:
            _fail(instance, attribute, f"must be at most {max_length} characters")

    return check


def _v_enum(kind: type[enum.Enum]) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind):
            allowed = [member.value for member in kind]
            _fail(
                instance,
                attribute,
                f"must be a {kind.__name__} (one of {allowed}), got {type(value).__name__}",
            )

    return check


def _v_bool(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        _fail(instance, attribute, f"must be True or False, got {type(value).__name__}")


def _v_country(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or value not in ISO_3166_ALPHA2:
        shown = repr(value) if isinstance(value, str) and len(value) <= 3 else _shown(value)  # noqa: PLR2004
        _fail(
            instance,
            attribute,
            f"must be an ISO 3166-1 alpha-2 country code in upper case (e.g. 'NL'); got {shown}",
        )


_IRI: Final = re.compile(r"^https?://[^\s<>\"{}|\\^`]+\Z")


def _v_iri(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or len(value) > 500 or not _IRI.match(value):  # noqa: PLR2004
        _fail(
            instance,
            attribute,
            "must be an absolute http(s) IRI, e.g. 'https://w3id.org/dpv#DirectMarketing'",
        )


_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")


def _v_email(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL.match(value):  # noqa: PLR2004
        _fail(instance, attribute, "must be an e-mail address such as 'privacy@example.org'")


def _v_category(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or value not in _dpv.DATA_CATEGORIES:
        shown = repr(value) if isinstance(value, str) and len(value) <= 64 else _shown(value)  # noqa: PLR2004
        _fail(
            instance,
            attribute,
            f"must be a supported DPV personal-data term; got {shown}; "
            f"supported: {sorted(_dpv.DATA_CATEGORIES)}",
        )


def _v_instance(
    kind: type, expected: str
) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind):
            _fail(instance, attribute, f"must be {expected}, got {type(value).__name__}")

    return check


def _v_items(kind: type, expected: str) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, tuple):
            _fail(instance, attribute, f"must be a tuple of {expected}")
        for item in value:
            if not isinstance(item, kind):
                _fail(instance, attribute, f"must hold only {expected}, got {type(item).__name__}")

    return check


def _to_tuple(value: Any) -> Any:
    """Accept a list or tuple (not a string, which would split into characters)."""
    if isinstance(value, list | tuple):
        return tuple(value)
    return value


def _to_texts(value: Any) -> Any:
    """Accept a :class:`Texts` or a mapping with exactly the keys ``nl`` and ``en``."""
    if isinstance(value, Mapping) and set(value) == {"nl", "en"}:
        return Texts(nl=value["nl"], en=value["en"])
    return value


def _to_optional_texts(value: Any) -> Any:
    return None if value is None else _to_texts(value)


_opt = attrs.validators.optional


# --------------------------------------------------------------------------- values


@attrs.frozen(kw_only=True)
class Texts:
    """A text in both report languages, Dutch and English (both required).

    .. versionadded:: 0.1.0
    """

    nl: str = attrs.field(validator=_v_text(4000))
    en: str = attrs.field(validator=_v_text(4000))

    def get(self, lang: Lang) -> str:
        """The text in ``lang`` (``"nl"`` or ``"en"``)."""
        return self.nl if language(lang) == "nl" else self.en

    def as_dict(self) -> dict[str, str]:
        """``{"nl": ..., "en": ...}``."""
        return {"nl": self.nl, "en": self.en}


@attrs.frozen(kw_only=True)
class Controller:
    """The controller (the venue) for the Art. 30(1)(a) record.

    Args:
        name: The controller's name.
        address: Its postal address.
        email: The address data subjects write to about their data.
        country: ISO 3166-1 alpha-2 code of its establishment (e.g. ``"NL"``).
        dpo: How to reach the data protection officer, if one is appointed.
        representative: The Art. 27 representative, if the controller has one.

    .. versionadded:: 0.1.0
    """

    name: str = attrs.field(validator=_v_text(200))
    address: str = attrs.field(validator=_v_text(500))
    email: str = attrs.field(validator=_v_email)
    country: str = attrs.field(validator=_v_country)
    dpo: str | None = attrs.field(default=None, validator=_opt(_v_text(500)))
    representative: str | None = attrs.field(default=None, validator=_opt(_v_text(500)))


@attrs.frozen(kw_only=True)
class Purpose:
    """One purpose of processing with its lawful basis.

    Args:
        key: Snake-case key, e.g. ``"newsletter"``.
        description: What the purpose is, in Dutch and English.
        basis: The one Art. 6(1) lawful basis.
        direct_marketing: Whether this is direct marketing (objection is absolute, Art. 21(3)).
        profiling: Whether this involves profiling (to be announced, Art. 13(2)(f) and 21).
        recipients: Keys of the recipients the purpose discloses data to.
        subject_categories: Keys of the categories of data subjects, e.g. ``("visitors",)``.
        retention: How long the data is kept, for the register (Art. 30(1)(f)).
        dpv_purpose: A DPV purpose IRI, e.g. ``https://w3id.org/dpv#DirectMarketing``.

    .. versionadded:: 0.1.0
    """

    key: str = attrs.field(validator=_v_key)
    description: Texts = attrs.field(
        converter=_to_texts, validator=_v_instance(Texts, "Texts (nl and en)")
    )
    basis: LawfulBasis = attrs.field(validator=_v_enum(LawfulBasis))
    direct_marketing: bool = attrs.field(default=False, validator=_v_bool)
    profiling: bool = attrs.field(default=False, validator=_v_bool)
    recipients: tuple[str, ...] = attrs.field(
        default=(), converter=_to_tuple, validator=_v_keys(non_empty=False)
    )
    subject_categories: tuple[str, ...] = attrs.field(
        default=("visitors",), converter=_to_tuple, validator=_v_keys(non_empty=True)
    )
    retention: Texts | None = attrs.field(
        default=None,
        converter=_to_optional_texts,
        validator=_opt(_v_instance(Texts, "Texts (nl and en)")),
    )
    dpv_purpose: str | None = attrs.field(default=None, validator=_opt(_v_iri))

    @property
    def needs_consent(self) -> bool:
        """Whether processing for this purpose needs the subject's consent (basis consent)."""
        return self.basis is LawfulBasis.CONSENT

    @property
    def objection_allowed(self) -> bool:
        """Whether a subject may object (Art. 21(1): bases (e) and (f); Art. 21(2): marketing)."""
        return self.direct_marketing or self.basis in {
            LawfulBasis.PUBLIC_TASK,
            LawfulBasis.LEGITIMATE_INTERESTS,
        }

    @property
    def objection_absolute(self) -> bool:
        """Whether an objection must always be honoured (Art. 21(3): direct marketing)."""
        return self.direct_marketing


@attrs.frozen(kw_only=True)
class Field:
    """One item of personal data the controller holds, and what it may be used for.

    Args:
        key: Snake-case key, e.g. ``"email"``.
        category: A DPV personal-data term (see :data:`SUPPORTED_CATEGORIES`).
        identifier: Whether it identifies directly, in combination, or is sensitive.
        purposes: Keys of the purposes it serves (at least one: data without a purpose
            must not be collected).
        treatment: What the anonymiser does with it.
        generaliser: The generaliser's name, required with ``Treatment.GENERALISE`` and
            refused otherwise (e.g. ``"postcode_pc4"``, ``"birth_date_year"``).
        special_category: The Art. 9(1) category, if the data is special-category data.
        art9_condition: The Art. 9(2) condition that permits processing it.
        description: What the field holds, in Dutch and English.

    .. versionadded:: 0.1.0
    """

    key: str = attrs.field(validator=_v_key)
    category: str = attrs.field(validator=_v_category)
    identifier: IdentifierKind = attrs.field(validator=_v_enum(IdentifierKind))
    purposes: tuple[str, ...] = attrs.field(converter=_to_tuple, validator=_v_keys(non_empty=True))
    treatment: Treatment = attrs.field(default=Treatment.DROP, validator=_v_enum(Treatment))
    generaliser: str | None = attrs.field(default=None)
    special_category: SpecialCategory | None = attrs.field(
        default=None, validator=_opt(_v_enum(SpecialCategory))
    )
    art9_condition: Art9Condition | None = attrs.field(
        default=None, validator=_opt(_v_enum(Art9Condition))
    )
    description: Texts | None = attrs.field(
        default=None,
        converter=_to_optional_texts,
        validator=_opt(_v_instance(Texts, "Texts (nl and en)")),
    )

    @generaliser.validator
    def _check_generaliser(self, attribute: attrs.Attribute[Any], value: object) -> None:
        if self.treatment is Treatment.GENERALISE:
            if value is None:
                _fail(
                    self,
                    attribute,
                    "is required when treatment is 'generalise': name one, e.g. "
                    "'postcode_pc4', 'birth_date_year', 'ip_prefix', 'email_domain'",
                )
            _v_key(self, attribute, value)
        elif value is not None:
            _fail(
                self,
                attribute,
                f"is only allowed with treatment 'generalise', not {str(self.treatment)!r}; "
                "remove it or change the treatment",
            )

    @property
    def category_iri(self) -> str:
        """The DPV IRI of :attr:`category`."""
        return _dpv.DATA_CATEGORIES[self.category].iri


@attrs.frozen(kw_only=True)
class Recipient:
    """Someone personal data is disclosed to: a processor, sub-processor or third party.

    Args:
        key: Snake-case key, e.g. ``"mail_platform"``.
        name: The recipient's name (an organisation, not a person).
        role: Its role.
        country: ISO 3166-1 alpha-2 code of where it processes the data.
        transfer_mechanism: The Chapter V ground, required outside the EEA.

    .. versionadded:: 0.1.0
    """

    key: str = attrs.field(validator=_v_key)
    name: str = attrs.field(validator=_v_text(200))
    role: RecipientRole = attrs.field(validator=_v_enum(RecipientRole))
    country: str = attrs.field(validator=_v_country)
    transfer_mechanism: TransferMechanism | None = attrs.field(
        default=None, validator=_opt(_v_enum(TransferMechanism))
    )

    @property
    def third_country(self) -> bool:
        """Whether the recipient is outside the EEA (a transfer under Chapter V)."""
        return self.country not in EEA


@attrs.frozen(kw_only=True)
class PurposeUse:
    """One line of :meth:`Inventory.by_purpose`: a purpose, its basis and the fields it uses.

    .. versionadded:: 0.1.0
    """

    purpose: Purpose
    fields: tuple[Field, ...]

    @property
    def basis(self) -> LawfulBasis:
        """The purpose's lawful basis."""
        return self.purpose.basis

    @property
    def field_keys(self) -> tuple[str, ...]:
        """The keys of the fields, in declaration order."""
        return tuple(field.key for field in self.fields)


# --------------------------------------------------------------------------- tagging


@attrs.frozen(kw_only=True)
class FieldTag:
    """The inventory tag :func:`tag` puts in an attrs attribute's metadata.

    ``template`` is a validated :class:`Field` whose key is replaced, when the inventory is
    read off the class, by ``key`` or else the attribute's name.

    .. versionadded:: 0.1.0
    """

    key: str | None
    template: Field

    def to_field(self, attribute_name: str) -> Field:
        """The :class:`Field` for an attribute called ``attribute_name``."""
        return attrs.evolve(self.template, key=self.key or attribute_name)


_TEMPLATE_KEY: Final = "tagged_attribute"


def tag(
    *,
    category: str,
    purposes: Iterable[str],
    identifier: IdentifierKind,
    treatment: Treatment = Treatment.DROP,
    generaliser: str | None = None,
    special_category: SpecialCategory | None = None,
    art9_condition: Art9Condition | None = None,
    description: Texts | Mapping[str, str] | None = None,
    key: str | None = None,
) -> dict[str, FieldTag]:
    """Metadata marking an attrs attribute as personal data, for ``attrs.field(metadata=...)``.

    The arguments are those of :class:`Field`; ``key`` defaults to the attribute's name.
    The tag is validated here, so a mistake shows where it is written::

        @attrs.define
        class Visitor:
            email: str = attrs.field(
                metadata=tag(category="EmailAddress", identifier=IdentifierKind.DIRECT,
                             purposes=("ticket_sale", "newsletter"))
            )

    Read the fields off the classes with :meth:`Inventory.from_classes`.

    Raises:
        ValidationError: An argument is malformed.

    .. versionadded:: 0.1.0
    """
    if isinstance(purposes, str):
        msg = "tag(purposes=...) must be a list or tuple of purpose keys, not one string"
        raise ValidationError(msg)
    template = Field(
        key=key if key is not None else _TEMPLATE_KEY,
        category=category,
        identifier=identifier,
        purposes=tuple(purposes),
        treatment=treatment,
        generaliser=generaliser,
        special_category=special_category,
        art9_condition=art9_condition,
        description=description,
    )
    return {METADATA_KEY: FieldTag(key=key, template=template)}


def _fields_from_class(cls: object) -> list[Field]:
    if not isinstance(cls, type) or not attrs.has(cls):
        what = cls.__name__ if isinstance(cls, type) else f"a {type(cls).__name__} instance"
        msg = (
            f"{what} is not an attrs class; from_classes reads tags from classes decorated "
            "with @attrs.define or @attrs.frozen"
        )
        raise ValidationError(msg)
    found: list[Field] = []
    for attribute in attrs.fields(cls):
        marker = attribute.metadata.get(METADATA_KEY)
        if marker is None:
            continue  # untagged attributes are not personal data
        if not isinstance(marker, FieldTag):
            msg = (
                f"{cls.__name__}.{attribute.name}: metadata[{METADATA_KEY!r}] must come from tag()"
            )
            raise ValidationError(msg)
        name = attribute.alias or attribute.name
        try:
            found.append(marker.to_field(name))
        except ValidationError as exc:
            msg = f"{cls.__name__}.{attribute.name}: {exc}; pass tag(key=...) to name the field"
            raise ValidationError(msg) from exc
    return found


# --------------------------------------------------------------------------- the inventory


def _declared(kind: str, key: object, known: Iterable[str]) -> PolicyError:
    return PolicyError(
        f"{kind} {_shown(key)} is not declared in the inventory; declared: {sorted(known)}"
    )


@attrs.frozen(kw_only=True)
class Inventory:
    """The controller's declaration of purposes, fields and recipients, free of contradictions.

    Args:
        controller: The controller.
        purposes: The purposes, in the order the register lists them.
        fields: The fields of personal data.
        recipients: The recipients.
        security_measures: A general description of the security measures (Art. 30(1)(g)).

    Raises:
        ValidationError: A value is of the wrong type.
        PolicyError: The declaration contradicts itself or the GDPR; the message names the
            entry (as a dotted path, as in a policy file) and how to fix it.

    .. versionadded:: 0.1.0
    """

    controller: Controller = attrs.field(validator=_v_instance(Controller, "a Controller"))
    purposes: tuple[Purpose, ...] = attrs.field(
        converter=_to_tuple, validator=_v_items(Purpose, "Purpose values")
    )
    fields: tuple[Field, ...] = attrs.field(
        converter=_to_tuple, validator=_v_items(Field, "Field values")
    )
    recipients: tuple[Recipient, ...] = attrs.field(
        default=(), converter=_to_tuple, validator=_v_items(Recipient, "Recipient values")
    )
    security_measures: Texts | None = attrs.field(
        default=None,
        converter=_to_optional_texts,
        validator=_opt(_v_instance(Texts, "Texts (nl and en)")),
    )
    _purposes: dict[str, Purpose] = attrs.field(init=False, repr=False, eq=False)
    _fields: dict[str, Field] = attrs.field(init=False, repr=False, eq=False)
    _recipients: dict[str, Recipient] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        """Index the entries and refuse contradictions."""
        object.__setattr__(self, "_purposes", _index("purposes", self.purposes))
        object.__setattr__(self, "_fields", _index("fields", self.fields))
        object.__setattr__(self, "_recipients", _index("recipients", self.recipients))
        for purpose in self.purposes:
            self._check_purpose(purpose)
        for field in self.fields:
            self._check_field(field)
        for recipient in self.recipients:
            _check_recipient(recipient)

    def _check_purpose(self, purpose: Purpose) -> None:
        path = f"purposes.{purpose.key}"
        for name in purpose.recipients:
            if name not in self._recipients:
                msg = (
                    f"{path}.recipients: purpose {purpose.key!r} names recipient {name!r}, "
                    f"which is not declared; declared recipients: {sorted(self._recipients)}. "
                    "Declare it under recipients or remove it from the purpose"
                )
                raise PolicyError(msg)
        if purpose.direct_marketing and purpose.basis not in {
            LawfulBasis.CONSENT,
            LawfulBasis.LEGITIMATE_INTERESTS,
        }:
            # Art. 7(3) and 21(2)-(3): a subject can always stop direct marketing. On any other
            # basis the inventory would promise processing the subject cannot withdraw from.
            msg = (
                f"{path}.basis: purpose {purpose.key!r} is direct marketing on basis "
                f"{str(purpose.basis)!r}, which the subject could not withdraw from or object "
                "to (Art. 7(3), 21(2)); base direct marketing on 'consent' or "
                "'legitimate_interests'"
            )
            raise PolicyError(msg)

    def _check_field(self, field: Field) -> None:
        path = f"fields.{field.key}"
        for name in field.purposes:
            if name not in self._purposes:
                msg = (
                    f"{path}.purposes: field {field.key!r} serves purpose {name!r}, which is "
                    f"not declared; declared purposes: {sorted(self._purposes)}. Declare it "
                    "under purposes or remove it from the field"
                )
                raise PolicyError(msg)
        implied = _dpv.DATA_CATEGORIES[field.category].special
        if implied is not None and field.special_category is not SpecialCategory(implied):
            msg = (
                f"{path}.special_category: field {field.key!r} has category "
                f"{field.category!r}, which is special-category data (Art. 9(1)); set "
                f"special_category = {implied!r} and an art9_condition"
            )
            raise PolicyError(msg)
        if field.special_category is not None and field.art9_condition is None:
            msg = (
                f"{path}.art9_condition: field {field.key!r} holds special-category data "
                f"({str(field.special_category)!r}) without an Art. 9(2) condition; set "
                f"art9_condition (one of {[c.value for c in Art9Condition]}) or stop "
                "processing it"
            )
            raise PolicyError(msg)
        if field.art9_condition is not None and field.special_category is None:
            msg = (
                f"{path}.special_category: field {field.key!r} has an Art. 9(2) condition but "
                "no special category; set special_category or remove art9_condition"
            )
            raise PolicyError(msg)
        if field.identifier is IdentifierKind.DIRECT and field.treatment is Treatment.KEEP:
            msg = (
                f"{path}.treatment: field {field.key!r} is a direct identifier with treatment "
                "'keep', so anonymised records would still identify people; use 'drop', "
                "'pseudonymise' or 'generalise'"
            )
            raise PolicyError(msg)

    # ------------------------------------------------------------------ lookups

    def purpose(self, key: str) -> Purpose:
        """The purpose declared under ``key``.

        Raises:
            PolicyError: No such purpose is declared.
        """
        try:
            return self._purposes[key]
        except (KeyError, TypeError):
            raise _declared("purpose", key, self._purposes) from None

    def field(self, key: str) -> Field:
        """The field declared under ``key``.

        Raises:
            PolicyError: No such field is declared.
        """
        try:
            return self._fields[key]
        except (KeyError, TypeError):
            raise _declared("field", key, self._fields) from None

    def recipient(self, key: str) -> Recipient:
        """The recipient declared under ``key``.

        Raises:
            PolicyError: No such recipient is declared.
        """
        try:
            return self._recipients[key]
        except (KeyError, TypeError):
            raise _declared("recipient", key, self._recipients) from None

    def may_use(self, field: str, purpose: str) -> bool:
        """Whether the inventory declares ``field`` as serving ``purpose``.

        This is the inventory's half of a permission; whether a subject consented or
        objected is the consent ledger's.

        Raises:
            PolicyError: ``field`` or ``purpose`` is not declared.
        """
        declared_field = self.field(field)
        self.purpose(purpose)
        return purpose in declared_field.purposes

    def fields_for(self, purpose: str) -> tuple[Field, ...]:
        """The fields serving ``purpose``, in declaration order.

        Raises:
            PolicyError: ``purpose`` is not declared.
        """
        self.purpose(purpose)
        return tuple(field for field in self.fields if purpose in field.purposes)

    def purposes_for(self, field: str) -> tuple[Purpose, ...]:
        """The purposes ``field`` serves, in the inventory's purpose order.

        Raises:
            PolicyError: ``field`` is not declared.
        """
        serves = self.field(field).purposes
        return tuple(purpose for purpose in self.purposes if purpose.key in serves)

    def recipients_for(self, purpose: str) -> tuple[Recipient, ...]:
        """The recipients ``purpose`` discloses data to.

        Raises:
            PolicyError: ``purpose`` is not declared.
        """
        return tuple(self._recipients[key] for key in self.purpose(purpose).recipients)

    def by_purpose(self) -> dict[str, PurposeUse]:
        """Every purpose with its basis and the fields it uses, keyed by purpose key."""
        return {
            purpose.key: PurposeUse(purpose=purpose, fields=self.fields_for(purpose.key))
            for purpose in self.purposes
        }

    @property
    def categories(self) -> frozenset[str]:
        """The DPV personal-data terms the fields use (e.g. ``{"EmailAddress", "Name"}``)."""
        return frozenset(field.category for field in self.fields)

    @property
    def third_country_recipients(self) -> tuple[Recipient, ...]:
        """The recipients outside the EEA."""
        return tuple(recipient for recipient in self.recipients if recipient.third_country)

    # ------------------------------------------------------------------ the register

    def register(self) -> ProcessingRegister:
        """The Art. 30(1) record of processing activities: one activity per purpose."""
        recipients = {r.key: _register_recipient(r) for r in self.recipients}
        activities = []
        for purpose in self.purposes:
            fields = self.fields_for(purpose.key)
            activities.append(
                ProcessingActivity(
                    purpose=purpose.key,
                    description=purpose.description,
                    basis=purpose.basis,
                    direct_marketing=purpose.direct_marketing,
                    profiling=purpose.profiling,
                    subject_categories=purpose.subject_categories,
                    field_keys=tuple(field.key for field in fields),
                    data_categories=tuple(dict.fromkeys(field.category for field in fields)),
                    special_categories=tuple(
                        dict.fromkeys(
                            (field.special_category, field.art9_condition)
                            for field in fields
                            if field.special_category is not None
                            and field.art9_condition is not None
                        )
                    ),
                    recipients=tuple(recipients[key] for key in purpose.recipients),
                    retention=purpose.retention,
                    dpv_purpose=purpose.dpv_purpose,
                )
            )
        return ProcessingRegister(
            controller=self.controller,
            activities=tuple(activities),
            recipients=tuple(recipients.values()),
            security_measures=self.security_measures,
        )

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_mapping(cls, data: object) -> Inventory:
        """Build an inventory from a policy-file mapping (parsed TOML or JSON).

        Purposes, fields and recipients are tables keyed by their key::

            [purposes.newsletter]
            basis = "consent"
            direct_marketing = true
            description = { nl = "Nieuwsbrief", en = "Newsletter" }

        Raises:
            ValidationError: The mapping does not match the shipped JSON Schema or holds a
                malformed value; the message names the dotted path (``purposes.newsletter.basis``)
                and what was expected.
            PolicyError: The declaration contradicts itself.
        """
        from avgkit import _policyfile  # noqa: PLC0415 - _policyfile imports this module

        return _policyfile.inventory_from_mapping(data)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Inventory:
        """Load an inventory from a ``.toml`` or ``.json`` policy file.

        Raises:
            ValidationError: The file cannot be read or parsed, or is invalid (see
                :meth:`from_mapping`).
            PolicyError: The declaration contradicts itself.
        """
        from avgkit import _policyfile  # noqa: PLC0415 - _policyfile imports this module

        return _policyfile.inventory_from_file(path)

    def to_mapping(self) -> dict[str, Any]:
        """The inventory as a policy-file mapping, ready for ``json.dumps``.

        ``Inventory.from_mapping(inventory.to_mapping()) == inventory``.
        """
        from avgkit import _policyfile  # noqa: PLC0415 - _policyfile imports this module

        return _policyfile.inventory_to_mapping(self)

    @classmethod
    def from_classes(
        cls,
        *classes: type,
        controller: Controller,
        purposes: Iterable[Purpose],
        recipients: Iterable[Recipient] = (),
        fields: Iterable[Field] = (),
        security_measures: Texts | Mapping[str, str] | None = None,
    ) -> Inventory:
        """Build an inventory from attrs classes whose attributes are tagged with :func:`tag`.

        Untagged attributes are not personal data and are skipped. A field key found on more
        than one class must carry the same tag everywhere; it is listed once.

        Args:
            classes: The host's attrs model classes.
            controller: The controller.
            purposes: The purposes.
            recipients: The recipients.
            fields: Further fields not declared on a class.
            security_measures: The Art. 30(1)(g) description.

        Raises:
            ValidationError: A class is not an attrs class, or a tag is malformed.
            PolicyError: Two classes tag the same key differently, or the result
                contradicts itself.
        """
        collected: dict[str, Field] = {}
        extra = list(fields)
        for field in [f for c in classes for f in _fields_from_class(c)] + extra:
            seen = collected.get(field.key)
            if seen is not None and seen != field:
                msg = (
                    f"fields.{field.key}: the key is tagged twice with different tags; make the "
                    "tags equal or give one of them another key with tag(key=...)"
                )
                raise PolicyError(msg)
            collected[field.key] = field
        return cls(
            controller=controller,
            purposes=tuple(purposes),
            fields=tuple(collected.values()),
            recipients=tuple(recipients),
            security_measures=security_measures,
        )


_Keyed = TypeVar("_Keyed", Purpose, Field, Recipient)


def _index(section: str, values: tuple[_Keyed, ...]) -> dict[str, _Keyed]:
    index: dict[str, _Keyed] = {}
    for value in values:
        if value.key in index:
            msg = f"{section}.{value.key}: the key {value.key!r} is declared twice; keys are unique"
            raise PolicyError(msg)
        index[value.key] = value
    return index


def _check_recipient(recipient: Recipient) -> None:
    path = f"recipients.{recipient.key}.transfer_mechanism"
    if recipient.third_country and recipient.transfer_mechanism is None:
        msg = (
            f"{path}: recipient {recipient.key!r} is in {recipient.country}, outside the EEA, "
            "with no transfer mechanism (Chapter V); set transfer_mechanism to one of "
            f"{[m.value for m in TransferMechanism]}"
        )
        raise PolicyError(msg)
    if not recipient.third_country and recipient.transfer_mechanism is not None:
        msg = (
            f"{path}: recipient {recipient.key!r} is in {recipient.country}, inside the EEA, "
            "where no transfer mechanism applies; remove it or correct the country"
        )
        raise PolicyError(msg)


def _register_recipient(recipient: Recipient) -> RegisterRecipient:
    return RegisterRecipient(
        key=recipient.key,
        name=recipient.name,
        role=recipient.role,
        country=recipient.country,
        third_country=recipient.third_country,
        transfer_mechanism=recipient.transfer_mechanism,
    )
