"""Fixtures for tests against a real PostgreSQL server (a pytest plugin module).

tests/conftest.py loads it as a plugin for every test module. The server's address
comes from ``AVGKIT_TEST_POSTGRES_URL``; without it the project's usual local server is
tried, and the tests skip with instructions when it does not answer. ``.ci/run`` sets
``AVGKIT_REQUIRE_POSTGRES=1``, which turns that skip into a failure so CI always runs them.
Each test gets its own randomly named schema, dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

URL_VARIABLE = "AVGKIT_TEST_POSTGRES_URL"
REQUIRE_VARIABLE = "AVGKIT_REQUIRE_POSTGRES"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
HOW_TO = (
    f"set {URL_VARIABLE}={DEFAULT_URL} (a server where the user may create schemas) "
    "to run the PostgreSQL tests"
)


def probe(url: str) -> str | None:
    """Return why ``url`` cannot be used, or ``None`` when a server answers there."""
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg is not installed ({exc}); pip install 'avgkit[postgres]'"
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"no PostgreSQL server answers at {_redacted(url)} ({type(exc).__name__})"
    return None


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def resolve_server(environ: Mapping[str, str], check: Callable[[str], str | None] = probe) -> str:
    """Return the server URL to test against, or skip/fail as the environment asks.

    Unset URL and no server: skip, saying how to enable the tests. A URL that was set
    explicitly, or ``AVGKIT_REQUIRE_POSTGRES=1``, and no server: fail.
    """
    url = environ.get(URL_VARIABLE) or DEFAULT_URL
    problem = check(url)
    if problem is None:
        return url
    if environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{REQUIRE_VARIABLE}=1 but {problem}", pytrace=False)
    if environ.get(URL_VARIABLE):
        pytest.fail(f"{URL_VARIABLE} is set but {problem}", pytrace=False)
    pytest.skip(f"{problem}; {HOW_TO}")


def with_params(url: str, **params: str | int) -> str:
    """Return ``url`` with extra query parameters."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params, quote_via=quote)) if q)
    return urlunsplit(parts._replace(query=query))


def new_schema_name() -> str:
    """A random schema name that cannot collide with a real one."""
    return f"avgkit_test_{secrets.token_hex(6)}"


def drop_schemas(url: str, names: list[str]) -> None:
    """Drop the schemas a test made (and everything in them)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The URL of a PostgreSQL server that answers (no schema parameter)."""
    return resolve_server(os.environ)


@pytest.fixture
def pg_schemas(pg_server: str) -> Iterator[Callable[..., str]]:
    """A factory of store URLs, each in a fresh schema dropped when the test ends.

    ``pg_schemas(pool_max=2)`` adds query parameters.
    """
    made: list[str] = []

    def make(**params: str | int) -> str:
        name = new_schema_name()
        made.append(name)
        return with_params(pg_server, schema=name, **params)

    yield make
    drop_schemas(pg_server, made)


@pytest.fixture
def pg_url(pg_schemas: Callable[..., str]) -> str:
    """A store URL in a fresh schema of its own."""
    return pg_schemas()


class PostgresContract:
    """Mixin wiring a conformance contract to the real server: each store in its own schema.

    Set ``store_class`` to the name of a store in :mod:`avgkit.storage.postgres` or the SQL
    core :mod:`avgkit.storage._sql` (it takes a ``Database``; imported on first use, as it
    needs the ``postgres`` extra) and list this
    class before the contract: ``class TestPostgresXStore(PostgresContract, XStoreContract)``.
    """

    store_class: str

    @pytest.fixture(autouse=True)
    def _avgkit_pg_schemas(self, pg_schemas: Callable[..., str]) -> None:
        self._new_url = pg_schemas
        self._urls: dict[int, str] = {}

    def _open(self, url: str) -> object:
        from avgkit.storage import _sql, postgres
        from avgkit.storage.postgres._db import Database

        store_class = getattr(postgres, self.store_class, None) or getattr(_sql, self.store_class)
        store = store_class(Database(url))
        self._urls[id(store)] = url
        return store

    def make_store(self) -> object:
        return self._open(self._new_url())

    def close_store(self, store: object) -> None:
        store._db.close()  # type: ignore[attr-defined]

    def reopen_store(self, store: object) -> object:
        store._db.close()  # type: ignore[attr-defined]
        return self._open(self._urls[id(store)])
