"""The in-memory adapter: the reference implementation of every store protocol.

Open it with ``memory://``. Everything lives in Python objects and is gone when the process
ends, which is what tests want. It is thread-safe.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from avgkit.errors import ConflictError, ValidationError
from avgkit.storage import StoreSet

if TYPE_CHECKING:
    from avgkit.audit import AuditEntry

__all__ = ["MemoryAuditStore", "open_url"]


class MemoryAuditStore:
    """An :class:`~avgkit.storage.AuditStore` in a Python list.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        self._entries: list[AuditEntry] = []
        self._secret: bytes | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryAuditStore(entries={len(self._entries)})"

    def head(self) -> AuditEntry | None:
        """Return the newest entry."""
        with self._lock:
            return self._entries[-1] if self._entries else None

    def append(self, seal: Callable[[AuditEntry | None], AuditEntry]) -> AuditEntry:
        """Seal the head's successor under the lock and append it."""
        with self._lock:
            entry = seal(self._entries[-1] if self._entries else None)
            if entry.seq != len(self._entries) + 1:
                msg = f"audit entry {entry.seq} does not follow the head {len(self._entries)}"
                raise ConflictError(msg)
            self._entries.append(entry)
            return entry

    def entries(self, *, start: int = 1) -> Iterator[AuditEntry]:
        """Stream entries from ``start`` in order (a snapshot taken at the call)."""
        with self._lock:
            snapshot = self._entries[max(start, 1) - 1 :]
        return iter(snapshot)

    def entries_for(self, subject_ref: str) -> Iterator[AuditEntry]:
        """Stream the entries about one subject reference."""
        with self._lock:
            snapshot = [e for e in self._entries if e.subject_ref == subject_ref]
        return iter(snapshot)

    def count(self) -> int:
        """Return the number of entries."""
        with self._lock:
            return len(self._entries)

    def reference_secret(self, create: Callable[[], bytes]) -> bytes:
        """Return the subject-reference secret, creating it once."""
        with self._lock:
            if self._secret is None:
                self._secret = create()
            return self._secret


def open_url(url: str) -> StoreSet:
    """Open fresh in-memory stores for ``memory://``.

    .. versionadded:: 0.1.0
    """
    if url.rstrip("/") != "memory:":
        msg = f"the memory adapter takes exactly 'memory://', got a URL with a path ({url!r})"
        raise ValidationError(msg)
    return StoreSet(url=url, audit=MemoryAuditStore())
