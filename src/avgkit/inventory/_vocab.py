"""The inventory's vocabularies: lawful bases, special categories, Art. 9 conditions, roles.

Each member carries its GDPR article, a DPV IRI where one exists, and Dutch and English
labels.
"""

from __future__ import annotations

import enum
from typing import Final

from avgkit import _dpv
from avgkit._countries import EEA
from avgkit._render import Lang, language
from avgkit._vocab import Terms, WithArticle, define, key

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
# --------------------------------------------------------------------------- vocabularies


class LawfulBasis(WithArticle):
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


class SpecialCategory(WithArticle):
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


class Art9Condition(WithArticle):
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


class RecipientRole(WithArticle):
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


class TransferMechanism(WithArticle):
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


def _art(article: str, en: str, nl: str) -> Terms:
    return Terms(nl=nl, en=en, article=article)


_k = key
_META: Final = {
    _k(LawfulBasis.CONSENT): _art("Art. 6(1)(a)", "Consent", "Toestemming"),
    _k(LawfulBasis.CONTRACT): _art(
        "Art. 6(1)(b)", "Performance of a contract", "Uitvoering van een overeenkomst"
    ),
    _k(LawfulBasis.LEGAL_OBLIGATION): _art(
        "Art. 6(1)(c)", "Legal obligation", "Wettelijke verplichting"
    ),
    _k(LawfulBasis.VITAL_INTERESTS): _art("Art. 6(1)(d)", "Vital interests", "Vitaal belang"),
    _k(LawfulBasis.PUBLIC_TASK): _art(
        "Art. 6(1)(e)",
        "Task in the public interest or official authority",
        "Taak van algemeen belang of openbaar gezag",
    ),
    _k(LawfulBasis.LEGITIMATE_INTERESTS): _art(
        "Art. 6(1)(f)", "Legitimate interests", "Gerechtvaardigd belang"
    ),
    _k(SpecialCategory.RACIAL_OR_ETHNIC_ORIGIN): _art(
        "Art. 9(1)", "Racial or ethnic origin", "Ras of etnische afkomst"
    ),
    _k(SpecialCategory.POLITICAL_OPINIONS): _art(
        "Art. 9(1)", "Political opinions", "Politieke opvattingen"
    ),
    _k(SpecialCategory.RELIGIOUS_OR_PHILOSOPHICAL_BELIEFS): _art(
        "Art. 9(1)",
        "Religious or philosophical beliefs",
        "Religieuze of levensbeschouwelijke overtuigingen",
    ),
    _k(SpecialCategory.TRADE_UNION_MEMBERSHIP): _art(
        "Art. 9(1)", "Trade union membership", "Lidmaatschap van een vakbond"
    ),
    _k(SpecialCategory.GENETIC_DATA): _art("Art. 9(1)", "Genetic data", "Genetische gegevens"),
    _k(SpecialCategory.BIOMETRIC_DATA): _art(
        "Art. 9(1)",
        "Biometric data for uniquely identifying a person",
        "Biometrische gegevens voor de unieke identificatie van een persoon",
    ),
    _k(SpecialCategory.HEALTH): _art(
        "Art. 9(1)", "Data concerning health", "Gegevens over gezondheid"
    ),
    _k(SpecialCategory.SEX_LIFE_OR_ORIENTATION): _art(
        "Art. 9(1)",
        "Sex life or sexual orientation",
        "Seksueel gedrag of seksuele gerichtheid",
    ),
    _k(Art9Condition.EXPLICIT_CONSENT): _art(
        "Art. 9(2)(a)", "Explicit consent", "Uitdrukkelijke toestemming"
    ),
    _k(Art9Condition.EMPLOYMENT_AND_SOCIAL_SECURITY): _art(
        "Art. 9(2)(b)",
        "Employment, social security and social protection law",
        "Arbeidsrecht, socialezekerheidsrecht en sociale bescherming",
    ),
    _k(Art9Condition.VITAL_INTERESTS): _art(
        "Art. 9(2)(c)",
        "Vital interests of a person unable to consent",
        "Vitaal belang van iemand die geen toestemming kan geven",
    ),
    _k(Art9Condition.NOT_FOR_PROFIT_BODY): _art(
        "Art. 9(2)(d)",
        "Legitimate activities of a not-for-profit body",
        "Gerechtvaardigde activiteiten van een instantie zonder winstoogmerk",
    ),
    _k(Art9Condition.MANIFESTLY_MADE_PUBLIC): _art(
        "Art. 9(2)(e)",
        "Manifestly made public by the data subject",
        "Kennelijk openbaar gemaakt door de betrokkene",
    ),
    _k(Art9Condition.LEGAL_CLAIMS): _art(
        "Art. 9(2)(f)",
        "Legal claims or courts acting in their judicial capacity",
        "Rechtsvorderingen of gerechten in hun rechtsprekende taak",
    ),
    _k(Art9Condition.SUBSTANTIAL_PUBLIC_INTEREST): _art(
        "Art. 9(2)(g)", "Substantial public interest", "Zwaarwegend algemeen belang"
    ),
    _k(Art9Condition.HEALTH_OR_SOCIAL_CARE): _art(
        "Art. 9(2)(h)",
        "Preventive or occupational medicine, health or social care",
        "Preventieve of arbeidsgeneeskunde, gezondheidszorg of sociale diensten",
    ),
    _k(Art9Condition.PUBLIC_HEALTH): _art(
        "Art. 9(2)(i)",
        "Public interest in the area of public health",
        "Algemeen belang op het gebied van de volksgezondheid",
    ),
    _k(Art9Condition.ARCHIVING_RESEARCH_STATISTICS): _art(
        "Art. 9(2)(j)",
        "Archiving in the public interest, scientific or historical research, statistics",
        "Archivering in het algemeen belang, wetenschappelijk of historisch onderzoek, statistiek",
    ),
    _k(RecipientRole.PROCESSOR): _art("Art. 28", "Processor", "Verwerker"),
    _k(RecipientRole.SUB_PROCESSOR): _art("Art. 28(2)", "Sub-processor", "Subverwerker"),
    _k(RecipientRole.THIRD_PARTY): _art("Art. 4(10)", "Third party", "Derde"),
    _k(RecipientRole.JOINT_CONTROLLER): _art(
        "Art. 26", "Joint controller", "Gezamenlijke verwerkingsverantwoordelijke"
    ),
    _k(TransferMechanism.ADEQUACY_DECISION): _art(
        "Art. 45(3)", "Adequacy decision", "Adequaatheidsbesluit"
    ),
    _k(TransferMechanism.STANDARD_CONTRACTUAL_CLAUSES): _art(
        "Art. 46(2)(c)", "Standard contractual clauses", "Modelcontractbepalingen"
    ),
    _k(TransferMechanism.BINDING_CORPORATE_RULES): _art(
        "Art. 46(2)(b)", "Binding corporate rules", "Bindende bedrijfsvoorschriften"
    ),
    _k(TransferMechanism.ART49_DEROGATION): _art(
        "Art. 49(1)",
        "Derogation for a specific situation",
        "Afwijking voor een specifieke situatie",
    ),
}
define(_META)


def category_label(term: str, lang: Lang = "en") -> str:
    """The label of a supported DPV personal-data term in ``lang`` (DPV's own label in English).

    .. versionadded:: 0.1.0
    """
    category = _dpv.DATA_CATEGORIES[term]
    return category.nl if language(lang) == "nl" else category.en
