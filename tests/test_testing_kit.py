"""The testing kit users get: strategies over their own inventory, fixtures, the kit factory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avgkit import Kit
from avgkit.consent import Channel, ConsentAction, Evidence
from avgkit.errors import IntegrityError, ValidationError
from avgkit.inventory import (
    Controller,
    Field,
    IdentifierKind,
    Inventory,
    LawfulBasis,
    Purpose,
    Texts,
    Treatment,
)
from avgkit.retention import RetentionPolicy, RetentionRule, Trigger
from avgkit.testing import KitFactory, ManualClock
from avgkit.testing.strategies import (
    consent_events,
    consent_histories,
    evidences,
    inventories,
    retention_policies,
    retention_rules,
)

START = datetime(2024, 1, 1, 12, tzinfo=UTC)


def _own_inventory() -> Inventory:
    """A user's inventory whose purposes share no key with the ticketing preset."""
    return Inventory(
        controller=Controller(
            name="Filmhuis De Lichtbak",
            address="Markt 1, Utrecht",
            email="privacy@lichtbak.example",
            country="NL",
        ),
        purposes=[
            Purpose(
                key="film_tips",
                description=Texts(nl="Filmtips per e-mail", en="Film tips by e-mail"),
                basis=LawfulBasis.CONSENT,
                direct_marketing=True,
                subject_categories=("members",),
            ),
            Purpose(
                key="member_survey",
                description=Texts(nl="Ledenenquête", en="Member survey"),
                basis=LawfulBasis.LEGITIMATE_INTERESTS,
                subject_categories=("members",),
            ),
        ],
        fields=[
            Field(
                key="email",
                category="EmailAddress",
                identifier=IdentifierKind.DIRECT,
                purposes=("film_tips", "member_survey"),
                treatment=Treatment.DROP,
            )
        ],
    )


def _record(kit: Kit, event) -> None:
    record = {
        ConsentAction.GIVEN: kit.consent.give,
        ConsentAction.WITHDRAWN: kit.consent.withdraw,
        ConsentAction.OBJECTED: kit.consent.object,
        ConsentAction.OBJECTION_LIFTED: kit.consent.lift_objection,
    }[event.kind]
    record(event.subject, event.purpose, event.evidence, at=event.at)


def _actions():
    return {
        ConsentAction.GIVEN,
        ConsentAction.WITHDRAWN,
        ConsentAction.OBJECTED,
        ConsentAction.OBJECTION_LIFTED,
    }


def test_the_consent_actions_the_helper_records_are_all_there_are():
    assert set(ConsentAction) == _actions()


# --------------------------------------------------------------------------- strategies


@settings(max_examples=40, deadline=None)
@given(event=consent_events(inventory=_own_inventory(), channels=[Channel.WEBSHOP]))
def test_events_for_a_users_own_inventory_are_accepted_on_the_default_clock(event):
    assert event.purpose in {"film_tips", "member_survey"}
    with Kit.open("memory://", inventory=_own_inventory(), clock=ManualClock(START)) as kit:
        _record(kit, event)
        assert kit.consent.history(event.subject)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), inventory=inventories())
def test_events_drawn_for_any_generated_inventory_are_accepted(data, inventory):
    if not any(p.needs_consent or p.objection_allowed for p in inventory.purposes):
        with pytest.raises(ValidationError, match="at least one purpose"):
            data.draw(consent_events(inventory=inventory))
        return
    events = data.draw(
        st.lists(consent_events(inventory=inventory, channels=[Channel.WEBSHOP]), max_size=5)
    )
    with Kit.open("memory://", inventory=inventory, clock=ManualClock(START)) as kit:
        for event in events:
            _record(kit, event)


@settings(max_examples=40, deadline=None)
@given(event=consent_events())
def test_no_event_lies_in_the_future_of_the_plugin_clock(event):
    assert event.at <= START
    assert event.at >= START - timedelta(hours=480)
    confirmed = event.evidence.confirmed_at
    assert confirmed is None or confirmed >= event.at


@settings(max_examples=40, deadline=None)
@given(evidence=evidences(), at=st.integers(0, 10**6))
def test_evidence_drawn_without_an_instant_is_accepted_with_any_event(evidence, at):
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    when = clock.now() - timedelta(minutes=at)
    with Kit.open("memory://", inventory=_own_inventory(), clock=clock) as kit:
        if evidence.channel is not Channel.IMPORT:
            kit.consent.give("m-1", "film_tips", evidence, at=when)
    assert evidence.confirmed_at is None
    assert evidence.expires_at is None


def test_an_inventory_without_consent_or_objection_purposes_is_refused_clearly():
    inventory = Inventory(
        controller=_own_inventory().controller,
        purposes=[
            Purpose(
                key="tickets",
                description=Texts(nl="Kaartverkoop", en="Ticket sales"),
                basis=LawfulBasis.CONTRACT,
                subject_categories=("buyers",),
            )
        ],
        fields=[],
    )
    _assert_refused(consent_events(inventory=inventory), "at least one purpose")


def test_a_naive_until_is_refused():
    _assert_refused(consent_events(until=datetime(2024, 1, 1)), "aware")  # noqa: DTZ001


def _assert_refused(strategy, match):
    @settings(max_examples=1, database=None)
    @given(value=strategy)
    def draw(value):
        pass

    with pytest.raises(ValidationError, match=match):
        draw()


@settings(max_examples=20, deadline=None)
@given(history=consent_histories(inventory=_own_inventory(), max_size=10, hours=24))
def test_histories_take_the_inventory_too(history):
    assert {e.purpose for e in history} <= {"film_tips", "member_survey"}


@settings(max_examples=60, deadline=None)
@given(rule=retention_rules())
def test_every_rule_drawn_is_a_valid_rule_that_survives_a_rebuild(rule):
    rebuilt = RetentionRule(
        key=rule.key,
        applies_to=rule.applies_to,
        records=rule.records,
        trigger=rule.trigger,
        period=rule.period,
        action=rule.action,
        activity_types=rule.activity_types,
        warn_before=rule.warn_before,
    )
    assert rebuilt == rule
    assert rule.due(START) > START


@settings(max_examples=40, deadline=None)
@given(policy=retention_policies())
def test_every_policy_drawn_loads_in_a_kit(policy):
    assert isinstance(policy, RetentionPolicy)
    with Kit.open("memory://", inventory=_own_inventory(), retention_policy=policy) as kit:
        assert kit is not None


def test_the_rule_strategy_reaches_every_trigger():
    seen: set[Trigger] = set()

    @settings(max_examples=200, deadline=None)
    @given(rule=retention_rules())
    def collect(rule):
        seen.add(rule.trigger)

    collect()
    assert seen == set(Trigger)


# --------------------------------------------------------------------------- fixtures


def test_the_kit_factory_gives_a_fresh_kit_per_example_inside_given(pytester):
    pytester.makepyfile(
        """
        from hypothesis import given, settings, strategies as st

        @settings(max_examples=15, deadline=None)
        @given(n=st.integers(1, 5))
        def test_fresh(avgkit_kit_factory, avgkit_evidence, n):
            with avgkit_kit_factory() as kit:
                assert kit.stores.consent.count() == 0
                for i in range(n):
                    kit.consent.give(f"c{i}", "newsletter", avgkit_evidence)
                assert kit.stores.consent.count() == n
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_kit_factory_verifies_the_chain_when_the_block_ends():
    factory = KitFactory()

    def corrupt(kit: Kit) -> None:
        kit.audit.record("test.one")
        store = kit.stores.audit
        store._entries[0] = attrs.evolve(store._entries[0], action="test.forged")

    block = factory(setup=corrupt)
    with pytest.raises(IntegrityError, match="entry 1"), block:
        pass


def test_the_kit_factory_on_sqlite_removes_its_files(tmp_path):
    factory = KitFactory("sqlite", directory=tmp_path)
    with factory(setup=lambda k: k.pseudonyms.ensure_key()) as kit:
        assert kit.stores.url.startswith("sqlite:///")
        assert list(tmp_path.iterdir())
    assert not list(tmp_path.iterdir())


def test_an_unknown_test_store_is_refused():
    with pytest.raises(ValidationError, match="'memory', 'sqlite'"):
        KitFactory("mysql://x")


def test_the_keyed_kit_and_evidence_fixtures(pytester):
    pytester.makepyfile(
        """
        def test_keyed(avgkit_keyed_kit, avgkit_evidence, avgkit_clock):
            kit = avgkit_keyed_kit
            assert len(kit.stores.keys.ring("pseudonym")) == 1
            event = kit.consent.give("c1", "newsletter", avgkit_evidence)
            assert event.at == avgkit_clock.now()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


_SAME_TESTS = """
import pytest

def test_url(avgkit_store_url, avgkit_kit, avgkit_evidence):
    avgkit_kit.consent.give("c1", "newsletter", avgkit_evidence)
    print("STORE", avgkit_store_url.split(":", 1)[0])
    if "schema=" in avgkit_store_url:
        print("SCHEMA", avgkit_store_url.split("schema=", 1)[1].split("&")[0])

@pytest.mark.avgkit_store("memory")
def test_marked(avgkit_store_url):
    assert avgkit_store_url == "memory://"
"""


def test_the_same_tests_run_on_sqlite_with_the_option(pytester):
    pytester.makepyfile(_SAME_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-s", "--avgkit-store=sqlite")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*STORE sqlite*"])
    default = pytester.runpytest("-p", "no:cacheprovider", "-s")
    default.stdout.fnmatch_lines(["*STORE memory*"])


def test_the_store_can_be_set_in_the_ini_file(pytester):
    pytester.makeini("[pytest]\navgkit_store = sqlite\n")
    pytester.makepyfile(_SAME_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*STORE sqlite*"])


def test_the_same_tests_run_on_postgresql_with_the_option(pytester, pg_server):
    pytester.makepyfile(_SAME_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-s", f"--avgkit-store={pg_server}")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*STORE postgresql*"])
    schemas = [line.split()[1] for line in result.outlines if line.startswith("SCHEMA ")]
    assert len(schemas) == 1
    import psycopg

    with psycopg.connect(pg_server) as conn:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s", schemas
        ).fetchone()
    assert row == (0,)  # dropped after the test


def test_a_bad_store_option_is_a_usage_error(pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("-p", "no:cacheprovider", "--avgkit-store=oracle")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*not one of 'memory', 'sqlite'*"])


def test_the_evidence_fixture_is_valid_evidence(avgkit_evidence):
    assert isinstance(avgkit_evidence, Evidence)
    assert avgkit_evidence.channel is Channel.WEBSHOP


# --------------------------------------------------------------------------- the guide


def _guide_blocks() -> list[str]:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "testing.rst").read_text("utf-8")
    text = text[text.index("A first test") : text.index("Reference\n")]  # the runnable guide
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text)
    return ["\n".join(line[4:] for line in block.splitlines()) for block in blocks]


def test_the_test_suite_guide_snippets_run_as_a_users_test_suite(pytester):
    from pathlib import Path

    blocks = _guide_blocks()
    assert len(blocks) >= 2
    preset = Path(__file__).resolve().parents[1] / "src" / "avgkit" / "presets" / "ticketing.toml"
    (pytester.path / "policy.toml").write_text(preset.read_text("utf-8"), "utf-8")
    for number, block in enumerate(blocks):
        pytester.makepyfile(**{f"test_guide_{number}": block})
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(blocks))


def test_the_kit_uses_the_host_and_policy_fixtures_a_suite_overrides(pytester):
    pytester.makepyfile(
        """
        import pytest
        from avgkit.host.memory import MemoryHostData
        from avgkit.presets import ticketing

        @pytest.fixture
        def avgkit_host(avgkit_inventory):
            return MemoryHostData(avgkit_inventory)

        @pytest.fixture
        def avgkit_retention_policy():
            return ticketing.retention_policy()

        def test_overridden(avgkit_kit, avgkit_host):
            assert avgkit_kit.host is avgkit_host
            assert list(avgkit_kit.retention.plan()) == []

        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_host_and_policy_fixtures_are_none_by_default(avgkit_host, avgkit_retention_policy):
    assert avgkit_host is None
    assert avgkit_retention_policy is None
