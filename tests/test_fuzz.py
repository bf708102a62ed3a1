"""Bad input, every path: the public surface raises only AvgkitError, whatever it is given.

Each target is a public function, constructor or service method; hypothesis calls it with
arbitrary values for each parameter (types that are wrong, text with lone surrogates and NUL
bytes, huge numbers, aware datetimes at the ends of the calendar, nested containers), mixed
with plausible ones so that the checks behind the first one are reached too. Whatever
happens, the only exceptions allowed out are avgkit's own.
"""

from __future__ import annotations

import inspect
import os
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import avgkit
from avgkit import Kit
from avgkit.audit import AuditAnchor
from avgkit.breach import Breach, BreachFacts
from avgkit.consent import Evidence
from avgkit.errors import AvgkitError
from avgkit.inventory import Inventory
from avgkit.presets import ticketing
from avgkit.pseudonym import (
    KeyEncryptionKey,
    PseudonymKey,
    StoredKey,
    birth_year,
    email_domain,
    normalise_email,
    normalise_phone,
    open_bytes,
    postcode_area,
)
from avgkit.retention import check_period, policy_from_mapping
from avgkit.storage import open_stores
from avgkit.storage.postgres import parse_url
from avgkit.storage.sqlite import path_from_url, url_for
from avgkit.testing import ManualClock


@pytest.fixture(autouse=True, scope="module")
def _in_a_scratch_folder(tmp_path_factory: pytest.TempPathFactory):
    """Fuzzed store URLs and paths are relative (``sqlite:///cust-1``): keep their files here.

    Module-scoped (hypothesis refuses function-scoped fixtures in ``@given`` tests), so the
    working directory changes once for the module and is restored after it.
    """
    before = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("fuzz-cwd"))
    try:
        yield
    finally:
        os.chdir(before)


if TYPE_CHECKING:
    from collections.abc import Callable

NOW = datetime(2026, 4, 1, 12, tzinfo=UTC)

EDGE_INSTANTS = [
    datetime.max.replace(tzinfo=UTC),
    datetime.min.replace(tzinfo=UTC),
    datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-12))),
    datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
    datetime(9999, 12, 1, tzinfo=UTC),
    datetime(1, 2, 1, tzinfo=UTC),
]

texts = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(categories=["Cs", "Cc", "Lu", "Nd"]), max_size=8),  # surrogates, NUL
    st.sampled_from(["", " ", "\x00", "\ud800", "a" * 5000, "cust-1", "newsletter", "5:abc"]),
)
instants = st.one_of(
    st.sampled_from(EDGE_INSTANTS),
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),  # naive
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**63) - 1, 2**200]),
    st.floats(),
    texts,
    st.binary(max_size=40),
    instants,
    st.dates(),
    st.timedeltas(),
)
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(texts, inner, max_size=3),
    ),
    max_leaves=6,
)

EVIDENCE = Evidence(
    channel="webshop", notice_version="v1", wording_sha256="0" * 64, actor="subject"
)

# Plausible values by parameter name: the fuzzer mixes these in so that the checks after
# the first one are reached too.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "subject": st.sampled_from(["cust-1", "cust-2"]),
    "purpose": st.sampled_from(["newsletter", "ticket_sale"]),
    "evidence": st.just(EVIDENCE),
    "at": instants,
    "since": instants,
    "until": instants,
    "discovered_at": instants,
    "became_aware_at": instants,
    "domain": st.sampled_from(["crm", "audience_analysis"]),
    "value": st.sampled_from(["anna@example.nl", "+31612345678"]),
    "data": st.binary(max_size=20),
    "blob": st.binary(max_size=60),
    "actor": st.sampled_from(["system", "staff"]),
    "action": st.sampled_from(["consent.given", "test.action"]),
    "start": st.integers(),
    "url": st.one_of(
        st.sampled_from(["memory://", "sqlite:///:memory:", "postgresql://h/d"]),
        st.builds(
            str.__add__, st.sampled_from(["sqlite:///", "postgresql://h/d?", "memory://"]), texts
        ),
    ),
    "path": st.one_of(texts, st.builds(str.__add__, texts, st.sampled_from([".toml", ".json"]))),
    "text": st.one_of(texts, st.builds(str.__add__, st.just('{"id": '), texts)),
}


def arguments(target: Callable[..., Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Arbitrary keyword arguments for every parameter of ``target`` (some left out)."""
    parameters = [
        p
        for p in inspect.signature(target).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"
    ]
    fields = {}
    for p in parameters:
        value = st.one_of(PLAUSIBLE.get(p.name, anything), anything)
        if p.default is not p.empty:
            value = st.one_of(st.just(p.default), value)
        fields[p.name] = value
    return st.fixed_dictionaries(fields)


def call(target: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    try:
        result = target(**kwargs)
        if inspect.isgenerator(result) or hasattr(result, "__next__"):
            for _ in zip(range(5), result, strict=False):
                pass
    except AvgkitError:
        pass
    except Exception as exc:  # noqa: BLE001 - the point: anything else is a finding
        pytest.fail(f"{getattr(target, '__qualname__', target)} raised {exc!r}")


FUNCTIONS: list[Callable[..., Any]] = [
    avgkit.hash_wording,
    avgkit.subject_id,
    open_stores,
    parse_url,
    path_from_url,
    url_for,
    Inventory.from_file,
    AuditAnchor.parse,
    Breach.from_json,
    BreachFacts.from_mapping,
    policy_from_mapping,
    check_period,
    normalise_email,
    normalise_phone,
    birth_year,
    postcode_area,
    email_domain,
    open_bytes,
    KeyEncryptionKey.from_bytes,
    PseudonymKey.from_bytes,
    StoredKey,
    Evidence,
    ManualClock,
]

fuzzed = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("target", FUNCTIONS, ids=lambda t: t.__qualname__)
def test_public_functions_raise_only_avgkit_errors(target):
    @fuzzed
    @given(arguments(target))
    def run(kwargs):
        call(target, kwargs)

    run()


def _kit_open(**kwargs: Any) -> None:
    with Kit.open(inventory=ticketing.inventory(), **kwargs):
        pass


def test_kit_open_raises_only_avgkit_errors():
    @fuzzed
    @given(
        st.fixed_dictionaries(
            {"url": st.one_of(PLAUSIBLE["url"], texts, anything)},
            optional={"keys_url": st.one_of(PLAUSIBLE["url"], texts), "kek": anything},
        )
    )
    def run(kwargs):
        call(_kit_open, kwargs)

    run()


SERVICE_METHODS = {
    "consent": [
        "give",
        "withdraw",
        "object",
        "state",
        "history",
        "audience",
        "objectors",
        "may_process",
        "events",
        "report",
    ],
    "audit": ["entries", "for_subject", "record", "keyed_ref", "subject_ref", "verify"],
    "pseudonyms": ["seal", "open", "pseudonym", "verify", "token", "shred", "shredded_at"],
    "breaches": ["get", "status", "overdue", "record"],
    "feed": ["read", "acknowledge", "cursor"],
}
KIT_TARGETS = [(service, name) for service, names in SERVICE_METHODS.items() for name in names]


@pytest.fixture(scope="module")
def kit():
    with Kit.open("memory://", inventory=ticketing.inventory(), clock=ManualClock(NOW)) as made:
        made.pseudonyms.rotate()
        made.pseudonyms.rotate("token")
        made.consent.give("cust-1", "newsletter", EVIDENCE, at=NOW - timedelta(days=1))
        yield made


@pytest.mark.parametrize(("service", "name"), KIT_TARGETS, ids=[f"{s}.{n}" for s, n in KIT_TARGETS])
def test_kit_services_raise_only_avgkit_errors(kit, service, name):
    method = getattr(getattr(kit, service), name)

    @fuzzed
    @given(arguments(method))
    def run(kwargs):
        call(method, kwargs)

    run()


def test_the_fuzzer_reaches_past_the_first_check():
    """The plausible values do get through: the harness would notice a deep failure."""
    seen: list[date] = []

    def probe(subject: object, at: object) -> None:
        if subject == "cust-1" and isinstance(at, datetime) and at.tzinfo is not None:
            seen.append(at.date())

    @settings(max_examples=80, deadline=None)
    @given(arguments(probe))
    def run(kwargs):
        probe(**kwargs)

    run()
    assert seen


@pytest.mark.parametrize(
    "when",
    [
        datetime(9999, 12, 31, tzinfo=UTC),
        datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=12))),
    ],
    ids=["near-the-end", "past-the-end-in-utc"],
)
def test_an_instant_at_the_end_of_the_calendar_is_a_validation_error(kit, when):
    """Deadlines and periods are added to it: refused up front instead of OverflowError."""
    with pytest.raises(avgkit.ValidationError, match="at"):
        kit.consent.may_process("cust-1", "newsletter", at=when)
    with pytest.raises(avgkit.ValidationError):
        kit.breaches.overdue(at=when).__next__()
