"""Fresh kits on demand, for property tests (private; import from :mod:`avgkit.testing`)."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from avgkit.errors import ValidationError
from avgkit.inventory import Inventory
from avgkit.kit import Kit
from avgkit.presets import ticketing
from avgkit.testing._clock import DEFAULT_START, ManualClock

STORE_CHOICES: Final = ("memory", "sqlite", "postgresql://...")
"""What a test store may be: in memory, a SQLite file, or a PostgreSQL server's URL."""


def check_store(store: str) -> str:
    """Return ``store`` if it names a test store, else raise :class:`ValidationError`."""
    if not isinstance(store, str) or not (
        store in {"memory", "sqlite"} or store.startswith(("postgresql://", "postgres://"))
    ):
        shown = store if isinstance(store, str) and len(store) < 40 else type(store).__name__
        msg = (
            f"avgkit test store {shown!r} is not one of 'memory', 'sqlite' or a PostgreSQL "
            "server URL such as 'postgresql://postgres@127.0.0.1:5432/test'"
        )
        raise ValidationError(msg)
    return store


def _with_schema(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"]
    query.append(("schema", schema))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _drop_schema(url: str, schema: str) -> None:
    try:
        import psycopg  # noqa: PLC0415 - the postgres extra is optional for test suites
        from psycopg import sql  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - opening the store needed it already
        msg = "PostgreSQL test stores need the postgres extra: pip install 'avgkit[postgres]'"
        raise ValidationError(msg) from exc
    server = urlunsplit(urlsplit(url)._replace(query=""))
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextlib.contextmanager
def store_url(store: str, directory: Path | None = None) -> Iterator[str]:
    """A fresh store URL for ``store``, whose data is removed when the block ends.

    ``"memory"`` gives ``memory://``; ``"sqlite"`` a new file in ``directory`` (a temporary
    folder when ``None``), deleted afterwards; a PostgreSQL server URL a new, randomly named
    schema on that server, dropped afterwards.

    Raises:
        ValidationError: ``store`` is none of those.
    """
    check_store(store)
    if store == "memory":
        yield "memory://"
        return
    if store == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="avgkit-", dir=directory))
        try:
            yield f"sqlite:///{folder.resolve() / 'avgkit.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    schema = f"avgkit_test_{secrets.token_hex(6)}"
    try:
        yield _with_schema(store, schema)
    finally:
        _drop_schema(store, schema)


class KitFactory:
    """Makes a fresh, isolated :class:`~avgkit.Kit` per call: for ``@given`` tests.

    A function-scoped fixture is set up once per test, not once per hypothesis example, so a
    kit from the ``avgkit_kit`` fixture would carry state from one example into the next
    (and hypothesis refuses it). The ``avgkit_kit_factory`` fixture gives a factory instead;
    each example opens its own kit::

        @given(history=consent_histories())
        def test_replay(avgkit_kit_factory, history):
            with avgkit_kit_factory() as kit:
                kit.consent.import_events(history)
                ...

    Each kit has new stores (a new SQLite file or PostgreSQL schema, removed afterwards), its
    own :class:`ManualClock` and, when the block ends without an error, its audit chain
    verified.

    Args:
        store: ``"memory"`` (default), ``"sqlite"``, or a PostgreSQL server URL.
        inventory: the default inventory (the ticketing preset's when ``None``).
        directory: where SQLite files go (a temporary folder when ``None``).

    Raises:
        ValidationError: ``store`` names no test store.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        store: str = "memory",
        *,
        inventory: Inventory | None = None,
        directory: Path | None = None,
    ) -> None:
        self.store: str = check_store(store)
        self._inventory = inventory
        self._directory = directory

    def __repr__(self) -> str:
        shown = self.store if not self.store.startswith("postgres") else "postgresql://..."
        return f"KitFactory(store={shown!r})"

    @contextlib.contextmanager
    def __call__(
        self,
        inventory: Inventory | None = None,
        *,
        start: datetime = DEFAULT_START,
        clock: ManualClock | None = None,
        setup: Callable[[Kit], object] | None = None,
        **options: Any,
    ) -> Iterator[Kit]:
        """Open a fresh kit; close it (and remove its data) when the block ends.

        Args:
            inventory: the kit's inventory (the factory's default when ``None``).
            start: where a new :class:`ManualClock` starts, when ``clock`` is not given.
            clock: a clock to use instead.
            setup: called with the kit before it is handed over (make a key, load events).
            options: further :meth:`Kit.open` options (``consent=``, ``host=``, ...).
        """
        chosen = inventory or self._inventory or ticketing.inventory()
        with store_url(self.store, self._directory) as url:
            kit = Kit.open(url, inventory=chosen, clock=clock or ManualClock(start), **options)
            try:
                if setup is not None:
                    setup(kit)
                yield kit
                kit.audit.verify()
            finally:
                kit.close()
