"""The consent vocabulary: what an event records, through which channel, by whom."""

from __future__ import annotations

import enum

from avgkit._vocab import Bilingual, Term

# --------------------------------------------------------------------------- vocabularies


class ConsentAction(Bilingual):
    """What a :class:`ConsentEvent` records.

    ``GIVEN`` and ``WITHDRAWN`` form the consent track of a purpose (only for purposes whose
    basis is consent); ``OBJECTED`` and ``OBJECTION_LIFTED`` the objection track (Art. 21:
    legitimate-interest, public-task and direct-marketing purposes).

    Each member has a :meth:`label` in Dutch and English, as the consent report shows it.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Members have ``label(lang)``.
    """

    GIVEN = Term("given", nl="toestemming gegeven", en="consent given")
    WITHDRAWN = Term("withdrawn", nl="toestemming ingetrokken", en="consent withdrawn")
    OBJECTED = Term("objected", nl="bezwaar gemaakt", en="objected")
    OBJECTION_LIFTED = Term("objection_lifted", nl="bezwaar ingetrokken", en="objection lifted")

    @property
    def is_consent(self) -> bool:
        """Whether this action belongs to the consent track (given or withdrawn)."""
        return self in {ConsentAction.GIVEN, ConsentAction.WITHDRAWN}

    @property
    def audit_action(self) -> str:
        """The audit-log action recorded for it, e.g. ``"consent.given"``."""
        return f"consent.{self.value}"


class Channel(Bilingual):
    """Where the subject acted.

    Each member has a :meth:`label` in Dutch and English, as the consent report shows it.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Members have ``label(lang)``.
    """

    WEBSHOP = Term("webshop", nl="webwinkel", en="web shop")
    """The online ticket shop or "my account" page."""
    BOX_OFFICE = Term("box_office", nl="kassa", en="box office")
    """At the counter, entered by staff."""
    IMPORT = Term("import", nl="import", en="import")
    """Migrated from a CRM or an older ticket system (:meth:`ConsentLedger.import_events`)."""
    API = Term("api", nl="API", en="API")
    """Through the host's API (an app, a partner integration)."""
    EMAIL_LINK = Term("email_link", nl="link in e-mail", en="e-mail link")
    """A link in an e-mail: a double opt-in confirmation or an unsubscribe link."""
    ERASURE = Term("erasure", nl="wissing", en="erasure")
    """Withdrawn by avgkit as part of the subject's erasure (on request or by retention).

    .. versionadded:: 0.2.0
    """


class Actor(Bilingual):
    """Who performed the act recorded in the evidence.

    Each member has a :meth:`label` in Dutch and English, as the consent report shows it.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Members have ``label(lang)``.
    """

    SUBJECT = Term("subject", nl="betrokkene", en="the subject")
    """The data subject themself."""
    GUARDIAN = Term("guardian", nl="ouder of voogd", en="parent or guardian")
    """A parent or guardian, for a minor (Art. 8(1))."""
    STAFF = Term("staff", nl="medewerker", en="staff")
    """A member of staff on the subject's behalf (e.g. at the box office)."""


class Presentation(Bilingual):
    """How the consent question was put to the subject: the evidence of an active act.

    Consent is an unambiguous indication by a clear affirmative act (Art. 4(11), recital 32);
    a box ticked in advance is not one (CJEU C-673/17 *Planet49*, 1 October 2019). The
    ledger refuses consent whose evidence says :attr:`PRE_TICKED`, so that a checkout that
    states how its box looked can never record such a consent.

    .. versionadded:: 0.2.0
    """

    UNTICKED_BOX = Term(
        "unticked_box",
        nl="leeg vakje dat de betrokkene zelf aanvinkte",
        en="an empty box the subject ticked",
    )
    BUTTON = Term(
        "button",
        nl="knop of link alleen voor dit doel",
        en="a button or link for this purpose alone",
    )
    ASKED_BY_STAFF = Term(
        "asked_by_staff",
        nl="gevraagd door een medewerker, met ja beantwoord",
        en="asked by staff and answered yes",
    )
    SIGNED_FORM = Term("signed_form", nl="ondertekend formulier", en="a signed form")
    PRE_TICKED = Term(
        "pre_ticked",
        nl="vooraf aangevinkt vakje (geen toestemming)",
        en="a pre-ticked box (not consent)",
    )

    @property
    def is_active_act(self) -> bool:
        """Whether the subject acted (every member but :attr:`PRE_TICKED`)."""
        return self is not Presentation.PRE_TICKED


class ConsentStatus(enum.StrEnum):
    """The consent track of one subject and purpose at an instant.

    .. versionadded:: 0.1.0
    """

    NEVER_GIVEN = "never_given"
    """No consent was given up to the instant (a withdrawal may still have been recorded)."""
    GIVEN = "given"
    """Consent is live: given, not withdrawn, not expired."""
    WITHDRAWN = "withdrawn"
    """Consent was given and later withdrawn."""
    EXPIRED = "expired"
    """Consent was given with an expiry that has passed."""


class DecisionCode(enum.StrEnum):
    """Why :meth:`ConsentLedger.may_process` decided as it did (stable, machine-readable).

    .. versionadded:: 0.1.0
    """

    BASIS_WITHOUT_CONSENT = "basis_without_consent"
    """Contract, legal obligation or vital interests: no consent or objection involved."""
    CONSENT_GIVEN = "consent_given"
    CONSENT_NEVER_GIVEN = "consent_never_given"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_EXPIRED = "consent_expired"
    CONSENT_PENDING = "consent_pending"
    """Consent was asked for with a double opt-in and awaits its confirmation: not consent yet.

    .. versionadded:: 0.2.0
    """
    NO_OBJECTION = "no_objection"
    """Legitimate interests or public task, and the subject has not objected."""
    OBJECTED = "objected"
    """The subject objected (Art. 21); for direct marketing or profiling that is absolute."""
    COMPELLING_GROUNDS = "compelling_grounds"
    """The subject objected, but the controller recorded compelling legitimate grounds that
    override it (Art. 21(1)); never for direct marketing or profiling.

    .. versionadded:: 0.2.0
    """
    RESTRICTED = "restricted"
    """Processing is restricted (Art. 18): only storage and legal claims go on.

    .. versionadded:: 0.2.0
    """
    RESTRICTED_LEGAL_CLAIMS = "restricted_legal_claims"
    """Processing is restricted, but this purpose serves legal claims (Art. 18(2)).

    .. versionadded:: 0.2.0
    """
