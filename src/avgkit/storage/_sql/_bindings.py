"""Which audit entry binds which stored record, written once for every SQL dialect (private).

One table for every bound kind: ``(kind, record_id, record_no)`` names a record (a breach
version, a consent event), ``audit_seq`` the entry whose details hold its digest. The bound
stores read their records back through it in audit order (see
:meth:`avgkit.storage.BoundStore.bound_records`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from avgkit.storage._sql._db import SqlDatabase
from avgkit.storage._sql._dialect import Dialect

__all__ = ["COMPONENT", "bind", "ensure", "migrations", "pages"]

COMPONENT: Final = "audit_bindings"
_CHUNK: Final = 200  # rows per INSERT: far below every driver's parameter limit


def migrations(d: Dialect) -> tuple[str, ...]:
    """The bindings component's scripts in dialect ``d`` (never edited once released)."""
    return (
        f"""
        CREATE TABLE audit_bindings (
            kind TEXT NOT NULL,
            record_id TEXT NOT NULL,
            record_no {d.big_integer} NOT NULL,
            audit_seq {d.big_integer} NOT NULL CHECK (audit_seq >= 1),
            PRIMARY KEY (kind, record_id, record_no)
        );
        CREATE INDEX audit_bindings_in_order
            ON audit_bindings (kind, audit_seq, record_id, record_no);
        {d.append_only(COMPONENT, "audit_bindings", "audit bindings are append-only")}
        """,
    )


def ensure(db: SqlDatabase) -> None:
    """Create (or check) the bindings table; every bound store calls it when opened."""
    db.migrate(COMPONENT, migrations(db.dialect))


def bind(db: SqlDatabase, kind: str, keys: Sequence[tuple[str, int]], audit_seq: int) -> None:
    """Insert the bindings of ``keys`` to entry ``audit_seq``, a chunk of rows a statement."""
    d = db.dialect
    row = f"({d.params(4)})"
    write = db.write_one if len(keys) <= _CHUNK else db.write  # one statement: no savepoint
    with write(f"binding {kind} records to audit entry {audit_seq}") as conn:
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            values: list[object] = []
            for record_id, record_no in chunk:
                values += (kind, record_id, record_no, audit_seq)
            conn.execute(
                "INSERT INTO audit_bindings (kind, record_id, record_no, audit_seq) "  # noqa: S608 - fixed names and placeholders only
                f"VALUES {', '.join([row] * len(chunk))}",
                values,
            )


def pages(  # noqa: PLR0917 - private; each caller names every part of its query
    db: SqlDatabase,
    what: str,
    query: str,
    params: Sequence[object],
    start: tuple[object, ...],
    key: Callable[[Sequence[Any]], tuple[object, ...]],
) -> Iterator[Sequence[Any]]:
    """Stream the rows of a keyset-paged ``query``, one short read a page.

    ``query`` takes ``params``, then the keyset (``start`` first, then ``key`` of each
    page's last row), then the page size: its condition ends ``(...) > (placeholders)`` and
    it ends ``ORDER BY <the keyset's columns> LIMIT placeholder``.
    """
    page = db.dialect.page_size
    after = start
    while True:
        with db.read(what) as conn:
            rows = conn.execute(query, (*params, *after, page)).fetchall()
        yield from rows
        if len(rows) < page:
            return
        after = key(rows[-1])
