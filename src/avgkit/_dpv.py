"""The W3C Data Privacy Vocabulary (DPV 2.3) terms avgkit uses (private).

The personal-data categories come from a compact term list shipped in the package
(``avgkit/data/dpv-pd-2.3.json``: term, IRI, English label, broader terms and the Art. 9(1)
category of special-category terms), written from DPV's published CSV by
``tools/dpv_terms.py``; ``tests/test_dpv.py`` checks it, and every other IRI here, against
the CSV. DPV's own CSV and Turtle files are not bundled.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Final, NamedTuple

DPV: Final = "https://w3id.org/dpv#"
"""The core DPV namespace (purposes, roles, transfer concepts)."""

PD: Final = "https://w3id.org/dpv/pd#"
"""The DPV personal-data extension (categories of personal data)."""

GDPR: Final = "https://w3id.org/dpv/legal/eu/gdpr#"
"""The DPV extension for the EU GDPR (articles as legal bases and conditions)."""

TERMS_FILE: Final = "data/dpv-pd-2.3.json"
"""The shipped term list of the personal-data extension, inside the package."""


class DataCategory(NamedTuple):
    """One supported category of personal data (a term of the ``pd`` extension)."""

    iri: str
    en: str
    nl: str
    """The Dutch label; DPV's English one where avgkit has no translation yet."""
    special: str | None
    """The value of the Art. 9(1) special category the term always belongs to, if any."""
    broader: tuple[str, ...] = ()
    """The broader terms of the extension (``MentalHealth`` -> ``("Health",)``)."""
    translated: bool = True
    """Whether :attr:`nl` is a Dutch label (``False``: the English label stands in)."""


# Dutch labels of the terms a ticket system names most; the other terms show DPV's English
# label in Dutch documents too (see docs/inventory.rst).
DUTCH_LABELS: Final[dict[str, str]] = {
    "Name": "Naam",
    "EmailAddress": "E-mailadres",
    "TelephoneNumber": "Telefoonnummer",
    "PhysicalAddress": "Adres",
    "Street": "Straat",
    "HouseNumber": "Huisnummer",
    "PostalCode": "Postcode",
    "City": "Woonplaats",
    "Country": "Land",
    "BirthDate": "Geboortedatum",
    "Age": "Leeftijd",
    "Gender": "Gender",
    "Language": "Taal",
    "BankAccount": "Bankrekening",
    "PaymentCardNumber": "Betaalkaartnummer",
    "Transaction": "Transactie",
    "Purchase": "Aankoop",
    "PurchasesAndSpendingHabit": "Aankoop- en bestedingsgedrag",
    "IPAddress": "IP-adres",
    "UserAgent": "User-agent",
    "Username": "Gebruikersnaam",
    "Password": "Wachtwoord",
    "AuthenticationHistory": "Inloggeschiedenis",
    "Identifier": "Identificatiecode",
    "Preference": "Voorkeur",
    "PrivacyPreference": "Privacyvoorkeur",
    "Picture": "Beeldmateriaal",
    "Location": "Locatie",
    "Health": "Gezondheid",
    "Disability": "Beperking",
    "EthnicOrigin": "Etnische afkomst",
    "PoliticalOpinion": "Politieke opvatting",
    "ReligiousBelief": "Religieuze overtuiging",
    "PhilosophicalBelief": "Levensbeschouwelijke overtuiging",
    "TradeUnionMembership": "Lidmaatschap van een vakbond",
    "Genetic": "Genetische gegevens",
    "Biometric": "Biometrische gegevens",
    "Sexual": "Seksueel gedrag of seksuele gerichtheid",
}


def _load_categories() -> dict[str, DataCategory]:
    text = resources.files("avgkit").joinpath(TERMS_FILE).read_text(encoding="utf-8")
    rows = json.loads(text)["terms"]
    return {
        term: DataCategory(
            iri=iri,
            en=label,
            nl=DUTCH_LABELS.get(term, label),
            special=special,
            broader=tuple(broader),
            translated=term in DUTCH_LABELS,
        )
        for term, iri, label, broader, special in rows
    }


DATA_CATEGORIES: Final[dict[str, DataCategory]] = _load_categories()
"""Every personal-data term of DPV 2.3, by term: what a :class:`~avgkit.inventory.Field`
may name as its category."""

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
