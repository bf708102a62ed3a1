"""The files avgkit creates are its owner's alone, and one file is not two stores."""

import os
import stat
from pathlib import Path

import pytest

from avgkit import Kit
from avgkit.errors import StorageError, ValidationError
from avgkit.presets import ticketing


@pytest.fixture
def lenient_umask():
    """The common default umask (0o022): files would be world-readable unless avgkit acts."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("lenient_umask")
def test_sqlite_files_and_the_folders_avgkit_makes_are_owner_only(tmp_path):
    data = tmp_path / "new" / "deeper" / "avg.db"
    keys = tmp_path / "secure" / "keys.db"
    with Kit.open(
        f"sqlite:///{data}", keys_url=f"sqlite:///{keys}", inventory=ticketing.inventory()
    ) as kit:
        kit.pseudonyms.seal("cust-1", b"iban", purpose="ticket_sale")
        for db in (data, keys):
            for suffix in ("", "-wal", "-shm"):
                assert mode(db.with_name(db.name + suffix)) == 0o600, (db.name, suffix)
    for folder in (tmp_path / "new", tmp_path / "new" / "deeper", tmp_path / "secure"):
        assert mode(folder) == 0o700, folder.name


@pytest.mark.usefixtures("lenient_umask")
def test_an_existing_file_and_folder_keep_their_permissions(tmp_path):
    path = tmp_path / "avg.db"
    path.touch()
    path.chmod(0o640)
    tmp_path.chmod(0o750)  # the owner's own choice, which avgkit must keep
    with Kit.open(f"sqlite:///{path}", inventory=ticketing.inventory()):
        pass
    assert (mode(path), mode(tmp_path)) == (0o640, 0o750)


def remove_chain(top, monkeypatch):
    """Remove a chain of nested "d" folders without recursion (pytest's cleanup recurses)."""
    monkeypatch.chdir(top)
    depth = 0
    while Path("d").is_dir():
        os.chdir("d")
        depth += 1
    for leftover in Path().iterdir():  # the empty database file made before SQLite gave up
        leftover.unlink()
    for _ in range(depth):
        os.chdir("..")
        Path("d").rmdir()


@pytest.mark.parametrize("levels", [1200, 5000])
def test_a_very_deep_path_is_a_storage_error_not_a_recursion_error(tmp_path, monkeypatch, levels):
    deep = "/".join(["d"] * levels)  # more levels than Python's recursion limit
    try:
        with pytest.raises(StorageError, match=r"sqlite: (cannot create the folder|opening)"):
            Kit.open(f"sqlite:///{tmp_path}/{deep}/avg.db", inventory=ticketing.inventory())
    finally:
        remove_chain(tmp_path, monkeypatch)


@pytest.mark.parametrize(
    "keys",
    [
        "{dir}/avg.db",
        "{dir}/./sub/../avg.db",
        "{dir}/link.db",
    ],
    ids=["same", "dots", "symlink"],
)
def test_one_sqlite_file_as_both_data_and_keys_is_refused_up_front(tmp_path, keys):
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.db").symlink_to(tmp_path / "avg.db")
    with pytest.raises(ValidationError, match="same SQLite file") as caught:
        Kit.open(
            f"sqlite:///{tmp_path}/avg.db",
            keys_url="sqlite:///" + keys.format(dir=tmp_path),
            inventory=ticketing.inventory(),
        )
    assert "keys_url" in str(caught.value)
    assert not (tmp_path / "avg.db").exists()  # refused before anything was opened


def test_a_relative_and_an_absolute_url_of_one_file_are_the_same_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError, match="same SQLite file"):
        Kit.open(
            "sqlite:///avg.db",
            keys_url=f"sqlite:///{tmp_path}/avg.db",
            inventory=ticketing.inventory(),
        )


def test_distinct_files_and_private_memory_databases_are_fine(tmp_path):
    with Kit.open(
        f"sqlite:///{tmp_path}/avg.db",
        keys_url=f"sqlite:///{tmp_path}/keys.db",
        inventory=ticketing.inventory(),
    ):
        pass
    with Kit.open(
        "sqlite:///:memory:", keys_url="sqlite:///:memory:", inventory=ticketing.inventory()
    ):
        pass
