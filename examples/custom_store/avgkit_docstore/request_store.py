"""The docstore's :class:`~avgkit.storage.RequestStore`: requests, transitions, restrictions."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Final

from avgkit.dsar import (
    DueRequest,
    RequestKind,
    RequestStatus,
    RequestTransition,
    SubjectRequest,
)
from avgkit.errors import IntegrityError
from avgkit.storage.checks import (
    check_change,
    check_forget,
    check_instant,
    check_limit,
    check_request_id,
    check_request_kind,
    check_request_status,
    check_update,
    request_not_found,
    request_of_another_subject,
    request_stored_already,
    restriction_lifted_early,
    status_changed,
    transition_out_of_turn,
)
from avgkit.subjects import SubjectId, subject_id
from avgkit_docstore.codec import (
    from_micros,
    opt_micros,
    stored_int,
    stored_text,
    stored_text_or_none,
    to_micros,
)
from avgkit_docstore.database import OPEN_STATUS_SQL, DocStoreDatabase, Row

__all__ = ["DocStoreRequestStore"]

PAGE: Final = 500
"""How many queue entries :meth:`DocStoreRequestStore.due_by` reads per statement."""

_COLUMNS: Final = (
    "number, id, kind, subject, status, received_at, due_at, updated_at, verified_at, "
    "extended, duplicate_of, details, reason"
)
_SELECT: Final = f"SELECT {_COLUMNS} FROM requests"  # noqa: S608 - constant column names
_DUE: Final = (
    "SELECT number, id, kind, subject, status, due_at, extended FROM requests "  # noqa: S608
    f"WHERE {OPEN_STATUS_SQL} AND due_at <= ? AND (due_at, number) > (?, ?) "
    "ORDER BY due_at, number LIMIT ?"
)


def _tampered(number: object, exc: Exception) -> IntegrityError:
    # The row's number and what failed, never the stored value.
    kind = type(exc).__name__
    msg = (
        f"docstore: request row {number} was changed outside avgkit and no longer decodes "
        f"({kind}); restore it from a backup"
    )
    return IntegrityError(msg)


def _request(row: Row) -> SubjectRequest:
    (number, rid, kind, subject, status, received, due, updated, verified) = row[:9]
    extended, duplicate_of, details, reason = row[9:]
    try:
        return SubjectRequest(
            id=rid,
            kind=RequestKind(stored_text(kind)),
            subject=subject,
            status=RequestStatus(stored_text(status)),
            received_at=from_micros(stored_int(received)),
            due_at=from_micros(stored_int(due)),
            updated_at=from_micros(stored_int(updated)),
            verified_at=None if verified is None else from_micros(stored_int(verified)),
            extended=bool(extended),
            duplicate_of=duplicate_of,
            details={} if details is None else json.loads(str(details)),
            reason=reason,
        )
    except (ValueError, TypeError) as exc:  # ValidationError is a ValueError
        raise _tampered(number, exc) from None


def _transition(row: Row) -> RequestTransition:
    request_id, seq, status, at, actor, reason, note = row
    try:
        return RequestTransition(
            request_id=request_id,
            seq=stored_int(seq),
            status=RequestStatus(stored_text(status)),
            at=from_micros(stored_int(at)),
            actor=actor,
            reason=reason,
            note=stored_text_or_none(note),
        )
    except (ValueError, TypeError) as exc:
        msg = (
            f"docstore: transition {seq} of request {request_id!r} was changed outside "
            f"avgkit ({type(exc).__name__}); restore it from a backup"
        )
        raise IntegrityError(msg) from None


def _details(request: SubjectRequest) -> str | None:
    return json.dumps(dict(request.details), ensure_ascii=False) if request.details else None


class DocStoreRequestStore:
    """A :class:`~avgkit.storage.RequestStore` in a docstore file.

    Args:
        database: the set's database, shared with its other stores.
    """

    def __init__(self, database: DocStoreDatabase) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"DocStoreRequestStore({self.database!r})"

    # ------------------------------------------------------------------ requests

    def add(self, request: SubjectRequest, transition: RequestTransition) -> None:
        """Store a new request with its first transition, in one transaction."""
        request, transition = check_change(request, transition, first=True)
        db = self.database
        with db.atomic():
            if db.one("SELECT 1 FROM requests WHERE id = ?", (request.id,)) is not None:
                raise request_stored_already(request.id)
            db.execute(
                "INSERT INTO requests (id, kind, subject, status, received_at, due_at, "
                "updated_at, verified_at, extended, duplicate_of, details, reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    request.id,
                    request.kind.value,
                    request.subject,
                    request.status.value,
                    to_micros(request.received_at),
                    to_micros(request.due_at),
                    to_micros(request.updated_at),
                    opt_micros(request.verified_at),
                    int(request.extended),
                    request.duplicate_of,
                    _details(request),
                    None if request.reason is None else request.reason.value,
                ),
            )
            self._append(transition)

    def _append(self, transition: RequestTransition) -> None:
        self.database.execute(
            "INSERT INTO transitions (request_id, seq, status, at, actor, reason, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                transition.request_id,
                transition.seq,
                transition.status.value,
                to_micros(transition.at),
                transition.actor,
                None if transition.reason is None else transition.reason.value,
                transition.note,
            ),
        )

    def get(self, request_id: str) -> SubjectRequest:
        """Return the request's current state; NotFound for an id never stored."""
        check_request_id(request_id)
        row = self.database.one(f"{_SELECT} WHERE id = ?", (request_id,))
        if row is None:
            raise request_not_found(request_id)
        return _request(row)

    def update(
        self,
        request: SubjectRequest,
        transition: RequestTransition,
        *,
        expected: RequestStatus,
    ) -> None:
        """Store the new state and the next transition if the status is still ``expected``."""
        request, transition = check_change(request, transition, first=False)
        expected = check_request_status(expected)
        db = self.database
        with db.atomic():
            row = db.one(f"{_SELECT} WHERE id = ?", (request.id,))
            if row is None:
                raise request_not_found(request.id)
            stored = _request(row)
            if stored.status is not expected:
                raise status_changed(request.id, stored.status, expected)
            check_update(stored, request)
            newest = db.one(
                "SELECT coalesce(max(seq), 0) FROM transitions WHERE request_id = ?",
                (request.id,),
            )
            following = 1 if newest is None else stored_int(newest[0]) + 1
            if transition.seq != following:
                raise transition_out_of_turn(request.id, transition.seq, following)
            db.execute(
                "UPDATE requests SET status = ?, due_at = ?, updated_at = ?, verified_at = ?, "
                "extended = ?, duplicate_of = ?, details = ?, reason = ? WHERE id = ?",
                (
                    request.status.value,
                    to_micros(request.due_at),
                    to_micros(request.updated_at),
                    opt_micros(request.verified_at),
                    int(request.extended),
                    request.duplicate_of,
                    _details(request),
                    None if request.reason is None else request.reason.value,
                    request.id,
                ),
            )
            self._append(transition)

    def transitions(self, request_id: str) -> tuple[RequestTransition, ...]:
        """The request's transitions, oldest first (empty for an unknown id)."""
        check_request_id(request_id)
        rows = self.database.query(
            "SELECT request_id, seq, status, at, actor, reason, note FROM transitions "
            "WHERE request_id = ? ORDER BY seq",
            (request_id,),
        )
        return tuple(_transition(row) for row in rows)

    def for_subject(self, subject: SubjectId) -> tuple[SubjectRequest, ...]:
        """The subject's requests in received order (ties: the order added)."""
        sid = subject_id(subject)
        rows = self.database.query(
            f"{_SELECT} WHERE subject = ? ORDER BY received_at, number", (sid,)
        )
        return tuple(_request(row) for row in rows)

    def open_of(self, subject: SubjectId, kind: RequestKind) -> SubjectRequest | None:
        """The subject's oldest open request of ``kind``, or ``None``."""
        sid = subject_id(subject)
        kind = check_request_kind(kind)
        row = self.database.one(
            f"{_SELECT} WHERE subject = ? AND kind = ? AND {OPEN_STATUS_SQL} "
            "ORDER BY received_at, number LIMIT 1",
            (sid, kind.value),
        )
        return None if row is None else _request(row)

    def due_by(self, before: datetime, *, limit: int | None = None) -> Iterator[DueRequest]:
        """Stream the open requests due by ``before``, earliest first, in keyset pages."""
        cut = to_micros(check_instant(before, "before"))
        cap = check_limit(limit)
        return self._due(cut, cap)  # checked above, at the call; streamed from here

    def _due(self, cut: int, cap: int | None) -> Iterator[DueRequest]:
        left = cap
        position: tuple[int, int] = (-(2**63), -(2**63))
        while left is None or left > 0:
            size = PAGE if left is None else min(PAGE, left)
            rows = self.database.query(_DUE, (cut, *position, size))
            for number, rid, kind, subject, status, due, extended in rows:
                try:
                    entry = DueRequest(
                        id=rid,
                        kind=RequestKind(stored_text(kind)),
                        subject=subject,
                        status=RequestStatus(stored_text(status)),
                        due_at=from_micros(stored_int(due)),
                        extended=bool(extended),
                    )
                except (ValueError, TypeError) as exc:
                    raise _tampered(number, exc) from None
                position = (stored_int(due), stored_int(number))
                yield entry
            if left is not None:
                left -= len(rows)
            if len(rows) < size:
                return

    def open_subjects(self, kinds: Sequence[RequestKind]) -> frozenset[SubjectId]:
        """The subjects with an open request of one of ``kinds`` (one query)."""
        wanted = sorted({check_request_kind(k).value for k in kinds})
        rows = self.database.query(
            f"SELECT DISTINCT subject FROM requests WHERE {OPEN_STATUS_SQL} "  # noqa: S608
            "AND kind IN (SELECT value FROM json_each(?))",
            (json.dumps(wanted),),
        )
        return frozenset(SubjectId(str(subject)) for (subject,) in rows)

    # ------------------------------------------------------------------ restrictions

    def restrict(self, subject: SubjectId, request_id: str, at: datetime) -> None:
        """Begin the subject's restriction at ``at`` (no change while one is in force)."""
        sid = subject_id(subject)
        check_request_id(request_id)
        start = to_micros(check_instant(at, "at"))
        db = self.database
        with db.atomic():
            row = db.one("SELECT subject FROM requests WHERE id = ?", (request_id,))
            if row is None:
                raise request_not_found(request_id)
            if row[0] != sid:
                raise request_of_another_subject(request_id)
            db.execute(
                "INSERT INTO restrictions (subject, request_id, started_at) "
                "SELECT ?, ?, ? WHERE NOT EXISTS "
                "(SELECT 1 FROM restrictions WHERE subject = ? AND lifted_at IS NULL)",
                (sid, request_id, start, sid),
            )

    def lift(self, subject: SubjectId, at: datetime) -> bool:
        """End the subject's restriction at ``at``; ``False`` if none is in force."""
        sid = subject_id(subject)
        end = to_micros(check_instant(at, "at"))
        db = self.database
        with db.atomic():
            row = db.one(
                "SELECT number, started_at FROM restrictions "
                "WHERE subject = ? AND lifted_at IS NULL",
                (sid,),
            )
            if row is None:
                return False
            number, started = row
            if end < stored_int(started):
                raise restriction_lifted_early()
            db.execute("UPDATE restrictions SET lifted_at = ? WHERE number = ?", (end, number))
            return True

    def restricted(self, subject: SubjectId, at: datetime) -> bool:
        """Whether a restriction of the subject was in force at ``at``."""
        sid = subject_id(subject)
        when = to_micros(check_instant(at, "at"))
        row = self.database.one(
            "SELECT EXISTS (SELECT 1 FROM restrictions WHERE subject = ? AND started_at <= ? "
            "AND (lifted_at IS NULL OR ? < lifted_at))",
            (sid, when, when),
        )
        return bool(row and row[0])

    # ------------------------------------------------------------------ erasure

    def forget_subject(self, subject: SubjectId, reference: str) -> int:
        """Re-key the subject's rows to ``reference``; clear details and notes (3 statements)."""
        raw, ref = check_forget(subject, reference)
        db = self.database
        with db.atomic():
            notes = db.execute(
                "UPDATE transitions SET note = NULL WHERE note IS NOT NULL AND request_id IN "
                "(SELECT id FROM requests WHERE subject = ?)",
                (raw,),
            )
            requests = db.execute(
                "UPDATE requests SET subject = ?, details = NULL WHERE subject = ?", (ref, raw)
            )
            restrictions = db.execute(
                "UPDATE restrictions SET subject = ? WHERE subject = ?", (ref, raw)
            )
        return notes + requests + restrictions

    def count(self) -> int:
        """The number of stored requests."""
        row = self.database.one("SELECT count(*) FROM requests")
        return 0 if row is None else stored_int(row[0])
