"""The ``avgkit host`` commands: the coverage check and the sanitised copy of a host database.

Private; see :mod:`avgkit.cli`. Both need the ``sql`` extra (SQLAlchemy); without it they
say so on one line.
"""

from __future__ import annotations

import argparse
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from avgkit.cli._common import (
    ExitCode,
    Output,
    UsageError,
    confirm,
    inventory,
    policy_path,
    resolve,
)
from avgkit.clock import SystemClock
from avgkit.errors import NotFound, ValidationError
from avgkit.pseudonym import PseudonymKey

try:  # the optional extra avgkit[sql]
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from avgkit.host import sql as host_sql
except ImportError:  # pragma: no cover - the tests run with the extra installed
    sa = None  # type: ignore[assignment]
    host_sql = None  # type: ignore[assignment]

__all__ = ["DATABASE_ENV", "SECRET_ENV", "add_parsers", "host_check", "host_sanitise"]

DATABASE_ENV: Final = "AVGKIT_HOST_DATABASE"
SECRET_ENV: Final = "AVGKIT_SANITISE_SECRET"  # noqa: S105 - a variable name
_DRIVERS: Final = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
_EXTRAS: Final = {"postgresql": "postgres", "mysql": "mariadb", "mariadb": "mariadb"}
DATABASE_HELP: Final = (
    "an SQLAlchemy URL (sqlite:///shop.db, postgresql://user@host/db?schema=shop, "
    "mysql://user@host/db) or the path of a SQLite file; put a password in ~/.pgpass or "
    "the driver's environment, not in the URL"
)


def _needs_sql() -> None:
    if host_sql is None:
        msg = "the host commands need SQLAlchemy: pip install 'avgkit[sql]'"
        raise UsageError(msg)


def _url(text: str, what: str) -> sa.URL:
    """The SQLAlchemy URL of ``text``, with avgkit's drivers (psycopg 3, PyMySQL)."""
    if "://" not in text:
        return sa.make_url(f"sqlite:///{Path(text).expanduser().resolve()}")
    try:
        url = sa.make_url(text)
    except ArgumentError:
        msg = f"{what}: not a database URL (expected e.g. {DATABASE_HELP.split(' or ')[0]})"
        raise UsageError(msg) from None
    driver = _DRIVERS.get(url.drivername)
    if driver is not None:
        url = url.set(drivername=driver)
    if url.get_backend_name() == "sqlite" and url.database not in {None, "", ":memory:"}:
        path = Path(str(url.database)).expanduser().resolve()
        url = url.set(database=str(path))
    return url


def _engine(url: sa.URL, what: str, *, must_exist: bool) -> sa.Engine:
    """An engine on ``url``; ``?schema=`` on PostgreSQL becomes the search path."""
    backend = url.get_backend_name()
    database = url.database
    in_a_file = backend == "sqlite" and database not in {None, "", ":memory:"}
    if must_exist and in_a_file and not Path(str(database)).is_file():
        msg = f"{what}: no SQLite database at {database}"
        raise NotFound(msg)
    connect_args: dict[str, Any] = {}
    schema = url.query.get("schema")
    if backend == "postgresql" and schema is not None:
        connect_args["options"] = f"-csearch_path={schema}"
        url = url.difference_update_query(["schema"])
    try:
        return sa.create_engine(url, connect_args=connect_args)
    except (ImportError, NoSuchModuleError):
        extra = _EXTRAS.get(backend, "sql")
        msg = f"{what}: the driver for {backend} is not installed; pip install 'avgkit[{extra}]'"
        raise UsageError(msg) from None


def _table_map(spec: str | None, policy: str | None) -> host_sql.TableMap:
    """The map of ``--map module:attribute``, or else of the policy file's ``host`` section."""
    if spec is None:
        return host_sql.table_map_from_file(policy_path(policy))
    target = resolve(spec, "--map")
    if callable(target) and not isinstance(target, host_sql.TableMap) and _no_arguments(target):
        target = target()
    if not isinstance(target, host_sql.TableMap):
        msg = f"--map: {spec!r} is neither an avgkit.host.sql.TableMap nor a function returning one"
        raise UsageError(msg)
    return target


def _no_arguments(function: Callable[..., object]) -> bool:
    try:
        inspect.signature(function).bind()
    except (TypeError, ValueError):
        return False
    return True


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        msg = f"{text!r} is not a fraction between 0 and 1 (1 means every column declared)"
        raise argparse.ArgumentTypeError(msg)
    return value


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            msg = f"{text!r} is not a whole number of at least {minimum}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


# --------------------------------------------------------------------------- check


def host_check(args: argparse.Namespace, output: Output) -> ExitCode:
    """``avgkit host check``: the columns that look personal but are declared nowhere."""
    _needs_sql()
    if not args.database:
        msg = f"host check needs the host's database: pass --database URL or set {DATABASE_ENV}"
        raise UsageError(msg)
    loaded = inventory(args.policy)
    table_map = _table_map(args.map, args.policy)
    engine = _engine(_url(args.database, "--database"), "--database", must_exist=True)
    try:
        report = host_sql.check_coverage(engine, table_map, loaded, sample=args.sample)
    finally:
        engine.dispose()
    passed = report.coverage >= args.threshold
    where = host_sql.describe_database(engine)
    undeclared = len(report.undeclared)
    if output.json:
        output.document(
            {
                "database": where,
                "coverage": round(report.coverage, 4),
                "threshold": args.threshold,
                "passed": passed,
                "mapped": report.mapped,
                "undeclared": undeclared,
                "checked": report.checked,
                "findings": [
                    {
                        "table": f.table,
                        "column": f.column,
                        "detector": f.detector,
                        "matched": f.matched,
                        "sampled": f.sampled,
                    }
                    for f in report.findings
                ],
            }
        )
    else:
        verdict = "passed" if passed else "FAILED"
        output.line(
            f"host check {verdict}: {where}: coverage {report.coverage:.0%} "
            f"(threshold {args.threshold:.0%}): {report.mapped} columns mapped, {undeclared} "
            f"undeclared that look personal, {report.checked} checked"
        )
        for line in report.lines():
            output.line(f"  {line}")
        if undeclared:
            output.line(
                "Map each to an inventory field, or list it in the map's not_personal with the "
                "reason it holds nothing personal."
            )
    return ExitCode.OK if passed else ExitCode.CHECK_FAILED


# --------------------------------------------------------------------------- sanitise


def _key(variable: str) -> PseudonymKey | None:
    secret = os.environ.get(variable)
    if not secret:
        return None
    try:
        return host_sql.key_from_secret(secret)
    except ValidationError as exc:
        raise ValidationError(f"${variable}: {exc}") from None


def host_sanitise(args: argparse.Namespace, output: Output) -> ExitCode:
    """``avgkit host sanitise SOURCE TARGET``: a copy for staging, mapped fields anonymised."""
    _needs_sql()
    loaded = inventory(args.policy)
    table_map = _table_map(args.map, args.policy)
    source_url, target_url = _url(args.source, "SOURCE"), _url(args.target, "TARGET")
    if source_url == target_url:
        msg = "TARGET is SOURCE; a sanitised copy must go to another, empty database"
        raise ValidationError(msg)
    key = _key(args.secret_env)
    if args.replace:
        confirm(
            output,
            "Drop the target's tables that the source also has, and copy over them?",
            yes=args.yes,
        )
    source = _engine(source_url, "SOURCE", must_exist=True)
    target = _engine(target_url, "TARGET", must_exist=False)
    try:
        with output.progress(None, "row") as update:
            report = host_sql.sanitise(
                source,
                target,
                table_map,
                loaded,
                key=key,
                clock=SystemClock(),
                batch=args.batch,
                replace=args.replace,
                sample=args.sample,
                progress=lambda step: update(step.done, step.total),
            )
    finally:
        source.dispose()
        target.dispose()
    keyed = f"${args.secret_env}" if key is not None else "a random key for this run only"
    if output.json:
        output.document(
            {
                "source": host_sql.describe_database(source),
                "target": host_sql.describe_database(target),
                "rows": dict(report.rows),
                "total": report.total,
                "treated": dict(report.treated),
                "key": "secret" if key is not None else "random",
            }
        )
        return ExitCode.OK
    output.line(
        f"sanitised copy of {host_sql.describe_database(source)} written to "
        f"{host_sql.describe_database(target)}: {report.total} rows in {len(report.rows)} "
        f"tables, {len(report.treated)} columns treated, pseudonyms keyed with {keyed}"
    )
    for line in report.lines():
        output.line(f"  {line}")
    return ExitCode.OK


# --------------------------------------------------------------------------- parsers


def add_parsers(
    commands: Any,
    command: Callable[..., argparse.ArgumentParser],
    add_policy: Callable[[argparse.ArgumentParser], None],
    group: Callable[..., Any],
) -> None:
    """Add ``host check`` and ``host sanitise`` to the command line's parser."""
    host = group(commands, "host", "the host's own database, through the table map")
    check = command(
        host,
        "check",
        host_check,
        "list the columns that look personal but are neither mapped nor declared not "
        "personal; exit 1 below the coverage threshold",
        "the coverage and the findings as JSON",
    )
    check.add_argument(
        "--database",
        metavar="URL",
        default=os.environ.get(DATABASE_ENV) or None,
        help=f"the host's database: {DATABASE_HELP} (default: ${DATABASE_ENV})",
    )
    _add_map(check, add_policy)
    check.add_argument(
        "--threshold",
        type=_threshold,
        default=1.0,
        metavar="FRACTION",
        help="the least coverage (mapped columns over all that look personal) that passes; "
        "1 fails on any undeclared column (default: 1)",
    )
    check.add_argument(
        "--sample",
        type=_whole(0),
        default=100,
        metavar="N",
        help="values sampled per text column for content detection; 0: names only (default: 100)",
    )
    sanitise = command(
        host,
        "sanitise",
        host_sanitise,
        "copy the host's database for staging, every mapped field anonymised as the "
        "inventory says and subject keys pseudonymised consistently",
        "what was copied and treated as JSON",
    )
    sanitise.add_argument("source", metavar="SOURCE", help=f"the host's database: {DATABASE_HELP}")
    sanitise.add_argument(
        "target", metavar="TARGET", help="another database with no tables (the same forms)"
    )
    _add_map(sanitise, add_policy)
    sanitise.add_argument(
        "--secret-env",
        default=SECRET_ENV,
        metavar="NAME",
        help="the environment variable holding a secret of 32 or more characters that keys "
        "the pseudonyms, so that two copies agree; unset: a random key per run "
        f"(default: {SECRET_ENV})",
    )
    sanitise.add_argument(
        "--replace",
        action="store_true",
        help="drop the target's tables that the source also has (asks; --yes) (default: "
        "refuse a target holding tables)",
    )
    sanitise.add_argument(
        "--yes", action="store_true", help="do not ask before --replace (default: ask)"
    )
    sanitise.add_argument(
        "--batch",
        type=_whole(1),
        default=1000,
        metavar="N",
        help="rows read and written at a time (default: 1000)",
    )
    sanitise.add_argument(
        "--sample",
        type=_whole(1),
        default=100,
        metavar="N",
        help="values sampled per undeclared text column by the coverage check that runs "
        "first (default: 100)",
    )


def _add_map(
    parser: argparse.ArgumentParser, add_policy: Callable[[argparse.ArgumentParser], None]
) -> None:
    add_policy(parser)
    parser.add_argument(
        "--map",
        metavar="MODULE:ATTRIBUTE",
        help="the table map: an avgkit.host.sql.TableMap, or a function returning one "
        "(default: the policy file's [host] section)",
    )
