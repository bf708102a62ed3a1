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

    .. versionadded:: 0.1.0
    """

    persistent: bool = True
    """Data survives closing and reopening the store (``reopen_store`` is implemented)."""
    thread_safe: bool = True
    """One store object may be used from several threads at once."""
    atomic_batches: bool = True
    """A batch write that fails stores none of its items."""
    set_based_queries: bool = True
    """Queries over many subjects run inside the backend, not as a Python loop."""


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
