"""What the consent ledger hands out: the report per purpose and day, and a subject's records.

Three outputs, all computed from a :class:`~avgkit.consent.ConsentLedger` and the
:class:`~avgkit.inventory.Inventory` it was built with:

* :class:`ConsentReport` — "who consented to what on which day" over a period: per purpose
  and UTC day the number of consents given, withdrawn, objections made and lifted, and the
  subjects with the evidence of each act. For the controller's own accountability (Art. 5(2),
  7(1) GDPR), so subjects appear by their subject id. Render it as CSV
  (:meth:`ConsentReport.to_csv`, :meth:`ConsentReport.counts_csv`) or as printable HTML
  (:meth:`ConsentReport.to_html`, Dutch or English)::

      report = ConsentReport.build(kit.consent, kit.inventory, since=start, until=end)
      Path("consent-2024-05.html").write_text(report.to_html("nl"), encoding="utf-8")

* :func:`kantara_receipts` — a subject's consents as Kantara Consent Receipts v1.1, one
  receipt per consent given (see the function for why);
* :func:`iso27560_records` — a subject's consent records in the shape of ISO/IEC TS 27560,
  one record per purpose, with DPV IRIs for purpose, lawful basis and status and the full
  history with its evidence.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs

from avgkit import _dpv, _validators
from avgkit._render import Lang, language, render_html, to_csv
from avgkit.consent import _terms as vocab
from avgkit.consent._values import ConsentEvent, ConsentState
from avgkit.consent._vocab import ConsentAction, ConsentStatus
from avgkit.consent._wordings import Wording, WordingIndex
from avgkit.errors import PolicyError, ValidationError
from avgkit.inventory._vocab import LawfulBasis, RecipientRole
from avgkit.subjects import SubjectId, subject_id

if TYPE_CHECKING:
    from avgkit.inventory import Controller, Inventory, Purpose

__all__ = [
    "ISO27560_SCHEMA_VERSION",
    "KANTARA_VERSION",
    "ConsentReport",
    "LedgerView",
    "PurposeSection",
    "ReportDay",
    "iso27560_records",
    "kantara_receipts",
]

KANTARA_VERSION: Final = vocab.KANTARA_VERSION
"""The ``version`` every Kantara receipt carries (``"KI-CR-v1.1.0"``).

.. versionadded:: 0.1.0
"""

ISO27560_SCHEMA_VERSION: Final = "avgkit-27560/1"
"""The ``schema_version`` of the records :func:`iso27560_records` returns.

It names avgkit's JSON rendering of the ISO/IEC TS 27560 information structure; a change of
the shape changes this value.

.. versionadded:: 0.1.0
"""

# Identifiers of receipts and records are UUID 5 in this namespace, so exporting twice gives
# the same identifiers.
_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://avgkit.invalid/consent-records")
_URL: Final = re.compile(r"\Ahttps?://[^\s<>\"{}|\\^`]+\Z")
_TIME: Final = "%Y-%m-%d %H:%M:%S"


class LedgerView(Protocol):
    """What the records read from a consent ledger (:class:`~avgkit.consent.ConsentLedger`).

    .. versionadded:: 0.1.0
    """

    def events(
        self, *, since: datetime, until: datetime, purpose: str | None = None
    ) -> Iterator[ConsentEvent]:
        """Stream the events with ``since <= at < until``, of one purpose if given."""
        ...

    def history(self, subject: SubjectId | str) -> tuple[ConsentEvent, ...]:
        """Every event of ``subject``, oldest first."""
        ...

    def state(
        self, subject: SubjectId | str, purpose: str, *, at: datetime | None = None
    ) -> ConsentState:
        """The state of ``subject`` and ``purpose`` at ``at``."""
        ...


# --------------------------------------------------------------------------- the report


@attrs.frozen(kw_only=True)
class ReportDay:
    """The events of one purpose on one UTC calendar day, oldest first.

    .. versionadded:: 0.1.0
    """

    day: date
    events: tuple[ConsentEvent, ...]

    def _count(self, kind: ConsentAction) -> int:
        return sum(1 for event in self.events if event.kind is kind)

    @property
    def given(self) -> int:
        """How many consents were given that day."""
        return self._count(ConsentAction.GIVEN)

    @property
    def withdrawn(self) -> int:
        """How many consents were withdrawn that day."""
        return self._count(ConsentAction.WITHDRAWN)

    @property
    def objected(self) -> int:
        """How many objections (Art. 21) were made that day."""
        return self._count(ConsentAction.OBJECTED)

    @property
    def objection_lifted(self) -> int:
        """How many objections were lifted that day."""
        return self._count(ConsentAction.OBJECTION_LIFTED)


@attrs.frozen(kw_only=True)
class PurposeSection:
    """One purpose of the report: its days with events, oldest first.

    .. versionadded:: 0.1.0
    """

    purpose: Purpose
    days: tuple[ReportDay, ...]

    @property
    def given(self) -> int:
        """Consents given for the purpose over the whole period."""
        return sum(day.given for day in self.days)

    @property
    def withdrawn(self) -> int:
        """Consents withdrawn over the whole period."""
        return sum(day.withdrawn for day in self.days)

    @property
    def objected(self) -> int:
        """Objections made over the whole period."""
        return sum(day.objected for day in self.days)

    @property
    def objection_lifted(self) -> int:
        """Objections lifted over the whole period."""
        return sum(day.objection_lifted for day in self.days)

    @property
    def events(self) -> int:
        """All events of the purpose over the whole period."""
        return sum(len(day.events) for day in self.days)


@attrs.frozen(kw_only=True)
class ConsentReport:
    """Who consented to what on which day: the ledger's events of a period, per purpose and day.

    Build it with :meth:`build`. A section is listed for every purpose the ledger can hold
    events for (consent or objection), in the inventory's order, also when it had no events
    in the period; days without events are left out. Days are UTC calendar days.

    The report holds subject ids and order references: it is for the controller's own
    accountability, not for publication. Every rendering escapes them (HTML) or guards them
    against formula injection (CSV).

    .. versionadded:: 0.1.0
    """

    controller: Controller
    since: datetime
    """Start of the period (inclusive, UTC)."""
    until: datetime
    """End of the period (exclusive, UTC)."""
    purpose: str | None
    """The one purpose the report was limited to, if any."""
    sections: tuple[PurposeSection, ...]
    wordings: WordingIndex | None = attrs.field(default=None, repr=False)
    """The wording registry the texts are shown from (``None``: hashes only).

    .. versionadded:: 0.2.0
    """

    @classmethod
    def build(
        cls,
        ledger: LedgerView,
        inventory: Inventory,
        *,
        since: datetime,
        until: datetime,
        purpose: str | None = None,
        wordings: WordingIndex | None = None,
    ) -> ConsentReport:
        """Read the events with ``since <= at < until`` from ``ledger`` and group them.

        The events are streamed from the store (:meth:`ConsentLedger.events`); memory grows
        with the report itself, not with the ledger.

        Args:
            ledger: The consent ledger (``kit.consent``).
            inventory: The inventory the ledger was built with (``kit.inventory``).
            since: Start of the period (aware, inclusive).
            until: End of the period (aware, exclusive).
            purpose: Limit the report to this purpose.
            wordings: The wording registry (``kit.consent.wordings.index()``): each event
                then shows the exact text the subject saw, in the subject's language.

        Raises:
            ValidationError: ``since`` or ``until`` is naive, or ``until`` is before
                ``since``.
            PolicyError: ``purpose`` is not declared, or rests on a basis the ledger holds
                no events for (contract, legal obligation, vital interests); or the ledger
                holds events in the period for a purpose the inventory does not declare.
        """
        start = _validators.aware(since, "since")
        end = _validators.aware(until, "until")
        if end < start:
            msg = "until must not be earlier than since"
            raise ValidationError(msg)
        if purpose is not None:
            declared = inventory.purpose(purpose)
            if not _in_ledger(declared):
                msg = (
                    f"purpose {purpose!r} rests on {declared.basis.value!r} "
                    f"({declared.basis.article}); the ledger holds no consent or objection "
                    "for it, so it has no consent report"
                )
                raise PolicyError(msg)
        grouped: dict[str, dict[date, list[ConsentEvent]]] = {}
        for event in ledger.events(since=start, until=end, purpose=purpose):
            days = grouped.setdefault(event.purpose, {})
            days.setdefault(event.day, []).append(event)
        _check_declared(inventory, grouped)
        # A purpose whose basis changed since its events were recorded keeps its section.
        listed = tuple(
            p
            for p in inventory.purposes
            if (purpose is None or p.key == purpose) and (_in_ledger(p) or p.key in grouped)
        )
        sections = tuple(
            PurposeSection(
                purpose=declared_purpose,
                days=tuple(
                    ReportDay(day=day, events=tuple(events))
                    for day, events in sorted(grouped.get(declared_purpose.key, {}).items())
                ),
            )
            for declared_purpose in listed
        )
        return cls(
            controller=inventory.controller,
            since=start,
            until=end,
            purpose=purpose,
            sections=sections,
            wordings=wordings,
        )

    # ------------------------------------------------------------------ totals

    @property
    def events(self) -> int:
        """The number of events in the report."""
        return sum(section.events for section in self.sections)

    def counts(self) -> Iterator[tuple[str, date, int, int, int, int]]:
        """Yield ``(purpose, day, given, withdrawn, objected, objection_lifted)`` per day."""
        for section in self.sections:
            for day in section.days:
                yield (
                    section.purpose.key,
                    day.day,
                    day.given,
                    day.withdrawn,
                    day.objected,
                    day.objection_lifted,
                )

    # ------------------------------------------------------------------ renderings

    def to_csv(self, lang: Lang = "en") -> str:
        """One line per event, grouped per purpose and day: who, what, when, with evidence.

        The header is in ``lang``; the values are avgkit's stable codes (``given``,
        ``webshop``, ``subject``) so that a spreadsheet can filter on them. Cells that a
        spreadsheet would run as a formula are quoted.
        """
        lang = language(lang)
        header = [_t(key, lang) for key in _CSV_COLUMNS]
        return to_csv(header, self._csv_rows())

    def _csv_rows(self) -> Iterator[list[object]]:
        for section in self.sections:
            for day in section.days:
                for event in day.events:
                    evidence = event.evidence
                    yield [
                        section.purpose.key,
                        day.day.isoformat(),
                        _iso(event.at),
                        event.subject,
                        event.kind.value,
                        evidence.channel.value,
                        evidence.notice_version,
                        evidence.wording_sha256,
                        evidence.actor.value,
                        evidence.staff_key,
                        evidence.order_ref,
                        _iso(evidence.confirmed_at),
                        _iso(evidence.expires_at),
                        None if evidence.presentation is None else evidence.presentation.value,
                        _iso(evidence.requested_at),
                        None if evidence.confirmed_via is None else evidence.confirmed_via.value,
                        *_shown_columns(self.wordings, event),
                    ]

    def counts_csv(self, lang: Lang = "en") -> str:
        """One line per purpose and day with the four counts (header in ``lang``)."""
        lang = language(lang)
        header = [
            _t(key, lang)
            for key in ("purpose", "day", "given", "withdrawn", "objected", "objection_lifted")
        ]
        rows = ([p, d.isoformat(), g, w, o, lifted] for p, d, g, w, o, lifted in self.counts())
        return to_csv(header, rows)

    def to_html(self, lang: Lang = "nl") -> str:
        """A printable HTML page (Dutch by default, or English), one purpose per printed page.

        Everything from the ledger is escaped by the template engine.
        """
        lang = language(lang)
        return render_html("consent_report.html.j2", lang, view=self._view(lang))

    def _view(self, lang: Lang) -> dict[str, Any]:
        sections = []
        for section in self.sections:
            purpose = section.purpose
            sections.append(
                {
                    "key": purpose.key,
                    "description": purpose.description.get(lang),
                    "basis": f"{purpose.basis.label(lang)} ({purpose.basis.article})",
                    "totals": (
                        section.given,
                        section.withdrawn,
                        section.objected,
                        section.objection_lifted,
                    ),
                    "days": [
                        {
                            "day": day.day.isoformat(),
                            "counts": (
                                day.given,
                                day.withdrawn,
                                day.objected,
                                day.objection_lifted,
                            ),
                            "rows": [_html_row(event, lang, self.wordings) for event in day.events],
                        }
                        for day in section.days
                    ],
                }
            )
        period = f"{_when(self.since)} \N{EN DASH} {_when(self.until)}"
        return {
            "t": {key: _t(key, lang) for key in _T},
            "controller": self.controller.name,
            "period": period,
            "purpose": self.purpose,
            "events": self.events,
            "sections": sections,
        }


def _in_ledger(purpose: Purpose) -> bool:
    return purpose.needs_consent or purpose.objection_allowed


def _check_declared(inventory: Inventory, purposes: Iterable[str]) -> None:
    declared = {p.key for p in inventory.purposes}
    missing = sorted(set(purposes) - declared)
    if missing:
        msg = (
            f"the ledger holds events for purposes {missing}, which the inventory does not "
            "declare; pass the inventory the events were recorded under, or declare those "
            "purposes again so that their consent records stay readable"
        )
        raise PolicyError(msg)


def shown_wording(wordings: WordingIndex | None, event: ConsentEvent) -> Wording | None:
    """The registered checkbox text behind ``event``'s wording hash, if registered."""
    if wordings is None:
        return None
    return wordings.shown(event.purpose, event.evidence.wording_sha256, event.at)


def _shown_columns(wordings: WordingIndex | None, event: ConsentEvent) -> list[str | None]:
    shown = shown_wording(wordings, event)
    if shown is None:
        return [None, None, None]
    return [shown.version, shown.lang, shown.text]


def _html_row(event: ConsentEvent, lang: Lang, wordings: WordingIndex | None) -> dict[str, str]:
    evidence = event.evidence
    actor = evidence.actor.label(lang)
    if evidence.staff_key is not None:
        actor = f"{actor} ({evidence.staff_key})"
    extra = []
    if evidence.confirmed_at is not None:
        extra.append(f"{_t('confirmed', lang)} {_when(evidence.confirmed_at)}")
    if evidence.expires_at is not None:
        extra.append(f"{_t('expires', lang)} {_when(evidence.expires_at)}")
    if evidence.presentation is not None:
        extra.append(evidence.presentation.label(lang))
    shown = shown_wording(wordings, event)
    if shown is not None:
        extra.append(
            f"{_t('text_shown', lang)} ({shown.lang}, {shown.version}): \u201c{shown.text}\u201d"
        )
    return {
        "time": event.at.strftime("%H:%M:%S"),
        "subject": event.subject,
        "action": event.kind.label(lang),
        "kind": event.kind.value,
        "channel": evidence.channel.label(lang),
        "notice": evidence.notice_version,
        "wording": evidence.wording_sha256[:12],
        "actor": actor,
        "order_ref": evidence.order_ref or "",
        "extra": "; ".join(extra),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _when(value: datetime) -> str:
    return f"{value.strftime(_TIME)} UTC"


_CSV_COLUMNS: Final = (
    "purpose",
    "day",
    "at",
    "subject",
    "action",
    "channel",
    "notice_version",
    "wording_sha256",
    "actor",
    "staff_key",
    "order_ref",
    "confirmed_at",
    "expires_at",
    "presentation",
    "requested_at",
    "confirmed_via",
    "wording_version",
    "wording_lang",
    "wording_text",
)

# Labels as (Dutch, English).
_T: Final[dict[str, tuple[str, str]]] = {
    "title": ("Toestemmingsrapport", "Consent report"),
    "subtitle": (
        "Wie gaf op welke dag toestemming waarvoor (art. 7 lid 1 AVG)",
        "Who consented to what on which day (Art. 7(1) GDPR)",
    ),
    "controller": ("Verwerkingsverantwoordelijke", "Controller"),
    "period": ("Periode", "Period"),
    "only_purpose": ("Alleen doel", "Purpose only"),
    "events_total": ("Aantal handelingen", "Number of events"),
    "note": (
        (
            "Tijden in UTC. Dit rapport bevat klantnummers en is alleen bedoeld voor de eigen "
            "verantwoording van de verwerkingsverantwoordelijke."
        ),
        (
            "Times in UTC. This report holds customer ids and is meant only for the "
            "controller's own accountability."
        ),
    ),
    "basis": ("Grondslag", "Lawful basis"),
    "no_events": ("Geen handelingen in deze periode.", "No events in this period."),
    "totals": ("Totaal over de periode", "Totals over the period"),
    "per_day": ("Per dag", "Per day"),
    "purpose": ("doel", "purpose"),
    "day": ("dag", "day"),
    "at": ("tijdstip", "at"),
    "time": ("tijd", "time"),
    "subject": ("betrokkene", "subject"),
    "action": ("handeling", "action"),
    "channel": ("kanaal", "channel"),
    "notice_version": ("versie privacyverklaring", "notice version"),
    "wording_sha256": ("sha256 van de tekst", "wording sha256"),
    "wording": ("tekst (sha256)", "wording (sha256)"),
    "actor": ("door", "by"),
    "staff_key": ("medewerker", "staff"),
    "order_ref": ("bestelling", "order"),
    "confirmed_at": ("bevestigd op", "confirmed at"),
    "expires_at": ("verloopt op", "expires at"),
    "details": ("bijzonderheden", "details"),
    "given": ("gegeven", "given"),
    "withdrawn": ("ingetrokken", "withdrawn"),
    "objected": ("bezwaar", "objected"),
    "objection_lifted": ("bezwaar ingetrokken", "objection lifted"),
    "confirmed": ("dubbele opt-in bevestigd", "double opt-in confirmed"),
    "presentation": ("hoe gevraagd", "how asked"),
    "requested_at": ("aangevraagd op", "requested at"),
    "confirmed_via": ("bevestigd via", "confirmed via"),
    "wording_version": ("versie tekst", "wording version"),
    "wording_lang": ("taal tekst", "wording language"),
    "wording_text": ("getoonde tekst", "text shown"),
    "text_shown": ("getoonde tekst", "text shown"),
    "expires": ("geldig tot", "valid until"),
}


def _t(key: str, lang: Lang) -> str:
    nl, en = _T[key]
    return nl if lang == "nl" else en


# --------------------------------------------------------------------------- Kantara receipts


def kantara_receipts(
    ledger: LedgerView,
    inventory: Inventory,
    subject: SubjectId | str,
    *,
    policy_url: str,
    lang: Lang = "en",
    phone: str = "",
    wordings: WordingIndex | None = None,
) -> list[dict[str, Any]]:
    """A subject's consents as Kantara Consent Receipts v1.1 (JSON-ready dicts), oldest first.

    One receipt per consent **given**: a receipt documents one consent transaction, and
    Kantara 1.1 has no way to say "withdrawn" or "objected", so withdrawals and objections
    get no receipt (they are in :func:`iso27560_records`). A consent given and later
    withdrawn keeps its receipt: it stays true that the consent was given then.

    The receipt's ``consentReceiptID`` is a UUID 5 over the event's subject, purpose,
    sequence number and instant, so exporting again gives the same receipt. ``jurisdiction``
    is the controller's country; ``purposeCategory`` and ``piiCategory`` follow the MVCR code
    lists (``"6 - Marketing"``, ``"2 - Contact"``), mapped from the purpose's DPV purpose and
    flags and the DPV categories of the fields serving it. ``thirdPartyDisclosure`` is true
    when the purpose discloses data to a third party or joint controller (Art. 4(10):
    processors are not third parties); ``thirdPartyName`` names them. ``consentType`` is
    ``"EXPLICIT"``: the ledger records only affirmative opt-ins.

    Example::

        receipts = kantara_receipts(kit.consent, kit.inventory, "cust-1042",
                                    policy_url="https://venue.example/privacy")
        receipts[0]["services"][0]["purposes"][0]["purposeCategory"]   # ["6 - Marketing"]

    Args:
        ledger: The consent ledger (``kit.consent``).
        inventory: The inventory the ledger was built with.
        subject: The subject whose receipts to export.
        policy_url: The http(s) address of the privacy notice.
        lang: The language of the texts in the receipt (``"nl"`` or ``"en"``).
        phone: The controller's telephone number; Kantara requires the field, so it is an
            empty string when not given.
        wordings: The wording registry: each receipt's purpose then carries
            ``consentWording``, the exact text the subject saw (version, language, SHA-256,
            text), in the subject's language.

    Raises:
        ValidationError: ``subject`` is malformed, ``policy_url`` is not an http(s) URL, or
            ``lang`` is not supported.
        PolicyError: The subject consented to a purpose the inventory does not declare.

    .. versionadded:: 0.1.0
    """
    sid = subject_id(subject)
    lang = language(lang)
    if not isinstance(policy_url, str) or not _URL.match(policy_url):
        msg = "policy_url must be the http(s) address of the privacy notice"
        raise ValidationError(msg)
    if not isinstance(phone, str):
        msg = f"phone must be a string, got {type(phone).__name__}"
        raise ValidationError(msg)
    controller = inventory.controller
    pii_controller = {
        "piiController": controller.name,
        "contact": controller.dpo or controller.email,
        "address": {"streetAddress": controller.address, "addressCountry": controller.country},
        "email": controller.email,
        "phone": phone,
    }
    receipts = []
    for event in ledger.history(sid):
        if event.kind is not ConsentAction.GIVEN:
            continue
        purpose = inventory.purpose(event.purpose)
        special = _special_categories(inventory, purpose)
        receipts.append(
            {
                "version": KANTARA_VERSION,
                "jurisdiction": controller.country,
                "consentTimestamp": int(event.at.timestamp()),
                "collectionMethod": _collection_method(event, lang),
                "consentReceiptID": str(_event_uuid("kantara", event)),
                "language": lang,
                "piiPrincipalId": sid,
                "piiControllers": [pii_controller],
                "policyUrl": policy_url,
                "services": [
                    {
                        "service": purpose.key,
                        "purposes": [_kantara_purpose(inventory, purpose, event, lang, wordings)],
                    }
                ],
                "sensitive": bool(special),
                "spiCat": special,
            }
        )
    return receipts


def _kantara_purpose(
    inventory: Inventory,
    purpose: Purpose,
    event: ConsentEvent,
    lang: Lang,
    wordings: WordingIndex | None,
) -> dict[str, Any]:
    third = _third_parties(inventory, purpose)
    entry: dict[str, Any] = {
        "purpose": purpose.description.get(lang),
        "purposeCategory": _purpose_categories(purpose, third_party=bool(third)),
        "consentType": "EXPLICIT",
        "piiCategory": _pii_categories(inventory, purpose),
        # A consent purpose is an optional extra, never the core service (that rests on the
        # contract), so it is not the primary purpose.
        "primaryPurpose": False,
        "termination": _termination(purpose, event, lang),
        "thirdPartyDisclosure": bool(third),
    }
    if third:
        entry["thirdPartyName"] = "; ".join(third)
    shown = shown_wording(wordings, event)
    if shown is not None:
        entry["consentWording"] = {
            "version": shown.version,
            "language": shown.lang,
            "sha256": shown.sha256,
            "text": shown.text,
        }
    return entry


def _third_parties(inventory: Inventory, purpose: Purpose) -> list[str]:
    outside = {RecipientRole.THIRD_PARTY, RecipientRole.JOINT_CONTROLLER}
    return [r.name for r in inventory.recipients_for(purpose.key) if r.role in outside]


def _purpose_categories(purpose: Purpose, *, third_party: bool) -> list[str]:
    codes: set[str] = set()
    if purpose.dpv_purpose in vocab.DPV_PURPOSE_CATEGORIES:
        codes.add(vocab.DPV_PURPOSE_CATEGORIES[purpose.dpv_purpose])
    if purpose.direct_marketing:
        codes.add(vocab.MARKETING)
    if third_party:
        marketing = purpose.direct_marketing or purpose.needs_consent
        codes.add(vocab.SHARING_FOR_MARKETING if marketing else vocab.THIRD_PARTY_CORE_FUNCTION)
    if not codes:
        codes.add(vocab.BASIS_CATEGORIES[purpose.basis.value])
    return sorted(codes, key=vocab.code_order)


def _pii_categories(inventory: Inventory, purpose: Purpose) -> list[str]:
    codes = {vocab.pii_category(f.category) for f in inventory.fields_for(purpose.key)}
    return sorted(codes, key=vocab.code_order)


def _special_categories(inventory: Inventory, purpose: Purpose) -> list[str]:
    codes = {
        vocab.pii_category(f.category)
        for f in inventory.fields_for(purpose.key)
        if f.special_category is not None
    }
    return sorted(codes, key=vocab.code_order)


def _termination(purpose: Purpose, event: ConsentEvent, lang: Lang) -> str:
    until = "Tot intrekking van de toestemming" if lang == "nl" else "Until consent is withdrawn"
    expires = event.evidence.expires_at
    if expires is not None:
        word = "uiterlijk" if lang == "nl" else "at the latest"
        until = f"{until}, {word} {_when(expires)}"
    if purpose.retention is not None:
        until = f"{until}. {purpose.retention.get(lang)}"
    return until


def _collection_method(event: ConsentEvent, lang: Lang) -> str:
    evidence = event.evidence
    channel = evidence.channel.label(lang)
    actor = evidence.actor.label(lang)
    parts = [
        f"{channel}, {_t('actor', lang)} {actor}",
        f"{_t('notice_version', lang)} {evidence.notice_version}",
        f"{_t('wording_sha256', lang)} {evidence.wording_sha256}",
    ]
    if evidence.confirmed_at is not None:
        parts.append(f"{_t('confirmed', lang)} {_when(evidence.confirmed_at)}")
    if evidence.presentation is not None:
        parts.append(evidence.presentation.label(lang))
    return "; ".join(parts)


def _event_uuid(kind: str, event: ConsentEvent) -> uuid.UUID:
    name = "\x1f".join(
        (kind, event.subject, event.purpose, str(event.seq or 0), event.at.isoformat())
    )
    return uuid.uuid5(_NAMESPACE, name)


# --------------------------------------------------------------------------- ISO/IEC TS 27560


def iso27560_records(
    ledger: LedgerView,
    inventory: Inventory,
    subject: SubjectId | str,
    *,
    at: datetime | None = None,
    lang: Lang = "en",
    wordings: WordingIndex | None = None,
) -> list[dict[str, Any]]:
    """A subject's consent records in the ISO/IEC TS 27560 shape, with DPV IRIs.

    One record per purpose the subject has events for, in the inventory's order. Each
    record holds the subject (``pii_principal_id``), the controller, the purpose (its key,
    description, DPV purpose IRI if the inventory gives one, the lawful basis IRI, the DPV
    personal-data categories and recipients), the status at ``at`` (now by default), the
    latest event and the whole history, oldest first. Every event carries its time, who
    acted, its status IRI, the GDPR right it exercised (Art. 7(3) for a withdrawal, Art. 21
    for an objection) and its evidence: channel, notice version, SHA-256 of the wording,
    order reference, double opt-in confirmation and expiry.

    Status IRIs are DPV terms: ``dpv:ConsentGiven`` (``dpv:RenewedConsentGiven`` when given
    again while still live), ``dpv:ConsentWithdrawn``, ``dpv:ConsentExpired``,
    ``dpv:ConsentRefused`` (a "no" recorded when no consent had been given), and for
    objections ``dpv:LegitimateInterestObjected`` / ``dpv:LegitimateInterestNotObjected``
    or ``dpv:PublicInterestObjected``. Where DPV has no fitting term (an objection to
    consent-based direct marketing, the lifting of an objection to a public task) the
    status is ``None`` and the event's ``right`` still says what happened.

    Example::

        records = iso27560_records(kit.consent, kit.inventory, "cust-1042")
        records[0]["consent_status"]   # "https://w3id.org/dpv#ConsentGiven"

    Args:
        ledger: The consent ledger (``kit.consent``).
        inventory: The inventory the ledger was built with.
        subject: The subject whose records to export.
        at: The instant the statuses describe (aware); events after it are left out.
        lang: The language of the purpose descriptions.
        wordings: The wording registry: each event's evidence then carries ``wording``, the
            exact checkbox text the subject saw in the subject's language, and ``notice``,
            the privacy-notice version (its text once per record under ``notices``).

    Raises:
        ValidationError: ``subject`` or ``at`` is malformed, or ``lang`` is not supported.
        PolicyError: The subject has events for a purpose the inventory does not declare.

    .. versionadded:: 0.1.0
    """
    sid = subject_id(subject)
    lang = language(lang)
    when = None if at is None else _validators.aware(at, "at")
    per_purpose: dict[str, list[ConsentEvent]] = {}
    for event in ledger.history(sid):
        if when is None or event.at <= when:
            per_purpose.setdefault(event.purpose, []).append(event)
    _check_declared(inventory, per_purpose)
    records = []
    for purpose in inventory.purposes:
        events = per_purpose.get(purpose.key)
        if not events:
            continue
        state = ledger.state(sid, purpose.key, at=when)
        history = list(_history(purpose, events, wordings))
        records.append(
            {
                "schema_version": ISO27560_SCHEMA_VERSION,
                "record_id": str(uuid.uuid5(_NAMESPACE, f"iso27560\x1f{sid}\x1f{purpose.key}")),
                "pii_principal_id": sid,
                "pii_controller": {
                    "name": inventory.controller.name,
                    "address": inventory.controller.address,
                    "country": inventory.controller.country,
                    "email": inventory.controller.email,
                },
                "purpose": _iso_purpose(inventory, purpose, lang),
                "state_at": _iso(state.at),
                "consent_status": _consent_status(state),
                "objection_status": _objection_status(purpose, state),
                "event": history[-1],
                "history": history,
                "notices": _notices(wordings, events),
            }
        )
    return records


def _notices(wordings: WordingIndex | None, events: Iterable[ConsentEvent]) -> list[dict[str, Any]]:
    # The privacy notices the subject saw, each once, in the subject's language.
    if wordings is None:
        return []
    seen: dict[tuple[str, str], Wording] = {}
    for event in events:
        shown = shown_wording(wordings, event)
        lang = "nl" if shown is None else shown.lang
        notice = wordings.notice(event.evidence.notice_version, lang)
        if notice is not None:
            seen.setdefault((notice.version, notice.lang), notice)
    return [notice.as_dict() for _key, notice in sorted(seen.items())]


def _iso_purpose(inventory: Inventory, purpose: Purpose, lang: Lang) -> dict[str, Any]:
    return {
        "purpose_id": purpose.key,
        "description": purpose.description.get(lang),
        "purpose_iri": purpose.dpv_purpose,
        "lawful_basis": purpose.basis.iri,
        "direct_marketing": purpose.direct_marketing,
        "profiling": purpose.profiling,
        "personal_data": sorted(
            {_dpv.DATA_CATEGORIES[f.category].iri for f in inventory.fields_for(purpose.key)}
        ),
        "recipients": [
            {"name": r.name, "role": r.role.iri, "country": r.country}
            for r in inventory.recipients_for(purpose.key)
        ],
    }


def _history(
    purpose: Purpose, events: Iterable[ConsentEvent], wordings: WordingIndex | None
) -> Iterator[dict[str, Any]]:
    given: ConsentEvent | None = None  # the latest consent, while not withdrawn
    ever_given = False
    for event in events:
        status: str | None
        right: str | None = None
        if event.kind is ConsentAction.GIVEN:
            expires = None if given is None else given.evidence.expires_at
            renewed = given is not None and (expires is None or event.at < expires)
            status = vocab.RENEWED_CONSENT_GIVEN if renewed else vocab.CONSENT_GIVEN
            given = event
            ever_given = True
        elif event.kind is ConsentAction.WITHDRAWN:
            status = vocab.CONSENT_WITHDRAWN if ever_given else vocab.CONSENT_REFUSED
            right = vocab.RIGHT_TO_WITHDRAW
            given = None
        else:
            status = _objection_iri(purpose, objected=event.kind is ConsentAction.OBJECTED)
            right = vocab.RIGHT_TO_OBJECT
        yield _iso_event(event, status, right, wordings)


def _iso_event(
    event: ConsentEvent, status: str | None, right: str | None, wordings: WordingIndex | None
) -> dict[str, Any]:
    evidence = event.evidence
    shown = shown_wording(wordings, event)
    notice = (
        None
        if wordings is None
        else wordings.notice(evidence.notice_version, "nl" if shown is None else shown.lang)
    )
    return {
        "event_id": str(_event_uuid("iso27560", event)),
        "event_time": _iso(event.at),
        "event_type": event.kind.value,
        "event_by": evidence.actor.value,
        "event_state": status,
        "right": right,
        "evidence": {
            "channel": evidence.channel.value,
            "notice_version": evidence.notice_version,
            "wording_sha256": evidence.wording_sha256,
            "staff_key": evidence.staff_key,
            "order_ref": evidence.order_ref,
            "confirmed_at": _iso(evidence.confirmed_at),
            "expires_at": _iso(evidence.expires_at),
            "presentation": None if evidence.presentation is None else evidence.presentation.value,
            "requested_at": _iso(evidence.requested_at),
            "confirmed_via": None
            if evidence.confirmed_via is None
            else evidence.confirmed_via.value,
            "wording": None if shown is None else shown.as_dict(),
            "notice": None
            if notice is None
            else {"version": notice.version, "lang": notice.lang, "sha256": notice.sha256},
        },
    }


def _consent_status(state: ConsentState) -> str | None:
    if state.status is ConsentStatus.GIVEN:
        return vocab.CONSENT_GIVEN
    if state.status is ConsentStatus.WITHDRAWN:
        return vocab.CONSENT_WITHDRAWN
    if state.status is ConsentStatus.EXPIRED:
        return vocab.CONSENT_EXPIRED
    if state.withdrawn_without_consent:
        return vocab.CONSENT_REFUSED
    return None


def _objection_status(purpose: Purpose, state: ConsentState) -> str | None:
    if state.objection_event is None:
        return None
    return _objection_iri(purpose, objected=state.objected)


def _objection_iri(purpose: Purpose, *, objected: bool) -> str | None:
    if purpose.basis is LawfulBasis.LEGITIMATE_INTERESTS:
        return (
            vocab.LEGITIMATE_INTEREST_OBJECTED
            if objected
            else vocab.LEGITIMATE_INTEREST_NOT_OBJECTED
        )
    if purpose.basis is LawfulBasis.PUBLIC_TASK and objected:
        return vocab.PUBLIC_INTEREST_OBJECTED
    return None
