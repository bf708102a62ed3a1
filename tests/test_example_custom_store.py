"""examples/custom_store: a storage adapter written against avgkit's public API only.

The adapter's own contract suite (examples/custom_store/test_docstore.py) runs here, so
`make test` proves that a plugin author can pass the conformance contracts; the tests below
check what the contracts do not: the public-API rule, URLs, schema versions, tampered rows,
closed sets, writers on two connections, the file's bytes after an erasure, the entry
point a packaged plugin declares, and that the adapter refuses what avgkit's own adapters
refuse, with the same errors (it calls avgkit.storage.checks).
"""

import ast
import os
import re
import sqlite3
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from avgkit.audit import GENESIS_HASH, AuditEntry
from avgkit.dsar import RequestKind, RequestStatus
from avgkit.erasure import ErasureEntry
from avgkit.errors import IntegrityError, StorageError, ValidationError
from avgkit.feed import FeedKind, FeedNotice
from avgkit.retention import Hold, HoldReason, Outcome
from avgkit.storage import (
    ErasureStore,
    FeedStore,
    RequestStore,
    RetentionStore,
    StoreSet,
    open_stores,
)
from avgkit.subjects import SubjectId
from avgkit.testing.conformance._requests import (
    first_step,
    make_request,
    notice,
    reference,
    step,
    verified,
)
from avgkit.testing.conformance._retention import subject_action

EXAMPLE = Path(__file__).parents[1] / "examples" / "custom_store"
sys.path.insert(0, str(EXAMPLE))

import avgkit_docstore  # noqa: E402
from avgkit_docstore import SCHEMA_VERSION, path_of  # noqa: E402
from avgkit_docstore.codec import from_micros, to_micros  # noqa: E402
from avgkit_docstore.database import _MIGRATIONS  # noqa: E402
from test_docstore import (  # noqa: E402
    TestDocStoreErasures,
    TestDocStoreFeed,
    TestDocStoreRequests,
    TestDocStoreRetention,
)

__all__ = [
    "TestDocStoreErasures",
    "TestDocStoreFeed",
    "TestDocStoreRequests",
    "TestDocStoreRetention",
]

avgkit_docstore.register()

T0 = datetime(2025, 4, 7, 8, 30, tzinfo=UTC)
SECRET = "cust-secret-7781"  # noqa: S105 - a subject id that must never show


@pytest.fixture
def stores(tmp_path: Path) -> StoreSet:
    with open_stores(f"docstore:///{tmp_path}/avg.db") as opened:
        yield opened


def _requests(stores: StoreSet) -> RequestStore:
    assert stores.requests is not None
    return stores.requests


def _feed(stores: StoreSet) -> FeedStore:
    assert stores.feed is not None
    return stores.feed


def _retention(stores: StoreSet) -> RetentionStore:
    assert stores.retention is not None
    return stores.retention


def _erasures(stores: StoreSet) -> ErasureStore:
    assert stores.erasures is not None
    return stores.erasures


# --------------------------------------------------------------------------- public API only


def _private(dotted: str) -> bool:
    return any(part.startswith("_") for part in dotted.split("."))


class _PrivateUses(ast.NodeVisitor):
    """Collects the underscore names a module imports or reaches (``__future__`` aside)."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.from_avgkit: set[str] = set()  # local names bound to avgkit modules or values

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _private(alias.name):
                self.found.append(f"import {alias.name}")
            if alias.name.split(".")[0] == "avgkit":
                self.from_avgkit.add((alias.asname or alias.name).split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module == "__future__":
            return
        if node.level or _private(module):
            self.found.append(f"from {'.' * node.level}{module} import ...")
        for alias in node.names:
            if alias.name.startswith("_"):
                self.found.append(f"from {module} import {alias.name}")
            if module.split(".")[0] == "avgkit":
                self.from_avgkit.add(alias.asname or alias.name)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and re.search(r"\bavgkit(\.\w+)*\._", node.value):
            self.found.append(f"the string {node.value!r}")


def private_uses(source: str) -> list[str]:
    """What ``source`` imports or reaches that starts with an underscore (``__future__`` aside).

    Imports of underscore modules or names, attributes starting with ``_`` of a name
    imported from avgkit, and module paths such as ``"avgkit._x"`` in strings (for
    ``importlib.import_module``).
    """
    tree = ast.parse(source)
    visitor = _PrivateUses()
    visitor.visit(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in visitor.from_avgkit:
                visitor.found.append(ast.unparse(node))
    return visitor.found


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("from avgkit.dsar._values import check_change", 1),
        ("from avgkit._validators import key", 1),
        ("from avgkit.storage import _OPENERS", 1),
        ("import avgkit.storage._sql", 1),
        ("from . import helper", 1),
        ("import avgkit.storage\navgkit.storage._OPENERS.clear()", 1),
        ("from avgkit import storage\nstorage._builtin('x')", 1),
        ("import importlib\nimportlib.import_module('avgkit.storage._sql')", 1),
        ("from __future__ import annotations\nfrom avgkit.storage import StoreSet", 0),
        ("class A:\n    def f(self):\n        return self._lock", 0),
    ],
)
def test_the_public_api_check_flags_private_uses(source: str, flagged: int) -> None:
    assert len(private_uses(source)) == flagged


def test_the_adapter_uses_only_avgkits_public_api() -> None:
    """No module of the example imports or reaches a name that starts with an underscore."""
    sources = sorted(EXAMPLE.rglob("*.py"))
    assert len(sources) >= 6
    found = {str(p.relative_to(EXAMPLE)): private_uses(p.read_text()) for p in sources}
    assert {name: uses for name, uses in found.items() if uses} == {}


# --------------------------------------------------------------------------- avgkit's own errors

_ONE = make_request("req_1", "cust-1")
_MOVED = verified(_ONE, _ONE.received_at + timedelta(hours=1))
_NEXT = attrs.evolve(_MOVED, status=RequestStatus.IN_PROGRESS)
_NEW = make_request("req_3", "cust-3")
_LATER = verified(_NEW, _NEW.received_at + timedelta(hours=1))
_NAIVE = datetime(2025, 5, 1)  # noqa: DTZ001 - refused, as it should be
_SID = SubjectId("cust-1")

# Each call is refused by every adapter; each problem one at a time.
_REFUSED: dict[str, Callable[[StoreSet], object]] = {
    "get: not a request id": lambda s: _requests(s).get("req 1"),
    "get: unknown": lambda s: _requests(s).get("req_9"),
    "transitions: not a request id": lambda s: _requests(s).transitions("anna@example.org"),
    "add: stored already": lambda s: _requests(s).add(_ONE, first_step(_ONE)),
    "add: not the first transition": lambda s: _requests(s).add(_NEW, step(_NEW, 2)),
    "add: not a transition": lambda s: _requests(s).add(_NEW, "received"),
    "add: another request's transition": lambda s: _requests(s).add(_NEW, first_step(_ONE)),
    "update: unknown": lambda s: _requests(s).update(
        _LATER, step(_LATER, 2), expected=RequestStatus.RECEIVED
    ),
    "update: the status moved": lambda s: _requests(s).update(
        _NEXT, step(_NEXT, 3), expected=RequestStatus.RECEIVED
    ),
    "update: expected is no status": lambda s: _requests(s).update(
        _NEXT, step(_NEXT, 3), expected="done"
    ),
    "update: out of turn": lambda s: _requests(s).update(
        _NEXT, step(_NEXT, 5), expected=RequestStatus.VERIFIED
    ),
    "update: changes the subject": lambda s: _requests(s).update(
        attrs.evolve(_NEXT, subject="cust-2"), step(_NEXT, 3), expected=RequestStatus.VERIFIED
    ),
    "for_subject: blank": lambda s: _requests(s).for_subject(SubjectId(" ")),
    "open_of: no kind": lambda s: _requests(s).open_of(_SID, "complaint"),
    "open_subjects: no kind": lambda s: _requests(s).open_subjects(["complaint"]),
    "due_by: naive": lambda s: list(_requests(s).due_by(_NAIVE)),
    "due_by: negative limit": lambda s: list(_requests(s).due_by(T0, limit=-1)),
    "restrict: unknown request": lambda s: _requests(s).restrict(_SID, "req_9", T0),
    "restrict: another's request": lambda s: _requests(s).restrict(
        SubjectId("cust-2"), "req_1", T0
    ),
    "restrict: naive": lambda s: _requests(s).restrict(_SID, "req_1", _NAIVE),
    "lift: before it began": lambda s: _requests(s).lift(_SID, T0),
    "restricted: no instant": lambda s: _requests(s).restricted(_SID, "2025-05-01"),
    "forget_subject: no reference": lambda s: _requests(s).forget_subject(_SID, "cust-1-ref"),
    "forget_subject: a reference as subject": lambda s: _requests(s).forget_subject(
        SubjectId(reference(1)), reference(2)
    ),
    "append: a string": lambda s: _feed(s).append("crm"),
    "append: stored before": lambda s: _feed(s).append(_feed(s).append([notice()])),
    "append: not a notice": lambda s: _feed(s).append([notice(), {"recipient": "crm"}]),
    "read: not a recipient": lambda s: _feed(s).read("CRM"),
    "read: negative after": lambda s: _feed(s).read("crm", after=-1),
    "read: no limit": lambda s: _feed(s).read("crm", limit=0),
    "acknowledge: beyond the newest": lambda s: _feed(s).acknowledge("crm", 99),
    "acknowledge: not a number": lambda s: _feed(s).acknowledge("crm", "1"),
    "cursor: not a recipient": lambda s: _feed(s).cursor("mail platform"),
    "feed.forget_subject: no reference": lambda s: _feed(s).forget_subject(_SID, "x"),
    "release_hold: unknown": lambda s: _retention(s).release_hold(999, T0),
}


def _refusal(stores: StoreSet, call: Callable[[StoreSet], object]) -> tuple[str, str]:
    requests = _requests(stores)
    requests.add(_ONE, first_step(_ONE))
    requests.update(_MOVED, step(_MOVED, 2), expected=RequestStatus.RECEIVED)
    other = make_request("req_2", "cust-2")
    requests.add(other, first_step(other))
    requests.restrict(_SID, "req_1", T0 + timedelta(days=1))
    _feed(stores).append([notice("crm")])
    try:
        call(stores)
    except Exception as exc:  # noqa: BLE001 - what is raised is the point
        return type(exc).__name__, str(exc)
    return "nothing raised", ""


@pytest.mark.parametrize("name", sorted(_REFUSED))
def test_the_adapter_refuses_what_avgkits_adapters_refuse_in_the_same_words(
    name: str, tmp_path: Path
) -> None:
    """memory://, sqlite:/// and docstore:/// raise the same error, word for word."""
    found = {}
    for url in ("memory://", f"sqlite:///{tmp_path}/avg.db", f"docstore:///{tmp_path}/d.db"):
        with open_stores(url) as opened:
            found[url.split(":")[0]] = _refusal(opened, _REFUSED[name])
    assert found["memory"][0] in {"ValidationError", "NotFound", "ConflictError"}
    assert found["sqlite"] == found["memory"]
    assert found["docstore"] == found["memory"]


# --------------------------------------------------------------------------- URLs and opening


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("docstore:///avg.db", Path("avg.db")),
        ("docstore:///data/avg.db", Path("data/avg.db")),
        ("docstore:////var/lib/avg.db", Path("/var/lib/avg.db")),
        ("DOCSTORE:///avg.db", Path("avg.db")),
    ],
)
def test_a_url_names_a_relative_or_absolute_file(url: str, path: Path) -> None:
    assert path_of(url) == path


@pytest.mark.parametrize(
    "url",
    [
        "docstore://host/avg.db",
        "docstore:///avg.db?mode=ro",
        "docstore:///avg.db#x",
        "docstore:///",
        "docstore:///dir/",
        "sqlite:///avg.db",
    ],
)
def test_a_malformed_url_is_refused_with_the_shape_expected(url: str) -> None:
    with pytest.raises(ValidationError, match="docstore"):
        path_of(url)


def test_a_relative_url_opens_a_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_stores("docstore:///venue.db") as opened:
        assert _requests(opened).count() == 0
    assert (tmp_path / "venue.db").is_file()


def test_a_file_that_cannot_be_opened_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="opening the file"):
        open_stores(f"docstore:///{tmp_path}/missing-folder/avg.db")


def _open_handles(path: Path) -> int:
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path.resolve()))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts handles via /proc")
def test_a_file_of_a_newer_schema_is_refused_and_nothing_stays_open(tmp_path: Path) -> None:
    path = tmp_path / "avg.db"
    open_stores(f"docstore:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO docstore_schema (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(StorageError, match="newer") as info:
        open_stores(f"docstore:///{path}")
    assert info.value.__cause__ is None
    assert _open_handles(path) == 0


def test_reopening_an_existing_file_keeps_its_schema_and_data(tmp_path: Path) -> None:
    url = f"docstore:///{tmp_path}/avg.db"
    with open_stores(url) as first:
        request = make_request("req_1")
        _requests(first).add(request, first_step(request))
    with open_stores(url) as again:
        assert _requests(again).get("req_1") == request
    with sqlite3.connect(tmp_path / "avg.db") as conn:
        versions = conn.execute("SELECT version FROM docstore_schema").fetchall()
    conn.close()
    assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]


def test_a_file_of_schema_1_is_upgraded_in_place_and_keeps_its_data(tmp_path: Path) -> None:
    """A file the first release wrote (requests and feed only) gains retention and erasures."""
    path = tmp_path / "v1.db"
    request = make_request("req_1")
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE docstore_schema (version INTEGER NOT NULL)")
        for statement in _MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("INSERT INTO docstore_schema (version) VALUES (1)")
    conn.close()
    with open_stores(f"docstore:///{path}") as first:
        assert SCHEMA_VERSION == 2
        _requests(first).add(request, first_step(request))
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM docstore_schema WHERE version = 2")
        conn.executescript(
            "DROP TABLE holds; DROP TABLE warnings; DROP TABLE actions; DROP TABLE plans; "
            "DROP TABLE suppressions; DROP TABLE erasure_notices; DROP TABLE erasures;"
        )
    conn.close()
    with open_stores(f"docstore:///{path}") as upgraded:
        assert _requests(upgraded).get("req_1") == request
        hold = _retention(upgraded).place_hold(
            Hold(subject="cust-1", reason=HoldReason.OPEN_REQUEST), T0
        )
        assert _retention(upgraded).holds_for(SubjectId("cust-1"), T0) == (hold,)
        assert _erasures(upgraded).begin(
            ErasureEntry(subject_ref=reference(1), started_at=T0, cause="request"),
            suppressions=[],
            recipients=["crm"],
        )
    with sqlite3.connect(path) as conn:
        versions = conn.execute("SELECT version FROM docstore_schema ORDER BY version").fetchall()
    conn.close()
    assert versions == [(1,), (2,)]


# --------------------------------------------------------------------------- errors


def _tamper(stores: StoreSet, statement: str) -> None:
    store = stores.requests
    assert isinstance(store, avgkit_docstore.DocStoreRequestStore)
    store.database.execute(statement)


def test_a_request_row_changed_outside_avgkit_is_an_integrity_error(stores: StoreSet) -> None:
    """get() and due_by() name the row's number, never the stored values."""
    requests = _requests(stores)
    request = make_request("req_1", SECRET, RequestKind.RECTIFICATION, details={"email": SECRET})
    requests.add(request, first_step(request))
    _tamper(stores, "UPDATE requests SET kind = 'cust-secret-7781'")
    for call in (
        lambda: requests.get("req_1"),
        lambda: list(requests.due_by(T0 + timedelta(days=100))),
        lambda: requests.for_subject(SubjectId(SECRET)),
    ):
        with pytest.raises(IntegrityError, match="row 1") as info:
            call()
        assert SECRET not in str(info.value)
        assert info.value.__cause__ is None


def test_a_feed_row_changed_outside_avgkit_is_an_integrity_error(stores: StoreSet) -> None:
    feed = _feed(stores)
    feed.append([notice(subject=SECRET)])
    _tamper(stores, "UPDATE notices SET at = 'cust-secret-7781'")
    with pytest.raises(IntegrityError, match="notice 1") as info:
        feed.read("crm")
    assert SECRET not in str(info.value)


def test_retention_and_erasure_rows_changed_outside_avgkit_are_integrity_errors(
    stores: StoreSet,
) -> None:
    retention, erasures = _retention(stores), _erasures(stores)
    retention.place_hold(Hold(subject=SECRET, reason=HoldReason.OPEN_REQUEST), T0)
    retention.stage("plan-1", "f" * 32, T0, iter([subject_action(SECRET)]))
    erasures.begin(
        ErasureEntry(subject_ref=reference(1), started_at=T0, cause="request"),
        suppressions=[],
        recipients=["crm"],
    )
    _tamper(stores, "UPDATE holds SET reason = 'cust-secret-7781'")
    _tamper(stores, "UPDATE actions SET action = 'cust-secret-7781'")
    _tamper(stores, "UPDATE erasure_notices SET at = 'cust-secret-7781'")
    _tamper(stores, "UPDATE erasures SET cause = ''")
    for call, where in (
        (lambda: retention.holds_for(SubjectId(SECRET), T0), "hold 1"),
        (lambda: list(retention.active_holds(T0)), "hold 1"),
        (lambda: retention.claim("plan-1", "exec_a", T0, limit=5, stale_before=T0), "action 1"),
        (lambda: list(erasures.notices()), "erasure notice 1"),
        (lambda: erasures.get(reference(1)), "erasure log entry"),
    ):
        with pytest.raises(IntegrityError, match=where) as info:
            call()
        assert SECRET not in str(info.value)
        assert info.value.__cause__ is None


def _every_call(stores: StoreSet) -> list[tuple[str, Callable[[], object]]]:
    requests, feed = _requests(stores), _feed(stores)
    retention, erasures = _retention(stores), _erasures(stores)
    request = make_request("req_2", SECRET)
    sid = SubjectId(SECRET)
    erasure = ErasureEntry(subject_ref=reference(2), started_at=T0, cause="request")
    return [
        ("add", lambda: requests.add(request, first_step(request))),
        ("get", lambda: requests.get("req_1")),
        ("transitions", lambda: requests.transitions("req_1")),
        ("for_subject", lambda: requests.for_subject(sid)),
        ("open_of", lambda: requests.open_of(sid, RequestKind.ACCESS)),
        ("due_by", lambda: list(requests.due_by(T0))),
        ("open_subjects", lambda: requests.open_subjects([RequestKind.ACCESS])),
        ("restrict", lambda: requests.restrict(sid, "req_1", T0)),
        ("lift", lambda: requests.lift(sid, T0)),
        ("restricted", lambda: requests.restricted(sid, T0)),
        ("forget_subject", lambda: requests.forget_subject(sid, reference(1))),
        ("count", requests.count),
        ("append", lambda: feed.append([notice(subject=SECRET)])),
        ("read", lambda: feed.read("crm")),
        ("acknowledge", lambda: feed.acknowledge("crm", 1)),
        ("cursor", lambda: feed.cursor("crm")),
        ("feed.forget_subject", lambda: feed.forget_subject(sid, reference(1))),
        ("feed.count", feed.count),
        (
            "place_hold",
            lambda: retention.place_hold(Hold(subject=SECRET, reason="open_request"), T0),
        ),
        ("release_hold", lambda: retention.release_hold(1, T0)),
        ("holds_for", lambda: retention.holds_for(sid, T0)),
        ("active_holds", lambda: list(retention.active_holds(T0))),
        ("warned_at", lambda: retention.warned_at(sid, "inactive_accounts", T0)),
        ("warnings_for", lambda: retention.warnings_for("inactive_accounts", [sid])),
        ("record_warning", lambda: retention.record_warning(sid, "inactive_accounts", T0, T0)),
        ("retention.forget_subject", lambda: retention.forget_subject(sid, reference(1))),
        ("stage", lambda: retention.stage("plan-1", "f" * 32, T0, iter([]))),
        ("plan_fingerprint", lambda: retention.plan_fingerprint("plan-1")),
        ("claim", lambda: retention.claim("plan-1", "exec_a", T0, limit=5, stale_before=T0)),
        ("finish", lambda: retention.finish("plan-1", 1, Outcome.SKIPPED, T0, subject_ref=None)),
        ("outcomes", lambda: retention.outcomes("plan-1")),
        ("unfinished", lambda: retention.unfinished("plan-1")),
        ("begin", lambda: erasures.begin(erasure, suppressions=[], recipients=["crm"])),
        ("complete", lambda: erasures.complete(reference(1), T0)),
        ("get", lambda: erasures.get(reference(1))),
        ("entries", lambda: list(erasures.entries())),
        ("is_suppressed", lambda: erasures.is_suppressed("em1:x")),
        ("erased_among", lambda: erasures.erased_among([reference(1)])),
        ("notices", lambda: list(erasures.notices())),
        ("erasures.count", erasures.count),
        ("atomic", lambda: stores.atomic().__enter__()),
    ]


def test_a_closed_set_raises_storage_errors_only(stores: StoreSet) -> None:
    """After close() (twice), every call raises StorageError saying what to do, no values."""
    request = make_request("req_1", SECRET)
    _requests(stores).add(request, first_step(request))
    stores.close()
    stores.close()
    for name, call in _every_call(stores):
        with pytest.raises(StorageError, match="closed") as info:
            call()
        assert SECRET not in str(info.value), name


# --------------------------------------------------------------------------- two connections


def test_two_connections_number_notices_in_commit_order(tmp_path: Path) -> None:
    """Writers on two sets of one file: distinct numbers, each batch in order, none lost."""
    url = f"docstore:///{tmp_path}/avg.db"
    sets = [open_stores(url), open_stores(url)]
    rounds = 25
    barrier = threading.Barrier(len(sets))
    errors: list[BaseException] = []

    def write(stores: StoreSet, worker: int) -> None:
        try:
            barrier.wait()
            for n in range(rounds):
                batch = _feed(stores).append([notice(n=worker), notice(n=worker + n + 2)])
                assert batch[0].seq + 1 == batch[1].seq
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s, i)) for i, s in enumerate(sets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        seqs = [n.seq for n in _feed(sets[0]).read("crm", limit=1_000)]
        assert seqs == list(range(1, 2 * rounds * len(sets) + 1))
    finally:
        for stores in sets:
            stores.close()


def test_executors_on_two_connections_never_claim_the_same_action(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE serialises the claims of two sets of one file: each action once."""
    url = f"docstore:///{tmp_path}/avg.db"
    sets = [open_stores(url), open_stores(url)]
    total = 80
    _retention(sets[0]).stage(
        "plan-1", "f" * 32, T0, (subject_action(f"cust-{n:03d}") for n in range(total))
    )
    barrier = threading.Barrier(len(sets))
    got: list[list[int]] = [[], []]
    errors: list[BaseException] = []

    def execute(stores: StoreSet, worker: int) -> None:
        retention = _retention(stores)
        try:
            barrier.wait()
            while claimed := retention.claim(
                "plan-1", f"exec_{worker}", T0, limit=3, stale_before=T0 - timedelta(minutes=10)
            ):
                for item in claimed:
                    got[worker].append(item.number)
                    assert retention.finish(
                        "plan-1", item.number, Outcome.SKIPPED, T0, subject_ref=None
                    )
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=execute, args=(s, i)) for i, s in enumerate(sets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert sorted(got[0] + got[1]) == list(range(1, total + 1))
        assert _retention(sets[1]).unfinished("plan-1") == 0
    finally:
        for stores in sets:
            stores.close()


def test_a_block_on_one_connection_is_invisible_to_the_other_until_it_commits(
    tmp_path: Path,
) -> None:
    url = f"docstore:///{tmp_path}/avg.db"
    with open_stores(url) as writer, open_stores(url) as reader:
        with writer.atomic():
            request = make_request("req_1")
            _requests(writer).add(request, first_step(request))
            assert _requests(reader).count() == 0
        assert _requests(reader).get("req_1") == request


def test_the_unit_of_work_also_undoes_the_sets_audit_entries(stores: StoreSet) -> None:
    """The memory audit store and the file roll back together."""

    def seal(head: AuditEntry | None) -> AuditEntry:
        assert head is None
        return AuditEntry.seal(
            seq=1,
            at=T0,
            action="test.step",
            actor="system",
            subject_ref=None,
            details={},
            prev_hash=GENESIS_HASH,
        )

    class FailedError(Exception):
        pass

    def fail() -> None:
        with stores.atomic():
            stores.audit.append(seal)
            _feed(stores).append([notice()])
            raise FailedError

    with pytest.raises(FailedError):
        fail()
    assert stores.audit.count() == 0
    assert _feed(stores).count() == 0


# --------------------------------------------------------------------------- erasure on disk


def test_an_erased_subjects_id_is_gone_from_the_files_bytes(tmp_path: Path) -> None:
    """secure_delete: after forget_subject() the id is in no page of the file, free or used."""
    path = tmp_path / "avg.db"
    erased = "cust-erase-me-4410"
    with open_stores(f"docstore:///{path}") as opened:
        requests, feed = _requests(opened), _feed(opened)
        for n in range(30):
            subject = erased if n % 3 == 0 else f"cust-{n}"
            request = make_request(f"req_{n}", subject, details={"email": f"{subject}@x.nl"})
            requests.add(request, first_step(request, note=f"{subject} called"))
            requests.restrict(SubjectId(subject), request.id, T0)
        feed.append([notice(subject=erased), notice("mailer", subject="cust-keep")])
        retention = _retention(opened)
        for subject in (erased, "cust-keep"):
            retention.place_hold(Hold(subject=subject, reason=HoldReason.OPEN_REQUEST), T0)
            retention.record_warning(SubjectId(subject), "inactive_accounts", T0, T0)
        actions = [subject_action(erased), subject_action(erased, warning=True)]
        retention.stage("plan-1", "f" * 32, T0, iter(actions))
        assert erased.encode() in path.read_bytes()
        requests.forget_subject(SubjectId(erased), reference(9))
        feed.forget_subject(SubjectId(erased), reference(9))
        assert retention.forget_subject(SubjectId(erased), reference(9)) == 4
    data = path.read_bytes()
    assert erased.encode() not in data
    assert b"cust-keep" in data


# --------------------------------------------------------------------------- codec


@given(st.datetimes(timezones=st.timezones()).filter(lambda d: d.utcoffset() is not None))
def test_instants_round_trip_through_microseconds_in_order(when: datetime) -> None:
    micros = to_micros(when)
    # In UTC: an instant in a zone's ambiguous hour never compares equal across zones.
    instant = when.astimezone(UTC)
    assert from_micros(micros) == instant
    assert from_micros(micros).tzinfo is UTC
    assert to_micros(instant + timedelta(microseconds=1)) == micros + 1


def test_a_notice_and_a_request_come_back_from_another_connection_equal(tmp_path: Path) -> None:
    url = f"docstore:///{tmp_path}/avg.db"
    request = make_request(
        "req_1",
        "cust-€",
        RequestKind.RECTIFICATION,
        status=RequestStatus.IN_PROGRESS,
        details={"postal_address": "Dorpsstraat 1\nGouda"},
    )
    sent = FeedNotice(
        recipient="crm",
        kind=FeedKind.RECTIFICATION,
        subject_ref=reference(1),
        subject="cust-€",
        at=T0,
        fields=("email", "postal_address"),
    )
    with open_stores(url) as writer, open_stores(url) as reader:
        _requests(writer).add(request, first_step(request))
        (stored,) = _feed(writer).append([sent])
        assert _requests(reader).get("req_1") == request
        assert _feed(reader).read("crm") == (stored,)


# --------------------------------------------------------------------------- packaging


def test_the_entry_point_the_package_declares_opens_its_urls(tmp_path: Path) -> None:
    """As installed: a fresh process, no register() call; open_stores finds the entry point."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    declared = project["project"]["entry-points"]["avgkit.stores"]
    assert declared == {"docstore": "avgkit_docstore:open_url"}
    dist = tmp_path / "site" / "avgkit_docstore-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: avgkit-docstore\nVersion: 0.1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in declared.items())
    (dist / "entry_points.txt").write_text(f"[avgkit.stores]\n{lines}")
    script = (
        "import sys\n"
        "from avgkit.storage import open_stores\n"
        "assert 'avgkit_docstore' not in sys.modules\n"
        f"with open_stores('docstore:///{tmp_path}/ep.db') as stores:\n"
        "    print(type(stores.requests).__name__, stores.requests.count())\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(EXAMPLE)])}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["DocStoreRequestStore", "0"]
