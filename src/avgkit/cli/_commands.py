"""The commands of ``avgkit``: each takes the parsed arguments and an :class:`Output`.

Private; see :mod:`avgkit.cli`. Each returns an :class:`ExitCode`; errors propagate to
:func:`avgkit.cli.main`, which prints them on one line.
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections import Counter
from pathlib import Path
from typing import Any, Final

from avgkit import Kit, _demo
from avgkit._render import language
from avgkit._version import __version__
from avgkit.audit import AnchorFile, AnchorKey, AuditAnchor
from avgkit.cli._common import (
    Declined,
    ExitCode,
    Output,
    UsageError,
    confirm,
    inventory,
    load_host,
    open_kit,
    resolve,
    retention_policy,
    store_url,
    write_private,
)
from avgkit.cli._verify import open_read_only
from avgkit.errors import IntegrityError, ValidationError
from avgkit.inventory import Inventory, _policyfile
from avgkit.pseudonym import seal_bytes
from avgkit.retention import PlannedAction, Progress
from avgkit.retention import _policyfile as _retention_file

# --------------------------------------------------------------------------- demo


def demo(args: argparse.Namespace, output: Output) -> ExitCode:
    """``avgkit demo``: the sample venue, on a SQLite file the demo made (or a new one)."""
    summary = _demo.run(Path(args.db), output.out, quiet=output.json)
    if output.json:
        output.document(summary)
    return ExitCode.OK


# --------------------------------------------------------------------------- policy


def policy_check(args: argparse.Namespace, output: Output) -> ExitCode:
    """``avgkit policy check FILE``: every problem of the inventory and its retention rules."""
    path = Path(args.file)
    if not path.is_file():
        msg = f"no policy file at {args.file}"
        raise UsageError(msg)
    problems: list[_policyfile.Problem] = []
    rules: int | None = None
    loaded: Inventory | None = None
    try:
        document = _policyfile.document_from_file(path)
    except ValidationError as exc:
        problems.append(_policyfile.Problem((), str(exc)))
    else:
        problems = _policyfile.ordered(
            document,
            [*_policyfile.problems(document, Inventory), *_retention_file.problems(document)],
        )
        if not problems:
            loaded = Inventory.from_mapping(document)
            has_rules = isinstance(document, dict) and _retention_file.SECTION in document
            rules = len(_retention_file.policy_from_mapping(document).rules) if has_rules else None
    if output.json:
        output.document(
            {
                "file": args.file,
                "valid": not problems,
                "problems": [p.as_dict() for p in problems],
                "summary": None if loaded is None else _summary(loaded, rules),
            }
        )
    elif problems:
        count = len(problems)
        output.line(f"{args.file}: {count} problem{'s' if count > 1 else ''}")
        for problem in problems:
            output.line(f"  {problem.message}")
    else:
        assert loaded is not None  # noqa: S101 - no problems, so it loaded
        summary = _summary(loaded, rules)
        retention = "no retention section" if rules is None else f"{rules} retention rules"
        output.line(
            f"{args.file}: valid: {summary['purposes']} purposes, {summary['fields']} fields, "
            f"{summary['recipients']} recipients, {retention}"
        )
    return ExitCode.CHECK_FAILED if problems else ExitCode.OK


def _summary(loaded: Inventory, rules: int | None) -> dict[str, Any]:
    return {
        "controller": loaded.controller.name,
        "purposes": len(loaded.purposes),
        "fields": len(loaded.fields),
        "recipients": len(loaded.recipients),
        "retention_rules": rules,
    }


# --------------------------------------------------------------------------- register


def register(args: argparse.Namespace, output: Output) -> ExitCode:
    """``avgkit register``: the Art. 30 record of processing activities of the policy file."""
    document = inventory(args.policy).register()
    if output.json or args.format == "json":
        output.document(document.as_dict())
        return ExitCode.OK
    lang = language(args.lang)
    render = {"md": document.to_markdown, "csv": document.to_csv, "html": document.to_html}
    output.out.write(render[args.format](lang))
    return ExitCode.OK


# --------------------------------------------------------------------------- audit


ANCHOR_KEY_ENV: Final = "AVGKIT_ANCHOR_KEY"


def audit_verify(args: argparse.Namespace, output: Output) -> ExitCode:
    """``avgkit audit verify``: the chain and the records bound to it, read-only.

    The store is opened read-only (nothing is created, migrated or written); the chain is
    checked against ``--anchor`` and the anchors in ``--anchors FILE``, sealed with the key
    in ``AVGKIT_ANCHOR_KEY`` when it is set.
    """
    anchor = None if args.anchor is None else AuditAnchor.parse(args.anchor)
    anchors = () if args.anchors is None else tuple(AnchorFile(args.anchors))
    key_text = os.environ.get(ANCHOR_KEY_ENV)
    key = None if not key_text else AnchorKey.from_text(key_text)
    loaded = inventory(args.policy)
    stores = open_read_only(store_url(args.store), kek_file=args.kek_file)
    with Kit(stores=stores, inventory=loaded) as kit:
        try:
            report = kit.audit.verify(anchor=anchor, anchors=anchors, key=key)
        except IntegrityError as exc:
            if output.json:
                output.document({"intact": False, "problem": str(exc)})
            else:
                output.line(f"audit chain BROKEN: {exc}")
            return ExitCode.CHECK_FAILED
    head = None if report.head is None else str(report.head)
    records = dict(report.records)
    if output.json:
        output.document(
            {
                "intact": True,
                "entries": report.entries,
                "head": head,
                "records": records,
                "anchors": report.anchors,
            }
        )
    else:
        bound = ", ".join(f"{n} {kind}" for kind, n in sorted(records.items()))
        output.line(
            f"audit chain intact: {report.entries} entries; head {head}; records bound to it: "
            f"{bound or 'none'}; anchors checked: {report.anchors}"
        )
        if head is not None and not report.anchors:
            output.line("Keep the head somewhere else; pass it as --anchor next time.")
    return ExitCode.OK


# --------------------------------------------------------------------------- consent


def consent_report(args: argparse.Namespace, output: Output) -> ExitCode:
    """``avgkit consent report``: who consented to what on which day, over a period."""
    with open_kit(args.store, inventory(args.policy)) as kit:
        report = kit.consent.report(since=args.since, until=args.until, purpose=args.purpose)
        if output.json or args.format == "json":
            output.document(
                {
                    "since": report.since,
                    "until": report.until,
                    "purpose": report.purpose,
                    "events": report.events,
                    "days": [
                        {
                            "purpose": purpose,
                            "day": day,
                            "given": given,
                            "withdrawn": withdrawn,
                            "objected": objected,
                            "objection_lifted": lifted,
                        }
                        for purpose, day, given, withdrawn, objected, lifted in report.counts()
                    ],
                }
            )
            return ExitCode.OK
        lang = language(args.lang)
        output.out.write(report.to_html(lang) if args.format == "html" else report.to_csv(lang))
    return ExitCode.OK


# --------------------------------------------------------------------------- breaches


def breach_list(args: argparse.Namespace, output: Output) -> ExitCode:
    """``avgkit breach list``: the breach register with each breach's deadlines."""
    with open_kit(args.store, inventory(args.policy)) as kit:
        register = kit.breaches
        chosen = register.overdue(at=args.at) if args.overdue else register.breaches()
        rows = []
        for breach in chosen:
            status = register.status(breach, at=args.at)
            left = status.authority_time_left
            rows.append(
                {
                    "id": breach.id,
                    "discovered_at": breach.discovered_at,
                    "authority_due": status.authority_due,
                    "authority_notified": breach.authority_notified_at is not None,
                    "authority_overdue": status.authority_overdue,
                    "hours_left": None if left is None else round(left.total_seconds() / 3600, 1),
                    "subjects_pending": status.subjects_pending,
                    "people": str(breach.facts.subjects),
                }
            )
    if output.json:
        output.document({"breaches": rows})
        return ExitCode.OK
    if not rows:
        output.line("no overdue breaches" if args.overdue else "no breaches recorded")
    for row in rows:
        if row["authority_notified"]:
            state = "authority notified"
        elif row["authority_overdue"]:
            state = "OVERDUE: authority not notified"
        elif row["hours_left"] is None:
            state = "no notification needed"
        else:
            state = f"{row['hours_left']} h left to notify the authority"
        pending = "; people still to be informed" if row["subjects_pending"] else ""
        output.line(
            f"{row['id']}  discovered {row['discovered_at']:%Y-%m-%d %H:%M} UTC, "
            f"{row['people']} people: {state}{pending}"
        )
    return ExitCode.OK


# --------------------------------------------------------------------------- retention


def _action_row(action: PlannedAction) -> dict[str, Any]:
    return {
        "due": action.due,
        "rule": action.rule,
        "action": "warn" if action.warning else action.action.value,
        "subject": None if action.subject is None else str(action.subject),
        "source": action.source,
        "reason": action.reason,
        "held": None if action.hold is None else action.hold.value,
        "held_until": action.deferred_until,
    }


def retention_plan(args: argparse.Namespace, output: Output) -> ExitCode:
    """``avgkit retention plan``: a dry run: what is due, and why. Nothing is changed."""
    loaded = inventory(args.policy)
    rules = retention_policy(args.policy, required=True)
    host = load_host(args.host, loaded)
    try:
        with open_kit(args.store, loaded, host=host.host, retention=rules) as kit:
            plan = kit.retention.plan(at=args.at)
            rows = [_action_row(action) for action in plan]
    finally:
        host.close()
    counts = Counter((r["rule"], r["action"], "held" if r["held"] else "due") for r in rows)
    if output.json:
        output.document(
            {
                "plan": plan.id,
                "at": plan.at,
                "actions": rows[: args.limit] if args.limit else rows,
                "total": len(rows),
                "counts": [
                    {"rule": rule, "action": action, "state": state, "count": n}
                    for (rule, action, state), n in sorted(counts.items())
                ],
            }
        )
        return ExitCode.OK
    output.line(f"retention plan {plan.id} at {plan.at.isoformat()}: {len(rows)} actions")
    for row in rows[: args.limit] if args.limit else rows:
        target = row["subject"] if row["subject"] is not None else f"a {row['source']} record"
        held = "" if row["held"] is None else f"  [held: {row['held']}]"
        output.line(
            f"  {row['due']:%Y-%m-%d}  {row['rule']}: {row['action']} {target}: "
            f"{row['reason']}{held}"
        )
    if args.limit and len(rows) > args.limit:
        output.line(f"  ... and {len(rows) - args.limit} more (--limit 0 lists all)")
    for (rule, action, state), n in sorted(counts.items()):
        output.line(f"{rule}: {n} to {action}{' (held)' if state == 'held' else ''}")
    return ExitCode.OK


def retention_run(args: argparse.Namespace, output: Output) -> ExitCode:
    """``avgkit retention run``: make the plan now and carry out its due actions."""
    loaded = inventory(args.policy)
    rules = retention_policy(args.policy, required=True)
    host = load_host(args.host, loaded)
    warn = None if args.warn is None else resolve(args.warn, "--warn", callable_only=True)
    try:
        with open_kit(args.store, loaded, host=host.host, retention=rules) as kit:
            plan = kit.retention.plan()
            due = sum(1 for _ in plan.due())
            confirm(output, f"Carry out {due} retention actions in the host's data?", yes=args.yes)
            with output.progress(due, "action") as update:

                def progress(step: Progress) -> None:
                    update(step.done, step.done + step.remaining)

                summary = kit.retention.execute(
                    plan, warn=warn, progress=progress, batch=args.batch, executor=args.executor
                )
    finally:
        host.close()
    counts = [
        {"rule": rule, "action": action, "outcome": outcome, "count": n}
        for (rule, action, outcome), n in sorted(summary.counts.items())
    ]
    if output.json:
        output.document(
            {
                "plan": summary.plan_id,
                "done_here": summary.done_here,
                "remaining": summary.remaining,
                "counts": counts,
            }
        )
        return ExitCode.OK
    output.line(
        f"retention plan {summary.plan_id}: {summary.done_here} actions carried out here, "
        f"{summary.remaining} left to other executors"
    )
    for row in counts:
        output.line(f"  {row['rule']}: {row['action']} -> {row['outcome']}: {row['count']}")
    return ExitCode.OK


# --------------------------------------------------------------------------- requests


_BINARY = {"csv"}


def _passphrase(variable: str, output: Output) -> str:
    value = os.environ.get(variable)
    if value:
        return value
    if not output.interactive():
        msg = (
            f"--seal needs a passphrase: set {variable} (or --passphrase-env NAME), or run "
            "in a terminal to type it"
        )
        raise UsageError(msg)
    first = getpass.getpass("Passphrase for the sealed export: ", stream=output.err)
    again = getpass.getpass("The same passphrase again: ", stream=output.err)
    if first != again:
        msg = "the two passphrases differ; nothing was written"
        raise UsageError(msg)
    return first


def dsar_export(args: argparse.Namespace, output: Output) -> ExitCode:
    """``avgkit dsar export SUBJECT``: the subject's access or portability export."""
    binary = args.format in _BINARY or args.seal
    if binary and args.out is None:
        msg = "a sealed or zipped export is binary: pass --out FILE to write it to"
        raise UsageError(msg)
    passphrase = _passphrase(args.passphrase_env, output) if args.seal else None
    loaded = inventory(args.policy)
    rules = retention_policy(args.policy, required=False)
    host = load_host(args.host, loaded)
    stages = 3 + (1 if args.seal else 0)
    try:
        with (
            output.progress(stages, "step") as update,
            open_kit(args.store, loaded, host=host.host, retention=rules) as kit,
        ):
            update(1, stages)
            export = kit.dsar.export(args.subject, kind=args.kind)
            update(2, stages)
            if args.format == "json":
                data = export.to_json()
            elif args.format == "html":
                data = export.to_html(language(args.lang)).encode("utf-8")
            else:
                data = export.to_csv_zip()
            update(3, stages)
            if passphrase is not None:
                data = seal_bytes(data, passphrase)
                update(4, stages)
    finally:
        host.close()
    if args.out is None:
        output.out.write(data.decode("utf-8"))
        if not data.endswith(b"\n"):
            output.out.write("\n")
        return ExitCode.OK
    write_private(Path(args.out), data, force=args.force)
    described = {
        "file": args.out,
        "kind": export.kind,
        "format": args.format,
        "sealed": bool(args.seal),
        "bytes": len(data),
        "subject_ref": export.subject_ref,
    }
    if output.json:
        output.document(described)
    else:
        sealed = ", sealed" if args.seal else ""
        output.line(
            f"{export.kind} export of {export.subject_ref} written to {args.out} "
            f"({args.format}{sealed}, {len(data)} bytes, readable by you only)"
        )
    return ExitCode.OK


def erase(args: argparse.Namespace, output: Output) -> ExitCode:
    """``avgkit erase SUBJECT``: erase a subject in the host and in avgkit (Art. 17)."""
    loaded = inventory(args.policy)
    rules = retention_policy(args.policy, required=False)
    host = load_host(args.host, loaded)
    try:
        with open_kit(args.store, loaded, host=host.host, retention=rules) as kit:
            confirm(
                output,
                "Erase this subject's data in the host and in avgkit? This cannot be undone",
                yes=args.yes,
            )
            outcome = kit.erasure.erase(args.subject, keep_records=args.keep_records, actor="cli")
    finally:
        host.close()
    deferred = outcome.deferred
    result: dict[str, Any] = {
        "subject_ref": outcome.subject_ref,
        "erased": outcome.erased,
        "repeated": outcome.repeated,
        "deferred": None
        if deferred is None
        else {"hold": deferred.reason.value, "until": deferred.until},
        "host": {"deleted": outcome.host.deleted, "anonymised": outcome.host.anonymised},
        "consents_withdrawn": outcome.consents_withdrawn,
        "key_shredded": outcome.key_shredded,
        "recipients_told": outcome.notices,
    }
    if output.json:
        output.document(result)
    elif deferred is not None:
        until = "until released" if deferred.until is None else f"until {deferred.until:%Y-%m-%d}"
        output.line(
            f"not erased: a hold ({deferred.reason.value}) keeps {outcome.subject_ref}'s data "
            f"{until}; run again after it"
        )
    else:
        again = " (already erased before; nothing counted twice)" if outcome.repeated else ""
        output.line(
            f"erased {outcome.subject_ref}{again}: {outcome.host.deleted} records deleted, "
            f"{outcome.host.anonymised} anonymised, {outcome.consents_withdrawn} consents "
            f"withdrawn, {outcome.notices} recipients told"
        )
    return ExitCode.NOT_DONE if deferred is not None else ExitCode.OK


def version(_args: argparse.Namespace, output: Output) -> ExitCode:
    """``avgkit --version``."""
    if output.json:
        output.document({"avgkit": __version__})
    else:
        output.line(f"avgkit {__version__}")
    return ExitCode.OK


__all__ = [
    "Declined",
    "audit_verify",
    "breach_list",
    "consent_report",
    "demo",
    "dsar_export",
    "erase",
    "policy_check",
    "register",
    "retention_plan",
    "retention_run",
    "version",
]
