"""Conformance contracts: the tests a storage adapter must pass, shipped with avgkit.

A plugin author writing, say, a MySQL adapter subclasses each contract in their own test
suite and implements one hook, ``make_store()`` (``make_store_set()`` for
:class:`StoreSetContract`); pytest then runs every contract test against their adapter.
The contracts need pytest and hypothesis: ``pip install 'avgkit[test]'``. Optional
abilities are declared with :class:`Capabilities`; a test needing an ability the adapter
lacks is skipped with the reason.

.. code-block:: python

    from avgkit.testing.conformance import AuditStoreContract, Capabilities

    class TestMyAuditStore(AuditStoreContract):
        capabilities = Capabilities(persistent=False)

        def make_store(self):
            return MyAuditStore(dsn=...)

The contract classes are not named ``Test*``, so pytest collects only your subclasses.

.. versionadded:: 0.1.0
.. versionchanged:: 0.2.0
   :class:`StoreSetContract` and :class:`FailingOpen`; :class:`RetentionStoreContract` and
   :class:`ErasureStoreContract`; :class:`RequestStoreContract` and
   :class:`FeedStoreContract`, whose hook is ``make_stores()`` (a store set, for its unit
   of work); :class:`WordingStoreContract`, :class:`ConfirmationStoreContract` and
   :class:`GroundsStoreContract`, for what a consent store keeps beside its events (the
   wording registry, pending double opt-ins, compelling grounds), with the same hook.
"""

from __future__ import annotations

from avgkit.testing.conformance._audit import AuditStoreContract
from avgkit.testing.conformance._base import Capabilities
from avgkit.testing.conformance._breaches import BreachStoreContract
from avgkit.testing.conformance._consent import ConsentStoreContract
from avgkit.testing.conformance._consent_extras import (
    ConfirmationStoreContract,
    GroundsStoreContract,
    WordingStoreContract,
)
from avgkit.testing.conformance._host import HostDataContract, HostScenario
from avgkit.testing.conformance._keys import KeyStoreContract
from avgkit.testing.conformance._requests import FeedStoreContract, RequestStoreContract
from avgkit.testing.conformance._retention import ErasureStoreContract, RetentionStoreContract
from avgkit.testing.conformance._store_set import FailingOpen, StoreSetContract

__all__ = [
    "AuditStoreContract",
    "BreachStoreContract",
    "Capabilities",
    "ConfirmationStoreContract",
    "ConsentStoreContract",
    "ErasureStoreContract",
    "FailingOpen",
    "FeedStoreContract",
    "GroundsStoreContract",
    "HostDataContract",
    "HostScenario",
    "KeyStoreContract",
    "RequestStoreContract",
    "RetentionStoreContract",
    "StoreSetContract",
    "WordingStoreContract",
]
