"""``avgkit host check`` and ``avgkit host sanitise``: exit codes, --json, one-line errors."""

import json
import sqlite3
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

import clisupport
from clisupport import PRESET, clear_environment, policy_file, run

sys.path.insert(0, str(Path(__file__).parents[1] / "examples"))
sys.path.insert(0, str(Path(__file__).parent))

from test_host_sql import load_scenario, pg_engine
from test_ticketshop import ATTENDEE, BUYER, BUYER_IBAN, BYSTANDER, fill

EXAMPLES = Path(__file__).parents[1] / "examples"

MAP = (EXAMPLES / "ticketshop" / "table_map.toml").read_text(encoding="utf-8")
PERSONAL = (*BUYER.values(), BUYER_IBAN, *ATTENDEE.values(), *BYSTANDER.values())
SECRET = "x" * 8 + "a secret long enough to key the pseudonyms"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    clear_environment(monkeypatch)


@pytest.fixture
def policy(tmp_path):
    """The preset inventory with the ticket shop's table map as its host section."""
    return policy_file(tmp_path, MAP)


@pytest.fixture
def shop(tmp_path):
    path = tmp_path / "shop.db"
    conn = sqlite3.connect(path, isolation_level=None)
    fill(conn)
    conn.close()
    return path


def one_line_error(capsys):
    return clisupport.one_line_error(capsys, PERSONAL)


def add_remarks(path):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("ALTER TABLE orders ADD COLUMN remarks TEXT")
    conn.execute("UPDATE orders SET remarks = 'mail ' || billing_email WHERE id < 3")
    conn.close()


# --------------------------------------------------------------------------- check


def test_check_passes_on_a_covered_shop(shop, policy):
    code, text = run("host", "check", "--database", shop, "--policy", policy)
    assert code == 0
    assert text.startswith("host check passed: sqlite shop.db: coverage 100%")
    code, text = run(
        "host", "check", "--database", f"sqlite:///{shop}", "--policy", policy, "--json"
    )
    assert code == 0
    document = json.loads(text)
    assert document["passed"] is True
    assert document["coverage"] == 1.0
    assert document["mapped"] == 18
    assert document["findings"] == []


def test_check_fails_below_the_threshold_listing_each_column(shop, policy):
    add_remarks(shop)
    code, text = run("host", "check", "--database", shop, "--policy", policy)
    assert code == 1
    assert "host check FAILED" in text
    assert "  orders.remarks: content:email matched 2 of 2 sampled values" in text
    assert "not_personal" in text
    for value in PERSONAL:
        assert value not in text
    code, text = run("host", "check", "--database", shop, "--policy", policy, "--threshold", "0.9")
    assert code == 0, "18 of 19 columns declared is above 90%"
    assert "orders.remarks" in text
    code, text = run(
        "host", "check", "--database", shop, "--policy", policy, "--sample", "0", "--json"
    )
    assert code == 0, "the name 'remarks' says nothing; only its contents do"
    assert json.loads(text)["findings"] == []


def test_check_takes_the_map_from_a_module(shop, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    bare = tmp_path / "inventory.toml"
    bare.write_text(PRESET, encoding="utf-8")
    code, _ = run(
        "host",
        "check",
        "--database",
        shop,
        "--policy",
        bare,
        "--map",
        "ticketshop.table_map:TABLE_MAP",
    )
    assert code == 0


def test_check_errors_are_one_line(shop, policy, tmp_path, capsys, monkeypatch):
    assert run("host", "check", "--policy", policy)[0] == 2
    assert "--database" in one_line_error(capsys)
    assert run("host", "check", "--database", tmp_path / "none.db", "--policy", policy)[0] == 3
    assert "no SQLite database" in one_line_error(capsys)
    assert not (tmp_path / "none.db").exists(), "never created empty"
    assert run("host", "check", "--database", shop)[0] == 2
    assert "--policy" in one_line_error(capsys)
    bare = tmp_path / "inventory.toml"
    bare.write_text(PRESET, encoding="utf-8")
    assert run("host", "check", "--database", shop, "--policy", bare)[0] == 2
    assert "no host section" in one_line_error(capsys)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    assert (
        run("host", "check", "--database", shop, "--policy", bare, "--map", "ticketshop:generate")[
            0
        ]
        == 2
    )
    one_line_error(capsys)
    assert (
        run("host", "check", "--database", shop, "--policy", policy, "--threshold", "1.5")[0] == 2
    )
    assert "between 0 and 1" in one_line_error(capsys)
    url = "postgresql://postgres:hunter2@127.0.0.1:9/test"
    assert run("host", "check", "--database", url, "--policy", policy)[0] == 5
    err = one_line_error(capsys)
    assert "hunter2" not in err
    assert "127.0.0.1:9/test" in err
    assert run("host", "check", "--database", "nope://", "--policy", policy)[0] == 2
    one_line_error(capsys)
    monkeypatch.setenv("AVGKIT_HOST_DATABASE", str(shop))
    assert run("host", "check", "--policy", policy)[0] == 0


# --------------------------------------------------------------------------- sanitise


def visitor_ids(path):
    conn = sqlite3.connect(path)
    ids = sorted(row[0] for row in conn.execute("SELECT id FROM visitors"))
    conn.close()
    return ids


def test_sanitise_copies_the_shop_without_its_people(shop, policy, tmp_path):
    target = tmp_path / "staging.db"
    code, text = run("host", "sanitise", shop, target, "--policy", policy)
    assert code == 0
    assert text.startswith("sanitised copy of sqlite shop.db written to sqlite staging.db: 21 rows")
    assert "a random key for this run only" in text
    assert "  visitors.email: drop" in text
    dump = "\n".join(sqlite3.connect(target).iterdump())
    for value in PERSONAL:
        assert value not in dump
        assert value not in text
    assert "v1" not in visitor_ids(target)


def test_sanitise_json_and_a_secret_from_the_environment(shop, policy, tmp_path, monkeypatch):
    monkeypatch.setenv("AVGKIT_SANITISE_SECRET", SECRET)
    copies = []
    for name in ("one.db", "two.db"):
        code, text = run("host", "sanitise", shop, tmp_path / name, "--policy", policy, "--json")
        assert code == 0
        copies.append(visitor_ids(tmp_path / name))
    document = json.loads(text)
    assert document["key"] == "secret"
    assert document["total"] == 21
    assert document["rows"]["tickets"] == 4
    assert document["treated"]["tickets.attendee_id"] == "key"
    assert copies[0] == copies[1], "the same secret, the same pseudonyms"
    monkeypatch.setenv("MY_SECRET", SECRET[::-1])
    run(
        "host",
        "sanitise",
        shop,
        tmp_path / "three.db",
        "--policy",
        policy,
        "--secret-env",
        "MY_SECRET",
    )
    assert visitor_ids(tmp_path / "three.db") != copies[0]


def test_sanitise_refuses_what_it_must(shop, policy, tmp_path, capsys, monkeypatch):
    target = tmp_path / "staging.db"
    (tmp_path / "sub").mkdir()
    for same in (shop, f"sqlite:///{shop}", tmp_path / "sub" / ".." / "shop.db"):
        assert run("host", "sanitise", shop, same, "--policy", policy)[0] == 2
        assert "TARGET is SOURCE" in one_line_error(capsys)
    assert run("host", "sanitise", tmp_path / "none.db", target, "--policy", policy)[0] == 3
    assert "SOURCE: no SQLite database" in one_line_error(capsys)
    assert not target.exists()
    assert run("host", "sanitise", shop, target, "--policy", policy)[0] == 0
    capsys.readouterr()
    assert run("host", "sanitise", shop, target, "--policy", policy)[0] == 2
    assert "holds 12 tables" in one_line_error(capsys)
    assert run("host", "sanitise", shop, target, "--policy", policy, "--replace")[0] == 2
    assert "--yes" in one_line_error(capsys)
    assert run("host", "sanitise", shop, target, "--policy", policy, "--replace", "--yes")[0] == 0
    capsys.readouterr()
    monkeypatch.setenv("AVGKIT_SANITISE_SECRET", "too short")
    assert run("host", "sanitise", shop, tmp_path / "x.db", "--policy", policy)[0] == 2
    err = one_line_error(capsys)
    assert "$AVGKIT_SANITISE_SECRET" in err
    assert "too short" not in err
    monkeypatch.delenv("AVGKIT_SANITISE_SECRET")
    add_remarks(shop)
    assert run("host", "sanitise", shop, tmp_path / "y.db", "--policy", policy)[0] == 2
    assert "orders.remarks" in one_line_error(capsys)
    assert (
        run("host", "sanitise", shop, tmp_path / "z.db", "--policy", policy, "--batch", "0")[0] == 2
    )
    one_line_error(capsys)


def test_sanitise_between_two_postgres_schemas(pg_server, tmp_path, policy, capsys):
    admin = pg_engine(pg_server, "public")
    names = [f"avgkit_test_cli_{n}_{tmp_path.name[-6:].replace('-', '_')}" for n in (1, 2)]
    with admin.begin() as conn:
        for name in names:
            conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    try:
        source = pg_engine(pg_server, names[0])
        load_scenario(source)
        source.dispose()
        urls = [f"{pg_server}?schema={name}" for name in names]
        assert run("host", "check", "--database", urls[0], "--policy", policy)[0] == 0
        code, text = run("host", "sanitise", urls[0], urls[1], "--policy", policy, "--json")
        assert code == 0, capsys.readouterr().err
        assert json.loads(text)["total"] == 21
        target = pg_engine(pg_server, names[1])
        with target.connect() as conn:
            ids = conn.execute(sa.text("SELECT id FROM visitors")).scalars().all()
            joined = conn.execute(
                sa.text("SELECT count(*) FROM orders o JOIN visitors v ON o.buyer_id = v.id")
            ).scalar()
        target.dispose()
        assert len(ids) == 2
        assert "v1" not in ids
        assert joined == 3
        assert run("host", "sanitise", urls[0], urls[0], "--policy", policy)[0] == 2
        assert "is SOURCE" in one_line_error(capsys)
    finally:
        with admin.begin() as conn:
            for name in names:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        admin.dispose()
