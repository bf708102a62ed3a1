"""Fixtures for tests against a real MariaDB (or MySQL) server (a pytest plugin module).

tests/conftest.py loads it as a plugin. The server's address comes from
``AVGKIT_TEST_MARIADB_URL`` (an SQLAlchemy URL); without it the project's usual local server
is tried, and the tests skip with instructions when it does not answer. ``.ci/run`` sets
``AVGKIT_REQUIRE_MARIADB=1``, which turns that skip into a failure so CI always runs them.
Each test gets its own randomly named database, dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

URL_VARIABLE = "AVGKIT_TEST_MARIADB_URL"
REQUIRE_VARIABLE = "AVGKIT_REQUIRE_MARIADB"
DEFAULT_URL = "mysql+pymysql://root@127.0.0.1:3306/test"
HOW_TO = (
    f"set {URL_VARIABLE}={DEFAULT_URL} (a server where the user may create databases) "
    "to run the MariaDB tests"
)


def probe(url: str) -> str | None:
    """Return why ``url`` cannot be used, or ``None`` when a server answers there."""
    try:
        import sqlalchemy as sa
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError as exc:
        return f"SQLAlchemy is not installed ({exc}); pip install 'avgkit[sql,mariadb]'"
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        finally:
            engine.dispose()
    except ImportError as exc:
        return f"the MariaDB driver is not installed ({exc}); pip install 'avgkit[mariadb]'"
    except SQLAlchemyError as exc:
        where = sa.make_url(url).render_as_string(hide_password=True)
        return f"no MariaDB server answers at {where} ({type(exc).__name__})"
    return None


def resolve_server(environ: Mapping[str, str], check: Callable[[str], str | None] = probe) -> str:
    """Return the server URL to test against, or skip/fail as the environment asks."""
    url = environ.get(URL_VARIABLE) or DEFAULT_URL
    problem = check(url)
    if problem is None:
        return url
    if environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{REQUIRE_VARIABLE}=1 but {problem}", pytrace=False)
    if environ.get(URL_VARIABLE):
        pytest.fail(f"{URL_VARIABLE} is set but {problem}", pytrace=False)
    pytest.skip(f"{problem}; {HOW_TO}")


@pytest.fixture(scope="session")
def mariadb_server() -> str:
    """The SQLAlchemy URL of a MariaDB server that answers."""
    return resolve_server(os.environ)


@pytest.fixture
def mariadb_databases(mariadb_server: str) -> Iterator[Callable[[], str]]:
    """A factory of URLs, each of a fresh database dropped when the test ends."""
    import sqlalchemy as sa

    made: list[str] = []
    admin = sa.create_engine(mariadb_server)

    def make() -> str:
        name = f"avgkit_test_{secrets.token_hex(6)}"
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
        made.append(name)
        return sa.make_url(mariadb_server).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.begin() as conn:
        for name in made:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    admin.dispose()
