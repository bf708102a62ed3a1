"""``avgkit audit verify`` checks a store without changing it, records and anchors included."""

import hashlib
import io
import json
import sqlite3

import pytest

from avgkit import Kit
from avgkit.audit import AnchorFile, AnchorKey
from avgkit.cli import ExitCode, main
from avgkit.presets import ticketing
from avgkit.storage.sqlite import url_for
from avgkit.testing import ManualClock
from test_breach import NOW, facts
from test_cli import PRESET


def run(*argv):
    out = io.StringIO()
    code = main([str(a) for a in argv], out=out)
    return code, out.getvalue()


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    for name in ("AVGKIT_STORE", "AVGKIT_POLICY", "AVGKIT_ANCHOR_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def policy(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(PRESET, encoding="utf-8")
    return path


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
