"""The ``avgkit`` command line (also ``python -m avgkit``); docs/cli.rst describes it.

``avgkit demo``
    walk a sample venue through avgkit on a SQLite file the demo makes (never another's).
``avgkit policy check FILE``
    list every problem of a policy file (the inventory and its retention rules).
``avgkit register``
    print the Art. 30 record of processing activities of the policy file.
``avgkit consent report``
    who consented to what on which day, over a period.
``avgkit retention plan`` / ``avgkit retention run``
    the dry run of the retention rules, and carrying it out in the host's data.
``avgkit dsar export SUBJECT`` / ``avgkit erase SUBJECT``
    a subject's access or portability export; an erasure (Art. 17).
``avgkit breach list`` / ``avgkit audit verify``
    the breach register with its deadlines; the audit log's hash chain.
``avgkit host check`` / ``avgkit host sanitise SOURCE TARGET``
    the host database's undeclared personal columns; a sanitised copy of it for staging.

Every command but ``demo`` and ``policy check`` takes the venue's policy file
(``--policy``, or ``$AVGKIT_POLICY``) and refuses to run without one; those that read the
database take ``--store`` (``$AVGKIT_STORE``), those that need the host's data ``--host
module:attribute`` (``$AVGKIT_HOST``). ``--json`` gives machine output everywhere. The exit
codes are those of :class:`ExitCode`. Errors are one line on standard error, with no
traceback and no personal data.

.. versionadded:: 0.1.0
.. versionchanged:: 0.2.0
   ``--store`` and ``--policy`` on every command; ``policy check``, ``retention``,
   ``dsar export``, ``erase``, ``breach list``, ``--json`` and ``--version``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

from avgkit.cli import _commands, _host
from avgkit.cli._common import (
    DATE_FORMAT_HELP,
    DEBUG_ENV,
    HOST_ENV,
    PASSPHRASE_ENV,
    POLICY_ENV,
    STORE_ENV,
    Declined,
    ExitCode,
    Output,
    UsageError,
    instant,
)
from avgkit.errors import (
    AvgkitError,
    IntegrityError,
    NotFound,
    NotPermitted,
    StorageError,
)
from avgkit.storage.sqlite import url_for

__all__ = ["ExitCode", "main"]

_Command = Callable[[argparse.Namespace, Output], ExitCode]


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line instead of the usage text and an exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _shown(name: str) -> str:
    value = _env(name)
    return f"${name}" + ("" if value is None else f", now {value}")


def _sqlite_path(text: str) -> str:
    return url_for(text)


def _shared_options(json_help: str) -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help=f"{json_help} (default: off)",
    )
    return common


def _add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        default=_env(STORE_ENV),
        help="avgkit's store: memory://, sqlite:///avg.db, postgresql://user@host/db?schema=s, "
        f"or the path of a SQLite file (default: {_shown(STORE_ENV)})",
    )
    parser.add_argument(
        "--db",
        dest="store",
        metavar="FILE",
        type=_sqlite_path,
        default=argparse.SUPPRESS,
        help="a SQLite file: the same as --store FILE, kept from avgkit 0.1 (default: --store)",
    )


def _add_policy(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy",
        metavar="FILE",
        default=_env(POLICY_ENV),
        help="the venue's policy file (.toml or .json: the inventory and its retention "
        f"section); required (default: {_shown(POLICY_ENV)})",
    )


def _add_host(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        metavar="MODULE:ATTRIBUTE",
        default=_env(HOST_ENV),
        help="the host's data: an import path to an avgkit.HostData, or to a factory taking "
        "no arguments (or inventory=) that returns one; the working directory is importable "
        f"(default: {_shown(HOST_ENV)})",
    )


def _add_lang(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--lang",
        choices=["nl", "en"],
        default=default,
        help=f"the language of the document (default: {default})",
    )


def _add_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--yes",
        action="store_true",
        help="do not ask for confirmation; needed when no terminal can ask (default: ask)",
    )


def _command(
    commands: argparse._SubParsersAction[_Parser],
    name: str,
    run: _Command,
    summary: str,
    json_help: str,
) -> _Parser:
    parser = commands.add_parser(
        name, help=summary, description=summary, parents=[_shared_options(json_help)]
    )
    parser.set_defaults(run=run)
    return parser


def _group(parent: argparse._SubParsersAction[_Parser], name: str, summary: str) -> Any:
    group = parent.add_parser(name, help=summary, description=summary)
    commands = group.add_subparsers(dest=f"{name}_command", metavar="COMMAND")
    group.set_defaults(run=None, group=group.prog, subcommands=commands)
    return commands


def _parser() -> _Parser:  # noqa: PLR0915 - one block per command, in help order
    parser = _Parser(
        prog="avgkit",
        description="GDPR (AVG) tooling for ticket systems: check a policy file, print the "
        "register, report consent, run retention, answer requests, list breaches, verify "
        "the audit log.",
        epilog="Exit codes: "
        + "; ".join(f"{code.value} {code.name.lower().replace('_', ' ')}" for code in ExitCode)
        + ". Documentation: docs/cli.rst.",
    )
    parser.add_argument(
        "--version", action="store_true", help="print avgkit's version (default: off)"
    )
    parser.add_argument(
        "--json", action="store_true", default=False, help="machine output (default: off)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(run=None, group=parser.prog, subcommands=commands)

    demo = _command(
        commands,
        "demo",
        _commands.demo,
        "walk a sample venue's ticket shop through avgkit, on a SQLite file of its own",
        "print a summary as JSON instead of the walk-through",
    )
    demo.add_argument(
        "--db",
        default="build/demo.db",
        metavar="FILE",
        help="the SQLite file to write; one avgkit demo made before is replaced, any other "
        "file is refused; its reports go to FILE's stem + '-files' beside it "
        "(default: build/demo.db)",
    )

    policy = _group(commands, "policy", "policy files")
    check = _command(
        policy,
        "check",
        _commands.policy_check,
        "list every problem of a policy file (inventory and retention); exit 1 if any",
        "print the problems as JSON",
    )
    check.add_argument("file", metavar="FILE", help="the .toml or .json policy file")

    register = _command(
        commands,
        "register",
        _commands.register,
        "print the Art. 30 record of processing activities",
        "the same as --format json",
    )
    _add_policy(register)
    register.add_argument(
        "--format",
        choices=["md", "csv", "html", "json"],
        default="md",
        help="Markdown, CSV, printable HTML or JSON (default: md)",
    )
    _add_lang(register, "en")

    consent = _group(commands, "consent", "the consent ledger")
    report = _command(
        consent,
        "report",
        _commands.consent_report,
        "who consented to what on which day (Art. 7(1))",
        "the counts per purpose and day as JSON",
    )
    _add_store(report)
    _add_policy(report)
    report.add_argument(
        "--since",
        required=True,
        type=instant,
        help=f"the first instant: {DATE_FORMAT_HELP} (required)",
    )
    report.add_argument(
        "--until",
        required=True,
        type=instant,
        help=f"the end (not included), after --since: {DATE_FORMAT_HELP} (required)",
    )
    report.add_argument(
        "--purpose", metavar="KEY", help="one purpose only (default: every purpose)"
    )
    report.add_argument(
        "--format",
        choices=["csv", "html", "json"],
        default="csv",
        help="CSV (one line per event), printable HTML or JSON counts (default: csv)",
    )
    _add_lang(report, "en")

    retention = _group(commands, "retention", "retention of the host's data")
    plan = _command(
        retention,
        "plan",
        _commands.retention_plan,
        "a dry run: what the retention rules make due, and why; nothing is changed",
        "the actions and their counts as JSON",
    )
    _add_store(plan)
    _add_policy(plan)
    _add_host(plan)
    plan.add_argument(
        "--at", type=instant, help=f"plan for this instant: {DATE_FORMAT_HELP} (default: now)"
    )
    plan.add_argument(
        "--limit",
        type=int,
        default=50,
        metavar="N",
        help="list at most N actions; 0 lists all (default: 50; the counts cover all)",
    )
    run = _command(
        retention,
        "run",
        _commands.retention_run,
        "make the plan now and carry out its due actions in the host's data",
        "the outcome counts as JSON",
    )
    _add_store(run)
    _add_policy(run)
    _add_host(run)
    run.add_argument(
        "--warn",
        metavar="MODULE:FUNCTION",
        help="called as function(subject, action) to warn a subject before a rule with "
        "warn_before acts (send the e-mail); needed when a warning is due (default: none)",
    )
    run.add_argument(
        "--batch", type=int, default=50, metavar="N", help="actions claimed at a time (default: 50)"
    )
    run.add_argument(
        "--executor",
        metavar="KEY",
        help="this executor's name in claims (default: host, process and a random part)",
    )
    _add_yes(run)

    dsar = _group(commands, "dsar", "data subject requests")
    export = _command(
        dsar,
        "export",
        _commands.dsar_export,
        "a subject's access (Art. 15) or portability (Art. 20) export",
        "with --out, describe the file written as JSON",
    )
    export.add_argument("subject", metavar="SUBJECT", help="the host's id of the subject")
    _add_store(export)
    _add_policy(export)
    _add_host(export)
    export.add_argument(
        "--format",
        choices=["json", "csv", "html"],
        default="json",
        help="JSON, CSV files in a zip (needs --out), or printable HTML (default: json)",
    )
    _add_lang(export, "nl")
    export.add_argument(
        "--kind",
        choices=["access", "portability"],
        default="access",
        help="access (Art. 15: everything) or portability (Art. 20: what the subject "
        "provided) (default: access)",
    )
    export.add_argument(
        "--seal",
        action="store_true",
        help="seal the file with a passphrase (scrypt and AES-256-GCM; needs --out), read "
        "from --passphrase-env or asked at the terminal, never an argument (default: off)",
    )
    export.add_argument(
        "--passphrase-env",
        default=PASSPHRASE_ENV,
        metavar="NAME",
        help=f"the environment variable holding the passphrase (default: {PASSPHRASE_ENV})",
    )
    export.add_argument(
        "--out",
        metavar="FILE",
        help="write the export here, readable by you only (default: standard output, for "
        "json and html)",
    )
    export.add_argument(
        "--force", action="store_true", help="replace --out if it exists (default: refuse)"
    )

    erase = _command(
        commands,
        "erase",
        _commands.erase,
        "erase a subject in the host and in avgkit (Art. 17); holds are honoured",
        "the outcome as JSON",
    )
    erase.add_argument("subject", metavar="SUBJECT", help="the host's id of the subject")
    _add_store(erase)
    _add_policy(erase)
    _add_host(erase)
    erase.add_argument(
        "--keep-records",
        action="store_true",
        help="anonymise the subject's records in the host instead of deleting them "
        "(default: delete)",
    )
    _add_yes(erase)

    breach = _group(commands, "breach", "the breach register (Art. 33(5))")
    listing = _command(
        breach,
        "list",
        _commands.breach_list,
        "every recorded breach with its deadlines",
        "the breaches as JSON",
    )
    _add_store(listing)
    _add_policy(listing)
    listing.add_argument(
        "--overdue",
        action="store_true",
        help="only breaches past a deadline (default: all)",
    )
    listing.add_argument(
        "--at", type=instant, help=f"the deadlines as at: {DATE_FORMAT_HELP} (default: now)"
    )

    audit = _group(commands, "audit", "the audit log")
    verify = _command(
        audit,
        "verify",
        _commands.audit_verify,
        "verify the audit log's hash chain; exit 1 if it is broken",
        "the result as JSON",
    )
    _add_store(verify)
    _add_policy(verify)
    verify.add_argument(
        "--anchor",
        metavar="SEQ:HASH",
        help="the head an earlier verify printed, to detect truncation (default: none)",
    )
    verify.add_argument(
        "--anchors",
        metavar="FILE",
        help="a file of anchors the program wrote (AnchorFile), each checked; sealed ones "
        "with the key in AVGKIT_ANCHOR_KEY (default: none)",
    )
    verify.add_argument(
        "--kek-file",
        metavar="FILE",
        default=_env("AVGKIT_KEK_FILE"),
        help="the file holding the key-encryption key of a store whose keys are wrapped, "
        "raw, hex or base64 (never the key itself on the command line) "
        f"(default: {_shown('AVGKIT_KEK_FILE')})",
    )
    _host.add_parsers(commands, _command, _add_policy, _group)
    return parser


def _error_code(exc: AvgkitError) -> ExitCode:
    if isinstance(exc, IntegrityError):
        return ExitCode.CHECK_FAILED
    if isinstance(exc, NotFound):
        return ExitCode.NOT_FOUND
    if isinstance(exc, NotPermitted):
        return ExitCode.NOT_DONE
    if isinstance(exc, StorageError):
        return ExitCode.STORAGE
    return ExitCode.USAGE


def _say(stream: TextIO, text: str) -> None:
    stream.write("avgkit: " + " ".join(text.split()) + "\n")


def _dispatch(argv: Sequence[str] | None, stdout: TextIO, stderr: TextIO) -> ExitCode:
    args = _parser().parse_args(argv)
    output = Output(stdout, stderr, json=args.json)
    if args.version:
        return _commands.version(args, output)
    if args.run is None:
        names = ", ".join(sorted(args.subcommands.choices))
        msg = f"choose a command: {names} (see {args.group} --help)"
        raise UsageError(msg)
    code: ExitCode = args.run(args, output)
    return code


def _failed(exc: Exception, stderr: TextIO) -> ExitCode:
    """Say on one line what went wrong; the exit code for it."""
    if isinstance(exc, UsageError):
        _say(stderr, str(exc))
        return ExitCode.USAGE
    if isinstance(exc, Declined):
        _say(stderr, "not confirmed; nothing was changed")
        return ExitCode.NOT_DONE
    if isinstance(exc, AvgkitError):
        _say(stderr, str(exc))
        return _error_code(exc)
    # Neither the text nor the traceback: a driver's or a host's message can hold
    # personal data.
    _say(
        stderr,
        f"internal error ({type(exc).__name__}) in avgkit or in the host's code; "
        f"set {DEBUG_ENV}=1 to see the traceback",
    )
    return ExitCode.INTERNAL


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command line on ``argv`` (default: the process's); return the exit code.

    Args:
        argv: the arguments after the program name.
        out: where results go (default: standard output).
        err: where errors, progress and prompts go (default: standard error).

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``err``; the exit codes of :class:`ExitCode`.
    """
    stdout = sys.stdout if out is None else out
    stderr = sys.stderr if err is None else err
    try:
        return int(_dispatch(argv, stdout, stderr))
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else int(ExitCode.USAGE)
    except KeyboardInterrupt:
        _say(stderr, "interrupted")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader stopped early (``avgkit ... | head``): nothing is wrong. Standard output
        # goes to the null device, so that Python's own flush at exit stays quiet too.
        if out is None:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, sys.stdout.fileno())
        return int(ExitCode.OK)
    except Exception as exc:
        expected = isinstance(exc, AvgkitError | UsageError | Declined)
        if _env(DEBUG_ENV) and not expected:
            raise
        return int(_failed(exc, stderr))
