"""SQLite durability: commits synced by default, ``?synchronous=normal`` as a spelled-out option."""

import pytest

from avgkit.errors import ValidationError
from avgkit.storage import open_stores
from avgkit.storage.sqlite import (
    SYNCHRONOUS,
    Database,
    path_from_url,
    synchronous_from_url,
    url_for,
)

# PRAGMA synchronous reads back as a number: 1 NORMAL, 2 FULL.
LEVELS = {"normal": 1, "full": 2}


def pragma(db: Database) -> int:
    with db.read("reading the setting") as conn:
        (level,) = conn.execute("PRAGMA synchronous").fetchone()
    return int(level)


def test_a_store_syncs_every_commit_unless_told_otherwise(tmp_path):
    """FULL by default: a withdrawal that was committed survives a power cut."""
    with open_stores(url_for(tmp_path / "avg.db")) as stores:
        assert pragma(stores.audit._db) == LEVELS["full"]
    db = Database(str(tmp_path / "other.db"))
    try:
        assert db.synchronous == "full"
        assert pragma(db) == LEVELS["full"]
    finally:
        db.close()


@pytest.mark.parametrize("setting", sorted(SYNCHRONOUS))
def test_the_url_parameter_sets_what_the_database_reads_back(tmp_path, setting):
    url = f"{url_for(tmp_path / 'avg.db')}?synchronous={setting}"
    assert synchronous_from_url(url) == setting
    assert path_from_url(url) == str(tmp_path / "avg.db")
    with open_stores(url) as stores:
        assert pragma(stores.audit._db) == LEVELS[setting]
    assert (tmp_path / "avg.db").exists()


@pytest.mark.parametrize(
    "query",
    [
        "synchronous=off",
        "synchronous=NORMAL",
        "synchronous=",
        "synchronous",
        "synchronous=normal&synchronous=full",
        "journal_mode=delete",
        "mode=ro",
    ],
)
def test_other_parameters_or_values_are_refused_saying_what_is_accepted(tmp_path, query):
    url = f"{url_for(tmp_path / 'avg.db')}?{query}"
    for read in (path_from_url, synchronous_from_url, open_stores):
        with pytest.raises(ValidationError, match=r"'\?synchronous=normal'"):
            read(url)
    assert not (tmp_path / "avg.db").exists()


def test_a_bad_setting_given_directly_is_refused_before_any_file_is_made(tmp_path):
    with pytest.raises(ValidationError, match=r"synchronous must be one of \['full', 'normal'\]"):
        Database(str(tmp_path / "avg.db"), synchronous="off")
    assert not (tmp_path / "avg.db").exists()


def test_a_file_name_with_a_question_mark_is_still_a_file_name(tmp_path):
    path = tmp_path / "what?synchronous=normal.db"
    url = url_for(path)
    assert path_from_url(url) == str(path)
    assert synchronous_from_url(url) == "full"
