"""The Art. 30(1) record of processing activities and its renderings (private).

Public names are re-exported from :mod:`avgkit.inventory`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

import attrs

from avgkit import _dpv
from avgkit._render import Lang, language, render_html, to_csv

if TYPE_CHECKING:
    from avgkit.inventory._values import Controller, Texts
    from avgkit.inventory._vocab import (
        Art9Condition,
        LawfulBasis,
        RecipientRole,
        SpecialCategory,
        TransferMechanism,
    )

_STRINGS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "title": "Record of processing activities",
        "subtitle": "Article 30(1) GDPR",
        "controller": "Controller",
        "name": "Name",
        "address": "Address",
        "email": "E-mail",
        "country": "Country",
        "dpo": "Data protection officer",
        "representative": "Representative",
        "activities": "Processing activities",
        "purpose": "Purpose",
        "basis": "Lawful basis",
        "direct_marketing": "Direct marketing",
        "profiling": "Profiling",
        "subjects": "Categories of data subjects",
        "data": "Categories of personal data",
        "special": "Special categories (Art. 9)",
        "recipients": "Recipients",
        "transfers": "Transfers to third countries",
        "retention": "Retention",
        "security": "Security measures",
        "role": "Role",
        "mechanism": "Transfer mechanism",
        "yes": "yes",
        "no": "no",
        "none": "none",
        "not_described": "not described",
        "key": "Key",
    },
    "nl": {
        "title": "Register van verwerkingsactiviteiten",
        "subtitle": "Artikel 30, lid 1, AVG",
        "controller": "Verwerkingsverantwoordelijke",
        "name": "Naam",
        "address": "Adres",
        "email": "E-mail",
        "country": "Land",
        "dpo": "Functionaris gegevensbescherming",
        "representative": "Vertegenwoordiger",
        "activities": "Verwerkingsactiviteiten",
        "purpose": "Doel",
        "basis": "Grondslag",
        "direct_marketing": "Direct marketing",
        "profiling": "Profilering",
        "subjects": "Categorieën betrokkenen",
        "data": "Categorieën persoonsgegevens",
        "special": "Bijzondere categorieën (art. 9)",
        "recipients": "Ontvangers",
        "transfers": "Doorgiften naar derde landen",
        "retention": "Bewaartermijn",
        "security": "Beveiligingsmaatregelen",
        "role": "Rol",
        "mechanism": "Doorgiftemechanisme",
        "yes": "ja",
        "no": "nee",
        "none": "geen",
        "not_described": "niet beschreven",
        "key": "Sleutel",
    },
}


@attrs.frozen(kw_only=True)
class RegisterRecipient:
    """A recipient as the register lists it (Art. 30(1)(d) and (e)).

    .. versionadded:: 0.1.0
    """

    key: str
    name: str
    role: RecipientRole
    country: str
    third_country: bool
    transfer_mechanism: TransferMechanism | None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        mechanism = self.transfer_mechanism
        return {
            "key": self.key,
            "name": self.name,
            "role": {"value": self.role.value, "iri": self.role.iri},
            "country": self.country,
            "third_country": self.third_country,
            "transfer_mechanism": None
            if mechanism is None
            else {"value": mechanism.value, "article": mechanism.article, "iri": mechanism.iri},
        }

    def describe(self, lang: Lang) -> str:
        """``name (role, country)`` in ``lang``."""
        return f"{self.name} ({self.role.label(lang)}, {self.country})"

    def describe_transfer(self, lang: Lang) -> str:
        """``name (country): article mechanism`` in ``lang``."""
        mechanism = self.transfer_mechanism
        ground = "?" if mechanism is None else f"{mechanism.article} {mechanism.label(lang)}"
        return f"{self.name} ({self.country}): {ground}"


@attrs.frozen(kw_only=True)
class ProcessingActivity:
    """One processing activity of the register: a purpose with everything Art. 30(1) asks.

    .. versionadded:: 0.1.0
    """

    purpose: str
    description: Texts
    basis: LawfulBasis
    direct_marketing: bool
    profiling: bool
    subject_categories: tuple[str, ...]
    field_keys: tuple[str, ...]
    data_categories: tuple[str, ...]
    """DPV personal-data terms, in the order the fields are declared."""
    special_categories: tuple[tuple[SpecialCategory, Art9Condition], ...]
    recipients: tuple[RegisterRecipient, ...]
    retention: Texts | None
    dpv_purpose: str | None

    @property
    def transfers(self) -> tuple[RegisterRecipient, ...]:
        """The recipients of this activity outside the EEA."""
        return tuple(r for r in self.recipients if r.third_country)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "purpose": self.purpose,
            "description": self.description.as_dict(),
            "basis": {
                "value": self.basis.value,
                "article": self.basis.article,
                "iri": self.basis.iri,
            },
            "direct_marketing": self.direct_marketing,
            "profiling": self.profiling,
            "dpv_purpose": self.dpv_purpose,
            "subject_categories": list(self.subject_categories),
            "fields": list(self.field_keys),
            "data_categories": [
                {"term": term, "iri": _dpv.DATA_CATEGORIES[term].iri}
                for term in self.data_categories
            ],
            "special_categories": [
                {
                    "category": category.value,
                    "iri": category.iri,
                    "condition": condition.value,
                    "condition_article": condition.article,
                    "condition_iri": condition.iri,
                }
                for category, condition in self.special_categories
            ],
            "recipients": [r.key for r in self.recipients],
            "transfers": [r.key for r in self.transfers],
            "retention": None if self.retention is None else self.retention.as_dict(),
        }


@attrs.frozen(kw_only=True)
class ProcessingRegister:
    """The Art. 30(1) record of processing activities, built by :meth:`Inventory.register`.

    It covers (a) the controller and DPO, (b) the purposes with their basis, (c) the
    categories of subjects and personal data, (d) the recipients, (e) third-country
    transfers with their mechanism, (f) retention and (g) the security measures.

    .. versionadded:: 0.1.0
    """

    controller: Controller
    activities: tuple[ProcessingActivity, ...]
    recipients: tuple[RegisterRecipient, ...]
    """Every declared recipient, including processors no single purpose names (hosting)."""
    security_measures: Texts | None

    @property
    def transfers(self) -> tuple[RegisterRecipient, ...]:
        """Every recipient outside the EEA."""
        return tuple(r for r in self.recipients if r.third_country)

    def as_dict(self) -> dict[str, Any]:
        """The register as a JSON-ready mapping (both languages for texts)."""
        controller = self.controller
        return {
            "controller": {
                "name": controller.name,
                "address": controller.address,
                "email": controller.email,
                "country": controller.country,
                "dpo": controller.dpo,
                "representative": controller.representative,
            },
            "activities": [activity.as_dict() for activity in self.activities],
            "recipients": [recipient.as_dict() for recipient in self.recipients],
            "transfers": [recipient.key for recipient in self.transfers],
            "security_measures": None
            if self.security_measures is None
            else self.security_measures.as_dict(),
        }

    def to_markdown(self, lang: Lang = "en") -> str:
        """The register as Markdown; every value is escaped."""
        view = _view(self, language(lang))
        t = view["t"]
        out = [f"# {_md(t['title'])}", "", f"_{_md(t['subtitle'])}_", ""]
        out += [f"## {_md(t['controller'])}", ""]
        out += [f"- **{_md(label)}:** {_md(value)}" for label, value in view["controller"]]
        out += ["", f"## {_md(t['activities'])}", ""]
        for activity in view["activities"]:
            out += [f"### {_md(activity['key'])}", "", "| | |", "| --- | --- |"]
            out += [f"| {_md(label)} | {_md(value)} |" for label, value in activity["rows"]]
            out.append("")
        for section, header, rows in (
            ("recipients", view["recipient_header"], view["recipient_rows"]),
            ("transfers", view["transfer_header"], view["transfer_rows"]),
        ):
            out += [f"## {_md(t[section])}", ""]
            if rows:
                out.append("| " + " | ".join(_md(cell) for cell in header) + " |")
                out.append("|" + " --- |" * len(header))
                out += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows]
            else:
                out.append(_md(t["none"]))
            out.append("")
        out += [f"## {_md(t['security'])}", "", _md(view["security"]), ""]
        return "\n".join(out)

    def to_csv(self, lang: Lang = "en") -> str:
        """The register as CSV: one row per processing activity, the controller repeated."""
        view = _view(self, language(lang))
        t = view["t"]
        controller = "; ".join(f"{label}: {value}" for label, value in view["controller"])
        header = [t["controller"], t["key"]]
        header += (
            [label for label, _ in view["activities"][0]["rows"]] if view["activities"] else []
        )
        header.append(t["security"])
        rows = [
            [
                controller,
                activity["key"],
                *(value for _, value in activity["rows"]),
                view["security"],
            ]
            for activity in view["activities"]
        ]
        return to_csv(header, rows)

    def to_html(self, lang: Lang = "en") -> str:
        """The register as a printable HTML page; every value is escaped."""
        return render_html("register.html.j2", language(lang), view=_view(self, language(lang)))


def _view(register: ProcessingRegister, lang: Lang) -> dict[str, Any]:
    """Everything the renderings show, as localised strings (escaping is the renderer's)."""
    t = _STRINGS[lang]
    controller = register.controller
    controller_rows = [
        (t["name"], controller.name),
        (t["address"], controller.address),
        (t["email"], controller.email),
        (t["country"], controller.country),
        (t["dpo"], controller.dpo or t["none"]),
    ]
    if controller.representative is not None:
        controller_rows.append((t["representative"], controller.representative))

    def listing(items: list[str]) -> str:
        return "; ".join(items) if items else t["none"]

    activities = []
    for activity in register.activities:
        rows = [
            (t["purpose"], activity.description.get(lang)),
            (t["basis"], f"{activity.basis.article} {activity.basis.label(lang)}"),
            (t["direct_marketing"], t["yes"] if activity.direct_marketing else t["no"]),
            (t["profiling"], t["yes"] if activity.profiling else t["no"]),
            (t["subjects"], listing(list(activity.subject_categories))),
            (t["data"], listing([_category(term, lang) for term in activity.data_categories])),
            (
                t["special"],
                listing(
                    [
                        f"{category.label(lang)} ({condition.article} {condition.label(lang)})"
                        for category, condition in activity.special_categories
                    ]
                ),
            ),
            (t["recipients"], listing([r.describe(lang) for r in activity.recipients])),
            (t["transfers"], listing([r.describe_transfer(lang) for r in activity.transfers])),
            (
                t["retention"],
                t["not_described"] if activity.retention is None else activity.retention.get(lang),
            ),
        ]
        activities.append({"key": activity.purpose, "rows": rows})
    recipient_rows = [
        [r.name, r.role.label(lang), r.country, _mechanism(r, lang)] for r in register.recipients
    ]
    transfer_rows = [[r.name, r.country, _mechanism(r, lang)] for r in register.transfers]
    security = register.security_measures
    return {
        "t": t,
        "controller": controller_rows,
        "activities": activities,
        "recipient_header": [t["name"], t["role"], t["country"], t["mechanism"]],
        "recipient_rows": recipient_rows,
        "transfer_header": [t["name"], t["country"], t["mechanism"]],
        "transfer_rows": transfer_rows,
        "security": t["not_described"] if security is None else security.get(lang),
    }


def _category(term: str, lang: Lang) -> str:
    category = _dpv.DATA_CATEGORIES[term]
    return category.nl if lang == "nl" else category.en


def _mechanism(recipient: RegisterRecipient, lang: Lang) -> str:
    mechanism = recipient.transfer_mechanism
    if mechanism is None:
        return "-"
    return f"{mechanism.article} {mechanism.label(lang)}"


_MD_INLINE: Final = re.compile(r"([\\`*_\[\]<>|~&])")
_MD_LINE_START: Final = re.compile(r"^([#+=-]|\d+(?=[.)]))")


def _md(text: str) -> str:
    """Escape Markdown (and inline HTML) in a value, and keep it on one table line."""
    one_line = " ".join(text.split())
    escaped = _MD_INLINE.sub(r"\\\1", one_line)
    # A value that starts a line must not turn into a heading, list item or rule.
    return _MD_LINE_START.sub(_escape_line_start, escaped)


def _escape_line_start(match: re.Match[str]) -> str:
    marker = match.group(0)
    return marker + "\\" if marker[0].isdigit() else "\\" + marker
