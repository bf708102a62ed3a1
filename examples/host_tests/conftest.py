"""Podium Zuid's test configuration: avgkit's pytest fixtures, on the venue's own policy.

avgkit's plugin loads by itself once avgkit is installed. Overriding ``avgkit_inventory``
here makes every avgkit fixture (``avgkit_kit``, ``avgkit_consent``, ...) run on the
venue's policy file instead of the ticketing preset.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from podium import Shop, create_shop, host_data, load_inventory, load_retention_policy

from avgkit import Inventory, Kit
from avgkit.storage import StoreSet
from avgkit.testing import ManualClock


@pytest.fixture
def avgkit_inventory() -> Inventory:
    """The venue's own inventory, from the policy file the shop runs on."""
    return load_inventory()


@pytest.fixture
def shop(
    tmp_path: Path,
    avgkit_stores: StoreSet,
    avgkit_inventory: Inventory,
    avgkit_clock: ManualClock,
) -> Iterator[Shop]:
    """The shop on a fresh database, with a kit over avgkit's test stores and manual clock.

    The stores are in memory, or on SQLite or PostgreSQL with ``--avgkit-store``. The kit's
    audit chain is verified when the test ends.
    """
    engine = create_shop(tmp_path / "podium.db")
    kit = Kit(
        stores=avgkit_stores,
        inventory=avgkit_inventory,
        clock=avgkit_clock,
        host=host_data(engine, avgkit_inventory),
        retention_policy=load_retention_policy(),
    )
    yield Shop(engine, kit)
    kit.audit.verify()
    engine.dispose()
