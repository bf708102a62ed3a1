"""One store set over one SQL database (private)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TypeVar

from avgkit.errors import StorageError
from avgkit.storage import ConsentStore, StoreSet
from avgkit.storage._sql._audit import SqlAuditStore
from avgkit.storage._sql._breaches import SqlBreachStore
from avgkit.storage._sql._db import SqlDatabase
from avgkit.storage._sql._feed import SqlFeedStore
from avgkit.storage._sql._keys import SqlKeyStore
from avgkit.storage._sql._requests import SqlRequestStore
from avgkit.storage._sql._retention import SqlErasureStore, SqlRetentionStore

__all__ = ["store_set"]

DB = TypeVar("DB", bound=SqlDatabase)


def store_set(url: str, db: DB, consent: Callable[[DB], ConsentStore]) -> StoreSet:
    """Open (migrating as needed) every store over ``db``; ``consent`` builds its consent store.

    A store that cannot be opened (a migration fails) closes ``db`` before the error
    propagates, so no connection or file handle is left behind.
    """
    try:
        return StoreSet(
            url=url,
            audit=SqlAuditStore(db),
            keys=SqlKeyStore(db),
            breaches=SqlBreachStore(db),
            consent=consent(db),
            retention=SqlRetentionStore(db),
            erasures=SqlErasureStore(db),
            requests=SqlRequestStore(db),
            feed=SqlFeedStore(db),
            closer=db.close,
            transaction=db.atomic,
            joiner=db.joined,
        )
    except BaseException:
        # The error that stopped the opening is the one to report.
        with contextlib.suppress(StorageError):
            db.close()
        raise
