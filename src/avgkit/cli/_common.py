"""What every command shares: exit codes, the store, the policy file, the host, dates, output.

Private; see :mod:`avgkit.cli` for the command line itself.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import enum
import importlib
import inspect
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, TextIO

import attrs

from avgkit.errors import NotFound, ValidationError
from avgkit.host import HostData
from avgkit.inventory import Inventory, _policyfile
from avgkit.kit import Kit
from avgkit.pseudonym import KeyEncryptionKey
from avgkit.retention import RetentionPolicy, policy_from_file
from avgkit.retention._policyfile import SECTION
from avgkit.storage.sqlite import path_from_url, url_for

try:  # the optional extra avgkit[cli]: progress bars
    import tqdm as _tqdm
except ImportError:  # pragma: no cover - the tests run with the extra installed
    _tqdm = None  # type: ignore[assignment]


class ExitCode(enum.IntEnum):
    """The exit codes of ``avgkit``.

    .. versionadded:: 0.2.0
    """

    OK = 0
    """The command did what it was asked."""
    CHECK_FAILED = 1
    """A check found a problem: ``policy check`` found one, ``audit verify`` a broken chain."""
    USAGE = 2
    """Bad input: an unknown option, a malformed value or file, a missing ``--policy``."""
    NOT_FOUND = 3
    """What was named does not exist: the database file, the subject, the breach."""
    NOT_DONE = 4
    """Nothing was changed: a hold defers the erasure, the action is not permitted, or the
    confirmation was declined."""
    STORAGE = 5
    """The database failed or cannot be reached (the driver's own text is never shown)."""
    INTERNAL = 70
    """An unexpected error in avgkit or in the host's code (a bug; set ``AVGKIT_DEBUG=1``
    for the traceback)."""
    INTERRUPTED = 130
    """Interrupted (Ctrl-C)."""


STORE_ENV: Final = "AVGKIT_STORE"
POLICY_ENV: Final = "AVGKIT_POLICY"
HOST_ENV: Final = "AVGKIT_HOST"
PASSPHRASE_ENV: Final = "AVGKIT_PASSPHRASE"  # noqa: S105 - a variable name
KEK_FILE_ENV: Final = "AVGKIT_KEK_FILE"
DEBUG_ENV: Final = "AVGKIT_DEBUG"


class UsageError(Exception):
    """A command line that cannot be carried out as given; its text is shown as is."""


class Declined(Exception):  # noqa: N818 - the outcome, like NotFound
    """The person at the terminal answered no; nothing was changed."""


# --------------------------------------------------------------------------- output


@attrs.frozen
class Output:
    """Where a command writes: its result on ``out``, progress and prompts on ``err``."""

    out: TextIO
    err: TextIO
    json: bool = False

    def line(self, text: str = "") -> None:
        """Write one line of the result."""
        self.out.write(text + "\n")

    def document(self, value: object) -> None:
        """Write ``value`` as indented JSON (the ``--json`` result)."""
        self.out.write(json.dumps(value, indent=2, ensure_ascii=False, default=_json_default))
        self.out.write("\n")

    def interactive(self) -> bool:
        """Whether a person is at the terminal (stdin and the error stream are terminals)."""
        return _is_tty(self.err) and _is_tty(sys.stdin)

    @contextmanager
    def progress(self, total: int | None, unit: str) -> Iterator[Callable[[int, int], None]]:
        """A progress bar on the error stream while the block runs; ``update(done, total)``.

        Shown only when the error stream is a terminal and the ``avgkit[cli]`` extra
        (tqdm) is installed; otherwise ``update`` does nothing.
        """
        if _tqdm is None or not _is_tty(self.err):
            yield lambda _done, _total: None
            return
        bar = _tqdm.tqdm(total=total, unit=unit, file=self.err, leave=False, dynamic_ncols=True)

        def update(done: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
            bar.n = done
            bar.refresh()

        try:
            yield update
        finally:
            bar.close()


def _is_tty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    msg = f"cannot write a {type(value).__name__} as JSON"
    raise TypeError(msg)


def confirm(output: Output, question: str, *, yes: bool) -> None:
    """Go on when ``yes`` (``--yes``) or the person answers y; else :class:`Declined`.

    Raises:
        UsageError: nobody is at a terminal to ask and ``--yes`` was not given.
    """
    if yes:
        return
    if not output.interactive():
        msg = f"{question.rstrip('?')}: pass --yes to confirm when no terminal can ask"
        raise UsageError(msg)
    output.err.write(f"{question} [y/N] ")
    output.err.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in {"y", "yes", "j", "ja"}:
        raise Declined


# --------------------------------------------------------------------------- dates

DATE_FORMAT_HELP: Final = (
    "an ISO 8601 instant with its offset (2024-06-01T12:00:00+02:00) or a date (2024-06-01, "
    "midnight UTC)"
)
_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def instant(text: str) -> datetime:
    """Parse ``--since`` and the like: an aware ISO 8601 instant, or a date at midnight UTC.

    Raises:
        argparse.ArgumentTypeError: through argparse, naming the expected format.
    """
    value = text.strip()
    try:
        if _DAY.match(value):
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        reason = "has no offset" if parsed is not None else "is not a date"
        msg = f"{text!r} {reason}; expected {DATE_FORMAT_HELP}"
        raise argparse.ArgumentTypeError(msg)
    return parsed


# --------------------------------------------------------------------------- inputs


def store_url(value: str | None, *, must_exist: bool = True) -> str:
    """The store URL of ``--store``: a URL, or the path of a SQLite file.

    Raises:
        UsageError: no store was named.
        NotFound: a SQLite file that does not exist (it would be created empty).
    """
    if not value:
        msg = (
            f"this command needs the store: pass --store URL (sqlite:///avg.db, "
            f"postgresql://..., or the path of a SQLite file), or set {STORE_ENV}"
        )
        raise UsageError(msg)
    url = value if "://" in value else url_for(value)
    if must_exist and url.lower().startswith("sqlite:"):
        path = path_from_url(url)
        if path != ":memory:" and not Path(path).is_file():
            msg = (
                f"no SQLite database at {path}; check --store (a new one is made by the "
                "program that uses avgkit, or by avgkit demo)"
            )
            raise NotFound(msg)
    return url


_KEK_BYTES: Final = 32


def kek_from_file(path: str, *, key_id: str) -> KeyEncryptionKey:
    """The key-encryption key in the file at ``path`` (``$AVGKIT_KEK_FILE``), as ``key_id``.

    The file holds the KEK's 32 bytes as they are, or written as 64 hex digits or in
    base64 (surrounding white space is ignored): what ``KeyEncryptionKey.from_bytes`` was
    given. The id is the one the key store names, so only the material is kept in the file.

    Raises:
        NotFound: there is no such file.
        ValidationError: it cannot be read, or does not hold 32 bytes in one of those forms
            (the message gives its length only, never its contents).
    """
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        msg = f"no KEK file at {path}; check {KEK_FILE_ENV}"
        raise NotFound(msg) from None
    except OSError as exc:
        msg = f"cannot read the KEK file {path} ({type(exc).__name__}: {exc.strerror})"
        raise ValidationError(msg) from None
    material = data if len(data) == _KEK_BYTES else _kek_text(data)
    if material is None:
        msg = (
            f"the KEK file {path} holds {len(data)} bytes, not a KEK: it must hold the KEK's "
            f"{_KEK_BYTES} bytes as they are, or written as {2 * _KEK_BYTES} hex digits or in "
            "base64"
        )
        raise ValidationError(msg)
    return KeyEncryptionKey.from_bytes(material, key_id=key_id)


def _kek_text(data: bytes) -> bytes | None:
    """The 32 bytes written as hex or base64 in ``data``, or ``None``."""
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    try:
        material = (
            bytes.fromhex(text)
            if len(text) == 2 * _KEK_BYTES
            else base64.b64decode(text, validate=True)
        )
    except (ValueError, binascii.Error):
        return None
    return material if len(material) == _KEK_BYTES else None


def policy_path(value: str | None) -> str:
    """The policy file of ``--policy``.

    Raises:
        UsageError: none was named: a command never falls back on the sample venue's.
    """
    if not value:
        msg = (
            "this command needs the venue's policy file (the inventory, with its retention "
            f"section): pass --policy FILE or set {POLICY_ENV}; avgkit demo writes a sample one"
        )
        raise UsageError(msg)
    return value


def inventory(value: str | None) -> Inventory:
    """The inventory of the ``--policy`` file."""
    return Inventory.from_file(policy_path(value))


def retention_policy(value: str | None, *, required: bool) -> RetentionPolicy | None:
    """The retention rules of the ``--policy`` file (``None`` without a section, if allowed)."""
    path = policy_path(value)
    if not required:
        document = _policyfile.document_from_file(path)
        if isinstance(document, dict) and SECTION not in document:
            return None
    return policy_from_file(path)


@attrs.frozen
class LoadedHost:
    """The host's data, and whether the command made it (and so closes it)."""

    host: HostData
    owned: bool

    def close(self) -> None:
        """Close a host the command made, if it can be closed."""
        closer = getattr(self.host, "close", None)
        if self.owned and callable(closer):
            closer()


def load_host(spec: str | None, loaded: Inventory) -> LoadedHost:
    """The host of ``--host module:attribute``: a HostData, or a factory making one.

    The factory is called with no arguments, or with ``inventory=`` (the inventory of
    ``--policy``) when it has a parameter of that name. The working directory is on the
    import path, as for ``python -m``.

    Raises:
        UsageError: no host was named, or it cannot be imported, or is not a HostData.
    """
    if not spec:
        msg = (
            "this command needs the host's data: pass --host module:attribute (an "
            f"avgkit.HostData or a factory returning one), or set {HOST_ENV}"
        )
        raise UsageError(msg)
    target = resolve(spec, "--host")
    if not isinstance(target, type) and isinstance(target, HostData):
        return LoadedHost(target, owned=False)
    if not callable(target):
        msg = f"--host: {spec!r} is neither an avgkit.HostData nor a factory returning one"
        raise UsageError(msg)
    made = target(inventory=loaded) if _takes_inventory(target) else target()
    if not isinstance(made, HostData):
        msg = f"--host: {spec!r} returned a {type(made).__name__}, not an avgkit.HostData"
        raise UsageError(msg)
    return LoadedHost(made, owned=True)


def resolve(spec: str, option: str, *, callable_only: bool = False) -> Any:
    """The object ``module:attribute`` names (the attribute may be dotted).

    The working directory is put on the import path, as ``python -m`` does.

    Raises:
        UsageError: the module cannot be imported or has no such attribute.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        msg = f"{option} takes module:attribute (e.g. myshop.avg:host), not {spec!r}"
        raise UsageError(msg)
    here = str(Path.cwd())
    if "" not in sys.path and here not in sys.path:
        sys.path.insert(0, here)
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        msg = f"{option}: cannot import {module_name!r} ({type(exc).__name__}); check the name"
        raise UsageError(msg) from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            msg = f"{option}: {module_name!r} has no attribute {attribute!r}"
            raise UsageError(msg)
        target = getattr(target, part)
    if callable_only and not callable(target):
        msg = f"{option}: {spec!r} is not a function"
        raise UsageError(msg)
    return target


def _takes_inventory(factory: Callable[..., object]) -> bool:
    try:
        return "inventory" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


def open_kit(
    store: str | None,
    loaded: Inventory,
    *,
    host: HostData | None = None,
    retention: RetentionPolicy | None = None,
) -> Kit:
    """Open the kit on ``--store`` with the inventory (and host and rules, if given)."""
    return Kit.open(store_url(store), inventory=loaded, host=host, retention_policy=retention)


def write_private(path: Path, data: bytes, *, force: bool) -> None:
    """Write ``data`` to ``path`` readable by its owner only, all or nothing.

    Raises:
        UsageError: the file exists and ``force`` is not set.
    """
    if path.exists() and not force:
        msg = f"{path} exists; choose another --out or pass --force to replace it"
        raise UsageError(msg)
    if not path.parent.is_dir():
        msg = f"no folder {path.parent} to write {path.name} in"
        raise UsageError(msg)
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
