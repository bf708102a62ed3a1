"""The in-memory breach store (private; import it from :mod:`avgkit.storage.memory`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from avgkit.errors import ConflictError, NotFound
from avgkit.storage._memory_unit import MemoryUnitOfWork

if TYPE_CHECKING:
    from datetime import datetime

    from avgkit.breach._values import Breach


class MemoryBreachStore:
    """A :class:`~avgkit.storage.BreachStore` in a dict of version lists; the reference.

    Args:
        unit: the unit of work shared with the other stores of the set (a new one if
            omitted).

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Takes ``unit``.
    """

    def __init__(self, *, unit: MemoryUnitOfWork | None = None) -> None:
        self._versions: dict[str, list[Breach]] = {}
        self._unit = MemoryUnitOfWork() if unit is None else unit
        self._lock = self._unit.lock()

    def __repr__(self) -> str:
        return f"MemoryBreachStore(breaches={len(self._versions)})"

    def put(self, breach: Breach) -> None:
        """Store the next version of a breach (see the protocol for the rules)."""
        with self._lock:
            versions = self._versions.get(breach.id)
            if breach.version == 1:
                if versions is not None:
                    msg = f"breach {breach.id} is already in the register"
                    raise ConflictError(msg)
                self._versions[breach.id] = [breach]
                self._unit.changed(lambda: self._forget(breach.id))
                return
            if versions is None:
                msg = f"no breach {breach.id!r} in the register"
                raise NotFound(msg)
            if versions[-1].version != breach.version - 1:
                msg = (
                    f"breach {breach.id} is at version {versions[-1].version}; "
                    f"version {breach.version} cannot follow it (re-read and retry)"
                )
                raise ConflictError(msg)
            versions.append(breach)
            self._unit.changed(versions.pop)

    def _forget(self, breach_id: str) -> None:
        del self._versions[breach_id]

    def get(self, breach_id: str) -> Breach:
        """Return the newest version of a breach, or raise NotFound."""
        with self._lock:
            versions = self._versions.get(breach_id)
            if versions is None:
                msg = f"no breach {breach_id!r} in the register"
                raise NotFound(msg)
            return versions[-1]

    def history(self, breach_id: str) -> Iterator[Breach]:
        """Stream every version of a breach, oldest first."""
        with self._lock:
            snapshot = list(self._versions.get(breach_id, ()))
        return iter(snapshot)

    def breaches(self) -> Iterator[Breach]:
        """Stream the newest versions by ``became_aware_at``, then id."""
        with self._lock:
            current = [versions[-1] for versions in self._versions.values()]
        return iter(sorted(current, key=lambda b: (b.became_aware_at, b.id)))

    def overdue(self, now: datetime) -> Iterator[Breach]:
        """Stream breaches past the 72 hours with the authority still pending."""
        with self._lock:
            current = [versions[-1] for versions in self._versions.values()]
        found = [b for b in current if b.authority_pending and b.authority_due < now]
        return iter(sorted(found, key=lambda b: (b.authority_due, b.id)))

    def count(self) -> int:
        """Return the number of breaches."""
        with self._lock:
            return len(self._versions)
