"""The request store, written once for every SQL dialect (private)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import chain
from typing import Any, Final, NoReturn

from avgkit import _validators
from avgkit.consent._values import check_forget
from avgkit.dsar._values import (
    DUE_FLAGS,
    OPEN_STATUSES,
    REQUEST_ID,
    DueRequest,
    DueRequestDraft,
    Reason,
    RequestKind,
    RequestStatus,
    RequestTransition,
    SubjectRequest,
    check_change,
    check_request_id,
    reason_from_value,
    stored_due,
    stored_request,
)
from avgkit.errors import ConflictError, IntegrityError, NotFound, ValidationError
from avgkit.storage._request_rules import (
    check_limit,
    check_update,
    lifted_early,
    moved,
    not_theirs,
    out_of_turn,
    stored_already,
    unknown,
)
from avgkit.storage._sql._codecs import opt_text
from avgkit.storage._sql._db import Connection, SqlDatabase
from avgkit.storage._sql._dialect import TIME_TEXT_LENGTH, Dialect, decode_text, time_to_text
from avgkit.storage._sql._errors import raise_clean
from avgkit.subjects import SubjectId, subject_id

__all__ = ["OPEN_SQL", "REQUESTS", "SqlRequestStore", "request_migrations"]

REQUESTS: Final = "requests"
_UNDECODABLE: Final = (ValueError, TypeError, KeyError)

# The open statuses as the migration's partial indexes spell them: a query uses such an
# index only when its WHERE repeats the index's condition word for word. Released
# scripts never change; tests check this against OPEN_STATUSES.
OPEN_SQL: Final = "status IN ('received', 'verified', 'in_progress', 'extended')"

_COLUMNS: Final = (
    "number",
    "id",
    "kind",
    "subject",
    "received_at",
    "due_at",
    "status",
    "updated_at",
    "verified_at",
    "extended",
    "duplicate_of",
    "details",
    "reason",
)
_NOT_TEXT: Final = frozenset({"number", "extended"})
_KINDS: Final = {k.value: k for k in RequestKind}
_STATUSES: Final = {s.value: s for s in RequestStatus}
# What the deadline queue selects: a DueRequest's fields, after the keyset's number.
_DUE_COLUMNS: Final = ("number", "id", "kind", "subject", "due_at", "status", "extended")
# The same lookups keyed by the bytes SQLite hands over (see Dialect.text_out): a value no
# member has is a KeyError, as is a closed status in the queue of open requests.
_KIND_BYTES: Final = {k.value.encode(): k for k in RequestKind}
_OPEN_BYTES: Final = {s.value.encode(): (s, DUE_FLAGS[s]) for s in OPEN_STATUSES}
_OPEN_TEXT: Final = {s.value: s for s in OPEN_STATUSES}


def request_migrations(d: Dialect) -> tuple[str, ...]:
    """The requests component's scripts in dialect ``d`` (never edited once released)."""
    return (
        f"""
        -- One row per data subject request, in its current state; number keeps the order
        -- requests were added in (ties of received_at and due_at).
        CREATE TABLE dsar_requests (
            number {d.identity},
            id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            received_at {d.instant} NOT NULL,
            due_at {d.instant} NOT NULL,
            status TEXT NOT NULL,
            updated_at {d.instant} NOT NULL,
            verified_at {d.instant},
            extended {d.boolean} NOT NULL,
            duplicate_of TEXT,
            details TEXT,
            reason TEXT
        );
        CREATE INDEX dsar_requests_by_subject ON dsar_requests (subject, received_at, number);
        -- The deadline queue: only open requests, the few among years of answered ones.
        CREATE INDEX dsar_requests_due ON dsar_requests (due_at, number)
            WHERE {OPEN_SQL};
        CREATE INDEX dsar_requests_open_by_kind ON dsar_requests (kind, subject)
            WHERE {OPEN_SQL};
        -- Every change of a request's status, numbered 1, 2, ... per request.
        CREATE TABLE dsar_transitions (
            request_id TEXT NOT NULL REFERENCES dsar_requests (id),
            seq {d.big_integer} NOT NULL,
            status TEXT NOT NULL,
            at {d.instant} NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT,
            note TEXT,
            PRIMARY KEY (request_id, seq)
        );
        -- Art. 18 restrictions: at most one in force per subject.
        CREATE TABLE dsar_restrictions (
            number {d.identity},
            subject TEXT NOT NULL,
            request_id TEXT NOT NULL REFERENCES dsar_requests (id),
            started_at {d.instant} NOT NULL,
            lifted_at {d.instant}
        );
        CREATE INDEX dsar_restrictions_by_subject ON dsar_restrictions (subject, started_at);
        CREATE UNIQUE INDEX dsar_restrictions_in_force ON dsar_restrictions (subject)
            WHERE lifted_at IS NULL;
        """,
    )


def _malformed(what: str) -> NoReturn:
    raise_clean(IntegrityError(f"{what} is malformed: it was changed outside avgkit"))


def _details_in(details: Any) -> str | None:
    # Canonical JSON text; no row stores "{}" (NULL says the same and reads faster).
    return json.dumps(dict(details), ensure_ascii=False) if details else None


def _reason_in(reason: Reason | None) -> str | None:
    return None if reason is None else reason.value


def _reason_out(value: object) -> Reason | None:
    return None if value is None else reason_from_value(_text(value))


def _due_from_text(rows: Sequence[Sequence[Any]]) -> list[DueRequest]:
    """The queue's rows as SQLite returns them: text as bytes, instants as fixed text.

    One loop with everything inline, building each entry as a
    :class:`~avgkit.dsar._values.DueRequestDraft` once its row checked out: on a queue of
    thousands of rows each call saved counts. Each column is decoded as :func:`_text`, the
    member lookups and :func:`~avgkit.storage._sql._dialect.text_to_time` would (the shape
    checked before ``fromisoformat``); the id, status and flag are checked as
    :func:`~avgkit.dsar._values.stored_due` checks them.
    """
    out: list[DueRequest] = []
    add = out.append
    parse = datetime.fromisoformat
    length = TIME_TEXT_LENGTH
    is_id = REQUEST_ID.match
    number: object = None
    try:
        for number, rid, kind, subject, due_at, status, extended in rows:  # noqa: B007 - named in the error
            due = due_at.decode()
            request_id = rid.decode()
            if len(due) != length or due[10] != "T" or due[-1] != "Z" or not is_id(request_id):
                break
            state, flags = _OPEN_BYTES[status]
            made: Any = DueRequestDraft()
            made.id = request_id
            made.kind = _KIND_BYTES[kind]
            made.subject = subject.decode()
            made.status = state
            made.due_at = parse(due)
            made.extended = flags[extended]
            made.__class__ = DueRequest
            add(made)
        else:
            return out
    except (*_UNDECODABLE, AttributeError):
        pass
    _malformed(_numbered(number))


def _due_from_native(
    rows: Sequence[Sequence[Any]], instant_out: Callable[[object], datetime]
) -> list[DueRequest]:
    """The queue's rows as a driver with typed columns returns them (PostgreSQL).

    Text comes as ``str`` and flags as ``bool``; instants as aware datetimes, in UTC in
    avgkit's sessions (one in another zone goes through ``instant_out``).
    """
    out: list[DueRequest] = []
    add = out.append
    number: object = None
    try:
        for number, rid, kind, subject, due_at, status, extended in rows:  # noqa: B007 - named in the error
            add(
                stored_due(
                    rid,
                    _KINDS[kind],
                    subject,
                    _OPEN_TEXT[status],
                    due_at if due_at.tzinfo is UTC else instant_out(due_at),
                    extended,
                )
            )
    except (*_UNDECODABLE, AttributeError):
        _malformed(_numbered(number))
    return out


def _numbered(number: object) -> str:
    # The row's number: an integer avgkit assigned, never a stored value.
    return f"request number {number if type(number) is int else '?'}"


def _text(value: object) -> str:
    # decode_text() for the common case, inline: the deadline queue decodes nine text
    # columns per row, which SQLite hands over as bytes (see Dialect.text_out).
    if type(value) is bytes:
        return value.decode()
    return decode_text(value)


class SqlRequestStore:
    """A :class:`~avgkit.storage.RequestStore` in the ``dsar_*`` tables.

    .. versionadded:: 0.2.0
    """

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        self._d = db.dialect
        db.migrate(REQUESTS, request_migrations(db.dialect))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    # ------------------------------------------------------------------ codecs

    def _opt_in(self, value: datetime | None) -> object:
        return None if value is None else self._d.instant_in(value)

    @property
    def _select(self) -> str:
        d = self._d
        listed = ", ".join(c if c in _NOT_TEXT else d.column(c) for c in _COLUMNS)
        return f"SELECT {listed} FROM dsar_requests"  # noqa: S608 - fixed names only

    def _request(self, row: Sequence[Any]) -> SubjectRequest:
        instant = self._d.instant_out
        try:
            (
                _number,
                request_id,
                kind,
                subject,
                received_at,
                due_at,
                status,
                updated_at,
                verified_at,
                extended,
                duplicate_of,
                details,
                reason,
            ) = row
            # Decoded to their types here; stored_request() checks how they fit together.
            return stored_request(
                id=_text(request_id),
                kind=_KINDS[_text(kind)],
                subject=SubjectId(_text(subject)),
                received_at=instant(received_at),
                due_at=instant(due_at),
                status=_STATUSES[_text(status)],
                updated_at=instant(updated_at),
                verified_at=None if verified_at is None else instant(verified_at),
                extended=bool(extended),
                duplicate_of=opt_text(duplicate_of),
                details=None if details is None else json.loads(_text(details)),
                reason=_reason_out(reason),
            )
        except _UNDECODABLE:
            _malformed(_numbered(row[0]))

    def _values(self, request: SubjectRequest) -> tuple[Any, ...]:
        d = self._d
        return (
            request.id,
            request.kind.value,
            request.subject,
            d.instant_in(request.received_at),
            d.instant_in(request.due_at),
            request.status.value,
            d.instant_in(request.updated_at),
            self._opt_in(request.verified_at),
            d.flag_in(request.extended),
            request.duplicate_of,
            _details_in(request.details),
            _reason_in(request.reason),
        )

    def _insert_transition(self, conn: Connection, transition: RequestTransition) -> None:
        d = self._d
        conn.execute(
            "INSERT INTO dsar_transitions (request_id, seq, status, at, actor, reason, note) "  # noqa: S608 - fixed names and placeholders only
            f"VALUES ({d.params(7)})",
            (
                transition.request_id,
                transition.seq,
                transition.status.value,
                d.instant_in(transition.at),
                transition.actor,
                _reason_in(transition.reason),
                transition.note,
            ),
        )

    # ------------------------------------------------------------------ requests

    def add(self, request: SubjectRequest, transition: RequestTransition) -> None:
        """Store a new request and its first transition in one transaction."""
        request, transition = check_change(request, transition, first=True)
        p = self._d.placeholder
        columns = ", ".join(_COLUMNS[1:])
        with self._db.write("storing a request") as conn:
            taken = conn.execute(
                f"SELECT 1 FROM dsar_requests WHERE id = {p}",  # noqa: S608 - fixed names and placeholders only
                (request.id,),
            ).fetchone()
            if taken is not None:
                msg = stored_already(request.id)
                raise ConflictError(msg)
            conn.execute(
                f"INSERT INTO dsar_requests ({columns}) VALUES ({self._d.params(12)})",  # noqa: S608 - fixed names and placeholders only
                self._values(request),
            )
            self._insert_transition(conn, transition)

    def get(self, request_id: str) -> SubjectRequest:
        """The request's current state, or NotFound."""
        check_request_id(request_id)
        with self._db.read("reading a request") as conn:
            row = conn.execute(
                f"{self._select} WHERE id = {self._d.placeholder}", (request_id,)
            ).fetchone()
        if row is None:
            raise NotFound(unknown(request_id))
        return self._request(row)

    def update(
        self,
        request: SubjectRequest,
        transition: RequestTransition,
        *,
        expected: RequestStatus,
    ) -> None:
        """Compare-and-set on the status, then append the next transition, in one transaction."""
        request, transition = check_change(request, transition, first=False)
        expected = _validators.member(RequestStatus, expected, "expected")
        d = self._d
        p = d.placeholder
        values = self._values(request)
        with self._db.write("updating a request") as conn:
            # The conditional UPDATE is the compare-and-set: on PostgreSQL a concurrent
            # writer waits for this row and then finds the status changed.
            changed = conn.execute(
                "UPDATE dsar_requests SET "  # noqa: S608 - fixed names and placeholders only
                f"due_at = {p}, status = {p}, updated_at = {p}, verified_at = {p}, "
                f"extended = {p}, duplicate_of = {p}, details = {p}, reason = {p} "
                f"WHERE id = {p} AND status = {p} AND kind = {p} AND subject = {p} "
                f"AND received_at = {p}",
                (
                    *values[4:],
                    request.id,
                    expected.value,
                    request.kind.value,
                    request.subject,
                    d.instant_in(request.received_at),
                ),
            ).rowcount
            if changed != 1:
                self._refuse_update(conn, request, expected)
            (newest,) = conn.execute(
                f"SELECT coalesce(max(seq), 0) FROM dsar_transitions WHERE request_id = {p}",  # noqa: S608 - fixed names and placeholders only
                (request.id,),
            ).fetchone()
            if transition.seq != int(newest) + 1:
                raise ConflictError(out_of_turn(request.id, transition.seq, int(newest) + 1))
            self._insert_transition(conn, transition)

    def _refuse_update(
        self, conn: Connection, request: SubjectRequest, expected: RequestStatus
    ) -> NoReturn:
        row = conn.execute(
            f"{self._select} WHERE id = {self._d.placeholder}", (request.id,)
        ).fetchone()
        if row is None:
            raise NotFound(unknown(request.id))
        stored = self._request(row)
        if stored.status is not expected:
            raise ConflictError(moved(request.id, stored.status, expected))
        check_update(stored, request)
        msg = f"request {request.id!r} could not be updated; re-read it and retry"
        raise ConflictError(msg)  # pragma: no cover - check_update() refused it above

    def transitions(self, request_id: str) -> tuple[RequestTransition, ...]:
        """The request's transitions, oldest first."""
        check_request_id(request_id)
        d = self._d
        with self._db.read("reading a request's transitions") as conn:
            rows = conn.execute(
                f"SELECT seq, {d.column('status')}, {d.column('at')}, {d.column('actor')}, "  # noqa: S608 - fixed names and placeholders only
                f"{d.column('reason')}, {d.column('note')} FROM dsar_transitions "
                f"WHERE request_id = {d.placeholder} ORDER BY seq",
                (request_id,),
            ).fetchall()
        out = []
        for seq, status, at, actor, reason, note in rows:
            try:
                out.append(
                    RequestTransition(
                        request_id=request_id,
                        seq=int(seq),
                        status=_STATUSES[decode_text(status)],
                        at=d.instant_out(at),
                        actor=decode_text(actor),
                        reason=_reason_out(reason),
                        note=opt_text(note),
                    )
                )
            except _UNDECODABLE:
                _malformed(f"transition {seq if isinstance(seq, int) else '?'} of a request")
        return tuple(out)

    def for_subject(self, subject: SubjectId) -> tuple[SubjectRequest, ...]:
        """The subject's requests in received order."""
        sid = subject_id(subject)
        with self._db.read("reading a subject's requests") as conn:
            rows = conn.execute(
                f"{self._select} WHERE subject = {self._d.placeholder} "
                "ORDER BY received_at, number",
                (sid,),
            ).fetchall()
        return tuple(self._request(row) for row in rows)

    def open_of(self, subject: SubjectId, kind: RequestKind) -> SubjectRequest | None:
        """The subject's oldest open request of ``kind``."""
        sid = subject_id(subject)
        kind = _validators.member(RequestKind, kind, "kind")
        p = self._d.placeholder
        with self._db.read("reading a subject's open request") as conn:
            row = conn.execute(
                f"{self._select} WHERE subject = {p} AND kind = {p} AND {OPEN_SQL} "
                "ORDER BY received_at, number LIMIT 1",
                (sid, kind.value),
            ).fetchone()
        return None if row is None else self._request(row)

    def due_by(self, before: datetime, *, limit: int | None = None) -> Iterator[DueRequest]:
        """Stream the open requests due by ``before`` in keyset pages of the due index."""
        before = _validators.aware(before, "before")
        cap = check_limit(limit)
        return chain.from_iterable(self._due_pages(self._d.instant_in(before), cap))

    @property
    def _due_sql(self) -> tuple[str, str]:
        """The queue's first page and each following one, after a (due_at, number) key."""
        d = self._d
        p = d.placeholder
        listed = ", ".join(c if c in _NOT_TEXT else d.column(c) for c in _DUE_COLUMNS)
        select = f"SELECT {listed} FROM dsar_requests WHERE {OPEN_SQL} AND due_at <= {p}"  # noqa: S608 - fixed names and placeholders only
        return (
            f"{select} ORDER BY due_at, number LIMIT {p}",
            f"{select} AND (due_at, number) > ({p}, {p}) ORDER BY due_at, number LIMIT {p}",
        )

    def _due_pages(self, before: object, cap: int | None) -> Iterator[list[DueRequest]]:
        d = self._d
        first, following = self._due_sql
        text_instants = d.instant_in is time_to_text
        left = cap
        after: tuple[object, object] | None = None
        while left is None or left > 0:
            size = d.page_size if left is None else min(d.page_size, left)
            with self._db.read("reading the requests due") as conn:
                if after is None:
                    rows = conn.execute(first, (before, size)).fetchall()
                else:
                    rows = conn.execute(following, (before, *after, size)).fetchall()
            page = _due_from_text(rows) if text_instants else _due_from_native(rows, d.instant_out)
            yield page
            if len(rows) < size:
                return
            if left is not None:
                left -= len(rows)
            after = (d.instant_in(page[-1].due_at), rows[-1][0])

    def open_subjects(self, kinds: Sequence[RequestKind]) -> frozenset[SubjectId]:
        """The subjects with an open request of one of ``kinds``, in one query."""
        wanted = sorted({_validators.member(RequestKind, k, "kind").value for k in kinds})
        if not wanted:
            return frozenset()
        d = self._d
        with self._db.read("reading the subjects with open requests") as conn:
            rows = conn.execute(
                f"SELECT DISTINCT {d.column('subject')} FROM dsar_requests "  # noqa: S608 - fixed names and placeholders only
                f"WHERE kind IN ({d.params(len(wanted))}) AND {OPEN_SQL}",
                tuple(wanted),
            ).fetchall()
        try:
            return frozenset(SubjectId(decode_text(row[0])) for row in rows)
        except _UNDECODABLE:
            _malformed("a request's subject")

    # ------------------------------------------------------------------ restrictions

    def restrict(self, subject: SubjectId, request_id: str, at: datetime) -> None:
        """Begin the subject's restriction, unless one is in force (one transaction)."""
        sid = subject_id(subject)
        check_request_id(request_id)
        at = _validators.aware(at, "at")
        d = self._d
        p = d.placeholder
        with self._db.write("restricting a subject's processing") as conn:
            row = conn.execute(
                f"SELECT {d.column('subject')} FROM dsar_requests WHERE id = {p}",  # noqa: S608 - fixed names and placeholders only
                (request_id,),
            ).fetchone()
            if row is None:
                raise NotFound(unknown(request_id))
            try:
                theirs = decode_text(row[0]) == sid
            except _UNDECODABLE:
                _malformed(f"request {request_id!r}")
            if not theirs:
                raise ValidationError(not_theirs(request_id))
            conn.execute(
                "INSERT INTO dsar_restrictions (subject, request_id, started_at) "  # noqa: S608 - fixed names and placeholders only
                f"VALUES ({d.params(3)}) ON CONFLICT DO NOTHING",
                (sid, request_id, d.instant_in(at)),
            )

    def lift(self, subject: SubjectId, at: datetime) -> bool:
        """End the subject's restriction; False if none is in force."""
        sid = subject_id(subject)
        at = _validators.aware(at, "at")
        d = self._d
        p = d.placeholder
        with self._db.write("lifting a restriction") as conn:
            row = conn.execute(
                f"SELECT {d.column('started_at')} FROM dsar_restrictions "  # noqa: S608 - fixed names and placeholders only
                f"WHERE subject = {p} AND lifted_at IS NULL",
                (sid,),
            ).fetchone()
            if row is None:
                return False
            try:
                started = d.instant_out(row[0])
            except _UNDECODABLE:
                _malformed("a restriction")
            if at < started:
                raise ValidationError(lifted_early())
            changed = conn.execute(
                f"UPDATE dsar_restrictions SET lifted_at = {p} "  # noqa: S608 - fixed names and placeholders only
                f"WHERE subject = {p} AND lifted_at IS NULL",
                (d.instant_in(at), sid),
            ).rowcount
        return changed == 1

    def restricted(self, subject: SubjectId, at: datetime) -> bool:
        """Whether a restriction of the subject was in force at ``at``."""
        sid = subject_id(subject)
        at = _validators.aware(at, "at")
        d = self._d
        p = d.placeholder
        instant = d.instant_in(at)
        with self._db.read("reading a subject's restrictions") as conn:
            row = conn.execute(
                "SELECT 1 FROM dsar_restrictions "  # noqa: S608 - fixed names and placeholders only
                f"WHERE subject = {p} AND started_at <= {p} "
                f"AND (lifted_at IS NULL OR lifted_at > {p}) LIMIT 1",
                (sid, instant, instant),
            ).fetchone()
        return row is not None

    # ------------------------------------------------------------------ erasure

    def forget_subject(self, subject: SubjectId, reference: str) -> int:
        """Re-key the subject's requests and restrictions; clear details and notes."""
        raw, ref = check_forget(subject, reference)
        p = self._d.placeholder
        with self._db.write("re-keying an erased subject's requests") as conn:
            notes = conn.execute(
                "UPDATE dsar_transitions SET note = NULL WHERE note IS NOT NULL "  # noqa: S608 - fixed names and placeholders only
                f"AND request_id IN (SELECT id FROM dsar_requests WHERE subject = {p})",
                (raw,),
            ).rowcount
            requests = conn.execute(
                f"UPDATE dsar_requests SET subject = {p}, details = NULL WHERE subject = {p}",  # noqa: S608 - fixed names and placeholders only
                (ref, raw),
            ).rowcount
            restrictions = conn.execute(
                f"UPDATE dsar_restrictions SET subject = {p} WHERE subject = {p}",  # noqa: S608 - fixed names and placeholders only
                (ref, raw),
            ).rowcount
            changed = max(notes, 0) + max(requests, 0) + max(restrictions, 0)
            # The rows' old versions (the raw id, the details) must not linger in the files.
            if changed:
                self._db.scrub()
        return changed

    def count(self) -> int:
        """The number of requests."""
        with self._db.read("counting requests") as conn:
            (n,) = conn.execute("SELECT count(*) FROM dsar_requests").fetchone()
        return int(n)
