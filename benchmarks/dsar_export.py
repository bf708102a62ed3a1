"""The access export of a subject with many orders, against json.dumps plus schema validation.

Builds a subject with ``--orders`` orders (10,000 by default) in the in-memory reference host,
then times, in the same run and taking turns, best of ``--runs``:

(a) ``kit.dsar.export(subject).to_json()``: reading the host's records and the consent
    history, building the Art. 15 document, validating it against the shipped schema,
    serialising it;
(b) the baseline: ``json.dumps`` of the same rows (as the plain dicts a hand-written export
    would make) plus validation of that document against the same schema.

Prints both and the ratio (target: at most 3x).

    python benchmarks/dsar_export.py
    python benchmarks/dsar_export.py --orders 1000 --runs 3     # a quick smoke run
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema

from avgkit import Kit
from avgkit.consent import Channel, Evidence, hash_wording
from avgkit.dsar import export_schema
from avgkit.host import HostRecord, HostSubject, SubjectKind
from avgkit.host.memory import MemoryHostData
from avgkit.presets import ticketing
from avgkit.testing import ManualClock

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared table of run.py
from _table import Disagreement, Row, compare, ratio_at_most, seconds

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
TARGET = 3.0


def build(orders: int) -> tuple[Kit, MemoryHostData]:
    inventory = ticketing.inventory()
    host = MemoryHostData(inventory)
    host.add_subject(
        HostSubject(id="cust-1", kind=SubjectKind.ACCOUNT, last_activity={"purchase": NOW})
    )
    host.add_record(
        "cust-1",
        HostRecord(
            source="accounts",
            key="cust-1",
            values={"name": "Anna de Vries", "email": "anna@example.nl", "phone": "+31612345678"},
            at=NOW - timedelta(days=3000),
        ),
    )
    for n in range(orders):
        at = NOW - timedelta(hours=n)
        host.add_record(
            "cust-1",
            HostRecord(
                source="orders",
                key=f"ORD-{n:06d}",
                values={
                    "name": "Anna de Vries",
                    "email": "anna@example.nl",
                    "visit_history": f"performance {n % 97}",
                    "ip_address": f"192.0.2.{n % 250}",
                },
                at=at,
                fiscal=True,
            ),
        )
    kit = Kit.open(
        "memory://",
        inventory=inventory,
        clock=ManualClock(NOW),
        host=host,
        retention_policy=ticketing.retention_policy(),
    )
    evidence = Evidence(
        channel=Channel.WEBSHOP, notice_version="2026-01", wording_sha256=hash_wording("Yes")
    )
    kit.consent.give("cust-1", "newsletter", evidence, at=NOW - timedelta(days=30))
    return kit, host


def baseline(host: MemoryHostData, validator: jsonschema.protocols.Validator) -> bytes:
    data = [
        {
            "source": r.source,
            "key": r.key,
            "at": None if r.at is None else r.at.isoformat().replace("+00:00", "Z"),
            "fiscal": r.fiscal,
            "values": dict(r.values),
            "categories": {},
        }
        for r in host.records("cust-1")
    ]
    document = {
        "format": "avgkit.access-export/1",
        "kind": "portability",
        "generated_at": "2026-06-01T12:00:00Z",
        "controller": {"name": "x", "address": "x", "email": "x@x.example", "country": "NL"},
        "subject": {
            "id": "cust-1",
            "reference": "sr1:" + "0" * 32,
            "kind": "account",
        },
        "processing": True,
        "restricted": False,
        "data": data,
    }
    validator.validate(document)
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


def timings(orders: int, runs: int) -> tuple[float, float, int]:
    """Best times of the kit's export and of the baseline, taking turns; the export's size.

    Raises :class:`Disagreement` when the two documents do not hold the same records.
    """
    kit, host = build(orders)
    try:
        validator = jsonschema.Draft202012Validator(export_schema())
        best_kit = best_base = float("inf")
        ours = theirs = b""
        for _ in range(runs):
            start = time.perf_counter()
            ours = kit.dsar.export("cust-1").to_json()
            best_kit = min(best_kit, time.perf_counter() - start)
            start = time.perf_counter()
            theirs = baseline(host, validator)
            best_base = min(best_base, time.perf_counter() - start)
    finally:
        kit.close()
    keys = [{r["key"] for r in json.loads(document)["data"]} for document in (ours, theirs)]
    if keys[0] != keys[1]:
        msg = "the kit's export and the baseline document hold different records"
        raise Disagreement(msg)
    return best_kit, best_base, len(ours)


def measure(
    size: int, *, postgres: str | None = None, out: Any = None, rounds: int | None = None
) -> list[Row]:
    """The table's row: the export of a subject with ``size`` orders (the memory host)."""
    del postgres
    ours, theirs, length = timings(size, rounds or 5)
    print(f"export of {size:,} orders: {length / 1e6:.1f} MB of JSON", file=out or sys.stdout)
    return [
        compare(
            "dsar_export",
            "access export to_json() vs json.dumps + schema check",
            "memory",
            size,
            "orders",
            seconds(ours),
            seconds(theirs),
            ratio_at_most(TARGET),
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders of the subject")
    parser.add_argument("--runs", type=int, default=5, help="rounds, best counts")
    args = parser.parse_args()
    best_kit, best_base, size = timings(args.orders, args.runs)
    ratio = best_kit / best_base
    print(f"subject with {args.orders:,} orders, export {size / 1e6:.1f} MB of JSON")
    print(f"kit.dsar.export().to_json(): {best_kit * 1000:8.1f} ms (best of {args.runs})")
    print(f"json.dumps + validation:     {best_base * 1000:8.1f} ms")
    verdict = "ok" if ratio <= TARGET else "over target"
    print(f"ratio: {ratio:.2f}x (target <= {TARGET:.0f}x): {verdict}")


if __name__ == "__main__":
    main()
