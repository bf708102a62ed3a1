"""The memory adapter's unit of work: one lock and an undo journal (private).

Import it from :mod:`avgkit.storage.memory`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager


class MemoryUnitOfWork:
    """The transaction of a set of in-memory stores: one re-entrant lock, one undo journal.

    Every store of a ``memory://`` set shares one of these. Each read and write of those
    stores holds its lock. :meth:`atomic` holds it for the whole block, so other threads
    wait at their next store call until the block ends and never see its writes half done.
    Inside a block each write records how to undo itself (a few list or dict operations,
    never a copy of the stored data, so a block costs in proportion to what it changes); an
    exception undoes them, newest first. Blocks nest: an inner block joins the outer one,
    and an inner block that raises undoes only its own writes, as a SQL savepoint does.

    Stores made without one (``MemoryAuditStore()``) make their own.

    .. versionadded:: 0.2.0
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._journal: list[Callable[[], object]] = []
        self._depth = 0  # open blocks; only the thread holding the lock can see it above 0

    def __repr__(self) -> str:
        return f"MemoryUnitOfWork(open_blocks={self._depth}, pending={len(self._journal)})"

    def lock(self) -> AbstractContextManager[bool]:
        """The set's re-entrant lock, which a store holds for each of its reads and writes."""
        return self._lock

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """A block whose writes, in any store sharing this unit, are kept together or undone.

        The lock is held until the block ends, so the block is one step for every other
        thread. Any exception (also :class:`KeyboardInterrupt`) undoes the block's writes
        and propagates.
        """
        with self._lock:
            mark = len(self._journal)
            self._depth += 1
            try:
                yield
            except BaseException:
                self._undo_to(mark)
                raise
            finally:
                self._depth -= 1
                if self._depth == 0:
                    # Committed (or undone): drop the journal, which may hold destroyed
                    # key material that a rollback would have put back.
                    self._journal.clear()

    def changed(self, undo: Callable[[], object]) -> None:
        """Record how to undo a write a store has just made (call it holding :meth:`lock`).

        Outside a block a write is final at once, and nothing is recorded.
        """
        with self._lock:
            if self._depth:
                self._journal.append(undo)

    def _undo_to(self, mark: int) -> None:
        while len(self._journal) > mark:
            self._journal.pop()()
