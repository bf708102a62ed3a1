"""The Django example shop: avgkit inside a Django project, tested with pytest-django.

Each test gets a database file of its own (``conftest.py``), migrated by Django, holding the
shop's tables and avgkit's stores side by side; the kit runs on a manual clock.
"""

import sqlite3
from datetime import UTC, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from dateutil.relativedelta import relativedelta
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shop import avg
from shop.checkout import Purchase, place_order
from shop.consents import OFFERED
from shop.models import Event, Order, Ticket, Visitor
from shop.payments import PaymentDeclinedError
from shop.table_map import TABLE_MAP

from avgkit.consent import ConsentStatus
from avgkit.dsar import export_schema
from avgkit.errors import PolicyError
from avgkit.host.sql import SqlHostData, check_coverage
from avgkit.subjects import SubjectId
from avgkit.testing import ManualClock
from avgkit.testing.conformance import HostDataContract, HostScenario

NOW = datetime(2025, 6, 2, 10, tzinfo=UTC)
LATER = NOW + timedelta(days=20)  # a performance still to come


@pytest.fixture
def clock():
    return ManualClock(NOW)


@pytest.fixture
def shop(transactional_db, clock):  # noqa: ARG001 - committed rows: avgkit reads them too
    """avgkit over the test's database, on the manual clock."""
    opened = avg.open_shop_avg(clock=clock)
    yield opened
    avg.close_shop_avg()


# -- the host from the table map passes avgkit's contract -----------------------------------

BUYER = {"name": "Ada Koper", "email": "ada@example.nl", "phone": "+31 6 1234 5678"}
ATTENDEE = {"name": "Bram Gast", "email": "bram@example.nl"}
BYSTANDER = {"name": "Cor Ander", "email": "cor@example.nl", "postcode": "9712 AB"}


def fill():
    """The contract's scenario in the shop's tables, through the ORM."""
    for model in (Ticket, Order, Visitor, Event):
        model.objects.all().delete()
    past = Event.objects.create(
        title="Hamlet", starts_at=NOW - timedelta(days=30), price_cents=2450
    )
    coming = Event.objects.create(title="Lear", starts_at=LATER, price_cents=2450)
    buyer = Visitor.objects.create(
        id="v1", kind="account", created_at=NOW - timedelta(days=400),
        last_login_at=NOW - timedelta(days=1), **BUYER,
    )  # fmt: skip
    bystander = Visitor.objects.create(
        id="v2", kind="guest", created_at=NOW - timedelta(days=900), **BYSTANDER
    )
    first = Order.objects.create(
        code="O1", buyer=buyer, created_at=NOW - timedelta(days=40), total_cents=2450,
        billing_name=BUYER["name"], billing_email=BUYER["email"],
    )  # fmt: skip
    Ticket.objects.create(order=first, event=past, price_cents=2450, attendee_name=BUYER["name"])
    second = Order.objects.create(
        code="O2", buyer=buyer, created_at=NOW - timedelta(days=2), total_cents=4900,
        billing_name=BUYER["name"], billing_email=BUYER["email"],
    )  # fmt: skip
    Ticket.objects.create(order=second, event=coming, price_cents=2450)
    Ticket.objects.create(
        order=second, event=coming, price_cents=2450, attendee_ref="a1",
        attendee_name=ATTENDEE["name"], attendee_email=ATTENDEE["email"],
    )  # fmt: skip
    third = Order.objects.create(
        code="O3", buyer=bystander, created_at=NOW - timedelta(days=900), total_cents=2450,
        billing_name=BYSTANDER["name"], billing_email=BYSTANDER["email"],
    )  # fmt: skip
    Ticket.objects.create(order=third, event=past, price_cents=2450)
    return HostScenario(
        buyer=SubjectId("v1"),
        attendee=SubjectId("a1"),
        bystander=SubjectId("v2"),
        personal={
            SubjectId("v1"): frozenset(BUYER.values()),
            SubjectId("a1"): frozenset(ATTENDEE.values()),
            SubjectId("v2"): frozenset(BYSTANDER.values()),
        },
        event_at=LATER,
        categories=frozenset({"EmailAddress"}),
        now=NOW,
    )


class TestShopHost(HostDataContract):
    """The HostData avgkit builds from the shop's table map, over Django's tables."""

    @pytest.fixture(autouse=True)
    def _shop(self, shop):
        self.shop = shop

    def make_host(self):
        scenario = fill()
        return SqlHostData(self.shop.engine, TABLE_MAP, self.shop.kit.inventory), scenario


# -- the shop's pages --------------------------------------------------------------------------

ADA = {"name": "Ada <b>Koper</b>", "email": "ada@example.nl"}
BEN = {"name": "Ben Buurman", "email": "ben@example.nl"}


@pytest.fixture
def hamlet(shop):  # noqa: ARG001 - the database and the kit come first
    return Event.objects.create(title="Hamlet", starts_at=LATER, price_cents=2450)


def buy(event, person, *, client=None, **fields):
    """Check out as ``person`` in a browser of their own; returns the browser and response."""
    client = client or Client()
    data = {"seats": 1, "payment": "ideal", **person, **fields}
    response = client.post(f"/events/{event.pk}/checkout/", data)
    return client, response


def only(model, **filters):
    (found,) = model.objects.filter(**filters)
    return found


def shop_texts():
    """Every text value in the shop's own tables (Django's), to search for personal data."""
    with connection.cursor() as cursor:
        for model in (Visitor, Event, Order, Ticket):
            table = model._meta.db_table
            columns = [f.column for f in model._meta.concrete_fields]
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table}")
            for row in cursor.fetchall():
                yield from (v for v in row if isinstance(v, str))


def test_checkout_stores_the_order_and_the_consent_together(shop, hamlet):
    _, response = buy(hamlet, ADA, seats=2, consent_newsletter="on", companion_name="Bram Gast")
    assert response.status_code == 302
    order = only(Order, billing_email=ADA["email"])
    assert response["Location"] == f"/orders/{order.code}/"
    assert order.total_cents == 4900
    assert order.tickets.count() == 2
    assert only(Ticket, order=order, attendee_ref__isnull=False).attendee_name == "Bram Gast"
    kit = shop.kit
    (event,) = kit.consent.history(order.buyer_id)
    assert event.purpose == "newsletter"
    assert event.evidence.order_ref == order.code
    assert kit.may_process(order.buyer_id, "newsletter")
    assert not kit.may_process(order.buyer_id, "loyalty_programme")  # not ticked: not given
    assert kit.audit.verify().entries == 1


def test_a_declined_payment_rolls_back_the_order_and_the_consent(shop, hamlet):
    _, response = buy(
        hamlet, ADA, payment="ideal_declined", consent_newsletter="on",
        consent_loyalty_programme="on", keep_account="on",
    )  # fmt: skip
    assert response.status_code == 402
    assert b"Nothing was stored" in response.content
    assert not Visitor.objects.exists()
    assert not Order.objects.exists()
    assert not Ticket.objects.exists()
    kit = shop.kit
    assert list(kit.consent.events(since=NOW - timedelta(days=1), until=NOW + timedelta(1))) == []
    assert len(kit.audit) == 0
    _, response = buy(hamlet, ADA, consent_newsletter="on")  # trying again works
    assert response.status_code == 302
    assert kit.may_process(only(Order).buyer_id, "newsletter")


def test_a_failure_after_the_consent_undoes_the_order_and_the_consent(shop, hamlet, monkeypatch):
    from shop import checkout

    def broken(*_args):
        msg = "the payment provider is unreachable"
        raise ConnectionError(msg)

    monkeypatch.setattr(checkout, "charge", broken)
    with pytest.raises(ConnectionError):
        buy(hamlet, ADA, consent_newsletter="on")
    assert not Order.objects.exists()
    assert len(shop.kit.audit) == 0


@pytest.mark.usefixtures("shop")
def test_the_account_page_shows_the_history_and_nobody_elses_data(hamlet):
    ada, _ = buy(hamlet, ADA, consent_newsletter="on", keep_account="on")
    buy(hamlet, BEN, consent_loyalty_programme="on")
    ben_order = only(Order, billing_email=BEN["email"])
    page = ada.get("/account/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Ada &lt;b&gt;Koper&lt;/b&gt;" in html  # autoescaped
    assert "<b>Koper</b>" not in html
    assert ADA["email"] in html
    history = html.split('id="history"')[1]
    assert "given" in history
    assert "newsletter" in history
    assert only(Order, billing_email=ADA["email"]).code in history  # the order it came with
    for value in (BEN["name"], BEN["email"], ben_order.code, "loyalty_programme</td>"):
        assert value not in html
    assert "inactive_accounts: delete on" in html  # when the data goes


@pytest.mark.usefixtures("shop")
def test_the_account_needs_a_signed_in_visitor(hamlet):
    buy(hamlet, ADA)
    stranger = Client()
    assert stranger.get("/account/")["Location"] == "/signin/"
    stranger.cookies["shop_visitor"] = only(Visitor).id  # the id alone, unsigned
    assert stranger.get("/account/")["Location"] == "/signin/"
    assert stranger.get("/account/export.json")["Location"] == "/signin/"


def test_signing_in_with_the_order_code_counts_as_a_login(shop, hamlet, clock):
    buy(hamlet, ADA)
    order = only(Order)
    clock.advance(days=3)
    browser = Client()
    wrong = browser.post("/signin/", {"code": order.code, "email": BEN["email"]})
    assert wrong.status_code == 200
    assert b"No order with that code" in wrong.content
    response = browser.post("/signin/", {"code": order.code.lower(), "email": "ADA@example.nl"})
    assert response["Location"] == "/account/"
    assert only(Visitor).last_login_at == NOW + timedelta(days=3)
    assert shop.host.subject(SubjectId(order.buyer_id)).last_activity["login"] == clock.now()


def test_giving_and_withdrawing_on_the_account_page(shop, hamlet, clock):
    ada, _ = buy(hamlet, ADA)
    sid = only(Visitor).id
    assert (
        ada.post("/account/consent/", {"purpose": "loyalty_programme", "action": "give"})[
            "Location"
        ]
        == "/account/"
    )
    clock.advance(hours=1)
    ada.post("/account/consent/", {"purpose": "loyalty_programme", "action": "withdraw"})
    history = shop.kit.consent.history(sid)
    assert [(e.purpose, e.kind.value, e.evidence.channel.value) for e in history] == [
        ("loyalty_programme", "given", "webshop"),
        ("loyalty_programme", "withdrawn", "webshop"),
    ]
    assert shop.kit.consent.state(sid, "loyalty_programme").status is ConsentStatus.WITHDRAWN
    bad = ada.post("/account/consent/", {"purpose": "share_with_artist", "action": "give"})
    assert bad.status_code == 400  # a declared purpose, but not one the page offers


@pytest.mark.usefixtures("shop")
def test_the_download_is_the_schema_valid_access_export(hamlet):
    ada, _ = buy(hamlet, ADA, consent_newsletter="on")
    buy(hamlet, BEN)
    response = ada.get("/account/export.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="my-data-2025-06-02.json"'
    assert response["Cache-Control"] == "no-store"
    document = response.json()
    jsonschema.validate(document, export_schema())
    text = response.content.decode()
    assert ADA["email"] in text
    assert BEN["email"] not in text
    assert BEN["name"] not in text


def test_deleting_the_account_erases_it_and_keeps_the_fiscal_amounts(shop, hamlet, clock):
    ada, _ = buy(hamlet, ADA, seats=2, consent_newsletter="on", companion_name="Bram Gast")
    buy(hamlet, BEN)
    order = only(Order, billing_email=ADA["email"])
    sid = order.buyer_id
    clock.set(LATER + timedelta(days=1))  # after the visit: nothing defers the erasure
    response = ada.post("/account/delete/", {"confirm": "on"})
    assert response.status_code == 200
    assert b"Your account is erased" in response.content
    assert response.cookies["shop_visitor"].value == ""  # signed out
    assert not Visitor.objects.filter(pk=sid).exists()
    kept = Order.objects.get(pk=order.pk)
    assert (kept.total_cents, kept.created_at, kept.billing_name, kept.billing_email) == (
        4900, NOW, None, None
    )  # fmt: skip
    texts = list(shop_texts())
    for value in ADA.values():
        assert not [t for t in texts if value in t]
    assert "Bram Gast" in texts  # the companion is a subject of their own: not Ada's to erase
    assert BEN["name"] in texts
    assert not shop.kit.may_process(sid, "newsletter")
    assert shop.kit.consent.history(sid) == ()  # re-keyed to the pseudonymous reference
    assert shop.kit.audit.verify().entries > 0
    assert ada.get("/account/")["Location"] == "/signin/"


@pytest.mark.usefixtures("shop")
def test_deleting_before_a_visit_waits_for_it_then_the_cleanup_erases(hamlet, clock):
    ada, _ = buy(hamlet, ADA)
    sid = only(Visitor).id
    response = ada.post("/account/delete/", {"confirm": "on"})
    assert response["Location"] == "/account/#erasure"
    page = ada.get("/account/").content.decode()
    assert "Your request to erase your account is being handled" in page
    assert "your data goes\n  after 22 Jun 2025" in page
    assert "Delete my account</button>" not in page  # asked once is enough
    call_command("avgkit_cleanup", stdout=(out := StringIO()))
    assert Visitor.objects.filter(pk=sid).exists()  # the visit is still to come
    assert "0 erasure request(s) finished" in out.getvalue()
    clock.set(LATER + timedelta(hours=3))
    call_command("avgkit_cleanup", stdout=(out := StringIO()))
    assert "1 erasure request(s) finished after a visit" in out.getvalue()
    assert not Visitor.objects.filter(pk=sid).exists()


def test_the_cleanup_warns_then_erases_an_inactive_account(shop, hamlet, clock):
    buy(hamlet, ADA, keep_account="on")
    buy(hamlet, BEN, keep_account="on")
    ada, ben = only(Visitor, email=ADA["email"]), only(Visitor, email=BEN["email"])
    clock.advance(relativedelta(years=2, days=1))
    ben.last_login_at = clock.now() - timedelta(days=1)  # Ben came back
    ben.save()
    audit = len(shop.kit.audit)
    call_command("avgkit_cleanup", "--dry-run", stdout=(out := StringIO()))
    plan = out.getvalue()
    assert f"warn     inactive_accounts      delete    {shop.kit.audit.subject_ref(ada.id)}" in plan
    assert shop.kit.audit.subject_ref(ben.id) not in plan
    assert ADA["email"] not in plan
    assert "nothing changed" in plan
    assert len(shop.kit.audit) == audit
    assert mail.outbox == []

    call_command("avgkit_cleanup", stdout=(out := StringIO()))
    (warning,) = mail.outbox
    assert warning.to == [ADA["email"]]
    assert "erased on 03 July 2027" in warning.body
    assert Visitor.objects.filter(pk=ada.id).exists()  # warned, not yet erased

    clock.advance(days=31)
    call_command("avgkit_cleanup", stdout=(out := StringIO()))
    assert "inactive_accounts      delete    erased" in out.getvalue()
    assert not Visitor.objects.filter(pk=ada.id).exists()
    assert Visitor.objects.filter(pk=ben.id).exists()
    assert only(Order, buyer_id=ada.id).billing_name is None


@pytest.mark.usefixtures("shop")
def test_the_cleanup_erases_a_guest_the_day_after_the_visit(hamlet, clock):
    buy(hamlet, ADA)  # no account kept: a guest
    guest = only(Visitor)
    assert guest.kind == "guest"
    clock.set(LATER + timedelta(days=2))
    call_command("avgkit_cleanup", stdout=StringIO())
    assert not Visitor.objects.exists()
    assert only(Order).total_cents == 2450


# -- the project itself ------------------------------------------------------------------------


@pytest.mark.usefixtures("shop")
def test_the_models_and_the_migrations_agree():
    call_command("makemigrations", "shop", "--check", "--dry-run", verbosity=0)
    call_command("check", verbosity=0)


def test_no_personal_column_of_the_shop_is_left_undeclared(shop):
    report = check_coverage(shop.engine, TABLE_MAP, shop.kit.inventory)
    assert [f for f in report.findings if f.table.startswith("shop_")] == []


def test_seeding_puts_three_evening_performances_on_the_programme(shop):
    call_command("seed_shop", stdout=(out := StringIO()))
    call_command("seed_shop", stdout=StringIO())  # a second time adds nothing
    assert "3 performance(s) added" in out.getvalue()
    starts = [event.starts_at for event in Event.objects.all()]
    assert len(starts) == 3
    assert all(when > shop.kit.clock.now() for when in starts)
    assert {when.astimezone(ZoneInfo("Europe/Amsterdam")).hour for when in starts} == {20}
    page = Client().get("/").content.decode()
    assert "&euro; 24.50" in page


def test_an_unmigrated_database_is_refused_naming_the_table(tmp_path):
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(PolicyError, match="shop_visitor"):
        avg.ShopAvg(str(empty))


@pytest.mark.usefixtures("shop")
def test_another_database_engine_is_refused_with_the_way_to_go(monkeypatch):
    avg.close_shop_avg()
    monkeypatch.setitem(connection.settings_dict, "ENGINE", "django.db.backends.postgresql")
    with pytest.raises(ImproperlyConfigured, match="PostgreSQL"):
        avg.shop_avg()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    case=st.fixed_dictionaries(
        {
            "consents": st.frozensets(st.sampled_from(OFFERED)),
            "paid": st.booleans(),
            "seats": st.integers(min_value=1, max_value=4),
            "companion": st.booleans(),
        }
    )
)
def test_a_checkout_stores_all_of_it_or_nothing(shop, hamlet, case):
    """Whatever was ticked and however the payment ends: the order with every consent, or none."""
    consents, paid, seats = case["consents"], case["paid"], case["seats"]
    companion = case["companion"] and seats > 1
    kit = shop.kit
    orders, tickets = Order.objects.count(), Ticket.objects.count()
    events, audit = len(consent_events(kit)), len(kit.audit)
    purchase = Purchase(
        event=hamlet, seats=seats, name=ADA["name"], email=ADA["email"], keep_account=True,
        consents=consents, payment="ideal" if paid else "ideal_declined",
        companion_name="Bram Gast" if companion else "",
    )  # fmt: skip
    try:
        order = place_order(shop, purchase)
    except PaymentDeclinedError:
        assert not paid
        assert (Order.objects.count(), Ticket.objects.count()) == (orders, tickets)
        assert (len(consent_events(kit)), len(kit.audit)) == (events, audit)
        return
    assert paid
    assert Order.objects.count() == orders + 1
    assert order.tickets.count() == seats
    given_now = [e for e in consent_events(kit) if e.subject == order.buyer_id]
    assert {e.purpose for e in given_now} == consents
    assert all(e.evidence.order_ref == order.code for e in given_now)
    assert len(kit.audit) == audit + len(consents)


def consent_events(kit):
    return list(kit.consent.events(since=NOW - timedelta(days=1), until=NOW + timedelta(days=1)))
