"""The demo behind ``avgkit demo`` / ``make demo``: a sample venue walked through avgkit.

Each capability of avgkit contributes one step: a function taking the :class:`DemoContext`
and printing, in plain words a venue's developer understands, what it did. Steps run in the
order of :data:`STEPS`; a new capability appends its step there.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, TextIO

import attrs

from avgkit.breach import BreachFacts, BreachKind, Headcount
from avgkit.consent import Channel, Evidence, hash_wording
from avgkit.errors import IntegrityError, ShreddedKeyError, ValidationError
from avgkit.kit import Kit
from avgkit.presets import ticketing
from avgkit.storage.sqlite import url_for
from avgkit.testing import ManualClock

DEMO_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
"""The simulated shop opens on this instant; the demo's clock moves from here."""


@attrs.define
class DemoContext:
    """What every demo step gets: the kit, its clock, where to write files, and the output."""

    kit: Kit
    clock: ManualClock
    db_path: Path
    out_dir: Path
    out: TextIO
    lang: str = "en"

    def say(self, text: str = "") -> None:
        """Print one line of the demo's narration."""
        print(text, file=self.out)

    def heading(self, text: str) -> None:
        """Print a section heading."""
        self.say()
        self.say(text)
        self.say("=" * len(text))


def step_inventory(ctx: DemoContext) -> None:
    """Show what the venue declared: purposes, their lawful bases, and the fields they use."""
    inv = ctx.kit.inventory
    ctx.heading(f"{STEPS.index(step_inventory) + 1}. What the venue declared (the inventory)")
    ctx.say(f"Controller: {inv.controller.name}. Every field is tied to purposes and each")
    ctx.say("purpose to one lawful basis under Art. 6(1) GDPR:")
    for key, use in inv.by_purpose().items():
        declared = use.purpose
        flags = [
            flag
            for flag, on in (
                ("direct marketing", declared.direct_marketing),
                ("profiling", declared.profiling),
            )
            if on
        ]
        extra = f" [{', '.join(flags)}]" if flags else ""
        ctx.say(f"  - {key}: {declared.basis.article} {declared.basis.label('en')}{extra}")
        ctx.say(f"      fields: {', '.join(use.field_keys) or '(none)'}")
    ctx.say()
    for field, purpose in (("email", "newsletter"), ("birth_date", "newsletter")):
        verdict = "may" if inv.may_use(field, purpose) else "may NOT"
        ctx.say(f"Question: may '{field}' be used for '{purpose}'? -> it {verdict}.")


def step_register(ctx: DemoContext) -> None:
    """Render the Art. 30 record of processing activities in every format."""
    register = ctx.kit.inventory.register()
    ctx.heading(f"{STEPS.index(step_register) + 1}. The record of processing activities (Art. 30)")
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for lang in ("nl", "en"):
        for suffix, render in (
            ("md", register.to_markdown),
            ("csv", register.to_csv),
            ("html", register.to_html),
        ):
            path = ctx.out_dir / f"register.{lang}.{suffix}"
            path.write_text(render(lang), encoding="utf-8")
            written.append(path.name)
    ctx.say(
        f"{len(register.activities)} processing activities; "
        f"{len(register.transfers)} recipients outside the EEA, each with its safeguard:"
    )
    for recipient in register.transfers:
        ctx.say(f"  - {recipient.describe_transfer('en')}")
    ctx.say(f"Written to {ctx.out_dir}: {', '.join(written)}")
    ctx.say("Open register.nl.html in a browser and print it for the regulator.")


def step_audit(ctx: DemoContext) -> None:
    """Record audit entries, verify the chain, and show that tampering is caught."""
    log = ctx.kit.audit
    ctx.heading(f"{STEPS.index(step_audit) + 1}. The audit trail")
    log.record("demo.shop_opened", details={"venue": "sample"})
    ctx.clock.advance(minutes=5)
    log.record("demo.inventory_loaded", details={"purposes": len(ctx.kit.inventory.purposes)})
    ctx.clock.advance(minutes=1)
    entry = log.record("demo.visitor_registered", subject="cust-0001", actor="staff")
    ctx.say("Every action avgkit takes is appended to a hash-chained log. Visitors appear")
    ctx.say(f"only under a pseudonymous reference: 'cust-0001' is logged as {entry.subject_ref}.")
    report = log.verify()
    ctx.say(f"verify(): {report.entries} entries, chain intact. Keep this anchor elsewhere")
    ctx.say(f"(e.g. print it in the register) to detect truncation later: {report.head}")
    # Tamper with a copy, as an administrator with raw database access might; the copy
    # lives in a folder of its own, so no file of the user's can be in the way.
    ctx.kit.stores.close()
    with tempfile.TemporaryDirectory(prefix="avgkit-demo-") as scratch:
        forged = Path(scratch) / "tampered-copy.db"
        shutil.copyfile(ctx.db_path, forged)
        conn = sqlite3.connect(forged)
        conn.execute("DROP TRIGGER audit_entries_no_update")
        conn.execute("UPDATE audit_entries SET actor = 'system' WHERE seq = 3")
        conn.commit()
        conn.close()
        with Kit.open(url_for(forged), inventory=ctx.kit.inventory, clock=ctx.clock) as copy:
            try:
                copy.audit.verify()
            except IntegrityError as exc:
                ctx.say(f"On a copy where someone edited one row by hand, verify() says: {exc}")
            else:  # pragma: no cover - would mean the chain is broken
                raise AssertionError("tampering went unnoticed")
    ctx.kit = Kit.open(url_for(ctx.db_path), inventory=ctx.kit.inventory, clock=ctx.clock)


def step_breach(ctx: DemoContext) -> None:
    """A processor reports a breach: the clocks, the proposal, the decision, the reports."""
    ctx.heading(f"{STEPS.index(step_breach) + 1}. A data breach (Art. 33 and 34 GDPR)")
    register = ctx.kit.breaches
    now = ctx.clock.now()
    facts = BreachFacts(
        summary="A mailing with the newsletter list went to a wrong partner account.",
        system="mail platform (newsletter mailings)",
        categories=("EmailAddress", "Name"),
        subjects=Headcount(minimum=1200, maximum=1500),
        subject_group="visitors who subscribed to the newsletter",
        contact_details_known=True,
        root_cause="A shared API key was used in the wrong account.",
        occurred_from=now - timedelta(hours=26),
        occurred_until=now - timedelta(hours=25),
        kinds=(BreachKind.CONFIDENTIALITY,),
        likely_consequences="Unwanted mail; phishing mails that look like the venue's.",
        measures_taken="The key was revoked; the partner deleted the list.",
        contact_point="Privacy officer, privacy@voorbeeldpodium.example",
    )
    breach = register.record(
        facts,
        discovered_at=now - timedelta(hours=20),
        processor="mail_platform",
        processor_notified_at=now,
    )
    ctx.say("The mail platform (a processor) found a breach 20 hours ago and reports it now,")
    ctx.say("answering the seven questions of its processing agreement. The venue records it:")
    ctx.say(f"  breach {breach.id}: {facts.subjects} visitors, {', '.join(facts.categories)}")
    late = "late" if breach.processor_notice_late else "in time"
    ctx.say(
        f"  processor's 36-hour deadline: {breach.processor_notice_due:%Y-%m-%d %H:%M} UTC "
        f"-> its notice came {late}"
    )
    ctx.say(
        f"  authority deadline (72 h after the venue became aware): "
        f"{breach.authority_due:%Y-%m-%d %H:%M} UTC"
    )
    proposal = register.assess(breach)
    ctx.say("The register proposes (a person decides):")
    ctx.say(
        f"  notify the Autoriteit Persoonsgegevens: {'yes' if proposal.notify_authority else 'no'}"
    )
    ctx.say(f"  inform each visitor: {'yes' if proposal.notify_subjects else 'no'}")
    for line in proposal.explain("en"):
        ctx.say(f"    - {line}")
    ctx.clock.advance(hours=2)
    breach = register.decide(
        breach.id,
        notify_authority=True,
        notify_subjects=True,
        reason="Many visitors; phishing in our name is likely, so we warn them ourselves.",
        actor="dpo",
    )
    follows = "follows" if breach.decision and breach.decision.follows_proposal else "departs from"
    ctx.say(f"The privacy officer decides to notify and to warn the visitors ({follows} the")
    ctx.say("proposal); the reason is kept beside the proposal in the register.")
    ctx.clock.advance(hours=20)
    left = register.status(breach).authority_time_left
    ctx.say(f"20 hours later the dashboard shows {left} left before the authority deadline.")
    breach = register.record_authority_notification(breach.id, reference="demo-0001")
    breach = register.record_subject_notification(breach.id)
    ctx.say("The notification is filed in time and the visitors are mailed; both are recorded.")
    written = []
    for lang in ("nl", "en"):
        for name, render in (
            ("breach-notice", register.notice_html),
            ("breach-notification", register.notification_html),
        ):
            path = ctx.out_dir / f"{name}.{lang}.html"
            path.write_text(render(breach, lang), encoding="utf-8")
            written.append(path.name)
    for name, document in (
        ("breach-notice", register.notice_json(breach)),
        ("breach-notification", register.notification_json(breach)),
    ):
        path = ctx.out_dir / f"{name}.json"
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
        written.append(path.name)
    (ctx.out_dir / "breach-register.csv").write_text(register.register_csv(), encoding="utf-8")
    written.append("breach-register.csv")
    ctx.say(f"Written to {ctx.out_dir}: {', '.join(written)}")
    ctx.say("breach-notification.nl.html holds what the authority's form asks (Art. 33(3)).")


def step_pseudonyms(ctx: DemoContext) -> None:
    """Pseudonymise, generalise and anonymise for audience analysis; seal and shred."""
    ctx.heading(f"{STEPS.index(step_pseudonyms) + 1}. Pseudonyms, anonymised analyses, shredding")
    ps = ctx.kit.pseudonyms
    key_id = ps.rotate()
    ctx.say(f"Made the venue's first pseudonym key (id {key_id}); there is no default key.")
    email = "Anna.de.Vries@Example.NL"
    for domain in ("audience_analysis", "crm_export"):
        made = ps.pseudonym(email, domain=domain, kind="email")
        ctx.say(f"  the visitor's e-mail, pseudonymised for {domain}: {made}")
    ctx.say("Same visitor, unrelated pseudonyms per purpose; without the key nobody can")
    ctx.say("recompute them from a list of addresses (unlike a plain hash).")
    visitor = {
        "name": "Anna de Vries",
        "email": email,
        "phone": "06-12345678",
        "street_address": "Voorbeeldstraat 1",
        "postcode": "9711 AA",
        "city": "Groningen",
        "country": "NL",
        "birth_date": "1990-05-17",
        "bank_account": "NL91ABNA0417164300",
        "visit_history": "12 visits",
        "ip_address": "192.0.2.77",
        "order_total": Decimal("42.50"),
    }
    anonymised = ps.anonymise(visitor, domain="audience_analysis", passthrough=["order_total"])
    ctx.say("One call anonymises a visitor record as the inventory declares each field:")
    ctx.say(f"  {anonymised}")
    extract = [
        ps.anonymise(
            dict(visitor, postcode=pc, birth_date=bd),
            domain="audience_analysis",
            passthrough=["order_total"],
        )
        for pc, bd in (
            ("9711 AA", "1990-05-17"),
            ("9711 BC", "1990-11-02"),
            ("9711 ZZ", "1990-01-30"),
            ("9712 AB", "1985-03-03"),
        )
    ]
    report = ps.k_anonymity(extract, k=2, quasi_identifiers=["postcode", "birth_date"])
    ctx.say(
        f"k-anonymity of a 4-row extract over postcode and birth year: smallest group "
        f"{report.smallest}; groups below k=2: {[g.values for g in report.below]}"
    )
    ctx.say("  -> suppress or generalise those rows further before sharing the extract.")
    sealed = ps.seal("cust-0001", b"Anna de Vries, 06-12345678", purpose="ticket_sale")
    backup = bytes(sealed)  # a copy that ends up in a nightly backup
    ctx.say(f"Sealed cust-0001's contact data with their own key ({len(sealed)} bytes).")
    ps.shred("cust-0001", actor="staff")
    try:
        ps.open("cust-0001", backup, purpose="ticket_sale")
    except ShreddedKeyError as exc:
        ctx.say(f"After erasure the key is shredded; opening the backup copy says: {exc}")
    else:  # pragma: no cover - would mean shredding failed
        raise AssertionError("a shredded key still opened data")


def step_consent(ctx: DemoContext) -> None:
    """Visitors tick boxes in the web shop; one withdraws, one objects; who may be mailed?"""
    ctx.heading(f"{STEPS.index(step_consent) + 1}. Consent: opt-ins, withdrawal, objection")
    ledger = ctx.kit.consent
    box = "Ja, stuur mij de nieuwsbrief van het Voorbeeldpodium (max. 2x per maand)."
    shop = Evidence(
        channel=Channel.WEBSHOP, notice_version="2023-11-10", wording_sha256=hash_wording(box)
    )
    ctx.say("At checkout each purpose has its own unticked box. The ledger keeps, per tick,")
    ctx.say("the channel, the privacy-notice version and the SHA-256 of the exact wording:")
    ctx.say(f"  wording hash {shop.wording_sha256[:16]}... of {box!r}")
    visitors = ("cust-0101", "cust-0102", "cust-0103", "cust-0104")
    for n, visitor in enumerate(visitors):
        ledger.give(visitor, "newsletter", attrs.evolve(shop, order_ref=f"ord-{5000 + n}"))
        ctx.clock.advance(minutes=3)
    ledger.give("cust-0102", "loyalty_programme", shop)
    ctx.say(f"{len(visitors)} visitors ticked 'newsletter' with their order; one also 'loyalty'.")
    try:
        ledger.give("cust-0105", "newsletter", shop, age=14)
    except Exception as exc:  # noqa: BLE001 - shown to the reader, whatever it is
        ctx.say(f"A 14-year-old without a parent is refused: {type(exc).__name__}: {exc}")
    ctx.clock.advance(days=2)
    unsubscribe = attrs.evolve(shop, channel=Channel.EMAIL_LINK)
    ledger.withdraw("cust-0103", "newsletter", unsubscribe)
    ctx.say("Two days later cust-0103 clicks 'unsubscribe' in a newsletter: withdrawn at once.")
    ledger.object("cust-0104", "evaluation_mail", unsubscribe)
    ctx.say("cust-0104 clicks 'no more evaluation mails' (an objection under Art. 21).")
    audience = sorted(ledger.audience("newsletter"))
    ctx.say(f"Newsletter audience now (computed inside the database): {', '.join(audience)}")
    for visitor, purpose in (
        ("cust-0103", "newsletter"),
        ("cust-0104", "evaluation_mail"),
        ("cust-0101", "evaluation_mail"),
        ("cust-0101", "ticket_sale"),
    ):
        decision = ctx.kit.may_process(visitor, purpose)
        ctx.say(f"may_process({visitor!r}, {purpose!r}) -> {decision.reason}")
    before = ctx.clock.now() - timedelta(days=1)
    then = ledger.state("cust-0103", "newsletter", at=before)
    ctx.say(f"The state at any past instant: on {before.date()} cust-0103 was {then.status}.")
    kinds = [event.kind.value for event in ledger.history("cust-0103")]
    ctx.say(f"cust-0103's own history, oldest first, for 'my account': {kinds}")


def step_consent_report(ctx: DemoContext) -> None:
    """Print who consented to what on which day; hand a visitor their receipts and records."""
    ctx.heading(f"{STEPS.index(step_consent_report) + 1}. The consent report and receipts")
    ledger = ctx.kit.consent
    since = DEMO_START.replace(hour=0)
    until = ctx.clock.now().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    report = ledger.report(since=since, until=until)
    ctx.say(f"Who consented to what on which day, {since.date()} up to {until.date()}:")
    for purpose, day, given, withdrawn, objected, _lifted in report.counts():
        ctx.say(f"  {day} {purpose:<18} given {given}, withdrawn {withdrawn}, objected {objected}")
    page = ctx.out_dir / "consent-report.html"
    page.write_text(report.to_html("nl" if ctx.lang == "nl" else "en"), encoding="utf-8")
    (ctx.out_dir / "consent-report.csv").write_text(report.to_csv("en"), encoding="utf-8")
    ctx.say(f"Printable report, one page per purpose: {page} (and the same as CSV beside it).")
    receipts = ledger.kantara_receipts(
        "cust-0102", policy_url="https://voorbeeldpodium.example/privacy"
    )
    ctx.say(f"cust-0102 asks for proof: {len(receipts)} Kantara consent receipts, one per box:")
    for receipt in receipts:
        service = receipt["services"][0]
        ctx.say(f"  {receipt['consentReceiptID']} {service['service']}")
    for record in ledger.iso27560_records("cust-0103"):
        ctx.say(
            f"cust-0103's ISO/IEC TS 27560 record for {record['purpose']['purpose_id']!r}: "
            f"{len(record['history'])} events, status now {record['consent_status']}"
        )


STEPS: list[Callable[[DemoContext], None]] = [
    step_inventory,
    step_register,
    step_audit,
    step_consent,
    step_consent_report,
    step_pseudonyms,
    step_breach,
]
"""The demo's steps, in order; each capability of avgkit adds one."""


MARKER_TABLE: Final = "avgkit_demo"
"""The table that marks a SQLite file as one ``avgkit demo`` made (and may replace)."""

MARKER_FILE: Final = ".avgkit-demo"
"""The file that marks the demo's folder of reports as the demo's own."""

_MARK: Final = "made by avgkit demo; it replaces this file when run again"


def files_dir(db_path: Path) -> Path:
    """Where the demo writes its reports: ``<stem>-files`` beside the database."""
    return db_path.with_name(f"{db_path.stem}-files")


def _is_demo_database(db_path: Path) -> bool:
    """Whether ``db_path`` is a SQLite file whose marker says the demo made it."""
    try:
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        row = conn.execute(f"SELECT note FROM {MARKER_TABLE}").fetchone()  # noqa: S608
    except sqlite3.Error:  # no such table, or not a SQLite file at all
        return False
    finally:
        conn.close()
    return row is not None and row[0] == _MARK


def _claim(db_path: Path, out_dir: Path) -> None:
    """Remove an earlier demo's database; refuse any file or folder the demo did not make.

    Raises:
        ValidationError: ``db_path`` or the reports folder exists and is not the demo's.
    """
    if db_path.exists() and not _is_demo_database(db_path):
        msg = (
            f"{db_path} exists and is not a database avgkit demo made; the demo never "
            "replaces another file: pass --db with a new path"
        )
        raise ValidationError(msg)
    if out_dir.exists() and not (out_dir / MARKER_FILE).is_file():
        msg = (
            f"{out_dir} exists and is not the demo's folder of reports; the demo never "
            "writes into another folder: pass --db with another name"
        )
        raise ValidationError(msg)
    if db_path.parent.exists() and not db_path.parent.is_dir():
        msg = f"{db_path.parent} is not a folder to write the demo's database in"
        raise ValidationError(msg)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    out_dir.mkdir(exist_ok=True)
    (out_dir / MARKER_FILE).write_text(_MARK + "\n", encoding="utf-8")
    conn = sqlite3.connect(db_path)
    try:
        conn.execute(f"CREATE TABLE {MARKER_TABLE} (note TEXT NOT NULL)")
        conn.execute(f"INSERT INTO {MARKER_TABLE} (note) VALUES (?)", (_MARK,))  # noqa: S608
        conn.commit()
    finally:
        conn.close()


def run(db_path: Path, out: TextIO, *, quiet: bool = False) -> dict[str, Any]:
    """Run every step on ``db_path``, a new file or one the demo made; return a summary.

    The database is refused if it exists and the demo did not make it (a marker table
    says so); the reports, and the policy file the demo uses, go to :func:`files_dir`.
    With ``quiet`` nothing is printed (the command line's ``--json``).

    Raises:
        ValidationError: ``db_path`` (or its reports folder) belongs to someone else.
    """
    out_dir = files_dir(db_path)
    _claim(db_path, out_dir)
    policy = out_dir / "policy.toml"
    policy.write_text(ticketing.policy_file().read_text(encoding="utf-8"), encoding="utf-8")
    clock = ManualClock(DEMO_START)
    kit = Kit.open(url_for(db_path), inventory=ticketing.inventory(), clock=clock)
    stream = open(os.devnull, "w", encoding="utf-8") if quiet else out  # noqa: SIM115, PTH123
    ctx = DemoContext(kit=kit, clock=clock, db_path=db_path, out_dir=out_dir, out=stream)
    try:
        ctx.say(f"avgkit demo: a sample venue's ticket shop, in {db_path} (avgkit's database)")
        ctx.say(f"and {out_dir}{os.sep} (the registers, reports and the policy file it uses).")
        try:
            for step in STEPS:
                step(ctx)
        finally:
            ctx.kit.close()
        store = f"--store {db_path} --policy {policy}"
        ctx.heading("Done")
        ctx.say(f"Everything above is stored in {db_path}; the files are in {out_dir}.")
        ctx.say("Try, on it:")
        ctx.say(f"  avgkit policy check {policy}")
        ctx.say(f"  avgkit audit verify {store}")
        ctx.say(f"  avgkit consent report {store} --since 2026-01-01 --until 2026-02-01")
        ctx.say(f"  avgkit breach list {store}")
    finally:
        if quiet:
            stream.close()
    return {
        "database": str(db_path),
        "files": str(out_dir),
        "policy": str(policy),
        "steps": len(STEPS),
        "written": sorted(p.name for p in out_dir.iterdir() if p.name != MARKER_FILE),
    }
