"""What the SQL consent stores share (private).

The audience and objector queries, bulk imports and the table layout are each adapter's
own (they are where the databases really differ); reading events back (the row layout,
keyset pages, the latest event of a track) is written here once.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, Generic, NoReturn, TypeVar

from avgkit._validators import replaced
from avgkit.audit._bound import BoundRecord
from avgkit.consent._values import ConsentEvent, Evidence, LatestEvents, check_forget
from avgkit.consent._vocab import Actor, Channel, ConsentAction, Presentation
from avgkit.errors import IntegrityError, ValidationError
from avgkit.storage._bound import CONSENT_EVENT, consent_bound
from avgkit.storage._sql import _bindings
from avgkit.storage._sql._consent_extras import SqlConsentExtras
from avgkit.storage._sql._db import SqlDatabase
from avgkit.storage._sql._errors import raise_clean
from avgkit.subjects import SubjectId

__all__ = ["COMPONENT", "TRACK", "SqlConsentStore", "with_seq"]

COMPONENT: Final = "consent"
TRACK: Final = {kind: 0 if kind.is_consent else 1 for kind in ConsentAction}
"""0: the consent track (given, withdrawn); 1: the objection track (Art. 21)."""

DB = TypeVar("DB", bound=SqlDatabase)

_EARLIEST: Final = datetime(1, 1, 1, tzinfo=UTC)  # before every storable instant
_EVIDENCE_CACHE: Final = 4096  # decoded evidence values kept for reuse


def with_seq(event: ConsentEvent, seq: int) -> ConsentEvent:
    """``event`` as stored, with the sequence number the store gave it (not checked again)."""
    return replaced(event, seq=seq)


def _malformed(row: Sequence[Any]) -> NoReturn:
    seq = row[0] if row and isinstance(row[0], int) else "?"
    msg = (
        f"consent event {seq} is malformed: the row was changed outside avgkit; run "
        "kit.audit.verify() to see what else was, and restore it from a backup"
    )
    raise_clean(IntegrityError(msg))  # no cause: a driver's or decoder's text can quote it


class SqlConsentStore(SqlConsentExtras, Generic[DB]):
    """The part of a :class:`~avgkit.storage.ConsentStore` every SQL adapter shares.

    A subclass sets the class attributes below and implements the instant codec, the
    writes and :meth:`_subjects` (how a set-based query reaches Python). The wording
    registry, pending double opt-ins and grounds come from :class:`SqlConsentExtras`.
    """

    select: ClassVar[str]
    """``SELECT`` of the event columns (``e.seq, e.subject, e.purpose, e.kind, e.at``, the
    evidence's channel, notice version, wording hash, actor and staff key, then
    ``e.order_ref, e.confirmed_at, e.expires_at, e.presentation, e.requested_at,
    e.confirmed_via``) ``FROM`` the events aliased ``e``."""
    history_where: ClassVar[str]
    """The condition selecting one subject's events (its one parameter is the subject)."""
    audience_sql: ClassVar[str]
    """The audience of a purpose at an instant, for :meth:`_subjects`."""
    objectors_sql: ClassVar[str]
    """The objectors to a purpose at an instant, for :meth:`_subjects`."""
    migrations: ClassVar[tuple[str, ...]]
    """The consent component's scripts (never edited once released)."""

    def __init__(self, db: DB) -> None:
        self._db: DB = db
        self._p = db.dialect.placeholder
        db.migrate(COMPONENT, self.migrations)
        # The purposes and evidence rows known to be committed (rows avgkit never deletes),
        # so a write of a known one inserts just the event: learned only once committed.
        self._purposes: set[str] = set()
        self._evidence_ids: dict[tuple[str, ...], int] = {}
        self._latest = self._latest_sql()
        self._decoded_evidence: dict[tuple[Any, ...], Evidence] = {}

    def _known(self, purpose: str, notice: tuple[str, ...]) -> int | None:
        """The id of the evidence row ``notice`` if it and ``purpose`` are committed."""
        if purpose not in self._purposes:
            return None
        return self._evidence_ids.get(notice)

    def _learn(self, purpose: str, notice: tuple[str, ...], evidence_id: int) -> None:
        """Remember ``purpose`` and the evidence row's id once the current write commits."""

        def committed() -> None:
            self._purposes.add(purpose)
            self._evidence_ids[notice] = evidence_id

        self._db.after_commit(committed)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    @staticmethod
    @abc.abstractmethod
    def at_in(value: datetime) -> Any:
        """An instant as the ``at`` column stores it."""

    @staticmethod
    @abc.abstractmethod
    def at_out(value: Any) -> datetime:
        """A stored ``at`` (or ``confirmed_at``, ``expires_at``) as an aware UTC datetime."""

    @abc.abstractmethod
    def _subjects(self, query: str, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """Stream the subjects ``query`` selects for ``purpose`` at ``at``."""

    def _event(self, row: Sequence[Any]) -> ConsentEvent:
        """The event of a row of :attr:`select`.

        Raises:
            IntegrityError: the row no longer decodes into an event (it was changed
                outside avgkit); the message names its seq, never its values.
        """
        try:
            return self._decoded(row)
        except (ValueError, TypeError, OverflowError):  # ValidationError is a ValueError
            _malformed(row)

    def _decoded(self, row: Sequence[Any]) -> ConsentEvent:
        seq, subject, purpose, kind, at, *columns = row
        return ConsentEvent(
            subject=subject,
            purpose=purpose,
            kind=ConsentAction(kind),
            at=self.at_out(at),
            evidence=self._evidence(tuple(columns)),
            seq=seq,
        )

    def _evidence(self, columns: tuple[Any, ...]) -> Evidence:
        # Most events share a handful of evidence values (one per form and notice
        # version): each is decoded and checked once, then shared (values are immutable).
        known = self._decoded_evidence.get(columns)
        if known is not None:
            return known
        channel, notice, wording, actor, staff, order_ref, *rest = columns
        confirmed_at, expires_at, presentation, requested_at, confirmed_via = rest
        evidence = Evidence(
            channel=Channel(channel),
            notice_version=notice,
            wording_sha256=wording,
            actor=Actor(actor),
            staff_key=staff or None,  # SQLite keeps '' for "no staff key"
            order_ref=order_ref,
            confirmed_at=None if confirmed_at is None else self.at_out(confirmed_at),
            expires_at=None if expires_at is None else self.at_out(expires_at),
            presentation=None if presentation is None else Presentation(presentation),
            requested_at=None if requested_at is None else self.at_out(requested_at),
            confirmed_via=None if confirmed_via is None else Channel(confirmed_via),
        )
        if len(self._decoded_evidence) >= _EVIDENCE_CACHE:
            self._decoded_evidence.clear()  # bounded: order refs make most values unique
        self._decoded_evidence[columns] = evidence
        return evidence

    def _latest_sql(self) -> str:
        # The newest event of each track in one statement: each row leads with its track
        # and whether consent was ever given (asked only when the newest consent event is
        # not itself a "given": then it is the one EXISTS probe a withdrawal needs).
        p = self._p
        columns = self.select.removeprefix("SELECT ")
        ever = (
            f"(e.kind = 'given' OR EXISTS (SELECT 1 FROM consent_events AS g "  # noqa: S608 - fixed names only
            "WHERE g.purpose = e.purpose AND g.subject = e.subject AND g.track = 0 "
            f"AND g.kind = 'given' AND g.at <= {p}))"
        )
        tracks = [
            f"SELECT * FROM (SELECT e.track, {flag} AS ever_given, {columns} "  # noqa: S608 - fixed names and placeholders only
            f"WHERE e.purpose = {p} AND e.subject = {p} AND e.track = {track} AND e.at <= {p} "
            f"ORDER BY e.at DESC, e.seq DESC LIMIT 1) AS newest_{track}"
            for track, flag in ((0, ever), (1, "FALSE"))
        ]
        return " UNION ALL ".join(tracks)

    def latest(self, subject: SubjectId, purpose: str, at: datetime) -> LatestEvents:
        """The latest event of each track at or before ``at``, and whether consent was given.

        One statement: the two tracks' newest events side by side.
        """
        when = self.at_in(at)
        with self._db.read("reading a consent state") as conn:
            rows = conn.execute(
                self._latest, (when, purpose, subject, when, purpose, subject, when)
            ).fetchall()
        consent = objection = None
        ever = False
        for track, ever_given, *row in rows:
            if track == 0:
                consent, ever = self._event(row), bool(ever_given)
            else:
                objection = self._event(row)
        return LatestEvents(consent=consent, objection=objection, ever_given=ever)

    def history(self, subject: SubjectId) -> Iterator[ConsentEvent]:
        """Stream the subject's events by at, then seq (keyset pages)."""
        return self._pages(self.history_where, (subject,))

    def events(
        self, *, since: datetime, until: datetime, purpose: str | None = None
    ) -> Iterator[ConsentEvent]:
        """Stream the events in ``[since, until)`` by at, then seq (keyset pages)."""
        where = f"e.at >= {self._p} AND e.at < {self._p}"
        params: tuple[object, ...] = (self.at_in(since), self.at_in(until))
        if purpose is not None:
            where += f" AND e.purpose = {self._p}"
            params = (*params, purpose)
        return self._pages(where, params)

    def _pages(self, where: str, params: tuple[object, ...]) -> Iterator[ConsentEvent]:
        # Keyset pages on (at, seq): short reads, flat memory, and the caller may write
        # while iterating.
        p = self._p
        page = self._db.dialect.page_size
        query = (
            f"{self.select} WHERE {where} AND (e.at, e.seq) > ({p}, {p}) "
            f"ORDER BY e.at, e.seq LIMIT {p}"
        )
        after: tuple[object, object] = (self.at_in(_EARLIEST), 0)
        while True:
            with self._db.read("reading consent events") as conn:
                rows = conn.execute(query, (*params, *after, page)).fetchall()
            for row in rows:
                yield self._event(row)
            if len(rows) < page:
                return
            after = (rows[-1][4], rows[-1][0])

    def audience(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """Stream the subjects with live consent for ``purpose`` at ``at`` (set-based)."""
        return self._subjects(self.audience_sql, purpose, at)

    def current_audience(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """The audience without consents given under a withdrawn wording (set-based)."""
        return self._subjects(self.current_audience_sql, purpose, at)

    def to_renew(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """The live consents whose wording needs renewal (set-based)."""
        return self._subjects(self.to_renew_sql, purpose, at)

    def objectors(self, purpose: str, at: datetime) -> Iterator[SubjectId]:
        """Stream the subjects with an objection to ``purpose`` in force at ``at``."""
        return self._subjects(self.objectors_sql, purpose, at)

    def forget(self, subject: SubjectId, reference: str) -> int:
        """Re-key the subject's events to ``reference`` without order refs, in one ``UPDATE``.

        The append-only trigger lets exactly this change through: only ``subject`` and
        ``order_ref`` change, from a raw id to a reference and to ``NULL``.
        """
        raw, ref = check_forget(subject, reference)
        rekey = (
            f"UPDATE consent_events AS e SET subject = {self._p}, order_ref = NULL "  # noqa: S608 - fixed names and placeholders only
            f"WHERE {self.history_where}"
        )
        with self._db.write("re-keying an erased subject's consent events") as conn:
            changed = conn.execute(rekey, (ref, raw)).rowcount
            extras = self._forget_extras(conn, raw, ref)
            # The rows' old versions (the raw id, the order refs) must not linger in the
            # files: SQLite checkpoints its WAL once this commits.
            if changed or extras:
                self._db.scrub()
        return int(changed)

    def count(self) -> int:
        """Return the number of events."""
        with self._db.read("counting consent events") as conn:
            (n,) = conn.execute("SELECT count(*) FROM consent_events").fetchone()
        return int(n)

    # -- bound to the audit chain (see avgkit.storage.BoundStore) ----------------------

    def appended(self, count: int) -> list[ConsentEvent]:
        """The ``count`` events stored last, oldest first (see ``AppendedEvents``)."""
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            msg = f"appended() takes a count of events, got {type(count).__name__}"
            raise ValidationError(msg)
        if count == 0:
            return []
        query = f"{self.select} ORDER BY e.seq DESC LIMIT {self._p}"
        with self._db.read("reading back the events just imported") as conn:
            rows = conn.execute(query, (count,)).fetchall()
        return [self._event(row) for row in reversed(rows)]

    def bind(self, keys: Sequence[tuple[str, int]], audit_seq: int) -> None:
        """Remember that audit entry ``audit_seq`` binds the events ``("", seq)``."""
        _bindings.bind(self._db, CONSENT_EVENT, keys, audit_seq)

    def bound_records(self) -> Iterator[BoundRecord]:
        """Stream every event with its digest, in audit order (see the protocol).

        Two statements find an event no entry binds and a binding whose event is gone;
        keyset pages on the bindings' index stream the rest, joined to their events.
        """
        binding = "b.kind = 'consent_event' AND b.record_id = '' AND b.record_no = e.seq"
        with self._db.read("reconciling consent events") as conn:
            unbound = conn.execute(
                f"{self.select} WHERE NOT EXISTS "  # noqa: S608 - fixed names only
                f"(SELECT 1 FROM audit_bindings AS b WHERE {binding}) ORDER BY e.seq LIMIT 1"
            ).fetchone()
            gone = conn.execute(
                "SELECT b.audit_seq, b.record_no FROM audit_bindings AS b "  # noqa: S608 - fixed names only
                "WHERE b.kind = 'consent_event' AND NOT EXISTS "
                f"(SELECT 1 FROM consent_events AS e WHERE {binding}) "
                "ORDER BY b.audit_seq LIMIT 1"
            ).fetchone()
        if unbound is not None:
            yield consent_bound(self._event(unbound))
        if gone is not None:
            yield BoundRecord(
                kind=CONSENT_EVENT, record_id="", record_no=gone[1], digest=None, bound_seq=gone[0]
            )
        # The select list with the binding's seq in front (the row codec reads the rest).
        columns = self.select.removeprefix("SELECT ")
        p = self._p
        query = (
            f"SELECT b.audit_seq, {columns} JOIN audit_bindings AS b ON {binding} "
            f"WHERE (b.audit_seq, b.record_no) > ({p}, {p}) "
            f"ORDER BY b.audit_seq, b.record_no LIMIT {p}"
        )
        rows = _bindings.pages(
            self._db, "reconciling consent events", query, (), (0, 0), lambda r: (r[0], r[1])
        )
        for row in rows:
            yield consent_bound(self._event(row[1:]), bound_seq=row[0])
