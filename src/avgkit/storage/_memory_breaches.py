"""The in-memory breach store (private; import it from :mod:`avgkit.storage.memory`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from avgkit.audit._bound import BoundRecord
from avgkit.errors import ConflictError, NotFound
from avgkit.storage._bound import BREACH_VERSION, breach_version_digest
from avgkit.storage._memory_unit import MemoryUnitOfWork

if TYPE_CHECKING:
    from datetime import datetime

    from avgkit.breach._values import Breach


class MemoryBreachStore:
    """A :class:`~avgkit.storage.BreachStore` in a dict of version lists; the reference.

    Args:
        unit: the unit of work shared with the other stores of the set (a new one if
            omitted).

    Also a :class:`~avgkit.storage.BoundStore`.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Takes ``unit``; a bound store.
    """

    def __init__(self, *, unit: MemoryUnitOfWork | None = None) -> None:
        self._versions: dict[str, list[Breach]] = {}
        self._bound: dict[tuple[str, int], int] = {}
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

    def bind(self, keys: Sequence[tuple[str, int]], audit_seq: int) -> None:
        """Remember that audit entry ``audit_seq`` binds these versions ``(id, version)``."""
        with self._lock:
            taken = [key for key in keys if key in self._bound]
            if taken:
                msg = f"breach version {taken[0][0]}/{taken[0][1]} is bound already"
                raise ConflictError(msg)
            for key in keys:
                self._bound[key] = audit_seq
            self._unit.changed(lambda: self._unbind(keys))

    def _unbind(self, keys: Sequence[tuple[str, int]]) -> None:
        for key in keys:
            del self._bound[key]

    def bound_records(self) -> Iterator[BoundRecord]:
        """Every version with its digest: unbound ones, lost ones, then in audit order."""
        with self._lock:
            stored = {
                (b.id, b.version): b for versions in self._versions.values() for b in versions
            }
            bound = dict(self._bound)
        records = [
            BoundRecord(
                kind=BREACH_VERSION,
                record_id=key[0],
                record_no=key[1],
                digest=None
                if key not in stored
                else breach_version_digest(key[0], key[1], stored[key].to_json()),
                bound_seq=bound.get(key),
            )
            for key in sorted(stored.keys() | bound.keys())
        ]
        records.sort(
            key=lambda r: (r.bound_seq is not None, r.digest is not None, r.bound_seq or 0, r.key)
        )
        return iter(records)
