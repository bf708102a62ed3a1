"""avgkit.host.sql.sanitise: a staging copy with every mapped field treated as declared."""

import sqlite3
import sys
import tomllib
from collections import Counter
from importlib.resources import files
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avgkit.errors import PolicyError, StorageError, ValidationError
from avgkit.host.sql import (
    DOMAIN,
    SanitiseProgress,
    Source,
    SqlHostData,
    Subjects,
    TableMap,
    key_from_secret,
    sanitise,
)
from avgkit.host.sql._sanitise import _permutation
from avgkit.inventory import Inventory, Treatment
from avgkit.presets import ticketing
from avgkit.pseudonym import GENERALISERS, normalise_email
from avgkit.testing import ManualClock

sys.path.insert(0, str(Path(__file__).parents[1] / "examples"))
sys.path.insert(0, str(Path(__file__).parent))

from ticketshop import generate
from ticketshop.table_map import TABLE_MAP

from test_host_sql import load_scenario, maria_engines, pg_engines  # noqa: F401 - fixtures
from test_ticketshop import NOW, fill, scenario

INVENTORY = ticketing.inventory()
CLOCK = ManualClock(NOW)
SECRET = "a staging secret of at least thirty-two characters"  # noqa: S105 - a test's
PRESET = files("avgkit.presets").joinpath("ticketing.toml").read_text(encoding="utf-8")


def sqlite_engine(path):
    return sa.create_engine(f"sqlite:///{path}")


@pytest.fixture
def shop(tmp_path):
    """The hand-filled shop in a SQLite file, and an engine on a second, empty file."""
    path = tmp_path / "shop.db"
    conn = sqlite3.connect(path, isolation_level=None)
    fill(conn)
    conn.close()
    source, target = sqlite_engine(path), sqlite_engine(tmp_path / "staging.db")
    yield source, target
    source.dispose()
    target.dispose()


def cells(engine):
    """Every cell of every table, as ``(table, column, value)``."""
    metadata = sa.MetaData()
    metadata.reflect(bind=engine)
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)).mappings():
                for column, value in row.items():
                    yield table.name, column, value


def personal_values(engine, table_map=TABLE_MAP, inventory=INVENTORY):
    """The source's values of every mapped column whose field is not kept."""
    found = set()
    with engine.connect() as conn:
        for source in table_map.sources:
            for column, key in source.columns.items():
                field = inventory.field(key)
                if field.treatment is Treatment.KEEP:
                    continue
                statement = sa.text(f"SELECT {column} FROM {source.table}")
                values = {str(v) for (v,) in conn.execute(statement) if v is not None}
                if field.treatment is Treatment.GENERALISE:
                    # A network address is its own prefix: the coarser value holds it.
                    generalise = GENERALISERS[field.generaliser]
                    values = {v for v in values if v not in str(generalise(v, NOW))}
                found |= values
    return found


def assert_nothing_personal_left(target, values, ids):
    for table, column, value in cells(target):
        if value is None:
            continue
        text = str(value)
        assert text not in ids, f"{table}.{column} holds a subject's key"
        leaked = [v for v in values if v in text]
        assert not leaked, f"{table}.{column} holds a source value"


def join_signature(engine):
    """Counts that only match when every reference still finds its row."""
    queries = {
        "orders of visitors": "SELECT count(*) FROM orders o JOIN visitors v ON o.buyer_id = v.id",
        "tickets of orders": "SELECT count(*) FROM tickets t JOIN orders o ON t.order_id = o.id",
        "logins": "SELECT count(*) FROM logins l JOIN visitors v ON l.visitor_id = v.id",
        "attendees with an account": (
            "SELECT count(*) FROM tickets t JOIN visitors v ON t.attendee_id = v.id"
        ),
        "mail": "SELECT count(*) FROM support_mails m JOIN visitors v ON m.visitor_id = v.id",
        "orders per buyer": "SELECT count(*) FROM orders GROUP BY buyer_id ORDER BY 1",
        "attendees": "SELECT count(DISTINCT attendee_id) FROM tickets",
    }
    with engine.connect() as conn:
        return {name: conn.exec_driver_sql(sql).scalars().all() for name, sql in queries.items()}


def amounts(engine):
    with engine.connect() as conn:
        orders = conn.exec_driver_sql("SELECT id, total_cents FROM orders ORDER BY id").all()
        paid = conn.exec_driver_sql("SELECT id, amount_cents FROM payments ORDER BY id").all()
    return orders, paid


# -- what the copy holds --------------------------------------------------------------------


def test_no_personal_value_of_the_source_is_left_anywhere_in_the_copy(shop):
    source, target = shop
    report = sanitise(source, target, TABLE_MAP, INVENTORY, clock=CLOCK)
    personal = scenario().personal
    values = {v for found in personal.values() for v in found} | personal_values(source)
    assert_nothing_personal_left(target, values, {str(sid) for sid in personal})
    assert report.rows["orders"] == 3
    assert report.total == 21
    assert report.treated["visitors.email"] == "drop"
    assert report.treated["visitors.postcode"] == "generalise"
    assert report.treated["orders.buyer_id"] == "key"
    assert "visitors.city" not in report.treated, "kept as the inventory says"
    with target.connect() as conn:
        visitor = conn.exec_driver_sql(
            "SELECT postcode, birth_date, city FROM visitors WHERE kind = 'account'"
        ).one()
    assert tuple(visitor) == ("9711", "1984", "Groningen")


def test_joins_and_fiscal_amounts_survive(shop):
    source, target = shop
    sanitise(source, target, TABLE_MAP, INVENTORY, clock=CLOCK)
    assert join_signature(target) == join_signature(source)
    assert join_signature(target)["orders of visitors"] == [3]
    assert amounts(target) == amounts(source)


def test_the_copy_is_a_host_the_map_still_fits(shop):
    source, target = shop
    sanitise(source, target, TABLE_MAP, INVENTORY, clock=CLOCK)
    copied = SqlHostData(target, TABLE_MAP, INVENTORY)
    original = SqlHostData(source, TABLE_MAP, INVENTORY)
    assert Counter(s.kind for s in copied.subjects()) == Counter(
        s.kind for s in original.subjects()
    )
    buyer = next(s for s in copied.subjects() if s.kind == "account")
    assert {r.source for r in copied.records(buyer.id)} == {
        r.source for r in original.records(scenario().buyer)
    }
    # The copy passes the coverage check itself: it can be copied again.
    again = sqlite_engine(source.url.database + ".again")
    assert sanitise(target, again, TABLE_MAP, INVENTORY, clock=CLOCK).total == 21


def test_a_generated_shop_keeps_its_shape_and_loses_its_people(tmp_path):
    path = tmp_path / "generated.db"
    generate(path, 300, now=NOW, seed=3)
    source, target = sqlite_engine(path), sqlite_engine(tmp_path / "copy.db")
    seen = []
    report = sanitise(
        source, target, TABLE_MAP, INVENTORY, clock=CLOCK, batch=64, progress=seen.append
    )
    with source.connect() as conn:
        ids = set(conn.exec_driver_sql("SELECT id FROM visitors").scalars())
        ids |= set(conn.exec_driver_sql("SELECT attendee_id FROM tickets").scalars()) - {None}
    assert_nothing_personal_left(target, personal_values(source), ids)
    assert join_signature(target) == join_signature(source)
    assert amounts(target) == amounts(source)
    # Streamed in batches: one report per batch of at most 64 rows, counting up to the total.
    assert seen[-1] == SanitiseProgress(table=seen[-1].table, done=report.total, total=report.total)
    batches = sum(-(-n // 64) for n in report.rows.values())
    assert len(seen) == batches
    assert [p.done for p in seen] == sorted(p.done for p in seen)


# -- pseudonyms -----------------------------------------------------------------------------


def visitor_ids(engine):
    with engine.connect() as conn:
        return sorted(conn.exec_driver_sql("SELECT id FROM visitors").scalars())


def test_the_same_secret_gives_the_same_pseudonyms_and_no_secret_a_new_key_each_run(shop, tmp_path):
    source, _ = shop
    runs = []
    for n, key in enumerate([key_from_secret(SECRET), key_from_secret(SECRET), None, None]):
        target = sqlite_engine(tmp_path / f"run{n}.db")
        sanitise(source, target, TABLE_MAP, INVENTORY, key=key, clock=CLOCK)
        runs.append(visitor_ids(target))
        target.dispose()
    assert runs[0] == runs[1]
    assert len({tuple(run) for run in runs}) == 3
    assert all(len(i) == 32 for i in runs[0])
    with pytest.raises(ValidationError, match="at least 32 characters") as caught:
        key_from_secret("short secret")
    assert "short secret" not in str(caught.value)


def pseudonymising_inventory():
    document = tomllib.loads(PRESET)
    document["fields"]["email"]["treatment"] = "pseudonymise"
    return Inventory.from_mapping(document)


PEOPLE_MAP = TableMap(
    subjects=Subjects(table="people", key="id", kind="account"),
    sources=(
        Source(name="people", columns={"email": "email"}),
        Source(name="notes", link="person_id -> people.id", columns={"email": "email"}),
    ),
)


def people_database(engine, people, notes):
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE people (id TEXT PRIMARY KEY, email TEXT)")
        conn.exec_driver_sql(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, "
            "person_id TEXT REFERENCES people (id), email TEXT)"
        )
        if people:
            conn.exec_driver_sql("INSERT INTO people VALUES (?, ?)", list(people))
        if notes:
            conn.exec_driver_sql("INSERT INTO notes VALUES (?, ?, ?)", list(notes))


EMAILS = st.sampled_from(
    ["anna@example.nl", "ANNA@example.nl", "bram@example.org", "carla@example.be", "not an address"]
)


def normal(value):
    if value is None:
        return None
    try:
        return normalise_email(value)
    except ValidationError:
        return value


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    people=st.lists(st.one_of(st.none(), EMAILS), min_size=1, max_size=6),
    notes=st.lists(st.tuples(st.integers(0, 5), st.one_of(st.none(), EMAILS)), max_size=8),
)
def test_pseudonyms_are_consistent_across_tables(people, notes):
    """Equal values (as normalised) get equal pseudonyms in every table, others never do."""
    source, target = sa.create_engine("sqlite://"), sa.create_engine("sqlite://")
    people_database(
        source,
        [(f"p{n}", email) for n, email in enumerate(people)],
        [(n, f"p{who % len(people)}", email) for n, (who, email) in enumerate(notes)],
    )
    sanitise(source, target, PEOPLE_MAP, pseudonymising_inventory(), clock=CLOCK)
    query = (
        "SELECT n.id, n.person_id, p.email, n.email FROM notes n "
        "JOIN people p ON n.person_id = p.id ORDER BY n.id"
    )
    with source.connect() as conn:
        before = conn.exec_driver_sql(query).all()
    with target.connect() as conn:
        after = conn.exec_driver_sql(query).all()
        copied_people = conn.exec_driver_sql("SELECT count(*) FROM people").scalar()
    assert copied_people == len(people)
    assert [row[0] for row in after] == [row[0] for row in before], "every note finds its person"
    # (source value, copied value) of every key and e-mail cell the notes reach.
    keys = [(b[1], a[1]) for b, a in zip(before, after, strict=True)]
    mails = [(normal(b[i]), a[i]) for b, a in zip(before, after, strict=True) for i in (2, 3)]
    for pairs in (keys, mails):
        for one, copy_one in pairs:
            for other, copy_other in pairs:
                assert (one == other) == (copy_one == copy_other)
    for original, copied in mails:
        assert (original is None) == (copied is None)
        assert copied is None or (copied.startswith("ps1.") and original not in copied)
    source.dispose()
    target.dispose()


def test_the_pseudonym_of_a_value_is_the_same_in_both_tables():
    inventory = pseudonymising_inventory()
    source, target = sa.create_engine("sqlite://"), sa.create_engine("sqlite://")
    people_database(
        source,
        [("p1", "Anna@Example.nl"), ("p2", "bram@example.org")],
        [(1, "p1", "anna@example.nl"), (2, "p2", "carla@example.be")],
    )
    report = sanitise(source, target, PEOPLE_MAP, inventory, key=key_from_secret(SECRET))
    assert report.treated == {
        "notes.email": "pseudonymise",
        "notes.person_id": "key",
        "people.email": "pseudonymise",
        "people.id": "key",
    }
    with target.connect() as conn:
        joined = conn.exec_driver_sql(
            "SELECT p.email, n.email FROM notes n JOIN people p ON n.person_id = p.id ORDER BY n.id"
        ).all()
    assert joined[0][0] == joined[0][1], "the same address, the same pseudonym: a join key"
    assert joined[1][0] != joined[1][1]
    assert all(value.startswith("ps1.sanitise.") for row in joined for value in row)
    assert DOMAIN == "sanitised_copy"


def test_an_integer_key_is_permuted_so_keys_stay_unique(tmp_path):
    for bits in (16,):
        permute = _permutation(b"k" * 32, bits)
        low = -(2 ** (bits - 1))
        images = {permute(v) for v in range(low, -low)}
        assert len(images) == 2**bits, "a bijection: no two keys become one"
        assert min(images) == low
        assert max(images) == -low - 1
    wide = _permutation(b"k" * 32, 64)
    assert all(-(2**63) <= wide(v) < 2**63 for v in (0, 1, -1, 2**63 - 1, -(2**63)))
    source = sqlite_engine(tmp_path / "ints.db")
    with source.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE members (id INTEGER PRIMARY KEY, email TEXT)")
        conn.exec_driver_sql(
            "CREATE TABLE visits (id INTEGER PRIMARY KEY, "
            "member_id INTEGER REFERENCES members (id), at INTEGER)"
        )
        conn.exec_driver_sql("INSERT INTO members VALUES (1, 'one@example.org'), (2, NULL)")
        conn.exec_driver_sql("INSERT INTO visits VALUES (1, 1, 5), (2, 2, 6), (3, 1, 7)")
    table_map = TableMap(
        subjects=Subjects(table="members", key="id", kind="account"),
        sources=(
            Source(name="members", columns={"email": "email"}),
            Source(name="visits", link="member_id -> members.id"),
        ),
        not_personal={"visits.at": "a counter"},
    )
    target = sqlite_engine(tmp_path / "ints-copy.db")
    sanitise(source, target, table_map, INVENTORY)
    with target.connect() as conn:
        members = conn.exec_driver_sql("SELECT id FROM members").scalars().all()
        visits = conn.exec_driver_sql("SELECT member_id FROM visits ORDER BY id").scalars().all()
    assert set(members).isdisjoint({1, 2})
    assert visits[0] == visits[2] != visits[1]
    assert set(visits) == set(members)


def test_a_column_too_narrow_for_its_pseudonyms_is_refused(tmp_path):
    source = sqlite_engine(tmp_path / "narrow.db")
    with source.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE people (id VARCHAR(8) PRIMARY KEY, email TEXT)")
        conn.exec_driver_sql(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, "
            "person_id TEXT REFERENCES people (id), email VARCHAR(20))"
        )
    target = sqlite_engine(tmp_path / "narrow-copy.db")
    with pytest.raises(PolicyError, match=r"people\.id holds subject keys but only 8"):
        sanitise(source, target, PEOPLE_MAP, INVENTORY)
    with source.begin() as conn:
        conn.exec_driver_sql("DROP TABLE notes")
        conn.exec_driver_sql("DROP TABLE people")
        conn.exec_driver_sql("CREATE TABLE people (id VARCHAR(20) PRIMARY KEY, email TEXT)")
        conn.exec_driver_sql(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, "
            "person_id TEXT REFERENCES people (id), email VARCHAR(20))"
        )
    with pytest.raises(PolicyError, match=r"notes\.email holds field 'email', pseudonymised"):
        sanitise(source, target, PEOPLE_MAP, pseudonymising_inventory())
    assert sa.inspect(target).get_table_names() == []


# -- what it refuses ------------------------------------------------------------------------


def test_a_target_that_is_the_source_is_refused(shop, tmp_path):
    source, _ = shop
    path = Path(source.url.database)
    before = sorted(sa.inspect(source).get_table_names())
    aliases = [
        source,
        sqlite_engine(path),
        sqlite_engine(tmp_path / "sub" / ".." / "shop.db"),
        # A URI the path check cannot read: found by a table made in the target only.
        sa.create_engine(f"sqlite:///file:{path}?mode=rw&uri=true"),
    ]
    (tmp_path / "sub").mkdir()
    link = tmp_path / "link.db"
    link.symlink_to(path)
    aliases.append(sqlite_engine(link))
    for alias in aliases:
        with pytest.raises(ValidationError, match="is the source database"):
            sanitise(source, alias, TABLE_MAP, INVENTORY, replace=True)
    assert sorted(sa.inspect(source).get_table_names()) == before
    with (
        source.connect() as conn,
        pytest.raises(ValidationError, match="is the source database"),
    ):
        sanitise(conn, source, TABLE_MAP, INVENTORY, replace=True)


def test_a_target_holding_tables_is_refused_unless_replace(shop):
    source, target = shop
    with target.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE visitors (id TEXT)")
        conn.exec_driver_sql("CREATE TABLE staging_notes (id TEXT)")
        conn.exec_driver_sql("INSERT INTO staging_notes VALUES ('kept')")
    with pytest.raises(ValidationError, match=r"holds 2 tables.*replace"):
        sanitise(source, target, TABLE_MAP, INVENTORY)
    report = sanitise(source, target, TABLE_MAP, INVENTORY, replace=True, clock=CLOCK)
    assert report.rows["visitors"] == 2
    with target.connect() as conn:
        assert conn.exec_driver_sql("SELECT id FROM staging_notes").scalars().all() == ["kept"]
        assert len(conn.exec_driver_sql("SELECT * FROM visitors").all()) == 2


def test_an_undeclared_personal_column_stops_the_copy_before_it_starts(shop):
    source, target = shop
    with source.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE orders ADD COLUMN remarks TEXT")
        conn.exec_driver_sql("UPDATE orders SET remarks = 'mail ' || billing_email")
    with pytest.raises(PolicyError, match=r"declared nowhere: orders\.remarks") as caught:
        sanitise(source, target, TABLE_MAP, INVENTORY)
    assert "@" not in str(caught.value)
    assert sa.inspect(target).get_table_names() == []
    declared = attrs.evolve(
        TABLE_MAP, not_personal={**TABLE_MAP.not_personal, "orders.remarks": "box office notes"}
    )
    with pytest.raises(ValidationError, match="sample"):
        sanitise(source, target, TABLE_MAP, INVENTORY, sample=0)  # names alone miss 'remarks'
    assert sanitise(source, target, declared, INVENTORY, clock=CLOCK).rows["orders"] == 3


def test_a_failure_midway_leaves_nothing_in_the_target(shop):
    source, target = shop

    def stop(progress):
        if progress.table == "orders":
            raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        sanitise(source, target, TABLE_MAP, INVENTORY, batch=1, progress=stop, clock=CLOCK)
    assert sa.inspect(target).get_table_names() == []

    def failing(_value, _now):
        raise RuntimeError("generaliser")

    with pytest.raises(RuntimeError, match="generaliser"):
        sanitise(source, target, TABLE_MAP, INVENTORY, generalisers={"postcode_pc4": failing})
    assert sa.inspect(target).get_table_names() == []


def test_a_value_a_generaliser_cannot_read_becomes_null(shop):
    source, target = shop
    with source.begin() as conn:
        conn.exec_driver_sql("UPDATE visitors SET birth_date = 'unknown' WHERE id = 'v1'")
    sanitise(source, target, TABLE_MAP, INVENTORY, clock=CLOCK)
    with target.connect() as conn:
        assert conn.exec_driver_sql("SELECT birth_date FROM visitors").scalars().all() == [
            None,
            None,
        ]


def test_bad_arguments_and_unreachable_databases(shop):
    source, target = shop
    with pytest.raises(ValidationError, match="target must be an SQLAlchemy Engine"):
        sanitise(source, "sqlite://", TABLE_MAP, INVENTORY)
    with pytest.raises(ValidationError, match="source must be"):
        sanitise("sqlite://", target, TABLE_MAP, INVENTORY)
    with pytest.raises(ValidationError, match="batch"):
        sanitise(source, target, TABLE_MAP, INVENTORY, batch=0)
    with pytest.raises(ValidationError, match="PseudonymKey"):
        sanitise(source, target, TABLE_MAP, INVENTORY, key=b"x" * 32)
    with pytest.raises(ValidationError, match="TableMap"):
        sanitise(source, target, {}, INVENTORY)
    unreachable = sa.create_engine("postgresql+psycopg://postgres:hunter2@127.0.0.1:9/test")
    with pytest.raises(StorageError) as caught:
        sanitise(source, unreachable, TABLE_MAP, INVENTORY)
    assert "hunter2" not in str(caught.value)
    assert "127.0.0.1:9/test" in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_the_report_names_columns_never_values(shop):
    source, target = shop
    report = sanitise(source, target, TABLE_MAP, INVENTORY, clock=CLOCK)
    shown = "\n".join(report.lines()) + repr(report)
    assert "anna" not in shown.lower()
    assert "  visitors.email: drop" in report.lines()
    assert "orders: 3 rows" in report.lines()


# -- PostgreSQL and MariaDB -----------------------------------------------------------------


@pytest.mark.parametrize("database", ["postgresql", "mariadb"])
def test_the_copy_on_a_server(database, request):
    make = request.getfixturevalue("pg_engines" if database == "postgresql" else "maria_engines")
    source, target = make(), make()
    load_scenario(source)
    report = sanitise(source, target, TABLE_MAP, INVENTORY, clock=CLOCK, batch=2)
    personal = scenario().personal
    values = {v for found in personal.values() for v in found} | personal_values(source)
    assert_nothing_personal_left(target, values, {str(sid) for sid in personal})
    assert join_signature(target) == join_signature(source)
    assert amounts(target) == amounts(source)
    assert report.rows["tickets"] == 4
    copied = SqlHostData(target, TABLE_MAP, INVENTORY)
    assert len(list(copied.subjects())) == len(
        list(SqlHostData(source, TABLE_MAP, INVENTORY).subjects())
    )
    # A second engine on the same schema or database, by another URL, is the source.
    if database == "postgresql":
        with source.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
        alias = sa.create_engine(
            source.url.update_query_dict({"application_name": "alias"}),
            connect_args={"options": f"-csearch_path={schema}"},
        )
    else:
        alias = sa.create_engine(source.url.update_query_dict({"charset": "utf8mb4"}))
    with pytest.raises(ValidationError, match="is the source database"):
        sanitise(source, alias, TABLE_MAP, INVENTORY, replace=True)
    alias.dispose()


def test_a_failure_on_mariadb_drops_the_tables_it_made(request):
    make = request.getfixturevalue("maria_engines")
    source, target = make(), make()
    load_scenario(source)

    def stop(progress):
        if progress.table == "orders":
            raise RuntimeError("stopped")

    with pytest.raises(RuntimeError):
        sanitise(source, target, TABLE_MAP, INVENTORY, progress=stop, batch=1, clock=CLOCK)
    assert sa.inspect(target).get_table_names() == []
