"""The docstore adapter's own test suite: avgkit's conformance contracts, run against it.

This is what a plugin's ``tests/`` folder holds. Each class subclasses one contract and
implements its hooks; pytest collects every test the contract defines.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import ClassVar

import avgkit_docstore
from avgkit_docstore import DocStoreFeedStore, DocStoreRequestStore

from avgkit.storage import StoreSet, open_stores
from avgkit.testing.conformance import Capabilities, FeedStoreContract, RequestStoreContract

avgkit_docstore.register()  # an installed plugin's entry point does this instead


class DocStoreHooks:
    """The hooks both contracts share: a new file per set, and its raw values."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        persistent=True, thread_safe=True, transactions=True
    )
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
