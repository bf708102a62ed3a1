"""``avgkit audit verify`` checks a store without changing it, records and anchors included.

On SQLite and on PostgreSQL; with the key-encryption key from ``$AVGKIT_KEK_FILE`` when the
store's keys (and the subject-reference secret beside them) are wrapped.
"""

import base64
import hashlib
import json
import sqlite3
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest

from avgkit import Kit
from avgkit.audit import AnchorFile, AnchorKey
from avgkit.cli import ExitCode
from avgkit.errors import StorageError
from avgkit.presets import ticketing
from avgkit.pseudonym import KeyEncryptionKey
from avgkit.storage.sqlite import url_for
from avgkit.testing import ManualClock
from clisupport import clear_environment, policy_file, run
from test_breach import NOW, facts
from test_integrity_chain import execute, give

KEK_MATERIAL = bytes(range(1, 33))
KEK = KeyEncryptionKey.from_bytes(KEK_MATERIAL, key_id="kek-2026")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    clear_environment(monkeypatch)


@pytest.fixture
def policy(tmp_path):
    return policy_file(tmp_path)


@pytest.fixture
def store(tmp_path):
    """A store with a breach of two versions, closed (no WAL left), and its path."""
    path = tmp_path / "avg.db"
    kit = Kit.open(url_for(path), inventory=ticketing.inventory(), clock=ManualClock(NOW))
    with kit:
        breach = kit.breaches.record(facts(), discovered_at=NOW, processor="mail_platform")
        kit.breaches.update(breach.id, note="Counted again.", root_cause="A typo.")
    return path, breach.id


def snapshot(folder):
    return {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def test_verify_changes_no_byte_of_the_store_and_makes_no_file(store, policy):
    path, _ = store
    before = snapshot(path.parent)
    code, text = run("audit", "verify", "--store", path, "--policy", policy)
    assert code == ExitCode.OK, text
    assert "records bound to it: 2 breach_version" in text
    assert snapshot(path.parent) == before


def test_verify_reads_through_a_live_write_ahead_log(store, policy):
    path, _ = store
    with Kit.open(url_for(path), inventory=ticketing.inventory()) as kit:
        kit.audit.record("test.while_open")  # the WAL holds it, not yet the main file
        before = (path.read_bytes(), path.stat().st_mtime_ns)
        code, text = run("audit", "verify", "--store", path, "--policy", policy, "--json")
        assert code == ExitCode.OK
        assert json.loads(text)["entries"] == len(kit.audit)
        assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_a_file_that_is_not_an_avgkit_store_fails_unchanged(tmp_path, policy, capsys):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE orders (id INTEGER)")
    conn.commit()
    conn.close()
    before = snapshot(tmp_path)
    code, _ = run("audit", "verify", "--store", path, "--policy", policy)
    assert code == ExitCode.STORAGE
    assert "is not an avgkit store" in capsys.readouterr().err
    assert snapshot(tmp_path) == before
    text_file = tmp_path / "notes.db"
    text_file.write_text("not a database at all\n" * 10)
    assert run("audit", "verify", "--store", text_file, "--policy", policy)[0] == ExitCode.STORAGE
    assert text_file.read_text() == "not a database at all\n" * 10


def test_a_store_of_an_older_avgkit_is_not_migrated(store, policy, capsys):
    path, _ = store
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM avgkit_schema WHERE component = 'audit_bindings'")
    conn.commit()
    conn.close()
    before = snapshot(path.parent)
    code, _ = run("audit", "verify", "--store", path, "--policy", policy)
    assert code == ExitCode.STORAGE
    assert "written by an older avgkit" in capsys.readouterr().err
    assert snapshot(path.parent) == before


def test_a_missing_store_is_an_error_not_a_new_file(tmp_path, policy):
    code, _ = run("audit", "verify", "--store", tmp_path / "nope.db", "--policy", policy)
    assert code == ExitCode.NOT_FOUND
    assert list(tmp_path.iterdir()) == [policy]


def test_an_edited_breach_version_breaks_verify(store, policy):
    path, breach_id = store
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER breach_versions_no_update")
    conn.execute(
        "UPDATE breach_versions SET data = replace(data, 'typo', 'storm') WHERE version = 2"
    )
    conn.commit()
    conn.close()
    code, text = run("audit", "verify", "--store", path, "--policy", policy, "--json")
    assert code == ExitCode.CHECK_FAILED
    problem = json.loads(text)["problem"]
    assert f"breach_version {breach_id}/2" in problem
    assert "typo" not in problem
    assert "storm" not in problem


def test_anchors_and_their_key_are_checked(tmp_path, policy, monkeypatch):
    path = tmp_path / "avg.db"
    key = AnchorKey.generate()
    anchors = AnchorFile(tmp_path / "anchors.txt")
    with Kit.open(url_for(path), inventory=ticketing.inventory()) as kit:
        kit.audit.write_anchors(anchors, key=key, every=2)
        for i in range(4):
            kit.audit.record("test.step", details={"i": i})
    monkeypatch.setenv("AVGKIT_ANCHOR_KEY", key.to_text())
    argv = ("audit", "verify", "--store", path, "--policy", policy, "--anchors", anchors.path)
    code, text = run(*argv, "--json")
    assert code == ExitCode.OK
    assert json.loads(text)["anchors"] == 2
    monkeypatch.setenv("AVGKIT_ANCHOR_KEY", AnchorKey.generate().to_text())
    code, text = run(*argv)
    assert code == ExitCode.CHECK_FAILED
    assert "not sealed with this key" in text


# --------------------------------------------------------------------------- PostgreSQL


def pg_parts(url):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="")), parse_qs(parts.query)["schema"][0]


def pg_snapshot(url):
    """Every table of the URL's schema with its rows, its triggers, and whether it exists."""
    import psycopg
    from psycopg import sql

    server, schema = pg_parts(url)
    with psycopg.connect(server) as conn:
        found = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,))
        snap = {"schema exists": found.fetchone()[0]}
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,)
        ).fetchall()
        for (table,) in tables:
            rows = conn.execute(
                sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            ).fetchall()
            snap[table] = sorted(map(repr, rows))
        snap["triggers"] = conn.execute(
            "SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND NOT t.tgisinternal ORDER BY 1, 2",
            (schema,),
        ).fetchall()
    return snap


def populated(url, **options):
    """A store with a breach of two versions and two consent events; its entry count."""
    with Kit.open(url, inventory=ticketing.inventory(), clock=ManualClock(NOW), **options) as kit:
        breach = kit.breaches.record(facts(), discovered_at=NOW, processor="mail_platform")
        kit.breaches.update(breach.id, note="Counted again.", root_cause="A typo.")
        given = give(kit)
        kit.consent.withdraw("cust-1042", "newsletter", given.evidence)
        return len(kit.audit), given


def test_verify_on_postgres_reads_and_changes_nothing(pg_url, policy):
    entries, _ = populated(pg_url)
    before = pg_snapshot(pg_url)
    assert before["audit_entries"]
    code, text = run("audit", "verify", "--store", pg_url, "--policy", policy, "--json")
    assert code == ExitCode.OK, text
    report = json.loads(text)
    assert report["entries"] == entries
    assert report["records"] == {"breach_version": 2, "consent_event": 2}
    assert pg_snapshot(pg_url) == before


def test_an_empty_or_missing_postgres_schema_is_refused_and_left_as_it_was(pg_url, policy, capsys):
    import psycopg

    server, schema = pg_parts(pg_url)
    code, _ = run("audit", "verify", "--store", pg_url, "--policy", policy)
    assert code == ExitCode.STORAGE
    assert "holds no avgkit store" in capsys.readouterr().err
    assert pg_snapshot(pg_url) == {"schema exists": 0, "triggers": []}  # not created
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    code, _ = run("audit", "verify", "--store", pg_url, "--policy", policy)
    assert code == ExitCode.STORAGE
    assert "holds no avgkit store" in capsys.readouterr().err
    assert pg_snapshot(pg_url) == {"schema exists": 1, "triggers": []}  # no table made


def test_a_postgres_schema_with_only_the_version_table_holds_no_audit_log(pg_url, policy, capsys):
    from avgkit.storage.postgres._db import Database

    Database(pg_url).close()  # what any opening makes first: the schema, avgkit_schema
    before = pg_snapshot(pg_url)
    code, _ = run("audit", "verify", "--store", pg_url, "--policy", policy)
    assert code == ExitCode.STORAGE
    assert "holds no avgkit audit log" in capsys.readouterr().err
    assert pg_snapshot(pg_url) == before


def test_a_postgres_store_of_an_older_avgkit_is_not_migrated(pg_url, policy, capsys):
    populated(pg_url)
    execute(pg_url, "DELETE FROM avgkit_schema WHERE component = 'audit_bindings'")
    before = pg_snapshot(pg_url)
    code, _ = run("audit", "verify", "--store", pg_url, "--policy", policy)
    assert code == ExitCode.STORAGE
    assert "written by an older avgkit" in capsys.readouterr().err
    assert pg_snapshot(pg_url) == before


def test_a_tampered_postgres_store_fails_verify(pg_url, policy):
    _, given = populated(pg_url)
    execute(pg_url, "UPDATE consent_events SET kind = 'withdrawn' WHERE seq = ?", (given.seq,))
    code, text = run("audit", "verify", "--store", pg_url, "--policy", policy, "--json")
    assert code == ExitCode.CHECK_FAILED
    assert f"consent_event {given.seq}" in json.loads(text)["problem"]
    execute(pg_url, "UPDATE audit_entries SET actor = 'someone' WHERE seq = 1")
    code, text = run("audit", "verify", "--store", pg_url, "--policy", policy)
    assert code == ExitCode.CHECK_FAILED
    assert "BROKEN" in text


def test_a_read_only_postgres_database_has_writes_refused_by_the_server(pg_url):
    from avgkit.storage.postgres._db import Database

    Database(pg_url).close()
    db = Database(pg_url, read_only=True)
    try:
        with pytest.raises(StorageError, match="open read-only"), db.write("planting"):
            pass
        with pytest.raises(StorageError, match="SQLSTATE 25006"), db.read("planting") as conn:
            conn.execute("CREATE TABLE planted (id integer)")
        with db._pool.connection() as conn:
            conn.read_only = None  # a transaction begun plainly is READ ONLY too
            assert conn.execute("SHOW transaction_read_only").fetchone() == ("on",)
    finally:
        db.close()
    assert "planted" not in pg_snapshot(pg_url)


# --------------------------------------------------------------------------- the KEK


def kek_file(folder, form, material=KEK_MATERIAL):
    path = folder / f"kek.{form}"
    data = {
        "raw": material,
        "hex": material.hex().encode() + b"\n",
        "base64": base64.b64encode(material) + b"\n",
    }[form]
    path.write_bytes(data)
    path.chmod(0o600)
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def wrapped(request, tmp_path):
    """A store whose keys are wrapped, with consent events whose digests need the secret."""
    if request.param == "sqlite":
        url = url_for(tmp_path / "avg.db")
    else:
        url = request.getfixturevalue("pg_url")
    populated(url, kek=KEK)
    return url


def store_state(url, folder):
    return pg_snapshot(url) if url.startswith("postgresql") else snapshot(folder)


@pytest.mark.parametrize("form", ["raw", "hex", "base64"])
def test_a_wrapped_store_verifies_with_the_kek_file(wrapped, policy, tmp_path, monkeypatch, form):
    monkeypatch.setenv("AVGKIT_KEK_FILE", str(kek_file(tmp_path, form)))
    before = store_state(wrapped, tmp_path)
    code, text = run("audit", "verify", "--store", wrapped, "--policy", policy, "--json")
    assert code == ExitCode.OK, text
    assert json.loads(text)["records"] == {"breach_version": 2, "consent_event": 2}
    assert store_state(wrapped, tmp_path) == before


def test_the_kek_file_can_be_named_by_an_option(wrapped, policy, tmp_path, monkeypatch):
    monkeypatch.delenv("AVGKIT_KEK_FILE", raising=False)
    path = kek_file(tmp_path, "hex")
    code, text = run(
        "audit", "verify", "--store", wrapped, "--policy", policy, "--kek-file", str(path)
    )
    assert code == ExitCode.OK, text


def test_without_the_kek_file_a_wrapped_store_is_refused_saying_how(wrapped, policy, capsys):
    code, _ = run("audit", "verify", "--store", wrapped, "--policy", policy)
    assert code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "wrapped by KEK 'kek-2026'" in err
    assert "AVGKIT_KEK_FILE" in err


def test_a_wrong_kek_fails_and_names_the_file_never_the_key(tmp_path, policy, monkeypatch, capsys):
    url = url_for(tmp_path / "avg.db")
    populated(url, kek=KEK)
    other = bytes(range(101, 133))
    path = kek_file(tmp_path, "hex", other)
    monkeypatch.setenv("AVGKIT_KEK_FILE", str(path))
    code, _ = run("audit", "verify", "--store", url, "--policy", policy)
    assert code == ExitCode.CHECK_FAILED
    err = capsys.readouterr().err
    assert f"the KEK in {path} does not open this store's keys" in err
    assert other.hex() not in err
    assert KEK_MATERIAL.hex() not in err


def test_a_tampered_consent_event_of_a_wrapped_store_is_found_with_the_kek(
    tmp_path, policy, monkeypatch
):
    url = url_for(tmp_path / "avg.db")
    _, given = populated(url, kek=KEK)
    execute(url, "UPDATE consent_events SET kind = 'withdrawn' WHERE seq = ?", (given.seq,))
    monkeypatch.setenv("AVGKIT_KEK_FILE", str(kek_file(tmp_path, "raw")))
    code, text = run("audit", "verify", "--store", url, "--policy", policy, "--json")
    assert code == ExitCode.CHECK_FAILED
    assert f"consent_event {given.seq}" in json.loads(text)["problem"]


@pytest.mark.parametrize(
    "case",
    [
        (None, ExitCode.NOT_FOUND, "no KEK file at"),
        (b"not a key\n", ExitCode.USAGE, "holds 10 bytes, not a KEK"),
        (b"\x07" * 32, ExitCode.USAGE, "one byte repeated"),
    ],
    ids=["missing", "not-a-key", "no-secret"],
)
def test_a_kek_file_that_holds_no_kek_is_refused(tmp_path, policy, monkeypatch, capsys, case):
    content, code, says = case
    url = url_for(tmp_path / "avg.db")
    populated(url, kek=KEK)
    path = tmp_path / "kek"
    if content is not None:
        path.write_bytes(content)
    monkeypatch.setenv("AVGKIT_KEK_FILE", str(path))
    assert run("audit", "verify", "--store", url, "--policy", policy)[0] == code
    err = capsys.readouterr().err
    assert says in err
    assert "not a key" not in err


def test_a_kek_file_for_a_store_without_a_kek_is_refused(
    store, policy, tmp_path, monkeypatch, capsys
):
    path, _ = store
    monkeypatch.setenv("AVGKIT_KEK_FILE", str(kek_file(tmp_path, "raw")))
    code, _ = run("audit", "verify", "--store", path, "--policy", policy)
    assert code == ExitCode.USAGE
    assert "not wrapped by a KEK" in capsys.readouterr().err


def test_an_old_wrapped_store_of_subject_keys_only_needs_the_kek_too(tmp_path, policy, capsys):
    """From before the marker: only the wrapped subject keys say that the store is wrapped."""
    path = tmp_path / "avg.db"
    with Kit.open(url_for(path), inventory=ticketing.inventory(), kek=KEK) as kit:
        kit.pseudonyms.seal("cust-1", b"iban", purpose="ticket_sale")
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM keys_material WHERE kind = 'secret'")
    conn.close()
    before = snapshot(tmp_path)
    code, _ = run("audit", "verify", "--store", path, "--policy", policy)
    assert code == ExitCode.USAGE
    assert "wrapped by KEK 'kek-2026'" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_a_store_whose_keys_live_apart_says_why_its_consent_records_cannot_be_checked(
    tmp_path, policy, capsys
):
    path = tmp_path / "avg.db"
    keys = url_for(tmp_path / "keys.db")
    populated(url_for(path), keys_url=keys)
    before = snapshot(tmp_path)
    code, _ = run("audit", "verify", "--store", path, "--policy", policy)
    assert code == ExitCode.STORAGE
    assert "its keys live in another database" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_a_secret_an_older_avgkit_kept_beside_the_data_is_not_moved_by_verify(
    tmp_path, policy, capsys
):
    path = tmp_path / "avg.db"
    populated(url_for(path))
    conn = sqlite3.connect(path)
    with conn:
        (secret,) = conn.execute(
            "SELECT material FROM keys_material WHERE kind = 'secret'"
        ).fetchone()
        conn.execute("DELETE FROM keys_material WHERE kind = 'secret'")
        conn.execute(
            "INSERT INTO audit_meta (name, value) VALUES ('subject_ref_secret', ?)", (secret,)
        )
    conn.close()
    before = snapshot(tmp_path)
    code, _ = run("audit", "verify", "--store", path, "--policy", policy)
    assert code == ExitCode.STORAGE
    assert "open the store once (it moves the secret to the keys)" in capsys.readouterr().err
    assert snapshot(tmp_path) == before
