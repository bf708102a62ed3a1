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
from avgkit._vocab import Bilingual, Term, WithArticle

EEA_COUNTRIES: Final[frozenset[str]] = EEA
"""ISO 3166-1 alpha-2 codes of the European Economic Area (EU 27, Iceland, Liechtenstein,
Norway). A recipient in any other country is in a third country (Chapter V GDPR).

.. versionadded:: 0.1.0
"""

SUPPORTED_CATEGORIES: Final[frozenset[str]] = frozenset(_dpv.DATA_CATEGORIES)
"""The DPV personal-data terms (``https://w3id.org/dpv/pd#<term>``) a :class:`Field` may name
as its ``category``, e.g. ``"EmailAddress"``, ``"BirthDate"``, ``"Nationality"``: every term
of the personal-data extension of DPV 2.3 (231 terms).

.. versionadded:: 0.1.0
.. versionchanged:: 0.2.0
   Every DPV 2.3 personal-data term, from the term list shipped in the package (38 before).

:meta hide-value:
"""

GENERALISER_NAMES: Final[frozenset[str]] = frozenset(
    {
        "birth_date_year",
        "birth_date_age_band",
        "postcode_pc4",
        "ip_prefix",
        "email_domain",
        "amount_band",
    }
)
"""The names of the built-in generalisers (:data:`avgkit.pseudonym.GENERALISERS`), which a
policy file's ``generaliser`` may name without declaring it.

.. versionadded:: 0.2.0
"""
# --------------------------------------------------------------------------- vocabularies


class LawfulBasis(WithArticle):
    """The six lawful bases of Art. 6(1) GDPR.

    Each member has an :attr:`article`, a DPV :attr:`iri` and a :meth:`label` in Dutch and
    English.

    .. versionadded:: 0.1.0
    """

    CONSENT = Term("consent", nl="Toestemming", en="Consent", article="Art. 6(1)(a)")
    CONTRACT = Term(
        "contract",
        nl="Uitvoering van een overeenkomst",
        en="Performance of a contract",
        article="Art. 6(1)(b)",
    )
    LEGAL_OBLIGATION = Term(
        "legal_obligation",
        nl="Wettelijke verplichting",
        en="Legal obligation",
        article="Art. 6(1)(c)",
    )
    VITAL_INTERESTS = Term(
        "vital_interests", nl="Vitaal belang", en="Vital interests", article="Art. 6(1)(d)"
    )
    PUBLIC_TASK = Term(
        "public_task",
        nl="Taak van algemeen belang of openbaar gezag",
        en="Task in the public interest or official authority",
        article="Art. 6(1)(e)",
    )
    LEGITIMATE_INTERESTS = Term(
        "legitimate_interests",
        nl="Gerechtvaardigd belang",
        en="Legitimate interests",
        article="Art. 6(1)(f)",
    )

    @property
    def iri(self) -> str:
        """The DPV term for this basis, e.g. ``https://w3id.org/dpv/legal/eu/gdpr#A6-1-a``."""
        return _dpv.LAWFUL_BASES[self.value]


class SpecialCategory(WithArticle):
    """The special categories of personal data of Art. 9(1) GDPR.

    .. versionadded:: 0.1.0
    """

    RACIAL_OR_ETHNIC_ORIGIN = Term(
        "racial_or_ethnic_origin",
        nl="Ras of etnische afkomst",
        en="Racial or ethnic origin",
        article="Art. 9(1)",
    )
    POLITICAL_OPINIONS = Term(
        "political_opinions",
        nl="Politieke opvattingen",
        en="Political opinions",
        article="Art. 9(1)",
    )
    RELIGIOUS_OR_PHILOSOPHICAL_BELIEFS = Term(
        "religious_or_philosophical_beliefs",
        nl="Religieuze of levensbeschouwelijke overtuigingen",
        en="Religious or philosophical beliefs",
        article="Art. 9(1)",
    )
    TRADE_UNION_MEMBERSHIP = Term(
        "trade_union_membership",
        nl="Lidmaatschap van een vakbond",
        en="Trade union membership",
        article="Art. 9(1)",
    )
    GENETIC_DATA = Term(
        "genetic_data", nl="Genetische gegevens", en="Genetic data", article="Art. 9(1)"
    )
    BIOMETRIC_DATA = Term(
        "biometric_data",
        nl="Biometrische gegevens voor de unieke identificatie van een persoon",
        en="Biometric data for uniquely identifying a person",
        article="Art. 9(1)",
    )
    HEALTH = Term(
        "health", nl="Gegevens over gezondheid", en="Data concerning health", article="Art. 9(1)"
    )
    SEX_LIFE_OR_ORIENTATION = Term(
        "sex_life_or_orientation",
        nl="Seksueel gedrag of seksuele gerichtheid",
        en="Sex life or sexual orientation",
        article="Art. 9(1)",
    )

    @property
    def iri(self) -> str:
        """The DPV term for this category (``pd`` or ``eu-gdpr`` extension)."""
        return _dpv.SPECIAL_CATEGORIES[self.value]


class Art9Condition(WithArticle):
    """The conditions of Art. 9(2)(a)-(j) under which special-category data may be processed.

    .. versionadded:: 0.1.0
    """

    EXPLICIT_CONSENT = Term(
        "explicit_consent",
        nl="Uitdrukkelijke toestemming",
        en="Explicit consent",
        article="Art. 9(2)(a)",
    )
    EMPLOYMENT_AND_SOCIAL_SECURITY = Term(
        "employment_and_social_security",
        nl="Arbeidsrecht, socialezekerheidsrecht en sociale bescherming",
        en="Employment, social security and social protection law",
        article="Art. 9(2)(b)",
    )
    VITAL_INTERESTS = Term(
        "vital_interests",
        nl="Vitaal belang van iemand die geen toestemming kan geven",
        en="Vital interests of a person unable to consent",
        article="Art. 9(2)(c)",
    )
    NOT_FOR_PROFIT_BODY = Term(
        "not_for_profit_body",
        nl="Gerechtvaardigde activiteiten van een instantie zonder winstoogmerk",
        en="Legitimate activities of a not-for-profit body",
        article="Art. 9(2)(d)",
    )
    MANIFESTLY_MADE_PUBLIC = Term(
        "manifestly_made_public",
        nl="Kennelijk openbaar gemaakt door de betrokkene",
        en="Manifestly made public by the data subject",
        article="Art. 9(2)(e)",
    )
    LEGAL_CLAIMS = Term(
        "legal_claims",
        nl="Rechtsvorderingen of gerechten in hun rechtsprekende taak",
        en="Legal claims or courts acting in their judicial capacity",
        article="Art. 9(2)(f)",
    )
    SUBSTANTIAL_PUBLIC_INTEREST = Term(
        "substantial_public_interest",
        nl="Zwaarwegend algemeen belang",
        en="Substantial public interest",
        article="Art. 9(2)(g)",
    )
    HEALTH_OR_SOCIAL_CARE = Term(
        "health_or_social_care",
        nl="Preventieve of arbeidsgeneeskunde, gezondheidszorg of sociale diensten",
        en="Preventive or occupational medicine, health or social care",
        article="Art. 9(2)(h)",
    )
    PUBLIC_HEALTH = Term(
        "public_health",
        nl="Algemeen belang op het gebied van de volksgezondheid",
        en="Public interest in the area of public health",
        article="Art. 9(2)(i)",
    )
    ARCHIVING_RESEARCH_STATISTICS = Term(
        "archiving_research_statistics",
        nl="Archivering in het algemeen belang, wetenschappelijk of historisch onderzoek, "
        "statistiek",
        en="Archiving in the public interest, scientific or historical research, statistics",
        article="Art. 9(2)(j)",
    )

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


class DataOrigin(Bilingual):
    """Where a field's data comes from: the access export names the source (Art. 15(1)(g)).

    Only provided and observed data is ported (Art. 20; derived data is not).

    .. versionadded:: 0.2.0
    """

    PROVIDED = Term("provided", nl="Door u verstrekt", en="Provided by you")
    """The subject gave it (a form, a checkout)."""
    OBSERVED = Term("observed", nl="Waargenomen bij uw gebruik", en="Observed from your use")
    """Recorded from the subject's use of the service (logins, newsletter reads, visits)."""
    DERIVED = Term("derived", nl="Door ons afgeleid", en="Derived by us")
    """Inferred or computed by the controller (a segment, a score)."""
    RECEIVED = Term(
        "received", nl="Van een andere partij ontvangen", en="Received from another party"
    )
    """Received from someone else (a ticketing partner, a co-organiser): the field names whom."""

    @property
    def portable(self) -> bool:
        """Whether Art. 20 covers it: data the subject provided, knowingly or by their use."""
        return self in {DataOrigin.PROVIDED, DataOrigin.OBSERVED}


class RecipientRole(WithArticle):
    """The role in which a recipient receives personal data.

    .. versionadded:: 0.1.0
    """

    PROCESSOR = Term("processor", nl="Verwerker", en="Processor", article="Art. 28")
    SUB_PROCESSOR = Term(
        "sub_processor", nl="Subverwerker", en="Sub-processor", article="Art. 28(2)"
    )
    THIRD_PARTY = Term("third_party", nl="Derde", en="Third party", article="Art. 4(10)")
    JOINT_CONTROLLER = Term(
        "joint_controller",
        nl="Gezamenlijke verwerkingsverantwoordelijke",
        en="Joint controller",
        article="Art. 26",
    )

    @property
    def iri(self) -> str:
        """The DPV term for this role, e.g. ``https://w3id.org/dpv#DataProcessor``."""
        return _dpv.RECIPIENT_ROLES[self.value]


class TransferMechanism(WithArticle):
    """The Chapter V ground for transferring personal data to a third country.

    .. versionadded:: 0.1.0
    """

    ADEQUACY_DECISION = Term(
        "adequacy_decision", nl="Adequaatheidsbesluit", en="Adequacy decision", article="Art. 45(3)"
    )
    STANDARD_CONTRACTUAL_CLAUSES = Term(
        "standard_contractual_clauses",
        nl="Modelcontractbepalingen",
        en="Standard contractual clauses",
        article="Art. 46(2)(c)",
    )
    BINDING_CORPORATE_RULES = Term(
        "binding_corporate_rules",
        nl="Bindende bedrijfsvoorschriften",
        en="Binding corporate rules",
        article="Art. 46(2)(b)",
    )
    ART49_DEROGATION = Term(
        "art49_derogation",
        nl="Afwijking voor een specifieke situatie",
        en="Derogation for a specific situation",
        article="Art. 49(1)",
    )

    @property
    def iri(self) -> str | None:
        """The DPV term, or ``None`` for Art. 49 derogations (DPV has one per point only)."""
        return _dpv.TRANSFER_MECHANISMS[self.value]


def category_label(term: str, lang: Lang = "en") -> str:
    """The label of a supported DPV personal-data term in ``lang`` (DPV's own label in English).

    avgkit has Dutch labels for the terms a ticket system names most (``EmailAddress``,
    ``BirthDate``, the special categories, ...); for the other terms DPV's English label
    stands in for the Dutch one.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Every DPV 2.3 term; English where no Dutch label exists yet.
    """
    category = _dpv.DATA_CATEGORIES[term]
    return category.nl if language(lang) == "nl" else category.en
