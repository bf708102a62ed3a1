"""examples/host_tests: a ticket system's own test suite on avgkit's pytest plugin.

The example is copied into a fresh directory and run as the host would run it, in a
pytest of its own (a subprocess: no state shared with this suite), once on the default
in-memory stores, once with ``--avgkit-store=sqlite``, and on PostgreSQL when a server is
there (as the other PostgreSQL tests decide).
"""

import os
import shutil
from pathlib import Path

import pytest

from pgsupport import resolve_server

EXAMPLE = Path(__file__).parents[1] / "examples" / "host_tests"
TESTS = 14  # the example's test functions (the two properties count once each)


def _copy(pytester: pytest.Pytester) -> None:
    for item in EXAMPLE.iterdir():
        if item.name in {"__pycache__", ".hypothesis"}:
            continue
        target = pytester.path / item.name
        if item.is_dir():
            shutil.copytree(item, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(item, target)


def _run(pytester: pytest.Pytester, *options: str) -> pytest.RunResult:
    _copy(pytester)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", *options)


@pytest.mark.parametrize("options", [(), ("--avgkit-store=sqlite",)], ids=["memory", "sqlite"])
def test_the_hosts_tests_pass(pytester: pytest.Pytester, options: tuple[str, ...]) -> None:
    result = _run(pytester, *options)
    result.assert_outcomes(passed=TESTS)


def test_the_hosts_tests_pass_on_postgresql(pytester: pytest.Pytester) -> None:
    """All but the two properties, whose 30 kits would each create and drop a schema."""
    server = resolve_server(os.environ)
    result = _run(pytester, f"--avgkit-store={server}", "-k", "not the_mailing_list")
    result.assert_outcomes(passed=TESTS - 2, deselected=2)


def test_a_broken_host_fails_the_hosts_tests(pytester: pytest.Pytester) -> None:
    """The runner can fail: a shop whose "stop the newsletter" button does nothing."""
    _copy(pytester)
    shop = pytester.path / "podium" / "shop.py"
    source = shop.read_text()
    broken = source.replace(
        'self.kit.consent.withdraw(visitor, "newsletter", evidence)', "del evidence"
    )
    assert broken != source
    shop.write_text(broken)
    # Only the tests about the button (its example and the mailing-list property).
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-q", "-k", "stopping or not_stop"
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "FAILED*test_stopping_the_newsletter_counts_from_that_instant*",
            "FAILED*test_the_mailing_list_is_who_ticked_the_box_and_did_not_stop*",
        ],
        consecutive=False,
    )
