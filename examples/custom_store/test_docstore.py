"""The docstore adapter's own test suite: avgkit's conformance contracts, run against it.

This is what a plugin's ``tests/`` folder holds. Each class subclasses one contract and
implements its hooks; pytest collects every test the contract defines.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import ClassVar

import avgkit_docstore
from avgkit_docstore import (
    DocStoreErasureStore,
    DocStoreFeedStore,
    DocStoreRequestStore,
    DocStoreRetentionStore,
)

from avgkit.storage import ErasureStore, RetentionStore, StoreSet, open_stores
from avgkit.testing.conformance import (
    Capabilities,
    ErasureStoreContract,
    FeedStoreContract,
    RequestStoreContract,
    RetentionStoreContract,
)

avgkit_docstore.register()  # an installed plugin's entry point does this instead

_CAPABILITIES = Capabilities(persistent=True, thread_safe=True, transactions=True)


class DocStoreHooks:
    """The hooks of the contracts that take a whole set: a new file per set, its values."""

    capabilities: ClassVar[Capabilities] = _CAPABILITIES
    tmp_path: Path  # set by the contract's fixture before each test

    def make_stores(self) -> StoreSet:
        """A new, empty docstore set in a file of its own."""
        return open_stores(f"docstore:///{self.tmp_path}/{uuid.uuid4().hex}.db")

    def raw_values(self, stores: StoreSet) -> list[str]:
        """Every value in the set's file, read straight from its tables."""
        store = stores.requests or stores.feed
        assert isinstance(store, DocStoreRequestStore | DocStoreFeedStore)  # noqa: S101
        return store.database.dump()


class TestDocStoreRequests(DocStoreHooks, RequestStoreContract):
    """The request store contract on the docstore."""


class TestDocStoreFeed(DocStoreHooks, FeedStoreContract):
    """The feed store contract on the docstore."""


Single = DocStoreRetentionStore | DocStoreErasureStore


class DocStoreFileHooks:
    """The hooks of the contracts that take one store: its set opened from a new file."""

    capabilities: ClassVar[Capabilities] = _CAPABILITIES
    tmp_path: Path

    def open_set(self, path: Path | None = None) -> StoreSet:
        """The set of the file at ``path`` (a new file if ``None``)."""
        path = path or self.tmp_path / f"{uuid.uuid4().hex}.db"
        return open_stores(f"docstore:///{path}")

    def close_store(self, store: Single) -> None:
        """Close the store's file (the whole set it belongs to)."""
        store.database.close()

    def raw_values(self, store: Single) -> list[str]:
        """Every value in the store's file, read straight from its tables."""
        return store.database.dump()


class TestDocStoreRetention(DocStoreFileHooks, RetentionStoreContract):
    """The retention store contract on the docstore."""

    def make_store(self) -> RetentionStore:
        """The retention store of a new set."""
        return _retention(self.open_set())

    def reopen_store(self, store: RetentionStore) -> RetentionStore:
        """Close the file and open it again, as a restarted process would."""
        assert isinstance(store, DocStoreRetentionStore)  # noqa: S101
        store.database.close()
        return _retention(self.open_set(store.database.path))


class TestDocStoreErasures(DocStoreFileHooks, ErasureStoreContract):
    """The erasure store contract on the docstore."""

    def make_store(self) -> ErasureStore:
        """The erasure store of a new set."""
        return _erasures(self.open_set())

    def reopen_store(self, store: ErasureStore) -> ErasureStore:
        """Close the file and open it again, as a restarted process would."""
        assert isinstance(store, DocStoreErasureStore)  # noqa: S101
        store.database.close()
        return _erasures(self.open_set(store.database.path))


def _retention(stores: StoreSet) -> DocStoreRetentionStore:
    assert isinstance(stores.retention, DocStoreRetentionStore)  # noqa: S101
    return stores.retention


def _erasures(stores: StoreSet) -> DocStoreErasureStore:
    assert isinstance(stores.erasures, DocStoreErasureStore)  # noqa: S101
    return stores.erasures
