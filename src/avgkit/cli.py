"""The ``avgkit`` command line (also ``python -m avgkit``).

``avgkit demo``
    walk a sample ticket shop through everything avgkit does, on a SQLite file.
``avgkit register``
    print the Art. 30 record of processing activities of a policy file (or the preset).
``avgkit audit verify``
    verify the audit chain of a SQLite file.
``avgkit consent report``
    print who consented to what on which day, over a period, as CSV or printable HTML.

Exit codes: 0 success, 1 the check failed (e.g. a broken audit chain), 2 bad input.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from avgkit import _demo
from avgkit._render import language
from avgkit.audit import AuditAnchor
from avgkit.errors import AvgkitError, IntegrityError, ValidationError
from avgkit.inventory import Inventory
from avgkit.kit import Kit
from avgkit.presets import ticketing
from avgkit.storage.sqlite import url_for

__all__ = ["main"]


def _inventory(args: argparse.Namespace) -> Inventory:
    if args.policy is None:
        return ticketing.inventory()
    return Inventory.from_file(args.policy)


def _demo_cmd(args: argparse.Namespace, out: TextIO) -> int:
    return _demo.run(Path(args.db), out)


def _register_cmd(args: argparse.Namespace, out: TextIO) -> int:
    register = _inventory(args).register()
    lang = language(args.lang)
    if args.format == "json":
        out.write(json.dumps(register.as_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        render = {
            "md": register.to_markdown,
            "csv": register.to_csv,
            "html": register.to_html,
        }[args.format]
        out.write(render(lang))
    return 0


def _verify_cmd(args: argparse.Namespace, out: TextIO) -> int:
    db = _existing(args.db)
    anchor = None if args.anchor is None else AuditAnchor.parse(args.anchor)
    with Kit.open(url_for(db), inventory=_inventory(args)) as kit:
        try:
            report = kit.audit.verify(anchor=anchor)
        except IntegrityError as exc:
            print(f"audit chain BROKEN: {exc}", file=out)
            return 1
    print(f"audit chain intact: {report.entries} entries; head {report.head}", file=out)
    return 0


def _day(text: str) -> datetime:
    """Parse ``YYYY-MM-DD`` as midnight UTC (argparse turns ValueError into a usage error)."""
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)


def _existing(path: str) -> Path:
    if not Path(path).exists():
        msg = f"no database at {path}"
        raise ValidationError(msg)
    return Path(path)


def _consent_report_cmd(args: argparse.Namespace, out: TextIO) -> int:
    db = _existing(args.db)
    with Kit.open(url_for(db), inventory=_inventory(args)) as kit:
        report = kit.consent.report(since=args.since, until=args.until, purpose=args.purpose)
        lang = language(args.lang)
        out.write(report.to_html(lang) if args.format == "html" else report.to_csv(lang))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avgkit", description="GDPR (AVG) tooling for ticket systems."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="walk a sample ticket shop through avgkit")
    demo.add_argument("--db", default="build/demo.db", help="SQLite file (recreated)")
    demo.set_defaults(run=_demo_cmd)

    register = commands.add_parser("register", help="print the Art. 30 register")
    register.add_argument("--policy", help="TOML or JSON policy file (default: the preset)")
    register.add_argument("--format", choices=["md", "csv", "html", "json"], default="md")
    register.add_argument("--lang", choices=["nl", "en"], default="en")
    register.set_defaults(run=_register_cmd)

    audit = commands.add_parser("audit", help="the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="verify the hash chain")
    verify.add_argument("--db", required=True, help="SQLite file")
    verify.add_argument("--anchor", help="SEQ:HASH kept from an earlier verify")
    verify.add_argument("--policy", help=argparse.SUPPRESS)
    verify.set_defaults(run=_verify_cmd)

    consent = commands.add_parser("consent", help="the consent ledger")
    consent_commands = consent.add_subparsers(dest="consent_command", required=True)
    report = consent_commands.add_parser(
        "report", help="who consented to what on which day (Art. 7(1))"
    )
    report.add_argument("--db", required=True, help="SQLite file")
    report.add_argument("--since", required=True, type=_day, help="first day, YYYY-MM-DD")
    report.add_argument("--until", required=True, type=_day, help="day after the last, YYYY-MM-DD")
    report.add_argument("--purpose", help="one purpose only (default: all)")
    report.add_argument("--format", choices=["csv", "html"], default="csv")
    report.add_argument("--lang", choices=["nl", "en"], default="en")
    report.add_argument("--policy", help="TOML or JSON policy file (default: the preset)")
    report.set_defaults(run=_consent_report_cmd)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line and return its exit code."""
    args = _parser().parse_args(argv)
    stream = sys.stdout if out is None else out
    try:
        code: int = args.run(args, stream)
    except AvgkitError as exc:
        print(f"avgkit: {exc}", file=sys.stderr)
        return 2
    return code
