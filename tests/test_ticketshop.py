"""The reference ticket shop (examples/ticketshop): its generator and its HostData."""

import importlib
import shutil
import sqlite3
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avgkit import HostData, Kit
from avgkit.errors import PolicyError, StorageError, ValidationError
from avgkit.host import HostSubject, SubjectKind
from avgkit.inventory import Inventory
from avgkit.presets import ticketing
from avgkit.retention import CONTRACT_END, RetentionPolicy
from avgkit.subjects import SubjectId
from avgkit.testing import ManualClock
from avgkit.testing.conformance import HostDataContract, HostScenario

sys.path.insert(0, str(Path(__file__).parents[1] / "examples"))

from ticketshop import (
    SOURCES,
    TicketShopHost,
    create_indexes,
    create_tables,
    generate,
    to_micros,
)

generator = importlib.import_module("ticketshop.generate")  # the module, not the function

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
ACCOUNTS = frozenset({SubjectKind.ACCOUNT})
EVENT = NOW + timedelta(days=20)
PAST = NOW - timedelta(days=30)
TYPES = frozenset({"purchase", "login", "newsletter_read"})
VISITORS = 400

BUYER = {
    "name": "Anna de Vries",
    "email": "anna@example.nl",
    "phone": "+31612345678",
    "street_address": "Herestraat 12",
    "postcode": "9711 LM",
    "birth_date": "1984-03-09",
}
BUYER_IBAN = "NL91ABNA0417164300"
BUYER_IP = "192.0.2.10"
ATTENDEE = {"name": "Bram Jansen", "email": "bram@example.org"}
BYSTANDER = {"name": "Carla Peeters", "email": "carla@example.be", "phone": "+32470123456"}
BYSTANDER_IBAN = "BE68539007547034"


def us(value):
    return to_micros(value)


def fill(conn):
    """A hand-filled shop: a buyer whose order names an attendee, and a bystander."""
    create_tables(conn)
    create_indexes(conn)
    conn.execute("INSERT INTO events VALUES (1, 'Hamlet')")
    conn.executemany("INSERT INTO performances VALUES (?, 1, ?)", [(1, us(PAST)), (2, us(EVENT))])
    b = BUYER
    conn.execute(
        "INSERT INTO visitors VALUES ('v1', 'account', ?, ?, ?, ?, ?, 'Groningen', 'NL', ?, ?, "
        "NULL)",
        (b["name"], b["email"], b["phone"], b["street_address"], b["postcode"],
         b["birth_date"], us(NOW - timedelta(days=400))),
    )  # fmt: skip
    conn.execute("INSERT INTO logins (visitor_id, at) VALUES ('v1', ?)", (us(NOW - timedelta(1)),))
    conn.execute(
        "INSERT INTO newsletter_reads (visitor_id, at) VALUES ('v1', ?)",
        (us(NOW - timedelta(3)),),
    )
    orders = [
        (1, "O1", "v1", "web", us(PAST - timedelta(10)), 2700, b["name"], b["email"], BUYER_IP),
        (2, "O2", "v1", "web", us(NOW - timedelta(2)), 5150, b["name"], b["email"], BUYER_IP),
        (3, "O3", "v2", "box_office", us(NOW - timedelta(900)), 2450, BYSTANDER["name"],
         BYSTANDER["email"], None),
    ]  # fmt: skip
    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", orders)
    tickets = [
        (1, 1, 1, "TS1", 2450, None, b["name"], None),  # the buyer's own, personalised
        (2, 2, 2, "TS2", 2450, None, None, None),
        (3, 2, 2, "TS3", 2450, "a1", ATTENDEE["name"], ATTENDEE["email"]),  # the attendee's
        (4, 3, 1, "TS4", 2450, None, None, None),
    ]
    conn.executemany("INSERT INTO tickets VALUES (?, ?, ?, ?, ?, ?, ?, ?)", tickets)
    payments = [
        (1, 1, 2700, "ideal", b["name"], BUYER_IBAN, us(PAST - timedelta(10))),
        (2, 2, 5150, "ideal", b["name"], BUYER_IBAN, us(NOW - timedelta(2))),
        (3, 3, 2450, "pin", None, BYSTANDER_IBAN, us(NOW - timedelta(900))),
    ]
    conn.executemany("INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?, ?)", payments)
    conn.execute(
        "INSERT INTO visitors VALUES ('v2', 'guest', ?, ?, ?, NULL, NULL, NULL, NULL, NULL, ?, "
        "NULL)",
        (BYSTANDER["name"], BYSTANDER["email"], BYSTANDER["phone"], us(NOW - timedelta(900))),
    )
    conn.execute(
        "INSERT INTO support_mails (visitor_id, received_at, from_name, from_email, body, "
        "has_bank_details) VALUES ('v2', ?, ?, ?, ?, 1)",
        (
            us(NOW - timedelta(899)),
            BYSTANDER["name"],
            BYSTANDER["email"],
            f"Graag terugstorten op {BYSTANDER_IBAN}. Groet, {BYSTANDER['name']}",
        ),
    )
    conn.executemany(
        "INSERT INTO camera_footage (camera, recorded_at, file) VALUES (?, ?, ?)",
        [("inside", us(NOW - timedelta(40)), "inside/1.mp4"),
         ("outside", us(NOW - timedelta(40)), "outside/1.mp4"),
         ("inside", us(NOW - timedelta(2)), "inside/2.mp4")],
    )  # fmt: skip


def scenario():
    return HostScenario(
        buyer=SubjectId("v1"),
        attendee=SubjectId("a1"),
        bystander=SubjectId("v2"),
        personal={
            SubjectId("v1"): frozenset({*BUYER.values(), BUYER_IBAN, BUYER_IP}),
            SubjectId("a1"): frozenset(ATTENDEE.values()),
            SubjectId("v2"): frozenset({*BYSTANDER.values(), BYSTANDER_IBAN}),
        },
        event_at=EVENT,
        categories=frozenset({"EmailAddress"}),
        now=NOW,
    )


@pytest.fixture
def shop():
    """The hand-filled shop on an in-memory connection, and a host over it."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    fill(conn)
    host = TicketShopHost(conn, ticketing.inventory())
    yield host, conn
    conn.close()


class TestTicketShopHost(HostDataContract):
    """The shop passes avgkit's HostData contract."""

    @pytest.fixture(autouse=True)
    def _connections(self):
        self.opened = []
        yield
        for conn in self.opened:
            conn.close()

    def make_host(self):
        conn = sqlite3.connect(":memory:", isolation_level=None)
        self.opened.append(conn)
        fill(conn)
        return TicketShopHost(conn, ticketing.inventory(), page_size=2), scenario()


# -- a generated shop ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("shop") / "shop.db"
    generate(path, VISITORS, now=NOW, seed=7)
    return path


@pytest.fixture(scope="module")
def host(generated):
    with TicketShopHost(generated, ticketing.inventory()) as opened:
        yield opened


class Listed(list):
    """The generated shop's subjects (a short repr, for hypothesis's failure reports)."""

    def __repr__(self):
        return f"<{len(self)} subjects>"


@pytest.fixture(scope="module")
def listed(host):
    return Listed(host.subjects())


@pytest.fixture
def copy(generated, tmp_path):
    """A writable copy of the generated shop, with a caller's connection to it."""
    target = tmp_path / "copy.db"
    shutil.copyfile(generated, target)
    conn = sqlite3.connect(target, isolation_level=None)
    yield conn
    conn.close()


def test_the_shop_is_a_host_data(host):
    assert isinstance(host, HostData)
    assert host.capabilities.inactive_since
    assert host.capabilities.activity_types == {*TYPES, CONTRACT_END}


def test_the_presets_record_rules_name_sources_of_the_shop():
    for rule in ticketing.retention_policy().rules:
        assert rule.records <= SOURCES.keys()


def test_subjects_have_the_kind_of_their_visitor_row_and_attendees_their_own(generated, listed):
    conn = sqlite3.connect(generated)
    try:
        kinds = dict(conn.execute("SELECT id, kind FROM visitors"))
        named = conn.execute("SELECT attendee_id FROM tickets WHERE attendee_id NOT NULL")
        attendees = {row[0] for row in named}
    finally:
        conn.close()
    by_id = {s.id: s.kind for s in listed}
    assert len(by_id) == len(listed)  # each subject once
    assert {sid: kind for sid, kind in by_id.items() if sid in kinds} == kinds
    assert {sid for sid, kind in by_id.items() if kind is SubjectKind.ATTENDEE} == attendees
    counts = Counter(by_id.values())
    assert counts[SubjectKind.ACCOUNT] > 0.7 * VISITORS
    assert 0.08 * VISITORS < counts[SubjectKind.GUEST] < 0.25 * VISITORS
    assert 0 < counts[SubjectKind.RELATION] < 0.06 * VISITORS
    for subject in listed:
        if subject.kind is SubjectKind.RELATION:
            assert set(subject.last_activity) == {"contract_end"}
        if subject.kind is SubjectKind.ACCOUNT:
            assert "login" in subject.last_activity  # registering logs one in
        if subject.kind is SubjectKind.ATTENDEE:
            assert subject.last_activity == {}


def test_a_guest_has_one_box_office_order_for_one_performance(host, listed):
    guests = [s for s in listed if s.kind is SubjectKind.GUEST]
    assert guests
    for guest in guests:
        (date,) = host.event_dates(guest.id)
        bought = guest.last_activity["purchase"]
        assert date - timedelta(days=15) < bought <= date
        assert bought < NOW
        orders = [r for r in host.records(guest.id) if r.source == "orders"]
        assert len(orders) == 1
    upcoming = [g for g in guests if host.event_dates(g.id, after=NOW)]
    assert len(upcoming) < len(guests) / 5  # a few presales for what is still to come


def test_event_dates_after_leaves_out_the_past(host, listed):
    for subject in listed[:80]:
        dates = host.event_dates(subject.id)
        assert list(dates) == sorted(set(dates))
        assert host.event_dates(subject.id, after=NOW) == tuple(d for d in dates if d > NOW)


@settings(max_examples=40)
@given(
    cutoff=st.datetimes(
        min_value=datetime(2015, 1, 1),  # noqa: DTZ001 - made aware by timezones=
        max_value=datetime(2025, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    types=st.sets(st.sampled_from(sorted([*TYPES, "contract_end", "unknown_type"]))),
)
def test_inactive_since_agrees_with_the_activity_of_every_subject(host, listed, cutoff, types):
    kinds = frozenset(types)
    expected = {s.id for s in listed if (last := s.last_active(kinds)) is None or last < cutoff}
    found = [s.id for s in host.inactive_since(kinds, before=cutoff)]
    assert len(found) == len(set(found))
    assert set(found) == expected
    accounts = {s.id for s in host.inactive_since(kinds, before=cutoff, kinds=ACCOUNTS)}
    assert accounts == {s.id for s in listed if s.id in expected and s.kind == "account"}


@settings(max_examples=40)
@given(
    cutoff=st.datetimes(
        min_value=datetime(2015, 1, 1),  # noqa: DTZ001 - made aware by timezones=
        max_value=datetime(2025, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    types=st.sets(st.sampled_from(sorted([*TYPES, "contract_end", "unknown_type"]))),
    kinds=st.none() | st.sets(st.sampled_from(SubjectKind)).map(frozenset),
)
def test_last_active_before_gives_the_idle_subjects_last_activity(
    host, listed, cutoff, types, kinds
):
    asked = frozenset(types)
    expected = {
        (s.id, s.kind, last)
        for s in listed
        if (kinds is None or s.kind in kinds)
        and (last := s.last_active(asked)) is not None
        and last < cutoff
    }
    found = list(host.last_active_before(asked, before=cutoff, kinds=kinds))
    assert len(found) == len(expected)
    assert set(found) == expected
    assert all(type(kind) is SubjectKind and last.tzinfo is UTC for _, kind, last in found)


def test_subjects_pages_by_key_and_streams(generated):
    conn = sqlite3.connect(generated)
    statements = []
    conn.set_trace_callback(statements.append)
    try:
        small = TicketShopHost(conn, ticketing.inventory(), page_size=7)
        stream = small.subjects()
        first = next(stream)
        assert len([s for s in statements if "LIMIT" in s]) == 1  # one page, not all
        rest = list(stream)
        whole = TicketShopHost(conn, ticketing.inventory(), page_size=100_000)
        assert [first, *rest] == list(whole.subjects())
        assert len(rest) + 1 > VISITORS
        assert sum("LIMIT" in s for s in statements) > VISITORS / 7
    finally:
        conn.close()


def test_deleting_a_buyer_keeps_the_amounts_of_their_orders_and_payments(copy):
    buyer = copy.execute(
        "SELECT o.buyer_id FROM orders o JOIN payments p ON p.order_id = o.id "
        "WHERE p.bank_account IS NOT NULL GROUP BY o.buyer_id HAVING count(*) >= 2 LIMIT 1"
    ).fetchone()[0]
    amounts = (
        "SELECT o.code, o.total_cents, p.amount_cents, o.created_at, p.paid_at FROM orders o "
        "JOIN payments p ON p.order_id = o.id WHERE o.buyer_id = ? ORDER BY o.code"
    )
    before = copy.execute(amounts, (buyer,)).fetchall()
    host = TicketShopHost(copy, ticketing.inventory())
    outcome = host.delete(SubjectId(buyer))
    assert copy.execute(amounts, (buyer,)).fetchall() == before
    assert outcome.anonymised >= 2 * len(before)
    leftovers = copy.execute(
        "SELECT count(*) FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.buyer_id = ? "
        "AND coalesce(o.billing_name, o.billing_email, o.ip_address, p.account_holder, "
        "p.bank_account) IS NOT NULL",
        (buyer,),
    ).fetchone()[0]
    assert leftovers == 0
    for table in ("visitors", "logins", "newsletter_reads", "waiting_list", "support_mails"):
        column = "id" if table == "visitors" else "visitor_id"
        assert (
            copy.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", (buyer,)).fetchone()[0]
            == 0
        )
    own_tickets = copy.execute(
        "SELECT count(*) FROM tickets t JOIN orders o ON o.id = t.order_id "
        "WHERE o.buyer_id = ? AND t.attendee_id IS NULL",
        (buyer,),
    ).fetchone()[0]
    assert own_tickets == 0
    assert host.subject(SubjectId(buyer)) is None
    assert all(not r.values for r in host.records(SubjectId(buyer)))
    assert host.delete(SubjectId(buyer)) == host.delete(SubjectId(buyer))  # converged


def test_deleting_a_buyer_keeps_the_ticket_of_their_companion(shop):
    host, _ = shop
    host.delete(SubjectId("v1"))
    (ticket,) = [r for r in host.records(SubjectId("a1")) if r.source == "tickets"]
    assert ticket.values == ATTENDEE
    assert host.event_dates(SubjectId("a1")) == (EVENT,)


def test_anonymising_an_attendee_keeps_them_as_a_subject_without_values(shop):
    host, _ = shop
    outcome = host.anonymise(SubjectId("a1"))
    assert (outcome.anonymised, outcome.deleted) == (1, 0)
    assert host.subject(SubjectId("a1")) == HostSubject(id="a1", kind="attendee")
    assert all(not r.values for r in host.records(SubjectId("a1")))
    buyer = {t for r in host.records(SubjectId("v1")) for t in r.texts()}
    assert set(BUYER.values()) <= buyer


def test_records_are_keyed_by_inventory_fields_and_sources(shop):
    host, _ = shop
    records = list(host.records(SubjectId("v1")))
    assert {r.source for r in records} == {
        "visitors", "orders", "tickets", "payments", "logins", "newsletter_reads",
    }  # fmt: skip
    inventory = ticketing.inventory()
    for record in records:
        for key in record.values:
            inventory.field(key)
        assert record.fiscal == (record.source in {"orders", "payments"})
    (visitor,) = [r for r in records if r.source == "visitors"]
    assert visitor.values == {**BUYER, "city": "Groningen", "country": "NL"}
    tickets = {r.key: dict(r.values) for r in records if r.source == "tickets"}
    assert tickets == {"TS1": {"name": BUYER["name"]}, "TS2": {}, "TS3": {}}
    mail = list(host.records(SubjectId("v2")))
    (flagged,) = [r for r in mail if r.source == "support_mail_bank_details"]
    assert BYSTANDER_IBAN in flagged.values["bank_account"]


def test_subjects_with_finds_holders_by_category_and_period(shop):
    host, _ = shop

    def holders(*categories, until=NOW):
        return set(host.subjects_with(frozenset(categories), since=NOW, until=until))

    assert holders("EmailAddress") == {"v1", "v2", "a1"}
    assert holders("BankAccount") == {"v1", "v2"}
    assert holders("IPAddress") == {"v1"}
    assert holders("EmailAddress", until=NOW - timedelta(days=500)) == {"v2"}
    assert holders("HealthRecord") == set()


def test_camera_footage_and_mail_are_swept_by_record(shop):
    host, conn = shop
    old = list(host.collected_before(frozenset({"camera_inside"}), before=NOW - timedelta(30)))
    assert [r.source for r in old] == ["camera_inside"]
    assert old[0].values == {}
    assert host.erase_record("camera_inside", old[0].key).deleted == 1
    assert host.erase_record("camera_outside", old[0].key).deleted == 0  # another camera's key
    assert conn.execute("SELECT count(*) FROM camera_footage").fetchone()[0] == 2
    (mail,) = host.collected_before(
        frozenset({"support_mail", "support_mail_bank_details"}), before=NOW
    )
    assert host.erase_record("support_mail", mail.key).deleted == 0  # not that source
    assert host.erase_record("support_mail_bank_details", mail.key, keep=True).anonymised == 1
    assert conn.execute("SELECT body FROM support_mails").fetchone() == (None,)
    assert host.erase_record("payments", "not-a-number").anonymised == 0


def test_an_erasure_is_one_transaction(shop):
    host, conn = shop
    conn.execute(
        "CREATE TRIGGER refuse BEFORE DELETE ON support_mails BEGIN "
        "SELECT RAISE(ABORT, 'mail is kept'); END"
    )
    with pytest.raises(StorageError, match="deleting a subject") as caught:
        host.delete(SubjectId("v2"))
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    assert host.subject(SubjectId("v2")) is not None
    texts = {t for r in host.records(SubjectId("v2")) for t in r.texts()}
    assert set(BYSTANDER.values()) <= texts
    assert not conn.in_transaction


def test_an_erasure_inside_the_callers_transaction_is_part_of_it(shop):
    host, conn = shop
    conn.execute("BEGIN")
    host.delete(SubjectId("v2"))
    assert host.subject(SubjectId("v2")) is None
    conn.execute("ROLLBACK")
    assert host.subject(SubjectId("v2")) is not None


def test_nothing_personal_in_reprs_or_errors(shop, tmp_path):
    host, _ = shop
    assert "Anna" not in repr(host)
    assert all("Anna" not in repr(r) for r in host.records(SubjectId("v1")))
    with pytest.raises(StorageError, match=r"missing\.db") as caught:
        TicketShopHost(tmp_path / "missing.db", ticketing.inventory())
    assert str(tmp_path) not in str(caught.value)
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    with pytest.raises(StorageError, match="no such table"):
        TicketShopHost(other, ticketing.inventory())


def test_the_host_refuses_bad_arguments(shop):
    host, _ = shop
    with pytest.raises(ValidationError, match="naive"):
        list(host.inactive_since(TYPES, before=datetime(2024, 1, 1)))  # noqa: DTZ001
    with pytest.raises(ValidationError):
        host.subject("")
    with pytest.raises(ValidationError, match="page_size"):
        TicketShopHost(host._conn, ticketing.inventory(), page_size=0)
    bare = Inventory.from_mapping(
        {
            "controller": {
                "name": "Venue",
                "address": "Voorbeeldstraat 1, Groningen",
                "email": "privacy@venue.example",
                "country": "NL",
            },
            "purposes": {
                "ticket_sale": {
                    "basis": "contract",
                    "description": {"nl": "Kaartverkoop.", "en": "Selling tickets."},
                    "retention": {"nl": "7 jaar.", "en": "7 years."},
                }
            },
            "fields": {
                "name": {"category": "Name", "identifier": "direct", "treatment": "drop",
                         "purposes": ["ticket_sale"]},
            },
        }
    )  # fmt: skip
    with pytest.raises(PolicyError, match="email"):
        TicketShopHost(host._conn, bare)


# -- the generator -------------------------------------------------------------------------


def dump(path):
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_the_generator_is_deterministic_for_a_seed(tmp_path, monkeypatch):
    first, again, other = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "c.db"
    generate(first, 150, now=NOW, seed=3)
    monkeypatch.setattr(generator, "PARALLEL_FROM", 1)  # the two-process path, same rows
    made = generate(again, 150, now=NOW, seed=3)
    generate(other, 150, now=NOW, seed=4)
    assert dump(first) == dump(again)
    assert dump(first) != dump(other)
    assert made.rows["visitors"] == 150


def test_the_generator_refuses_to_overwrite(tmp_path):
    path = tmp_path / "shop.db"
    generate(path, 5, now=NOW)
    with pytest.raises(FileExistsError):
        generate(path, 5, now=NOW)
    assert generate(path, 7, now=NOW, replace=True).rows["visitors"] == 7


def test_the_generator_runs_as_a_script(tmp_path):
    import subprocess

    script = Path(__file__).parents[1] / "examples" / "ticketshop" / "generate.py"
    out = tmp_path / "cli.db"
    result = subprocess.run(
        [sys.executable, str(script), "--visitors", "30", "--out", str(out), "--seed", "3"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "visitors" in result.stdout
    assert out.exists()


# -- avgkit over the shop ------------------------------------------------------------------


def test_the_plan_finds_the_accounts_idle_for_two_years(generated, tmp_path):
    rule = ticketing.retention_policy().rule("inactive_accounts")
    policy = RetentionPolicy([rule])
    with (
        TicketShopHost(generated, ticketing.inventory()) as shop_host,
        Kit.open(
            f"sqlite:///{tmp_path / 'avgkit.db'}",
            inventory=ticketing.inventory(),
            host=shop_host,
            retention_policy=policy,
            clock=ManualClock(NOW),
        ) as kit,
    ):
        actions = list(kit.retention.plan(at=NOW))
        # Nobody was warned yet, so every idle account's first action is its warning.
        assert all(a.warning and not a.deferred for a in actions)
        expected = {
            s.id
            for s in shop_host.subjects()
            if s.kind is SubjectKind.ACCOUNT
            and (last := s.last_active(TYPES)) is not None
            and rule.warning_due(last) <= NOW
        }
        planned = {a.subject for a in actions}
        assert planned == expected
        assert len(planned) == len(actions)
        assert 0.1 * VISITORS < len(planned) < 0.7 * VISITORS
