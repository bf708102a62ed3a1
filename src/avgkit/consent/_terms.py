"""The vocabularies of the consent exports: DPV status terms, Kantara/MVCR codes (private).

Only the terms avgkit emits are listed here. ``tests/test_consent_records.py`` checks every
DPV IRI against the published DPV 2.3 term lists and every inventory category against the
MVCR table, so a term that does not exist cannot slip in.
"""

from __future__ import annotations

from typing import Final

from avgkit._dpv import DATA_CATEGORIES, DPV, GDPR

# --------------------------------------------------------------------------- DPV status terms

CONSENT_GIVEN: Final = DPV + "ConsentGiven"
RENEWED_CONSENT_GIVEN: Final = DPV + "RenewedConsentGiven"
"""Consent given again while an earlier consent for the same purpose was still live."""
CONSENT_WITHDRAWN: Final = DPV + "ConsentWithdrawn"
CONSENT_EXPIRED: Final = DPV + "ConsentExpired"
CONSENT_REFUSED: Final = DPV + "ConsentRefused"
"""A "no" recorded while no consent had been given before (a withdrawal of nothing)."""
LEGITIMATE_INTEREST_OBJECTED: Final = DPV + "LegitimateInterestObjected"
LEGITIMATE_INTEREST_NOT_OBJECTED: Final = DPV + "LegitimateInterestNotObjected"
PUBLIC_INTEREST_OBJECTED: Final = DPV + "PublicInterestObjected"

RIGHT_TO_WITHDRAW: Final = GDPR + "A7-3"
"""Art. 7(3) GDPR, the right to withdraw consent at any time."""
RIGHT_TO_OBJECT: Final = GDPR + "A21"
"""Art. 21 GDPR, the right to object."""

STATUS_IRIS: Final[frozenset[str]] = frozenset(
    {
        CONSENT_GIVEN,
        RENEWED_CONSENT_GIVEN,
        CONSENT_WITHDRAWN,
        CONSENT_EXPIRED,
        CONSENT_REFUSED,
        LEGITIMATE_INTEREST_OBJECTED,
        LEGITIMATE_INTEREST_NOT_OBJECTED,
        PUBLIC_INTEREST_OBJECTED,
        RIGHT_TO_WITHDRAW,
        RIGHT_TO_OBJECT,
    }
)

# --------------------------------------------------------------------------- Kantara / MVCR

KANTARA_VERSION: Final = "KI-CR-v1.1.0"

# The MVCR purpose categories of the Kantara Consent Receipt 1.1 (appendix B), written the way
# the specification's example writes them: "<number> - <short code>".
CORE_FUNCTION: Final = "1 - Core Function"
CONTRACTED_SERVICE: Final = "2 - Contracted Service"
DELIVERY: Final = "3 - Delivery"
CONTACT_REQUESTED: Final = "4 - Contact Requested"
PERSONALIZED_EXPERIENCE: Final = "5 - Personalized Experience"
MARKETING: Final = "6 - Marketing"
SHARING_FOR_MARKETING: Final = "9 - Sharing for Marketing"
THIRD_PARTY_CORE_FUNCTION: Final = "10 - 3rd Party Sharing for Core Function"
LEGALLY_REQUIRED_RETENTION: Final = "12 - Legally Required Data Retention"
PROTECTING_HEALTH: Final = "14 - Protecting Your Health"
PROTECTING_OUR_INTERESTS: Final = "15 - Protecting Our Interests"
IMPROVE_PERFORMANCE: Final = "16 - Improve Performance"

# DPV purposes (as the inventory's ``dpv_purpose`` names them) to MVCR purpose categories.
# Purposes not listed fall back on their flags and lawful basis (see _consent_export).
DPV_PURPOSE_CATEGORIES: Final[dict[str, str]] = {
    DPV + "DirectMarketing": MARKETING,
    DPV + "Marketing": MARKETING,
    DPV + "PersonalisedAdvertising": MARKETING,
    DPV + "PersonalisedBenefits": PERSONALIZED_EXPERIENCE,
    DPV + "ServicePersonalisation": PERSONALIZED_EXPERIENCE,
    DPV + "ServiceUsageAnalytics": IMPROVE_PERFORMANCE,
    DPV + "ImproveExistingProductsAndServices": IMPROVE_PERFORMANCE,
    DPV + "ServiceOptimisation": IMPROVE_PERFORMANCE,
    DPV + "SellProductsToDataSubject": CONTRACTED_SERVICE,
    DPV + "RequestedServiceProvision": CONTRACTED_SERVICE,
    DPV + "ServiceProvision": CONTRACTED_SERVICE,
    DPV + "CommunicationForCustomerCare": DELIVERY,
    DPV + "CustomerCare": CONTACT_REQUESTED,
}

# Lawful basis (LawfulBasis.value) to the MVCR category used when nothing more specific fits.
BASIS_CATEGORIES: Final[dict[str, str]] = {
    "consent": CORE_FUNCTION,  # the specification's default purpose
    "contract": CONTRACTED_SERVICE,
    "legal_obligation": LEGALLY_REQUIRED_RETENTION,
    "vital_interests": PROTECTING_HEALTH,
    "public_task": CORE_FUNCTION,
    "legitimate_interests": PROTECTING_OUR_INTERESTS,
}

# The MVCR personal-data categories (appendix C).
BIOGRAPHICAL: Final = "1 - Biographical"
CONTACT: Final = "2 - Contact"
BIOMETRIC: Final = "3 - Biometric"
NETWORK_SERVICE: Final = "5 - Network/Service"
HEALTH: Final = "6 - Health"
FINANCIAL: Final = "7 - Financial"
PSYCHOLOGICAL: Final = "13 - Psychological/Attitudinal"
MEMBERSHIP: Final = "14 - Membership"
BEHAVIOURAL: Final = "15 - Behavioural"
PROFILE: Final = "16 - Profile"

# Every DPV personal-data term an inventory Field may name (avgkit._dpv.DATA_CATEGORIES), to its
# MVCR category. The other DPV terms take the category of their nearest broader term listed
# here or in PII_BRANCHES (pii_category); a test checks that every term finds one.
PII_CATEGORIES: Final[dict[str, str]] = {
    "Name": BIOGRAPHICAL,
    "BirthDate": BIOGRAPHICAL,
    "Age": BIOGRAPHICAL,
    "Gender": BIOGRAPHICAL,
    "Language": BIOGRAPHICAL,
    "EmailAddress": CONTACT,
    "TelephoneNumber": CONTACT,
    "PhysicalAddress": CONTACT,
    "Street": CONTACT,
    "HouseNumber": CONTACT,
    "PostalCode": CONTACT,
    "City": CONTACT,
    "Country": CONTACT,
    "Picture": BIOMETRIC,
    "EthnicOrigin": BIOMETRIC,  # MVCR files racial and ethnic origin under biometric
    "Genetic": BIOMETRIC,
    "Biometric": BIOMETRIC,
    "IPAddress": NETWORK_SERVICE,
    "UserAgent": NETWORK_SERVICE,
    "Username": NETWORK_SERVICE,
    "Password": NETWORK_SERVICE,
    "Identifier": NETWORK_SERVICE,
    "Health": HEALTH,
    "Disability": HEALTH,
    "BankAccount": FINANCIAL,
    "PaymentCardNumber": FINANCIAL,
    "Transaction": FINANCIAL,
    "Purchase": FINANCIAL,
    "PoliticalOpinion": PSYCHOLOGICAL,
    "ReligiousBelief": PSYCHOLOGICAL,
    "PhilosophicalBelief": PSYCHOLOGICAL,
    "Sexual": PSYCHOLOGICAL,
    "TradeUnionMembership": MEMBERSHIP,
    "PurchasesAndSpendingHabit": BEHAVIOURAL,
    "AuthenticationHistory": BEHAVIOURAL,  # MVCR lists login history as behavioural
    "Location": BEHAVIOURAL,
    "Preference": PROFILE,
    "PrivacyPreference": PROFILE,
}

# The MVCR category of DPV's branches of personal data, for the terms below them.
PII_BRANCHES: Final[dict[str, str]] = {
    "External": BIOGRAPHICAL,
    "Behavioural": BEHAVIOURAL,
    "MedicalHealth": HEALTH,
    "Ethnicity": BIOMETRIC,
    "PersonalDocuments": "8 - Official/Government Identifiers",
    "Vehicle": "11 - Property/Asset",
    "Financial": FINANCIAL,
    "Ownership": "11 - Property/Asset",
    "Historical": BIOGRAPHICAL,
    "Household": BIOGRAPHICAL,
    "Internal": PSYCHOLOGICAL,
    "Authenticating": NETWORK_SERVICE,
    "Profile": PROFILE,
    "Social": "4 - Communications/Social",
    "Criminal": "10 - Judicial",
    "Professional": "12 - Human Resources",
    "Family": BIOGRAPHICAL,
    "Tracking": NETWORK_SERVICE,
    "Contact": CONTACT,
    "Vulnerability": "9 - Social Services/Welfare",
}


def pii_category(term: str) -> str:
    """The MVCR category of a DPV personal-data term: its own, or its nearest broader one's."""
    pending = [term]
    seen: set[str] = set()
    while pending:
        current = pending.pop(0)
        found = PII_CATEGORIES.get(current) or PII_BRANCHES.get(current)
        if found is not None:
            return found
        seen.add(current)
        category = DATA_CATEGORIES.get(current)
        if category is not None:
            pending.extend(b for b in category.broader if b not in seen)
    return BIOGRAPHICAL  # unreachable for DPV's terms: every branch ends in a listed one


def code_order(code: str) -> int:
    """The number of an MVCR code (``"2 - Contact"`` -> 2), for sorting."""
    return int(code.split(" - ", 1)[0])
