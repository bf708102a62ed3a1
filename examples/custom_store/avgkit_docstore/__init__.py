"""avgkit-docstore: a storage adapter for avgkit written against its public API only.

It keeps data subject requests (:class:`~avgkit.storage.RequestStore`), the downstream
feed (:class:`~avgkit.storage.FeedStore`), retention's holds, warnings and staged plans
(:class:`~avgkit.storage.RetentionStore`) and the erasure log
(:class:`~avgkit.storage.ErasureStore`) in one SQLite file of its own schema, opened from
URLs of its own scheme::

    from avgkit.storage import open_stores
    import avgkit_docstore

    avgkit_docstore.register()          # or install it: its entry point registers the scheme
    with open_stores("docstore:///var/lib/venue/requests.db") as stores:
        stores.requests.count()

``docstore:///relative.db`` is relative to the working directory,
``docstore:////absolute/path.db`` absolute. The set's
:meth:`~avgkit.storage.StoreSet.atomic` is one transaction over the file (nested blocks are
savepoints). The audit chain of the set is kept in memory by avgkit's memory adapter: this
example implements only the four stores above.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from avgkit.errors import ValidationError
from avgkit.storage import StoreSet, register_scheme
from avgkit.storage.memory import MemoryAuditStore, MemoryUnitOfWork
from avgkit_docstore.database import SCHEMA_VERSION, DocStoreDatabase
from avgkit_docstore.erasure_store import DocStoreErasureStore
from avgkit_docstore.feed_store import DocStoreFeedStore
from avgkit_docstore.request_store import DocStoreRequestStore
from avgkit_docstore.retention_store import DocStoreRetentionStore

__all__ = [
    "SCHEMA_VERSION",
    "SCHEME",
    "DocStoreDatabase",
    "DocStoreErasureStore",
    "DocStoreFeedStore",
    "DocStoreRequestStore",
    "DocStoreRetentionStore",
    "open_url",
    "path_of",
    "register",
]

SCHEME: Final = "docstore"
"""The URL scheme the adapter opens (and the name of its ``avgkit.stores`` entry point)."""


def path_of(url: str) -> Path:
    """The file a ``docstore:`` URL names.

    Raises:
        ValidationError: the URL is of another scheme, names a host, has a query or
            fragment, or names no file.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != SCHEME or parts.netloc or parts.query or parts.fragment:
        msg = (
            "a docstore URL is 'docstore:///relative.db' or 'docstore:////absolute/path.db' "
            "(three slashes, then the file; no host, no query)"
        )
        raise ValidationError(msg)
    # "docstore:///a.db" has the path "/a.db" (relative: a.db), "docstore:////a.db" "//a.db".
    path = parts.path[1:]
    if not path or path.endswith("/"):
        msg = "the docstore URL names no file; end it with the file's name, e.g. 'requests.db'"
        raise ValidationError(msg)
    return Path(path)


def open_url(url: str) -> StoreSet:
    """Open the store set of a ``docstore:`` URL (the adapter's opener).

    The file and its schema are created if missing.

    Raises:
        ValidationError: the URL is malformed (see :func:`path_of`).
        StorageError: the file cannot be opened, or has a newer schema than this version.
    """
    database = DocStoreDatabase(path_of(url))
    unit = MemoryUnitOfWork()

    @contextmanager
    def transaction() -> Iterator[None]:
        # The audit store's undo journal and the file's transaction, in that order always
        # (every thread takes the two locks in the same order, so none waits for the other).
        with unit.atomic(), database.atomic():
            yield

    return StoreSet(
        url=url,
        audit=MemoryAuditStore(unit=unit),
        requests=DocStoreRequestStore(database),
        feed=DocStoreFeedStore(database),
        retention=DocStoreRetentionStore(database),
        erasures=DocStoreErasureStore(database),
        transaction=transaction,
        closer=database.close,
    )


def register() -> None:
    """Make :func:`avgkit.storage.open_stores` open ``docstore:`` URLs in this process.

    Not needed once the package is installed: its ``avgkit.stores`` entry point does it.
    """
    register_scheme(SCHEME, open_url)
