"""The SQLite adapter: avgkit's embedded default, one file next to the host's data.

Open it with ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``. It uses only
the standard library's :mod:`sqlite3`, turns on WAL so readers never block the writer, runs
versioned migrations per component when a store is opened, and translates every driver error
into :class:`~avgkit.errors.StorageError` naming the operation and the error's class (never
the driver's message, which can quote stored text).

The files it creates are its owner's alone: the database file 0600 (SQLite gives its
``-wal`` and ``-shm`` files the same permissions) and any folders it makes on the way 0700.
Existing files and folders keep the permissions they have.

After a key is shredded the write-ahead log is checkpointed, so that the overwritten pages
reach the main file and no old copy stays in the log. Another connection reading from an
older snapshot (a long report, a backup in progress) holds the checkpoint back; it is
retried for about a second, and if it still cannot complete the shredding raises
:class:`~avgkit.errors.StorageError` once committed: the key is gone from the database,
its bytes are not yet overwritten in the files. Calling ``shred()`` again when the reader
is done finishes the scrub.

Every commit is synced to disk before it returns (``PRAGMA synchronous = FULL``), so a
recorded withdrawal survives a power cut. ``?synchronous=normal`` on the URL
(``sqlite:///avg.db?synchronous=normal``) syncs only at checkpoints: faster writes, and a
crash of the process still loses nothing, but a power cut or OS crash can undo the last
commits.

.. versionadded:: 0.1.0
.. versionchanged:: 0.2.0
   Owner-only files and folders; the checkpoint after a shredding reports a failure.
.. versionchanged:: 0.2.0
   Commits are synced (``synchronous = FULL``) by default; ``?synchronous=normal``.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from avgkit._validators import encodable
from avgkit.errors import ValidationError
from avgkit.storage import StoreSet
from avgkit.storage._sql import SqlAuditStore, SqlBreachStore, SqlKeyStore, store_set
from avgkit.storage.sqlite._consent import SqliteConsentStore
from avgkit.storage.sqlite._db import SYNCHRONOUS, Database

__all__ = ["SYNCHRONOUS", "open_url", "path_from_url", "synchronous_from_url", "url_for"]

# The store classes of 0.1.0 under their old names; the stores are now the SQL core's,
# shared with PostgreSQL. Internal: open stores with open_url() or avgkit.storage.open_stores().
SqliteAuditStore, SqliteBreachStore, SqliteKeyStore = (SqlAuditStore, SqlBreachStore, SqlKeyStore)


def path_from_url(url: str) -> str:
    """Return the file path a ``sqlite://`` URL names.

    ``sqlite:///avg.db`` is ``avg.db`` (relative), ``sqlite:////srv/avg.db`` is
    ``/srv/avg.db``, and ``sqlite:///:memory:`` a private in-memory database.

    .. versionadded:: 0.1.0
    """
    if not isinstance(url, str):
        msg = f"a SQLite store URL is text, got {type(url).__name__}"
        raise ValidationError(msg)
    encodable(url, "the SQLite store URL")
    try:
        parts = urlsplit(url)
    except ValueError:
        msg = "the SQLite store URL is malformed; build it with avgkit.storage.sqlite.url_for()"
        raise ValidationError(msg) from None
    if parts.fragment or url.rstrip().endswith(("?", "#")):
        msg = (
            "a SQLite store URL takes no fragment; a file name with '?', '#' or '%' "
            "must be percent-encoded: build the URL with avgkit.storage.sqlite.url_for(path)"
        )
        raise ValidationError(msg)
    _options(parts.query)
    if parts.scheme.lower() != "sqlite" or parts.netloc or not parts.path.startswith("/"):
        msg = (
            "a SQLite store URL is 'sqlite:///relative.db' or 'sqlite:////absolute.db' "
            "(three slashes, then the path)"
        )
        raise ValidationError(msg)
    path = unquote(parts.path[1:])
    if not path:
        msg = "the SQLite store URL names no file; e.g. 'sqlite:///avg.db'"
        raise ValidationError(msg)
    if "\x00" in path:
        msg = "the SQLite store URL's path holds a NUL character"
        raise ValidationError(msg)
    return path


def _options(query: str) -> dict[str, str]:
    """The URL's parameters: only ``synchronous`` (``full`` or ``normal``), at most once."""
    bad = (
        "a SQLite store URL takes one parameter, '?synchronous=full' (the default) or "
        "'?synchronous=normal'; a file name with '?', '#' or '%' must be percent-encoded: "
        "build the URL with avgkit.storage.sqlite.url_for(path)"
    )
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ValidationError(bad) from None
    if len(pairs) > 1 or any(
        name != "synchronous" or value not in SYNCHRONOUS for name, value in pairs
    ):
        raise ValidationError(bad)
    return dict(pairs)


def synchronous_from_url(url: str) -> str:
    """Return the durability setting a ``sqlite://`` URL asks for: ``"full"`` by default.

    ``sqlite:///avg.db?synchronous=normal`` gives ``"normal"`` (see :data:`SYNCHRONOUS`).

    Raises:
        ValidationError: the URL is malformed or has another parameter or value.

    .. versionadded:: 0.2.0
    """
    path_from_url(url)
    return _options(urlsplit(url).query).get("synchronous", "full")


def url_for(path: str | os.PathLike[str]) -> str:
    """Return the store URL of the SQLite file at ``path``, escaping what URLs reserve.

    ``url_for("venue#2.db")`` is ``"sqlite:///venue%232.db"``; an absolute path gives the
    four-slash form. :func:`path_from_url` turns it back into ``path``.

    .. versionadded:: 0.1.0
    """
    if not isinstance(path, str | os.PathLike):
        msg = f"url_for() takes a file path, got {type(path).__name__}"
        raise ValidationError(msg)
    text = os.fspath(path)
    if not isinstance(text, str):
        msg = "url_for() takes a text path, not bytes"
        raise ValidationError(msg)
    return "sqlite:///" + quote(encodable(text, "the SQLite file path"), safe="/")


def open_url(url: str) -> StoreSet:
    """Open (creating and migrating as needed) the SQLite stores at ``url``.

    If a store cannot be opened (a migration fails), the file is closed before the error
    propagates.

    Raises:
        ValidationError: the URL is malformed (or asks for an unknown ``synchronous``).
        StorageError: the file cannot be opened or migrated.

    .. versionadded:: 0.1.0
    """
    database = Database(path_from_url(url), synchronous=synchronous_from_url(url))
    return store_set(url, database, SqliteConsentStore)
