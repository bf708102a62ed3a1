"""The breach register: records of personal data breaches, their deadlines and decisions.

A personal data breach (in Dutch: *datalek*) sets three clocks running:

* a **processor** (the ticketing vendor, the mail platform) must tell the venue without
  undue delay; processing agreements fix a term, typically 36 hours after it discovered
  the breach, configurable here per agreement;
* the **venue** notifies the supervisory authority (the Autoriteit Persoonsgegevens)
  within 72 hours of becoming aware of it, unless the breach is unlikely to result in a
  risk (Art. 33(1) GDPR); a later notification must give the reasons for the delay;
* where the risk to people is high, the venue tells **the people concerned** without undue
  delay (Art. 34), unless an Art. 34(3) exemption applies.

Every breach, notified or not, goes into the register the controller keeps (Art. 33(5)).

A :class:`Breach` holds the answers to the seven questions of a processor's notice (as a
ticketing vendor's processing agreement asks them: what happened and in which system; which
types of personal data; how many people, a minimum and a maximum; which group; whether their
contact details are known; the root cause; when or over which period) and the Art. 33(3)
contents (nature, categories and approximate numbers of people and records, a contact point,
likely consequences, measures taken or proposed).

Breaches are immutable values; :class:`BreachRegister` changes them by storing a new
version, appends every change to the audit log, and renders the processor's notice, the
authority notification (HTML in Dutch and English, and JSON valid against the schemas
shipped in ``avgkit/schemas``) and the whole register as CSV.

.. code-block:: python

    from avgkit.breach import BreachFacts, Headcount

    facts = BreachFacts(
        summary="A mailing list was sent to the wrong address.",
        system="mail platform",
        categories=("EmailAddress", "Name"),
        subjects=Headcount(minimum=200, maximum=350),
        subject_group="visitors (customers)",
        contact_details_known=True,
        root_cause="A wrong recipient list was selected by hand.",
        occurred_from=datetime(2026, 1, 6, 14, 0, tzinfo=UTC),
        kinds=(BreachKind.CONFIDENTIALITY,),
        likely_consequences="Unwanted mail; phishing attempts.",
        measures_taken="Recipient asked to delete the list.",
        contact_point="Privacy officer, privacy@venue.example",
    )
    breach = kit.breaches.record(facts, discovered_at=..., processor="mail_platform")
    proposal = kit.breaches.assess(breach)     # a proposal only
    kit.breaches.decide(breach.id, notify_authority=True, notify_subjects=False,
                        reason="No high risk: no sensitive data, ...")

.. versionadded:: 0.1.0
"""

from avgkit.breach._assess import assess, special_categories
from avgkit.breach._options import BreachOptions
from avgkit.breach._register import BreachRegister
from avgkit.breach._reports import BreachDocument, BreachRegisterReport
from avgkit.breach._values import (
    AUTHORITY_DEADLINE,
    DEFAULT_LARGE_VOLUME,
    FRAUD_RISK_CATEGORIES,
    PROCESSOR_NOTICE_DEADLINE,
    Assessment,
    Breach,
    BreachDecision,
    BreachFacts,
    BreachKind,
    BreachStatus,
    BreachUpdate,
    Exemption,
    Headcount,
    Protection,
    RiskFactor,
)

__all__ = [
    "AUTHORITY_DEADLINE",
    "DEFAULT_LARGE_VOLUME",
    "FRAUD_RISK_CATEGORIES",
    "PROCESSOR_NOTICE_DEADLINE",
    "Assessment",
    "Breach",
    "BreachDecision",
    "BreachDocument",
    "BreachFacts",
    "BreachKind",
    "BreachOptions",
    "BreachRegister",
    "BreachRegisterReport",
    "BreachStatus",
    "BreachUpdate",
    "Exemption",
    "Headcount",
    "Protection",
    "RiskFactor",
    "assess",
    "special_categories",
]
