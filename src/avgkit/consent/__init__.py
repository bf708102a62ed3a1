"""The consent ledger: opt-ins, withdrawals and objections per subject and purpose, with evidence.

Ticket buyers tick separate boxes per purpose (newsletter, loyalty programme, sharing with the
artist). The venue must know exactly who consented to what on which day, stop using an address
the moment consent is withdrawn, and show visitors their own history. The ledger is
append-only: every act is a :class:`ConsentEvent` carrying its :class:`Evidence` (channel,
privacy-notice version, SHA-256 of the exact wording shown, who acted), and every answer is
computed from the events:

* :meth:`ConsentLedger.state` — the :class:`ConsentState` of one subject and purpose at any
  instant (``at=`` a past instant gives the state then);
* :meth:`ConsentLedger.may_process` — a :class:`Decision` combining the inventory's lawful
  basis with the ledger: contract, legal-obligation and vital-interest purposes are allowed,
  consent purposes need live, unexpired consent, legitimate-interest and public-task purposes
  need the absence of an objection (Art. 21);
* :meth:`ConsentLedger.audience` — the subjects who may be mailed for a consent purpose,
  computed inside the storage adapter and streamed;
* :meth:`ConsentLedger.import_events` — a migration from a CRM or an older ticket system,
  atomic per call;
* :meth:`ConsentLedger.confirm` — the double opt-in: for a purpose with
  ``confirmation=True`` :meth:`ConsentLedger.give` records a :class:`PendingConsent` (not
  consent) with a single-use token, and the confirmation makes the consent live;
* :attr:`ConsentLedger.wordings` — the :class:`WordingRegistry` of privacy-notice versions
  and checkbox wordings per language, so that every export shows the exact text;
* :meth:`ConsentLedger.record_grounds` — compelling legitimate grounds overriding an
  objection (Art. 21(1)), never for direct marketing or profiling.

:func:`replay` is the pure reference semantics the adapters are tested against.

.. versionadded:: 0.1.0
"""

from avgkit.consent._ledger import ConsentLedger
from avgkit.consent._options import (
    DEFAULT_CLOCK_SKEW,
    DEFAULT_CONFIRMATION_EXPIRY,
    DEFAULT_MINOR_AGE,
    ConsentOptions,
)
from avgkit.consent._records import (
    ISO27560_SCHEMA_VERSION,
    KANTARA_VERSION,
    ConsentReport,
    LedgerView,
    PurposeSection,
    ReportDay,
    iso27560_records,
    kantara_receipts,
)
from avgkit.consent._registry import WordingRegistry
from avgkit.consent._values import (
    CompellingGrounds,
    ConfirmationError,
    ConsentEvent,
    ConsentState,
    Decision,
    Evidence,
    LatestEvents,
    PendingConsent,
    age_on,
    consults_ledger,
    decide,
    hash_wording,
    replay,
    state_from,
)
from avgkit.consent._vocab import (
    Actor,
    Channel,
    ConsentAction,
    ConsentStatus,
    DecisionCode,
    Presentation,
)
from avgkit.consent._wordings import (
    WORDING_LANGUAGES,
    Wording,
    WordingIndex,
    WordingLang,
    WordingWithdrawal,
    check_registration,
)

__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "DEFAULT_CONFIRMATION_EXPIRY",
    "DEFAULT_MINOR_AGE",
    "ISO27560_SCHEMA_VERSION",
    "KANTARA_VERSION",
    "WORDING_LANGUAGES",
    "Actor",
    "Channel",
    "CompellingGrounds",
    "ConfirmationError",
    "ConsentAction",
    "ConsentEvent",
    "ConsentLedger",
    "ConsentOptions",
    "ConsentReport",
    "ConsentState",
    "ConsentStatus",
    "Decision",
    "DecisionCode",
    "Evidence",
    "LatestEvents",
    "LedgerView",
    "PendingConsent",
    "Presentation",
    "PurposeSection",
    "ReportDay",
    "Wording",
    "WordingIndex",
    "WordingLang",
    "WordingRegistry",
    "WordingWithdrawal",
    "age_on",
    "check_registration",
    "consults_ledger",
    "decide",
    "hash_wording",
    "iso27560_records",
    "kantara_receipts",
    "replay",
    "state_from",
]
