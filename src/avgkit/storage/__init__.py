"""Storage protocols: the state avgkit owns, and how a store set is opened from a URL.

avgkit keeps a little state of its own (the audit log now; consent events, keys, breaches
later). Each kind of state has a :class:`typing.Protocol` here; adapters implement them:

* ``memory://`` — :mod:`avgkit.storage.memory`, the reference implementation, for tests;
* ``sqlite:///relative.db`` or ``sqlite:////absolute.db`` — :mod:`avgkit.storage.sqlite`, the
  embedded default (one file, WAL, versioned migrations);
* ``postgresql://user@host:5432/db?schema=venue`` (or ``postgres://``) —
  :mod:`avgkit.storage.postgres`, psycopg 3 with a connection pool, one schema per
  installation (the ``postgres`` extra);
* further schemes registered by plugins through the ``avgkit.stores`` entry-point group, or
  at run time with :func:`register_scheme`.

Adapters raise :class:`~avgkit.errors.StorageError` (never a driver's own exception), return
frozen values, and stream anything that can be long. A plugin author proves an adapter by
subclassing the contracts in :mod:`avgkit.testing.conformance`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable
from urllib.parse import urlsplit

import attrs

from avgkit.errors import ValidationError

if TYPE_CHECKING:
    from avgkit.audit import AuditEntry

__all__ = [
    "AuditStore",
    "StoreOpener",
    "StoreSet",
    "open_stores",
    "register_scheme",
]


@runtime_checkable
class AuditStore(Protocol):
    """Keeps the audit chain. Entries are only ever appended, never changed.

    .. versionadded:: 0.1.0
    """

    def head(self) -> AuditEntry | None:
        """Return the entry with the highest sequence number, or ``None`` when empty."""
        ...

    def append(self, seal: Callable[[AuditEntry | None], AuditEntry]) -> AuditEntry:
        """Append the entry ``seal`` builds on top of the current head, and return it.

        The adapter serialises appenders: it takes its write lock, reads the head, calls
        ``seal(head)`` (``None`` for an empty log) and stores the result, all in one
        transaction, so concurrent writers (threads or processes) queue instead of racing.
        ``seal`` is pure: it only hashes.

        Raises:
            ConflictError: the sealed entry does not extend the head by exactly one (its
                ``seq`` is not ``head.seq + 1``). The adapter stores nothing in that case.
        """
        ...

    def entries(self, *, start: int = 1) -> Iterator[AuditEntry]:
        """Stream entries with ``seq >= start`` in sequence order, in bounded memory."""
        ...

    def entries_for(self, subject_ref: str) -> Iterator[AuditEntry]:
        """Stream the entries whose ``subject_ref`` equals ``subject_ref``, in sequence order."""
        ...

    def count(self) -> int:
        """Return the number of stored entries."""
        ...

    def reference_secret(self, create: Callable[[], bytes]) -> bytes:
        """Return this installation's secret for subject references.

        On first use, call ``create`` and store its result atomically; concurrent first
        callers must all get the same secret back.
        """
        ...


@attrs.define(kw_only=True)
class StoreSet:
    """The stores of one installation, opened together from one URL.

    Use it as a context manager, or call :meth:`close`.

    .. versionadded:: 0.1.0
    """

    url: str = attrs.field(repr=False)
    """The URL it was opened from (not shown in ``repr``: it may hold a password)."""
    audit: AuditStore
    """The audit chain."""
    closer: Callable[[], None] = attrs.field(default=lambda: None, repr=False)

    def close(self) -> None:
        """Release connections and files held by the stores."""
        self.closer()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


StoreOpener = Callable[[str], StoreSet]
"""A function that opens a :class:`StoreSet` from a URL of its scheme."""

_OPENERS: dict[str, StoreOpener] = {}


def register_scheme(scheme: str, opener: StoreOpener) -> None:
    """Make :func:`open_stores` open URLs of ``scheme`` with ``opener``.

    Plugins can instead declare an entry point in the ``avgkit.stores`` group whose name is
    the scheme and whose object is the opener.

    .. versionadded:: 0.1.0
    """
    if not scheme or not scheme.replace("+", "").replace("-", "").isalnum():
        msg = f"store scheme {scheme!r} is invalid; use letters, digits, '+' or '-'"
        raise ValidationError(msg)
    _OPENERS[scheme.lower()] = opener


def _builtin(scheme: str) -> StoreOpener | None:
    if scheme == "memory":
        from avgkit.storage import memory  # noqa: PLC0415 - adapters load on demand

        return memory.open_url
    if scheme == "sqlite":
        from avgkit.storage import sqlite  # noqa: PLC0415

        return sqlite.open_url
    if scheme in {"postgresql", "postgres"}:
        from avgkit.errors import StorageError  # noqa: PLC0415

        try:
            from avgkit.storage import postgres  # noqa: PLC0415
        except ImportError as exc:
            msg = (
                f"the PostgreSQL adapter needs psycopg ({exc}); "
                "install it with: pip install 'avgkit[postgres]'"
            )
            raise StorageError(msg) from exc
        return postgres.open_url
    return None


def open_stores(url: str) -> StoreSet:
    """Open the store set a URL names.

    ``memory://`` gives fresh in-memory stores; ``sqlite:///avg.db`` a SQLite file relative
    to the working directory, ``sqlite:////var/lib/avg.db`` an absolute one.

    Raises:
        ValidationError: the URL is malformed or its scheme is unknown.
        StorageError: the adapter could not open its database.

    .. versionadded:: 0.1.0
    """
    if not isinstance(url, str) or "://" not in url:
        msg = (
            "a store URL looks like 'memory://', 'sqlite:///avg.db' or "
            "'postgresql://user@host:5432/db?schema=venue'"
        )
        raise ValidationError(msg)
    scheme = urlsplit(url).scheme.lower()
    opener = _OPENERS.get(scheme) or _builtin(scheme)
    if opener is None:
        found = entry_points(group="avgkit.stores", name=scheme)
        for ep in found:
            opener = ep.load()
            break
    if opener is None:
        known = sorted({"memory", "sqlite", *_OPENERS})
        msg = f"no storage adapter for scheme {scheme!r}; known schemes: {known}"
        raise ValidationError(msg)
    return opener(url)
