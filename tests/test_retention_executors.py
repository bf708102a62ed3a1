"""Four executor processes work through one plan on PostgreSQL, none taking another's subject.

The host is the reference ticket shop (one SQLite file the processes share); avgkit's stores
are in one PostgreSQL schema. Each worker logs every subject it hands to the host's
``delete()``: a subject in two logs would mean two executors took it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from avgkit import Kit
from avgkit.presets import ticketing
from avgkit.testing import ManualClock

EXAMPLES = Path(__file__).parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

from ticketshop import TicketShopHost, generate  # noqa: E402

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
WORKERS = 4

WORKER = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime
    sys.path.insert(0, sys.argv[1])
    from ticketshop import TicketShopHost
    from avgkit import Kit
    from avgkit.presets import ticketing
    from avgkit.testing import ManualClock

    shop, url, plan_id, log = sys.argv[2:6]
    now = datetime.fromisoformat(sys.argv[6])

    class LoggingHost(TicketShopHost):
        def delete(self, subject):
            with open(log, "a") as out:
                out.write(subject + "\\n")
            return super().delete(subject)

        def anonymise(self, subject):
            with open(log, "a") as out:
                out.write(subject + "\\n")
            return super().anonymise(subject)

    host = LoggingHost(shop, ticketing.inventory())
    with Kit.open(url, inventory=ticketing.inventory(), host=host, clock=ManualClock(now),
                  retention_policy=ticketing.retention_policy()) as kit:
        summary = kit.retention.execute(plan_id, warn=lambda s, a: None, batch=5)
    host.close()
    print(json.dumps({"done": summary.done_here}))
    """
)


def test_four_executors_share_one_plan_without_taking_a_subject_twice(pg_url, tmp_path):
    shop = tmp_path / "shop.db"
    generate(shop, 600, now=NOW, seed=7)
    inventory = ticketing.inventory()
    with (
        TicketShopHost(shop, inventory) as host,
        Kit.open(
            pg_url,
            inventory=inventory,
            host=host,
            clock=ManualClock(NOW),
            retention_policy=ticketing.retention_policy(),
        ) as kit,
    ):
        plan = kit.retention.plan(at=NOW)
        plan_id = kit.retention.stage(plan)
        staged = kit.stores.retention.unfinished(plan_id)
    assert staged >= 40, "the generated shop should have work for four executors"

    logs = [tmp_path / f"worker-{n}.log" for n in range(WORKERS)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(EXAMPLES),
                str(shop),
                pg_url,
                plan_id,
                str(log),
                NOW.isoformat(),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for log in logs
    ]
    done = []
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err[-2000:]
        done.append(json.loads(out.strip().splitlines()[-1])["done"])

    handed = Counter(line for log in logs if log.exists() for line in log.read_text().splitlines())
    twice = [subject for subject, times in handed.items() if times > 1]
    assert not twice, f"{len(twice)} subjects were erased by two executors"
    assert sum(done) == staged
    assert sum(1 for n in done if n) >= 2, "the work should have been shared"

    with (
        TicketShopHost(shop, inventory) as host,
        Kit.open(
            pg_url,
            inventory=inventory,
            host=host,
            clock=ManualClock(NOW),
            retention_policy=ticketing.retention_policy(),
        ) as kit,
    ):
        assert kit.stores.retention.unfinished(plan_id) == 0
        counts = kit.stores.retention.outcomes(plan_id)
        assert sum(counts.values()) == staged
        erased = sum(n for (_, _, outcome), n in counts.items() if outcome == "erased")
        assert erased == len(handed) == kit.stores.erasures.count()
        for subject in handed:
            assert host.subject(subject) is None
        kit.audit.verify()
