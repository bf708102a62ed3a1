import io
import json
import sqlite3
import subprocess
import sys

from avgkit.cli import main


def run(*argv):
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_demo_walks_every_step_on_a_sqlite_file(tmp_path):
    db = tmp_path / "demo.db"
    code, text = run("demo", "--db", str(db))
    assert code == 0
    assert "1. What the venue declared" in text
    assert "Art. 30" in text
    assert "chain intact" in text
    assert "verify() says: audit chain broken at entry 3" in text
    assert (tmp_path / "register.nl.html").exists()
    assert db.exists()


def test_demo_runs_again_on_the_same_file(tmp_path):
    db = tmp_path / "demo.db"
    assert run("demo", "--db", str(db))[0] == 0
    assert run("demo", "--db", str(db))[0] == 0


def test_audit_verify_reports_intact_and_broken_chains(tmp_path):
    db = tmp_path / "demo.db"
    run("demo", "--db", str(db))
    code, text = run("audit", "verify", "--db", str(db))
    assert code == 0
    assert "intact" in text
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_entries_no_update")
    conn.execute("UPDATE audit_entries SET action = 'forged.entry' WHERE seq = 2")
    conn.commit()
    conn.close()
    code, text = run("audit", "verify", "--db", str(db))
    assert code == 1
    assert "entry 2" in text


def test_verify_of_a_missing_file_is_a_usage_error(tmp_path):
    assert run("audit", "verify", "--db", str(tmp_path / "nope.db"))[0] == 2


def test_register_prints_every_format():
    code, md = run("register", "--lang", "nl")
    assert code == 0
    assert md.startswith("#")
    assert run("register", "--format", "csv")[1].count("\n") > 3
    assert "<html" in run("register", "--format", "html")[1]
    assert json.loads(run("register", "--format", "json")[1])


def test_a_bad_policy_file_is_reported_without_a_traceback(tmp_path, capsys):
    from importlib.resources import files

    preset = files("avgkit.presets").joinpath("ticketing.toml").read_text(encoding="utf-8")
    start = preset.index("[purposes.newsletter]")
    basis = preset.index("basis", start)
    end = preset.index("\n", basis)
    policy = tmp_path / "bad.toml"
    policy.write_text(preset[:basis] + 'basis = "vibes"' + preset[end:])
    code, _ = run("register", "--policy", str(policy))
    assert code == 2
    err = capsys.readouterr().err
    assert "purposes.newsletter" in err
    assert "Traceback" not in err


def test_python_dash_m_avgkit_runs():
    result = subprocess.run(
        [sys.executable, "-m", "avgkit", "register", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_consent_report_prints_the_demo_venues_consents(tmp_path):
    db = tmp_path / "demo.db"
    run("demo", "--db", str(db))
    code, text = run(
        "consent", "report", "--db", str(db), "--since", "2026-01-01", "--until", "2026-02-01"
    )
    assert code == 0
    assert "cust-0101" in text
    assert "newsletter" in text
    code, html = run(
        "consent",
        "report",
        "--db",
        str(db),
        "--since",
        "2026-01-01",
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


def test_consent_report_refuses_a_reversed_period_and_a_missing_file(tmp_path, capsys):
    db = tmp_path / "demo.db"
    run("demo", "--db", str(db))
    code, _ = run(
        "consent", "report", "--db", str(db), "--since", "2026-02-01", "--until", "2026-01-01"
    )
    assert code == 2
    assert "until" in capsys.readouterr().err
    code, _ = run(
        "consent",
        "report",
        "--db",
        str(tmp_path / "none.db"),
        "--since",
        "2026-01-01",
        "--until",
        "2026-02-01",
    )
    assert code == 2


def test_paths_with_url_characters_name_the_file_itself(tmp_path):
    """'#', '?' and '%' in a path are escaped, not read as URL syntax."""
    for name in ("venue#2.db", "audit%41.db", "what?.db"):
        db = tmp_path / name
        assert run("demo", "--db", str(db))[0] == 0
        code, text = run("audit", "verify", "--db", str(db))
        assert code == 0
        assert "0 entries" not in text
    assert sorted(p.name for p in tmp_path.glob("*.db")) == sorted(
        ["venue#2.db", "audit%41.db", "what?.db"]
    )
