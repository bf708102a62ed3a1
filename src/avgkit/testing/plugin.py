"""The avgkit pytest plugin, registered through the ``pytest11`` entry point.

Installing avgkit makes these fixtures available in every test suite:

``avgkit_clock``
    a :class:`~avgkit.testing.ManualClock`, at 2024-01-01 12:00 UTC or at the instant of the
    ``@pytest.mark.avgkit_now("2025-06-01T10:00Z")`` marker.
``avgkit_inventory``
    the ticketing preset inventory (:func:`avgkit.presets.ticketing.inventory`).
``avgkit_store_url``
    the URL of a fresh, empty store for the test (see "Where the stores live" below); its
    data is removed after the test.
``avgkit_stores``
    a fresh :class:`~avgkit.storage.StoreSet` at that URL, closed after the test.
``avgkit_host``, ``avgkit_retention_policy``
    ``None``; override them with your ``HostData`` and retention policy, and ``avgkit_kit``
    uses them.
``avgkit_kit``
    a :class:`~avgkit.Kit` over those stores, the inventory, the clock, the host and the policy.
``avgkit_keyed_kit``
    the same kit with its pseudonym key already made, for tests of pseudonyms and erasure.
``avgkit_consent``
    the kit's :class:`~avgkit.consent.ConsentLedger` (``avgkit_kit.consent``), ready to record.
``avgkit_evidence``
    valid :class:`~avgkit.consent.Evidence` of a visitor ticking the newsletter box in the
    webshop (notice version ``"2024-01"``), for tests that only need some evidence.
``avgkit_subjects``
    a factory: ``avgkit_subjects()`` returns a new, unique subject id each call.
``avgkit_kit_factory``
    a :class:`~avgkit.testing.KitFactory` (session-scoped): ``with avgkit_kit_factory() as
    kit:`` opens a fresh kit, for ``@given`` tests where each example needs its own.

At teardown, ``avgkit_kit`` verifies its audit chain, so a test that corrupts it fails.

Where the stores live
    In memory by default. ``pytest --avgkit-store=sqlite`` (or ``avgkit_store = sqlite`` in
    the ini file) runs the same tests on a SQLite file per test;
    ``--avgkit-store=postgresql://user@host:5432/db`` on that server, in a new schema per
    test, dropped afterwards. ``@pytest.mark.avgkit_store("sqlite")`` sets it for one test or
    module.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from avgkit.consent import Channel, ConsentLedger, Evidence
from avgkit.errors import ValidationError
from avgkit.host import HostData
from avgkit.inventory import Inventory
from avgkit.kit import Kit
from avgkit.presets import ticketing
from avgkit.retention import RetentionPolicy
from avgkit.storage import StoreSet, open_stores
from avgkit.subjects import SubjectId, subject_id
from avgkit.testing._clock import DEFAULT_START, ManualClock
from avgkit.testing._factory import KitFactory, check_store, store_url

__all__ = [
    "avgkit_clock",
    "avgkit_consent",
    "avgkit_evidence",
    "avgkit_host",
    "avgkit_inventory",
    "avgkit_keyed_kit",
    "avgkit_kit",
    "avgkit_kit_factory",
    "avgkit_retention_policy",
    "avgkit_store_url",
    "avgkit_stores",
    "avgkit_subjects",
]

_STORE_HELP = (
    "where the avgkit_stores/avgkit_kit fixtures keep their data: 'memory' (the default), "
    "'sqlite' (a file per test), or a PostgreSQL server URL (a new schema per test)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--avgkit-store`` and the ``avgkit_store`` ini setting."""
    group = parser.getgroup("avgkit")
    group.addoption("--avgkit-store", dest="avgkit_store", default=None, help=_STORE_HELP)
    parser.addini("avgkit_store", help=_STORE_HELP, default="memory")


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin's markers and check the store option."""
    config.addinivalue_line(
        "markers",
        "avgkit_now(instant): start avgkit_clock at this ISO 8601 instant (with a zone)",
    )
    config.addinivalue_line(
        "markers",
        "avgkit_store(store): run this test's avgkit stores on 'memory', 'sqlite' or a "
        "PostgreSQL server URL",
    )
    try:
        check_store(_configured_store(config))
    except ValidationError as exc:
        raise pytest.UsageError(str(exc)) from None


def _configured_store(config: pytest.Config) -> str:
    chosen = config.getoption("avgkit_store", default=None)
    if chosen is None:
        chosen = config.getini("avgkit_store") or "memory"
    return str(chosen)


def _test_store(request: pytest.FixtureRequest) -> str:
    marker = request.node.get_closest_marker("avgkit_store")
    if marker is None:
        return _configured_store(request.config)
    if len(marker.args) != 1 or not isinstance(marker.args[0], str):
        msg = 'avgkit_store takes one store, e.g. @pytest.mark.avgkit_store("sqlite")'
        raise ValidationError(msg)
    return check_store(marker.args[0])


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
def avgkit_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh store for this test (memory, SQLite or PostgreSQL; see above)."""
    with store_url(_test_store(request), tmp_path) as url:
        yield url


@pytest.fixture
def avgkit_stores(avgkit_store_url: str) -> Iterator[StoreSet]:
    """Fresh stores (in memory unless ``--avgkit-store`` says otherwise), closed after the test."""
    with open_stores(avgkit_store_url) as stores:
        yield stores


@pytest.fixture
def avgkit_host() -> HostData | None:
    """The host's data for ``avgkit_kit``: none by default; override it with your ``HostData``.

    .. code-block:: python

        @pytest.fixture
        def avgkit_host(shop_db):
            return SqlHostData(shop_db, TABLE_MAP, inventory)
    """
    return None


@pytest.fixture
def avgkit_retention_policy() -> RetentionPolicy | None:
    """The retention policy for ``avgkit_kit``: none by default; override it with yours."""
    return None


@pytest.fixture
def avgkit_kit(
    avgkit_stores: StoreSet,
    avgkit_inventory: Inventory,
    avgkit_clock: ManualClock,
    avgkit_host: HostData | None,
    avgkit_retention_policy: RetentionPolicy | None,
) -> Iterator[Kit]:
    """A kit over the stores, the inventory, the manual clock, the host and the policy fixtures.

    Its audit chain is verified at teardown.
    """
    kit = Kit(
        stores=avgkit_stores,
        inventory=avgkit_inventory,
        clock=avgkit_clock,
        host=avgkit_host,
        retention_policy=avgkit_retention_policy,
    )
    yield kit
    kit.audit.verify()


@pytest.fixture
def avgkit_keyed_kit(avgkit_kit: Kit) -> Kit:
    """``avgkit_kit`` with its pseudonym key made (audited like any key creation)."""
    avgkit_kit.pseudonyms.ensure_key()
    return avgkit_kit


@pytest.fixture(scope="session")
def avgkit_evidence() -> Evidence:
    """Evidence of a visitor ticking the newsletter box in the webshop (an immutable value)."""
    return Evidence.from_wording(
        "Ja, stuur mij de nieuwsbrief met het programma.",
        channel=Channel.WEBSHOP,
        notice_version="2024-01",
    )


@pytest.fixture(scope="session")
def avgkit_kit_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> KitFactory:
    """A factory of fresh kits, one per ``with`` block: for ``@given`` tests.

    Session-scoped, so hypothesis accepts it; each kit it opens has its own stores and clock.
    It uses the session's store (``--avgkit-store``).
    """
    return KitFactory(
        _configured_store(request.config), directory=tmp_path_factory.mktemp("avgkit-kits")
    )


@pytest.fixture
def avgkit_consent(avgkit_kit: Kit) -> ConsentLedger:
    """The consent ledger of ``avgkit_kit``: in-memory, on the manual clock, audited."""
    return avgkit_kit.consent


@pytest.fixture
def avgkit_subjects() -> Callable[[], SubjectId]:
    """A factory of unique subject ids (``"subject-1"``, ``"subject-2"``, ...)."""
    counter = itertools.count(1)
    return lambda: subject_id(f"subject-{next(counter)}")
