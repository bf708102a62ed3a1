"""The Art. 33/34 assessment: a proposal from the facts and the inventory, for people to decide."""

from __future__ import annotations

from typing import TYPE_CHECKING

from avgkit.breach._values import (
    DEFAULT_LARGE_VOLUME,
    FRAUD_RISK_CATEGORIES,
    Assessment,
    Breach,
    BreachFacts,
    BreachKind,
    Exemption,
    Protection,
    RiskFactor,
)

if TYPE_CHECKING:
    from avgkit.inventory import Inventory


# --------------------------------------------------------------------------- assessment


def special_categories(facts: BreachFacts, inventory: Inventory | None = None) -> tuple[str, ...]:
    """The Art. 9(1) special categories a breach concerns (values, sorted).

    Those the DPV data categories always imply (:attr:`BreachFacts.special_categories`),
    and, given an inventory, those its fields of the breach's categories declare (a
    ``Disability`` field declared as health data). The assessment and the reports use
    this one answer, so they agree.

    .. versionadded:: 0.1.0
    """
    found = set(facts.special_categories)
    if inventory is not None:
        found.update(
            field.special_category.value
            for field in inventory.fields
            if field.special_category is not None and field.category in facts.categories
        )
    return tuple(sorted(found))


def assess(
    breach: Breach | BreachFacts,
    inventory: Inventory | None = None,
    *,
    large_volume: int = DEFAULT_LARGE_VOLUME,
) -> Assessment:
    """Propose whether the authority and the people concerned should be told.

    The proposal follows a processor's breach checklist and Articles 33 and 34: special categories
    (from the data categories, and from the inventory's fields that declare a special
    category for them), data enabling identity fraud, vulnerable people such as children,
    a large number of people, and unencrypted data raise the risk; the Art. 34(3)
    exemptions (encrypted data in a breach of confidentiality only, measures that removed
    the high risk, disproportionate effort when contact details are unknown) replace or
    remove the individual message. Notifying the authority is always proposed: the
    processing agreement requires it even for encrypted data, and
    Art. 34(3) exempts only the message to the people.

    It is a proposal: record the decision with :meth:`BreachRegister.decide`.

    .. versionadded:: 0.1.0
    """
    facts = breach.facts if isinstance(breach, Breach) else breach
    factors: list[RiskFactor] = []
    if special_categories(facts, inventory):
        factors.append(RiskFactor.SPECIAL_CATEGORIES)
    if FRAUD_RISK_CATEGORIES.intersection(facts.categories):
        factors.append(RiskFactor.IDENTITY_FRAUD)
    if facts.vulnerable_subjects:
        factors.append(RiskFactor.VULNERABLE_SUBJECTS)
    if facts.subjects.maximum >= large_volume:
        factors.append(RiskFactor.LARGE_VOLUME)
    encrypted = facts.protection is Protection.ENCRYPTED
    if not encrypted:
        factors.append(RiskFactor.UNPROTECTED)
    # Encryption keeps data unintelligible, which protects its confidentiality only: data
    # that was lost or altered (availability, integrity) harms people all the same.
    shielded = encrypted and set(facts.kinds) == {BreachKind.CONFIDENTIALITY}
    high_risk = not shielded and any(factor is not RiskFactor.UNPROTECTED for factor in factors)
    exemptions: list[Exemption] = []
    if shielded:
        exemptions.append(Exemption.ENCRYPTED)
    if facts.high_risk_removed:
        exemptions.append(Exemption.RISK_REMOVED)
    exempt = shielded or facts.high_risk_removed
    public = high_risk and not exempt and not facts.contact_details_known
    if public:
        exemptions.append(Exemption.DISPROPORTIONATE_EFFORT)
    # A ticketing vendor's processing agreement: "ook als de Persoonsgegevens versleuteld
    # zijn is het verplicht dat u een Datalek meldt bij de Autoriteit Persoonsgegevens".
    # Encryption exempts informing the people (Art. 34(3)(a)), never notifying the authority.
    return Assessment(
        notify_authority=True,
        notify_subjects=high_risk and not exempt and facts.contact_details_known,
        public_communication=public,
        high_risk=high_risk,
        factors=tuple(factors),
        exemptions=tuple(exemptions),
    )
