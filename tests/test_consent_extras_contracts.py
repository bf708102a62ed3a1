"""The consent store's extras (wordings, pending double opt-ins, grounds) against their contracts.

Every adapter runs WordingStoreContract, ConfirmationStoreContract and GroundsStoreContract;
the tests at the end prove that the contracts fail stores that break what they check.
"""

import itertools
from datetime import UTC, datetime

import attrs
import pytest

from avgkit.consent import Wording
from avgkit.errors import ValidationError
from avgkit.storage import (
    ConfirmationStore,
    ConsentStore,
    GroundsStore,
    WordingStore,
    open_stores,
)
from avgkit.storage.memory import MemoryConsentStore
from avgkit.testing.conformance import (
    Capabilities,
    ConfirmationStoreContract,
    GroundsStoreContract,
    WordingStoreContract,
)


def _leaves(value):
    """Every scalar inside an attrs value, each as text."""
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            yield from _leaves(getattr(value, field.name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _leaves(item)
    elif value is not None:
        yield str(getattr(value, "value", value))


def memory_raw_values(stores):
    """Every value the memory consent store keeps: events, wordings, pending, grounds."""
    store = stores.consent
    kept = [
        *store._events,
        *store._wordings,
        *store._withdrawals,
        *store._pending.values(),
        *store._grounds,
    ]
    return [*store._pending.keys(), *store._by_subject.keys(), *_leaves(kept)]


def sql_raw_values(stores):
    """Every value of every table of the set's database, each as text."""
    db = stores.consent._db
    values = []
    with db.read("test") as conn:
        if db.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'table'"
        else:
            query = (
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        for (table,) in conn.execute(query).fetchall():
            for row in conn.execute(f"SELECT * FROM {table}").fetchall():
                values += [v.decode() if isinstance(v, bytes) else str(v) for v in row]
    return values


# -- the contracts on every adapter ----------------------------------------------------------


class MemoryHooks:
    capabilities = Capabilities(persistent=False)

    def make_stores(self):
        return open_stores("memory://")

    def raw_values(self, stores):
        return memory_raw_values(stores)


class SqliteHooks:
    def make_stores(self):
        return open_stores(f"sqlite:///{self.tmp_path}/consent-{len(self._made)}.db")

    def raw_values(self, stores):
        return sql_raw_values(stores)


class PostgresHooks:
    @pytest.fixture(autouse=True)
    def _avgkit_pg_schemas(self, pg_schemas):
        self._new_url = pg_schemas

    def make_stores(self):
        return open_stores(self._new_url())

    def raw_values(self, stores):
        return sql_raw_values(stores)


class TestMemoryWordingStore(MemoryHooks, WordingStoreContract):
    pass


class TestMemoryConfirmationStore(MemoryHooks, ConfirmationStoreContract):
    pass


class TestMemoryGroundsStore(MemoryHooks, GroundsStoreContract):
    pass


class TestSqliteWordingStore(SqliteHooks, WordingStoreContract):
    pass


class TestSqliteConfirmationStore(SqliteHooks, ConfirmationStoreContract):
    pass


class TestSqliteGroundsStore(SqliteHooks, GroundsStoreContract):
    pass


class TestPostgresWordingStore(PostgresHooks, WordingStoreContract):
    registry_examples = 15  # each probe is two round trips to the server


class TestPostgresConfirmationStore(PostgresHooks, ConfirmationStoreContract):
    pending_examples = 15


class TestPostgresGroundsStore(PostgresHooks, GroundsStoreContract):
    grounds_examples = 15


def test_every_adapters_consent_store_keeps_the_extras(store_url):
    with open_stores(store_url) as stores:
        for protocol in (ConsentStore, WordingStore, ConfirmationStore, GroundsStore):
            assert isinstance(stores.consent, protocol), protocol.__name__


@pytest.mark.parametrize(
    "adapter",
    [
        "memory",
        "sqlite",
        "postgresql",
    ],
)
def test_a_text_with_a_nul_character_is_refused_as_bad_input_everywhere(adapter, request):
    url = request.getfixturevalue("pg_url") if adapter == "postgresql" else "memory://"
    if adapter == "sqlite":
        url = f"sqlite:///{request.getfixturevalue('tmp_path')}/nul.db"
    text = "Ja, stuur mij\x00 de nieuwsbrief."
    with open_stores(url) as stores:
        with pytest.raises(ValidationError, match="NUL"):
            Wording(
                purpose="newsletter",
                version="v1",
                lang="nl",
                text=text,
                valid_from=datetime(2024, 5, 1, tzinfo=UTC),
            )
        assert stores.consent.wording_index().wordings == ()


# -- the contracts catch what they are for ---------------------------------------------------


def _run(contract_class, method, tmp_path, store_class, *args):
    """Run one contract test by hand on a memory set whose consent store is ``store_class``."""

    class Broken(contract_class):  # not Test*: never collected
        capabilities = Capabilities(persistent=False)

        def make_stores(self):
            stores = open_stores("memory://")
            stores.consent = store_class(unit=stores.consent._unit)
            return stores

        def raw_values(self, stores):
            return memory_raw_values(stores)

    contract = Broken()
    contract.tmp_path = tmp_path
    contract._made = []
    try:
        getattr(contract, method)(*args)
    finally:
        for stores in contract._made:
            stores.close()


class _SettlesAgain(MemoryConsentStore):
    """Marks a token used however often it is presented: no compare-and-set."""

    def settle_pending(self, selector, at):
        found = self._pending.get(selector)
        if found is None:
            return False
        self._pending[selector] = attrs.evolve(found, settled_at=at)
        return True


class _KeepsTheToken(MemoryConsentStore):
    """Stores the pending consent as given, its token with it."""

    def add_pending(self, pending):
        self._pending[pending.selector] = pending


class _IgnoresExpiry(MemoryConsentStore):
    """Finds a pending consent open until it is used, whatever its expiry."""

    def open_pending(self, subject, purpose, at):
        found = [
            p
            for p in self._pending.values()
            if (p.subject, p.purpose) == (subject, purpose)
            and p.requested_at <= at
            and (p.settled_at is None or p.settled_at > at)
        ]
        return max(found, key=lambda p: p.requested_at, default=None)


class _RegistersItemByItem(MemoryConsentStore):
    """Registers each wording in a call of its own: a refusal keeps the ones before it."""

    def register_wordings(self, wordings):
        return sum(super(_RegistersItemByItem, self).register_wordings([w]) for w in wordings)


class _LatestRecorded(MemoryConsentStore):
    """Answers grounds() with the grounds recorded last, whatever their instant."""

    def grounds(self, subject, purpose, at):  # noqa: ARG002 - the defect: at is ignored
        found = [g for g in self._grounds if (g.subject, g.purpose) == (subject, purpose)]
        return found[-1] if found else None


class _ForgetsOnlyEvents(MemoryConsentStore):
    """Re-keys the events on erasure but leaves the pending consents and grounds."""

    def _forget_extras(self, raw, ref):
        pass


class _LocksWhileWalking(MemoryConsentStore):
    """Holds the set's lock while the caller walks the answer, as one long transaction."""

    def current_audience(self, purpose, at):
        with self._lock:
            yield from super().current_audience(purpose, at)


class _ReusesGenerations(MemoryConsentStore):
    """Undoes a registration's generation counter with it, as a counter in a transaction."""

    def register_wordings(self, wordings):
        before = self._generation
        added = super().register_wordings(wordings)
        if added:
            self._unit.changed(lambda: setattr(self, "_generations", itertools.count(before + 1)))
        return added


@pytest.mark.parametrize(
    ("contract_class", "method", "store_class"),
    [
        (ConfirmationStoreContract, "test_a_token_settles_once", _SettlesAgain),
        (
            ConfirmationStoreContract,
            "test_two_confirmations_racing_settle_exactly_once",
            _SettlesAgain,
        ),
        (
            ConfirmationStoreContract,
            "test_a_pending_consent_comes_back_with_every_field_and_without_its_token",
            _KeepsTheToken,
        ),
        (
            ConfirmationStoreContract,
            "test_neither_the_token_nor_its_verifier_reaches_the_backend",
            _KeepsTheToken,
        ),
        (
            ConfirmationStoreContract,
            "test_open_pending_honours_the_instants_as_given",
            _IgnoresExpiry,
        ),
        (
            ConfirmationStoreContract,
            "test_open_pending_follows_any_set_of_requests",
            _IgnoresExpiry,
        ),
        (
            ConfirmationStoreContract,
            "test_forget_deletes_the_subjects_pending_consents",
            _ForgetsOnlyEvents,
        ),
        (
            ConfirmationStoreContract,
            "test_a_forgotten_subjects_pending_consents_are_gone_from_the_backend",
            _ForgetsOnlyEvents,
        ),
        (
            WordingStoreContract,
            "test_the_languages_of_a_new_version_must_agree",
            _RegistersItemByItem,
        ),
        (
            WordingStoreContract,
            "test_a_writer_is_not_held_up_while_an_answer_is_walked",
            _LocksWhileWalking,
        ),
        (
            WordingStoreContract,
            "test_a_generation_seen_in_a_failed_block_is_never_seen_again",
            _ReusesGenerations,
        ),
        (
            GroundsStoreContract,
            "test_grounds_answers_the_latest_recorded_at_or_before_the_instant",
            _LatestRecorded,
        ),
        (GroundsStoreContract, "test_grounds_follow_any_set_of_records", _LatestRecorded),
        (GroundsStoreContract, "test_forget_rekeys_the_subjects_grounds", _ForgetsOnlyEvents),
        (
            GroundsStoreContract,
            "test_a_forgotten_subjects_grounds_are_gone_from_the_backend",
            _ForgetsOnlyEvents,
        ),
    ],
)
def test_the_contracts_fail_a_store_that_breaks_them(contract_class, method, store_class, tmp_path):
    with pytest.raises(AssertionError):
        _run(contract_class, method, tmp_path, store_class)


@pytest.mark.parametrize(
    "refused",
    [
        Wording(
            purpose="newsletter",
            version="v1",
            lang="nl",
            text="Ja, een andere tekst.",
            valid_from=datetime(2024, 5, 1, tzinfo=UTC),
        ),
        "Ja, stuur mij de nieuwsbrief.",
    ],
    ids=["another-text", "not-a-wording"],
)
def test_the_refused_registration_test_fails_a_store_that_registers_item_by_item(refused, tmp_path):
    with pytest.raises(AssertionError):
        _run(
            WordingStoreContract,
            "test_a_refused_registration_stores_nothing",
            tmp_path,
            _RegistersItemByItem,
            refused,
        )
