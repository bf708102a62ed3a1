"""The ``avgkit`` command line: every command, its exit codes, --json, one-line errors."""

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import cli_host
from avgkit import _demo
from avgkit.cli import ExitCode, _parser, main
from avgkit.cli._common import instant
from clisupport import PRESET, clear_environment, one_line_error, policy_file, run

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def policy(tmp_path):
    return policy_file(tmp_path)


@pytest.fixture
def demo_db(tmp_path):
    db = tmp_path / "demo.db"
    assert run("demo", "--db", db)[0] == 0
    return db


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    clear_environment(monkeypatch)


# --------------------------------------------------------------------------- demo


def test_demo_walks_every_step_and_says_where_it_writes(tmp_path):
    db = tmp_path / "demo.db"
    code, text = run("demo", "--db", db)
    assert code == 0
    assert text.startswith(f"avgkit demo: a sample venue's ticket shop, in {db}")
    assert f"{tmp_path / 'demo-files'}" in text
    assert "1. What the venue declared" in text
    assert "Art. 30" in text
    assert "chain intact" in text
    assert "verify() says: audit chain broken at entry 3" in text
    assert (tmp_path / "demo-files" / "register.nl.html").exists()
    assert (tmp_path / "demo-files" / "policy.toml").read_text(encoding="utf-8") == PRESET
    assert db.exists()
    assert not list(tmp_path.glob("tampered*"))


def test_demo_runs_again_on_its_own_file(tmp_path):
    db = tmp_path / "demo.db"
    assert run("demo", "--db", db)[0] == 0
    assert run("demo", "--db", db)[0] == 0


def test_demo_refuses_a_database_it_did_not_make(tmp_path, capsys):
    mine = tmp_path / "mine.db"
    conn = sqlite3.connect(mine)
    conn.execute("CREATE TABLE customers (name TEXT)")
    conn.execute("INSERT INTO customers VALUES ('Anna')")
    conn.commit()
    conn.close()
    before = mine.read_bytes()
    code, _ = run("demo", "--db", mine)
    assert code == ExitCode.USAGE
    assert "is not a database avgkit demo made" in one_line_error(capsys)
    assert mine.read_bytes() == before
    text = tmp_path / "notes.db"
    text.write_text("not a database")
    assert run("demo", "--db", text)[0] == ExitCode.USAGE
    assert text.read_text() == "not a database"


def test_demo_refuses_a_folder_of_reports_it_did_not_make(tmp_path, capsys):
    (tmp_path / "demo-files").mkdir()
    (tmp_path / "demo-files" / "register.nl.html").write_text("mine")
    assert run("demo", "--db", tmp_path / "demo.db")[0] == ExitCode.USAGE
    assert "not the demo's folder" in one_line_error(capsys)
    assert (tmp_path / "demo-files" / "register.nl.html").read_text() == "mine"
    assert not (tmp_path / "demo.db").exists()


def test_demo_marks_its_database(demo_db):
    conn = sqlite3.connect(demo_db)
    (note,) = conn.execute(f"SELECT note FROM {_demo.MARKER_TABLE}").fetchone()
    conn.close()
    assert "avgkit demo" in note


def test_demo_json_is_a_summary(tmp_path):
    code, text = run("demo", "--db", tmp_path / "demo.db", "--json")
    assert code == 0
    summary = json.loads(text)
    assert summary["database"] == str(tmp_path / "demo.db")
    assert "register.nl.html" in summary["written"]


# --------------------------------------------------------------------------- policy check


def test_policy_check_passes_a_valid_file(policy):
    code, text = run("policy", "check", policy)
    assert code == 0
    assert text.startswith(f"{policy}: valid: ")
    assert "8 retention rules" in text


def _broken_preset():
    text = PRESET.replace('category = "BirthDate"', 'category = "DateOfBirth"', 1)
    text = text.replace('basis = "contract"', 'basys = "contract"', 1)
    text = text.replace('trigger = "inactivity"', 'trigger = "inactive"', 1)
    return text.replace('country = "NL"', 'country = "XX"', 1)


def test_policy_check_lists_every_problem(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(_broken_preset(), encoding="utf-8")
    code, text = run("policy", "check", path)
    assert code == ExitCode.CHECK_FAILED
    lines = text.splitlines()
    assert lines[0] == f"{path}: 4 problems"
    body = "\n".join(lines[1:])
    assert "did you mean 'BirthDate'?" in body
    assert "unknown key 'basys' (did you mean 'basis'?)" in body
    assert "did you mean 'inactivity'?" in body
    assert "controller.country: " in body


def test_policy_check_json_parses_and_lists_the_problems(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(_broken_preset(), encoding="utf-8")
    code, text = run("policy", "check", path, "--json")
    assert code == ExitCode.CHECK_FAILED
    report = json.loads(text)
    assert report["valid"] is False
    assert len(report["problems"]) == 4
    assert {p["kind"] for p in report["problems"]} == {"invalid"}
    assert report["summary"] is None


def test_policy_check_json_of_a_valid_file(policy):
    report = json.loads(run("policy", "check", policy, "--json")[1])
    assert report == {
        "file": str(policy),
        "valid": True,
        "problems": [],
        "summary": report["summary"],
    }
    assert report["summary"]["retention_rules"] == 8


def test_policy_check_reports_a_contradiction_and_a_syntax_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(PRESET.replace('country = "US"', 'country = "NL"', 1), encoding="utf-8")
    code, text = run("policy", "check", path, "--json")
    assert code == ExitCode.CHECK_FAILED
    assert json.loads(text)["problems"][0]["kind"] == "contradiction"
    path.write_text("[controller\n", encoding="utf-8")
    code, text = run("policy", "check", path)
    assert code == ExitCode.CHECK_FAILED
    assert "is not valid TOML" in text


def test_policy_check_of_a_missing_file_is_a_usage_error(tmp_path, capsys):
    assert run("policy", "check", tmp_path / "none.toml")[0] == ExitCode.USAGE
    assert "no policy file at" in one_line_error(capsys)


# --------------------------------------------------------------------------- the policy is required


@pytest.mark.parametrize(
    "argv",
    [
        ["register"],
        ["audit", "verify", "--store", "memory://"],
        [
            "consent",
            "report",
            "--store",
            "memory://",
            "--since",
            "2026-01-01",
            "--until",
            "2026-02-01",
        ],
        ["breach", "list", "--store", "memory://"],
        ["retention", "plan", "--store", "memory://", "--host", "cli_host:host"],
        ["erase", "x", "--store", "memory://", "--host", "cli_host:host", "--yes"],
        ["dsar", "export", "x", "--store", "memory://", "--host", "cli_host:host"],
    ],
)
def test_every_command_refuses_to_run_without_a_policy_file(argv, capsys):
    assert run(*argv)[0] == ExitCode.USAGE
    err = one_line_error(capsys)
    assert "pass --policy FILE" in err


def test_the_policy_and_store_may_come_from_the_environment(demo_db, policy, monkeypatch):
    monkeypatch.setenv("AVGKIT_POLICY", str(policy))
    monkeypatch.setenv("AVGKIT_STORE", str(demo_db))
    code, text = run("audit", "verify")
    assert code == 0
    assert "intact" in text


# --------------------------------------------------------------------------- register


def test_register_prints_every_format(policy):
    code, md = run("register", "--policy", policy, "--lang", "nl")
    assert code == 0
    assert md.startswith("#")
    assert run("register", "--policy", policy, "--format", "csv")[1].count("\n") > 3
    assert "<html" in run("register", "--policy", policy, "--format", "html")[1]
    assert json.loads(run("register", "--policy", policy, "--format", "json")[1])
    assert json.loads(run("register", "--policy", policy, "--json")[1])


def test_a_bad_policy_file_is_reported_on_one_line_naming_the_file(tmp_path, capsys):
    start = PRESET.index("[purposes.newsletter]")
    basis = PRESET.index("basis", start)
    end = PRESET.index("\n", basis)
    policy = tmp_path / "bad.toml"
    policy.write_text(PRESET[:basis] + 'basis = "vibes"' + PRESET[end:])
    code, _ = run("register", "--policy", policy)
    assert code == ExitCode.USAGE
    err = one_line_error(capsys)
    assert f"{policy}: purposes.newsletter.basis" in err


def test_python_dash_m_avgkit_runs(policy):
    result = subprocess.run(
        [sys.executable, "-m", "avgkit", "register", "--format", "json", "--policy", policy],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)


# --------------------------------------------------------------------------- audit


def test_audit_verify_reports_intact_and_broken_chains(demo_db, policy):
    code, text = run("audit", "verify", "--store", demo_db, "--policy", policy)
    assert code == 0
    assert "intact" in text
    report = json.loads(run("audit", "verify", "--store", demo_db, "--policy", policy, "--json")[1])
    assert report["intact"] is True
    head = report["head"]
    assert run("audit", "verify", "--store", demo_db, "--policy", policy, "--anchor", head)[0] == 0
    conn = sqlite3.connect(demo_db)
    conn.execute("DROP TRIGGER audit_entries_no_update")
    conn.execute("UPDATE audit_entries SET action = 'forged.entry' WHERE seq = 2")
    conn.commit()
    conn.close()
    code, text = run("audit", "verify", "--store", demo_db, "--policy", policy)
    assert code == ExitCode.CHECK_FAILED
    assert "entry 2" in text
    code, text = run("audit", "verify", "--store", demo_db, "--policy", policy, "--json")
    assert code == ExitCode.CHECK_FAILED
    assert json.loads(text)["intact"] is False


def test_audit_verify_takes_a_store_url_and_the_old_db_option(demo_db, policy):
    from avgkit.storage.sqlite import url_for

    assert run("audit", "verify", "--store", url_for(demo_db), "--policy", policy)[0] == 0
    assert run("audit", "verify", "--db", demo_db, "--policy", policy)[0] == 0
    assert run("audit", "verify", "--store", "memory://", "--policy", policy)[0] == 0


def test_a_missing_database_file_is_not_found(tmp_path, policy, capsys):
    code, _ = run("audit", "verify", "--store", tmp_path / "nope.db", "--policy", policy)
    assert code == ExitCode.NOT_FOUND
    assert "no SQLite database at" in one_line_error(capsys)
    assert not (tmp_path / "nope.db").exists()


def test_a_store_that_cannot_be_reached_is_a_storage_error(policy, capsys):
    url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"
    code, _ = run("audit", "verify", "--store", url, "--policy", policy)
    assert code == ExitCode.STORAGE
    assert "check the URL's host, port and credentials" in one_line_error(capsys)


def test_paths_with_url_characters_name_the_file_itself(tmp_path, policy):
    """'#', '?' and '%' in a path are escaped, not read as URL syntax."""
    for name in ("venue#2.db", "audit%41.db", "what?.db"):
        db = tmp_path / name
        assert run("demo", "--db", db)[0] == 0
        code, text = run("audit", "verify", "--store", db, "--policy", policy)
        assert code == 0
        assert "0 entries" not in text
    assert sorted(p.name for p in tmp_path.glob("*.db")) == sorted(
        ["venue#2.db", "audit%41.db", "what?.db"]
    )


# --------------------------------------------------------------------------- consent


def test_consent_report_prints_the_demo_venues_consents(demo_db, policy):
    base = ["consent", "report", "--store", demo_db, "--policy", policy]
    code, text = run(*base, "--since", "2026-01-01", "--until", "2026-02-01")
    assert code == 0
    assert "cust-0101" in text
    assert "newsletter" in text
    code, html = run(
        *base,
        "--since",
        "2026-01-01T00:00:00+01:00",
        "--until",
        "2026-02-01",
        "--format",
        "html",
        "--lang",
        "nl",
        "--purpose",
        "newsletter",
    )
    assert code == 0
    assert "<html" in html


def test_consent_report_json_counts_without_subjects(demo_db, policy):
    code, text = run(
        "consent", "report", "--store", demo_db, "--policy", policy,
        "--since", "2026-01-01", "--until", "2026-02-01", "--json",
    )  # fmt: skip
    assert code == 0
    report = json.loads(text)
    assert report["events"] > 0
    assert {"purpose", "day", "given", "withdrawn"} <= set(report["days"][0])
    assert "cust-" not in text


def test_consent_report_refuses_a_reversed_period(demo_db, policy, capsys):
    code, _ = run(
        "consent", "report", "--store", demo_db, "--policy", policy,
        "--since", "2026-02-01", "--until", "2026-01-01",
    )  # fmt: skip
    assert code == ExitCode.USAGE
    assert "until" in one_line_error(capsys)


@pytest.mark.parametrize("value", ["2026-13-01", "yesterday", "2026-01-01T10:00", "01-02-2026"])
def test_a_bad_date_says_what_format_it_expects(demo_db, policy, value, capsys):
    code, _ = run(
        "consent", "report", "--store", demo_db, "--policy", policy,
        "--since", value, "--until", "2026-02-01",
    )  # fmt: skip
    assert code == ExitCode.USAGE
    err = one_line_error(capsys)
    assert "2024-06-01T12:00:00+02:00" in err
    assert "--since" in err


def test_instants_are_aware():
    assert instant("2024-06-01").isoformat() == "2024-06-01T00:00:00+00:00"
    assert instant("2024-06-01T12:00:00+02:00").utcoffset().total_seconds() == 7200
    assert instant("2024-06-01T12:00:00Z").utcoffset().total_seconds() == 0


# --------------------------------------------------------------------------- breaches


def test_breach_list_shows_the_demo_breach(demo_db, policy):
    base = ["breach", "list", "--store", demo_db, "--policy", policy]
    code, text = run(*base)
    assert code == 0
    assert "authority notified" in text
    rows = json.loads(run(*base, "--json")[1])["breaches"]
    assert len(rows) == 1
    assert rows[0]["authority_notified"] is True
    assert json.loads(run(*base, "--overdue", "--json")[1]) == {"breaches": []}
    assert run(*base, "--overdue")[1] == "no overdue breaches\n"


# --------------------------------------------------------------------------- retention


def test_retention_plan_lists_what_is_due(policy, tmp_path):
    store = tmp_path / "avg.db"
    assert run("retention", "plan", "--store", f"sqlite:///{store}", "--policy", policy,
               "--host", "cli_host:host")[0] == ExitCode.NOT_FOUND  # fmt: skip
    base = ["retention", "plan", "--store", "memory://", "--policy", policy]
    code, text = run(*base, "--host", "cli_host:host", "--at", "2024-06-01")
    assert code == 0
    assert "quick_registrations: delete guest-1" in text
    assert "inactive_accounts: warn acct-1" in text
    plan = json.loads(run(*base, "--host", "cli_host:plain_host", "--json")[1])
    assert plan["total"] == 2
    assert {(a["rule"], a["action"]) for a in plan["actions"]} == {
        ("quick_registrations", "delete"),
        ("inactive_accounts", "warn"),
    }


def test_retention_run_needs_a_warning_callback_and_a_confirmation(policy, capsys):
    base = ["retention", "run", "--store", "memory://", "--policy", policy]
    code, _ = run(*base, "--host", "cli_host:host")
    assert code == ExitCode.USAGE  # nobody at a terminal to confirm
    assert "pass --yes" in one_line_error(capsys)
    code, _ = run(*base, "--host", "cli_host:host", "--yes")
    assert code == ExitCode.USAGE
    assert "warn=" in one_line_error(capsys)


def test_retention_run_carries_out_the_plan(policy):
    cli_host.warned.clear()
    code, text = run(
        "retention", "run", "--store", "memory://", "--policy", policy,
        "--host", "cli_host:host", "--warn", "cli_host:warn", "--yes", "--json",
    )  # fmt: skip
    assert code == 0
    summary = json.loads(text)
    outcomes = {(c["rule"], c["outcome"]): c["count"] for c in summary["counts"]}
    assert outcomes == {("quick_registrations", "erased"): 1, ("inactive_accounts", "warned"): 1}
    assert summary["remaining"] == 0
    assert cli_host.warned == [("acct-1", "inactive_accounts")]


def test_retention_run_on_the_reference_ticket_shop(policy, tmp_path, monkeypatch):
    sys.path.insert(0, str(TESTS.parent / "examples"))
    from datetime import UTC, datetime

    from ticketshop import generate

    shop = tmp_path / "shop.db"
    generate(shop, 60, now=datetime(2024, 6, 1, 12, tzinfo=UTC), seed=3)
    monkeypatch.setenv("AVGKIT_TEST_SHOP", str(shop))
    code, text = run(
        "retention", "plan", "--store", "memory://", "--policy", policy,
        "--host", "cli_host:shop", "--at", "2024-06-01T12:00:00+00:00", "--json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(text)["total"] > 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cli_host", "takes module:attribute"),
        ("no_such_module:host", "cannot import 'no_such_module'"),
        ("cli_host:nothing", "has no attribute 'nothing'"),
        ("cli_host:not_a_host", "neither an avgkit.HostData"),
        ("cli_host:warn", "needs"),
    ],
)
def test_a_bad_host_is_a_usage_error(policy, spec, message, capsys):
    code, _ = run("retention", "plan", "--store", "memory://", "--policy", policy, "--host", spec)
    if message == "needs":  # warn(subject, action) takes arguments: the host's own error
        assert code == ExitCode.INTERNAL
        assert "internal error (TypeError)" in one_line_error(capsys)
        return
    assert code == ExitCode.USAGE
    assert message in one_line_error(capsys)


# --------------------------------------------------------------------------- requests


def test_dsar_export_prints_json_and_html(policy):
    base = ["dsar", "export", "acct-1", "--store", "memory://", "--policy", policy,
            "--host", "cli_host:host"]  # fmt: skip
    code, text = run(*base)
    assert code == 0
    document = json.loads(text)
    assert document
    code, html = run(*base, "--format", "html", "--lang", "en")
    assert code == 0
    assert "<html" in html


def test_dsar_export_writes_a_private_file_and_refuses_to_overwrite(policy, tmp_path, capsys):
    out = tmp_path / "export.zip"
    base = ["dsar", "export", "acct-1", "--store", "memory://", "--policy", policy,
            "--host", "cli_host:host", "--format", "csv"]  # fmt: skip
    assert run(*base)[0] == ExitCode.USAGE  # binary: needs --out
    assert "--out" in one_line_error(capsys)
    code, text = run(*base, "--out", out, "--json")
    assert code == 0
    described = json.loads(text)
    assert described["bytes"] == out.stat().st_size
    assert out.read_bytes().startswith(b"PK")
    assert out.stat().st_mode & 0o077 == 0
    assert "anna" not in text.lower()
    assert run(*base, "--out", out)[0] == ExitCode.USAGE
    assert "exists" in one_line_error(capsys)
    assert run(*base, "--out", out, "--force")[0] == 0


def test_dsar_export_seals_with_a_passphrase_from_the_environment(
    policy, tmp_path, monkeypatch, capsys
):
    from avgkit.pseudonym import open_bytes

    out = tmp_path / "export.sealed"
    base = ["dsar", "export", "acct-1", "--store", "memory://", "--policy", policy,
            "--host", "cli_host:host", "--seal", "--out", out]  # fmt: skip
    assert run(*base)[0] == ExitCode.USAGE  # no passphrase, no terminal
    assert "AVGKIT_PASSPHRASE" in one_line_error(capsys)
    monkeypatch.setenv("VENUE_SECRET", "correct horse battery staple")
    assert run(*base, "--passphrase-env", "VENUE_SECRET")[0] == 0
    opened = json.loads(open_bytes(out.read_bytes(), "correct horse battery staple"))
    assert opened
    assert "correct horse" not in out.read_bytes().decode("latin-1")


def test_dsar_export_of_an_unknown_subject_is_not_found(policy, capsys):
    code, _ = run("dsar", "export", "nobody-9", "--store", "memory://", "--policy", policy,
                  "--host", "cli_host:host")  # fmt: skip
    assert code == ExitCode.NOT_FOUND
    assert "nobody-9" not in one_line_error(capsys)


def test_erase_erases_and_reports_without_personal_data(policy):
    code, text = run("erase", "acct-1", "--store", "memory://", "--policy", policy,
                     "--host", "cli_host:host", "--yes", "--json")  # fmt: skip
    assert code == 0
    outcome = json.loads(text)
    assert outcome["erased"] is True
    assert outcome["subject_ref"].startswith("sr")
    assert "acct-1" not in text
    code, text = run("erase", "acct-1", "--store", "memory://", "--policy", policy,
                     "--host", "cli_host:host", "--yes")  # fmt: skip
    assert code == 0
    assert text.startswith("erased sr")


def test_erase_refuses_without_a_confirmation(policy, capsys):
    code, _ = run("erase", "acct-1", "--store", "memory://", "--policy", policy,
                  "--host", "cli_host:host")  # fmt: skip
    assert code == ExitCode.USAGE
    assert "pass --yes" in one_line_error(capsys)


# --------------------------------------------------------------------------- the command line


def test_version():
    from avgkit._version import __version__

    assert run("--version") == (0, f"avgkit {__version__}\n")
    assert json.loads(run("--version", "--json")[1]) == {"avgkit": __version__}


def test_usage_errors_are_one_line(capsys):
    assert run()[0] == ExitCode.USAGE
    assert "choose a command" in one_line_error(capsys)
    assert run("retention")[0] == ExitCode.USAGE
    assert "plan, run" in one_line_error(capsys)
    assert run("register", "--colour", "red")[0] == ExitCode.USAGE
    assert "--colour" in one_line_error(capsys)


def test_help_exits_zero(capsys):
    assert run("--help")[0] == 0
    assert "Exit codes" in capsys.readouterr().out


def _options(parser):
    for action in parser._actions:
        if hasattr(action, "choices") and isinstance(action.choices, dict):
            for sub in action.choices.values():
                yield from _options(sub)
        elif action.option_strings and action.dest != "help":
            yield parser.prog, action


def test_every_option_has_help_that_shows_its_default():
    missing = [
        f"{prog} {action.option_strings[0]}"
        for prog, action in _options(_parser())
        if not action.help or ("(default: " not in action.help and "required" not in action.help)
    ]
    assert missing == []


def test_an_unexpected_error_is_one_line_without_its_text(policy, monkeypatch, capsys):
    from avgkit.cli import _commands

    def boom(*_args, **_kwargs):
        raise RuntimeError("Anna de Vries, anna@example.nl")

    monkeypatch.setattr(_commands, "inventory", boom)
    assert run("register", "--policy", policy)[0] == ExitCode.INTERNAL
    err = one_line_error(capsys)
    assert "RuntimeError" in err
    assert "anna" not in err.lower()


def test_the_console_script_reports_errors_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "avgkit", "audit", "verify", "--store", str(tmp_path / "x.db"),
         "--policy", str(tmp_path / "none.toml")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "80"},
    )  # fmt: skip
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_the_cli_works_without_the_progress_extra(policy):
    """Without tqdm (the avgkit[cli] extra) the commands run, with no bars."""
    script = (
        "import sys; sys.modules['tqdm'] = None\n"
        "from avgkit.cli import main, _common\n"
        "assert _common._tqdm is None\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "retention", "run", "--store", "memory://",
         "--policy", str(policy), "--host", "cli_host:host", "--warn", "cli_host:warn",
         "--yes", "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=TESTS,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["remaining"] == 0


def test_progress_bars_show_on_a_terminal_only(policy):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    err = Terminal()
    out = io.StringIO()
    argv = ["retention", "run", "--store", "memory://", "--policy", str(policy),
            "--host", "cli_host:host", "--warn", "cli_host:warn", "--yes"]  # fmt: skip
    assert main(argv, out=out, err=err) == 0
    assert "action" in err.getvalue()  # tqdm's bar, with its unit
    plain = io.StringIO()
    assert main(argv, out=io.StringIO(), err=plain) == 0
    assert plain.getvalue() == ""


def test_demo_makes_the_folder_of_its_database(tmp_path):
    db = tmp_path / "build" / "demo.db"
    assert run("demo", "--db", db, "--json")[0] == 0
    assert db.is_file()
    assert (tmp_path / "build" / "demo-files" / "policy.toml").is_file()
