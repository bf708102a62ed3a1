"""The tutorial and the policy-file guide run as written, so what a reader copies works."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from avgkit import Inventory, Kit
from avgkit.inventory import LawfulBasis
from avgkit.retention import Action, policy_from_file

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _blocks(page: str, language: str) -> list[str]:
    text = (DOCS / page).read_text("utf-8")
    found = re.findall(rf"\.\. code-block:: {language}\n\n((?:    .*\n|\n)+)", text)
    return ["\n".join(line[4:] for line in block.splitlines()) + "\n" for block in found]


def test_the_tutorial_runs_from_start_to_end(tmp_path, monkeypatch, capsys):
    blocks = _blocks("tutorial.rst", "python")
    assert len(blocks) >= 8, "the tutorial's steps"
    monkeypatch.chdir(tmp_path)  # it writes shop.db relative to here
    namespace: dict[str, object] = {"__name__": "tutorial"}
    for number, block in enumerate(blocks, 1):
        code = compile(block, f"docs/tutorial.rst, snippet {number}", "exec")
        exec(code, namespace)  # noqa: S102 - our own documentation
    out = capsys.readouterr().out
    assert "newsletter given" in out
    assert "inactive_accounts delete" in out
    assert "audit entries, chain intact" in out
    # nothing of either visitor is left in the shop's tables
    data = (tmp_path / "shop.db").read_bytes()
    for value in (b"Anna de Vries", b"anna@example.org", b"bram@example.org"):
        assert value not in data


def test_the_tutorial_names_the_steps_it_promises():
    text = (DOCS / "tutorial.rst").read_text("utf-8")
    for step in ("pip install", "Consent at checkout", "my-account", "nightly clean-up"):
        assert step in text


def _guide_policy(tmp_path: Path) -> Path:
    blocks = _blocks("policy_files.rst", "toml")
    complete = [b for b in blocks if b.startswith("[controller]")]
    assert len(complete) == 1, "the guide shows one complete policy file"
    path = tmp_path / "venue.toml"
    path.write_text(complete[0], "utf-8")
    return path


def test_the_worked_example_loads_and_says_what_the_statement_says(tmp_path):
    path = _guide_policy(tmp_path)
    inventory = Inventory.from_file(path)
    assert inventory.controller.country == "BE"
    assert inventory.purpose("newsletter").basis is LawfulBasis.CONSENT
    tips = inventory.purpose("personalised_tips")
    assert tips.direct_marketing
    assert tips.profiling
    policy = policy_from_file(path)
    inactive = policy.rule("inactive_accounts")
    assert inactive.action is Action.ANONYMISE
    assert inactive.activity_types == {"purchase", "login", "newsletter_read"}
    assert policy.rule("camera_outside").period.days == 7
    assert policy.rule("camera_inside").period.days == 30
    with Kit.open("memory://", inventory=inventory, retention_policy=policy) as kit:
        assert kit.inventory is inventory


def test_the_worked_example_passes_policy_check(tmp_path):
    path = _guide_policy(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "avgkit", "policy", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_guides_other_snippets_are_valid_retention_rules(tmp_path):
    snippets = [b for b in _blocks("policy_files.rst", "toml") if b.startswith("[[retention]]")]
    assert snippets
    for number, snippet in enumerate(snippets):
        path = tmp_path / f"rules-{number}.toml"
        path.write_text(snippet, "utf-8")
        assert policy_from_file(path).rules


@pytest.mark.parametrize("page", ["tutorial.rst", "policy_files.rst"])
def test_the_guides_are_in_the_table_of_contents(page):
    index = (DOCS / "index.rst").read_text("utf-8")
    assert re.search(rf"^   {page.removesuffix('.rst')}$", index, re.MULTILINE)
