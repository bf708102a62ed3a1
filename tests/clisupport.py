"""What the command-line tests share: running ``avgkit``, its environment, its errors."""

from __future__ import annotations

import io
from importlib.resources import files
from pathlib import Path

import pytest

from avgkit.cli import main

PRESET = files("avgkit.presets").joinpath("ticketing.toml").read_text(encoding="utf-8")
"""The sample venue's policy file."""

ENVIRONMENT = (
    "AVGKIT_ANCHOR_KEY",
    "AVGKIT_DEBUG",
    "AVGKIT_HOST",
    "AVGKIT_HOST_DATABASE",
    "AVGKIT_KEK_FILE",
    "AVGKIT_PASSPHRASE",
    "AVGKIT_POLICY",
    "AVGKIT_SANITISE_SECRET",
    "AVGKIT_STORE",
)
"""Every variable the command line reads: a test sets the ones it means to."""


def run(*argv: object) -> tuple[int, str]:
    """Run ``avgkit ARGV...`` in this process: its exit code and what it printed."""
    out = io.StringIO()
    code = main([str(a) for a in argv], out=out)
    return code, out.getvalue()


def clear_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset every variable the command line reads, so a developer's shell cannot leak in."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def policy_file(folder: Path, extra: str = "") -> Path:
    """The sample venue's policy file (and ``extra`` sections) written into ``folder``."""
    path = folder / "policy.toml"
    path.write_text(PRESET + ("\n" + extra if extra else ""), encoding="utf-8")
    return path


def one_line_error(capsys: pytest.CaptureFixture[str], personal: tuple[str, ...] = ()) -> str:
    """The one error line the command printed: no traceback, none of ``personal``."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("avgkit: ")
    assert "Traceback" not in err
    for value in personal:
        assert value not in err
    return err
