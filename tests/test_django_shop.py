"""The Django example shop's own tests (examples/django_shop/tests), run with pytest-django.

They run in a pytest process of their own: pytest-django set up in this one would configure
Django for every test of the suite (and for the pytest runs some tests start in-process).
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
SHOP_TESTS = ROOT / "examples" / "django_shop" / "tests"


def test_the_django_shop_passes_its_tests(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "shopsite.settings"}
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", str(SHOP_TESTS), "-q", "-p", "no:cacheprovider",
            "--basetemp", str(tmp_path / "django_shop"),
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    summary = result.stdout.strip().splitlines()[-1:] or ["(no output)"]
    assert result.returncode == 0, f"{summary[0]}\n{result.stdout[-6000:]}{result.stderr[-2000:]}"
    assert " passed" in summary[0]
    assert "skipped" not in summary[0], summary[0]  # every test of the shop ran
