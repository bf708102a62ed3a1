"""benchmarks/run.py: one table of every benchmark, and its smoke run at the smallest size.

The smoke runs check that every benchmark still runs and reports its rows with sane numbers;
they never assert a timing or a verdict (a busy machine misses goals a quiet one meets).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import math
import sqlite3
import sys
from pathlib import Path

import docutils.core
import docutils.nodes
import pytest
from hypothesis import given
from hypothesis import strategies as st

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
ON_POSTGRES = ("consent_audience", "dsar_deadlines", "host_sql")
"""Benchmarks whose PostgreSQL rows the smoke run checks (retention_execute's four
executor processes alone would take most of the time budget; its SQLite row is checked)."""
VERDICTS = {"met", "MISSED", "no goal", "not run"}


def _load():
    spec = importlib.util.spec_from_file_location("avgkit_benchmarks_run", RUN)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)  # puts benchmarks/ on sys.path for _table and the rest
    return module


bench = _load()
table = importlib.import_module("_table")


@pytest.fixture
def shop_cache(tmp_path, monkeypatch):
    """The reference shop the retention and host benchmarks share, built under tmp_path."""
    monkeypatch.setattr(importlib.import_module("retention_plan"), "CACHE", tmp_path / "shops")


def smoke(*extra: str) -> tuple[int, dict, str]:
    out = io.StringIO()
    code = bench.main(["--size", "0", "--rounds", "1", "--json", *extra], stdout=out)
    return code, json.loads(out.getvalue()), out.getvalue()


def check_rows(rows: list[dict]) -> None:
    """Every ratio finite and positive; every compared row has one; verdicts known."""
    for row in rows:
        assert row["verdict"] in VERDICTS
        if row["baseline"] is not None:
            assert row["ratio"] is not None, row["operation"]
        if row["ratio"] is not None:
            assert math.isfinite(row["ratio"]), row["operation"]
            assert row["ratio"] > 0, row["operation"]
        for side in ("avgkit", "baseline"):
            if row[side] is not None:
                assert math.isfinite(row[side]["value"]), row["operation"]
                assert row[side]["value"] >= 0, row["operation"]


# -- the smoke runs ---------------------------------------------------------------------------


@pytest.mark.usefixtures("shop_cache")
def test_the_smoke_run_has_rows_of_every_benchmark_on_sqlite(capsys):
    code, report, _ = smoke()
    assert report["failures"] == []
    assert code == 0
    names = [b.name for b in bench.BENCHMARKS]
    assert sorted({row["benchmark"] for row in report["rows"]}) == sorted(names)
    assert report["sizes"] == {b.name: b.smoke for b in bench.BENCHMARKS}
    assert {row["backend"] for row in report["rows"]} <= {"SQLite", "memory", "none"}
    check_rows(report["rows"])
    # A goal on a ratio is judged whenever the row was run.
    judged = [r for r in report["rows"] if r["goal"] and r["goal"].startswith("ratio")]
    assert all(r["verdict"] in {"met", "MISSED"} for r in judged if r["skipped"] is None)
    # The narrative went to stderr, announcing each benchmark with its size.
    assert "== retention_plan: 500 visitors" in capsys.readouterr().err


# consent_audience.py leaves its hand-written queries' psycopg connection to the collector.
@pytest.mark.filterwarnings("ignore:.*deleted while still open:ResourceWarning")
@pytest.mark.usefixtures("shop_cache")
def test_the_smoke_run_adds_the_postgresql_rows(pg_server, capsys):
    code, report, text = smoke("--postgres", pg_server, "--only", *ON_POSTGRES)
    assert report["failures"] == []
    assert code == 0
    rows = report["rows"]
    for name in ON_POSTGRES:
        backends = {row["backend"] for row in rows if row["benchmark"] == name}
        assert backends == {"SQLite", "PostgreSQL"}, name
    check_rows(rows)
    assert pg_server not in text  # the server's address (and password) stays out of the report
    capsys.readouterr()


# -- how --size maps --------------------------------------------------------------------------


def test_size_zero_is_every_smoke_size_and_the_default_every_full_size():
    for benchmark in bench.BENCHMARKS:
        assert benchmark.size(0) == benchmark.smoke
        expected = benchmark.full if benchmark.cap is None else benchmark.cap
        assert benchmark.size(bench.FULL) == expected


def test_a_size_scales_every_benchmark_by_the_same_fraction():
    breaches = bench.Benchmark("b", "breaches", full=20_000, smoke=60)
    assert breaches.size(100_000) == 2_000  # a tenth
    assert breaches.size(1_000) == 60  # never below the smoke size
    assert breaches.size(2 * bench.FULL) == 40_000


def test_a_capped_benchmark_stays_at_its_cap():
    capped = bench.Benchmark("e", "visitors", full=100_000, smoke=50, cap=5_000)
    assert capped.size(bench.FULL) == 5_000
    assert capped.size(10_000) == 1_000


@given(st.integers(min_value=0, max_value=10 * 1_000_000))
def test_every_size_is_between_the_smoke_and_the_capped_scaled_size(scale):
    for benchmark in bench.BENCHMARKS:
        size = benchmark.size(scale)
        assert size >= benchmark.smoke
        if benchmark.cap is not None:
            assert size <= max(benchmark.cap, benchmark.smoke)


@pytest.mark.parametrize("bad", ["-1", "lots", "1.5"])
def test_a_bad_size_is_refused_with_what_was_expected(bad, capsys):
    with pytest.raises(SystemExit) as info:
        bench.main(["--size", bad])
    assert info.value.code == 2
    assert "expected" in capsys.readouterr().err


def test_an_unknown_benchmark_is_refused_with_the_names(capsys):
    with pytest.raises(SystemExit) as info:
        bench.main(["--only", "nonesuch"])
    assert info.value.code == 2
    assert "dsar_deadlines" in capsys.readouterr().err


def test_at_runs_one_benchmark_at_a_size_of_its_own(monkeypatch, capsys):
    code, text = _main_with(
        monkeypatch,
        _fake("one", "ok"),
        _fake("two", "ok"),
        argv=("--size", "0", "--at", "two=7", "--json"),
    )
    assert code == 0
    sizes = {row["benchmark"]: row["size"] for row in json.loads(text)["rows"]}
    assert sizes == {"one": 1, "two": 7}
    capsys.readouterr()


@pytest.mark.parametrize("bad", ["host_sql", "nonesuch=10", "host_sql=-3"])
def test_a_bad_at_is_refused_with_what_was_expected(bad, capsys):
    with pytest.raises(SystemExit) as info:
        bench.main(["--at", bad])
    assert info.value.code == 2
    assert "expected" in capsys.readouterr().err


def test_zero_rounds_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--rounds", "0"])
    assert "one round or more" in capsys.readouterr().err


# -- exit codes: a report, failing only on a crash or a disagreement -------------------------


def _fake(name, outcome):
    def measure(size, *, postgres=None, out=None, rounds=None):
        del postgres, out, rounds
        if outcome == "disagree":
            raise table.Disagreement("the answers differ")
        if outcome == "crash":
            raise ZeroDivisionError("oops")
        if outcome == "exit":
            raise SystemExit("a script's own way of giving up")
        return [
            table.compare(
                name, f"{name} op", "SQLite", size, "things", table.seconds(3.0),
                table.seconds(1.0), table.ratio_at_most(1.5),
            )
        ]  # fmt: skip

    return bench.Benchmark(name, "things", full=10, smoke=1, measure=measure)


def _main_with(monkeypatch, *benchmarks, argv=("--size", "0")):
    monkeypatch.setattr(bench, "BENCHMARKS", benchmarks)
    out = io.StringIO()
    code = bench.main(list(argv), stdout=out)
    return code, out.getvalue()


def test_a_missed_goal_still_exits_zero(monkeypatch, capsys):
    code, text = _main_with(monkeypatch, _fake("slow", "ok"))
    assert code == 0
    assert "MISSED" in text
    capsys.readouterr()


@pytest.mark.parametrize(
    ("outcome", "said"),
    [
        ("disagree", "broken: avgkit and the baseline disagree: the answers differ"),
        ("crash", "broken crashed: ZeroDivisionError: oops"),
        ("exit", "broken crashed: SystemExit"),
    ],
)
def test_a_crash_or_a_disagreement_exits_one_and_the_others_still_run(
    monkeypatch, capsys, outcome, said
):
    code, text = _main_with(monkeypatch, _fake("broken", outcome), _fake("fine", "ok"))
    assert code == 1
    assert "fine op" in text  # the next benchmark still ran
    assert f"FAILED: {said}" in text
    capsys.readouterr()


def test_only_runs_the_named_benchmarks(monkeypatch, capsys):
    code, text = _main_with(
        monkeypatch, _fake("one", "ok"), _fake("two", "crash"), argv=("--only", "one")
    )
    assert code == 0
    assert "one op" in text
    assert "two" not in text
    capsys.readouterr()


# -- the table ---------------------------------------------------------------------------------


def _rows():
    return [
        table.compare(
            "a", "audience vs SQL", "SQLite", 1_000_000, "subjects", table.seconds(0.5),
            table.seconds(0.25), table.ratio_at_most(1.5),
        ),
        table.compare(
            "p", "pseudonyms vs hmac", "none", 200_000, "addresses", table.rate(800_000, "values"),
            table.rate(1_000_000, "values"), table.ratio_at_least(0.7),
        ),
        table.Row(
            benchmark="c", operation="import", backend="PostgreSQL", size=10, of="subjects",
            avgkit=table.Figure(60_000, "rate", "events"),
            goal=table.Goal(50_000, at_most=False, on="avgkit", unit="events/s"),
        ),
        table.Row(
            benchmark="p", operation="vs presidio", backend="none", size=10, of="addresses",
            avgkit=table.rate(5, "values"), goal=table.ratio_at_least(1), skipped="not installed",
        ),
        table.Row(benchmark="x", operation="plain", backend="none", size=1, of="runs", avgkit=None),
    ]  # fmt: skip


def test_the_table_is_a_restructuredtext_table_of_every_row():
    text = table.render(_rows(), ["a note under the table"])
    tree = docutils.core.publish_doctree(text, settings_overrides={"report_level": 2})
    tables = list(tree.findall(docutils.nodes.table))
    assert len(tables) == 1
    body = list(tables[0].findall(docutils.nodes.row))
    assert len(body) == 1 + len(_rows())  # the header and each row
    assert not list(tree.findall(docutils.nodes.system_message))
    assert not list(tree.findall(docutils.nodes.bullet_list))  # no cell read as a list
    assert "a note under the table" in text


def test_a_row_shows_its_figures_ratio_goal_and_verdict():
    audience, pseudonyms, imported, skipped, plain = (table.cells(r) for r in _rows())
    assert audience == (
        "audience vs SQL", "SQLite", "1,000,000 subjects", "500.0 ms", "250.0 ms", "2.00",
        "ratio <= 1.5", "MISSED",
    )  # fmt: skip
    assert pseudonyms[3:] == ("800,000 values/s", "1,000,000 values/s", "0.80", "ratio >= 0.7",
                              "met")  # fmt: skip
    assert imported[3:] == ("60,000 events/s", "", "", ">= 50,000 events/s", "met")
    assert skipped[-1] == "not run"
    assert plain[3:] == ("", "", "", "", "no goal")


def test_the_json_row_keeps_the_numbers():
    row = _rows()[0].as_json()
    assert row["ratio"] == 2.0
    assert row["avgkit"] == {"value": 0.5, "kind": "time", "per": ""}
    assert row["verdict"] == "MISSED"
    assert row["goal"] == "ratio <= 1.5"


def test_figures_of_different_kinds_are_not_compared():
    with pytest.raises(ValueError, match="cannot compare a time with a rate"):
        table.compare("a", "op", "-", 1, "x", table.seconds(1), table.rate(1, "x"))


@given(
    st.floats(min_value=1e-6, max_value=1e6),
    st.floats(min_value=1e-6, max_value=1e6),
    st.floats(min_value=0.01, max_value=100),
)
def test_a_ratio_goal_holds_exactly_when_the_ratio_keeps_its_bound(ours, theirs, bound):
    for goal, keeps in ((table.ratio_at_most(bound), "<="), (table.ratio_at_least(bound), ">=")):
        row = table.compare(
            "a", "op", "-", 1, "x", table.seconds(ours), table.seconds(theirs), goal
        )
        ratio = ours / theirs
        expected = ratio <= bound if keeps == "<=" else ratio >= bound
        assert row.verdict == ("met" if expected else "MISSED")


def test_a_strict_goal_excludes_its_bound():
    below = table.Goal(200, at_most=True, on="avgkit", strict=True, unit="MiB")
    assert str(below) == "< 200 MiB"
    assert below.holds(199.9)
    assert not below.holds(200)


# -- the hot paths: their rows, and a baseline that really chains its audit rows --------------


def test_the_hot_paths_report_every_operation_under_both_settings_and_count_statements():
    hot = importlib.import_module("hot_paths")
    rows = hot.measure(10, rounds=1, out=io.StringIO())
    operations = {row.operation for row in rows}
    for name in ("give", "withdraw", "object"):
        for setting in ("FULL", "NORMAL"):
            wanted = f"consent.{name}() vs raw INSERT + audit row + COMMIT, synchronous={setting}"
            assert wanted in operations
    assert "kit.may_process() vs two indexed LIMIT 1 lookups" in operations
    counted = {row.operation: row for row in rows if row.avgkit.kind == "count"}
    # The baseline: BEGIN, the event, the audit head, the audit row, COMMIT; two lookups.
    for name, baseline in (("give", 5), ("withdraw", 5), ("object", 5), ("may_process", 2)):
        label = f"kit.{name}()" if name == "may_process" else f"consent.{name}()"
        row = counted[f"{label} SQL statements vs the baseline's"]
        assert row.baseline.value == baseline
        assert row.avgkit.value >= 1
    check_rows([row.as_json() for row in rows])


def test_the_hot_paths_baseline_chains_each_audit_row_to_the_one_before(tmp_path):
    hot = importlib.import_module("hot_paths")
    path = tmp_path / "raw.db"
    hot.schema_only(path)
    ledger = hot.RawLedger(hot.raw_connection(path, "full"))
    try:
        for n in range(3):
            ledger.record(f"s{n}", "newsletter", "given", 0, "consent.given", hot.T0)
        chain = ledger.conn.execute(
            "SELECT seq, prev_hash, hash FROM audit_entries ORDER BY seq"
        ).fetchall()
        assert ledger.may_process("s1", "newsletter", hot.T0)
        assert not ledger.may_process("nobody", "newsletter", hot.T0)
    finally:
        ledger.conn.close()
    assert [seq for seq, _, _ in chain] == [1, 2, 3]
    assert chain[0][1] == hot.GENESIS_HASH
    assert all(chain[n][1] == chain[n - 1][2] for n in range(1, 3))
    assert len({digest for _, _, digest in chain}) == 3


# -- the consent benchmark: its data and its rows ------------------------------------------------


def test_the_consent_benchmark_imports_the_same_events_in_time_order():
    """The chronological export holds every event of the subject-ordered one, by time."""
    consent = importlib.import_module("consent_audience")
    by_subject = list(consent.rows_by_subject(1_200))
    by_time = list(consent.rows_by_time(1_200))
    assert sorted(by_time) == sorted(by_subject)
    assert [row[3] for row in by_time] == sorted(row[3] for row in by_subject)
    assert by_time != by_subject


def test_the_consent_benchmark_reports_every_state_and_both_import_orders():
    consent = importlib.import_module("consent_audience")
    rows = consent.measure(300, rounds=1, out=io.StringIO())
    operations = [row.operation for row in rows]
    assert operations == [
        "consent audience, vs fastest hand-written way",
        "consent audience, current wordings, vs fastest hand-written way",
        "consent import_events(), values built from rows, subject order, vs raw executemany",
        "consent import_events(), values built from rows, time order, vs raw executemany",
    ]
    check_rows([row.as_json() for row in rows])
    assert all(row.verdict in {"met", "MISSED"} for row in rows)


@pytest.mark.filterwarnings("ignore:.*deleted while still open:ResourceWarning")
def test_the_consent_benchmark_measures_postgresql_in_three_states(pg_server):
    consent = importlib.import_module("consent_audience")
    out = io.StringIO()
    rows = consent.measure(300, postgres=pg_server, rounds=1, out=out)
    states = ("right after the import", "after updates", "after VACUUM ANALYZE")
    postgres = [row.operation for row in rows if row.backend == "PostgreSQL"]
    for state in states:
        assert f"consent audience, {state}, vs fastest hand-written way" in postgres
        assert f"consent audience, current wordings, {state}, vs fastest hand-written way" in (
            postgres
        )
    assert "values built from rows, time order, vs raw COPY" in postgres[-1]
    check_rows([row.as_json() for row in rows])
    assert out.getvalue().count("pages all-visible") == len(states)  # each state described


# -- the concurrent writers: every run checked for a lost write and a chain that verifies -----


def test_the_writers_report_each_number_of_writers_against_one_and_check_every_run():
    writers = importlib.import_module("writers")
    out = io.StringIO()
    rows = writers.measure(3, rounds=1, out=out)
    operations = [row.operation for row in rows]
    assert operations == [
        "plain CPU work, 2 processes vs 1 (what the machine allows)",
        "consent.give(), 2 writer processes vs 1",
        "consent.give() p99 latency, 2 writer processes vs 1",
        "consent.give(), 2 writer processes on one store vs on a store each",
    ]
    assert {row.backend for row in rows} == {"none", "SQLite"}
    assert all(row.goal is None for row in rows)  # the goal is stated for 4 writers
    check_rows([row.as_json() for row in rows])
    text = out.getvalue()
    assert "every run: no write lost, chain verified" in text
    assert "4 writers not run" in text
    assert "plain CPU work in N processes against one" in text


def test_the_writers_goal_is_judged_at_four_writers():
    writers = importlib.import_module("writers")
    runs = [
        writers.Run("PostgreSQL", n, 10, (0.001,) * 10 * n, elapsed, 0)
        for n, elapsed in ((1, 1.0), (2, 1.0), (4, 2.0))
    ]
    rows = writers.rows(runs)
    four = next(row for row in rows if row.goal is not None)
    assert four.operation == "consent.give(), 4 writer processes vs 1"
    assert four.ratio == pytest.approx(2.0)
    assert four.verdict == "met"
    assert writers.goal_line(runs).endswith("2.00x, holds")
    slow = [
        writers.Run("SQLite", 1, 10, (0.001,) * 10, 1.0, 0),
        writers.Run("SQLite", 4, 10, (0.001,) * 40, 8.0, 0),
    ]
    assert writers.goal_line(slow).endswith("0.50x, MISSED")


def test_the_writers_check_finds_a_lost_write_and_a_broken_chain(tmp_path):
    writers = importlib.import_module("writers")
    from avgkit import Kit
    from avgkit.presets import ticketing
    from avgkit.storage.sqlite import url_for

    path = tmp_path / "store.db"
    url = url_for(path)
    with Kit.open(url, inventory=ticketing.inventory()) as kit:
        for n in range(3):
            kit.consent.give(f"cust-{n}", writers.PURPOSE, writers.EVIDENCE)
    stored = writers.events_in_file(path)
    assert stored == 3
    writers.check(url, stored, 3, "SQLite", 1)  # all there, chain intact
    with pytest.raises(table.Disagreement, match="3 gives acknowledged, 2 consent events stored"):
        writers.check(url, 2, 3, "SQLite", 1)
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_entries_no_update")
    conn.execute("UPDATE audit_entries SET actor = 'someone else' WHERE seq = 2")
    conn.commit()
    conn.close()
    with pytest.raises(table.Disagreement, match="the audit chain does not verify"):
        writers.check(url, stored, 3, "SQLite", 1)


def test_a_writer_that_fails_fails_the_run_with_its_reason(tmp_path):
    writers = importlib.import_module("writers")
    from avgkit.storage.sqlite import url_for

    with pytest.raises(RuntimeError, match=r"a writer failed: \w+Error"):
        writers.race([url_for(tmp_path)] * 2, 3, "SQLite")  # a folder, not a file


def test_writers_apart_each_write_a_store_of_their_own_and_each_store_is_checked(
    tmp_path, monkeypatch
):
    writers = importlib.import_module("writers")
    checked = []
    real_check = writers.check

    def check(url, counted, stored, backend, n):
        checked.append((url, counted, stored))
        real_check(url, counted, stored, backend, n)

    monkeypatch.setattr(writers, "check", check)
    opener = writers.files(str(tmp_path))
    each = 3 + writers.WARM_UP
    shared = writers.one_run(opener, "SQLite", 2, 3, apart=False)
    assert not shared.apart
    assert [(counted, stored) for _, counted, stored in checked] == [(2 * each, 2 * each)]
    checked.clear()
    apart = writers.one_run(opener, "SQLite", 2, 3, apart=True)
    assert apart.apart
    assert len({url for url, _, _ in checked}) == 2
    assert [(counted, stored) for _, counted, stored in checked] == [(each, each)] * 2
    assert apart.acknowledged == shared.acknowledged == 6


def test_the_writers_run_on_postgresql_in_fresh_schemas_dropped_afterwards(pg_server, monkeypatch):
    import psycopg

    writers = importlib.import_module("writers")
    made = []
    real_fresh_schema = writers.fresh_schema

    @contextlib.contextmanager
    def fresh_schema(postgres):
        with real_fresh_schema(postgres) as url:
            made.append(url.rpartition("schema=")[2])
            yield url

    monkeypatch.setattr(writers, "fresh_schema", fresh_schema)
    out = io.StringIO()
    rows = writers.measure(3, postgres=pg_server, rounds=1, out=out)
    on_postgres = [row.operation for row in rows if row.backend == "PostgreSQL"]
    assert on_postgres == [
        "consent.give(), 2 writer processes vs 1",
        "consent.give() p99 latency, 2 writer processes vs 1",
        "consent.give(), 2 writer processes on one store vs on a store each",
    ]
    check_rows([row.as_json() for row in rows])
    assert len(made) == 1 + 1 + 2  # 1 writer, 2 on one store, 2 apart
    with psycopg.connect(pg_server) as conn:
        left = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (made,)
        ).fetchall()
    assert left == []
    assert pg_server not in out.getvalue()
