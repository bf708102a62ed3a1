"""The access and portability export (Art. 15 and 20): built, validated, rendered.

:func:`build_export` is pure: it takes what the services read (the inventory, the host's
subject and records, the consent events, the retention dates, the subject's requests) and
returns an :class:`AccessExport` whose document is valid against the JSON Schema shipped as
``avgkit/schemas/access-export.schema.json`` (checked on every build). The export renders as
JSON, as CSV files in a zip, and as printable HTML in Dutch or English, and can be sealed
with a passphrase for handing over.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Any, Final, Literal

import attrs
import jsonschema

from avgkit import _render
from avgkit.consent._values import ConsentEvent, replay
from avgkit.consent._vocab import ConsentStatus
from avgkit.consent._wordings import WordingIndex
from avgkit.dsar._rights import RIGHTS
from avgkit.dsar._values import SubjectRequest
from avgkit.errors import ValidationError
from avgkit.host._values import HostRecord, HostSubject
from avgkit.inventory import (
    Field,
    Inventory,
    LawfulBasis,
    SupervisoryAuthority,
    category_label,
)
from avgkit.pseudonym import seal_bytes
from avgkit.retention._values import Action, PlannedAction, RetentionRule, Trigger

__all__ = ["EXPORT_FORMAT", "AccessExport", "ExportKind", "build_export", "export_schema"]

EXPORT_FORMAT: Final = "avgkit.access-export/1"
"""The ``format`` of the export document; a new major number is a breaking change."""

ExportKind = Literal["access", "portability"]
"""``"access"`` (Art. 15: everything, with the information about it) or ``"portability"``
(Art. 20: only the data the subject provided, under consent or a contract)."""

_PORTABLE_BASES: Final = frozenset({LawfulBasis.CONSENT, LawfulBasis.CONTRACT})


@cache
def export_schema() -> dict[str, Any]:
    """The JSON Schema every export document is valid against (a fresh copy is not made).

    .. versionadded:: 0.2.0
    """
    text = resources.files("avgkit").joinpath("schemas/access-export.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = export_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


def _instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json_value(value: object) -> object:
    """A host value as JSON: texts, numbers, booleans and null as they are; the rest as text."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return _as_text(value)


def _as_text(value: object) -> str:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):  # a date, or a naive datetime the host keeps as local
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return "base64:" + base64.b64encode(bytes(value)).decode("ascii")
    return str(value)  # Decimal amounts, UUIDs, enums: their text


@attrs.frozen(kw_only=True)
class AccessExport:
    """One subject's export: a JSON document and its renderings. Holds personal data.

    Nothing of the document appears in ``repr``.

    .. versionadded:: 0.2.0
    """

    kind: str
    """``"access"`` or ``"portability"``."""
    subject_ref: str
    """The subject's pseudonymous reference (``sr1:…``)."""
    generated_at: datetime
    document: Mapping[str, Any] = attrs.field(repr=False, eq=False)
    """The export as JSON-ready data, valid against :func:`export_schema`."""

    def to_json(self, *, indent: int | None = 2) -> bytes:
        """The document as UTF-8 JSON."""
        return json.dumps(self.document, ensure_ascii=False, indent=indent).encode("utf-8")

    def to_csv_zip(self) -> bytes:
        """CSV files in a zip: one per source of records, plus the Art. 15 information.

        Each record source (``accounts.csv``, ``orders.csv``) has a column per field; the
        information files are ``purposes.csv``, ``categories.csv``, ``recipients.csv``,
        ``retention.csv``, ``consent_history.csv`` and ``requests.csv`` (access only), with
        the full document as ``export.json``. Cells that a spreadsheet would run as a
        formula are quoted.
        """
        buffer = io.BytesIO()
        stamp = self.generated_at.astimezone(UTC).timetuple()[:6]
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:

            def put(name: str, text: str | bytes) -> None:
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, text)

            for name, text in self._csv_files():
                put(name, text)
            put("export.json", self.to_json())
        return buffer.getvalue()

    def _csv_files(self) -> Iterable[tuple[str, str]]:
        doc = self.document
        by_source: dict[str, list[Mapping[str, Any]]] = {}
        for record in doc["data"]:
            by_source.setdefault(record["source"], []).append(record)
        for source, records in sorted(by_source.items()):
            columns = sorted({name for record in records for name in record["values"]})
            rows = (
                [r["key"], r["at"], r["fiscal"], *[_cell(r["values"].get(c)) for c in columns]]
                for r in records
            )
            yield f"{source}.csv", _render.to_csv(["key", "at", "fiscal", *columns], rows)
        if self.kind != "access":
            return
        for name, section, header in _INFORMATION_FILES:
            items = doc["consent"]["history"] if section == "consent" else doc[section]
            lines = ([_listed(_column(item, column)) for column in header] for item in items)
            yield name, _render.to_csv(list(header), lines)

    def to_html(self, lang: _render.Lang = "nl") -> str:
        """The export as a printable HTML page in ``lang`` (``"nl"`` or ``"en"``), escaped.

        Raises:
            ValidationError: ``lang`` is not ``"nl"`` or ``"en"``.
        """
        return _render.render_html("access_export.html.j2", lang, doc=self.document, kind=self.kind)

    def seal(self, passphrase: str) -> bytes:
        """The JSON document sealed with ``passphrase`` (see :func:`avgkit.pseudonym.seal_bytes`).

        Raises:
            ValidationError: the passphrase is too short.
        """
        return seal_bytes(self.to_json(), passphrase)


_INFORMATION_FILES: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    (
        "purposes.csv",
        "purposes",
        ("key", "basis", "basis_article", "direct_marketing", "profiling", "description.en"),
    ),
    (
        "categories.csv",
        "categories",
        ("category", "fields", "origins", "deletion.due", "deletion.rule"),
    ),
    (
        "recipients.csv",
        "recipients",
        ("key", "name", "role", "country", "third_country", "transfer_mechanism"),
    ),
    (
        "retention.csv",
        "retention",
        ("rule", "action", "due", "source", "hold", "deferred_until", "reason"),
    ),
    (
        "consent_history.csv",
        "consent",
        ("purpose", "action", "at", "channel", "notice_version", "wording_sha256", "actor"),
    ),
    ("requests.csv", "requests", ("id", "kind", "status", "received_at", "due_at")),
)
"""The Art. 15 information as CSV files: (file, document section, columns; ``a.b`` nests)."""


def _column(item: Mapping[str, Any], column: str) -> object:
    value: object = item
    for part in column.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _listed(value: object) -> object:
    """An information cell: a list of keys as one space-separated cell."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    return _cell(value)


def _cell(value: object) -> object:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


# --------------------------------------------------------------------------- building


def _deletion(action: PlannedAction) -> dict[str, Any]:
    return {"due": _instant(action.due), "rule": action.rule, "action": action.action.value}


def _earliest(current: dict[str, Any] | None, candidate: dict[str, Any]) -> dict[str, Any]:
    if current is None or candidate["due"] < current["due"]:
        return candidate
    return current


class _Deletions:
    """When each record is erased or anonymised, and by which rule (the earliest applies)."""

    def __init__(self, dates: Sequence[PlannedAction], rules: Sequence[RetentionRule]) -> None:
        self._by_record: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._subject: dict[str, Any] | None = None
        for action in dates:
            if action.source is None:
                self._subject = _earliest(self._subject, _deletion(action))
            else:
                key = (action.source, action.record_key)
                self._by_record[key] = _earliest(self._by_record.get(key), _deletion(action))
        self._rules = [r for r in rules if r.records and r.trigger is Trigger.COLLECTION]

    def of(self, record: HostRecord) -> dict[str, Any] | None:
        found = self._by_record.get((record.source, record.key)) or self._by_record.get(
            (record.source, None)
        )
        if record.at is not None:
            for rule in self._rules:
                if record.source in rule.records:
                    own = {
                        "due": _instant(rule.due(record.at)),
                        "rule": rule.key,
                        "action": rule.action.value,
                    }
                    found = _earliest(found, own)
        if self._subject is not None:
            # An erasure keeps a fiscal record, stripped of the subject (Art. 17(3)(b)).
            mine = self._subject
            if record.fiscal:
                mine = {**mine, "action": Action.ANONYMISE.value}
            found = _earliest(found, mine)
        return found


def _portable_fields(inventory: Inventory) -> frozenset[str]:
    return frozenset(
        f.key
        for f in inventory.fields
        if f.origin.portable
        and any(inventory.purpose(p).basis in _PORTABLE_BASES for p in f.purposes)
    )


def build_export(
    *,
    inventory: Inventory,
    subject: HostSubject,
    subject_ref: str,
    records: Iterable[HostRecord],
    events: Sequence[ConsentEvent] = (),
    dates: Sequence[PlannedAction] = (),
    rules: Sequence[RetentionRule] = (),
    requests: Sequence[SubjectRequest] = (),
    restricted: bool = False,
    at: datetime,
    kind: ExportKind = "access",
    wordings: WordingIndex | None = None,
    country: str | None = None,
) -> AccessExport:
    """Build a subject's export from what avgkit and the host hold about them.

    Args:
        inventory: the declared purposes, fields and recipients.
        subject: the subject as the host reports it.
        subject_ref: its pseudonymous reference (``sr1:…``).
        records: the host's records of the subject (their part of others' too).
        events: the subject's consent events, oldest first.
        dates: when the retention rules covering the subject fall due
            (:meth:`~avgkit.retention.RetentionPlanner.dates`).
        rules: the policy's rules on records (camera footage, support mail, fiscal
            records): each dated record shows when its own rule erases it.
        requests: the subject's requests (their status is part of the answer).
        restricted: whether processing is restricted (Art. 18).
        at: the instant of the export.
        kind: ``"access"`` (Art. 15) or ``"portability"`` (Art. 20).
        wordings: the consent wording registry (``kit.consent.wording_index()``): each
            consent event then carries the exact text the subject saw, in the subject's
            language (``wording``; ``None`` where the text is not registered).
        country: for a venue operating in several countries, the country whose supervisory
            authority the subject may complain to (the one of the sale or of the subject's
            residence); the controller's own by default.

    Raises:
        ValidationError: ``kind`` is unknown, ``at`` is naive, ``country`` is not an ISO
            3166-1 alpha-2 code, or the document would not be valid against the schema (a
            host value that cannot be exported).
        PolicyError: avgkit knows no supervisory authority for ``country``.

    .. versionadded:: 0.2.0
    """
    if kind not in ("access", "portability"):
        msg = f"an export's kind is 'access' or 'portability', not {kind!r}"
        raise ValidationError(msg)
    if not isinstance(at, datetime) or at.tzinfo is None:
        msg = "an export's instant must be a timezone-aware datetime"
        raise ValidationError(msg)
    fields = {f.key: f for f in inventory.fields}
    deletions = _Deletions(dates, rules)
    portable = _portable_fields(inventory) if kind == "portability" else None
    data: list[dict[str, Any]] = []
    held: dict[str, dict[str, Any] | None] = {}  # field key -> earliest deletion of its data
    for record in records:
        values = record.values
        if portable is not None:
            values = {k: v for k, v in values.items() if k in portable}
            if not values:
                continue
        deletion = deletions.of(record)
        categories: dict[str, str | None] = {}
        for name in values:
            declared = fields.get(name)
            categories[name] = None if declared is None else declared.category
            earlier = held.get(name)
            held[name] = earlier if deletion is None else _earliest(earlier, deletion)
        data.append(
            {
                "source": record.source,
                "key": record.key,
                "at": _instant(record.at),
                "fiscal": record.fiscal,
                "values": {name: _json_value(value) for name, value in values.items()},
                "categories": categories,
                "deletion": deletion,
            }
        )
    c = inventory.controller
    authority = (
        inventory.authority
        if country is None
        else inventory.jurisdiction(country).require_authority()
    )
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "kind": kind,
        "generated_at": _instant(at),
        "controller": {
            "name": c.name,
            "address": c.address,
            "email": c.email,
            "country": c.country,
            "dpo": c.dpo,
        },
        "subject": {"id": str(subject.id), "reference": subject_ref, "kind": subject.kind.value},
        "processing": bool(data) or bool(events),
        "restricted": restricted,
    }
    if kind == "access":
        document.update(
            _information(
                inventory,
                held=held,
                fields=fields,
                dates=dates,
                events=events,
                requests=requests,
                subject=subject,
                at=at,
                authority=authority,
                wordings=wordings,
            )
        )
    document["data"] = data
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(part) for part in first.absolute_path) or "(document)"
        # The message names the place and the rule, never the value (it may be personal).
        msg = (
            f"the access export would not be valid at {where}: it breaks the schema's "
            f"{first.validator!r} rule; a host value of an unsupported type?"
        )
        raise ValidationError(msg)
    return AccessExport(kind=kind, subject_ref=subject_ref, generated_at=at, document=document)


def _wording(wordings: WordingIndex | None, event: ConsentEvent) -> dict[str, str] | None:
    # The exact checkbox text the subject saw, in the subject's language, if registered.
    shown = (
        None
        if wordings is None
        else wordings.shown(event.purpose, event.evidence.wording_sha256, event.at)
    )
    if shown is None:
        return None
    return {
        "version": shown.version,
        "lang": shown.lang,
        "sha256": shown.sha256,
        "text": shown.text,
    }


def _information(
    inventory: Inventory,
    *,
    held: Mapping[str, dict[str, Any] | None],
    fields: Mapping[str, Field],
    dates: Sequence[PlannedAction],
    events: Sequence[ConsentEvent],
    requests: Sequence[SubjectRequest],
    subject: HostSubject,
    at: datetime,
    authority: SupervisoryAuthority,
    wordings: WordingIndex | None = None,
) -> dict[str, Any]:
    held_fields = [fields[name] for name in held if name in fields]
    purpose_keys = {p for f in held_fields for p in f.purposes} | {e.purpose for e in events}
    purposes = [p for p in inventory.purposes if p.key in purpose_keys]
    by_category: dict[str, list[Field]] = {}
    for f in held_fields:
        by_category.setdefault(f.category, []).append(f)
    categories = []
    for category, members in sorted(by_category.items()):
        deletion: dict[str, Any] | None = None
        for f in members:
            found = held[f.key]
            if found is not None:
                deletion = _earliest(deletion, found)
        sources = []
        for f in members:
            if f.source is not None and f.source.as_dict() not in sources:
                sources.append(f.source.as_dict())
        categories.append(
            {
                "category": category,
                "iri": members[0].category_iri,
                "label": {"nl": category_label(category, "nl"), "en": category_label(category)},
                "fields": sorted(f.key for f in members),
                "origins": sorted({f.origin.value for f in members}),
                "sources": sources,
                "deletion": deletion,
            }
        )
    recipient_keys = {r for p in purposes for r in p.recipients}
    recipients = [
        {
            "key": r.key,
            "name": r.name,
            "role": r.role.value,
            "country": r.country,
            "third_country": r.third_country,
            "transfer_mechanism": None
            if r.transfer_mechanism is None
            else r.transfer_mechanism.value,
            "safeguard": None
            if r.transfer_mechanism is None
            else {
                "nl": f"{r.transfer_mechanism.label('nl')} ({r.transfer_mechanism.article})",
                "en": f"{r.transfer_mechanism.label('en')} ({r.transfer_mechanism.article})",
            },
        }
        for r in inventory.recipients
        if r.key in recipient_keys
    ]
    consent_purposes = sorted({e.purpose for e in events})
    current = []
    for purpose in consent_purposes:
        state = replay(events, subject=subject.id, purpose=purpose, at=at)
        last = state.consent_event or state.objection_event
        current.append(
            {
                "purpose": purpose,
                "status": state.status.value
                if isinstance(state.status, ConsentStatus)
                else str(state.status),
                "objected": state.objected,
                "since": None if last is None else _instant(last.at),
            }
        )
    history = [
        {
            "purpose": e.purpose,
            "action": e.kind.value,
            "at": _instant(e.at),
            "channel": e.evidence.channel.value,
            "notice_version": e.evidence.notice_version,
            "wording_sha256": e.evidence.wording_sha256,
            "actor": e.evidence.actor.value,
            "confirmed_at": _instant(e.evidence.confirmed_at),
            "expires_at": _instant(e.evidence.expires_at),
            "wording": _wording(wordings, e),
        }
        for e in events
    ]
    automated = [p.key for p in purposes if p.automated_decisions]
    profiling = [p.key for p in purposes if p.profiling]
    return {
        "purposes": [
            {
                "key": p.key,
                "description": p.description.as_dict(),
                "basis": p.basis.value,
                "basis_article": p.basis.article,
                "basis_iri": p.basis.iri,
                "direct_marketing": p.direct_marketing,
                "profiling": p.profiling,
                "automated_decisions": p.automated_decisions,
                "recipients": list(p.recipients),
                "categories": sorted({f.category for f in held_fields if p.key in f.purposes}),
            }
            for p in purposes
        ],
        "categories": categories,
        "recipients": recipients,
        "retention": [
            {
                "rule": a.rule,
                "action": a.action.value,
                "due": _instant(a.due),
                "reason": a.reason,
                "source": a.source,
                "hold": None if a.hold is None else a.hold.value,
                "deferred_until": _instant(a.deferred_until),
            }
            for a in dates
        ],
        "automated_decision_making": {
            "present": bool(automated),
            "purposes": automated,
            "profiling_purposes": profiling,
        },
        "rights": [r.as_dict() for r in RIGHTS],
        "authority": authority.as_dict(),
        "consent": {"current": current, "history": history},
        "requests": [
            {
                "id": r.id,
                "kind": r.kind.value,
                "status": r.status.value,
                "status_iri": r.status.dpv,
                "received_at": _instant(r.received_at),
                "due_at": _instant(r.due_at),
            }
            for r in requests
        ],
    }
