"""The breach reports: processor's notice, authority notification, the register (private).

Use them through :class:`avgkit.breach.BreachRegister`. The JSON shapes are documented by
the schemas ``avgkit/schemas/breach-notice.schema.json`` and
``avgkit/schemas/breach-notification.schema.json``; the HTML goes through
:func:`avgkit._render.render_html` (autoescaped).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final, Literal

import attrs

from avgkit import _dpv
from avgkit._render import Lang, language, render_html, to_csv
from avgkit.breach._assess import special_categories
from avgkit.breach._values import Breach, BreachFacts
from avgkit.inventory import Inventory, SpecialCategory, SupervisoryAuthority

SCHEMA_VERSION: Final = 1

# (nl, en) texts; the seven questions follow a ticketing vendor's processing agreement, in short.
_T: Final[dict[str, tuple[str, str]]] = {
    "notice_title": ("Melding beveiligingsincident door verwerker", "Processor's breach notice"),
    "notice_subtitle": (
        "Antwoorden op de zeven vragen van bijlage 3 van de verwerkersovereenkomst",
        "Answers to the seven questions of the processing agreement's annex 3",
    ),
    "notification_title": (
        "Melding datalek aan de toezichthoudende autoriteit",
        "Personal data breach notification to the supervisory authority",
    ),
    "notification_subtitle": (
        "Inhoud volgens artikel 33 lid 3 AVG",
        "Contents as required by Article 33(3) GDPR",
    ),
    "q1": (
        "1. Wat is er gebeurd, en in welk systeem?",
        "1. What happened, and in which system?",
    ),
    "q2": (
        "2. Welke typen persoonsgegevens zijn betrokken?",
        "2. Which types of personal data are involved?",
    ),
    "q3": (
        "3. Van hoeveel personen (minimaal - maximaal)?",
        "3. How many people (minimum - maximum)?",
    ),
    "q4": ("4. Om welke groep personen gaat het?", "4. Which group of people is concerned?"),
    "q5": (
        "5. Zijn de contactgegevens van de betrokkenen bekend?",
        "5. Are the contact details of the people concerned known?",
    ),
    "q6": ("6. Wat is de oorzaak (root cause)?", "6. What is the root cause?"),
    "q7": (
        "7. Op welke datum of in welke periode?",
        "7. On which date or over which period?",
    ),
    "breach": ("Datalek", "Breach"),
    "addressee": ("Aan de toezichthouder", "To the supervisory authority"),
    "controller": ("Verwerkingsverantwoordelijke", "Controller"),
    "processor": ("Verwerker", "Processor"),
    "discovered": ("Ontdekt op", "Discovered at"),
    "aware": ("Verwerkingsverantwoordelijke op de hoogte sinds", "Controller aware since"),
    "notice_due": ("Uiterste meldtermijn verwerker", "Processor's notice due"),
    "notice_sent": ("Melding verwerker ontvangen op", "Processor's notice received at"),
    "authority_due": ("Uiterste meldtermijn toezichthouder (72 uur)", "Authority deadline (72 h)"),
    "authority_sent": ("Gemeld bij de toezichthouder op", "Notified to the authority at"),
    "reference": ("Kenmerk van de melding", "Notification reference"),
    "delay_reason": ("Reden van de vertraging (art. 33 lid 1)", "Reasons for delay (Art. 33(1))"),
    "protection": ("Versleuteling of pseudonimisering", "Encryption or pseudonymisation"),
    "updates": ("Aanvullingen (art. 33 lid 4)", "Updates (Art. 33(4))"),
    "nature": (
        "Aard van de inbreuk (art. 33 lid 3 onder a)",
        "Nature of the breach (Art. 33(3)(a))",
    ),
    "summary": ("Wat is er gebeurd", "What happened"),
    "system": ("Systeem", "System"),
    "root_cause": ("Oorzaak", "Root cause"),
    "period": ("Periode", "Period"),
    "categories": ("Categorieën persoonsgegevens", "Categories of personal data"),
    "special": ("Bijzondere persoonsgegevens", "Special categories of personal data"),
    "people": ("Aantal betrokkenen (bij benadering)", "Approximate number of people"),
    "group": ("Categorieën betrokkenen", "Categories of people concerned"),
    "vulnerable": ("Kwetsbare groepen (zoals kinderen)", "Vulnerable people (such as children)"),
    "records": ("Aantal records (bij benadering)", "Approximate number of records"),
    "contact_point": (
        "Contactpunt voor meer informatie (art. 33 lid 3 onder b)",
        "Contact point for more information (Art. 33(3)(b))",
    ),
    "consequences": (
        "Waarschijnlijke gevolgen (art. 33 lid 3 onder c)",
        "Likely consequences (Art. 33(3)(c))",
    ),
    "measures_taken": (
        "Genomen maatregelen (art. 33 lid 3 onder d)",
        "Measures taken (Art. 33(3)(d))",
    ),
    "measures_proposed": ("Voorgestelde maatregelen", "Measures proposed"),
    "decision": ("Besluit over melden", "Decision on notification"),
    "decision_reason": ("Motivering", "Reason"),
    "subjects_told": ("Betrokkenen geïnformeerd op", "People informed at"),
    "timeline": ("Tijdlijn", "Timeline"),
    "people_section": ("Betrokkenen en gegevens", "People and data"),
    "consequences_section": ("Gevolgen en maatregelen", "Consequences and measures"),
    "yes": ("ja", "yes"),
    "no": ("nee", "no"),
    "none": ("geen", "none"),
    "unknown": ("onbekend", "unknown"),
    "ongoing": ("nog niet beëindigd", "not ended"),
    "late": ("te laat", "late"),
    "not_yet": ("nog niet", "not yet"),
    "public": ("via een openbare mededeling", "by public communication"),
    "notify_authority": ("Melden bij de toezichthouder", "Notify the authority"),
    "notify_subjects": ("Betrokkenen informeren", "Inform the people concerned"),
    "proposal": ("Voorstel van de beoordeling", "The assessment's proposal"),
    "printed": ("Opgesteld op", "Prepared at"),
}


def _t(key: str, lang: Lang) -> str:
    nl, en = _T[key]
    return nl if lang == "nl" else en


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _when(value: datetime | None, lang: Lang, empty: str = "not_yet") -> str:
    if value is None:
        return _t(empty, lang)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _yes(value: bool, lang: Lang) -> str:  # noqa: FBT001 - a formatting helper
    return _t("yes" if value else "no", lang)


def _category_label(term: str, lang: Lang) -> str:
    category = _dpv.DATA_CATEGORIES[term]
    return category.nl if lang == "nl" else category.en


def _categories(facts: BreachFacts) -> list[dict[str, Any]]:
    return [
        {
            "category": term,
            "iri": _dpv.DATA_CATEGORIES[term].iri,
            "label": {"nl": _category_label(term, "nl"), "en": _category_label(term, "en")},
        }
        for term in facts.categories
    ]


def _special(facts: BreachFacts, inventory: Inventory) -> tuple[str, ...]:
    # The assessment's own answer, so the reports and the proposal agree.

    return special_categories(facts, inventory)


def _period(facts: BreachFacts) -> dict[str, str | None]:
    return {"from": _iso(facts.occurred_from), "until": _iso(facts.occurred_until)}


def _updates(breach: Breach) -> list[dict[str, Any]]:
    return [
        {
            "at": _iso(update.at),
            "version": update.version,
            "note": update.note,
            "changed": list(update.changed),
        }
        for update in breach.updates
    ]


def _processor(breach: Breach, inventory: Inventory) -> dict[str, str] | None:
    if breach.processor is None:
        return None
    return {"key": breach.processor, "name": inventory.recipient(breach.processor).name}


def notice(breach: Breach, inventory: Inventory) -> dict[str, Any]:
    """The processor's notice: a processing agreement's seven questions, as a JSON-ready dict."""
    facts = breach.facts
    due = breach.processor_notice_due
    return {
        "report": "processor_notice",
        "schema_version": SCHEMA_VERSION,
        "breach": {"id": breach.id, "version": breach.version},
        "controller": {"name": inventory.controller.name},
        "processor": _processor(breach, inventory),
        "discovered_at": _iso(breach.discovered_at),
        "deadline": _iso(due),
        "notified_at": _iso(breach.processor_notified_at),
        "late": breach.processor_notice_late,
        "what_happened": {"summary": facts.summary, "system": facts.system},
        "personal_data": _categories(facts),
        "people": {"minimum": facts.subjects.minimum, "maximum": facts.subjects.maximum},
        "group": {"description": facts.subject_group, "vulnerable": facts.vulnerable_subjects},
        "contact_details_known": facts.contact_details_known,
        "root_cause": facts.root_cause,
        "period": _period(facts),
        "protection": facts.protection.value,
        "updates": _updates(breach),
    }


def notification(
    breach: Breach, inventory: Inventory, authority: SupervisoryAuthority | None = None
) -> dict[str, Any]:
    """The authority notification: the Art. 33(3) contents, as a JSON-ready dict.

    ``authority`` is the addressee (the controller's own supervisory authority by default).
    """
    facts = breach.facts
    controller = inventory.controller
    decision = breach.decision
    addressee = inventory.authority if authority is None else authority
    return {
        "report": "authority_notification",
        "schema_version": SCHEMA_VERSION,
        "breach": {"id": breach.id, "version": breach.version},
        "authority": addressee.as_dict(),
        "controller": {
            "name": controller.name,
            "address": controller.address,
            "country": controller.country,
            "email": controller.email,
            "dpo": controller.dpo,
        },
        "contact_point": facts.contact_point,
        "nature": {
            "kinds": [kind.value for kind in facts.kinds],
            "summary": facts.summary,
            "system": facts.system,
            "root_cause": facts.root_cause,
            "period": _period(facts),
        },
        "personal_data": _categories(facts),
        "special_categories": list(_special(facts, inventory)),
        "people": {
            "minimum": facts.subjects.minimum,
            "maximum": facts.subjects.maximum,
            "group": facts.subject_group,
            "vulnerable": facts.vulnerable_subjects,
            "contact_details_known": facts.contact_details_known,
        },
        "records": None
        if facts.records is None
        else {"minimum": facts.records.minimum, "maximum": facts.records.maximum},
        "likely_consequences": facts.likely_consequences,
        "measures": {"taken": facts.measures_taken, "proposed": facts.measures_proposed},
        "protection": facts.protection.value,
        "processor": _processor(breach, inventory),
        "timeline": {
            "discovered_at": _iso(breach.discovered_at),
            "became_aware_at": _iso(breach.became_aware_at),
            "deadline": _iso(breach.authority_due),
            "notified_at": _iso(breach.authority_notified_at),
            "late": breach.authority_late,
            "delay_reason": breach.delay_reason,
            "reference": breach.authority_reference,
        },
        "decision": None
        if decision is None
        else {
            "decided_at": _iso(decision.decided_at),
            "notify_authority": decision.notify_authority,
            "notify_subjects": decision.notify_subjects,
            "public_communication": decision.public_communication,
            "reason": decision.reason,
            "follows_proposal": decision.follows_proposal,
        },
        "subjects": {
            "notified_at": _iso(breach.subjects_notified_at),
            "public": breach.subjects_public,
        },
        "updates": _updates(breach),
    }


def _period_text(facts: BreachFacts, lang: Lang) -> str:
    start = _when(facts.occurred_from, lang)
    if facts.occurred_until is None:
        return f"{start} - {_t('ongoing', lang)}"
    if facts.occurred_until == facts.occurred_from:
        return start
    return f"{start} - {_when(facts.occurred_until, lang)}"


def _list(values: Iterable[str], lang: Lang) -> str:
    joined = ", ".join(values)
    return joined or _t("none", lang)


def _due(due: datetime | None, late: bool, lang: Lang) -> str:  # noqa: FBT001
    text = _when(due, lang, "none")
    return f"{text} ({_t('late', lang)})" if late else text


def _notice_view(breach: Breach, inventory: Inventory, lang: Lang) -> dict[str, Any]:
    facts = breach.facts
    processor = _processor(breach, inventory)
    header = [
        (_t("breach", lang), f"{breach.id} (v{breach.version})"),
        (_t("controller", lang), inventory.controller.name),
        (_t("processor", lang), processor["name"] if processor else _t("none", lang)),
        (_t("discovered", lang), _when(breach.discovered_at, lang)),
        (_t("notice_due", lang), _when(breach.processor_notice_due, lang, "none")),
        (
            _t("notice_sent", lang),
            _due(breach.processor_notified_at, breach.processor_notice_late, lang),
        ),
    ]
    answers = [
        (_t("q1", lang), f"{facts.summary} ({_t('system', lang)}: {facts.system})"),
        (_t("q2", lang), _list((_category_label(t, lang) for t in facts.categories), lang)),
        (_t("q3", lang), f"{facts.subjects.minimum} - {facts.subjects.maximum}"),
        (
            _t("q4", lang),
            facts.subject_group
            + (f" ({_t('vulnerable', lang)})" if facts.vulnerable_subjects else ""),
        ),
        (_t("q5", lang), _yes(facts.contact_details_known, lang)),
        (_t("q6", lang), facts.root_cause),
        (_t("q7", lang), _period_text(facts, lang)),
        (_t("protection", lang), facts.protection.label(lang)),
    ]
    return {
        "title": _t("notice_title", lang),
        "subtitle": _t("notice_subtitle", lang),
        "sections": [("", header), ("", answers)],
        "updates": _update_rows(breach),
        "updates_heading": _t("updates", lang),
    }


def _update_rows(breach: Breach) -> list[tuple[str, str]]:
    return [(update.at.strftime("%Y-%m-%d %H:%M UTC"), update.note) for update in breach.updates]


def _notification_view(
    breach: Breach,
    inventory: Inventory,
    lang: Lang,
    authority: SupervisoryAuthority | None = None,
) -> dict[str, Any]:
    facts = breach.facts
    controller = inventory.controller
    addressee = inventory.authority if authority is None else authority
    controller_rows = [
        (_t("addressee", lang), f"{addressee.name.get(lang)}, {addressee.address}"),
        (_t("controller", lang), f"{controller.name}, {controller.address}"),
        (_t("contact_point", lang), facts.contact_point),
    ]
    nature_rows = [
        (_t("nature", lang), _list((kind.label(lang) for kind in facts.kinds), lang)),
        (_t("summary", lang), facts.summary),
        (_t("system", lang), facts.system),
        (_t("root_cause", lang), facts.root_cause),
        (_t("period", lang), _period_text(facts, lang)),
    ]
    records = facts.records
    people_rows = [
        (
            _t("categories", lang),
            _list((_category_label(t, lang) for t in facts.categories), lang),
        ),
        (
            _t("special", lang),
            _list((SpecialCategory(v).label(lang) for v in _special(facts, inventory)), lang),
        ),
        (_t("people", lang), f"{facts.subjects.minimum} - {facts.subjects.maximum}"),
        (_t("group", lang), facts.subject_group),
        (_t("vulnerable", lang), _yes(facts.vulnerable_subjects, lang)),
        (
            _t("records", lang),
            _t("unknown", lang) if records is None else f"{records.minimum} - {records.maximum}",
        ),
        (_t("protection", lang), facts.protection.label(lang)),
    ]
    consequence_rows = [
        (_t("consequences", lang), facts.likely_consequences),
        (_t("measures_taken", lang), facts.measures_taken),
        (_t("measures_proposed", lang), facts.measures_proposed or _t("none", lang)),
    ]
    timeline_rows = [
        (_t("discovered", lang), _when(breach.discovered_at, lang)),
        (_t("aware", lang), _when(breach.became_aware_at, lang)),
        (_t("authority_due", lang), _when(breach.authority_due, lang)),
        (
            _t("authority_sent", lang),
            _due(breach.authority_notified_at, breach.authority_late, lang),
        ),
    ]
    if breach.authority_reference is not None:
        timeline_rows.append((_t("reference", lang), breach.authority_reference))
    if breach.delay_reason is not None:
        timeline_rows.append((_t("delay_reason", lang), breach.delay_reason))
    if breach.processor is not None:
        processor = inventory.recipient(breach.processor)
        timeline_rows.append((_t("processor", lang), processor.name))
        timeline_rows.append(
            (
                _t("notice_sent", lang),
                _due(breach.processor_notified_at, breach.processor_notice_late, lang),
            )
        )
    decision_rows: list[tuple[str, str]] = []
    decision = breach.decision
    if decision is not None:
        subjects = _yes(decision.notify_subjects, lang)
        if decision.public_communication:
            subjects = f"{subjects}; {_t('public', lang)}"
        decision_rows = [
            (_t("notify_authority", lang), _yes(decision.notify_authority, lang)),
            (_t("notify_subjects", lang), subjects),
            (_t("decision_reason", lang), decision.reason),
            (_t("proposal", lang), "; ".join(decision.proposal.explain(lang))),
            (
                _t("subjects_told", lang),
                _when(breach.subjects_notified_at, lang)
                + (f" ({_t('public', lang)})" if breach.subjects_public else ""),
            ),
        ]
    sections = [
        (_t("controller", lang), controller_rows),
        (_t("nature", lang), nature_rows),
        (_t("people_section", lang), people_rows),
        (_t("consequences_section", lang), consequence_rows),
        (_t("timeline", lang), timeline_rows),
    ]
    if decision_rows:
        sections.append((_t("decision", lang), decision_rows))
    return {
        "title": _t("notification_title", lang),
        "subtitle": _t("notification_subtitle", lang),
        "sections": sections,
        "updates": _update_rows(breach),
        "updates_heading": _t("updates", lang),
    }


def html(
    breach: Breach,
    inventory: Inventory,
    which: str,
    lang: Lang,
    authority: SupervisoryAuthority | None = None,
) -> str:
    """Render the notice or the notification as a printable HTML page."""
    lang = language(lang)
    if which == "notice":
        view = _notice_view(breach, inventory, lang)
    else:
        view = _notification_view(breach, inventory, lang, authority)
    return render_html("breach.html.j2", lang, view=view)


_CSV_COLUMNS: Final = (
    ("id", "Kenmerk"),
    ("version", "Versie"),
    ("recorded_at", "Geregistreerd op"),
    ("system", "Systeem"),
    ("summary", "Wat is er gebeurd"),
    ("kinds", "Aard"),
    ("categories", "Categorieën persoonsgegevens"),
    ("special_categories", "Bijzondere persoonsgegevens"),
    ("subjects_min", "Betrokkenen minimaal"),
    ("subjects_max", "Betrokkenen maximaal"),
    ("records_min", "Records minimaal"),
    ("records_max", "Records maximaal"),
    ("subject_group", "Groep betrokkenen"),
    ("vulnerable", "Kwetsbare groepen"),
    ("contact_details_known", "Contactgegevens bekend"),
    ("root_cause", "Oorzaak"),
    ("occurred_from", "Begin"),
    ("occurred_until", "Einde"),
    ("protection", "Versleuteling"),
    ("likely_consequences", "Gevolgen"),
    ("measures_taken", "Genomen maatregelen"),
    ("measures_proposed", "Voorgestelde maatregelen"),
    ("processor", "Verwerker"),
    ("discovered_at", "Ontdekt op"),
    ("became_aware_at", "Op de hoogte sinds"),
    ("processor_notice_due", "Termijn verwerker"),
    ("processor_notified_at", "Melding verwerker ontvangen"),
    ("authority_due", "Termijn toezichthouder"),
    ("decided_notify_authority", "Besluit: melden toezichthouder"),
    ("decided_notify_subjects", "Besluit: betrokkenen informeren"),
    ("decided_public_communication", "Besluit: openbare mededeling"),
    ("decision_reason", "Motivering besluit"),
    ("authority_notified_at", "Gemeld bij toezichthouder"),
    ("authority_reference", "Kenmerk melding"),
    ("delay_reason", "Reden vertraging"),
    ("subjects_notified_at", "Betrokkenen geïnformeerd"),
    ("updates", "Aantal aanvullingen"),
)


def _flag(value: bool | None) -> str:  # noqa: FBT001
    return "" if value is None else ("yes" if value else "no")


def _row(breach: Breach, inventory: Inventory) -> list[object]:
    facts = breach.facts
    decision = breach.decision
    records = facts.records
    return [
        breach.id,
        breach.version,
        _iso(breach.recorded_at),
        facts.system,
        facts.summary,
        " ".join(kind.value for kind in facts.kinds),
        " ".join(facts.categories),
        " ".join(_special(facts, inventory)),
        facts.subjects.minimum,
        facts.subjects.maximum,
        None if records is None else records.minimum,
        None if records is None else records.maximum,
        facts.subject_group,
        _flag(facts.vulnerable_subjects),
        _flag(facts.contact_details_known),
        facts.root_cause,
        _iso(facts.occurred_from),
        _iso(facts.occurred_until),
        facts.protection.value,
        facts.likely_consequences,
        facts.measures_taken,
        facts.measures_proposed,
        breach.processor,
        _iso(breach.discovered_at),
        _iso(breach.became_aware_at),
        _iso(breach.processor_notice_due),
        _iso(breach.processor_notified_at),
        _iso(breach.authority_due),
        _flag(None if decision is None else decision.notify_authority),
        _flag(None if decision is None else decision.notify_subjects),
        _flag(None if decision is None else decision.public_communication),
        None if decision is None else decision.reason,
        _iso(breach.authority_notified_at),
        breach.authority_reference,
        breach.delay_reason,
        _iso(breach.subjects_notified_at),
        len(breach.updates),
    ]


def register_csv(breaches: Iterable[Breach], inventory: Inventory, lang: Lang) -> str:
    """The Art. 33(5) register: one row per breach, headers in ``lang``."""
    lang = language(lang)
    header = [nl if lang == "nl" else en for en, nl in _CSV_COLUMNS]
    return to_csv(header, (_row(breach, inventory) for breach in breaches))


@attrs.frozen(kw_only=True)
class BreachDocument:
    """One breach rendered for its reader: the processor's notice or the authority notification.

    Get one from :meth:`avgkit.breach.BreachRegister.notice` or
    :meth:`~avgkit.breach.BreachRegister.notification`; it renders as JSON valid against the
    shipped schema (:meth:`to_json`, :meth:`to_mapping`) and as printable HTML
    (:meth:`to_html`, Dutch or English). The ``repr`` names only the breach id.

    .. versionadded:: 0.2.0
    """

    kind: Literal["notice", "notification"]
    """``"notice"`` (the processor's seven answers) or ``"notification"`` (Art. 33(3))."""
    breach: Breach = attrs.field(repr=False)
    inventory: Inventory = attrs.field(repr=False)
    authority: SupervisoryAuthority | None = attrs.field(default=None, repr=False)
    """The notification's addressee; ``None``: the controller's own supervisory authority."""
    breach_id: str = attrs.field(init=False)

    @breach_id.default
    def _breach_id(self) -> str:
        return self.breach.id

    def to_mapping(self) -> dict[str, Any]:
        """The document as a JSON-ready dict (``avgkit/schemas/breach-<kind>.schema.json``)."""
        if self.kind == "notice":
            return notice(self.breach, self.inventory)
        return notification(self.breach, self.inventory, self.authority)

    def to_json(self) -> str:
        """The document as JSON text (UTF-8, keys in schema order)."""
        return json.dumps(self.to_mapping(), ensure_ascii=False, indent=2)

    def to_html(self, lang: Lang = "nl") -> str:
        """The document as a printable HTML page in ``lang`` (autoescaped)."""
        return html(self.breach, self.inventory, self.kind, lang, self.authority)


@attrs.frozen(kw_only=True)
class BreachRegisterReport:
    """The register of Art. 33(5): every breach, in its newest version, for the authority.

    Get one from :meth:`avgkit.breach.BreachRegister.report`; render it with :meth:`to_csv`.

    .. versionadded:: 0.2.0
    """

    breaches: tuple[Breach, ...] = attrs.field(repr=False)
    inventory: Inventory = attrs.field(repr=False)

    def __len__(self) -> int:
        return len(self.breaches)

    def to_csv(self, lang: Lang = "en") -> str:
        """One row per breach, headers in ``lang``."""
        return register_csv(self.breaches, self.inventory, lang)
