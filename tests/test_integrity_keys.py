"""Keys that stay dead and a KEK that holds, against someone who can write the database.

Each test plays the attack: a tombstone deleted by hand, a process opened without the KEK,
unwrapped rows planted in a wrapped store, a main store recreated while the keys live
apart, a secret left where an older avgkit kept it.
"""

import sqlite3
from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avgkit import Kit
from avgkit.errors import (
    AvgkitError,
    ConfigurationError,
    IntegrityError,
    NotFound,
    ShreddedKeyError,
)
from avgkit.presets import ticketing
from avgkit.pseudonym import KeyEncryptionKey, KeyKind, StoredKey
from avgkit.storage import open_stores
from avgkit.testing import ManualClock

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
KEK = KeyEncryptionKey.from_bytes(bytes(range(1, 33)), key_id="kek-2026")
PURPOSE = "ticket_sale"


def open_kit(url, **options):
    return Kit.open(url, inventory=ticketing.inventory(), clock=ManualClock(NOW), **options)


def rows(path, query):
    with sqlite3.connect(path) as conn:
        return conn.execute(query).fetchall()


def write(path, query, params=()):
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(query, params)
    conn.close()


# -- a tombstone deleted by hand --------------------------------------------------------------


def test_a_hand_deleted_tombstone_does_not_let_seal_work_again(tmp_path):
    path = tmp_path / "avg.db"
    with open_kit(f"sqlite:///{path}") as kit:
        blob = kit.pseudonyms.seal("cust-1", b"iban", purpose=PURPOSE)
        assert kit.pseudonyms.shred("cust-1") is True
    write(path, "DELETE FROM keys_shredded")
    with open_kit(f"sqlite:///{path}") as kit:
        assert kit.pseudonyms.shredded_at("cust-1") is None  # the tombstone is gone...
        with pytest.raises(IntegrityError, match=r"audit log records .* shredded") as caught:
            kit.pseudonyms.seal("cust-1", b"new data", purpose=PURPOSE)
        assert "cust-1" not in str(caught.value)
        with pytest.raises(IntegrityError, match="no tombstone"):
            kit.pseudonyms.open("cust-1", blob, purpose=PURPOSE)
        (count,) = rows(path, "SELECT count(*) FROM keys_material WHERE kind = 'subject'")[0]
        assert count == 0  # ...but no key was made for the erased subject
        # A subject never shredded is unaffected.
        other = kit.pseudonyms.seal("cust-2", b"x", purpose=PURPOSE)
        assert kit.pseudonyms.open("cust-2", other, purpose=PURPOSE) == b"x"


def test_an_unfinished_erasure_refuses_a_new_key():
    with open_kit("memory://", keys_url="memory://") as kit:
        kit.audit.record("pseudonym.subject_key_shred_started", subject="cust-1")
        with pytest.raises(ShreddedKeyError, match="shred\\(\\) again"):
            kit.pseudonyms.seal("cust-1", b"x", purpose=PURPOSE)


# -- the KEK ------------------------------------------------------------------------------------


def wrapped_store(path):
    with open_kit(f"sqlite:///{path}", kek=KEK) as kit:
        kit.pseudonyms.rotate()
        kit.pseudonyms.seal("cust-1", b"iban", purpose=PURPOSE)


def test_without_the_kek_a_wrapped_store_is_neither_read_nor_written(tmp_path):
    path = tmp_path / "avg.db"
    wrapped_store(path)
    before = rows(path, "SELECT key_id, material, wrapped_by FROM keys_material ORDER BY seq")
    entries = rows(path, "SELECT count(*) FROM audit_entries")
    with pytest.raises(ConfigurationError, match=r"kek-2026.*without a KEK"):
        open_kit(f"sqlite:///{path}")
    assert rows(path, "SELECT key_id, material, wrapped_by FROM keys_material ORDER BY seq") == (
        before
    )
    assert rows(path, "SELECT count(*) FROM audit_entries") == entries
    assert all(wrapped == "kek-2026" for _, _, wrapped in before)


def test_without_the_marker_a_wrapped_ring_still_refuses_a_process_without_the_kek(tmp_path):
    path = tmp_path / "avg.db"
    wrapped_store(path)
    write(path, "DELETE FROM keys_material WHERE kind = 'secret'")
    with pytest.raises(ConfigurationError, match="without a KEK"):
        open_kit(f"sqlite:///{path}")


def as_an_older_avgkit_left_it(path):
    """No marker in the key store: the subject-reference secret raw in audit_meta."""
    with open_kit(f"sqlite:///{path}", kek=KEK) as kit:
        secret = kit.pseudonyms.reference_secret(lambda: b"")
    write(path, "DELETE FROM keys_material WHERE kind = 'secret'")
    write(path, "INSERT INTO audit_meta (name, value) VALUES ('subject_ref_secret', ?)", (secret,))


def test_an_old_wrapped_store_holding_only_subject_keys_refuses_a_process_without_the_kek(
    tmp_path,
):
    """No ring key and no marker: the wrapped subject keys alone say the store is wrapped."""
    path = tmp_path / "avg.db"
    with open_kit(f"sqlite:///{path}", kek=KEK) as kit:
        blob = kit.pseudonyms.seal("cust-1", b"iban", purpose=PURPOSE)
    as_an_older_avgkit_left_it(path)
    keys = "SELECT key_id, kind, material, wrapped_by FROM keys_material ORDER BY seq"
    before, meta = rows(path, keys), rows(path, "SELECT name, value FROM audit_meta")
    assert [kind for _, kind, _, _ in before] == ["subject"]
    with pytest.raises(ConfigurationError, match=r"wrapped by KEK 'kek-2026'.*without a KEK"):
        open_kit(f"sqlite:///{path}")
    # Nothing written: no unwrapped marker, the old secret where it was.
    assert rows(path, keys) == before
    assert rows(path, "SELECT name, value FROM audit_meta") == meta
    with open_kit(f"sqlite:///{path}", kek=KEK) as kit:  # with the KEK all is well
        assert kit.pseudonyms.open("cust-1", blob, purpose=PURPOSE) == b"iban"
    assert rows(path, "SELECT wrapped_by FROM keys_material") == [("kek-2026",)] * 2


def test_an_old_store_of_unwrapped_subject_keys_refuses_a_kek(tmp_path):
    """The other way round: a KEK would start a wrapped marker beside unwrapped keys."""
    path = tmp_path / "avg.db"
    with open_kit(f"sqlite:///{path}") as kit:
        kit.pseudonyms.seal("cust-1", b"iban", purpose=PURPOSE)
    write(path, "DELETE FROM keys_material WHERE kind = 'secret'")
    with pytest.raises(IntegrityError, match="set up without a KEK"):
        open_kit(f"sqlite:///{path}", kek=KEK)
    assert rows(path, "SELECT wrapped_by FROM keys_material") == [(None,)]


def test_old_subject_keys_under_another_kek_are_named(tmp_path):
    path = tmp_path / "avg.db"
    with open_kit(f"sqlite:///{path}", kek=KEK) as kit:
        kit.pseudonyms.seal("cust-1", b"iban", purpose=PURPOSE)
    as_an_older_avgkit_left_it(path)
    with pytest.raises(NotFound, match=r"'kek-2026'.*'kek-other' was given"):
        open_kit(f"sqlite:///{path}", kek=KeyEncryptionKey.generate(key_id="kek-other"))


def planted(kind, key_id, *, subject_ref=None, material=b"\x42\x17" * 16):
    return StoredKey(
        key_id=key_id, kind=kind, material=material, created_at=NOW, subject_ref=subject_ref
    )


def test_an_unwrapped_key_planted_in_a_wrapped_ring_is_refused(tmp_path):
    path = tmp_path / "avg.db"
    wrapped_store(path)
    material = bytes(range(100, 132))
    with open_stores(f"sqlite:///{path}") as stores:
        stores.keys.add(planted(KeyKind.PSEUDONYM, "planted", material=material))
    with open_kit(f"sqlite:///{path}", kek=KEK) as kit:
        with pytest.raises(IntegrityError, match=r"'planted' is stored unwrapped") as caught:
            kit.pseudonyms.pseudonym("anna@example.nl", domain="crm", kind="email")
        text = str(caught.value)
        assert material.hex() not in text
        assert repr(material) not in text
        kit.pseudonyms.rotate()  # a new key is wrapped, and the planted one still refused
        with pytest.raises(IntegrityError, match="'planted'"):
            kit.pseudonyms.pseudonym("anna@example.nl", domain="crm", kind="email")


def test_an_unwrapped_subject_key_planted_in_a_wrapped_store_is_refused(tmp_path):
    path = tmp_path / "avg.db"
    wrapped_store(path)
    with open_kit(f"sqlite:///{path}", kek=KEK) as kit:
        ref = kit.audit.subject_ref("cust-9")
    with open_stores(f"sqlite:///{path}") as stores:
        stores.keys.add(planted(KeyKind.SUBJECT, "s-planted", subject_ref=ref))
    with (
        open_kit(f"sqlite:///{path}", kek=KEK) as kit,
        pytest.raises(IntegrityError, match="s-planted"),
    ):
        kit.pseudonyms.seal("cust-9", b"x", purpose=PURPOSE)


def test_a_kek_on_a_store_made_without_one_is_refused(tmp_path):
    path = tmp_path / "avg.db"
    with open_kit(f"sqlite:///{path}") as kit:
        kit.pseudonyms.rotate()
    with pytest.raises(IntegrityError, match="set up without a KEK"):
        open_kit(f"sqlite:///{path}", kek=KEK)


def test_another_kek_is_named(tmp_path):
    path = tmp_path / "avg.db"
    wrapped_store(path)
    with pytest.raises(NotFound, match="kek-2026"):
        open_kit(f"sqlite:///{path}", kek=KeyEncryptionKey.generate(key_id="kek-other"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.booleans(),  # with the KEK?
            st.sampled_from(["rotate", "seal", "shred", "pseudonym", "token"]),
            st.integers(0, 3),  # which subject
        ),
        max_size=12,
    )
)
def test_a_key_store_never_mixes_wrapped_and_unwrapped_keys(steps):
    """Whatever processes with and without the KEK do, the store stays all of one kind."""
    stores = open_stores("memory://")
    for with_kek, action, n in steps:
        try:
            kit = Kit(
                stores=stores,
                inventory=ticketing.inventory(),
                clock=ManualClock(NOW),
                kek=KEK if with_kek else None,
            )
            if action == "rotate":
                kit.pseudonyms.rotate()
            elif action == "token":
                kit.pseudonyms.rotate("token")
            elif action == "seal":
                kit.pseudonyms.seal(f"cust-{n}", b"x", purpose=PURPOSE)
            elif action == "shred":
                kit.pseudonyms.shred(f"cust-{n}")
            else:
                kit.pseudonyms.pseudonym("a@b.nl", domain="crm", kind="email")
        except AvgkitError:
            pass
    wrapping = {key.wrapped_by for key in stores.keys._keys.values()}
    assert len(wrapping) <= 1


# -- the subject-reference secret lives with the keys ------------------------------------------


def test_the_reference_secret_is_wrapped_with_the_keys_and_not_beside_the_data(tmp_path):
    data, keys = tmp_path / "avg.db", tmp_path / "keys.db"
    with open_kit(f"sqlite:///{data}", keys_url=f"sqlite:///{keys}", kek=KEK) as kit:
        kit.audit.record("consent.given", subject="cust-1")
        secret = kit.pseudonyms.reference_secret(lambda: pytest.fail("made twice"))
    assert rows(data, "SELECT count(*) FROM audit_meta") == [(0,)]
    ((wrapped_by, material),) = rows(
        keys, "SELECT wrapped_by, material FROM keys_material WHERE kind = 'secret'"
    )
    assert wrapped_by == "kek-2026"
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert secret not in raw
    assert bytes(material) != secret


def test_recreating_the_main_store_does_not_make_shred_silently_do_nothing(tmp_path):
    data, keys = tmp_path / "avg.db", tmp_path / "keys.db"
    urls = {"url": f"sqlite:///{data}", "keys_url": f"sqlite:///{keys}"}
    with open_kit(**urls) as kit:
        blob = kit.pseudonyms.seal("cust-1", b"iban", purpose=PURPOSE)
        ref = kit.audit.subject_ref("cust-1")
    for suffix in ("", "-wal", "-shm"):
        data.with_name(data.name + suffix).unlink(missing_ok=True)
    with open_kit(**urls) as kit:
        assert kit.audit.subject_ref("cust-1") == ref
        assert kit.pseudonyms.shred("cust-1") is True
        with pytest.raises(ShreddedKeyError):
            kit.pseudonyms.open("cust-1", blob, purpose=PURPOSE)


@pytest.mark.parametrize("kek", [None, KEK], ids=["plain", "kek"])
def test_a_secret_kept_by_an_older_avgkit_moves_to_the_keys(tmp_path, kek):
    """Read old, write new, delete old: references (and so erasure) carry on unchanged."""
    path = tmp_path / "avg.db"
    with open_kit(f"sqlite:///{path}", kek=kek) as kit:
        blob = kit.pseudonyms.seal("cust-1", b"iban", purpose=PURPOSE)
        ref = kit.audit.subject_ref("cust-1")
        secret = kit.pseudonyms.reference_secret(lambda: b"")
    # Put the store back the way an older avgkit left it: the secret raw in audit_meta.
    write(path, "DELETE FROM keys_material WHERE kind = 'secret'")
    write(path, "INSERT INTO audit_meta (name, value) VALUES ('subject_ref_secret', ?)", (secret,))
    with open_kit(f"sqlite:///{path}", kek=kek) as kit:
        assert kit.audit.subject_ref("cust-1") == ref
        assert kit.pseudonyms.open("cust-1", blob, purpose=PURPOSE) == b"iban"
    assert rows(path, "SELECT count(*) FROM audit_meta") == [(0,)]
    ((wrapped_by,),) = rows(path, "SELECT wrapped_by FROM keys_material WHERE kind = 'secret'")
    assert wrapped_by == (None if kek is None else "kek-2026")
    with open_kit(f"sqlite:///{path}", kek=kek) as kit:
        assert kit.pseudonyms.shred("cust-1") is True


def test_an_old_copy_left_by_a_crash_is_deleted_on_the_next_open(tmp_path):
    path = tmp_path / "avg.db"
    with open_kit(f"sqlite:///{path}") as kit:
        ref = kit.audit.subject_ref("cust-1")
    write(path, "INSERT INTO audit_meta (name, value) VALUES ('subject_ref_secret', ?)", (b"x",))
    with open_kit(f"sqlite:///{path}") as kit:
        assert kit.audit.subject_ref("cust-1") == ref  # the key store's copy wins
    assert rows(path, "SELECT count(*) FROM audit_meta") == [(0,)]


@pytest.mark.parametrize("url", ["memory://", "sqlite:///{tmp}/avg.db"])
def test_every_key_store_reports_how_each_stored_key_is_wrapped(tmp_path, url):
    """Subject keys included: the vault judges an old store by them (see above)."""
    with open_stores(url.format(tmp=tmp_path)) as stores:
        assert stores.keys.wrappings() == frozenset()
        stores.keys.add(planted(KeyKind.SUBJECT, "s1", subject_ref="sr1:" + "a" * 32))
        wrapped = attrs.evolve(planted(KeyKind.PSEUDONYM, "p1"), wrapped_by="kek-2026")
        stores.keys.add(wrapped)
        assert stores.keys.wrappings() == frozenset({None, "kek-2026"})
