"""The W3C Data Privacy Vocabulary (DPV 2.3) terms avgkit uses (private).

avgkit does not bundle the DPV term lists; it ships only the IRIs it emits, and
``tests/test_dpv.py`` checks every one of them against the published CSVs.
"""

from __future__ import annotations

from typing import Final, NamedTuple

DPV: Final = "https://w3id.org/dpv#"
"""The core DPV namespace (purposes, roles, transfer concepts)."""

PD: Final = "https://w3id.org/dpv/pd#"
"""The DPV personal-data extension (categories of personal data)."""

GDPR: Final = "https://w3id.org/dpv/legal/eu/gdpr#"
"""The DPV extension for the EU GDPR (articles as legal bases and conditions)."""


class DataCategory(NamedTuple):
    """One supported category of personal data (a term of the ``pd`` extension)."""

    iri: str
    en: str
    nl: str
    special: str | None
    """The value of the Art. 9(1) special category the term always belongs to, if any."""


def _pd(term: str, nl: str, special: str | None = None, *, en: str) -> tuple[str, DataCategory]:
    return term, DataCategory(iri=PD + term, en=en, nl=nl, special=special)


# The English labels are DPV's own (tests compare them with the CSV's ``label`` column).
DATA_CATEGORIES: Final[dict[str, DataCategory]] = dict(
    [
        _pd("Name", "Naam", en="Name"),
        _pd("EmailAddress", "E-mailadres", en="Email Address"),
        _pd("TelephoneNumber", "Telefoonnummer", en="Telephone Number"),
        _pd("PhysicalAddress", "Adres", en="Physical Address"),
        _pd("Street", "Straat", en="Street"),
        _pd("HouseNumber", "Huisnummer", en="House Number"),
        _pd("PostalCode", "Postcode", en="Postal Code"),
        _pd("City", "Woonplaats", en="City"),
        _pd("Country", "Land", en="Country"),
        _pd("BirthDate", "Geboortedatum", en="Birth Date"),
        _pd("Age", "Leeftijd", en="Age"),
        _pd("Gender", "Gender", en="Gender"),
        _pd("Language", "Taal", en="Language"),
        _pd("BankAccount", "Bankrekening", en="Bank Account"),
        _pd("PaymentCardNumber", "Betaalkaartnummer", en="Payment Card Number"),
        _pd("Transaction", "Transactie", en="Transaction"),
        _pd("Purchase", "Aankoop", en="Purchase"),
        _pd(
            "PurchasesAndSpendingHabit",
            "Aankoop- en bestedingsgedrag",
            en="Purchases and Spending Habit",
        ),
        _pd("IPAddress", "IP-adres", en="IP Address"),
        _pd("UserAgent", "User-agent", en="User agent"),
        _pd("Username", "Gebruikersnaam", en="Username"),
        _pd("Password", "Wachtwoord", en="Password"),
        _pd("AuthenticationHistory", "Inloggeschiedenis", en="Authentication History"),
        _pd("Identifier", "Identificatiecode", en="Identifier"),
        _pd("Preference", "Voorkeur", en="Preference"),
        _pd("PrivacyPreference", "Privacyvoorkeur", en="Privacy Preference"),
        _pd("Picture", "Beeldmateriaal", en="Picture"),
        _pd("Location", "Locatie", en="Location"),
        _pd("Health", "Gezondheid", "health", en="Health"),
        _pd("Disability", "Beperking", "health", en="Disability"),
        _pd("EthnicOrigin", "Etnische afkomst", "racial_or_ethnic_origin", en="Ethnic Origin"),
        _pd(
            "PoliticalOpinion", "Politieke opvatting", "political_opinions", en="Political Opinion"
        ),
        _pd(
            "ReligiousBelief",
            "Religieuze overtuiging",
            "religious_or_philosophical_beliefs",
            en="Religious Belief",
        ),
        _pd(
            "PhilosophicalBelief",
            "Levensbeschouwelijke overtuiging",
            "religious_or_philosophical_beliefs",
            en="Philosophical Belief",
        ),
        _pd(
            "TradeUnionMembership",
            "Lidmaatschap van een vakbond",
            "trade_union_membership",
            en="Trade Union Membership",
        ),
        _pd("Genetic", "Genetische gegevens", "genetic_data", en="Genetic"),
        _pd("Biometric", "Biometrische gegevens", "biometric_data", en="Biometric"),
        _pd(
            "Sexual",
            "Seksueel gedrag of seksuele gerichtheid",
            "sex_life_or_orientation",
            en="Sexual",
        ),
    ]
)
"""The personal-data categories a :class:`~avgkit.inventory.Field` may name, by DPV term."""

# Art. 6(1)(a)-(f), Art. 9(2)(a)-(j): the eu-gdpr extension names them by article.
LAWFUL_BASES: Final[dict[str, str]] = {
    "consent": GDPR + "A6-1-a",
    "contract": GDPR + "A6-1-b",
    "legal_obligation": GDPR + "A6-1-c",
    "vital_interests": GDPR + "A6-1-d",
    "public_task": GDPR + "A6-1-e",
    "legitimate_interests": GDPR + "A6-1-f",
}

ART9_CONDITIONS: Final[dict[str, str]] = {letter: f"{GDPR}A9-2-{letter}" for letter in "abcdefghij"}

SPECIAL_CATEGORIES: Final[dict[str, str]] = {
    "racial_or_ethnic_origin": PD + "EthnicOrigin",
    "political_opinions": PD + "PoliticalOpinion",
    "religious_or_philosophical_beliefs": PD + "ReligiousBelief",
    "trade_union_membership": PD + "TradeUnionMembership",
    # For these three the GDPR extension has the Art. 4(13)-(15) definitions themselves.
    "genetic_data": GDPR + "GeneticData",
    "biometric_data": GDPR + "BiometricData",
    "health": GDPR + "HealthData",
    "sex_life_or_orientation": PD + "Sexual",
}

RECIPIENT_ROLES: Final[dict[str, str]] = {
    "processor": DPV + "DataProcessor",
    "sub_processor": DPV + "DataSubProcessor",
    "third_party": DPV + "ThirdParty",
    "joint_controller": DPV + "JointDataControllers",
}

# Art. 49 derogations have one term per point (A49-1-a ... A49-2) and no umbrella term, so a
# derogation gets no IRI rather than a made-up one.
TRANSFER_MECHANISMS: Final[dict[str, str | None]] = {
    "adequacy_decision": GDPR + "A45-3",
    "standard_contractual_clauses": GDPR + "A46-2-c",
    "binding_corporate_rules": GDPR + "A46-2-b",
    "art49_derogation": None,
}

SPECIAL_CATEGORY_PERSONAL_DATA: Final = DPV + "SpecialCategoryPersonalData"
THIRD_COUNTRY: Final = DPV + "ThirdCountry"

# Data subject requests: the right exercised (the eu-gdpr extension's article terms), the
# request's state (DPV's RequestStatus concepts) and the Art. 12 justifications.
REQUEST_RIGHTS: Final[dict[str, str]] = {
    "access": GDPR + "A15",
    "portability": GDPR + "A20",
    "rectification": GDPR + "A16",
    "erasure": GDPR + "A17",
    "restriction": GDPR + "A18",
    "objection": GDPR + "A21",
}

REQUEST_STATUSES: Final[dict[str, str]] = {
    "received": DPV + "RequestInitiated",
    "verified": DPV + "RequestAcknowledged",
    "in_progress": DPV + "RequestAccepted",
    "extended": DPV + "RequestActionDelayed",
    "completed": DPV + "RequestFulfilled",
    "refused": DPV + "RequestRejected",
}

REFUSAL_REASONS: Final[dict[str, str]] = {
    "manifestly_unfounded": GDPR + "JustificationA12ManifestlyUnfounded",
    "manifestly_excessive": GDPR + "JustificationA12ManifestlyExcessive",
    "identity_not_established": GDPR + "JustificationA12IdentityFailure",
    # Art. 17(3)(b): erasure refused because a legal obligation requires keeping the data.
    "legal_obligation": DPV + "LegalObligation",
}

EXTENSION_REASONS: Final[dict[str, str]] = {
    "complexity": GDPR + "JustificationA12Complexity",
    "number_of_requests": GDPR + "JustificationA12HighVolume",
}


def used_iris() -> frozenset[str]:
    """Every IRI this module defines, for the test against the DPV term lists."""
    iris = {category.iri for category in DATA_CATEGORIES.values()}
    iris.update(LAWFUL_BASES.values(), ART9_CONDITIONS.values(), SPECIAL_CATEGORIES.values())
    iris.update(RECIPIENT_ROLES.values())
    iris.update(iri for iri in TRANSFER_MECHANISMS.values() if iri is not None)
    iris.update({SPECIAL_CATEGORY_PERSONAL_DATA, THIRD_COUNTRY})
    for table in (REQUEST_RIGHTS, REQUEST_STATUSES, REFUSAL_REASONS, EXTENSION_REASONS):
        iris.update(table.values())
    return frozenset(iris)
