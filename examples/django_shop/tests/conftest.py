"""pytest-django for the example shop: its settings, and a fresh database for each test.

The shop's folder goes on ``sys.path`` and Django is set up before the tests are imported.
Run the tests from the repository's root: ``.venv/bin/pytest examples/django_shop/tests``.
"""

import os
import sys
from pathlib import Path

import django
import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings")
django.setup()


@pytest.fixture
def django_db_setup(tmp_path, django_db_blocker):
    """A fresh, migrated database file for each test (pytest-django's is one per session).

    avgkit's stores live in the same file, outside Django's flush: a file per test keeps
    each test's consents, audit entries and requests its own.
    """
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases
    from shop import avg

    connection.settings_dict.setdefault("TEST", {})["NAME"] = str(tmp_path / "shop.db")
    with django_db_blocker.unblock():
        databases = setup_databases(
            verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set()
        )
    yield
    with django_db_blocker.unblock():
        avg.close_shop_avg()
        teardown_databases(databases, verbosity=0)
