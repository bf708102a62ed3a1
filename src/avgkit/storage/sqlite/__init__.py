"""The SQLite adapter: avgkit's embedded default, one file next to the host's data.

Open it with ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``. It uses only
the standard library's :mod:`sqlite3`, turns on WAL so readers never block the writer, runs
versioned migrations per component when a store is opened, and translates every driver error
into :class:`~avgkit.errors.StorageError`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from avgkit.errors import ValidationError
from avgkit.storage import StoreSet
from avgkit.storage.sqlite._audit import SqliteAuditStore
from avgkit.storage.sqlite._breaches import SqliteBreachStore
from avgkit.storage.sqlite._consent import SqliteConsentStore
from avgkit.storage.sqlite._db import Database
from avgkit.storage.sqlite._keys import SqliteKeyStore

__all__ = [
    "Database",
    "SqliteAuditStore",
    "SqliteBreachStore",
    "SqliteConsentStore",
    "SqliteKeyStore",
    "open_url",
    "path_from_url",
]


def path_from_url(url: str) -> str:
    """Return the file path a ``sqlite://`` URL names.

    ``sqlite:///avg.db`` is ``avg.db`` (relative), ``sqlite:////srv/avg.db`` is
    ``/srv/avg.db``, and ``sqlite:///:memory:`` a private in-memory database.

    .. versionadded:: 0.1.0
    """
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or parts.netloc or not parts.path.startswith("/"):
        msg = (
            "a SQLite store URL is 'sqlite:///relative.db' or 'sqlite:////absolute.db' "
            "(three slashes, then the path)"
        )
        raise ValidationError(msg)
    path = unquote(parts.path[1:])
    if not path:
        msg = "the SQLite store URL names no file; e.g. 'sqlite:///avg.db'"
        raise ValidationError(msg)
    return path


def open_url(url: str) -> StoreSet:
    """Open (creating and migrating as needed) the SQLite stores at ``url``.

    .. versionadded:: 0.1.0
    """
    db = Database(path_from_url(url))
    return StoreSet(
        url=url,
        audit=SqliteAuditStore(db),
        keys=SqliteKeyStore(db),
        breaches=SqliteBreachStore(db),
        consent=SqliteConsentStore(db),
        closer=db.close,
    )
