"""What every contract class shares: capabilities, store bookkeeping, tmp paths (private)."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import attrs
import pytest

S = TypeVar("S")


@attrs.frozen(kw_only=True)
class Capabilities:
    """Optional abilities of an adapter; a contract test that needs one skips with its reason.

    Every flag defaults to ``True``: declare ``False`` only for what your backend truly
    cannot do, and the tests that need it are skipped (reported with the flag's name).

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``set_based_queries`` is gone (no contract could check it); ``transactions`` is new.
    """

    persistent: bool = True
    """Data survives closing and reopening the store (``reopen_store`` is implemented).
    ``False`` skips the "survives reopening" tests."""
    thread_safe: bool = True
    """One store object may be used from several threads at once. ``False`` skips the
    concurrency tests."""
    atomic_batches: bool = True
    """A batch write that fails stores none of its items. ``False`` skips the consent
    contract's failing-batch tests."""
    transactions: bool = True
    """:meth:`StoreSet.atomic() <avgkit.storage.StoreSet.atomic>` undoes every store's
    writes when its block raises. ``False`` skips the store-set contract's rollback,
    nesting and isolation tests; services on such a set can leave a change unaudited when
    a write fails.

    .. versionadded:: 0.2.0
    """


def require(capabilities: Capabilities, name: str) -> None:
    """Skip the current test unless the adapter declares capability ``name``."""
    if not getattr(capabilities, name):
        pytest.skip(f"the adapter does not declare the {name!r} capability")


class ContractBase(abc.ABC, Generic[S]):
    """Bookkeeping shared by the contracts: ``tmp_path`` and closing the stores made.

    Subclasses implement :meth:`make_store`; they may override :meth:`close_store` and
    :meth:`reopen_store`.
    """

    capabilities: ClassVar[Capabilities] = Capabilities()
    tmp_path: Path

    @pytest.fixture(autouse=True)
    def _avgkit_contract_setup(self, tmp_path: Path) -> Iterator[None]:
        self.tmp_path = tmp_path
        self._made: list[Any] = []
        yield
        for store in reversed(self._made):
            self.close_store(store)

    @abc.abstractmethod
    def make_store(self) -> S:
        """Return a new, empty store of the adapter under test (use ``self.tmp_path``)."""

    def close_store(self, store: S) -> None:
        """Release ``store``; called at teardown for every store made. Default: nothing."""

    def reopen_store(self, store: S) -> S:
        """Close ``store`` and open the same underlying data again (persistent adapters).

        An adapter that keeps the default ``persistent=True`` must implement this: without
        it the contract could not prove that anything survives a restart, so the
        persistence tests fail rather than skip.
        """
        pytest.fail(
            "the adapter declares Capabilities(persistent=True) (the default) but does not "
            "implement reopen_store(); implement it, or declare persistent=False"
        )

    def store(self) -> S:
        """Make a store that is closed automatically at teardown."""
        made = self.make_store()
        self._made.append(made)
        return made

    def reopened(self, store: S) -> S:
        """Reopen ``store`` and close the reopened one at teardown."""
        again = self.reopen_store(store)
        self._made.append(again)
        return again
