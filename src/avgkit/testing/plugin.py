"""The avgkit pytest plugin, registered through the ``pytest11`` entry point.

Installing avgkit makes these fixtures available in every test suite:

``avgkit_clock``
    a :class:`~avgkit.testing.ManualClock`, at 2024-01-01 12:00 UTC or at the instant of the
    ``@pytest.mark.avgkit_now("2025-06-01T10:00Z")`` marker.
``avgkit_inventory``
    the ticketing preset inventory (:func:`avgkit.presets.ticketing.inventory`).
``avgkit_stores``
    a fresh in-memory :class:`~avgkit.storage.StoreSet`, closed after the test.
``avgkit_kit``
    a :class:`~avgkit.Kit` over those stores, the inventory and the clock.
``avgkit_consent``
    the kit's :class:`~avgkit.consent.ConsentLedger` (``avgkit_kit.consent``), ready to record.
``avgkit_subjects``
    a factory: ``avgkit_subjects()`` returns a new, unique subject id each call.

At teardown, ``avgkit_kit`` verifies its audit chain, so a test that corrupts it fails.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from avgkit.consent import ConsentLedger
from avgkit.errors import ValidationError
from avgkit.inventory import Inventory
from avgkit.kit import Kit
from avgkit.presets import ticketing
from avgkit.storage import StoreSet, open_stores
from avgkit.subjects import SubjectId, subject_id
from avgkit.testing._clock import DEFAULT_START, ManualClock

__all__ = [
    "avgkit_clock",
    "avgkit_consent",
    "avgkit_inventory",
    "avgkit_kit",
    "avgkit_stores",
    "avgkit_subjects",
]


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin's markers."""
    config.addinivalue_line(
        "markers",
        "avgkit_now(instant): start avgkit_clock at this ISO 8601 instant (with a zone)",
    )


def _marker_start(request: pytest.FixtureRequest) -> datetime:
    marker = request.node.get_closest_marker("avgkit_now")
    if marker is None:
        return DEFAULT_START
    if len(marker.args) != 1 or not isinstance(marker.args[0], str):
        msg = (
            "avgkit_now takes one ISO 8601 string, "
            'e.g. @pytest.mark.avgkit_now("2024-05-01T09:00Z")'
        )
        raise ValidationError(msg)
    text = marker.args[0]
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        msg = f"avgkit_now({text!r}) is not an ISO 8601 instant"
        raise ValidationError(msg) from exc
    if when.tzinfo is None:
        msg = f"avgkit_now({text!r}) has no time zone; add 'Z' or an offset"
        raise ValidationError(msg)
    return when


@pytest.fixture
def avgkit_clock(request: pytest.FixtureRequest) -> ManualClock:
    """A manual clock; set its start with ``@pytest.mark.avgkit_now(...)``."""
    return ManualClock(_marker_start(request))


@pytest.fixture
def avgkit_inventory() -> Inventory:
    """The ticketing preset inventory; override this fixture to test with your own."""
    return ticketing.inventory()


@pytest.fixture
def avgkit_stores() -> Iterator[StoreSet]:
    """Fresh in-memory stores, closed after the test."""
    with open_stores("memory://") as stores:
        yield stores


@pytest.fixture
def avgkit_kit(
    avgkit_stores: StoreSet,
    avgkit_inventory: Inventory,
    avgkit_clock: ManualClock,
) -> Iterator[Kit]:
    """A kit over in-memory stores, the inventory fixture and the manual clock.

    Its audit chain is verified at teardown.
    """
    kit = Kit(stores=avgkit_stores, inventory=avgkit_inventory, clock=avgkit_clock)
    yield kit
    kit.audit.verify()


@pytest.fixture
def avgkit_consent(avgkit_kit: Kit) -> ConsentLedger:
    """The consent ledger of ``avgkit_kit``: in-memory, on the manual clock, audited."""
    return avgkit_kit.consent


@pytest.fixture
def avgkit_subjects() -> Callable[[], SubjectId]:
    """A factory of unique subject ids (``"subject-1"``, ``"subject-2"``, ...)."""
    counter = itertools.count(1)
    return lambda: subject_id(f"subject-{next(counter)}")
