"""What the SQL consent stores keep beside the events (private): wordings, pending, grounds.

Written once for both dialects: the tables are created by each adapter's consent
migrations, the statements here use only the dialect's placeholder and the store's instant
codec. The audience variants over the registry are each adapter's own, as the audience is.
:class:`WrittenBatch` keeps an import's batch for the ledger to bind without reading every
column back.
"""

from __future__ import annotations

import abc
import secrets
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Final

from avgkit._validators import replaced
from avgkit.consent._values import CompellingGrounds, ConsentEvent, Evidence, PendingConsent
from avgkit.consent._vocab import Actor, Channel, Presentation
from avgkit.consent._wordings import (
    Wording,
    WordingIndex,
    WordingWithdrawal,
    check_registration,
)
from avgkit.errors import NotFound
from avgkit.storage._sql._db import Connection, SqlDatabase

__all__ = ["SqlConsentExtras", "WrittenBatch"]

_WORDING_COLUMNS: Final = "purpose, version, lang, sha256, text, valid_from, valid_until, renewal"
_PENDING_COLUMNS: Final = (
    "selector, verifier_sha256, subject, purpose, requested_at, expires_at, channel, "
    "notice_version, wording_sha256, actor, staff_key, order_ref, consent_expires_at, "
    "presentation, settled_at"
)
_GROUNDS_COLUMNS: Final = "seq, subject, purpose, at, reason, decided_by, until"


class SqlConsentExtras(abc.ABC):
    """The wording registry, pending double opt-ins and grounds of a SQL consent store.

    The :class:`~avgkit.storage.WordingStore`, :class:`~avgkit.storage.ConfirmationStore`
    and :class:`~avgkit.storage.GroundsStore` parts.

    Mixed into :class:`~avgkit.storage._sql.SqlConsentStore`, which supplies ``_db``, ``_p``
    and the instant codec (``at_in`` / ``at_out``).
    """

    _db: SqlDatabase
    _p: str
    current_audience_sql: ClassVar[str]
    """The audience without consents under a withdrawn wording, for ``_subjects``."""
    to_renew_sql: ClassVar[str]
    """The live consents whose wording needs renewal, for ``_subjects``."""

    @staticmethod
    @abc.abstractmethod
    def at_in(value: datetime) -> Any:
        """An instant as the store keeps it (the subclass's codec)."""

    @staticmethod
    @abc.abstractmethod
    def at_out(value: Any) -> datetime:
        """A stored instant back (the subclass's codec)."""

    def _opt_in(self, value: datetime | None) -> Any:
        return None if value is None else self.at_in(value)

    def _opt_out(self, value: Any) -> datetime | None:
        return None if value is None else self.at_out(value)

    # ------------------------------------------------------------------ the wording registry

    def _read_index(self, conn: Connection) -> WordingIndex:
        rows = conn.execute(
            f"SELECT {_WORDING_COLUMNS} FROM consent_wordings "  # noqa: S608 - fixed names
            "ORDER BY purpose, version, lang"
        ).fetchall()
        gone = conn.execute(
            "SELECT purpose, version, at, reason FROM consent_wording_withdrawals "
            "ORDER BY purpose, version"
        ).fetchall()
        (generation,) = conn.execute(
            "SELECT generation FROM consent_registry_generation"
        ).fetchone()
        return WordingIndex(
            wordings=tuple(
                Wording(
                    purpose=purpose or None,
                    version=version,
                    lang=lang,
                    text=text,
                    valid_from=self.at_out(valid_from),
                    valid_until=self._opt_out(valid_until),
                    renewal=bool(renewal),
                )
                for purpose, version, lang, _sha, text, valid_from, valid_until, renewal in rows
            ),
            withdrawals=tuple(
                WordingWithdrawal(
                    purpose=purpose or None, version=version, at=self.at_out(at), reason=reason
                )
                for purpose, version, at, reason in gone
            ),
            generation=int(generation),
        )

    def register_wordings(self, wordings: Sequence[Wording]) -> int:
        """Register the new ones of ``wordings`` in one transaction; return how many."""
        p = self._p
        insert = (
            f"INSERT INTO consent_wordings ({_WORDING_COLUMNS}) "  # noqa: S608 - fixed names
            f"VALUES ({', '.join([p] * 8)})"
        )
        with self._db.write("registering wordings") as conn:
            self._db.lock(conn, "consent.wordings")
            fresh = check_registration(self._read_index(conn), wordings)
            for w in fresh:
                conn.execute(
                    insert,
                    (
                        w.purpose or "",
                        w.version,
                        w.lang,
                        w.sha256,
                        w.text,
                        self.at_in(w.valid_from),
                        self._opt_in(w.valid_until),
                        w.renewal,
                    ),
                )
            if fresh:
                self._next_generation(conn)
        return len(fresh)

    def withdraw_wording(self, withdrawal: WordingWithdrawal) -> WordingWithdrawal:
        """Withdraw a registered version; the first withdrawal stays in force."""
        p = self._p
        key = (withdrawal.purpose or "", withdrawal.version)
        with self._db.write("withdrawing a wording") as conn:
            self._db.lock(conn, "consent.wordings")
            known = conn.execute(
                f"SELECT 1 FROM consent_wordings WHERE purpose = {p} AND version = {p}",  # noqa: S608
                key,
            ).fetchone()
            if known is None:
                msg = (
                    f"no wording is registered for purpose {withdrawal.purpose!r}, version "
                    f"{withdrawal.version!r}; nothing to withdraw"
                )
                raise NotFound(msg)
            found = conn.execute(
                "SELECT at, reason FROM consent_wording_withdrawals "  # noqa: S608
                f"WHERE purpose = {p} AND version = {p}",
                key,
            ).fetchone()
            if found is not None:
                return WordingWithdrawal(
                    purpose=withdrawal.purpose,
                    version=withdrawal.version,
                    at=self.at_out(found[0]),
                    reason=found[1],
                )
            conn.execute(
                "INSERT INTO consent_wording_withdrawals (purpose, version, at, reason) "  # noqa: S608
                f"VALUES ({p}, {p}, {p}, {p})",
                (*key, self.at_in(withdrawal.at), withdrawal.reason),
            )
            self._next_generation(conn)
        return withdrawal

    def _next_generation(self, conn: Connection) -> None:
        # A random number, not a count: a counter inside the transaction would hand the
        # same number out again after a rollback, and a reader that cached the index of the
        # undone change would take the next change's index for it.
        conn.execute(
            f"UPDATE consent_registry_generation SET generation = {self._p}",  # noqa: S608 - fixed names
            (secrets.randbits(62) + 1,),
        )

    def wording_index(self) -> WordingIndex:
        """Everything registered and withdrawn, with the generation, in one read."""
        with self._db.read("reading the wording registry") as conn:
            return self._read_index(conn)

    def wording_generation(self) -> int:
        """The registry's generation (one single-row read)."""
        with self._db.read("reading the wording registry's generation") as conn:
            (generation,) = conn.execute(
                "SELECT generation FROM consent_registry_generation"
            ).fetchone()
        return int(generation)

    # ------------------------------------------------------------------ double opt-in

    def add_pending(self, pending: PendingConsent) -> None:
        """Insert a pending consent (never its token)."""
        ev = pending.evidence
        p = self._p
        # One statement: a selector is 12 random bytes, and should two ever meet, the
        # primary key refuses the second as a conflict.
        with self._db.write("recording a pending consent") as conn:
            conn.execute(
                f"INSERT INTO consent_pending ({_PENDING_COLUMNS}) "  # noqa: S608 - fixed names
                f"VALUES ({', '.join([p] * 15)})",
                (
                    pending.selector,
                    pending.verifier_sha256,
                    pending.subject,
                    pending.purpose,
                    self.at_in(pending.requested_at),
                    self.at_in(pending.expires_at),
                    ev.channel.value,
                    ev.notice_version,
                    ev.wording_sha256,
                    ev.actor.value,
                    ev.staff_key,
                    ev.order_ref,
                    self._opt_in(ev.expires_at),
                    None if ev.presentation is None else ev.presentation.value,
                    self._opt_in(pending.settled_at),
                ),
            )

    def _pending(self, row: Sequence[Any]) -> PendingConsent:
        (selector, verifier, subject, purpose, requested, expires, channel, notice) = row[:8]
        (wording, actor, staff, order_ref, consent_expires, presentation, settled) = row[8:]
        return PendingConsent(
            selector=selector,
            verifier_sha256=verifier,
            subject=subject,
            purpose=purpose,
            requested_at=self.at_out(requested),
            expires_at=self.at_out(expires),
            evidence=Evidence(
                channel=Channel(channel),
                notice_version=notice,
                wording_sha256=wording,
                actor=Actor(actor),
                staff_key=staff or None,
                order_ref=order_ref,
                expires_at=self._opt_out(consent_expires),
                presentation=None if presentation is None else Presentation(presentation),
            ),
            settled_at=self._opt_out(settled),
        )

    def pending(self, selector: str) -> PendingConsent | None:
        """The pending consent of ``selector``, used or not."""
        with self._db.read("reading a pending consent") as conn:
            row = conn.execute(
                f"SELECT {_PENDING_COLUMNS} FROM consent_pending "  # noqa: S608 - fixed names
                f"WHERE selector = {self._p}",
                (selector,),
            ).fetchone()
        return None if row is None else self._pending(row)

    def settle_pending(self, selector: str, at: datetime) -> bool:
        """Mark it used if unused, in one compare-and-set ``UPDATE``."""
        p = self._p
        with self._db.write("confirming a pending consent") as conn:
            changed = conn.execute(
                f"UPDATE consent_pending SET settled_at = {p} "  # noqa: S608 - fixed names
                f"WHERE selector = {p} AND settled_at IS NULL",
                (self.at_in(at), selector),
            ).rowcount
        return bool(changed)

    def open_pending(self, subject: str, purpose: str, at: datetime) -> PendingConsent | None:
        """The newest pending consent of ``subject`` and ``purpose`` open at ``at``."""
        p = self._p
        when = self.at_in(at)
        with self._db.read("reading a pending consent") as conn:
            row = conn.execute(
                f"SELECT {_PENDING_COLUMNS} FROM consent_pending "  # noqa: S608 - fixed names
                f"WHERE subject = {p} AND purpose = {p} AND requested_at <= {p} "
                f"AND expires_at > {p} AND (settled_at IS NULL OR settled_at > {p}) "
                "ORDER BY requested_at DESC LIMIT 1",
                (subject, purpose, when, when, when),
            ).fetchone()
        return None if row is None else self._pending(row)

    # ------------------------------------------------------------------ compelling grounds

    def add_grounds(self, grounds: CompellingGrounds) -> CompellingGrounds:
        """Append grounds and return them with their seq."""
        p = self._p
        with self._db.write("recording compelling grounds") as conn:
            (seq,) = conn.execute(
                "INSERT INTO consent_grounds (subject, purpose, at, reason, decided_by, until) "  # noqa: S608
                f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}) RETURNING seq",
                (
                    grounds.subject,
                    grounds.purpose,
                    self.at_in(grounds.at),
                    grounds.reason,
                    grounds.decided_by,
                    self._opt_in(grounds.until),
                ),
            ).fetchone()
        return CompellingGrounds(
            subject=grounds.subject,
            purpose=grounds.purpose,
            at=grounds.at,
            reason=grounds.reason,
            decided_by=grounds.decided_by,
            until=grounds.until,
            seq=int(seq),
        )

    def grounds(self, subject: str, purpose: str, at: datetime) -> CompellingGrounds | None:
        """The latest grounds of ``subject`` and ``purpose`` recorded at or before ``at``."""
        p = self._p
        with self._db.read("reading compelling grounds") as conn:
            row = conn.execute(
                f"SELECT {_GROUNDS_COLUMNS} FROM consent_grounds "  # noqa: S608 - fixed names
                f"WHERE subject = {p} AND purpose = {p} AND at <= {p} "
                "ORDER BY at DESC, seq DESC LIMIT 1",
                (subject, purpose, self.at_in(at)),
            ).fetchone()
        if row is None:
            return None
        seq, subj, purp, when, reason, decided_by, until = row
        return CompellingGrounds(
            subject=subj,
            purpose=purp,
            at=self.at_out(when),
            reason=reason,
            decided_by=decided_by,
            until=self._opt_out(until),
            seq=int(seq),
        )

    # ------------------------------------------------------------------ erasure

    def _forget_extras(self, conn: Connection, raw: str, ref: str) -> int:
        """Inside ``forget``'s write: drop the pending requests, re-key the grounds."""
        p = self._p
        dropped = conn.execute(
            f"DELETE FROM consent_pending WHERE subject = {p}",  # noqa: S608
            (raw,),
        ).rowcount
        rekeyed = conn.execute(
            f"UPDATE consent_grounds SET subject = {p} WHERE subject = {p}",  # noqa: S608
            (ref, raw),
        ).rowcount
        return int(dropped) + int(rekeyed)


class WrittenBatch(threading.local):
    """The batch this thread's last ``append_many()`` wrote, until the ledger binds it.

    The ledger binds an import's events to its audit entry through
    :meth:`~avgkit.storage.AppendedEvents.appended`, called in the same unit of work right
    after ``append_many()``. Decoding every column of every row again would take about a
    fifth of an import; the store knows what it wrote, so only the seqs the rows got are
    read (the last ``count`` by seq: SQLite has one writer, PostgreSQL locks the table for
    the batch). The batch is dropped when it is given back, at this thread's next single
    append, and when the unit of work commits, so memory does not grow with it.
    """

    batch: Sequence[ConsentEvent] | None = None

    def keep(self, db: SqlDatabase, events: Sequence[ConsentEvent]) -> None:
        """Keep ``events``, just written in ``db``'s current unit of work."""
        self.batch = events
        db.after_commit(self.drop)

    def drop(self) -> None:
        """Forget the batch."""
        self.batch = None

    def appended(self, db: SqlDatabase, count: object) -> list[ConsentEvent] | None:
        """The kept batch with its seqs if it is the ``count`` events stored last, else None.

        None tells the store to read the events back in full (another count, nothing kept).
        """
        batch, self.batch = self.batch, None
        if batch is None or type(count) is not int or not 0 < count == len(batch):
            return None
        query = (
            "SELECT seq FROM consent_events ORDER BY seq DESC "  # noqa: S608 - fixed names only
            f"LIMIT {db.dialect.placeholder}"
        )
        with db.read("reading back the seqs of the events just imported") as conn:
            seqs = [int(seq) for (seq,) in conn.execute(query, (count,)).fetchall()]
        if len(seqs) != count:
            return None
        seqs.reverse()
        # The events were checked when built; only the seq the store gave them is new.
        return [replaced(event, seq=seq) for event, seq in zip(batch, seqs, strict=True)]
